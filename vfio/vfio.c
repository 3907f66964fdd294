/* VFIO passthrough for one VM: the order of everything, from the first sysfs read to
 * the last driver given back.
 *
 *   checks (sysfs, groups, reserved regions, memlock,   nothing on the host changed
 *     backend = iommufd possible for the devices already on vfio-pci)
 *   -> bind = auto rebinds                              undone by vfio_devices_destroy
 *   -> backend chosen ([vfio] backend; auto: iommufd when /dev/iommu and every device
 *      has a cdev, which a device gets only once on vfio-pci, else legacy)
 *   -> KVM-VFIO device -> IOMMU backend open -> attach every device (group fds or
 *      cdevs added to KVM-VFIO before any device is opened) -> guest RAM mapped at
 *      iova = gpa -> one PCI device per [vfio.NAME], registered with the PCI core.
 *
 * A failure anywhere returns -errno after exactly one message, with everything done so
 * far undone (the caller turns it into exit 2). The VM is recreated on guest reboot, so
 * each VM start resets the devices and each teardown gives them back. */
#include "vfio/vfio.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "vfio/internal.h"
#include "vfio/iommu.h"
#include "vmm/log.h"
#include "vmm/vm.h"

/* The KVM-VFIO attribute group was renamed from GROUP to FILE in Linux 6.6 (it took
 * device cdevs too); the values are the same. */
#ifdef KVM_DEV_VFIO_FILE
#define VFIO_KVM_ATTR_GROUP KVM_DEV_VFIO_FILE
#define VFIO_KVM_ATTR_ADD   KVM_DEV_VFIO_FILE_ADD
#define VFIO_KVM_ATTR_DEL   KVM_DEV_VFIO_FILE_DEL
#else
#define VFIO_KVM_ATTR_GROUP KVM_DEV_VFIO_GROUP
#define VFIO_KVM_ATTR_ADD   KVM_DEV_VFIO_GROUP_ADD
#define VFIO_KVM_ATTR_DEL   KVM_DEV_VFIO_GROUP_DEL
#endif

int vfio_kvm_file(int kvm_vfio_fd, int fd, bool add)
{
	int32_t v = fd;
	struct kvm_device_attr attr = {
	    .group = VFIO_KVM_ATTR_GROUP,
	    .attr = add ? VFIO_KVM_ATTR_ADD : VFIO_KVM_ATTR_DEL,
	    .addr = (uintptr_t)&v,
	};

	return ioctl(kvm_vfio_fd, KVM_SET_DEVICE_ATTR, &attr) < 0 ? -errno : 0;
}

/* Everything that can be checked without changing the host. */
static int vfio_preflight(struct vfio_vm *vv)
{
	const struct config *cfg = vv->vm->cfg;
	struct vfio_resv resv[16];
	struct rlimit rl;
	char err[1024];
	int ret, n;

	for (unsigned int i = 0; i < cfg->nr_vfio; i++) {
		ret = vfio_host_probe(vv->sysfs, &cfg->vfio[i], &vv->hosts[i], err, sizeof(err));
		if (ret < 0) {
			log_err("%s", err);
			return ret;
		}
		vv->nr_hosts = i + 1;
	}
	for (unsigned int i = 0; i < vv->nr_hosts; i++) {
		struct vfio_host *h = &vv->hosts[i];

		ret = vfio_host_check_driver(h, err, sizeof(err));
		if (ret == 0)
			ret = vfio_group_check(vv->sysfs, h, vv->hosts, vv->nr_hosts, err,
					       sizeof(err));
		if (ret == 0) {
			n = vfio_group_reserved(vv->sysfs, h->group, resv, 16);
			ret = n < 0 ? 0
				    : vfio_ram_check_reserved(resv, n, &vv->vm->mem, h, err,
							      sizeof(err));
		}
		for (unsigned int j = 0; ret == 0 && j < i; j++)
			if (strcmp(vv->hosts[j].addr, h->addr) == 0) {
				snprintf(err, sizeof(err),
					 "[vfio.%s] and [vfio.%s] both pass through %s; a device "
					 "can be given to one VM once",
					 vv->hosts[j].cfg->name, h->cfg->name, h->addr);
				ret = -EINVAL;
			}
		if (ret < 0) {
			log_err("%s", err);
			return ret;
		}
	}
	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		rl.rlim_cur = RLIM_INFINITY;
	ret = vfio_memlock_check(vv->vm->mem.ram_size, rl.rlim_cur, vfio_have_cap_ipc_lock(), err,
				 sizeof(err));
	if (ret < 0)
		log_err("%s", err);
	return ret;
}

/* Picks the backend; before bind = auto (final false) only refuses what is already
 * known not to work. */
static int vfio_pick_backend(struct vfio_vm *vv, bool final)
{
	const struct vfio_iommu_ops *ops = NULL;
	char path[96], why[256], err[PATH_MAX + 256];
	int ret;

	snprintf(path, sizeof(path), "%s/iommu", vv->dev_root);
	ret = vfio_backend_pick(vv->vm->cfg->vfio_backend, access(path, F_OK) == 0, vv->hosts,
				vv->nr_hosts, final, &ops, why, sizeof(why), err, sizeof(err));
	if (ret < 0) {
		log_err("%s", err);
		return ret;
	}
	if (final) {
		vv->iommu_ops = ops;
		log_info("vfio: IOMMU backend %s (%s)", ops->name, why);
	}
	return 0;
}

