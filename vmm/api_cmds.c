/* The control API's commands (see api_cmds.h; README documents them). Each runs on the
 * main thread between two event-loop wake-ups, so none races a VM being created or
 * destroyed; the device changes pause the vCPUs themselves (vm_device_add/remove). */
#include "vmm/api_cmds.h"

#include <dirent.h>
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/hotplug.h"
#include "devices/pci.h"
#include "devices/virtio_devices.h"
#include "vfio/vfio.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void fail(struct api_error *err, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct api_error *err, const char *cls, const char *fmt, ...)
{
	va_list ap;

	err->cls = cls;
	va_start(ap, fmt);
	vsnprintf(err->desc, sizeof(err->desc), fmt, ap);
	va_end(ap);
}

static struct vm *running(struct api_ctx *c, struct api_error *err)
{
	if (!c->vm)
		fail(err, API_ERR_STATE, "no VM is running (it is being restarted); try again");
	return c->vm;
}

static json_t *cmd_ping(void *ctx, json_t *args, struct api_error *err)
{
	(void)ctx, (void)args, (void)err;
	return NULL;
}

/* Where the device comes from on the host: the image, tap, back end's socket
 * (vhost-user, passt) or host device. */
static const char *device_source(const struct device *d)
{
	const char *kind = d->spec.ops->kind;

	if (!strcmp(kind, "virtio-blk"))
		return ((const struct config_disk *)d->spec.conf)->path;
	if (!strcmp(kind, "vhost-user-blk"))
		return ((const struct config_disk *)d->spec.conf)->vhost_user;
	if (!strcmp(kind, "vhost-user-fs"))
		return ((const struct config_fs *)d->spec.conf)->socket;
	if (!strcmp(kind, "virtio-net")) {
		const struct config_net *net = d->spec.conf;

		return net->passt[0] ? net->passt : net->tap;
	}
	return NULL;
}

static struct hotplug *hotplug_of(struct vm *vm)
{
	struct device *d = vm_device_find(vm, "hotplug");

	return d ? d->state : NULL;
}

static unsigned int slot_of(const struct device *d)
{
	return d->spec.ops->pci_dev(d->state)->devfn >> 3;
}

static json_t *device_json(struct api_ctx *c, const struct device *d)
{
	json_t *o = json_pack("{s:s, s:s}", "name", d->spec.name, "kind", d->spec.ops->kind);
	const char *src = device_source(d);

	if (d->spec.ops->pci_dev) {
		const struct pci_dev *p = d->spec.ops->pci_dev(d->state);
		char bdf[16];

		snprintf(bdf, sizeof(bdf), "0000:00:%02x.%x", p->devfn >> 3, p->devfn & 7);
		json_object_set_new(o, "bdf", json_string(bdf));
		if (c->vm && hotplug_of(c->vm) &&
		    hotplug_eject_pending(hotplug_of(c->vm), p->devfn >> 3))
			json_object_set_new(o, "eject-pending", json_true());
	}
	if (!strcmp(d->spec.ops->kind, "vfio-pci")) {
		const char *name = d->spec.name + strlen("vfio.");

		for (unsigned int i = 0; i < c->cfg->nr_vfio; i++)
			if (!strcmp(c->cfg->vfio[i].name, name))
				src = c->cfg->vfio[i].host[0] ? c->cfg->vfio[i].host
							      : c->cfg->vfio[i].sysfs;
	}
	if (src)
		json_object_set_new(o, "host", json_string(src));
	/* Whether snapshots and migrations can take it: how, or why not. */
	if (d->spec.ops == &vfio_pci_device_ops) {
		char how[96];

		char tracker[320];

		if (vfio_pci_migration(d->state, how, sizeof(how)))
			json_object_set_new(o, "migration", json_string(how));
		json_object_set_new(
		    o, "dma-tracking",
		    json_string(vfio_pci_dma_tracker(d->state, tracker, sizeof(tracker))));
	}
	if (d->spec.ops->unmigratable && d->spec.ops->unmigratable(d->state))
		json_object_set_new(o, "unmigratable",
				    json_string(d->spec.ops->unmigratable(d->state)));
	return o;
}

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* What minivmm holds now, to see that devices that come and go give everything back. */
static json_t *resources(struct vm *vm)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "re");
	int routes;

	if (!f || fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = -1;
	if (f)
		fclose(f);
	pthread_mutex_lock(&vm->m.irq.lock);
	routes = vm->m.irq.table ? (int)vm->m.irq.table->nr : 0;
	pthread_mutex_unlock(&vm->m.irq.lock);
	return json_pack("{s:i, s:i, s:i, s:i, s:I}", "fds", count_dir("/proc/self/fd"), "threads",
			 count_dir("/proc/self/task"), "memslots", machine_memslots_used(&vm->m),
			 "gsi-routes", routes, "rss-kib",
			 (json_int_t)(rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024)));
}

