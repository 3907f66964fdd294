/* VFIO passthrough for one VM: the order of everything, from the first sysfs read to
 * the last driver given back. vfio_devices_create runs the phases of vfio_phases[]
 * in order; vfio_devices_destroy, and a failure in any phase, runs their undo steps in
 * reverse:
 *
 *   probe hosts            each device exists; PCI function or mdev, decided here once
 *   check hosts            driver, IOMMU group viable, guest RAM clear of reserved IOVA
 *                          ranges, no device twice
 *   check memlock          RLIMIT_MEMLOCK covers guest RAM, or CAP_IPC_LOCK
 *   check backend          backend = iommufd possible for the devices already on
 *                          vfio-pci (/dev/iommu, cdevs)    -- nothing on the host changed
 *   bind hosts             bind = auto rebinds                  <- restore hosts
 *   choose backend         the one place the VM's backend ops are set ([vfio] backend;
 *                          auto: iommufd when /dev/iommu and every device has a cdev,
 *                          which a device gets only once on vfio-pci, else legacy)
 *   create KVM device      the KVM-VFIO device                  <- close KVM device
 *   open backend           container or IOAS                    <- close backend
 *   attach devices         group fds or cdevs registered with KVM-VFIO before any
 *                          device is opened or bound, then the device fds  <- detach
 *   map RAM                guest RAM at iova = gpa              <- unmap RAM
 *
 * All of that is one device instance of kind "vfio" (vfio_device_ops), the backend;
 * the guest's PCI functions are instances of kind "vfio-pci" (vfio/pci.c), one per
 * [vfio.NAME], made after it and destroyed before it, each removable while the VM runs.
 * A failure anywhere returns -errno after exactly one message, with everything done so
 * far undone (the caller turns it into exit 2). The VM is recreated on guest reboot, so
 * each VM start resets the devices and each teardown gives them back. */
#include "vfio/vfio.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "vfio/internal.h"
#include "vfio/iommu.h"
#include "vmm/log.h"
#include "vmm/machine.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Each device as sysfs shows it; vfio_host_probe decides from the config whether it is
 * a PCI function or a mediated device (h->mdev), and nothing after asks again. */
static int vfio_probe_hosts(struct vfio_vm *vv)
{
	const struct config *cfg = vv->cfg;
	char err[1024];
	int ret;

	for (unsigned int i = 0; i < cfg->nr_vfio; i++) {
		if (cfg->vfio[i].unplugged) /* removed through the API: not at a reboot */
			continue;
		ret = vfio_host_probe(vv->sysfs, &cfg->vfio[i], &vv->hosts[vv->nr_hosts], err,
				      sizeof(err));
		if (ret < 0) {
			machine_error(vv->mach, "%s", err);
			return ret;
		}
		vv->nr_hosts++;
	}
	return 0;
}

/* Driver, group viability, reserved regions, and no other host of the VM the same. */
static int vfio_check_host(struct vfio_vm *vv, unsigned int i)
{
	struct vfio_host *h = &vv->hosts[i];
	struct vfio_resv resv[16];
	char err[1024];
	int ret, n;

	ret = vfio_host_check_driver(h, err, sizeof(err));
	if (ret == 0)
		ret = vfio_group_check(vv->sysfs, h, vv->hosts, vv->nr_hosts, err, sizeof(err));
	if (ret == 0) {
		n = vfio_group_reserved(vv->sysfs, h->group, resv, 16);
		ret = n < 0 ? 0
			    : vfio_ram_check_reserved(resv, n, &vv->mach->mem, h, err, sizeof(err));
	}
	for (unsigned int j = 0; ret == 0 && j < vv->nr_hosts; j++)
		if (j != i && !vv->hosts[j].gone && strcmp(vv->hosts[j].addr, h->addr) == 0) {
			snprintf(err, sizeof(err),
				 "[vfio.%s] and [vfio.%s] both pass through %s; a device can be "
				 "given to one VM once",
				 vv->hosts[j].cfg->name, h->cfg->name, h->addr);
			ret = -EINVAL;
		}
	if (ret < 0)
		machine_error(vv->mach, "%s", err);
	return ret;
}

