/* x86 boot protocol: bzImage parsing, boot_params, e820, initrd placement, page tables
 * and the long-mode entry state, on synthetic images in anonymous guest memory. */
#include "tests/unit/unit.h"
#include "arch/x86/boot.h"
#include "arch/x86/layout.h"
#include "vmm/mem.h"

#include <errno.h>
#include <glob.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <asm/e820.h>

#define MIB	      (1ULL << 20)
#define SETUP_SECTS   4
#define SETUP_SIZE    ((SETUP_SECTS + 1) * 512)
#define PAYLOAD_SIZE  (64 * 1024 + 3) /* odd on purpose: syssize rounds up */
#define PREF_ADDRESS  (16 * MIB)
#define INIT_SIZE     (8 * MIB)
#define KERNEL_END    (PREF_ADDRESS + INIT_SIZE) /* runtime start + init_size */
#define CMDLINE_SIZE  2047
#define HDR_END	      0x268 /* 0x202 + jump offset 0x66, as in Linux 6.x */
#define ERR_HAS(t, s) ck_assert_msg(strstr((t)->err, s), "error \"%s\" lacks \"%s\"", (t)->err, s)

/* One test's image, guest memory and error buffer. */
struct fx {
	uint8_t *img;
	size_t len;
	struct setup_header *h; /* inside img: edit, then parse again */
	struct x86_bzimage bz;
	struct guest_mem m;
	int have_mem;
	char err[256];
};

/* A minimal bzImage as Linux 6.x builds it: 4 setup sectors after the boot sector,
 * protocol 2.15, relocatable, 64-bit entry, and a patterned payload; and, if low is not
 * 0, guest RAM [0, low) plus high bytes at 4 GiB if high is not 0. */
static void fx_init(struct fx *t, uint64_t low, uint64_t high)
{
	const gpa_t gpas[] = {0, X86_HIGH_RAM};
	const uint64_t sizes[] = {low, high};
	struct setup_header *h;

	memset(t, 0, sizeof(*t));
	t->len = SETUP_SIZE + PAYLOAD_SIZE;
	t->img = calloc(1, t->len);
	ck_assert_ptr_nonnull(t->img);
	h = t->h = (struct setup_header *)(t->img + X86_SETUP_HDR_OFFSET);
	h->setup_sects = SETUP_SECTS;
	h->syssize = (PAYLOAD_SIZE + 15) / 16;
	h->boot_flag = 0xaa55;
	h->jump = 0xeb | (HDR_END - 0x202) << 8;
	memcpy(&h->header, "HdrS", 4);
	h->version = 0x020f;
	h->loadflags = LOADED_HIGH;
	h->code32_start = X86_KERNEL_LOAD;
	h->initrd_addr_max = 0x7fffffff;
	h->kernel_alignment = 2 * MIB;
	h->relocatable_kernel = 1;
	h->min_alignment = 21;
	h->xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
	h->cmdline_size = CMDLINE_SIZE;
	h->pref_address = PREF_ADDRESS;
	h->init_size = INIT_SIZE;
	h->setup_data = 0x1234; /* junk the loader must not pass on */
	t->img[HDR_END] = 0x5a; /* first byte past the header: must not be copied */
	for (size_t i = 0; i < PAYLOAD_SIZE; i++)
		t->img[SETUP_SIZE + i] = (uint8_t)(i * 7 + 1);
	if (low) {
		ck_assert_int_eq(mem_init(&t->m, gpas, sizes, high ? 2 : 1, 0), 0);
		t->have_mem = 1;
	}
}

static void fx_fini(struct fx *t)
{
	if (t->have_mem)
		mem_destroy(&t->m);
	free(t->img);
}

static int parse(struct fx *t, size_t len)
{
	t->err[0] = 0;
	return x86_bzimage_parse(t->img, len, &t->bz, t->err, sizeof(t->err));
}

/* Parses the whole image (which must be good), then loads it. */
static int load(struct fx *t, const void *initrd, size_t initrd_len, const char *cmdline)
{
	ck_assert_msg(parse(t, t->len) == 0, "%s", t->err);
	return x86_boot_load(&t->m, &t->bz, t->img, initrd, initrd_len, cmdline, 0xe0000, t->err,
			     sizeof(t->err));
}