static json_t *cmd_info(void *ctx, json_t *args, struct api_error *err)
{
	struct api_ctx *c = ctx;
	struct vm *vm = running(c, err);
	json_t *devs, *o, *mig;

	(void)args;
	if (!vm)
		return NULL;
	devs = json_array();
	for (size_t i = 0; i < vm->nr_devs; i++)
		if (vm->devs[i].state)
			json_array_append_new(devs, device_json(c, &vm->devs[i]));
	o = json_pack("{s:s, s:s, s:i, s:I, s:f, s:o, s:o}", "name", c->cfg->name, "state",
		      c->paused ? "paused" : "running", "vcpus", (int)vm->nr_vcpus, "memory",
		      (json_int_t)c->cfg->memory, "uptime",
		      (double)(machine_now_ns() - c->t_boot) / 1e9, "devices", devs, "resources",
		      resources(vm));
	mig = api_migration_json(c);
	if (mig)
		json_object_set_new(o, "migration", mig);
	return o;
}

static json_t *cmd_pause(void *ctx, json_t *args, struct api_error *err)
{
	struct api_ctx *c = ctx;
	struct vm *vm = running(c, err);

	(void)args;
	if (!vm)
		return NULL;
	if (c->paused) {
		fail(err, API_ERR_STATE, "the VM is paused already");
		return NULL;
	}
	vcpus_pause(vm->vcpus, vm->nr_vcpus);
	c->paused = true;
	api_event(c->api, "PAUSED", NULL);
	return NULL;
}

static json_t *cmd_resume(void *ctx, json_t *args, struct api_error *err)
{
	struct api_ctx *c = ctx;
	struct vm *vm = running(c, err);

	(void)args;
	if (!vm)
		return NULL;
	if (!c->paused) {
		fail(err, API_ERR_STATE, "the VM is not paused");
		return NULL;
	}
	vcpus_resume(vm->vcpus, vm->nr_vcpus);
	c->paused = false;
	api_event(c->api, "RESUMED", NULL);
	return NULL;
}

/* With the VM paused: its state and memory into the existing directory path. */
static json_t *cmd_snapshot(void *ctx, json_t *args, struct api_error *err)
{
	struct api_ctx *c = ctx;
	struct vm *vm = running(c, err);
	const char *path = NULL;
	char msg[512];
	uint64_t t0 = machine_now_ns();

	if (!vm || api_migrating(c, err))
		return NULL;
	if (!c->paused) {
		fail(err, API_ERR_STATE, "pause the VM first (snapshot saves a paused VM)");
		return NULL;
	}
	json_unpack(args, "{s:s}", "path", &path);
	if (snapshot_save(vm, c->cfg, path, msg, sizeof(msg)) < 0) {
		fail(err, API_ERR_GENERIC, "%s", msg);
		return NULL;
	}
	log_info("snapshot written to %s in %.1f ms", path, (machine_now_ns() - t0) / 1e6);
	return json_pack("{s:s, s:f}", "path", path, "ms", (machine_now_ns() - t0) / 1e6);
}

static json_t *cmd_reboot(void *ctx, json_t *args, struct api_error *err)
{
	struct api_ctx *c = ctx;
	struct vm *vm = running(c, err);

	(void)args;
	if (vm)
		vm_request_stop(vm, VM_STOP_RESET);
	return NULL;
}

static json_t *cmd_power_button(void *ctx, json_t *args, struct api_error *err)
{
	struct api_ctx *c = ctx;
	struct vm *vm = running(c, err);

	(void)args;
	if (vm && hotplug_of(vm))
		hotplug_power_button(hotplug_of(vm));
	return NULL;
}

static json_t *cmd_shutdown(void *ctx, json_t *args, struct api_error *err)
{
	struct api_ctx *c = ctx;
	struct vm *vm = running(c, err);

	(void)args;
	if (vm)
		vm_request_stop(vm, VM_STOP_POWEROFF);
	return NULL;
}

/* ---- add-device, remove-device ---- */