/* Device by device, so that the first device's first problem is the one reported. */
static int vfio_check_hosts(struct vfio_vm *vv)
{
	for (unsigned int i = 0; i < vv->nr_hosts; i++) {
		int ret = vfio_check_host(vv, i);

		if (ret < 0)
			return ret;
	}
	return 0;
}

static int vfio_check_memlock(struct vfio_vm *vv)
{
	struct rlimit rl;
	char err[1024];
	int ret;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		rl.rlim_cur = RLIM_INFINITY;
	ret = vfio_memlock_check(vv->mach->mem.ram_size, rl.rlim_cur, vfio_have_cap_ipc_lock(), err,
				 sizeof(err));
	if (ret < 0)
		machine_error(vv->mach, "%s", err);
	return ret;
}

/* vfio_backend_pick for this VM: /dev/iommu and the devices' cdevs. Before bind = auto
 * (final false) it only refuses what is already known not to work, and *ops is not
 * used; final, it is the VM's backend. */
static int vfio_pick(struct vfio_vm *vv, bool final, const struct vfio_iommu_ops **ops, char *why,
		     size_t whylen)
{
	char path[96], err[PATH_MAX + 256];
	int ret;

	snprintf(path, sizeof(path), "%s/iommu", vv->dev_root);
	ret = vfio_backend_pick(vv->cfg->vfio_backend, access(path, F_OK) == 0, vv->hosts,
				vv->nr_hosts, final, ops, why, whylen, err, sizeof(err));
	if (ret < 0)
		machine_error(vv->mach, "%s", err);
	return ret;
}

/* A backend = iommufd that cannot work is refused before bind = auto touches the host;
 * the devices bind = auto moves have no cdev yet and pass until choose backend. */
static int vfio_check_backend(struct vfio_vm *vv)
{
	const struct vfio_iommu_ops *ops;
	char why[256];

	return vfio_pick(vv, false, &ops, why, sizeof(why));
}

static int vfio_bind_hosts(struct vfio_vm *vv)
{
	char err[1024];
	int ret;

	for (unsigned int i = 0; i < vv->nr_hosts; i++) {
		if (!vv->hosts[i].cfg->bind_auto)
			continue;
		ret = vfio_host_bind(vv->sysfs, &vv->hosts[i], err, sizeof(err));
		if (ret < 0) {
			machine_error(vv->mach, "%s", err);
			return ret;
		}
	}
	return 0;
}

/* Only now, with no fd left open on them, can the devices change drivers. */
static void vfio_restore_hosts(struct vfio_vm *vv)
{
	for (unsigned int i = 0; i < vv->nr_hosts; i++)
		vfio_host_restore(vv->sysfs, &vv->hosts[i]);
}

/* The only place vv->iommu_ops is set: every later phase and undo step goes through
 * it, and none of them runs with it NULL but the ones that have nothing to undo. */
static int vfio_choose_backend(struct vfio_vm *vv)
{
	const struct vfio_iommu_ops *ops = NULL;
	char why[256];
	int ret;

	ret = vfio_pick(vv, true, &ops, why, sizeof(why));
	if (ret < 0)
		return ret;
	vv->iommu_ops = ops;
	log_info("vfio: IOMMU backend %s (%s)", ops->name, why);
	return 0;
}

static int vfio_create_kvm_device(struct vfio_vm *vv)
{
	int fd = vfio_kvm_create(vv->mach->vm_fd);

	if (fd < 0)
		return fd;
	vv->kvm_vfio_fd = fd;
	return 0;
}

static void vfio_close_kvm_device(struct vfio_vm *vv)
{
	if (vv->kvm_vfio_fd >= 0)
		close(vv->kvm_vfio_fd);
	vv->kvm_vfio_fd = -1;
}

static int vfio_open_backend(struct vfio_vm *vv)
{
	return vv->iommu_ops->open(&vv->iommu, vv->dev_root);
}

/* Drops every mapping and the groups or cdevs left. */
static void vfio_close_backend(struct vfio_vm *vv)
{
	if (vv->iommu)
		vv->iommu_ops->close(vv->iommu);
	vv->iommu = NULL;
}

/* The backend registers each group or cdev with the KVM-VFIO device before it opens or
 * binds the device, in the order its kernel API wants (iommu.h). */
