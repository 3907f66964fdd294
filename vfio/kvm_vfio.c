/* The VM's KVM-VFIO device (KVM_DEV_TYPE_VFIO): KVM has to know every VFIO group or
 * device cdev the VM uses (for coherent DMA, and for drivers such as vGPUs that take
 * the KVM pointer when the device is opened).
 *
 * Its own file because both sides use it: vfio.c creates the device, and each backend
 * (container.c, iommufd.c) registers the group or cdev it opens at the point in its
 * sequence the kernel requires. Kept out of vfio.c, the backends depend on it without
 * depending on the code that chooses them (tests/include-cycles.sh). */
#include <errno.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vfio/internal.h"
#include "vmm/log.h"

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

int vfio_kvm_create(int vm_fd)
{
	struct kvm_create_device cd = {.type = KVM_DEV_TYPE_VFIO};
	int ret;

	if (ioctl(vm_fd, KVM_CREATE_DEVICE, &cd) < 0) {
		ret = -errno;
		log_err("cannot create the KVM-VFIO device: %s (this host's KVM was built "
			"without VFIO support)",
			strerror(-ret));
		return ret;
	}
	return (int)cd.fd;
}

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
