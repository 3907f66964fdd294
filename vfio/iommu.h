/* The IOMMU backend interface: how a passed-through device gets a VFIO device fd and
 * how guest RAM becomes DMA-able by it (iova = gpa).
 *
 * Two kernel APIs do this: the legacy container/group one (vfio/container.c: one
 * container per VM, every IOMMU group attached to it) and iommufd (vfio/iommufd.c:
 * /dev/iommu with one IOAS per VM, each device opened through its cdev). The rest of
 * vfio/ only sees these ops; a VM uses one backend for all its devices (mdev.c's
 * vfio_backend_pick chooses it).
 *
 * Call order, once per VM:
 *   open -> attach (each device) -> map (each guest RAM region)
 *   ... -> detach (each device) -> close.
 * attach comes before map because type1 only accepts mappings once the container has
 * a group and an IOMMU type; iommufd accepts both orders. close drops every mapping.
 * Single-threaded: only VM creation and teardown call these, but for the IOMMU's dirty
 * tracking of a device's DMA during a live migration (the dirty_* ops; NULL in a backend
 * that has none: the legacy one), whose dirty_read runs on the migration thread while no
 * device comes or goes. */
#ifndef MINIVMM_VFIO_IOMMU_H
#define MINIVMM_VFIO_IOMMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vfio_iommu; /* backend private */
struct vfio_host;
struct guest_mem;

struct vfio_iommu_ops {
	const char *name; /* "legacy", "iommufd": for messages */
	/* Opens the backend. dev_root is where the VFIO nodes live ("/dev"). Returns 0 or
	 * -errno after one message naming the node and the fix. */
	int (*open)(struct vfio_iommu **io, const char *dev_root);
	/* Makes host device h (h->addr in IOMMU group h->group, its cdev h->cdev) usable
	 * by this VM and returns its VFIO device fd in *device_fd. The backend registers
	 * the VFIO file it opens (group or device cdev) with the VM's KVM-VFIO device
	 * kvm_vfio_fd before it asks for the device fd (or binds the cdev), as KVM and
	 * some drivers require. Returns 0 or -errno after one message. */
	int (*attach)(struct vfio_iommu *io, const struct vfio_host *h, int kvm_vfio_fd,
		      int *device_fd);
	/* Closes device_fd and releases what attach took for it (the cdev, or the group
	 * once its last device is gone, removed from KVM-VFIO first). */
	void (*detach)(struct vfio_iommu *io, const struct vfio_host *h, int device_fd);
	/* Maps [iova, iova + size) to host memory hva for device DMA, read and write,
	 * pinning it. -ERANGE (after a message) if the IOMMU cannot translate that range. */
	int (*map)(struct vfio_iommu *io, uint64_t iova, uint64_t size, void *hva);
	int (*unmap)(struct vfio_iommu *io, uint64_t iova, uint64_t size);
	/* Drops every mapping and closes. Accepts NULL. */
	void (*close)(struct vfio_iommu *io);
	/* The id of the page table that can record device_fd's DMA writes (an iommufd
	 * HWPT), or 0 with the reason it has none in why. */
	uint32_t (*dirty_hwpt)(struct vfio_iommu *io, int device_fd, char *why, size_t len);
	/* Dirty tracking of device_fd's DMA on (from a clean state) or off: 0 or -errno. */
	int (*dirty_track)(struct vfio_iommu *io, int device_fd, bool on);
	/* The pages device_fd wrote since the last call (or since tracking began), ORed
	 * into bitmaps (one per RAM region of mem, a bit per 4 KiB page; iova = gpa), and
	 * forgotten. Devices sharing a page table: one of them reads it, the others add
	 * nothing. 0 or -errno. */
	int (*dirty_read)(struct vfio_iommu *io, int device_fd, const struct guest_mem *mem,
			  uint64_t **bitmaps);
};

extern const struct vfio_iommu_ops vfio_container_ops;
extern const struct vfio_iommu_ops vfio_iommufd_ops;

#endif