static int vfio_attach_devices(struct vfio_vm *vv)
{
	int ret;

	for (unsigned int i = 0; i < vv->nr_hosts; i++) {
		struct vfio_host *h = &vv->hosts[i];

		ret = vv->iommu_ops->attach(vv->iommu, h, vv->kvm_vfio_fd, &h->device_fd);
		if (ret < 0)
			return ret; /* the backend said why */
	}
	return 0;
}

/* Devices that became guest functions were detached by their teardown already. */
static void vfio_detach_devices(struct vfio_vm *vv)
{
	for (unsigned int i = 0; i < vv->nr_hosts; i++) {
		struct vfio_host *h = &vv->hosts[i];

		if (h->device_fd >= 0)
			vv->iommu_ops->detach(vv->iommu, h, h->device_fd);
		h->device_fd = -1;
	}
}

static int vfio_map_ram(struct vfio_vm *vv)
{
	const struct guest_mem *m = &vv->mach->mem;
	uint64_t t0 = machine_now_ns();
	cpu_set_t cpus;
	int ret;

	/* The map pins every page; fault them in first on all our CPUs, instead of one
	 * page at a time on one CPU inside the ioctl. */
	ret =
	    mem_populate(m, sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus) : 1);
	if (ret < 0) {
		machine_error(
		    vv->mach,
		    "vfio: cannot allocate all %llu MiB of guest RAM to map it for device "
		    "DMA: %s; lower [vm] memory or free host memory",
		    (unsigned long long)(m->ram_size >> 20), strerror(-ret));
		return ret;
	}
	log_info("mem: guest RAM (%llu MiB) populated in %.1f ms (%d thread%s)",
		 (unsigned long long)(m->ram_size >> 20), (double)(machine_now_ns() - t0) / 1e6,
		 ret, ret == 1 ? "" : "s");
	t0 = machine_now_ns();
	for (int i = 0; i < m->nr_regions; i++) {
		ret = vv->iommu_ops->map(vv->iommu, m->regions[i].gpa, m->regions[i].size,
					 m->regions[i].hva);
		if (ret < 0)
			return ret;
		vv->nr_mapped = i + 1;
	}
	log_info("vfio: guest RAM (%llu MiB in %d region%s) mapped for device DMA in %.1f ms (%s)",
		 (unsigned long long)(m->ram_size >> 20), m->nr_regions,
		 m->nr_regions == 1 ? "" : "s", (double)(machine_now_ns() - t0) / 1e6,
		 vv->iommu_ops->name);
	return 0;
}

static void vfio_unmap_ram(struct vfio_vm *vv)
{
	const struct guest_mem *m = &vv->mach->mem;

	for (int i = 0; i < vv->nr_mapped; i++)
		vv->iommu_ops->unmap(vv->iommu, m->regions[i].gpa, m->regions[i].size);
	vv->nr_mapped = 0;
}

/* A phase and what undoes it (NULL: it changed nothing on the host). Each undo step
 * undoes only what its phase got done, so it also cleans up after its own phase's
 * failure half-way. */
static const struct vfio_phase {
	int (*run)(struct vfio_vm *vv);
	void (*undo)(struct vfio_vm *vv);
} vfio_phases[] = {
    {vfio_probe_hosts, NULL},
    {vfio_check_hosts, NULL},
    {vfio_check_memlock, NULL},
    {vfio_check_backend, NULL},
    {vfio_bind_hosts, vfio_restore_hosts},
    {vfio_choose_backend, NULL},
    {vfio_create_kvm_device, vfio_close_kvm_device},
    {vfio_open_backend, vfio_close_backend},
    {vfio_attach_devices, vfio_detach_devices},
    {vfio_map_ram, vfio_unmap_ram},
};

/* Undoes phases [0, n) in reverse and frees vv. */
static void vfio_unwind(struct vfio_vm *vv, size_t n)
{
	while (n-- > 0)
		if (vfio_phases[n].undo)
			vfio_phases[n].undo(vv);
	free(vv);
}

/* ---- hosts added and removed while the VM runs (the control API) ---- */

