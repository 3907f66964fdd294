/* VM lifecycle: create (KVM, memory, devices, kernel, vCPUs), start, stop, destroy;
 * devices added and removed while it runs.
 *
 * A guest reboot with on_reboot = restart destroys the whole VM and creates it again
 * (see main.c): nothing of the old guest survives, which is simpler and more certain
 * than resetting each device in place, and takes milliseconds. */
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/sysinfo.h>
#include <stddef.h>
#include <unistd.h>

#include "arch/arch.h"
#include "devices/pci.h"
#include "vmm/image.h"
#include "devices/serial.h"
#include "devices/virtio_devices.h"
#include "vmm/log.h"

static int vm_open_kvm(struct vm *vm)
{
	static const struct {
		int cap;
		const char *name;
	} caps[] = {
	    {KVM_CAP_IRQCHIP, "IRQCHIP"},
	    {KVM_CAP_USER_MEMORY, "USER_MEMORY"},
	    {KVM_CAP_IRQFD, "IRQFD"},
	    {KVM_CAP_IOEVENTFD, "IOEVENTFD"},
	    {KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT"},
	};
	int v;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		int ret = -errno;

		log_err("cannot open /dev/kvm: %s; %s", strerror(-ret),
			ret == -ENOENT ? "KVM is not available here (enable virtualization in "
					 "firmware and load kvm_intel or kvm_amd)"
				       : "add yourself to the group owning /dev/kvm (often 'kvm')");
		return ret;
	}
	v = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		log_err("/dev/kvm speaks API version %d, minivmm needs %d", v, KVM_API_VERSION);
		return -ENOTSUP;
	}
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0) {
			log_err("this kernel's KVM lacks KVM_CAP_%s, which minivmm needs",
				caps[i].name);
			return -ENOTSUP;
		}
	}
	v = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (v > 0 && vm->cfg->vcpus > (unsigned int)v) {
		log_err("[vm] vcpus = %u, but this host's KVM allows at most %d", vm->cfg->vcpus,
			v);
		return -EINVAL;
	}
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size <= 0)
		return -ENOTSUP;
	vm->m.vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->m.vm_fd < 0) {
		v = -errno;
		log_err("KVM_CREATE_VM failed: %s", strerror(-v));
		return v;
	}
	return 0;
}

/* Whether guest RAM must be a memfd that other processes can map: vhost-user back
 * ends (virtio-fs, vhost-user-blk) need it. A VM with passthrough devices, or with an
 * API socket (through which they can be hot-added), keeps a memfd too: pages pinned for
 * device DMA must stay the pages the guest sees, and on private memory with huge pages
 * that was seen to fail once (api-hotplug, a hot-added NVMe after a reboot read back
 * other data than written; suspected: the kernel splitting an all-zero huge page and
 * remapping it to the zero page under the pinned DMA pages), not yet explained.
 * Otherwise it is private anonymous memory,
 * which the host backs with transparent huge pages; shmem (a memfd) gets none on a
 * host with the usual shmem_enabled = never, and every 4 KiB page a guest touches is
 * then a separate fault: in 4 alternating boot cycles each in the emulated host, one took
 * 1.5 to 2.4 times as long (medians) on a memfd (README, "Guest memory"). */
bool vm_shared_memory(const struct config *cfg)
{
	char sec[CONFIG_NAME_MAX + 8];

	if (cfg->shared_memory != SHARED_MEMORY_AUTO)
		return cfg->shared_memory == SHARED_MEMORY_ON;
	return config_vhost_user_device(cfg, sec, sizeof(sec)) != NULL || cfg->nr_vfio ||
	       cfg->api_socket[0];
}

