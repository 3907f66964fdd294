/* An address space of emulated device ranges: one type for port I/O and for MMIO.
 *
 * Ranges never overlap (bus_register refuses). Lookups take a read lock so vCPU threads
 * dispatch in parallel; register/unregister (PCI BAR moves, from a vCPU thread too)
 * take the write lock. Dispatch copies the range and drops the lock before calling the
 * handler, so a handler may itself register or unregister ranges; a device must keep its
 * opaque state alive until it has unregistered and no vCPU can still be inside it (we
 * only free devices after every vCPU thread has been joined). */
#ifndef MINIVMM_BUS_H
#define MINIVMM_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* offset is relative to the range's base; len is 1, 2, 4 or 8. On reads the handler
 * fills data[0..len); it is pre-filled with all ones. */
typedef void (*bus_handler_t)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			      bool is_write);

struct bus_range {
	uint64_t base, len;
	bus_handler_t handler;
	void *opaque;
};

struct bus {
	const char *name; /* "pio" or "mmio", for messages */
	pthread_rwlock_t lock;
	struct bus_range *ranges; /* sorted by base */
	int nr, cap;
};

int bus_init(struct bus *bus, const char *name);
void bus_destroy(struct bus *bus);

/* Returns 0, -EEXIST if [base, base + len) overlaps a registered range, -EINVAL for an
 * empty or wrapping range, -ENOMEM. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, bus_handler_t handler, void *opaque);
/* Removes the range starting at base; -ENOENT if there is none. */
int bus_unregister(struct bus *bus, uint64_t base);

/* Dispatches one access. Returns true if a device claimed it; unclaimed reads return
 * all ones in data and unclaimed writes are dropped. An access that straddles the end
 * of a range is treated as unclaimed. */
bool bus_access(struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

#endif
