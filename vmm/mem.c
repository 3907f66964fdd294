/* Guest RAM: one memfd, one mapping per region, and the one checked gpa -> hva helper. */
#include "vmm/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/memfd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int mem_init(struct guest_mem *m, const gpa_t *gpas, const uint64_t *sizes, int n, int use_memfd)
{
	uint64_t total = 0, off = 0;
	int i, ret;

	memset(m, 0, sizeof(*m));
	m->memfd = -1;
	if (n <= 0 || n > MEM_MAX_REGIONS)
		return -EINVAL;
	uint64_t align = (use_memfd & 2) ? (2ULL << 20) - 1 : 4095;

	for (i = 0; i < n; i++) {
		if ((sizes[i] & align) || (gpas[i] & align) || sizes[i] == 0)
			return -EINVAL;
		total += sizes[i];
	}
	if (use_memfd) {
		unsigned int fl = MFD_CLOEXEC | MFD_ALLOW_SEALING;

		if (use_memfd & 2)
			fl |= MFD_HUGETLB | MFD_HUGE_2MB;
		m->memfd = memfd_create("minivmm-ram", fl);
		if (m->memfd < 0)
			return -errno;
		/* Sealed at its size: a vhost-user back end gets this fd, and one that
		 * shrank it would make minivmm's own accesses to guest RAM fault (SIGBUS).
		 * Writing stays allowed: sharing guest memory is the point. */
		if (ftruncate(m->memfd, (off_t)total) < 0 ||
		    fcntl(m->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
			ret = -errno;
			goto err;
		}
	}
	for (i = 0; i < n; i++) {
		void *p;

		if (use_memfd)
			/* hugetlbfs: no MAP_NORESERVE, so that the pages are reserved now
			 * and a shortfall is an error at start, not a SIGBUS in a vCPU. */
			p = mmap(NULL, sizes[i], PROT_READ | PROT_WRITE,
				 MAP_SHARED | ((use_memfd & 2) ? 0 : MAP_NORESERVE), m->memfd,
				 (off_t)off);
		else
			p = mmap(NULL, sizes[i], PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED) {
			ret = -errno;
			goto err;
		}
		if (!use_memfd) {
			/* Huge pages where the host allows them (THP "madvise" or "always"):
			 * KVM then maps guest RAM with 2 MiB entries, and a booting guest
			 * takes one fault per 2 MiB instead of one per 4 KiB (README, "Guest
			 * memory"). Advice only: a host without THP just ignores it. No
			 * child process may share it copy-on-write (pinned DMA pages). */
			madvise(p, sizes[i], MADV_HUGEPAGE);
			madvise(p, sizes[i], MADV_DONTFORK);
		}
		m->regions[i] = (struct mem_region){.gpa = gpas[i], .size = sizes[i], .hva = p};
		m->nr_regions = i + 1;
		off += sizes[i];
	}
	m->ram_size = total;
	return 0;
err:
	mem_destroy(m);
	return ret;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older headers lack it */
#endif

#define POPULATE_MAX_THREADS 16
#define POPULATE_MIN_CHUNK   (64ULL << 20) /* below this a thread costs more than it saves */

/* One thread's share: bytes [start, end) of guest RAM counted across the regions. */
struct populate_job {
	const struct guest_mem *m;
	uint64_t start, end;
	int ret;
};

/* EINVAL from MADV_POPULATE_WRITE means either "unknown advice" (before Linux 5.14) or
 * "this range cannot be populated"; a fresh private page tells the two apart. */
static bool populate_write_known(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool known;

	if (p == MAP_FAILED)
		return true; /* cannot tell: do not write blindly */
	known = madvise(p, 4096, MADV_POPULATE_WRITE) == 0 || errno != EINVAL;
	munmap(p, 4096);
	return known;
}

static int populate_range(uint8_t *p, uint64_t len)
{
	int err;

	if (madvise(p, len, MADV_POPULATE_WRITE) == 0)
		return 0;
	err = errno;
	if (err != EINVAL || populate_write_known())
		return -err; /* ENOMEM: memory or hugepages ran out; EINVAL: not writable */
	/* Before 5.14: a write fault per page, writing back what is there. */
	for (uint64_t off = 0; off < len; off += 4096) {
		volatile uint8_t *b = p + off;

		*b = *b;
	}
	return 0;
}

static void *populate_thread(void *arg)
{
	struct populate_job *job = arg;
	uint64_t base = 0;

	job->ret = 0;
	for (int i = 0; i < job->m->nr_regions && job->ret == 0; i++) {
		const struct mem_region *r = &job->m->regions[i];
		uint64_t lo = job->start > base ? job->start : base;
		uint64_t hi = job->end < base + r->size ? job->end : base + r->size;

		if (lo < hi)
			job->ret = populate_range(r->hva + (lo - base), hi - lo);
		base += r->size;
	}
	return NULL;
}

int mem_populate(const struct guest_mem *m, int max_threads)
{
	struct populate_job jobs[POPULATE_MAX_THREADS];
	pthread_t tids[POPULATE_MAX_THREADS];
	bool running[POPULATE_MAX_THREADS] = {false};
	uint64_t share;
	int n = max_threads, started = 1, ret = 0;

	if (n > POPULATE_MAX_THREADS)
		n = POPULATE_MAX_THREADS;
	if ((uint64_t)n > m->ram_size / POPULATE_MIN_CHUNK)
		n = (int)(m->ram_size / POPULATE_MIN_CHUNK);
	if (n < 1)
		n = 1;
	/* Shares are whole 2 MiB units, so a hugetlbfs page is never split. */
	share = ((m->ram_size / (uint64_t)n) + (2ULL << 20) - 1) & ~((2ULL << 20) - 1);
	for (int i = 0; i < n; i++) {
		uint64_t start = share * (uint64_t)i;

		jobs[i] = (struct populate_job){
		    .m = m,
		    .start = start < m->ram_size ? start : m->ram_size,
		    .end = start + share < m->ram_size ? start + share : m->ram_size,
		};
	}
	/* Share 0 is the caller's; a share whose thread cannot start is done here too. */
	for (int i = 1; i < n; i++) {
		running[i] = pthread_create(&tids[i], NULL, populate_thread, &jobs[i]) == 0;
		started += running[i];
	}
	for (int i = 0; i < n; i++)
		if (i == 0 || !running[i])
			populate_thread(&jobs[i]);
	for (int i = 1; i < n; i++)
		if (running[i])
			pthread_join(tids[i], NULL);
	for (int i = 0; i < n; i++)
		if (jobs[i].ret < 0 && ret == 0)
			ret = jobs[i].ret;
	return ret < 0 ? ret : started;
}

void mem_destroy(struct guest_mem *m)
{
	atomic_store(&m->dirty_on, false);
	for (int i = 0; i < MEM_MAX_REGIONS; i++) {
		free((void *)m->dirty[i]);
		m->dirty[i] = NULL;
	}
	for (int i = 0; i < m->nr_regions; i++)
		munmap(m->regions[i].hva, m->regions[i].size);
	if (m->memfd >= 0)
		close(m->memfd);
	m->nr_regions = 0;
	m->memfd = -1;
}

void *mem_gpa_to_hva(const struct guest_mem *m, gpa_t gpa, uint64_t len)
{
	if (len == 0)
		len = 1;
	for (int i = 0; i < m->nr_regions; i++) {
		const struct mem_region *r = &m->regions[i];

		/* gpa - r->gpa cannot underflow after the first test, and comparing the
		 * remaining room instead of gpa + len cannot overflow. */
		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

int mem_write(const struct guest_mem *m, gpa_t gpa, const void *src, uint64_t len)
{
	void *p = mem_gpa_to_hva(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int mem_read(const struct guest_mem *m, gpa_t gpa, void *dst, uint64_t len)
{
	const void *p = mem_gpa_to_hva(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

void *mem_off_to_hva(const struct guest_mem *m, uint64_t off, uint64_t len)
{
	if (len == 0)
		len = 1;
	for (int i = 0; i < m->nr_regions; i++) {
		const struct mem_region *r = &m->regions[i];

		if (off < r->size)
			return len <= r->size - off ? r->hva + off : NULL;
		off -= r->size;
	}
	return NULL;
}

#define PAGE_SHIFT 12

int mem_dirty_start(struct guest_mem *m)
{
	for (int i = 0; i < m->nr_regions; i++) {
		size_t words = (m->regions[i].size >> PAGE_SHIFT) / 64 + 1;

		if (!m->dirty[i])
			m->dirty[i] = calloc(words, sizeof(uint64_t));
		if (!m->dirty[i])
			return -ENOMEM;
		for (size_t w = 0; w < words; w++)
			atomic_store(&m->dirty[i][w], 0);
	}
	atomic_store(&m->dirty_on, true);
	return 0;
}

/* The bitmaps stay until mem_destroy: a device thread may be past its dirty_on test. */
void mem_dirty_stop(struct guest_mem *m)
{
	atomic_store(&m->dirty_on, false);
}

void mem_dirty_hva(const struct guest_mem *m, const void *hva, uint64_t len)
{
	const uint8_t *p = hva;

	if (!atomic_load_explicit(&m->dirty_on, memory_order_acquire) || len == 0)
		return;
	for (int i = 0; i < m->nr_regions; i++) {
		const struct mem_region *r = &m->regions[i];
		uint64_t first, last;

		if (p < r->hva || p >= r->hva + r->size)
			continue;
		first = (uint64_t)(p - r->hva) >> PAGE_SHIFT;
		last = ((uint64_t)(p - r->hva) + len - 1) >> PAGE_SHIFT;
		if (last >= r->size >> PAGE_SHIFT)
			last = (r->size >> PAGE_SHIFT) - 1;
		for (uint64_t pg = first; pg <= last; pg++)
			atomic_fetch_or_explicit(&m->dirty[i][pg / 64], 1ULL << (pg % 64),
						 memory_order_release);
		return;
	}
}

void mem_dirty_take(struct guest_mem *m, int r, uint64_t *bitmap)
{
	uint64_t words = ((m->regions[r].size >> PAGE_SHIFT) + 63) / 64;

	for (uint64_t w = 0; w < words; w++)
		bitmap[w] |= atomic_exchange_explicit(&m->dirty[r][w], 0, memory_order_acquire);
}

bool mem_data_extent(const struct guest_mem *m, uint64_t off, uint64_t end, uint64_t *data,
		     uint64_t *hole)
{
	off_t d = m->memfd >= 0 ? lseek(m->memfd, (off_t)off, SEEK_DATA) : (off_t)off, h;

	if (off >= end || (d < 0 && errno == ENXIO) || (d >= 0 && (uint64_t)d >= end))
		return false; /* no data from off on */
	if (d < 0)
		d = (off_t)off; /* cannot tell: all of it */
	h = m->memfd >= 0 ? lseek(m->memfd, d, SEEK_HOLE) : -1;
	if (h < 0 || (uint64_t)h > end)
		h = (off_t)end;
	*data = (uint64_t)d & ~((1ULL << PAGE_SHIFT) - 1);
	*hole = ((uint64_t)h + (1ULL << PAGE_SHIFT) - 1) & ~((1ULL << PAGE_SHIFT) - 1);
	if (*hole > end)
		*hole = end;
	return true;
}

void mem_discard(struct guest_mem *m, bool pinned)
{
	for (int i = 0; i < m->nr_regions; i++) {
		struct mem_region *r = &m->regions[i];

		if (pinned) {
			/* Written in place: the pages are the ones the IOMMU maps. */
			for (uint64_t off = 0; off < r->size; off += 4096) {
				const uint64_t *w = (const uint64_t *)(r->hva + off);
				unsigned int k = 0;

				while (k < 512 && !w[k])
					k++;
				if (k < 512)
					memset(r->hva + off, 0, 4096);
			}
		} else if (madvise(r->hva, r->size, m->memfd >= 0 ? MADV_REMOVE : MADV_DONTNEED) <
			   0) {
			memset(r->hva, 0, r->size);
		}
	}
}