static int vm_init_memory(struct vm *vm)
{
	gpa_t gpas[MEM_MAX_REGIONS];
	uint64_t sizes[MEM_MAX_REGIONS];
	int n, ret;

	n = arch_mem_layout(vm->cfg->memory, gpas, sizes, MEM_MAX_REGIONS);
	if (n < 0)
		return n;
	ret = mem_init(&vm->m.mem, gpas, sizes, n,
		       vm->cfg->hugepages	   ? MEM_HUGETLB
		       : vm_shared_memory(vm->cfg) ? MEM_MEMFD
						   : MEM_ANON);
	if (ret < 0 && vm->cfg->hugepages) {
		log_err("[vm] hugepages = on: cannot get %llu MiB of guest memory in 2 MiB "
			"hugepages (%s); reserve %llu of them first (echo %llu > "
			"/proc/sys/vm/nr_hugepages) or set hugepages = off",
			(unsigned long long)(vm->cfg->memory >> 20), strerror(-ret),
			(unsigned long long)(vm->cfg->memory >> 21),
			(unsigned long long)(vm->cfg->memory >> 21));
		return ret;
	}
	if (ret < 0) {
		log_err("cannot allocate %llu MiB of guest memory: %s",
			(unsigned long long)(vm->cfg->memory >> 20), strerror(-ret));
		return ret;
	}
	for (int i = 0; i < vm->m.mem.nr_regions; i++) {
		const struct mem_region *r = &vm->m.mem.regions[i];
		struct kvm_userspace_memory_region slot = {
		    .slot = (uint32_t)i,
		    .guest_phys_addr = r->gpa,
		    .memory_size = r->size,
		    .userspace_addr = (uintptr_t)r->hva,
		};

		if (ioctl(vm->m.vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
			ret = -errno;
			log_err("KVM_SET_USER_MEMORY_REGION (slot %d) failed: %m", i);
			return ret;
		}
		vm->m.used_slots[0] |= 1ULL << i;
	}
	return 0;
}

/* The vCPUs' KVM binary stats, for the power device's stats mark. */
static void vm_kvm_stats(struct machine *m, uint64_t *sum)
{
	struct vm *vm = (struct vm *)((char *)m - offsetof(struct vm, m));

	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		kvm_stats_add(&vm->vcpus[i].stats, sum);
}

/* The console input targets are two of the devices; main.c asks vm for them. */
static void vm_note_console(struct vm *vm, struct device *d, bool present)
{
	if (d->spec.ops == &serial_device_ops)
		vm->serial = present ? d->state : NULL;
	else if (d->spec.ops == &virtio_console_device_ops)
		vm->console_dev = present ? d->state : NULL;
}

static int vm_device_create(struct vm *vm, struct device *d)
{
	int ret;

	vm->m.pci_slot_next = d->spec.slot;
	ret = d->spec.ops->create(&vm->m, &d->spec, &d->state);
	vm->m.pci_slot_next = 0;
	if (ret < 0) {
		d->state = NULL;
		return ret;
	}
	vm_note_console(vm, d, true);
	return 0;
}

static void vm_device_destroy(struct vm *vm, struct device *d)
{
	if (!d->state)
		return;
	vm_note_console(vm, d, false);
	d->spec.ops->destroy(d->state);
	d->state = NULL;
}

#define GIB (1ULL << 30)

static const char *gib(uint64_t v, char *buf, size_t len)
{
	snprintf(buf, len, "%lluG", (unsigned long long)(v >> 30));
	return buf;
}

/* The guest's physical address width: [vm] phys_bits, or the host's; RAM and the PCI
 * windows must lie below 1 << width. Until vm_mmio64 the 64-bit window reaches up to
 * there, so that the boot devices' large BARs find room first. */
static int vm_address_width(struct vm *vm, struct pci_windows *w)
{
	unsigned int host = arch_host_phys_bits(vm), bits = vm->cfg->phys_bits;
	uint64_t limit;

	if (bits > host) {
		log_err("[vm] phys_bits = %u: this host's KVM supports guest physical addresses "
			"of up to %u bits; lower phys_bits or set it to host",
			bits, host);
		return -EINVAL;
	}
	bits = bits ? bits : host;
	limit = bits >= 64 ? UINT64_MAX : 1ULL << bits;
	if (w->m64_base > limit || w->m32_end > limit) {
		log_err("[vm] phys_bits = %u leaves no room for memory = %lluM and the PCI windows "
			"(they end at %#llx); raise phys_bits",
			bits, (unsigned long long)(vm->cfg->memory >> 20),
			(unsigned long long)w->m64_base);
		return -EINVAL;
	}
	vm->phys_bits = bits;
	w->addr_limit = limit;
	w->m64_end = limit;
	snprintf(w->m64_hint, sizeof(w->m64_hint),
		 "the guest's physical addresses end at %#llx ([vm] phys_bits = %u; this host "
		 "allows up to %u)",
		 (unsigned long long)limit, bits, host);
	/* A window of a set size ends there from the start, so that a BAR that does not
	 * fit is refused by name (pci_bar.c) rather than found too big afterwards. */
	if (vm->cfg->mmio64) {
		char a[32];
		uint64_t end = w->m64_base + vm->cfg->mmio64;

		if (end > limit || end < w->m64_base) {
			log_err("[vm] mmio64 = %s: the window [%#llx, %#llx) passes the guest's "
				"physical address limit %#llx (%u bits); lower mmio64 or raise "
				"phys_bits",
				gib(vm->cfg->mmio64, a, sizeof(a)), (unsigned long long)w->m64_base,
				(unsigned long long)end, (unsigned long long)limit, bits);
			return -ENOSPC;
		}
		w->m64_end = end;
		snprintf(w->m64_hint, sizeof(w->m64_hint), "it is [vm] mmio64 = %s",
			 gib(vm->cfg->mmio64, a, sizeof(a)));
	}
	return 0;
}

/* Ends the 64-bit PCI window after the boot devices' large BARs plus mmio64_hotplug of
 * room (1 GiB aligned; the room shrinks to what the address width leaves unless it was
 * set), or at mmio64. The ACPI tables tell the guest this window. */
static int vm_mmio64(struct vm *vm)
{
	const struct config *cfg = vm->cfg;
	struct pci_windows w;
	uint64_t used, end, room = cfg->mmio64_hotplug;
	char a[32], b[32], hint[160];

	pci_get_windows(&vm->m, &w);
	used = (pci_m64_used_end(&vm->m) + GIB - 1) & ~(GIB - 1);
	if (cfg->mmio64) { /* the window vm_address_width set, which the devices fit in */
		end = w.m64_end;
		snprintf(hint, sizeof(hint), "%s", w.m64_hint);
	} else {
		uint64_t left = w.addr_limit > used ? (w.addr_limit - used) & ~(GIB - 1) : 0;

		if (room > left && cfg->mmio64_hotplug_set) {
			log_err(
			    "[vm] mmio64_hotplug = %s does not fit: the 64-bit PCI window starts "
			    "at %#llx, its boot devices' BARs end at %#llx and the guest's "
			    "physical addresses at %#llx (%u bits); lower mmio64_hotplug or "
			    "raise phys_bits",
			    gib(room, a, sizeof(a)), (unsigned long long)w.m64_base,
			    (unsigned long long)used, (unsigned long long)w.addr_limit,
			    vm->phys_bits);
			return -ENOSPC;
		}
		room = room > left ? left : room;
		end = used + room;
		snprintf(hint, sizeof(hint),
			 "[vm] mmio64_hotplug = %s is the room for devices added at run time",
			 gib(room, a, sizeof(a)));
	}
	pci_set_m64_end(&vm->m, end, hint);
	vm->mmio64 = end - w.m64_base;
	log_info("pci: 64-bit window [%#llx, %#llx), %s of it free for devices added later; "
		 "guest physical address width %u bits",
		 (unsigned long long)w.m64_base, (unsigned long long)end,
		 gib(end - used, b, sizeof(b)), vm->phys_bits);
	return 0;
}

int vm_create(struct vm *vm, const struct config *cfg, const struct boot_files *boot,
	      int console_out, uint64_t t_start, bool incoming)
{
	struct pci_windows windows;
	struct sysinfo si;
	int ret;
	size_t i;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->boot = boot;
	vm->kvm_fd = -1;
	vm->console_out = console_out;
	vcpu_pause_init(&vm->pause);
	ret = machine_init(&vm->m);
	if (ret < 0)
		goto err;
	vm->m.filters = true;
	vm->m.incoming = incoming;
	vm->m.seccomp = cfg->seccomp;
	vm->m.stats.t_start = t_start;
	vm->m.stats.kvm_sum = vm_kvm_stats;

	/* Guest RAM is allocated lazily, so an impossible size would only fail later, when
	 * the host runs out; refuse what the host does not have at all, before KVM (the
	 * config is wrong, whether or not this host has KVM). */
	if (sysinfo(&si) == 0 && cfg->memory > (uint64_t)si.totalram * si.mem_unit) {
		log_err("[vm] memory = %llu MiB is more than this host's memory (%llu MiB); "
			"lower it",
			(unsigned long long)(cfg->memory >> 20),
			(unsigned long long)((uint64_t)si.totalram * si.mem_unit >> 20));
		ret = -ENOMEM;
		goto err;
	}
	ret = vm_open_kvm(vm);
	if (ret < 0)
		goto err;
	ret = vm_init_memory(vm);
	if (ret < 0)
		goto err;
	machine_mark(&vm->m, MARK_MEMORY);
	ret = arch_vm_init(vm);
	if (ret < 0)
		goto err;
	ret = irq_init(&vm->m);
	if (ret < 0) {
		log_err("cannot set up interrupt routing: %s", strerror(-ret));
		goto err;
	}
	arch_pci_windows(cfg->memory, &windows);
	ret = vm_address_width(vm, &windows);
	if (ret < 0)
		goto err;
	ret = pci_init(&vm->m, &windows);
	if (ret < 0) {
		log_err("cannot create the PCI host bridge: %s", strerror(-ret));
		goto err;
	}
	/* Every device from the one list; each create prints its own message. */
	vm->nr_devs = vm_devices_plan(cfg, console_out, vm->devs, VM_MAX_DEVICES);
	for (i = 0; i < vm->nr_devs; i++) /* the first free slot skips pinned ones */
		vm->m.pci_pinned |= vm->devs[i].spec.slot ? 1u << vm->devs[i].spec.slot : 0;
	for (i = 0; i < vm->nr_devs; i++) {
		ret = vm_device_create(vm, &vm->devs[i]);
		if (ret < 0)
			goto err;
	}
	ret = vm_mmio64(vm);
	if (ret < 0)
		goto err;
	machine_mark(&vm->m, MARK_DEVICES);
	ret = arch_load_kernel(vm);
	if (ret < 0)
		goto err;
	machine_mark(&vm->m, MARK_LOADED);
	boot_files_drop_pages(boot);

	vm->vcpus = calloc(cfg->vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		ret = -ENOMEM;
		goto err;
	}
	for (i = 0; i < cfg->vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		ret = vcpu_create(&vm->m, vm->run_size, &vm->pause, v, (unsigned int)i);
		if (ret == 0) {
			ret = arch_vcpu_init(vm, v);
			if (ret < 0)
				vcpu_destroy(v);
		}
		if (ret < 0) {
			log_err("cannot create vcpu %zu: %s", i, strerror(-ret));
			goto err;
		}
		vm->nr_vcpus = (unsigned int)i + 1;
	}
	return 0;
err:
	vm_destroy(vm);
	return ret;
}

int vm_start(struct vm *vm)
{
	if (vcpu_kick_setup() < 0) {
		log_err("cannot install the vCPU kick signal handler: %m");
		return -errno;
	}
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		int ret = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);

		if (ret) {
			log_err("cannot start vcpu %u thread: %s", i, strerror(ret));
			vm_request_stop(vm, VM_STOP_FAULT);
			return -ret;
		}
		vm->vcpus[i].started = 1;
	}
	return 0;
}