static bool name_ok(const char *n)
{
	size_t len = strlen(n);

	if (!len || len >= CONFIG_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '-' ||
		      n[i] == '_'))
			return false;
	return true;
}

/* The new section, checked as the config file's own are (a copy of the config is
 * amended, so that a refused one changes nothing). On success returns its index in
 * cfg->disks or cfg->vfio: an unplugged section of that name is reused. */
static int amend(struct api_ctx *c, bool disk, const char *name, const char *const *set, int n,
		 struct api_error *err)
{
	struct config *tmp = malloc(sizeof(*tmp));
	char msg[1024];
	int ret, idx = -1;

	if (!tmp) {
		fail(err, API_ERR_GENERIC, "out of memory");
		return -ENOMEM;
	}
	*tmp = *c->cfg;
	ret = config_amend(tmp, set, n, msg, sizeof(msg));
	if (ret < 0) {
		fail(err, API_ERR_ARGS, "%s", msg);
		free(tmp);
		return ret;
	}
	/* name passed name_ok (lower case), as config names are stored. */
	if (disk) {
		for (unsigned int i = 0; i < tmp->nr_disks; i++)
			if (!strcmp(tmp->disks[i].name, name))
				idx = (int)i;
		c->cfg->disks[idx] = tmp->disks[idx];
		c->cfg->disks[idx].unplugged = false;
		c->cfg->nr_disks = tmp->nr_disks;
	} else {
		for (unsigned int i = 0; i < tmp->nr_vfio; i++)
			if (!strcmp(tmp->vfio[i].name, name))
				idx = (int)i;
		c->cfg->vfio[idx] = tmp->vfio[idx];
		c->cfg->vfio[idx].unplugged = false;
		c->cfg->nr_vfio = tmp->nr_vfio;
	}
	free(tmp);
	return idx;
}

/* A [vfio.NAME] on the running VM: its host attached to the VM's vfio instance (made
 * now when the VM has none), then its function created. */
static int add_vfio(struct api_ctx *c, struct vm *vm, int idx, struct device_spec *spec)
{
	struct device *backend = vm_device_find(vm, "vfio");
	unsigned int host = 0;
	int ret;

	if (!backend || !backend->state) {
		struct device_spec b = {
		    .ops = &vfio_device_ops, .name = "vfio", .conf = c->cfg, .fd = -1};

		/* The new backend takes every [vfio.NAME] not unplugged: this one only. */
		ret = vm_device_add(vm, &b);
		if (ret < 0)
			return ret;
		backend = vm_device_find(vm, "vfio");
	} else {
		ret = vfio_host_add(backend->state, &c->cfg->vfio[idx], &host);
		if (ret < 0)
			return ret;
	}
	spec->ops = &vfio_pci_device_ops;
	spec->parent = backend;
	spec->index = host;
	ret = vm_device_add(vm, spec);
	if (ret < 0)
		vfio_host_remove(backend->state, host);
	return ret;
}