static const struct boot_params *bp_of(struct fx *t)
{
	const struct boot_params *bp = mem_gpa_to_hva(&t->m, X86_BOOT_PARAMS, sizeof(*bp));

	ck_assert_ptr_nonnull(bp);
	return bp;
}

static void assert_e820(const struct boot_e820_entry *e, uint64_t addr, uint64_t size,
			uint32_t type)
{
	ck_assert_uint_eq(e->addr, addr);
	ck_assert_uint_eq(e->size, size);
	ck_assert_uint_eq(e->type, type);
}

START_TEST(parse_good)
{
	struct fx t;

	fx_init(&t, 0, 0);
	ck_assert_int_eq(parse(&t, t.len), 0);
	ck_assert_uint_eq(t.bz.setup_size, SETUP_SIZE);
	ck_assert_uint_eq(t.bz.payload_offset, SETUP_SIZE);
	ck_assert_uint_eq(t.bz.payload_size, PAYLOAD_SIZE);
	ck_assert_uint_eq(t.bz.hdr_len, HDR_END - X86_SETUP_HDR_OFFSET);
	ck_assert_uint_eq(t.bz.version, 0x020f);
	ck_assert_uint_eq(t.bz.initrd_addr_max, 0x7fffffff);
	ck_assert_uint_eq(t.bz.cmdline_size, CMDLINE_SIZE);
	ck_assert_uint_eq(t.bz.kernel_alignment, 2 * MIB);
	ck_assert_uint_eq(t.bz.init_size, INIT_SIZE);
	ck_assert_uint_eq(t.bz.pref_address, PREF_ADDRESS);
	ck_assert(t.bz.relocatable);
	/* The header as far as it goes (the struct knows 4 bytes more). */
	ck_assert_int_eq(memcmp(&t.bz.hdr, t.h, HDR_END - X86_SETUP_HDR_OFFSET), 0);
	ck_assert_uint_eq(t.bz.hdr.kernel_info_offset, 0);

	t.h->setup_sects = 0; /* means 4 */
	ck_assert_int_eq(parse(&t, t.len), 0);
	ck_assert_uint_eq(t.bz.setup_size, 5 * 512);
	/* Signed kernels carry data past syssize; it is loaded, not rejected. */
	t.h->syssize = 16;
	ck_assert_int_eq(parse(&t, t.len), 0);
	ck_assert_uint_eq(t.bz.payload_size, PAYLOAD_SIZE);
	fx_fini(&t);
}
END_TEST

START_TEST(parse_truncated)
{
	struct fx t;

	fx_init(&t, 0, 0);
	/* Too short to even hold the magic: not a bzImage. */
	ck_assert_int_eq(parse(&t, 0), -ENOEXEC);
	ck_assert_int_eq(parse(&t, 0x100), -ENOEXEC);
	ERR_HAS(&t, "not a bzImage");
	/* Magic present, header cut. */
	ck_assert_int_eq(parse(&t, 0x210), -EINVAL);
	ck_assert_str_eq(t.err, "truncated: setup header claims 616 bytes but file has 528");
	ck_assert_int_eq(parse(&t, HDR_END - 1), -EINVAL);
	ERR_HAS(&t, "truncated: setup header");
	/* Header whole, setup sectors cut. */
	ck_assert_int_eq(parse(&t, HDR_END), -EINVAL);
	ck_assert_str_eq(t.err, "truncated: setup claims 2560 bytes but file has 616");
	ck_assert_int_eq(parse(&t, SETUP_SIZE - 1), -EINVAL);
	ERR_HAS(&t, "truncated: setup claims");
	/* Setup whole, no payload. */
	ck_assert_int_eq(parse(&t, SETUP_SIZE), -EINVAL);
	ck_assert_str_eq(t.err, "truncated: no protected-mode kernel after the 2560-byte setup");
	/* Payload cut: syssize (in 16-byte paragraphs, rounded up) says more. */
	ck_assert_int_eq(parse(&t, SETUP_SIZE + 4096), -EINVAL);
	ERR_HAS(&t, "truncated: kernel claims");
	ck_assert_int_eq(parse(&t, t.len - 1), 0);
	ck_assert_int_eq(parse(&t, t.len - 4), -EINVAL);
	fx_fini(&t);
}
END_TEST

