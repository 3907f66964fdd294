/* The smallest bzImage the VMM accepts, for tests that run the real binary on a few
 * 64-bit instructions (test_vmm.c, test_console.c). */
#ifndef MINIVMM_TEST_TINY_KERNEL_H
#define MINIVMM_TEST_TINY_KERNEL_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/unit.h"

#define SETUP_SECTS 1
#define SETUP_SIZE  ((SETUP_SECTS + 1) * 512)

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* Writes dir/kernel: a bzImage whose 64-bit entry (load address + 0x200) is code. */
static void write_kernel(const char *dir, const uint8_t *code, size_t len)
{
	static uint8_t img[SETUP_SIZE + 0x1000];
	char path[256];
	int fd;

	memset(img, 0, sizeof(img));
	img[0x1f1] = SETUP_SECTS;
	put16(img + 0x1fe, 0xaa55);
	img[0x200] = 0xeb; /* jmp over the header: its target gives the header's length */
	img[0x201] = 0x66;
	memcpy(img + 0x202, "HdrS", 4);
	put16(img + 0x206, 0x020f);	/* protocol 2.15 */
	img[0x211] = 0x01;		/* LOADED_HIGH */
	put32(img + 0x22c, 0x7fffffff); /* initrd_addr_max */
	put32(img + 0x230, 0x200000);	/* kernel_alignment */
	img[0x234] = 1;			/* relocatable */
	put16(img + 0x236, 0x1);	/* XLF_KERNEL_64 */
	put32(img + 0x238, 255);	/* cmdline_size */
	put32(img + 0x260, 0x1000);	/* init_size */
	memcpy(img + SETUP_SIZE + 0x200, code, len);
	snprintf(path, sizeof(path), "%s/kernel", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, img, sizeof(img)), (ssize_t)sizeof(img));
	close(fd);
}

#endif
