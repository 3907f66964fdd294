/* The few iommufd and VFIO-cdev UAPI definitions that older installed kernel headers lack.
 *
 * minivmm builds against the system's <linux/...> headers. Debian 12 ships Linux 6.1's,
 * which have no <linux/iommufd.h> (added in 6.2) and no VFIO device cdev ioctls
 * (VFIO_DEVICE_BIND_IOMMUFD and VFIO_DEVICE_ATTACH_IOMMUFD_PT, added in 6.6), while
 * the kernels we run on have both. Each block below is used only when the system
 * header does not define it (#ifndef on the ioctl), so newer headers always win.
 *
 * These are written from the documented, stable kernel ABI (the iommufd and "VFIO
 * device cdev" sections of Documentation/driver-api/vfio.rst and
 * Documentation/userspace-api/iommufd.rst: each call takes a structure that starts
 * with its own size, then flags and object ids, 64-bit fields aligned), not copied
 * from the headers; the static assertions pin the sizes the kernel checks. Only what
 * vfio/iommufd.c, vfio/iommufd_hwpt.c and vfio/pci_mig.c use is here. */
#ifndef MINIVMM_VFIO_UAPI_COMPAT_H
#define MINIVMM_VFIO_UAPI_COMPAT_H

#include <linux/ioctl.h>
#include <stddef.h>
#include <linux/types.h>
#include <linux/vfio.h>

#if defined(__has_include)
#if __has_include(<linux/iommufd.h>)
#include <linux/iommufd.h>
#endif
#endif

/* ---- /dev/iommu: ioctl type ';', commands numbered from 0x80 ---- */

#ifndef IOMMU_IOAS_ALLOC
/* Creates an I/O address space (IOAS); its id comes back in out_ioas_id. */
struct iommu_ioas_alloc {
	__u32 size; /* sizeof(struct iommu_ioas_alloc) */
	__u32 flags;
	__u32 out_ioas_id;
};
#define IOMMU_IOAS_ALLOC _IO(';', 0x81)
#endif

#ifndef IOMMU_IOAS_IOVA_RANGES
/* An inclusive range of IOVAs. */
struct iommu_iova_range {
	__aligned_u64 start;
	__aligned_u64 last;
};
/* The IOVA ranges an IOAS can map now (the IOMMU apertures of its attached devices
 * minus their reserved regions): up to num_iovas entries are written at
 * allowed_iovas; num_iovas comes back as the true count (EMSGSIZE when it did not
 * fit). */
struct iommu_ioas_iova_ranges {
	__u32 size;
	__u32 ioas_id;
	__u32 num_iovas;
	__u32 __reserved;
	__aligned_u64 allowed_iovas; /* user pointer to struct iommu_iova_range[] */
	__aligned_u64 out_iova_alignment;
};
#define IOMMU_IOAS_IOVA_RANGES _IO(';', 0x84)
#endif

#ifndef IOMMU_IOAS_MAP
/* Maps [user_va, user_va + length) of this process at iova for DMA (pinning it when a
 * real IOMMU domain is attached). */
enum iommufd_ioas_map_flags {
	IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0, /* at iova exactly, not where the kernel likes */
	IOMMU_IOAS_MAP_WRITEABLE = 1 << 1,
	IOMMU_IOAS_MAP_READABLE = 1 << 2,
};
struct iommu_ioas_map {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__u32 __reserved;
	__aligned_u64 user_va;
	__aligned_u64 length;
	__aligned_u64 iova;
};
#define IOMMU_IOAS_MAP _IO(';', 0x85)
#endif

#ifndef IOMMU_IOAS_UNMAP
struct iommu_ioas_unmap {
	__u32 size;
	__u32 ioas_id;
	__aligned_u64 iova;
	__aligned_u64 length; /* in: bytes to unmap; out: bytes unmapped */
};
#define IOMMU_IOAS_UNMAP _IO(';', 0x86)
#endif

#ifndef IOMMU_DESTROY
/* Destroys an object by id (here: a hardware page table whose last device left). */
struct iommu_destroy {
	__u32 size;
	__u32 id;
};
#define IOMMU_DESTROY _IO(';', 0x80)
#endif

/* ---- iommufd hardware page tables (HWPT) and their dirty tracking: Linux 6.6 and 6.7 ---- */

#ifndef IOMMU_HWPT_ALLOC
/* Allocates an IOMMU domain (a "hardware page table") for device dev_id holding the
 * mappings of the IOAS pt_id, which the device can then be attached to instead of the
 * IOAS (whose automatic domain the kernel would pick otherwise). This is Linux 6.12's
 * layout: fault_id came with 6.11 and older kernels take the shorter structure, or a
 * longer one whose extra bytes are zero, so sending 48 bytes works from 6.7 on. */
struct iommu_hwpt_alloc {
	__u32 size;
	__u32 flags; /* IOMMU_HWPT_ALLOC_* */
	__u32 dev_id;
	__u32 pt_id;
	__u32 out_hwpt_id;
	__u32 __reserved;
	__u32 data_type; /* 0: IOMMU_HWPT_DATA_NONE, a kernel-managed page table */
	__u32 data_len;
	__aligned_u64 data_uptr;
	__u32 fault_id;
	__u32 __reserved2;
};
#define IOMMU_HWPT_ALLOC _IO(';', 0x89)
#endif