START_TEST(parse_bad_headers_and_load_address)
{
	struct fx t;

	fx_init(&t, 0, 0);
	t.img[0x203] = 'x';
	ck_assert_int_eq(parse(&t, t.len), -ENOEXEC);
	ck_assert_str_eq(t.err, "not a bzImage (no HdrS magic)");
	t.img[0x203] = 'd';
	t.h->boot_flag = 0x55aa;
	ck_assert_int_eq(parse(&t, t.len), -ENOEXEC);
	ck_assert_str_eq(t.err, "not a bzImage (no 0xAA55 boot flag)");
	t.h->boot_flag = 0xaa55;

	t.h->version = 0x0206;
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ck_assert_str_eq(t.err, "boot protocol 2.06 too old (need 2.12)");
	t.h->version = 0x020b;
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ck_assert_str_eq(t.err, "boot protocol 2.11 too old (need 2.12)");
	t.h->version = 0x020c;
	ck_assert_int_eq(parse(&t, t.len), 0);
	t.h->jump = 0xeb | 0x50 << 8; /* a 2.12 header must reach init_size */
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ERR_HAS(&t, "setup header too short");
	t.h->jump = 0xeb | (HDR_END - 0x202) << 8;

	t.h->xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G;
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ck_assert_str_eq(t.err, "kernel has no 64-bit entry point (XLF_KERNEL_64 not set)");
	t.h->xloadflags = XLF_KERNEL_64;

	/* Not relocatable but built for 1 MiB: fine. */
	t.h->relocatable_kernel = 0;
	ck_assert_int_eq(parse(&t, t.len), 0);
	ck_assert(!t.bz.relocatable);
	t.h->code32_start = 0x200000;
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ERR_HAS(&t, "not relocatable");
	/* Relocatable: any code32_start, but a sane alignment. */
	t.h->relocatable_kernel = 1;
	ck_assert_int_eq(parse(&t, t.len), 0);
	t.h->kernel_alignment = 3 * MIB;
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ERR_HAS(&t, "kernel_alignment");
	t.h->kernel_alignment = 2 * MIB;
	t.h->loadflags = 0;
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ERR_HAS(&t, "LOADED_HIGH");
	fx_fini(&t);
}
END_TEST

START_TEST(e820_layouts)
{
	struct mem_region r[3] = {{.gpa = 0, .size = 64 * MIB},
				  {.gpa = X86_HIGH_RAM, .size = 2 * MIB},
				  {.gpa = X86_HIGH_RAM + 4 * MIB, .size = 4096}};
	struct boot_e820_entry e[X86_E820_MAX];

	ck_assert_int_eq(x86_e820_build(r, 2, e, X86_E820_MAX), 4);
	assert_e820(&e[0], 0, 0x9fc00, E820_RAM);
	assert_e820(&e[1], 0x9fc00, 0x100000 - 0x9fc00, E820_RESERVED);
	assert_e820(&e[2], 0x100000, 63 * MIB, E820_RAM);
	assert_e820(&e[3], X86_HIGH_RAM, 2 * MIB, E820_RAM);
	ck_assert_int_eq(x86_e820_build(r, 3, e, X86_E820_MAX), 5);
	assert_e820(&e[4], X86_HIGH_RAM + 4 * MIB, 4096, E820_RAM);
	ck_assert_int_eq(x86_e820_build(r, 1, e, X86_E820_MAX), 3);
	ck_assert_int_eq(x86_e820_build(r, 2, e, 3), -ENOSPC);

	r[0].size = MIB; /* nothing above 1 MiB in region 0 */
	ck_assert_int_eq(x86_e820_build(r, 1, e, X86_E820_MAX), 2);
	r[0].size = MIB - 4096;
	ck_assert_int_eq(x86_e820_build(r, 1, e, X86_E820_MAX), -EINVAL);
	r[0] = (struct mem_region){.gpa = 4096, .size = 64 * MIB};
	ck_assert_int_eq(x86_e820_build(r, 1, e, X86_E820_MAX), -EINVAL);
	r[0] = (struct mem_region){.gpa = 0, .size = 64 * MIB};
	r[1].gpa = 32 * MIB; /* overlaps region 0 */
	ck_assert_int_eq(x86_e820_build(r, 2, e, X86_E820_MAX), -EINVAL);
	ck_assert_int_eq(x86_e820_build(r, 0, e, X86_E820_MAX), -EINVAL);
}
END_TEST