static int vfio_map_ram(struct vfio_vm *vv)
{
	const struct guest_mem *m = &vv->vm->mem;
	uint64_t t0 = vm_now_ns();
	cpu_set_t cpus;
	int ret;

	/* The map pins every page; fault them in first on all our CPUs, instead of one
	 * page at a time on one CPU inside the ioctl. */
	ret =
	    mem_populate(m, sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus) : 1);
	if (ret < 0) {
		log_err("vfio: cannot allocate all %llu MiB of guest RAM to map it for device "
			"DMA: %s; lower [vm] memory or free host memory",
			(unsigned long long)(m->ram_size >> 20), strerror(-ret));
		return ret;
	}
	log_info("mem: guest RAM (%llu MiB) populated in %.1f ms (%d thread%s)",
		 (unsigned long long)(m->ram_size >> 20), (double)(vm_now_ns() - t0) / 1e6, ret,
		 ret == 1 ? "" : "s");
	t0 = vm_now_ns();
	for (int i = 0; i < m->nr_regions; i++) {
		ret = vv->iommu_ops->map(vv->iommu, m->regions[i].gpa, m->regions[i].size,
					 m->regions[i].hva);
		if (ret < 0)
			return ret;
		vv->nr_mapped = i + 1;
	}
	log_info("vfio: guest RAM (%llu MiB in %d region%s) mapped for device DMA in %.1f ms (%s)",
		 (unsigned long long)(m->ram_size >> 20), m->nr_regions,
		 m->nr_regions == 1 ? "" : "s", (double)(vm_now_ns() - t0) / 1e6,
		 vv->iommu_ops->name);
	return 0;
}

int vfio_devices_create(struct vm *vm)
{
	const struct config *cfg = vm->cfg;
	struct kvm_create_device cd = {.type = KVM_DEV_TYPE_VFIO};
	struct vfio_vm *vv;
	char err[1024];
	int ret;

	vm->vfio = NULL;
	if (cfg->nr_vfio == 0)
		return 0;
	vv = calloc(1, sizeof(*vv));
	if (!vv)
		return -ENOMEM;
	vv->vm = vm;
	vv->sysfs = "/sys";
	vv->dev_root = "/dev";
	vv->iommu_ops = &vfio_container_ops; /* until vfio_pick_backend: nothing to undo */
	vv->kvm_vfio_fd = -1;
	for (unsigned int i = 0; i < VFIO_MAX_DEVICES; i++)
		vv->hosts[i].device_fd = -1;

	ret = vfio_preflight(vv);
	if (ret == 0)
		ret = vfio_pick_backend(vv, false);
	if (ret < 0)
		goto err;
	for (unsigned int i = 0; i < vv->nr_hosts; i++) {
		if (!vv->hosts[i].cfg->bind_auto)
			continue;
		ret = vfio_host_bind(vv->sysfs, &vv->hosts[i], err, sizeof(err));
		if (ret < 0) {
			log_err("%s", err);
			goto err;
		}
	}
	ret = vfio_pick_backend(vv, true);
	if (ret < 0)
		goto err;
	if (ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &cd) < 0) {
		ret = -errno;
		log_err("cannot create the KVM-VFIO device: %s (this host's KVM was built "
			"without VFIO support)",
			strerror(-ret));
		goto err;
	}
	vv->kvm_vfio_fd = (int)cd.fd;
	ret = vv->iommu_ops->open(&vv->iommu, vv->dev_root);
	if (ret < 0)
		goto err;
	for (unsigned int i = 0; i < vv->nr_hosts; i++) {
		struct vfio_host *h = &vv->hosts[i];

		ret = vv->iommu_ops->attach(vv->iommu, h, vv->kvm_vfio_fd, &h->device_fd);
		if (ret < 0)
			goto err; /* the backend said why */
	}
	ret = vfio_map_ram(vv);
	if (ret < 0)
		goto err;
	for (unsigned int i = 0; i < vv->nr_hosts; i++) {
		ret = vfio_pci_create(vv, &vv->hosts[i], &vv->devs[vv->nr_devs]);
		if (ret < 0)
			goto err;
		vv->nr_devs++;
	}
	vm->vfio = vv;
	return 0;
err:
	vm->vfio = vv;
	vfio_devices_destroy(vm);
	return ret;
}

void vfio_devices_destroy(struct vm *vm)
{
	struct vfio_vm *vv = vm->vfio;
	const struct guest_mem *m;

	if (!vv)
		return;
	vm->vfio = NULL;
	/* Devices first (interrupts off, BARs unmapped, reset, fds closed); the PCI core
	 * frees their memory when it destroys them, before or after this. */
	for (unsigned int i = 0; i < vv->nr_devs; i++) {
		vfio_pci_teardown(vv->devs[i]);
		vv->devs[i]->vv = NULL;
	}
	vv->nr_devs = 0;
	for (unsigned int i = 0; i < vv->nr_hosts; i++) {
		struct vfio_host *h = &vv->hosts[i];

		if (h->device_fd >= 0)
			vv->iommu_ops->detach(vv->iommu, h, h->device_fd);
		h->device_fd = -1;
	}
	m = &vv->vm->mem;
	for (int i = 0; i < vv->nr_mapped; i++)
		vv->iommu_ops->unmap(vv->iommu, m->regions[i].gpa, m->regions[i].size);
	if (vv->iommu)
		vv->iommu_ops->close(vv->iommu);
	if (vv->kvm_vfio_fd >= 0)
		close(vv->kvm_vfio_fd);
	/* Only now, with no fd left open on them, can the devices change drivers. */
	for (unsigned int i = 0; i < vv->nr_hosts; i++)
		vfio_host_restore(vv->sysfs, &vv->hosts[i]);
	free(vv);
}

void vfio_pci_forget(struct vfio_vm *vv, struct vfio_pci *vp)
{
	for (unsigned int i = 0; i < vv->nr_devs; i++)
		if (vv->devs[i] == vp) {
			vv->devs[i] = vv->devs[--vv->nr_devs];
			return;
		}
}
