/* The iommufd VFIO backend: one /dev/iommu per VM with one I/O address space (IOAS)
 * holding guest RAM at iova = gpa, and each device opened through its VFIO cdev
 * (/dev/vfio/devices/vfioN) instead of a group (see iommu.h).
 *
 * Per device the kernel wants: open the cdev, register it with the VM's KVM-VFIO
 * device (KVM_DEV_VFIO_FILE_ADD, which older headers call GROUP_ADD: same value) and
 * only then VFIO_DEVICE_BIND_IOMMUFD, because binding is what opens the device and
 * drivers that need the kvm pointer (vGPUs, s390) take it there; then
 * VFIO_DEVICE_ATTACH_IOMMUFD_PT, to a dirty-tracking hardware page table of the IOAS
 * where the device's IOMMU can record dirty bits, else to the IOAS itself (the kernel's
 * automatic domain; iommufd_hwpt.h). IOMMU group ownership is still enforced,
 * at bind: a device whose group has a member on a host driver gets EBUSY. Closing the
 * cdev unbinds and detaches; it leaves KVM-VFIO just before, and its HWPT goes after,
 * with its last device.
 *
 * Mediated devices bind as "emulated" devices (no IOMMU domain; their vendor driver
 * pins what it needs through the IOAS), so the same calls serve both; they attach to the
 * IOAS only, an emulated device having no page table that could record dirty bits.
 *
 * As with the container, we read the IOAS's valid IOVA ranges (the attached devices'
 * apertures minus their reserved regions, e.g. the MSI window at 0xfee00000 on x86)
 * before the first mapping and refuse RAM outside them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vfio/internal.h"
#include "vfio/iommu.h"
#include "vfio/iommufd_hwpt.h"
#include "vfio/uapi_compat.h"
#include "vmm/log.h"

#define IOMMUFD_MAX_RANGES 16

struct iommufd_dev {
	int fd;	    /* the cdev, which is also the VFIO device fd */
	int kvm_fd; /* the KVM-VFIO device it is registered with, -1: not registered */
	int hwpt;   /* its dirty-tracking HWPT's slot in pt, -1: on the IOAS, untracked */
	bool tracking, reader; /* wants the HWPT's dirty bits; and reads them (first) */
	char untracked[200];   /* hwpt -1: why */
};

struct vfio_iommu {
	struct iommufd_hwpts pt; /* /dev/iommu, the IOAS and its dirty-tracking HWPTs */
	char dev_root[64];
	struct iommufd_dev devs[VFIO_MAX_DEVICES];
	int nr_devs;
	bool ranges_read;
	struct vfio_iova_range ranges[IOMMUFD_MAX_RANGES];
	int nr_ranges; /* 0: unknown, not checked */
};

static int iommufd_open(struct vfio_iommu **out, const char *dev_root)
{
	struct iommu_ioas_alloc alloc = {.size = sizeof(alloc)};
	struct vfio_iommu *io;
	char path[96];
	int ret;

	io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	snprintf(io->dev_root, sizeof(io->dev_root), "%s", dev_root);
	snprintf(path, sizeof(path), "%s/iommu", dev_root);
	io->pt.fd = open(path, O_RDWR | O_CLOEXEC);
	if (io->pt.fd < 0) {
		ret = -errno;
		log_err("cannot open %s: %s; %s", path, strerror(-ret),
			ret == -ENOENT ? "this host's kernel has no iommufd (CONFIG_IOMMUFD); use "
					 "[vfio] backend = legacy"
				       : "run minivmm as root");
		goto err;
	}
	if (ioctl(io->pt.fd, IOMMU_IOAS_ALLOC, &alloc) < 0) {
		ret = -errno;
		log_err("IOMMU_IOAS_ALLOC on %s failed: %s; use [vfio] backend = legacy", path,
			strerror(-ret));
		goto err_close;
	}
	io->pt.ioas = alloc.out_ioas_id;
	*out = io;
	return 0;
err_close:
	close(io->pt.fd);
err:
	free(io);
	return ret;
}

/* VFIO_DEVICE_ATTACH_IOMMUFD_PT of the cdev *ctx to pt_id (iommufd_attach_fn). */
static int cdev_attach(void *ctx, uint32_t pt_id)
{
	struct vfio_device_attach_iommufd_pt at = {.argsz = sizeof(at), .pt_id = pt_id};

	return ioctl(*(const int *)ctx, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) < 0 ? -errno : 0;
}

/* Opens h's cdev, registers it with KVM, binds it to the iommufd and attaches it to a
 * dirty-tracking HWPT or the IOAS; on failure undoes what it did and returns -errno
 * after one message. */