static json_t *cmd_add_device(void *ctx, json_t *args, struct api_error *err)
{
	struct api_ctx *c = ctx;
	struct vm *vm = running(c, err);
	const char *kind = NULL, *name = NULL, *path = NULL, *host = NULL, *uuid = NULL,
		   *bind = NULL, *vhost_user = NULL;
	char set[3][PATH_MAX + 96];
	const char *sets[3] = {set[0], set[1], set[2]};
	struct device_spec spec = {.fd = -1};
	int readonly = 0, n = 0, idx, ret;
	bool disk;

	if (!vm || api_migrating(c, err))
		return NULL;
	json_unpack(args, "{s:s, s:s, s?s, s?s, s?s, s?b, s?s, s?s}", "kind", &kind, "name", &name,
		    "path", &path, "host", &host, "uuid", &uuid, "readonly", &readonly, "bind",
		    &bind, "vhost_user", &vhost_user);
	if (!name_ok(name)) {
		fail(err, API_ERR_ARGS,
		     "name '%.64s': use 1-63 of a-z, 0-9, '-' and '_' (it becomes disk.NAME or "
		     "vfio.NAME)",
		     name);
		return NULL;
	}
	disk = !strcmp(kind, "disk");
	if (disk) {
		if (!path == !vhost_user || host || uuid || bind || (vhost_user && readonly)) {
			fail(err, API_ERR_ARGS,
			     "a disk takes path (and readonly) or vhost_user (a back end's "
			     "socket), not host or uuid");
			return NULL;
		}
		if (vhost_user) {
			snprintf(set[n++], sizeof(set[0]), "disk.%s.vhost_user=%s", name,
				 vhost_user);
		} else {
			snprintf(set[n++], sizeof(set[0]), "disk.%s.path=%s", name, path);
			snprintf(set[n++], sizeof(set[0]), "disk.%s.readonly=%s", name,
				 readonly ? "on" : "off");
		}
	} else if (!strcmp(kind, "vfio")) {
		if (path || vhost_user || readonly || !host == !uuid) {
			fail(err, API_ERR_ARGS,
			     "a vfio device takes exactly one of host (a PCI address) and uuid "
			     "(a mediated device)");
			return NULL;
		}
		snprintf(set[n++], sizeof(set[0]), "vfio.%s.%s=%s", name, host ? "host" : "uuid",
			 host ? host : uuid);
		/* bind = auto: moved to vfio-pci now and given back when removed, checked by
		 * the config code like the file's (auto | manual). */
		if (bind)
			snprintf(set[n++], sizeof(set[0]), "vfio.%s.bind=%.16s", name, bind);
	} else {
		fail(err, API_ERR_ARGS, "kind '%.32s': use disk or vfio", kind);
		return NULL;
	}
	snprintf(spec.name, sizeof(spec.name), "%s.%s", disk ? "disk" : "vfio", name);
	if (vm_device_find(vm, spec.name) && vm_device_find(vm, spec.name)->state) {
		fail(err, API_ERR_ARGS, "%s is on the VM already", spec.name);
		return NULL;
	}
	idx = amend(c, disk, name, sets, n, err);
	if (idx < 0)
		return NULL;
	vm->m.last_err[0] = 0;
	if (disk) {
		spec.ops = vhost_user ? &vhost_user_blk_device_ops : &virtio_blk_device_ops;
		spec.conf = &c->cfg->disks[idx];
		ret = vm_device_add(vm, &spec);
	} else {
		ret = add_vfio(c, vm, idx, &spec);
	}
	if (ret < 0) {
		if (disk)
			c->cfg->disks[idx].unplugged = true;
		else
			c->cfg->vfio[idx].unplugged = true;
		if (vm->m.last_err[0])
			fail(err, API_ERR_GENERIC, "%s could not be added: %s", spec.name,
			     vm->m.last_err);
		else
			fail(err, API_ERR_GENERIC,
			     "%s could not be added: %s (minivmm's log says why)", spec.name,
			     strerror(-ret));
		return NULL;
	}
	struct device *added = vm_device_find(vm, spec.name);
	json_t *d = device_json(c, added);

	/* The OS learns of it through the GED: acpiphp rescans the slot. */
	if (hotplug_of(vm))
		hotplug_announce(hotplug_of(vm), slot_of(added));
	api_event(c->api, "DEVICE_ADDED", json_incref(d));
	return d;
}

/* Takes d off the machine for good: destroyed, its VFIO host released, not made again at
 * a reboot, and DEVICE_DELETED sent. */
static int finish_removal(struct api_ctx *c, struct device *d)
{
	char name[sizeof(d->spec.name)];
	int ret;

	snprintf(name, sizeof(name), "%s", d->spec.name);
	ret = vm_device_remove(c->vm, name);
	if (ret < 0)
		return ret;
	if (d->spec.ops == &vfio_pci_device_ops)
		vfio_host_remove(d->spec.parent->state, d->spec.index);
	for (unsigned int i = 0; i < c->cfg->nr_disks; i++)
		if (d->spec.conf == &c->cfg->disks[i])
			c->cfg->disks[i].unplugged = true;
	for (unsigned int i = 0; i < c->cfg->nr_vfio; i++)
		if (!strncmp(name, "vfio.", 5) && !strcmp(name + 5, c->cfg->vfio[i].name))
			c->cfg->vfio[i].unplugged = true;
	api_event(c->api, "DEVICE_DELETED", json_pack("{s:s}", "name", name));
	return 0;
}

void api_cmds_ejected(struct api_ctx *c, uint32_t slots)
{
	if (!c->vm)
		return;
	for (size_t i = 0; i < c->vm->nr_devs; i++) {
		struct device *d = &c->vm->devs[i];

		if (!d->state || !d->spec.ops->pci_dev || !(slots & (1u << slot_of(d))))
			continue;
		log_info("the guest ejected %s", d->spec.name);
		if (finish_removal(c, d) < 0)
			log_err("%s: could not be removed after the guest ejected it",
				d->spec.name);
	}
}

