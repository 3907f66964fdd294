#include "vmm/exitprof.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmm/log.h"

#define EXITPROF_TOP 12

int exitprof_init(struct exitprof *p)
{
	p->other = 0;
	p->slots = calloc(EXITPROF_SLOTS, sizeof(*p->slots));
	return p->slots ? 0 : -ENOMEM;
}

void exitprof_count(struct exitprof *p, uint64_t addr, bool is_mmio, bool is_write)
{
	uint64_t key = addr << 2 | (uint64_t)is_mmio << 1 | (uint64_t)is_write;

	if (!p->slots)
		return;
	key |= 1ull << 63; /* never 0, even for a read of port 0 */
	/* Open addressing on a multiplicative hash; a full table counts the rest as other. */
	for (unsigned int i = 0, h = (unsigned int)((key * 0x9e3779b97f4a7c15ull) >> 57);
	     i < EXITPROF_SLOTS; i++, h = (h + 1) % EXITPROF_SLOTS) {
		if (p->slots[h].key == key || !p->slots[h].key) {
			p->slots[h].key = key;
			p->slots[h].count++;
			return;
		}
	}
	p->other++;
}

static int by_count(const void *a, const void *b)
{
	const struct exitprof_slot *x = a, *y = b;

	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

size_t exitprof_format(struct exitprof *p, char *line, size_t size)
{
	size_t n = 0;

	line[0] = '\0';
	if (!p->slots)
		return 0;
	qsort(p->slots, EXITPROF_SLOTS, sizeof(*p->slots), by_count);
	for (unsigned int i = 0; i < EXITPROF_TOP && p->slots[i].count && n < size; i++) {
		uint64_t key = p->slots[i].key & ~(1ull << 63);

		n += (size_t)snprintf(line + n, size - n, "%s%s %s 0x%llx: %llu", n ? ", " : "",
				      key & 2 ? "mmio" : "pio", key & 1 ? "write" : "read",
				      (unsigned long long)(key >> 2),
				      (unsigned long long)p->slots[i].count);
	}
	if (n < size && p->other)
		n += (size_t)snprintf(line + n, size - n, "%sother addresses: %llu", n ? ", " : "",
				      (unsigned long long)p->other);
	return n < size ? n : size - 1;
}

void exitprof_report(struct exitprof *p, unsigned int id)
{
	char line[768];

	if (!p->slots)
		return;
	log_info("vcpu %u: busiest exits to the VMM: %s", id,
		 exitprof_format(p, line, sizeof(line)) ? line : "none");
	free(p->slots);
	p->slots = NULL;
}