START_TEST(load_good)
{
	const char *cmdline = "console=ttyS0 panic=-1";
	size_t rd_len = MIB + 123;
	uint8_t *rd = malloc(rd_len);
	struct setup_header want;
	const struct boot_params *bp;
	uint64_t rd_addr;
	struct fx t;

	fx_init(&t, 64 * MIB, 2 * MIB);
	ck_assert_ptr_nonnull(rd);
	for (size_t i = 0; i < rd_len; i++)
		rd[i] = (uint8_t)(i ^ 0xa5);
	ck_assert_int_eq(load(&t, rd, rd_len, cmdline), 0);

	ck_assert_int_eq(memcmp(mem_gpa_to_hva(&t.m, X86_KERNEL_LOAD, PAYLOAD_SIZE),
				t.img + SETUP_SIZE, PAYLOAD_SIZE),
			 0);
	ck_assert_str_eq((const char *)mem_gpa_to_hva(&t.m, X86_CMDLINE, 1), cmdline);

	/* The header is the image's up to its end, but for the loader's fields. */
	bp = bp_of(&t);
	rd_addr = bp->hdr.ramdisk_image | (uint64_t)bp->ext_ramdisk_image << 32;
	memset(&want, 0, sizeof(want));
	memcpy(&want, t.h, HDR_END - X86_SETUP_HDR_OFFSET);
	want.type_of_loader = 0xff;
	want.loadflags = LOADED_HIGH | CAN_USE_HEAP;
	want.heap_end_ptr = 0xde00;
	want.cmd_line_ptr = X86_CMDLINE;
	want.code32_start = X86_KERNEL_LOAD;
	want.setup_data = 0;
	want.ramdisk_image = (uint32_t)rd_addr;
	want.ramdisk_size = (uint32_t)rd_len;
	ck_assert_int_eq(memcmp(&bp->hdr, &want, sizeof(want)), 0);
	ck_assert_uint_eq(((const uint8_t *)bp)[HDR_END], 0);
	ck_assert_uint_eq(bp->ext_cmd_line_ptr, 0);
	ck_assert_uint_eq(bp->acpi_rsdp_addr, 0xe0000);
	ck_assert_uint_eq(bp->sentinel, 0);

	/* e820: low RAM, reserved BIOS area, RAM above 1 MiB, high RAM. */
	ck_assert_uint_eq(bp->e820_entries, 4);
	assert_e820(&bp->e820_table[0], 0, X86_EBDA_START, E820_RAM);
	assert_e820(&bp->e820_table[1], X86_EBDA_START, MIB - X86_EBDA_START, E820_RESERVED);
	assert_e820(&bp->e820_table[2], MIB, 63 * MIB, E820_RAM);
	assert_e820(&bp->e820_table[3], X86_HIGH_RAM, 2 * MIB, E820_RAM);

	/* initrd: page aligned, as high as possible in low RAM, above the kernel. */
	ck_assert_uint_eq(rd_addr, (64 * MIB - rd_len) & ~4095ULL);
	ck_assert_uint_ge(rd_addr, KERNEL_END);
	ck_assert_uint_eq(bp->ext_ramdisk_size, 0);
	ck_assert_int_eq(memcmp(mem_gpa_to_hva(&t.m, rd_addr, rd_len), rd, rd_len), 0);
	free(rd);
	fx_fini(&t);
}
END_TEST