static struct device *device_in_slot(struct vm *vm, unsigned int slot)
{
	for (size_t i = 0; i < vm->nr_devs; i++) {
		struct device *d = &vm->devs[i];

		if (d->state && d->spec.ops->pci_dev && slot_of(d) == slot)
			return d;
	}
	return NULL;
}

void api_cmds_watched(struct api_ctx *c, enum machine_watch kind, unsigned int slot)
{
	struct device *d = c->vm ? device_in_slot(c->vm, slot) : NULL;

	if (!d)
		return;
	if (kind == MACHINE_WATCH_RELEASE) {
		/* An unbind from vfio-pci on the host waits until we let the device go. */
		log_info("the host asks for %s back; asking the guest to eject it", d->spec.name);
		if (hotplug_of(c->vm) && !hotplug_eject_pending(hotplug_of(c->vm), slot))
			hotplug_request_eject(hotplug_of(c->vm), slot);
		api_event(c->api, "DEVICE_RELEASE_REQUESTED",
			  json_pack("{s:s}", "name", d->spec.name));
		return;
	}
	/* A device error (AER): stop the guest before it acts on bad data, and say so. */
	log_err("%s reports an error; the VM is paused (resume through the API)", d->spec.name);
	if (!c->paused) {
		vcpus_pause(c->vm->vcpus, c->vm->nr_vcpus);
		c->paused = true;
		api_event(c->api, "PAUSED", NULL);
	}
	api_event(c->api, "DEVICE_ERROR", json_pack("{s:s}", "name", d->spec.name));
}

/* Asks the guest to eject the device (ACPI, as a PCI slot's attention button would);
 * it goes when the guest has let it go. force takes it away at once, as a surprise
 * removal: for a guest without ACPI hotplug, at the risk of its driver. */
static json_t *cmd_remove_device(void *ctx, json_t *args, struct api_error *err)
{
	struct api_ctx *c = ctx;
	struct vm *vm = running(c, err);
	const char *name = NULL;
	int force = 0, ret;
	struct device *d;

	if (!vm || api_migrating(c, err))
		return NULL;
	json_unpack(args, "{s:s, s?b}", "name", &name, "force", &force);
	d = vm_device_find(vm, name);
	if (!d || !d->state) {
		fail(err, API_ERR_NODEV, "no device %.80s on the VM (info lists them)", name);
		return NULL;
	}
	/* What add-device can put back; the rest would also come back at a reboot. */
	if (!d->spec.ops->hotplug) {
		fail(err, API_ERR_ARGS,
		     "%s: only disks and vfio devices can be removed (they are "
		     "what add-device can put back)",
		     name);
		return NULL;
	}
	if (!force && hotplug_of(vm)) {
		if (!hotplug_eject_pending(hotplug_of(vm), slot_of(d)))
			hotplug_request_eject(hotplug_of(vm), slot_of(d));
		return json_pack("{s:b}", "pending", 1);
	}
	/* No hotplug controller to ask the guest through (arm64's device tree machine):
	 * only the user knows whether the guest let the device go. */
	if (!force) {
		fail(err, API_ERR_ARGS,
		     "%s: this machine has no hotplug controller to ask the guest with; remove "
		     "the device in the guest first (echo 1 > /sys/bus/pci/devices/BDF/remove), "
		     "then send remove-device with force = true",
		     name);
		return NULL;
	}
	ret = finish_removal(c, d);
	if (ret < 0)
		fail(err, API_ERR_GENERIC, "%s: %s", name, strerror(-ret));
	return NULL;
}

const struct api_command api_commands[] = {
    {"ping", NULL, cmd_ping},
    {"info", NULL, cmd_info},
    {"pause", NULL, cmd_pause},
    {"resume", NULL, cmd_resume},
    {"reboot", NULL, cmd_reboot},
    {"shutdown", NULL, cmd_shutdown},
    {"power-button", NULL, cmd_power_button},
    {"snapshot", "path:s", cmd_snapshot},
    {"add-device", "kind:s name:s path:s? host:s? uuid:s? readonly:b? bind:s? vhost_user:s?",
     cmd_add_device},
    {"remove-device", "name:s force:b?", cmd_remove_device},
    {"send-migration", "to:s downtime_ms:i? max_rounds:i? timeout:i?", api_cmd_send_migration},
    {"cancel-migration", NULL, api_cmd_cancel_migration},
};
const size_t api_nr_commands = ARRAY_SIZE(api_commands);