static int iommufd_attach(struct vfio_iommu *io, const struct vfio_host *h, int kvm_vfio_fd,
			  int *device_fd)
{
	struct vfio_device_bind_iommufd bind = {.argsz = sizeof(bind), .iommufd = io->pt.fd};
	struct iommufd_dev *d;
	char path[128];
	int ret;

	if (io->nr_devs == VFIO_MAX_DEVICES) {
		log_err("cannot attach %s: a VM takes at most %d VFIO devices", h->addr,
			VFIO_MAX_DEVICES);
		return -ENOSPC;
	}
	d = &io->devs[io->nr_devs];
	*d = (struct iommufd_dev){.kvm_fd = -1, .hwpt = -1};
	snprintf(path, sizeof(path), "%s/vfio/devices/%s", io->dev_root, h->cdev);
	d->fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0) {
		ret = -errno;
		log_err("cannot open %s (the VFIO cdev of %s): %s; %s", path, h->addr,
			strerror(-ret),
			ret == -ENOENT ? "is devtmpfs mounted on /dev? (or use [vfio] backend = "
					 "legacy)"
				       : "run minivmm as root, or give yourself the node");
		return ret;
	}
	if (kvm_vfio_fd >= 0) {
		ret = vfio_kvm_file(kvm_vfio_fd, d->fd, true);
		if (ret < 0) {
			log_err(
			    "cannot register %s (%s) with the KVM-VFIO device: %s (KVM older "
			    "than Linux 6.6 takes no device cdevs; use [vfio] backend = legacy)",
			    path, h->addr, strerror(-ret));
			goto err_close;
		}
		d->kvm_fd = kvm_vfio_fd;
	}
	if (ioctl(d->fd, VFIO_DEVICE_BIND_IOMMUFD, &bind) < 0) {
		ret = -errno;
		log_err("cannot bind %s (%s) to /dev/iommu: %s%s", path, h->addr, strerror(-ret),
			ret == -EBUSY	? " (another process has it or a device of its IOMMU "
					  "group open, or a device of its group is on a host "
					  "driver)"
			: ret == -EPERM ? " (the host has no interrupt remapping: boot it with "
					  "intremap=on, or use [vfio] backend = legacy)"
					: "");
		goto err_kvm;
	}
	/* out_devid of an emulated (mdev) device names an access object, not a device. */
	if (h->mdev) {
		snprintf(d->untracked, sizeof(d->untracked),
			 "a mediated device has no IOMMU page table (its parent driver reaches "
			 "guest RAM itself)");
		ret = cdev_attach(&d->fd, io->pt.ioas);
	} else {
		ret = iommufd_hwpt_attach(&io->pt, bind.out_devid, cdev_attach, &d->fd, &d->hwpt,
					  d->untracked, sizeof(d->untracked));
	}
	if (ret < 0) {
		log_err("cannot attach %s (%s) to the VM's IOAS %u: %s", path, h->addr, io->pt.ioas,
			strerror(-ret));
		goto err_kvm; /* closing the cdev unbinds it */
	}
	io->nr_devs++;
	*device_fd = d->fd;
	return 0;
err_kvm:
	if (d->kvm_fd >= 0)
		vfio_kvm_file(d->kvm_fd, d->fd, false);
err_close:
	close(d->fd);
	return ret;
}

static void iommufd_dev_put(struct vfio_iommu *io, struct iommufd_dev *d)
{
	int ret;

	if (d->tracking)
		iommufd_hwpt_track(&io->pt, d->hwpt, false, NULL);
	if (d->kvm_fd >= 0)
		vfio_kvm_file(d->kvm_fd, d->fd, false);
	close(d->fd); /* detaches from the HWPT or IOAS and unbinds */
	/* After the detach: the kernel keeps a HWPT that a device still uses. */
	if (d->hwpt >= 0 && (ret = iommufd_hwpt_put(&io->pt, d->hwpt)) < 0)
		log_warn("cannot destroy the IOMMU page table (HWPT %u) of a removed device: %s; "
			 "it is kept for the next device",
			 io->pt.pt[d->hwpt].id, strerror(-ret));
	*d = io->devs[--io->nr_devs];
}

static struct iommufd_dev *dev_of(struct vfio_iommu *io, int device_fd)
{
	for (int i = 0; i < io->nr_devs; i++)
		if (io->devs[i].fd == device_fd)
			return &io->devs[i];
	return NULL;
}

static void iommufd_detach(struct vfio_iommu *io, const struct vfio_host *h, int device_fd)
{
	struct iommufd_dev *d = dev_of(io, device_fd);

	(void)h;
	if (d)
		iommufd_dev_put(io, d);
	else if (device_fd >= 0)
		close(device_fd);
}

