/* Device address spaces: a sorted array, binary search, a reader-writer lock. */
#include "vmm/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	return -pthread_rwlock_init(&bus->lock, NULL);
}

void bus_destroy(struct bus *bus)
{
	free(bus->ranges);
	bus->ranges = NULL;
	bus->nr = bus->cap = 0;
	pthread_rwlock_destroy(&bus->lock);
}

/* Index of the first range whose base is > addr. */
static int upper_bound(const struct bus *bus, uint64_t addr)
{
	int lo = 0, hi = bus->nr;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (bus->ranges[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, bus_handler_t handler, void *opaque)
{
	int i, ret = 0;

	if (len == 0 || base + len - 1 < base)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	i = upper_bound(bus, base);
	/* The range before must end before base; the one at i must start after ours. */
	if ((i > 0 && bus->ranges[i - 1].base + bus->ranges[i - 1].len - 1 >= base) ||
	    (i < bus->nr && bus->ranges[i].base <= base + len - 1)) {
		ret = -EEXIST;
		goto out;
	}
	if (bus->nr == bus->cap) {
		int cap = bus->cap ? bus->cap * 2 : 16;
		struct bus_range *r = realloc(bus->ranges, cap * sizeof(*r));

		if (!r) {
			ret = -ENOMEM;
			goto out;
		}
		bus->ranges = r;
		bus->cap = cap;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i], (bus->nr - i) * sizeof(bus->ranges[0]));
	bus->ranges[i] = (struct bus_range){base, len, handler, opaque};
	bus->nr++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int bus_unregister(struct bus *bus, uint64_t base)
{
	int i, ret = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	i = upper_bound(bus, base) - 1;
	if (i >= 0 && bus->ranges[i].base == base) {
		memmove(&bus->ranges[i], &bus->ranges[i + 1],
			(bus->nr - i - 1) * sizeof(bus->ranges[0]));
		bus->nr--;
		ret = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

bool bus_access(struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct bus_range r = {0};
	int i;

	if (!is_write)
		memset(data, 0xff, len);
	pthread_rwlock_rdlock(&bus->lock);
	i = upper_bound(bus, addr) - 1;
	if (i >= 0 && addr - bus->ranges[i].base < bus->ranges[i].len &&
	    len <= bus->ranges[i].len - (addr - bus->ranges[i].base))
		r = bus->ranges[i];
	pthread_rwlock_unlock(&bus->lock);
	/* Called unlocked so that a handler may itself (un)register ranges. */
	if (!r.handler)
		return false;
	r.handler(r.opaque, addr - r.base, data, len, is_write);
	return true;
}
