/* Guest memory: layout of regions and the checked gpa -> hva helper. */
#include "tests/unit/unit.h"
#include "vmm/mem.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static struct guest_mem two_regions(void)
{
	const gpa_t gpas[] = {0, 1ULL << 32};
	const uint64_t sizes[] = {1 << 20, 2 << 20};
	struct guest_mem m;

	ck_assert_int_eq(mem_init(&m, gpas, sizes, 2, 1), 0);
	return m;
}

START_TEST(translate_inside_and_edges)
{
	struct guest_mem m = two_regions();

	ck_assert_ptr_eq(mem_gpa_to_hva(&m, 0, 1 << 20), m.regions[0].hva);
	ck_assert_ptr_eq(mem_gpa_to_hva(&m, (1 << 20) - 1, 1), m.regions[0].hva + (1 << 20) - 1);
	ck_assert_ptr_null(mem_gpa_to_hva(&m, (1 << 20) - 1, 2)); /* runs off the end */
	ck_assert_ptr_null(mem_gpa_to_hva(&m, 1 << 20, 1));	  /* in the hole */
	ck_assert_ptr_eq(mem_gpa_to_hva(&m, 1ULL << 32, 4096), m.regions[1].hva);
	ck_assert_ptr_null(mem_gpa_to_hva(&m, (1ULL << 32) - 1, 2)); /* straddles */
	ck_assert_uint_eq(m.ram_size, 3 << 20);
	mem_destroy(&m);
}
END_TEST

START_TEST(translate_overflow)
{
	struct guest_mem m = two_regions();

	ck_assert_ptr_null(mem_gpa_to_hva(&m, 16, UINT64_MAX));
	ck_assert_ptr_null(mem_gpa_to_hva(&m, UINT64_MAX, 2));
	ck_assert_ptr_null(mem_gpa_to_hva(&m, (1ULL << 32) + 4096, UINT64_MAX - 4095));
	mem_destroy(&m);
}
END_TEST

START_TEST(copy_helpers)
{
	struct guest_mem m = two_regions();
	char buf[4] = "abc";

	ck_assert_int_eq(mem_write(&m, (1ULL << 32) + 100, buf, 4), 0);
	ck_assert_str_eq((char *)m.regions[1].hva + 100, "abc");
	ck_assert_int_eq(mem_read(&m, (3ULL << 20), buf, 4), -14 /* EFAULT */);
	mem_destroy(&m);
}
END_TEST

START_TEST(rejects_bad_layouts)
{
	struct guest_mem m;
	const gpa_t gpas[] = {0x800};
	const uint64_t sizes[] = {4096};

	ck_assert_int_eq(mem_init(&m, gpas, sizes, 1, 0), -22);
	ck_assert_int_eq(mem_init(&m, gpas, sizes, 0, 0), -22);
}
END_TEST

/* Every page of [p, p + len) is resident. */
static void assert_resident(const uint8_t *p, uint64_t len)
{
	size_t pages = len / 4096;
	unsigned char *vec = malloc(pages);

	ck_assert_ptr_nonnull(vec);
	ck_assert_int_eq(mincore((void *)p, len, vec), 0);
	for (size_t i = 0; i < pages; i++)
		ck_assert_msg(vec[i] & 1, "page %zu of %p not resident", i, (void *)p);
	free(vec);
}