static uint32_t iommufd_dirty_hwpt(struct vfio_iommu *io, int device_fd, char *why, size_t len)
{
	const struct iommufd_dev *d = dev_of(io, device_fd);

	if (d && d->hwpt >= 0)
		return io->pt.pt[d->hwpt].id;
	snprintf(why, len, "%s", d ? d->untracked : "not attached");
	return 0;
}

static int iommufd_dirty_track(struct vfio_iommu *io, int device_fd, bool on)
{
	struct iommufd_dev *d = dev_of(io, device_fd);
	int ret;

	if (!d || d->hwpt < 0)
		return -EOPNOTSUPP;
	if (d->tracking == on)
		return 0;
	ret = iommufd_hwpt_track(&io->pt, d->hwpt, on, &d->reader);
	if (ret == 0 || !on)
		d->tracking = on;
	return ret;
}

/* Only the device that turned a shared HWPT's tracking on reads it: one page-table walk
 * per HWPT and round, whatever the number of devices on it. */
static int iommufd_dirty_read(struct vfio_iommu *io, int device_fd, const struct guest_mem *mem,
			      uint64_t **bitmaps)
{
	const struct iommufd_dev *d = dev_of(io, device_fd);

	if (!d || !d->tracking || !d->reader)
		return 0;
	return iommufd_hwpt_read(&io->pt, d->hwpt, mem, bitmaps);
}

/* Reads the IOAS's valid IOVA ranges, once the devices are attached. */
static int iommufd_read_ranges(struct vfio_iommu *io)
{
	struct iommu_iova_range r[IOMMUFD_MAX_RANGES];
	struct iommu_ioas_iova_ranges q = {
	    .size = sizeof(q),
	    .ioas_id = io->pt.ioas,
	    .num_iovas = IOMMUFD_MAX_RANGES,
	    .allowed_iovas = (uintptr_t)r,
	};

	/* More ranges than we keep (EMSGSIZE) would be odd; then we do not check. */
	if (ioctl(io->pt.fd, IOMMU_IOAS_IOVA_RANGES, &q) < 0)
		return -errno;
	for (uint32_t i = 0; i < q.num_iovas && i < IOMMUFD_MAX_RANGES; i++)
		io->ranges[i] = (struct vfio_iova_range){.start = r[i].start, .end = r[i].last};
	io->nr_ranges = q.num_iovas < IOMMUFD_MAX_RANGES ? (int)q.num_iovas : IOMMUFD_MAX_RANGES;
	return 0;
}

static int iommufd_map(struct vfio_iommu *io, uint64_t iova, uint64_t size, void *hva)
{
	struct iommu_ioas_map map = {
	    .size = sizeof(map),
	    .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
	    .ioas_id = io->pt.ioas,
	    .user_va = (uintptr_t)hva,
	    .length = size,
	    .iova = iova,
	};
	int ret;

	if (!io->ranges_read) {
		io->ranges_read = true;
		ret = iommufd_read_ranges(io);
		if (ret < 0)
			log_warn("cannot read the IOAS's IOVA ranges (%s); not checking them",
				 strerror(-ret));
	}
	ret = vfio_map_check(io->ranges, io->nr_ranges, iova, size);
	if (ret < 0)
		return ret;
	if (ioctl(io->pt.fd, IOMMU_IOAS_MAP, &map) < 0) {
		ret = -errno;
		vfio_map_failed("IOMMU_IOAS_MAP", iova, size, ret);
		return ret;
	}
	return 0;
}

static int iommufd_unmap(struct vfio_iommu *io, uint64_t iova, uint64_t size)
{
	struct iommu_ioas_unmap unmap = {
	    .size = sizeof(unmap),
	    .ioas_id = io->pt.ioas,
	    .iova = iova,
	    .length = size,
	};

	return ioctl(io->pt.fd, IOMMU_IOAS_UNMAP, &unmap) < 0 ? -errno : 0;
}

static void iommufd_close(struct vfio_iommu *io)
{
	if (!io)
		return;
	/* Normally every device was detached already. */
	while (io->nr_devs > 0)
		iommufd_dev_put(io, &io->devs[0]);
	close(io->pt.fd); /* destroys the IOAS: unmaps and unpins everything */
	free(io);
}

const struct vfio_iommu_ops vfio_iommufd_ops = {
    .name = "iommufd",
    .open = iommufd_open,
    .attach = iommufd_attach,
    .detach = iommufd_detach,
    .map = iommufd_map,
    .unmap = iommufd_unmap,
    .close = iommufd_close,
    .dirty_hwpt = iommufd_dirty_hwpt,
    .dirty_track = iommufd_dirty_track,
    .dirty_read = iommufd_dirty_read,
};
