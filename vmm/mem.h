/* Guest physical memory.
 *
 * Guest RAM is one memfd mapped into the VMM as one or more regions (x86: below the
 * PCI hole under 4 GiB, and the rest above 4 GiB). Every guest-supplied address and
 * length goes through mem_gpa_to_hva() before the VMM touches it; nothing else in the
 * VMM does arithmetic on guest addresses to reach host memory. */
#ifndef MINIVMM_MEM_H
#define MINIVMM_MEM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t gpa_t; /* guest physical address */

#define MEM_MAX_REGIONS 4

struct mem_region {
	gpa_t gpa;     /* first guest physical address */
	uint64_t size; /* bytes, page aligned */
	uint8_t *hva;  /* where the VMM sees it */
};

struct guest_mem {
	struct mem_region regions[MEM_MAX_REGIONS];
	int nr_regions;
	uint64_t ram_size; /* sum of region sizes */
	int memfd;	   /* -1 for anonymous test memory */
	/* Pages the VMM itself wrote (virtio buffers and used rings) while a migration
	 * tracks them: one bit per page of each region, set by device threads after they
	 * write, taken by the migration thread. NULL while nothing tracks. */
	atomic_bool dirty_on;
	_Atomic uint64_t *dirty[MEM_MAX_REGIONS];
};

/* Allocates ram_size bytes of guest RAM laid out as the n ranges in gpas/sizes (whose
 * sizes must add up to ram_size) and maps them. use_memfd = MEM_ANON gives private
 * anonymous memory, advised to use transparent huge pages (not shareable with other
 * processes); MEM_MEMFD a memfd that vhost-user back ends can map.
 * use_memfd = MEM_HUGETLB (which implies a memfd) backs it with 2 MiB hugetlbfs pages
 * (MFD_HUGETLB | MFD_HUGE_2MB, every region a multiple of 2 MiB; the pages are taken
 * from vm.nr_hugepages at start, so a shortfall fails here with -ENOMEM, not later).
 * Returns 0 or -errno; on failure nothing is left allocated. */
#define MEM_ANON    0
#define MEM_MEMFD   1
#define MEM_HUGETLB 3
int mem_init(struct guest_mem *m, const gpa_t *gpas, const uint64_t *sizes, int n, int use_memfd);
void mem_destroy(struct guest_mem *m);

/* Faults in every page of guest RAM now, split over up to max_threads threads (the
 * calling one included). VFIO pins all of guest RAM anyway; allocating and zeroing it
 * inside VFIO_IOMMU_MAP_DMA does that on one CPU, here it runs on all of them, and the
 * map that follows only pins. Contents are kept. Returns the number of threads used
 * (>= 1) or -errno. */
int mem_populate(const struct guest_mem *m, int max_threads);

/* The one checked translation: the host address of [gpa, gpa + len) if that whole range
 * lies inside a single RAM region, else NULL. Overflow-safe for any gpa and len; len 0
 * is treated as 1. */
void *mem_gpa_to_hva(const struct guest_mem *m, gpa_t gpa, uint64_t len);

/* The host address of [off, off + len) of guest RAM counted as the regions back to
 * back (the memfd's offsets, and those of snapshots and the migration stream), if the
 * range lies inside one region; else NULL. Overflow-safe; the checked translation for
 * offsets that come from a snapshot or a migration stream. */
void *mem_off_to_hva(const struct guest_mem *m, uint64_t off, uint64_t len);

/* The next stretch of guest RAM from offset off (the regions back to back, as in the
 * memfd) up to end that may hold data, as [*data, *hole), page aligned; false when none
 * is left. Pages in the memfd's holes were never written: they are zeros, and reading
 * them would allocate them. Without a memfd (or when it cannot tell) all of it may. */
bool mem_data_extent(const struct guest_mem *m, uint64_t off, uint64_t end, uint64_t *data,
		     uint64_t *hole);

/* Makes all of guest RAM read as zeros again (an incoming migration's memory, before
 * the pages arrive): its pages given back to the host, or, when pinned (mapped for
 * device DMA, which keeps the physical pages it mapped), zeroed in place. */
void mem_discard(struct guest_mem *m, bool pinned);

/* Tracking of the pages the VMM writes (for migration). mem_dirty_start allocates the
 * bitmaps and turns tracking on (-ENOMEM); mem_dirty_stop turns it off (the bitmaps
 * stay until mem_destroy, as a device thread may be about to mark one). mem_dirty_hva marks
 * the pages of [hva, hva + len) if tracking is on and they are guest RAM; any thread,
 * after the write. mem_dirty_take ORs region r's marks into bitmap (one bit per page,
 * 64-bit words) and clears them. */
int mem_dirty_start(struct guest_mem *m);
void mem_dirty_stop(struct guest_mem *m);
void mem_dirty_hva(const struct guest_mem *m, const void *hva, uint64_t len);
void mem_dirty_take(struct guest_mem *m, int r, uint64_t *bitmap);

/* Copy helpers built on mem_gpa_to_hva(); return 0 or -EFAULT. */
int mem_write(const struct guest_mem *m, gpa_t gpa, const void *src, uint64_t len);
int mem_read(const struct guest_mem *m, gpa_t gpa, void *dst, uint64_t len);

#endif