START_TEST(populate_all_regions_in_parallel)
{
	/* 200 MiB in three regions: three 64 MiB-or-more shares, and share boundaries
	 * that fall inside regions, not on their edges. */
	const gpa_t gpas[] = {0, 1ULL << 32, 2ULL << 32};
	const uint64_t sizes[] = {66ULL << 20, 70ULL << 20, 64ULL << 20};
	struct guest_mem m;

	ck_assert_int_eq(mem_init(&m, gpas, sizes, 3, MEM_MEMFD), 0);
	strcpy((char *)m.regions[1].hva + 5, "kept");
	ck_assert_int_eq(mem_populate(&m, 8), 3);
	for (int i = 0; i < 3; i++)
		assert_resident(m.regions[i].hva, m.regions[i].size);
	ck_assert_str_eq((char *)m.regions[1].hva + 5, "kept");
	ck_assert_int_eq(mem_populate(&m, 1), 1); /* again: nothing left to do, no error */
	mem_destroy(&m);

	/* A failure in any share is the result: a region the VMM cannot write. */
	ck_assert_int_eq(mem_init(&m, gpas, sizes, 3, MEM_MEMFD), 0);
	ck_assert_int_eq(mprotect(m.regions[2].hva, m.regions[2].size, PROT_READ), 0);
	ck_assert_int_lt(mem_populate(&m, 8), 0);
	mem_destroy(&m);

	m = two_regions(); /* 3 MiB: not worth a second thread */
	ck_assert_int_eq(mem_populate(&m, 8), 1);
	assert_resident(m.regions[0].hva, m.regions[0].size);
	assert_resident(m.regions[1].hva, m.regions[1].size);
	mem_destroy(&m);
}
END_TEST

/* Guest RAM's memfd, which vhost-user back ends get, is sealed at its size: a back end
 * cannot shrink it under minivmm (whose accesses would then fault) nor lift the seals;
 * writing through it stays possible. */
START_TEST(memfd_is_sealed_at_its_size)
{
	struct guest_mem m = two_regions();
	int seals = fcntl(m.memfd, F_GET_SEALS);

	ck_assert_int_eq(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
			 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	ck_assert_int_eq(seals & F_SEAL_WRITE, 0);
	ck_assert_int_ne(ftruncate(m.memfd, 4096), 0);
	ck_assert_int_ne(ftruncate(m.memfd, 8 << 20), 0);
	ck_assert_int_ne(fcntl(m.memfd, F_ADD_SEALS, F_SEAL_WRITE), 0);
	ck_assert_int_eq(pwrite(m.memfd, "x", 1, 4096), 1);
	ck_assert_int_eq(m.regions[0].hva[4096], 'x');
	mem_destroy(&m);
}
END_TEST

/* The stretches of guest RAM that may hold data: in a memfd only what was written (the
 * rest is holes, never read by snapshots and migrations); without a memfd, all. */
START_TEST(data_extents)
{
	struct guest_mem m = two_regions(); /* 1 MiB at 0, 2 MiB at 4 GiB: offsets 0..3M */
	uint64_t total = 3 << 20, data, hole;

	ck_assert(!mem_data_extent(&m, 0, total, &data, &hole)); /* never written */
	m.regions[1].hva[8192 + 5] = 1;				 /* offset 1M + 8K */
	ck_assert(mem_data_extent(&m, 0, total, &data, &hole));
	ck_assert_uint_eq(data, (1 << 20) + 8192);
	ck_assert_uint_gt(hole, data);
	ck_assert_uint_le(hole, total);
	ck_assert(!mem_data_extent(&m, hole, total, &data, &hole));
	ck_assert(!mem_data_extent(&m, 0, 1 << 20, &data, &hole)); /* the first region's */
	mem_destroy(&m);
	{
		const gpa_t gpa = 0;
		const uint64_t size = 1 << 20;

		ck_assert_int_eq(mem_init(&m, &gpa, &size, 1, 0), 0); /* no memfd: all */
		ck_assert(mem_data_extent(&m, 4096, size, &data, &hole));
		ck_assert_uint_eq(data, 4096);
		ck_assert_uint_eq(hole, size);
		mem_destroy(&m);
	}
}
END_TEST

Suite *mem_suite(void)
{
	Suite *s = suite_create("mem");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, translate_inside_and_edges);
	tcase_add_test(tc, translate_overflow);
	tcase_add_test(tc, copy_helpers);
	tcase_add_test(tc, rejects_bad_layouts);
	tcase_add_test(tc, populate_all_regions_in_parallel);
	tcase_add_test(tc, memfd_is_sealed_at_its_size);
	tcase_add_test(tc, data_extents);
	suite_add_tcase(s, tc);
	return s;
}
