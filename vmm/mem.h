/* Guest physical memory.
 *
 * Guest RAM is one memfd mapped into the VMM as one or more regions (x86: below the
 * PCI hole under 4 GiB, and the rest above 4 GiB). Every guest-supplied address and
 * length goes through mem_gpa_to_hva() before the VMM touches it; nothing else in the
 * VMM does arithmetic on guest addresses to reach host memory. */
#ifndef MINIVMM_MEM_H
#define MINIVMM_MEM_H

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
};

/* Allocates ram_size bytes of guest RAM laid out as the n ranges in gpas/sizes (whose
 * sizes must add up to ram_size) and maps them. memfd-backed (so that it can be shared
 * and mapped for DMA); use_memfd = 0 gives anonymous memory for unit tests.
 * use_memfd = MEM_HUGETLB (which implies a memfd) backs it with 2 MiB hugetlbfs pages
 * (MFD_HUGETLB | MFD_HUGE_2MB, every region a multiple of 2 MiB; the pages are taken
 * from vm.nr_hugepages at start, so a shortfall fails here with -ENOMEM, not later).
 * Returns 0 or -errno; on failure nothing is left allocated. */
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

/* Copy helpers built on mem_gpa_to_hva(); return 0 or -EFAULT. */
int mem_write(const struct guest_mem *m, gpa_t gpa, const void *src, uint64_t len);
int mem_read(const struct guest_mem *m, gpa_t gpa, void *dst, uint64_t len);

#endif