void vm_stop_vcpus(struct vm *vm)
{
	vcpus_resume_all(vm->vcpus, vm->nr_vcpus); /* a paused vCPU must see the stop */
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i].started)
			pthread_join(vm->vcpus[i].thread, NULL);
		vm->vcpus[i].started = 0;
	}
}

/* Devices go in reverse order of creation, after the vCPUs and before what they use
 * (the PCI host, GSI table, guest RAM, VM fd). */
void vm_destroy(struct vm *vm)
{
	if (vm->vcpus) {
		vm_stop_vcpus(vm);
		for (unsigned int i = 0; i < vm->nr_vcpus; i++)
			vcpu_destroy(&vm->vcpus[i]);
		free(vm->vcpus);
		vm->vcpus = NULL;
	}
	vm->nr_vcpus = 0;
	while (vm->nr_devs > 0)
		vm_device_destroy(vm, &vm->devs[--vm->nr_devs]);
	pci_destroy(&vm->m);
	irq_destroy(&vm->m);
	arch_vm_destroy(vm);
	mem_destroy(&vm->m.mem);
	if (vm->m.vm_fd >= 0)
		close(vm->m.vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->m.vm_fd = vm->kvm_fd = -1;
	machine_exit(&vm->m);
	vcpu_pause_destroy(&vm->pause);
}

struct device *vm_device_find(struct vm *vm, const char *name)
{
	for (size_t i = 0; i < vm->nr_devs; i++)
		if (!strcmp(vm->devs[i].spec.name, name))
			return &vm->devs[i];
	return NULL;
}

int vm_device_remove(struct vm *vm, const char *name)
{
	struct device *d = vm_device_find(vm, name);

	if (!d || !d->state)
		return -ENOENT;
	if (!d->spec.ops->pci)
		return -EPERM;
	vcpus_pause(vm->vcpus, vm->nr_vcpus);
	vm_device_destroy(vm, d);
	vcpus_resume(vm->vcpus, vm->nr_vcpus);
	log_info("device %s removed", name);
	return 0;
}

int vm_device_add(struct vm *vm, const struct device_spec *spec)
{
	struct device *d = vm_device_find(vm, spec->name);
	int ret;

	if (d && d->state)
		return -EEXIST;
	if (!d) {
		for (size_t i = 0; i < vm->nr_devs && !d; i++)
			if (!vm->devs[i].state && !vm->devs[i].spec.ops)
				d = &vm->devs[i];
		if (!d && vm->nr_devs == VM_MAX_DEVICES)
			return -ENOSPC;
		if (!d)
			d = &vm->devs[vm->nr_devs++];
	}
	d->spec = *spec;
	vcpus_pause(vm->vcpus, vm->nr_vcpus);
	ret = vm_device_create(vm, d);
	vcpus_resume(vm->vcpus, vm->nr_vcpus);
	if (ret == 0)
		log_info("device %s added", spec->name);
	return ret;
}

int vm_devices_activate(struct vm *vm, bool on, char *err, size_t errlen)
{
	int ret = 0;
	size_t i;

	vm->m.last_err[0] = 0;
	for (i = 0; i < vm->nr_devs && ret == 0; i++)
		if (vm->devs[i].state && vm->devs[i].spec.ops->activate) {
			ret = vm->devs[i].spec.ops->activate(vm->devs[i].state, on);
			if (ret < 0)
				snprintf(err, errlen, "%s: %s", vm->devs[i].spec.name,
					 vm->m.last_err[0] ? vm->m.last_err : strerror(-ret));
		}
	while (ret < 0 && !on && i-- > 0)
		if (vm->devs[i].state && vm->devs[i].spec.ops->activate)
			vm->devs[i].spec.ops->activate(vm->devs[i].state, true);
	if (ret == 0)
		vm->m.incoming = false;
	return ret;
}

int vm_dirty_log(struct vm *vm, bool on)
{
	int ret = 0;

	if (on)
		ret = mem_dirty_start(&vm->m.mem);
	for (int i = 0; i < vm->m.mem.nr_regions && ret == 0; i++) {
		const struct mem_region *r = &vm->m.mem.regions[i];
		struct kvm_userspace_memory_region slot = {
		    .slot = (uint32_t)i,
		    .flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		    .guest_phys_addr = r->gpa,
		    .memory_size = r->size,
		    .userspace_addr = (uintptr_t)r->hva,
		};

		if (ioctl(vm->m.vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			ret = -errno;
	}
	if (!on || ret < 0)
		mem_dirty_stop(&vm->m.mem);
	if (on && ret < 0)
		vm_dirty_log(vm, false);
	return ret;
}

void vm_config_slots(struct vm *vm, struct config *cfg)
{
	/* The guest's CPUID and ACPI tables said these; the other side must agree. */
	cfg->phys_bits = vm->phys_bits;
	cfg->mmio64 = vm->mmio64;
	for (size_t i = 0; i < vm->nr_devs; i++) {
		const struct device *d = &vm->devs[i];
		const char *n = d->spec.name;
		unsigned int slot;

		if (!d->state || !d->spec.ops->pci_dev)
			continue;
		slot = d->spec.ops->pci_dev(d->state)->devfn >> 3;
		if (!strcmp(n, "rng"))
			cfg->rng_slot = slot;
		else if (!strcmp(n, "console"))
			cfg->console.slot = slot;
		for (unsigned int k = 0; !strncmp(n, "disk.", 5) && k < cfg->nr_disks; k++)
			if (!strcmp(cfg->disks[k].name, n + 5))
				cfg->disks[k].slot = slot;
		for (unsigned int k = 0; !strncmp(n, "net.", 4) && k < cfg->nr_nets; k++)
			if (!strcmp(cfg->nets[k].name, n + 4))
				cfg->nets[k].slot = slot;
		for (unsigned int k = 0; !strncmp(n, "fs.", 3) && k < cfg->nr_fs; k++)
			if (!strcmp(cfg->fs[k].name, n + 3))
				cfg->fs[k].slot = slot;
		for (unsigned int k = 0; !strncmp(n, "vfio.", 5) && k < cfg->nr_vfio; k++)
			if (!strcmp(cfg->vfio[k].name, n + 5))
				cfg->vfio[k].slot = slot;
	}
}
