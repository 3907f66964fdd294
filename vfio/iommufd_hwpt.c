/* iommufd dirty-tracking hardware page tables (see iommufd_hwpt.h). */
#include "vfio/iommufd_hwpt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vfio/uapi_compat.h"
#include "vmm/mem.h"

#define DIRTY_PAGE 4096u /* the migration's page: a bit of its bitmaps */

static int hwpt_destroy(int fd, uint32_t id)
{
	struct iommu_destroy d = {.size = sizeof(d), .id = id};

	return ioctl(fd, IOMMU_DESTROY, &d) < 0 ? -errno : 0;
}

/* Why IOMMU_HWPT_ALLOC with dirty tracking failed with ret, for the log and info. */
static void alloc_refused(int ret, char *why, size_t whylen)
{
	if (ret == -EOPNOTSUPP)
		snprintf(why, whylen,
			 "its IOMMU records no dirty bits (IOMMU_HWPT_ALLOC with dirty tracking: "
			 "%s; Linux 6.7+ and VT-d SSADS, AMD HD or SMMUv3 HTTU needed)",
			 strerror(-ret));
	else if (ret == -ENOTTY)
		snprintf(why, whylen, "this kernel has no IOMMU_HWPT_ALLOC (Linux 6.7+ needed)");
	else
		snprintf(why, whylen, "IOMMU_HWPT_ALLOC with dirty tracking: %s", strerror(-ret));
}

int iommufd_hwpt_attach(struct iommufd_hwpts *s, uint32_t dev_id, iommufd_attach_fn attach,
			void *ctx, int *slot, char *why, size_t whylen)
{
	struct iommu_hwpt_alloc a = {
	    .size = sizeof(a),
	    .flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
	    .dev_id = dev_id,
	    .pt_id = s->ioas,
	};
	int free_slot = -1, ret;

	*slot = -1;
	/* A HWPT made for an earlier device first: one domain for all the devices that
	 * can share it, as the kernel's automatic attach would do. A refusal (EINVAL: this
	 * device's IOMMU cannot use that domain) leaves the device unattached; next. */
	for (int i = 0; i < IOMMUFD_MAX_HWPTS; i++) {
		if (!s->pt[i].id) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (attach(ctx, s->pt[i].id) == 0) {
			s->pt[i].users++;
			*slot = i;
			return 0;
		}
	}
	if (free_slot < 0) {
		snprintf(why, whylen, "no room for another dirty-tracking page table");
		return attach(ctx, s->ioas);
	}
	if (ioctl(s->fd, IOMMU_HWPT_ALLOC, &a) < 0) {
		alloc_refused(-errno, why, whylen);
		return attach(ctx, s->ioas);
	}
	ret = attach(ctx, a.out_hwpt_id);
	if (ret == 0) {
		s->pt[free_slot] = (struct iommufd_hwpt){.id = a.out_hwpt_id, .users = 1};
		*slot = free_slot;
		return 0;
	}
	/* Made for this very device, so unexpected; the IOAS's automatic domain may do. */
	hwpt_destroy(s->fd, a.out_hwpt_id);
	snprintf(why, whylen, "the device did not attach to its dirty-tracking page table: %s",
		 strerror(-ret));
	return attach(ctx, s->ioas);
}

int iommufd_hwpt_put(struct iommufd_hwpts *s, int slot)
{
	struct iommufd_hwpt *p;
	int ret;

	if (slot < 0 || slot >= IOMMUFD_MAX_HWPTS || !s->pt[slot].id)
		return 0;
	p = &s->pt[slot];
	if (--p->users > 0)
		return 0;
	/* Its last device is gone: nothing holds the domain any more, and a VM that adds and
	 * removes devices must not pile up domains (each mirrors all of guest RAM). Should
	 * the kernel still see a user (EBUSY), the slot keeps it for the next device to
	 * join, or the next put to destroy. */
	ret = hwpt_destroy(s->fd, p->id);
	if (ret == 0)
		*p = (struct iommufd_hwpt){0};
	return ret;
}

static int set_tracking(const struct iommufd_hwpts *s, uint32_t id, bool on)
{
	struct iommu_hwpt_set_dirty_tracking t = {
	    .size = sizeof(t),
	    .flags = on ? IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0,
	    .hwpt_id = id,
	};

	return ioctl(s->fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &t) < 0 ? -errno : 0;
}

int iommufd_hwpt_track(struct iommufd_hwpts *s, int slot, bool on, bool *reader)
{
	struct iommufd_hwpt *p;
	int ret = 0;

	if (reader)
		*reader = false;
	if (slot < 0 || slot >= IOMMUFD_MAX_HWPTS || !s->pt[slot].id)
		return -EINVAL;
	p = &s->pt[slot];
	if (on) {
		if (p->tracking == 0)
			ret = set_tracking(s, p->id, true);
		if (ret < 0)
			return ret;
		if (reader)
			*reader = p->tracking == 0;
		p->tracking++;
		return 0;
	}
	if (p->tracking == 0)
		return 0;
	if (--p->tracking == 0)
		ret = set_tracking(s, p->id, false);
	return ret;
}

int iommufd_hwpt_read(const struct iommufd_hwpts *s, int slot, const struct guest_mem *mem,
		      uint64_t **bitmaps)
{
	int ret = 0;

	if (slot < 0 || slot >= IOMMUFD_MAX_HWPTS || !s->pt[slot].id)
		return -EINVAL;
	for (int r = 0; r < mem->nr_regions && ret == 0; r++) {
		uint64_t words = mem->regions[r].size / DIRTY_PAGE / 64 + 1;
		/* The kernel sets bits and leaves the others as they are, but the UAPI does
		 * not promise it: a zeroed bitmap of our own, ORed in. */
		uint64_t *bm = calloc(words, 8);
		struct iommu_hwpt_get_dirty_bitmap g = {
		    .size = sizeof(g),
		    .hwpt_id = s->pt[slot].id,
		    .iova = mem->regions[r].gpa,
		    .length = mem->regions[r].size,
		    .page_size = DIRTY_PAGE,
		    .data = (uintptr_t)bm,
		};

		if (!bm)
			return -ENOMEM;
		if (ioctl(s->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &g) < 0)
			ret = -errno;
		for (uint64_t w = 0; ret == 0 && w < words; w++)
			bitmaps[r][w] |= bm[w];
		free(bm);
	}
	return ret;
}