START_TEST(load_defaults_and_initrd_addr_max)
{
	uint8_t rd[5000] = {1, 2, 3};
	uint64_t addr;
	struct fx t;

	fx_init(&t, 1024 * MIB, 0);
	ck_assert_int_eq(load(&t, NULL, 0, NULL), 0);
	ck_assert_uint_eq(bp_of(&t)->hdr.ramdisk_image, 0);
	ck_assert_uint_eq(bp_of(&t)->hdr.ramdisk_size, 0);
	ck_assert_uint_eq(bp_of(&t)->e820_entries, 3);
	ck_assert_str_eq((const char *)mem_gpa_to_hva(&t.m, X86_CMDLINE, 1), "");

	/* The initrd may occupy bytes up to initrd_addr_max inclusive. */
	t.h->initrd_addr_max = 512 * MIB - 1;
	ck_assert_int_eq(load(&t, rd, sizeof(rd), ""), 0);
	ck_assert_uint_eq(bp_of(&t)->hdr.ramdisk_image, 512 * MIB - 8192);
	/* The same placement without guest memory. */
	ck_assert_int_eq(x86_boot_plan(&t.bz, 1024 * MIB, sizeof(rd), "", &addr, t.err, 256), 0);
	ck_assert_uint_eq(addr, 512 * MIB - 8192);
	fx_fini(&t);
}
END_TEST

START_TEST(load_cmdline_too_long)
{
	char *big = malloc(X86_CMDLINE_MAX + 1);
	struct fx t;

	fx_init(&t, 32 * MIB, 0);
	t.h->cmdline_size = 16;
	ck_assert_int_eq(load(&t, NULL, 0, "0123456789abcdefg"), -E2BIG);
	ck_assert_str_eq(t.err, "command line is 17 bytes but the kernel accepts at most 16");
	ck_assert_uint_eq(bp_of(&t)->hdr.boot_flag, 0); /* nothing written on failure */
	ck_assert_int_eq(load(&t, NULL, 0, "0123456789abcdef"), 0);
	ck_assert_str_eq((const char *)mem_gpa_to_hva(&t.m, X86_CMDLINE, 1), "0123456789abcdef");

	/* The kernel would take more than the VMM has room for. */
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', X86_CMDLINE_MAX);
	big[X86_CMDLINE_MAX] = 0;
	t.h->cmdline_size = 0xffffffff;
	ck_assert_int_eq(load(&t, NULL, 0, big), -E2BIG);
	ck_assert_str_eq(t.err, "command line is 65536 bytes, at most 65535 fit");
	big[X86_CMDLINE_MAX - 1] = 0;
	ck_assert_int_eq(load(&t, NULL, 0, big), 0);
	free(big);
	fx_fini(&t);
}
END_TEST

START_TEST(load_initrd_too_big)
{
	size_t room = 64 * MIB - KERNEL_END; /* page aligned */
	uint8_t *rd = calloc(1, room + 1);
	struct fx t;

	fx_init(&t, 64 * MIB, 0);
	ck_assert_ptr_nonnull(rd);
	ck_assert_int_eq(load(&t, rd, room + 1, ""), -ENOSPC);
	ck_assert_str_eq(t.err, "initrd (41 MiB) does not fit below 0x4000000 (40 MiB free above "
				"the kernel, which ends at 0x1800000)");
	/* Exactly the room there is: placed right at the kernel's end. */
	ck_assert_int_eq(load(&t, rd, room, ""), 0);
	ck_assert_uint_eq(bp_of(&t)->hdr.ramdisk_image, KERNEL_END);
	free(rd);
	fx_fini(&t);
}
END_TEST

START_TEST(load_kernel_too_big)
{
	struct fx t;

	/* Runs at pref_address (16 MiB): beyond a 16 MiB guest. */
	fx_init(&t, 16 * MIB, 0);
	ck_assert_int_eq(load(&t, NULL, 0, ""), -ENOSPC);
	ERR_HAS(&t, "does not fit in low RAM");
	/* Loaded at 1 MiB, runs at 2 MiB (kernel_alignment), and init_size from there
	 * reaches past 16 MiB. */
	t.h->pref_address = X86_KERNEL_LOAD;
	t.h->init_size = 14 * MIB + 4096;
	ck_assert_int_eq(load(&t, NULL, 0, ""), -ENOSPC);
	ck_assert_str_eq(t.err, "kernel needs memory up to 0x1001000 (init_size 14 MiB) but low "
				"RAM ends at 0x1000000");
	t.h->init_size = 14 * MIB;
	ck_assert_int_eq(load(&t, NULL, 0, ""), 0);
	fx_fini(&t);
}
END_TEST