#ifndef IOMMU_HWPT_SET_DIRTY_TRACKING
/* A HWPT allocated with this flag takes only devices whose IOMMU can record dirty bits
 * in its page table entries (the allocation fails with EOPNOTSUPP otherwise, and a
 * device that cannot is refused at attach with EINVAL). */
#define IOMMU_HWPT_ALLOC_DIRTY_TRACKING (1 << 1)
/* Turns the recording on (flags = ENABLE; the dirty bits are cleared first) or off. */
#define IOMMU_HWPT_DIRTY_TRACKING_ENABLE 1
struct iommu_hwpt_set_dirty_tracking {
	__u32 size;
	__u32 flags;
	__u32 hwpt_id;
	__u32 __reserved;
};
#define IOMMU_HWPT_SET_DIRTY_TRACKING _IO(';', 0x8b)
/* Sets a bit in data for each page_size page of [iova, iova + length) written by DMA
 * since the last call, bit 0 being the page at iova, and clears the page table's dirty
 * bits (unless flags has NO_CLEAR). iova and length are page_size aligned. */
struct iommu_hwpt_get_dirty_bitmap {
	__u32 size;
	__u32 hwpt_id;
	__u32 flags;
	__u32 __reserved;
	__aligned_u64 iova;
	__aligned_u64 length;
	__aligned_u64 page_size;
	__aligned_u64 data; /* user pointer to the bitmap, 64-bit words */
};
#define IOMMU_HWPT_GET_DIRTY_BITMAP _IO(';', 0x8c)
#endif

/* ---- VFIO device cdev (/dev/vfio/devices/vfioN): ioctl type ';', VFIO_BASE + n ---- */

#ifndef VFIO_DEVICE_BIND_IOMMUFD
/* Binds the opened cdev to an iommufd; this is what gives access to the device (and
 * where the kvm pointer registered through KVM-VFIO is taken). */
struct vfio_device_bind_iommufd {
	__u32 argsz;
	__u32 flags;
	__s32 iommufd;
	__u32 out_devid;
};
#define VFIO_DEVICE_BIND_IOMMUFD _IO(VFIO_TYPE, VFIO_BASE + 18)
#endif

#ifndef VFIO_DEVICE_ATTACH_IOMMUFD_PT
/* Attaches the bound device to an IOAS (or hardware page table) by id. */
struct vfio_device_attach_iommufd_pt {
	__u32 argsz;
	__u32 flags;
	__u32 pt_id;
};
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 19)
#endif

/* ---- VFIO migration v2 additions of Linux 6.2: the PRE_COPY states ---- */

#ifndef VFIO_MIG_GET_PRECOPY_INFO
/* PRE_COPY (RUNNING while the initial device data is read early) and PRE_COPY_P2P
 * extend enum vfio_device_mig_state, whose first six values (STOP ... RUNNING_P2P)
 * 6.1 already has; a device offering them sets VFIO_MIGRATION_PRE_COPY. */
#define VFIO_MIGRATION_PRE_COPY	       (1 << 2)
#define VFIO_DEVICE_STATE_PRE_COPY     6
#define VFIO_DEVICE_STATE_PRE_COPY_P2P 7
/* On a PRE_COPY data fd: how many bytes can be read now (initial and dirty). */
struct vfio_precopy_info {
	__u32 argsz;
	__u32 flags;
	__aligned_u64 initial_bytes;
	__aligned_u64 dirty_bytes;
};
#define VFIO_MIG_GET_PRECOPY_INFO _IO(VFIO_TYPE, VFIO_BASE + 21)
#endif

_Static_assert(sizeof(struct vfio_precopy_info) == 24, "VFIO migration ABI");
_Static_assert(VFIO_DEVICE_STATE_RUNNING_P2P == 5, "VFIO migration ABI: PRE_COPY follows");
_Static_assert(sizeof(struct vfio_device_feature_mig_state) == 8, "VFIO migration ABI");
_Static_assert(sizeof(struct vfio_device_feature_dma_logging_report) == 32, "VFIO ABI");
_Static_assert(sizeof(struct iommu_ioas_alloc) == 12, "iommufd ABI");
_Static_assert(sizeof(struct iommu_iova_range) == 16, "iommufd ABI");
_Static_assert(sizeof(struct iommu_ioas_iova_ranges) == 32, "iommufd ABI");
_Static_assert(sizeof(struct iommu_ioas_map) == 40, "iommufd ABI");
_Static_assert(sizeof(struct iommu_ioas_unmap) == 24, "iommufd ABI");
_Static_assert(sizeof(struct iommu_destroy) == 8, "iommufd ABI");
/* Its size grew (6.7: data_*, 6.11: fault_id); the fields used are where they were. */
_Static_assert(offsetof(struct iommu_hwpt_alloc, out_hwpt_id) == 16, "iommufd ABI");
_Static_assert(sizeof(struct iommu_hwpt_set_dirty_tracking) == 16, "iommufd ABI");
_Static_assert(sizeof(struct iommu_hwpt_get_dirty_bitmap) == 48, "iommufd ABI");
_Static_assert(offsetof(struct iommu_hwpt_get_dirty_bitmap, data) == 40, "iommufd ABI");
_Static_assert(IOMMU_HWPT_ALLOC_DIRTY_TRACKING == 2, "iommufd ABI");
_Static_assert(sizeof(struct vfio_device_bind_iommufd) == 16, "VFIO cdev ABI");
_Static_assert(sizeof(struct vfio_device_attach_iommufd_pt) == 12, "VFIO cdev ABI");

#endif
