/* The exit profile (vmm/exitprof.c): counts by address and direction, the busiest
 * first, port and MMIO told apart, port 0 counted, a full table's rest as "other". */
#include "tests/unit/unit.h"
#include "vmm/exitprof.h"

#include <stdio.h>
#include <string.h>

START_TEST(counts_sorted_busiest_first)
{
	struct exitprof p;
	char line[768];

	ck_assert_int_eq(exitprof_init(&p), 0);
	for (int i = 0; i < 5; i++)
		exitprof_count(&p, 0x3f8, false, true);
	for (int i = 0; i < 9; i++)
		exitprof_count(&p, 0xfee00000, true, false);
	exitprof_count(&p, 0x3f8, false, false);
	exitprof_count(&p, 0, false, false); /* port 0: a key like any other */
	exitprof_count(&p, 0, false, false);
	ck_assert_uint_gt(exitprof_format(&p, line, sizeof(line)), 0);
	ck_assert_str_eq(line, "mmio read 0xfee00000: 9, pio write 0x3f8: 5, pio read 0x0: 2, "
			       "pio read 0x3f8: 1");
	exitprof_report(&p, 0);
	ck_assert_ptr_null(p.slots);
	exitprof_report(&p, 0); /* idempotent */
}
END_TEST

START_TEST(full_table_counts_the_rest_and_short_buffers_stay_terminated)
{
	struct exitprof p;
	char line[768], tiny[16];

	ck_assert_int_eq(exitprof_init(&p), 0);
	for (unsigned int port = 0; port < EXITPROF_SLOTS + 10; port++)
		exitprof_count(&p, port, false, true);
	exitprof_count(&p, 7, false, true); /* already in: still counted there */
	ck_assert_uint_eq(p.other, 10);
	exitprof_format(&p, line, sizeof(line));
	ck_assert_msg(strncmp(line, "pio write 0x7: 2, ", 18) == 0, "%s", line);
	ck_assert_msg(strstr(line, ", other addresses: 10") != NULL, "%s", line);
	ck_assert_uint_eq(exitprof_format(&p, tiny, sizeof(tiny)), sizeof(tiny) - 1);
	ck_assert_uint_eq(strlen(tiny), sizeof(tiny) - 1);
	exitprof_report(&p, 1);
}
END_TEST

START_TEST(off_when_not_initialised)
{
	struct exitprof p = {0};
	char line[8];

	exitprof_count(&p, 0x80, false, true);
	ck_assert_uint_eq(exitprof_format(&p, line, sizeof(line)), 0);
	ck_assert_str_eq(line, "");
	exitprof_report(&p, 0);
}
END_TEST

Suite *exitprof_suite(void)
{
	Suite *s = suite_create("exitprof");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, counts_sorted_busiest_first);
	tcase_add_test(tc, full_table_counts_the_rest_and_short_buffers_stay_terminated);
	tcase_add_test(tc, off_when_not_initialised);
	suite_add_tcase(s, tc);
	return s;
}