int vfio_host_add(void *backend, const struct config_vfio *c, unsigned int *index)
{
	struct vfio_vm *vv = backend;
	struct vfio_host *h;
	char err[1024];
	unsigned int k;
	bool appended;
	int ret;

	for (k = 0; k < vv->nr_hosts && !vv->hosts[k].gone; k++)
		;
	if (k == VFIO_MAX_DEVICES) {
		machine_error(vv->mach, "[vfio.%s] a VM takes at most %d passed-through devices",
			      c->name, VFIO_MAX_DEVICES);
		return -ENOSPC;
	}
	appended = k == vv->nr_hosts;
	h = &vv->hosts[k];
	memset(h, 0, sizeof(*h));
	h->device_fd = -1;
	ret = vfio_host_probe(vv->sysfs, c, h, err, sizeof(err));
	if (ret < 0) {
		machine_error(vv->mach, "%s", err);
		goto gone;
	}
	if (appended)
		vv->nr_hosts++;
	ret = vfio_check_host(vv, k);
	if (ret == 0 && c->bind_auto) {
		ret = vfio_host_bind(vv->sysfs, h, err, sizeof(err));
		if (ret < 0)
			machine_error(vv->mach, "%s", err);
	}
	if (ret == 0) {
		vfio_host_find_cdev(vv->sysfs, h);
		ret = vv->iommu_ops->attach(vv->iommu, h, vv->kvm_vfio_fd, &h->device_fd);
	}
	/* The first device since the last one left: guest RAM is mapped again. */
	if (ret == 0 && vv->nr_mapped == 0)
		ret = vfio_map_ram(vv);
	if (ret == 0) {
		*index = k;
		return 0;
	}
	if (vv->nr_mapped && h->device_fd >= 0) {
		bool others = false;

		for (unsigned int j = 0; j < vv->nr_hosts; j++)
			others |= j != k && !vv->hosts[j].gone && vv->hosts[j].device_fd >= 0;
		if (!others)
			vfio_unmap_ram(vv);
	}
	if (h->device_fd >= 0)
		vv->iommu_ops->detach(vv->iommu, h, h->device_fd);
	h->device_fd = -1;
	vfio_host_restore(vv->sysfs, h);
gone:
	h->gone = true;
	if (appended && vv->nr_hosts == k + 1)
		vv->nr_hosts = k;
	return ret;
}

void vfio_host_remove(void *backend, unsigned int index)
{
	struct vfio_vm *vv = backend;
	struct vfio_host *h = &vv->hosts[index];
	bool others = false;

	if (index >= vv->nr_hosts || h->gone)
		return;
	for (unsigned int j = 0; j < vv->nr_hosts; j++)
		others |= j != index && !vv->hosts[j].gone && vv->hosts[j].device_fd >= 0;
	/* The last device leaves: no device can DMA now, so guest RAM is unmapped (and
	 * unpinned); before the detach, which with the legacy container drops the
	 * container's IOMMU with its last group. */
	if (!others)
		vfio_unmap_ram(vv);
	if (h->device_fd >= 0)
		vv->iommu_ops->detach(vv->iommu, h, h->device_fd);
	h->device_fd = -1;
	vfio_host_restore(vv->sysfs, h);
	h->gone = true;
}

/* The backend instance: spec->conf is the whole config (its [vfio] and every
 * [vfio.NAME]); the state is the struct vfio_vm that the vfio-pci instances use. */
static int vfio_create(struct machine *mach, const struct device_spec *spec, void **state)
{
	const struct config *cfg = spec->conf;
	struct vfio_vm *vv;
	int ret;

	vv = calloc(1, sizeof(*vv));
	if (!vv)
		return -ENOMEM;
	vv->mach = mach;
	vv->cfg = cfg;
	vv->sysfs = "/sys";
	vv->dev_root = "/dev";
	vv->kvm_vfio_fd = -1;
	for (unsigned int i = 0; i < VFIO_MAX_DEVICES; i++)
		vv->hosts[i].device_fd = -1;
	for (size_t i = 0; i < ARRAY_SIZE(vfio_phases); i++) {
		ret = vfio_phases[i].run(vv);
		if (ret < 0) {
			vfio_unwind(vv, i + 1); /* the failed phase may have done part */
			return ret;
		}
	}
	*state = vv;
	return 0;
}

static void vfio_destroy(void *state)
{
	vfio_unwind(state, ARRAY_SIZE(vfio_phases));
}

const struct device_ops vfio_device_ops = {
    .kind = "vfio", .stateless = true, .create = vfio_create, .destroy = vfio_destroy};