START_TEST(page_tables_and_gdt)
{
	const gpa_t gpa0 = 0;
	const uint64_t tiny_size = 0x8000; /* ends below the page tables */
	struct guest_mem tiny;
	const uint64_t *gdt, *pml4, *pdpt, *pd;
	struct fx t;

	fx_init(&t, 2 * MIB, 0);
	memset(mem_gpa_to_hva(&t.m, X86_PAGE_TABLES, 0x6000), 0xff, 0x6000); /* stale tables */
	ck_assert_int_eq(x86_boot_page_tables(&t.m), 0);
	gdt = mem_gpa_to_hva(&t.m, X86_GDT_ADDR, 32);
	ck_assert(gdt[0] == 0 && gdt[1] == 0);
	ck_assert_uint_eq(gdt[X86_BOOT_CS / 8], 0x00af9b000000ffffULL);
	ck_assert_uint_eq(gdt[X86_BOOT_DS / 8], 0x00cf93000000ffffULL);

	pml4 = mem_gpa_to_hva(&t.m, X86_PAGE_TABLES, 4096);
	pdpt = pml4 + 512;
	pd = pml4 + 1024;
	ck_assert_uint_eq(pml4[0], (X86_PAGE_TABLES + 0x1000) | 3); /* P, RW */
	for (int i = 1; i < 512; i++)
		ck_assert_uint_eq(pml4[i], 0);
	for (int i = 0; i < 512; i++)
		ck_assert_uint_eq(pdpt[i], i < 4 ? (X86_PAGE_TABLES + 0x2000 + i * 0x1000) | 3 : 0);
	for (int i = 0; i < 2048; i++)
		ck_assert_uint_eq(pd[i], ((uint64_t)i << 21) | 0x83); /* P, RW, PS */
	ck_assert_uint_eq(pd[2047] & ~0xfffULL, 4096 * MIB - 2 * MIB);

	ck_assert_int_eq(mem_init(&tiny, &gpa0, &tiny_size, 1, 0), 0);
	ck_assert_int_eq(x86_boot_page_tables(&tiny), -EFAULT);
	mem_destroy(&tiny);
	fx_fini(&t);
}
END_TEST

START_TEST(regs_long_mode)
{
	/* Roughly what KVM_GET_SREGS gives for a fresh vCPU. */
	struct kvm_sregs s = {.cr0 = 0x60000010,
			      .tr = {.type = 11, .present = 1, .limit = 0xffff},
			      .apic_base = 0xfee00900};
	const struct kvm_segment *segs[] = {&s.ds, &s.es, &s.fs, &s.gs, &s.ss};
	struct kvm_regs r;

	memset(&r, 0x55, sizeof(r));
	x86_boot_regs(&s, &r);
	ck_assert_uint_eq(s.cr0, 0x80000011); /* PG | ET | PE; CD and NW cleared */
	ck_assert_uint_eq(s.cr3, X86_PAGE_TABLES);
	ck_assert_uint_eq(s.cr4, 0x20);	  /* PAE */
	ck_assert_uint_eq(s.efer, 0x500); /* LMA | LME */
	ck_assert(s.gdt.base == X86_GDT_ADDR && s.gdt.limit == 31);
	ck_assert(s.cs.selector == 0x10 && s.cs.type == 11 && s.cs.base == 0);
	ck_assert(s.cs.l && !s.cs.db && s.cs.present && s.cs.s && s.cs.g);
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		ck_assert(segs[i]->selector == 0x18 && segs[i]->type == 3);
		ck_assert(segs[i]->present && segs[i]->s && segs[i]->db && segs[i]->g);
		ck_assert(!segs[i]->l && segs[i]->limit == 0xffffffff);
	}
	ck_assert(s.tr.type == 11 && s.apic_base == 0xfee00900); /* untouched */
	ck_assert(r.rip == 0x100200 && r.rsi == X86_BOOT_PARAMS && r.rflags == 2);
	ck_assert_uint_eq(r.rax | r.rbx | r.rcx | r.rdx | r.rdi | r.rsp | r.rbp | r.r15, 0);
}
END_TEST

