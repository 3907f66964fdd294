/* The device bus: overlap checks, dispatch, unclaimed accesses. */
#include "tests/unit/unit.h"
#include "vmm/bus.h"

#include <errno.h>
#include <string.h>

struct probe {
	uint64_t last_off;
	uint32_t last_len;
	int writes, reads;
};

static void probe_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct probe *p = opaque;

	p->last_off = off;
	p->last_len = len;
	if (is_write)
		p->writes++;
	else {
		p->reads++;
		memset(data, 0x5a, len);
	}
}

START_TEST(register_rejects_overlaps)
{
	struct bus b;
	struct probe p = {0};

	ck_assert_int_eq(bus_init(&b, "pio"), 0);
	ck_assert_int_eq(bus_register(&b, 0x3f8, 8, probe_io, &p), 0);
	ck_assert_int_eq(bus_register(&b, 0x3f0, 9, probe_io, &p), -EEXIST);
	ck_assert_int_eq(bus_register(&b, 0x3ff, 1, probe_io, &p), -EEXIST);
	ck_assert_int_eq(bus_register(&b, 0x3f0, 8, probe_io, &p), 0);
	ck_assert_int_eq(bus_register(&b, 0x400, 1, probe_io, &p), 0);
	ck_assert_int_eq(bus_register(&b, 0x500, 0, probe_io, &p), -EINVAL);
	ck_assert_int_eq(bus_register(&b, UINT64_MAX, 2, probe_io, &p), -EINVAL);
	ck_assert_int_eq(bus_register(&b, UINT64_MAX, 1, probe_io, &p), 0);
	ck_assert_int_eq(bus_unregister(&b, 0x3f8), 0);
	ck_assert_int_eq(bus_unregister(&b, 0x3f8), -ENOENT);
	ck_assert_int_eq(bus_register(&b, 0x3f8, 8, probe_io, &p), 0);
	bus_destroy(&b);
}
END_TEST

START_TEST(dispatch_and_unclaimed)
{
	struct bus b;
	struct probe p = {0};
	uint8_t data[8];

	bus_init(&b, "mmio");
	for (int i = 0; i < 40; i++) /* forces the array to grow */
		ck_assert_int_eq(bus_register(&b, 0x10000 + i * 0x1000, 0x100, probe_io, &p), 0);
	ck_assert(bus_access(&b, 0x13004, data, 4, false));
	ck_assert_uint_eq(p.last_off, 4);
	ck_assert_uint_eq(data[0], 0x5a);
	ck_assert(bus_access(&b, 0x130fc, data, 4, true));
	ck_assert_int_eq(p.writes, 1);
	/* straddling the end, or in a gap: unclaimed, reads all ones */
	ck_assert(!bus_access(&b, 0x130fe, data, 4, false));
	ck_assert_uint_eq(data[3], 0xff);
	ck_assert(!bus_access(&b, 0x13100, data, 8, false));
	ck_assert_uint_eq(data[7], 0xff);
	ck_assert(!bus_access(&b, 0x100, data, 1, true));
	ck_assert_int_eq(p.reads, 1);
	bus_destroy(&b);
}
END_TEST

Suite *bus_suite(void)
{
	Suite *s = suite_create("bus");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, register_rejects_overlaps);
	tcase_add_test(tc, dispatch_and_unclaimed);
	suite_add_tcase(s, tc);
	return s;
}
