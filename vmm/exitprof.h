/* Where a vCPU's exits to userspace go (exitprof.c): with MINIVMM_STATS set, each vCPU
 * counts its port and MMIO exits by address and logs the busiest at teardown, so that a
 * boot's exits can be traced to the device the guest probes (issue: the boot cycle's
 * breakdown). One profile per vCPU, touched by its own thread only. */
#ifndef MINIVMM_EXITPROF_H
#define MINIVMM_EXITPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXITPROF_SLOTS 128 /* distinct addresses kept; the rest are counted as "other" */

struct exitprof_slot {
	uint64_t key; /* address << 2 | is_mmio << 1 | is_write; 0: free */
	uint64_t count;
};

struct exitprof {
	struct exitprof_slot *slots; /* NULL: profiling off */
	uint64_t other;
};

/* Allocates the table; returns -ENOMEM (profiling stays off). */
int exitprof_init(struct exitprof *p);
void exitprof_count(struct exitprof *p, uint64_t addr, bool is_mmio, bool is_write);
/* The busiest addresses (up to 12, most exits first; the table is sorted, so no
 * counting after this) and the count of those that did not fit, into line (always
 * terminated); returns its length. */
size_t exitprof_format(struct exitprof *p, char *line, size_t size);
/* Logs the busiest addresses of vCPU id, then frees the table. Idempotent. */
void exitprof_report(struct exitprof *p, unsigned int id);

#endif