/* Reads a whole file into *buf; returns its size, 0 if it cannot. */
static size_t read_file(const char *path, uint8_t **buf)
{
	FILE *f = fopen(path, "rb");
	long n = f && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
	size_t len = 0;

	*buf = n > 0 ? malloc((size_t)n) : NULL;
	if (*buf && fseek(f, 0, SEEK_SET) == 0 && fread(*buf, 1, (size_t)n, f) == (size_t)n)
		len = (size_t)n;
	if (f)
		fclose(f);
	if (!len)
		free(*buf);
	return len;
}

/* A real kernel, if this machine has one: $MINIVMM_TEST_BZIMAGE, /boot/vmlinuz-*, or
 * the test-bed kernel guest-images/build-kernel.sh caches. Returns its size, 0 if none. */
static size_t read_real_kernel(uint8_t **img, char *path, size_t pathlen)
{
	const char *env = getenv("MINIVMM_TEST_BZIMAGE"), *home = getenv("HOME");
	char cache[512];
	size_t len = 0;
	glob_t g;

	if (env && *env) {
		snprintf(path, pathlen, "%s", env);
		return read_file(env, img);
	}
	snprintf(cache, sizeof(cache), "%s/.cache/minivmm/kernel-*/bzImage", home ? home : "");
	glob("/boot/vmlinuz-*", 0, NULL, &g);
	glob(cache, GLOB_APPEND, NULL, &g);
	for (size_t i = 0; i < g.gl_pathc && !len; i++) {
		snprintf(path, pathlen, "%s", g.gl_pathv[i]);
		len = read_file(path, img);
	}
	globfree(&g);
	return len;
}

START_TEST(real_bzimage)
{
	const uint8_t rd[4096] = {0x1f, 0x8b};
	char path[512];
	uint8_t *img = NULL;
	size_t len = read_real_kernel(&img, path, sizeof(path));
	struct fx t;

	if (!len)
		UNIT_SKIP("no readable bzImage ($MINIVMM_TEST_BZIMAGE, /boot/vmlinuz-*, "
			  "~/.cache/minivmm/kernel-*/bzImage)");
	fx_init(&t, 512 * MIB, 0);
	free(t.img);
	t.img = img;
	t.len = len;
	ck_assert_msg(parse(&t, len) == 0, "%s: %s", path, t.err);
	ck_assert(t.bz.version >= 0x020c && t.bz.cmdline_size >= 255);
	ck_assert(t.bz.payload_size > 0 && t.bz.init_size >= t.bz.payload_size);
	ck_assert_msg(load(&t, rd, sizeof(rd), "console=ttyS0") == 0, "%s: %s", path, t.err);
	ck_assert_int_eq(memcmp(mem_gpa_to_hva(&t.m, X86_KERNEL_LOAD, t.bz.payload_size),
				img + t.bz.payload_offset, t.bz.payload_size),
			 0);
	fx_fini(&t);
}
END_TEST

Suite *boot_suite(void)
{
	Suite *s = suite_create("boot");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, parse_good);
	tcase_add_test(tc, parse_truncated);
	tcase_add_test(tc, parse_bad_headers_and_load_address);
	tcase_add_test(tc, real_bzimage);
	tcase_add_test(tc, e820_layouts);
	tcase_add_test(tc, load_good);
	tcase_add_test(tc, load_defaults_and_initrd_addr_max);
	tcase_add_test(tc, load_cmdline_too_long);
	tcase_add_test(tc, load_initrd_too_big);
	tcase_add_test(tc, load_kernel_too_big);
	tcase_add_test(tc, page_tables_and_gdt);
	tcase_add_test(tc, regs_long_mode);
	suite_add_tcase(s, tc);
	return s;
}
