/* The iommufd hardware page tables (HWPT) of a VM's IOAS that record which pages device
 * DMA wrote: IOMMU dirty tracking (Linux 6.7+), for the live migration of devices whose
 * driver cannot log its own DMA (VFIO_DEVICE_FEATURE_DMA_LOGGING).
 *
 * A device attached straight to the IOAS gets the kernel's automatic domain, which never
 * tracks. So iommufd.c attaches through iommufd_hwpt_attach: the device joins a
 * dirty-tracking HWPT of the IOAS made for an earlier device (one domain shared by the
 * devices that can share it, as the automatic one would be), else gets a new one
 * (IOMMU_HWPT_ALLOC with IOMMU_HWPT_ALLOC_DIRTY_TRACKING), else, where its IOMMU records
 * no dirty bits (VT-d without SSADS, AMD without HD, SMMUv3 without HTTU, every emulated
 * IOMMU of QEMU 7.2), the IOAS as before: untracked, and the reason is kept.
 *
 * Everything here takes the iommufd fd, the IOAS and the device's iommufd id, never a
 * VFIO device, and the attach itself is the caller's (VFIO_DEVICE_ATTACH_IOMMUFD_PT on a
 * VFIO cdev): the unit test drives this on the kernel's mock IOMMU, whose devices are not
 * VFIO devices.
 *
 * Threads: attach, put and track run on the main thread; read on the migration thread,
 * while no device comes or goes (the API refuses add-device and remove-device while a
 * migration runs, and the VM's teardown waits for the migration to end first). */
#ifndef MINIVMM_VFIO_IOMMUFD_HWPT_H
#define MINIVMM_VFIO_IOMMUFD_HWPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/config.h"

struct guest_mem;

#define IOMMUFD_MAX_HWPTS CONFIG_MAX_VFIO /* never more than one per device */

struct iommufd_hwpt {
	uint32_t id;  /* 0: a free slot */
	int users;    /* devices attached to it */
	int tracking; /* users that want its dirty bits: tracking is on while > 0 */
};

struct iommufd_hwpts {
	int fd;	       /* /dev/iommu */
	uint32_t ioas; /* whose mappings every HWPT mirrors */
	struct iommufd_hwpt pt[IOMMUFD_MAX_HWPTS];
};

/* Attaches the caller's device to the IOAS or HWPT pt_id: 0 or -errno (EINVAL: its
 * IOMMU cannot use that page table). A failed attach leaves the device where it was. */
typedef int (*iommufd_attach_fn)(void *ctx, uint32_t pt_id);

/* Attaches device dev_id (through attach(ctx, ...)) to a dirty-tracking HWPT of s, an
 * existing one it can share first; *slot is its index in s->pt. Where no HWPT can take
 * it, attaches it to the IOAS: *slot -1 and why says why its DMA is not tracked. Returns
 * 0, or the -errno of that last attach (then nothing is left: no HWPT, no attach). */
int iommufd_hwpt_attach(struct iommufd_hwpts *s, uint32_t dev_id, iommufd_attach_fn attach,
			void *ctx, int *slot, char *why, size_t whylen);
/* After the device of slot was detached (its VFIO cdev closed): the HWPT loses a user
 * and is destroyed (IOMMU_DESTROY) with its last. slot -1: nothing to do. Returns 0, or
 * the -errno of a destroy the kernel refused (the HWPT stays in s, unused). */
int iommufd_hwpt_put(struct iommufd_hwpts *s, int slot);
/* A user of slot wants its dirty bits (on) or no longer does. The HWPT's tracking is
 * turned on (IOMMU_HWPT_SET_DIRTY_TRACKING, which clears its dirty bits) by the first
 * user that wants it, and off when the last stops; *reader (on; may be NULL) says this
 * call turned it on, so that this user alone reads a HWPT several devices share.
 * Returns 0 or -errno (on: then nothing changed). */
int iommufd_hwpt_track(struct iommufd_hwpts *s, int slot, bool on, bool *reader);
/* Reads and clears the dirty bits of slot's HWPT over each RAM region of mem (iova =
 * gpa), ORing them into bitmaps (one per region, a bit per 4 KiB page). 0 or -errno. */
int iommufd_hwpt_read(const struct iommufd_hwpts *s, int slot, const struct guest_mem *mem,
		      uint64_t **bitmaps);

#endif
