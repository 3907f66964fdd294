/* Guest RAM: one memfd, one mapping per region, and the one checked gpa -> hva helper. */
#include "vmm/mem.h"

#include <errno.h>
#include <linux/memfd.h>
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
		unsigned int fl = MFD_CLOEXEC;

		if (use_memfd & 2)
			fl |= MFD_HUGETLB | MFD_HUGE_2MB;
		m->memfd = memfd_create("minivmm-ram", fl);
		if (m->memfd < 0)
			return -errno;
		if (ftruncate(m->memfd, (off_t)total) < 0) {
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

void mem_destroy(struct guest_mem *m)
{
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
