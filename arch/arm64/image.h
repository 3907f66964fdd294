/* The Linux arm64 Image boot protocol (the kernel's Documentation/arch/arm64/booting.rst):
 * the 64-byte header, and where kernel, initrd and device tree go in guest RAM.
 *
 * Portable C with no KVM headers, so that the unit tests run on any host. */
#ifndef MINIVMM_ARM64_IMAGE_H
#define MINIVMM_ARM64_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARM64_IMAGE_MAGIC     0x644d5241u /* "ARM\x64", little-endian at offset 56 */
#define ARM64_IMAGE_HDR_SIZE  64
#define ARM64_IMAGE_ALIGN     (2ULL << 20) /* the kernel's base: 2 MiB aligned */
#define ARM64_IMAGE_MAX	      (1ULL << 30) /* more than any real kernel needs */
#define ARM64_DTB_MAX	      (2ULL << 20) /* booting.rst: at most 2 MiB */
#define ARM64_OLD_TEXT_OFFSET 0x80000ULL   /* image_size 0 (before Linux 3.17) */

/* What the header says. */
struct arm64_image {
	uint64_t text_offset; /* the kernel goes this far above a 2 MiB aligned base */
	uint64_t image_size;  /* bytes it occupies from there, bss included */
	uint64_t flags;
	uint32_t page_kib; /* 4, 16 or 64; 0: the header does not say */
};

/* Where the pieces go in RAM [ram_base, ram_base + ram_size). */
struct arm64_boot_layout {
	uint64_t kernel;     /* entry point: the first byte of the Image */
	uint64_t kernel_end; /* kernel + image_size */
	uint64_t initrd;     /* 0 when there is none */
	uint64_t dtb;	     /* ARM64_DTB_MAX bytes reserved from here */
};

/* Checks the header of the len bytes at k. Returns 0, or -EINVAL with one message in
 * err (short file, no "ARM\x64" magic, a big-endian kernel, an image_size smaller than
 * the file or absurdly large, a misaligned text_offset). */
int arm64_image_parse(const uint8_t *k, size_t len, struct arm64_image *img, char *err,
		      size_t errlen);

/* Places the kernel at the 2 MiB aligned start of RAM plus text_offset, the device tree
 * in the last 2 MiB of RAM and the initrd (initrd_len bytes, 0: none) page-aligned just
 * below it. Returns 0, or -EINVAL with one message in err when they do not fit. */
int arm64_image_place(const struct arm64_image *img, size_t file_len, uint64_t ram_base,
		      uint64_t ram_size, size_t initrd_len, struct arm64_boot_layout *l, char *err,
		      size_t errlen);

#endif
