/* The arm64 Image boot protocol (arch/arm64/image.c), on any host: the header checks
 * with each refusal's message, the pre-3.17 header, and where kernel, initrd and device
 * tree go in RAM. */
#include "tests/unit/unit.h"
#include "arch/arm64/image.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MIB	 (1ULL << 20)
#define RAM_BASE 0x80000000ULL
#define FILE_LEN (64 * 1024)

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A header as Linux 6.x writes it: text_offset 0, 4 KiB pages, placed anywhere. */
static uint8_t *image(uint64_t text_offset, uint64_t image_size, uint64_t flags)
{
	uint8_t *k = calloc(1, FILE_LEN);

	ck_assert_ptr_nonnull(k);
	put64(k + 8, text_offset);
	put64(k + 16, image_size);
	put64(k + 24, flags);
	memcpy(k + 56, "ARM\x64", 4);
	return k;
}

static void parse_refused(const uint8_t *k, size_t len, const char *want)
{
	struct arm64_image img;
	char err[256] = "";

	ck_assert_int_eq(arm64_image_parse(k, len, &img, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, want), "message \"%s\" lacks \"%s\"", err, want);
}

START_TEST(parse_good)
{
	uint8_t *k = image(0, 4 * MIB, 0xa);
	struct arm64_image img;
	char err[256] = "";

	ck_assert_int_eq(arm64_image_parse(k, FILE_LEN, &img, err, sizeof(err)), 0);
	ck_assert_uint_eq(img.text_offset, 0);
	ck_assert_uint_eq(img.image_size, 4 * MIB);
	ck_assert_uint_eq(img.page_kib, 4);
	free(k);
	k = image(0x80000, 4 * MIB, 3 << 1); /* 64 KiB pages */
	ck_assert_int_eq(arm64_image_parse(k, FILE_LEN, &img, err, sizeof(err)), 0);
	ck_assert_uint_eq(img.page_kib, 64);
	ck_assert_uint_eq(img.text_offset, 0x80000);
	free(k);
}
END_TEST

START_TEST(parse_old_header)
{
	uint8_t *k = image(0x1234, 0, 0); /* image_size 0: text_offset is 0x80000 */
	struct arm64_image img;
	char err[256] = "";

	ck_assert_int_eq(arm64_image_parse(k, FILE_LEN, &img, err, sizeof(err)), 0);
	ck_assert_uint_eq(img.text_offset, ARM64_OLD_TEXT_OFFSET);
	ck_assert_uint_eq(img.image_size, FILE_LEN);
	free(k);
}
END_TEST

START_TEST(parse_refusals)
{
	uint8_t *k = image(0, 4 * MIB, 0);

	parse_refused(k, 63, "63 bytes: too short for an arm64 Image header");
	k[56] = 'X';
	parse_refused(k, FILE_LEN, "not an arm64 Image: no \"ARM\\x64\" magic at offset 56");
	free(k);
	k = image(0, 4 * MIB, 1);
	parse_refused(k, FILE_LEN, "a big-endian kernel");
	free(k);
	k = image(0, 4096, 0);
	parse_refused(k, FILE_LEN, "image_size 0x1000 is smaller than the file (65536 bytes)");
	free(k);
	k = image(0, 1ULL << 40, 0);
	parse_refused(k, FILE_LEN, "absurdly larger than the file");
	free(k);
	k = image(2 * MIB, 4 * MIB, 0);
	parse_refused(k, FILE_LEN, "text_offset 0x200000 is not a page-aligned offset below 2 MiB");
	free(k);
	k = image(0x80010, 4 * MIB, 0);
	parse_refused(k, FILE_LEN, "text_offset 0x80010");
	free(k);
}
END_TEST

START_TEST(place_layout)
{
	struct arm64_image img = {.text_offset = 0x80000, .image_size = 20 * MIB};
	struct arm64_boot_layout l;
	char err[256] = "";

	ck_assert_int_eq(arm64_image_place(&img, FILE_LEN, RAM_BASE, 256 * MIB, 5 * MIB + 3, &l,
					   err, sizeof(err)),
			 0);
	ck_assert_uint_eq(l.kernel, RAM_BASE + 0x80000);
	ck_assert_uint_eq(l.kernel_end, RAM_BASE + 0x80000 + 20 * MIB);
	ck_assert_uint_eq(l.dtb, RAM_BASE + 254 * MIB);
	ck_assert_uint_eq(l.dtb % (2 * MIB), 0);
	ck_assert_uint_eq(l.initrd % 4096, 0);
	ck_assert_uint_ge(l.initrd, l.kernel_end);
	ck_assert_uint_le(l.initrd + 5 * MIB + 3, l.dtb);
	/* no initrd */
	ck_assert_int_eq(
	    arm64_image_place(&img, FILE_LEN, RAM_BASE, 256 * MIB, 0, &l, err, sizeof(err)), 0);
	ck_assert_uint_eq(l.initrd, 0);
}
END_TEST

START_TEST(place_refusals)
{
	struct arm64_image img = {.text_offset = 0, .image_size = 31 * MIB};
	struct arm64_boot_layout l;
	char err[256] = "";

	ck_assert_int_eq(
	    arm64_image_place(&img, FILE_LEN, RAM_BASE, 32 * MIB, 0, &l, err, sizeof(err)),
	    -EINVAL);
	ck_assert_msg(strstr(err, "the kernel needs 31 MiB from the start of RAM plus 2 MiB for "
				  "the device tree; [vm] memory = 32 MiB is too small"),
		      "%s", err);
	ck_assert_int_eq(
	    arm64_image_place(&img, FILE_LEN, RAM_BASE, 64 * MIB, 40 * MIB, &l, err, sizeof(err)),
	    -EINVAL);
	ck_assert_msg(strstr(err, "the initrd (41943040 bytes) does not fit"), "%s", err);
	ck_assert_int_eq(
	    arm64_image_place(&img, FILE_LEN, RAM_BASE, 2 * MIB, 0, &l, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "too small for any kernel"), "%s", err);
}
END_TEST

Suite *arm64_image_suite(void)
{
	Suite *s = suite_create("arm64_image");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, parse_good);
	tcase_add_test(tc, parse_old_header);
	tcase_add_test(tc, parse_refusals);
	tcase_add_test(tc, place_layout);
	tcase_add_test(tc, place_refusals);
	suite_add_tcase(s, tc);
	return s;
}
