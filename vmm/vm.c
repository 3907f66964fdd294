/* VM lifecycle: create (KVM, memory, devices, kernel, vCPUs), start, stop, destroy.
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
#include <unistd.h>

#include "arch/arch.h"
#include "devices/pci.h"
#include "devices/platform.h"
#include "devices/serial.h"
#include "devices/virtio_devices.h"
#include "vfio/vfio.h"
#include "vmm/image.h"
#include "vmm/log.h"
#include "vmm/vcpu.h"

/* Every built-in platform device, in creation order. */
static const struct device_ops *const vm_devices[] = {&rtc_ops, &power_ops};

uint64_t vm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

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
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		v = -errno;
		log_err("KVM_CREATE_VM failed: %s", strerror(-v));
		return v;
	}
	return 0;
}

static int vm_init_memory(struct vm *vm)
{
	gpa_t gpas[MEM_MAX_REGIONS];
	uint64_t sizes[MEM_MAX_REGIONS];
	struct sysinfo si;
	int n, ret;

	/* Guest RAM is allocated lazily, so an impossible size would only fail later, when
	 * the host runs out; refuse what the host does not have at all. */
	if (sysinfo(&si) == 0 && vm->cfg->memory > (uint64_t)si.totalram * si.mem_unit) {
		log_err("[vm] memory = %llu MiB is more than this host's memory (%llu MiB); "
			"lower it",
			(unsigned long long)(vm->cfg->memory >> 20),
			(unsigned long long)((uint64_t)si.totalram * si.mem_unit >> 20));
		return -ENOMEM;
	}
	n = arch_mem_layout(vm->cfg->memory, gpas, sizes, MEM_MAX_REGIONS);
	if (n < 0)
		return n;
	ret = mem_init(&vm->mem, gpas, sizes, n, vm->cfg->hugepages ? MEM_HUGETLB : MEM_MEMFD);
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
	pthread_mutex_init(&vm->slot_lock, NULL);
	for (int i = 0; i < vm->mem.nr_regions; i++) {
		const struct mem_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region slot = {
		    .slot = (uint32_t)i,
		    .guest_phys_addr = r->gpa,
		    .memory_size = r->size,
		    .userspace_addr = (uintptr_t)r->hva,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
			ret = -errno;
			log_err("KVM_SET_USER_MEMORY_REGION (slot %d) failed: %m", i);
			return ret;
		}
		vm->used_slots[0] |= 1ULL << i;
	}
	return 0;
}

int vm_memslot_add(struct vm *vm, gpa_t gpa, uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region r = {
	    .guest_phys_addr = gpa, .memory_size = size, .userspace_addr = (uintptr_t)hva};
	int slot = -ENOSPC;

	pthread_mutex_lock(&vm->slot_lock);
	for (int i = 0; i < 256; i++) {
		if (vm->used_slots[i / 64] & (1ULL << (i % 64)))
			continue;
		r.slot = (uint32_t)i;
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
			slot = -errno;
			break;
		}
		vm->used_slots[i / 64] |= 1ULL << (i % 64);
		slot = i;
		break;
	}
	pthread_mutex_unlock(&vm->slot_lock);
	return slot;
}

void vm_memslot_remove(struct vm *vm, int slot)
{
	struct kvm_userspace_memory_region r = {.slot = (uint32_t)slot, .memory_size = 0};

	if (slot < 0 || slot >= 256)
		return;
	pthread_mutex_lock(&vm->slot_lock);
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) == 0)
		vm->used_slots[slot / 64] &= ~(1ULL << (slot % 64));
	pthread_mutex_unlock(&vm->slot_lock);
}

int vm_create(struct vm *vm, const struct config *cfg, const struct boot_files *boot,
	      int console_out, uint64_t t_start)
{
	struct pci_windows windows;
	int ret;
	size_t i;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->boot = boot;
	vm->kvm_fd = vm->vm_fd = vm->stop_efd = -1;
	vm->mem.memfd = -1;
	vm->console_out = console_out;
	vm->t_start = t_start;
	if (bus_init(&vm->pio, "pio") || bus_init(&vm->mmio, "mmio"))
		return -ENOMEM;
	vm->buses_ready = 1;
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0)
		return -errno;

	ret = vm_open_kvm(vm);
	if (ret < 0)
		goto err;
	ret = vm_init_memory(vm);
	if (ret < 0)
		goto err;
	ret = arch_vm_init(vm);
	if (ret < 0)
		goto err;
	ret = irq_init(vm);
	if (ret < 0) {
		log_err("cannot set up interrupt routing: %s", strerror(-ret));
		goto err;
	}
	arch_pci_windows(cfg->memory, &windows);
	ret = pci_init(vm, &windows);
	if (ret < 0) {
		log_err("cannot create the PCI host bridge: %s", strerror(-ret));
		goto err;
	}
	vm->serial = serial_create(vm, 0x3f8, 4, console_out);
	if (!vm->serial) {
		ret = -errno;
		log_err("cannot create the serial port: %m");
		goto err;
	}
	for (i = 0; i < sizeof(vm_devices) / sizeof(vm_devices[0]); i++) {
		ret = vm_devices[i]->init(vm, &vm->dev_state[i]);
		if (ret < 0) {
			log_err("cannot create device %s: %s", vm_devices[i]->name, strerror(-ret));
			goto err;
		}
		vm->nr_devs = i + 1;
	}
	ret = vfio_devices_create(vm); /* prints its one message */
	if (ret < 0)
		goto err;
	ret = virtio_devices_create(vm);
	if (ret < 0)
		goto err;
	ret = arch_load_kernel(vm);
	if (ret < 0)
		goto err;
	boot_files_drop_pages(boot);

	vm->vcpus = calloc(cfg->vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		ret = -ENOMEM;
		goto err;
	}
	for (i = 0; i < cfg->vcpus; i++) {
		ret = vcpu_create(vm, &vm->vcpus[i], (unsigned int)i);
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

void vm_request_stop(struct vm *vm, enum vm_stop why)
{
	int running = VM_RUNNING;
	uint64_t one = 1;

	if (atomic_compare_exchange_strong(&vm->stop, &running, (int)why) &&
	    write(vm->stop_efd, &one, sizeof(one)) < 0)
		log_err("cannot wake the main loop: %m");
}

void vm_stop_vcpus(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i].started)
			pthread_join(vm->vcpus[i].thread, NULL);
		vm->vcpus[i].started = 0;
	}
}

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
	while (vm->nr_devs > 0) {
		vm->nr_devs--;
		vm_devices[vm->nr_devs]->exit(vm, vm->dev_state[vm->nr_devs]);
	}
	serial_destroy(vm->serial);
	vm->serial = NULL;
	virtio_devices_destroy(vm);
	vm->console_dev = NULL;
	pci_destroy(vm);
	vfio_devices_destroy(vm);
	irq_destroy(vm);
	arch_vm_destroy(vm);
	mem_destroy(&vm->mem);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	vm->vm_fd = vm->kvm_fd = vm->stop_efd = -1;
	if (vm->buses_ready) {
		bus_destroy(&vm->pio);
		bus_destroy(&vm->mmio);
		vm->buses_ready = 0;
	}
}
