/* PVH boot of an ELF vmlinux (arch/x86/pvh.c): parsing, the load into anonymous guest
 * memory (segments, bss, start info, module, memory map, RSDP), every refusal with its
 * message, the 32-bit entry state, and arch_check_kernel() telling the two kinds apart. */
#include "tests/unit/unit.h"
#include "tests/unit/tiny_vmlinux.h"
#include "arch/arch.h"
#include "arch/x86/boot.h"
#include "arch/x86/layout.h"
#include "arch/x86/pvh.h"
#include "vmm/config.h"
#include "vmm/mem.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <asm/processor-flags.h>

#define MIB	 (1ULL << 20)
#define TEXT	 0x1000000ULL /* where Linux puts it (CONFIG_PHYSICAL_START) */
#define DATA	 0x1400000ULL
#define TEXT_LEN 0x3000
#define DATA_LEN 0x1000
#define BSS_LEN	 0x4000
#define ENTRY	 (TEXT + 0x40)
#define CMDLINE	 "console=ttyS0 pvh"

/* One test's vmlinux, guest memory and error buffer. */
struct fx {
	uint8_t text[TEXT_LEN], data[DATA_LEN];
	struct tv_seg segs[2];
	uint8_t *img;
	size_t len;
	struct tv_layout lay;
	struct x86_pvh pvh;
	struct guest_mem m;
	int have_mem;
	char err[256];
};

#define ERR_HAS(t, s) ck_assert_msg(strstr((t)->err, s), "error \"%s\" lacks \"%s\"", (t)->err, s)

/* Text and data+bss segments (patterned), entry in the text, an 8-byte entry note as
 * Linux x86-64 has; guest RAM [0, low) and high bytes at 4 GiB if high is not 0. */
static void fx_init(struct fx *t, uint64_t low, uint64_t high)
{
	const gpa_t gpas[] = {0, X86_HIGH_RAM};
	const uint64_t sizes[] = {low, high};
	size_t i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < TEXT_LEN; i++)
		t->text[i] = (uint8_t)(i * 7 + 1);
	for (i = 0; i < DATA_LEN; i++)
		t->data[i] = (uint8_t)(i * 13 + 5);
	t->segs[0] = (struct tv_seg){TEXT, TEXT_LEN, t->text, TEXT_LEN};
	t->segs[1] = (struct tv_seg){DATA, DATA_LEN + BSS_LEN, t->data, DATA_LEN};
	t->img = tv_build(t->segs, 2, (uint32_t)ENTRY, 8, &t->len, &t->lay);
	ck_assert_ptr_nonnull(t->img);
	if (low) {
		ck_assert_int_eq(mem_init(&t->m, gpas, sizes, high ? 2 : 1, 0), 0);
		t->have_mem = 1;
	}
}

/* Rebuilds the image from t->segs with another entry and note size. */
static void fx_rebuild(struct fx *t, uint32_t entry, unsigned int note_descsz)
{
	free(t->img);
	t->img = tv_build(t->segs, 2, entry, note_descsz, &t->len, &t->lay);
	ck_assert_ptr_nonnull(t->img);
}

static void fx_fini(struct fx *t)
{
	free(t->img);
	if (t->have_mem)
		mem_destroy(&t->m);
}

static int parse(struct fx *t, size_t len)
{
	t->err[0] = 0;
	return x86_pvh_parse(t->img, len, &t->pvh, t->err, sizeof(t->err));
}

static int load(struct fx *t, const void *initrd, size_t initrd_len, const char *cmdline)
{
	t->err[0] = 0;
	return x86_pvh_load(&t->m, &t->pvh, t->img, initrd, initrd_len, cmdline, X86_ACPI_BASE,
			    t->err, sizeof(t->err));
}

static Elf64_Phdr *phdr(struct fx *t, int i)
{
	return (Elf64_Phdr *)(t->img + t->lay.phoff + (size_t)i * sizeof(Elf64_Phdr));
}

static void assert_memmap(const struct hvm_memmap_table_entry *e, uint64_t addr, uint64_t size,
			  uint32_t type)
{
	ck_assert_uint_eq(e->addr, addr);
	ck_assert_uint_eq(e->size, size);
	ck_assert_uint_eq(e->type, type);
	ck_assert_uint_eq(e->reserved, 0);
}

START_TEST(parse_good)
{
	struct fx t;

	fx_init(&t, 0, 0);
	ck_assert_int_eq(parse(&t, t.len), 0);
	ck_assert_uint_eq(t.pvh.entry, ENTRY);
	ck_assert_int_eq(t.pvh.nr_segs, 2);
	ck_assert_uint_eq(t.pvh.start, TEXT);
	ck_assert_uint_eq(t.pvh.end, DATA + DATA_LEN + BSS_LEN);
	ck_assert_uint_eq(t.pvh.seg[1].paddr, DATA);
	ck_assert_uint_eq(t.pvh.seg[1].filesz, DATA_LEN);
	ck_assert_uint_eq(t.pvh.seg[1].memsz, DATA_LEN + BSS_LEN);
	ck_assert_uint_eq(t.pvh.seg[1].offset, t.lay.seg_off[1]);
	/* A 4-byte note (as the Xen document has it) works the same. */
	fx_rebuild(&t, (uint32_t)ENTRY, 4);
	ck_assert_int_eq(parse(&t, t.len), 0);
	ck_assert_uint_eq(t.pvh.entry, ENTRY);
	ck_assert(x86_elf_magic(t.img, t.len));
	ck_assert(!x86_elf_magic(t.img, 3));
	fx_fini(&t);
}
END_TEST

START_TEST(load_good)
{
	static uint8_t initrd[MIB + 123];
	const uint64_t low = 64 * MIB;
	struct hvm_start_info si;
	struct hvm_modlist_entry mod;
	struct hvm_memmap_table_entry mm[3];
	const uint8_t *p;
	uint8_t *bss;
	uint64_t gdt[5];
	struct fx t;
	size_t i;

	for (i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i * 3 + 11);
	fx_init(&t, low, 0);
	ck_assert_int_eq(parse(&t, t.len), 0);
	/* What was there before must not survive in the bss. */
	bss = mem_gpa_to_hva(&t.m, DATA + DATA_LEN, BSS_LEN);
	ck_assert_ptr_nonnull(bss);
	memset(bss, 0xaa, BSS_LEN);
	ck_assert_int_eq(load(&t, initrd, sizeof(initrd), CMDLINE), 0);

	p = mem_gpa_to_hva(&t.m, TEXT, TEXT_LEN);
	ck_assert_mem_eq(p, t.text, TEXT_LEN);
	p = mem_gpa_to_hva(&t.m, DATA, DATA_LEN);
	ck_assert_mem_eq(p, t.data, DATA_LEN);
	for (i = 0; i < BSS_LEN; i++)
		ck_assert_uint_eq(bss[i], 0);

	ck_assert_int_eq(mem_read(&t.m, X86_PVH_START_INFO, &si, sizeof(si)), 0);
	ck_assert_uint_eq(si.magic, 0x336ec578);
	ck_assert_uint_eq(si.version, 1);
	ck_assert_uint_eq(si.flags, 0);
	ck_assert_uint_eq(si.rsdp_paddr, X86_ACPI_BASE);
	p = mem_gpa_to_hva(&t.m, si.cmdline_paddr, sizeof(CMDLINE));
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq((const char *)p, CMDLINE);

	ck_assert_uint_eq(si.nr_modules, 1);
	ck_assert_int_eq(mem_read(&t.m, si.modlist_paddr, &mod, sizeof(mod)), 0);
	ck_assert_uint_eq(mod.size, sizeof(initrd));
	ck_assert_uint_eq(mod.paddr % 4096, 0);
	ck_assert_uint_ge(mod.paddr, t.pvh.end);
	ck_assert_uint_le(mod.paddr + mod.size, low);
	ck_assert_uint_gt(mod.paddr + mod.size, low - 4096); /* as high as it goes */
	ck_assert_uint_eq(mod.cmdline_paddr, 0);
	p = mem_gpa_to_hva(&t.m, mod.paddr, mod.size);
	ck_assert_mem_eq(p, initrd, sizeof(initrd));

	ck_assert_uint_eq(si.memmap_entries, 3);
	ck_assert_int_eq(mem_read(&t.m, si.memmap_paddr, mm, sizeof(mm)), 0);
	assert_memmap(&mm[0], 0, X86_EBDA_START, 1);
	assert_memmap(&mm[1], X86_EBDA_START, X86_KERNEL_LOAD - X86_EBDA_START, 2);
	assert_memmap(&mm[2], X86_KERNEL_LOAD, low - X86_KERNEL_LOAD, 1);

	/* The GDT whose descriptors the entry state mirrors. */
	ck_assert_int_eq(mem_read(&t.m, X86_GDT_ADDR, gdt, sizeof(gdt)), 0);
	ck_assert_uint_eq(gdt[X86_PVH_CS / 8], 0x00cf9b000000ffffULL);
	ck_assert_uint_eq(gdt[X86_PVH_DS / 8], 0x00cf93000000ffffULL);
	ck_assert_uint_eq(gdt[X86_PVH_TR / 8], 0x00008b0000000067ULL);
	fx_fini(&t);
}
END_TEST

/* Two RAM regions, no initrd, no command line: 4 memory map entries, no module. */
START_TEST(load_high_ram_no_initrd)
{
	struct hvm_memmap_table_entry mm[4];
	struct hvm_start_info si;
	struct fx t;

	fx_init(&t, 32 * MIB, 2 * MIB);
	ck_assert_int_eq(parse(&t, t.len), 0);
	ck_assert_int_eq(load(&t, NULL, 0, NULL), 0);
	ck_assert_int_eq(mem_read(&t.m, X86_PVH_START_INFO, &si, sizeof(si)), 0);
	ck_assert_uint_eq(si.nr_modules, 0);
	ck_assert_uint_eq(si.modlist_paddr, 0);
	ck_assert_str_eq((const char *)mem_gpa_to_hva(&t.m, si.cmdline_paddr, 1), "");
	ck_assert_uint_eq(si.memmap_entries, 4);
	ck_assert_int_eq(mem_read(&t.m, si.memmap_paddr, mm, sizeof(mm)), 0);
	assert_memmap(&mm[2], X86_KERNEL_LOAD, 32 * MIB - X86_KERNEL_LOAD, 1);
	assert_memmap(&mm[3], X86_HIGH_RAM, 2 * MIB, 1);
	fx_fini(&t);
}
END_TEST

START_TEST(refuse_no_pvh_note)
{
	struct fx t;

	fx_init(&t, 0, 0);
	fx_rebuild(&t, (uint32_t)ENTRY, 0); /* no PT_NOTE */
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ERR_HAS(&t, "ELF file without a PVH entry point");
	ERR_HAS(&t, "CONFIG_PVH=y");
	/* A note of that type from another vendor is not it. */
	fx_rebuild(&t, (uint32_t)ENTRY, 4);
	memcpy(t.img + t.lay.note_off + sizeof(Elf64_Nhdr), "Xem", 4);
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ERR_HAS(&t, "without a PVH entry point");
	/* The right note with an odd value size, or a value beyond 32 bits. */
	fx_rebuild(&t, (uint32_t)ENTRY, 8);
	((Elf64_Nhdr *)(t.img + t.lay.note_off))->n_descsz = 2;
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ERR_HAS(&t, "PVH entry note has a 2-byte value (4 or 8 expected)");
	fx_rebuild(&t, (uint32_t)ENTRY, 8);
	t.img[t.lay.note_off + sizeof(Elf64_Nhdr) + 4 + 4] = 1;
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ERR_HAS(&t, "PVH entry 0x101000040 is not a 32-bit address");
	/* A note whose sizes run past its segment. */
	fx_rebuild(&t, (uint32_t)ENTRY, 8);
	((Elf64_Nhdr *)(t.img + t.lay.note_off))->n_descsz = 0x1000;
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ERR_HAS(&t, "note at offset 0x0 of program header 2 runs past its segment");
	fx_fini(&t);
}
END_TEST

START_TEST(refuse_truncated)
{
	struct fx t;

	fx_init(&t, 0, 0);
	ck_assert_int_eq(parse(&t, 40), -EINVAL);
	ERR_HAS(&t, "truncated: ELF header needs 64 bytes but file has 40");
	ck_assert_int_eq(parse(&t, t.lay.phoff + sizeof(Elf64_Phdr)), -EINVAL);
	ERR_HAS(&t, "truncated: program headers end at 0xe8 but file has 120 bytes");
	ck_assert_int_eq(parse(&t, t.lay.seg_off[1] + 10), -EINVAL);
	ERR_HAS(&t, "truncated: segment of program header 1");
	ERR_HAS(&t, "goes past the end of the file");
	ck_assert_int_eq(parse(&t, t.lay.note_off + 8), -EINVAL);
	ERR_HAS(&t, "truncated: segment of program header 0");
	/* Only the notes cut: load segments that stay inside the file. */
	phdr(&t, 2)->p_offset = t.len - 8;
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ERR_HAS(&t, "truncated: notes of program header 2 go past the end of the file");
	fx_fini(&t);
}
END_TEST

START_TEST(refuse_bad_segments)
{
	struct fx t;

	fx_init(&t, 0, 0);
	t.segs[1].paddr = TEXT + 0x2000;
	fx_rebuild(&t, (uint32_t)ENTRY, 8);
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ERR_HAS(&t, "segments of program headers 0 (0x1000000-0x1002fff) and 1 "
		    "(0x1002000-0x1006fff) overlap");
	fx_rebuild(&t, (uint32_t)ENTRY, 8);
	t.segs[1].paddr = DATA;
	fx_rebuild(&t, (uint32_t)ENTRY, 8);
	phdr(&t, 1)->p_filesz = DATA_LEN + BSS_LEN + 1;
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ERR_HAS(&t, "program header 1: file size 0x5001 exceeds memory size 0x5000");
	fx_rebuild(&t, (uint32_t)ENTRY, 8);
	phdr(&t, 1)->p_paddr = UINT64_MAX - 0x100;
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ERR_HAS(&t, "overflows");
	fx_fini(&t);
}
END_TEST

START_TEST(refuse_32bit_and_wrong_machine)
{
	struct fx t;

	fx_init(&t, 0, 0);
	t.img[EI_CLASS] = ELFCLASS32;
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ERR_HAS(&t, "ELF class 1 is not 64-bit");
	t.img[EI_CLASS] = ELFCLASS64;
	((Elf64_Ehdr *)t.img)->e_machine = EM_386;
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ERR_HAS(&t, "ELF machine 3 is not x86-64 (62)");
	((Elf64_Ehdr *)t.img)->e_machine = EM_X86_64;
	((Elf64_Ehdr *)t.img)->e_type = ET_DYN;
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ERR_HAS(&t, "ELF type 3 is not an executable (ET_EXEC)");
	((Elf64_Ehdr *)t.img)->e_type = ET_EXEC;
	t.img[EI_DATA] = ELFDATA2MSB;
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ERR_HAS(&t, "not little endian");
	memcpy(t.img,
	       "\x7f"
	       "ELX",
	       4);
	ck_assert_int_eq(parse(&t, t.len), -ENOEXEC);
	ERR_HAS(&t, "not an ELF file");
	fx_fini(&t);
}
END_TEST

START_TEST(refuse_entry_outside_segments)
{
	struct fx t;

	fx_init(&t, 0, 0);
	fx_rebuild(&t, 0x3000000, 8);
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ERR_HAS(&t, "PVH entry 0x3000000 is outside the loaded segments (0x1000000-0x1404fff)");
	/* In the bss there is no code either. */
	fx_rebuild(&t, (uint32_t)(DATA + DATA_LEN + 0x10), 8);
	ck_assert_int_eq(parse(&t, t.len), -EINVAL);
	ERR_HAS(&t, "outside the loaded segments");
	fx_fini(&t);
}
END_TEST

START_TEST(refuse_segment_outside_ram)
{
	struct fx t;

	fx_init(&t, 16 * MIB, 0);
	ck_assert_int_eq(parse(&t, t.len), 0);
	ck_assert_int_eq(load(&t, NULL, 0, NULL), -ENOSPC);
	ERR_HAS(&t, "segment of program header 0 (0x1000000-0x1002fff) is outside guest RAM "
		    "(low RAM ends at 0x1000000");
	/* Nothing was written: the checks come first. */
	ck_assert_uint_eq(*(uint32_t *)mem_gpa_to_hva(&t.m, X86_PVH_START_INFO, 4), 0);
	fx_fini(&t);
}
END_TEST

/* Each fixed area of layout.h refuses a segment over it, with its name. */
START_TEST(refuse_fixed_areas)
{
	static const struct {
		uint64_t paddr;
		const char *what;
	} cases[] = {
	    {0x0, "boot GDT"},
	    {0x7800, "PVH start info"},
	    {0xa000, "boot page tables"},
	    {0x2f000, "command line"},
	    {X86_ACPI_BASE, "BIOS area (ACPI tables, reset stub)"},
	    {0xff000, "BIOS area"},
	};
	struct fx t;
	size_t i;

	fx_init(&t, 32 * MIB, 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t.segs[1].paddr = cases[i].paddr;
		fx_rebuild(&t, (uint32_t)ENTRY, 8);
		ck_assert_int_eq(parse(&t, t.len), 0);
		ck_assert_int_eq(load(&t, NULL, 0, NULL), -EINVAL);
		ERR_HAS(&t, "segment of program header 1");
		ERR_HAS(&t, cases[i].what);
	}
	/* Between them it is fine. */
	t.segs[1].paddr = 0x30000;
	fx_rebuild(&t, (uint32_t)ENTRY, 8);
	ck_assert_int_eq(parse(&t, t.len), 0);
	ck_assert_int_eq(load(&t, NULL, 0, NULL), 0);
	fx_fini(&t);
}
END_TEST

/* The check at start answers as the load does, with the same messages, and writes
 * nothing. */
START_TEST(check_answers_as_load_writing_nothing)
{
	static char cmdline[X86_CMDLINE_MAX + 1];
	struct fx t;
	char err2[256];

	fx_init(&t, 32 * MIB, 0);
	ck_assert_int_eq(parse(&t, t.len), 0);
	ck_assert_int_eq(
	    x86_pvh_check(&t.m, &t.pvh, 11 * MIB, "console=ttyS0", t.err, sizeof(t.err)), 0);
	ck_assert_uint_eq(*(uint8_t *)mem_gpa_to_hva(&t.m, TEXT, 1), 0);
	ck_assert_int_eq(x86_pvh_check(&t.m, &t.pvh, 12 * MIB, NULL, err2, sizeof(err2)), -ENOSPC);
	ck_assert_int_eq(load(&t, NULL, 12 * MIB, NULL), -EINVAL); /* no data: its own check */
	memset(cmdline, 'a', X86_CMDLINE_MAX);
	ck_assert_int_eq(x86_pvh_check(&t.m, &t.pvh, 0, cmdline, err2, sizeof(err2)), -E2BIG);
	ck_assert_int_eq(load(&t, NULL, 0, cmdline), -E2BIG);
	ck_assert_str_eq(err2, t.err);
	fx_fini(&t);
	fx_init(&t, 16 * MIB, 0); /* the text segment lies beyond RAM */
	ck_assert_int_eq(parse(&t, t.len), 0);
	ck_assert_int_eq(x86_pvh_check(&t.m, &t.pvh, 0, NULL, err2, sizeof(err2)), -ENOSPC);
	ck_assert_int_eq(load(&t, NULL, 0, NULL), -ENOSPC);
	ck_assert_str_eq(err2, t.err);
	fx_fini(&t);
}
END_TEST

START_TEST(refuse_initrd_and_cmdline)
{
	static char cmdline[X86_CMDLINE_MAX + 1];
	struct fx t;
	uint8_t *big;

	fx_init(&t, 32 * MIB, 0);
	ck_assert_int_eq(parse(&t, t.len), 0);
	big = calloc(1, 12 * MIB);
	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(load(&t, big, 12 * MIB, NULL), -ENOSPC);
	ERR_HAS(&t, "initrd (12 MiB) does not fit below 0x2000000 (11 MiB free above the kernel, "
		    "which ends at 0x1405000)");
	ck_assert_int_eq(load(&t, big, 11 * MIB, NULL), 0);
	free(big);
	memset(cmdline, 'a', X86_CMDLINE_MAX);
	ck_assert_int_eq(load(&t, NULL, 0, cmdline), -E2BIG);
	ERR_HAS(&t, "command line is 65536 bytes, at most 65535 fit");
	fx_fini(&t);
}
END_TEST

START_TEST(regs_protected_mode)
{
	struct kvm_sregs s;
	struct kvm_regs r;

	memset(&s, 0xff, sizeof(s));
	s.apic_base = 0xfee00900;
	x86_pvh_regs(&s, &r, 0x1000040);
	ck_assert_uint_eq(r.rip, 0x1000040);
	ck_assert_uint_eq(r.rbx, X86_PVH_START_INFO);
	ck_assert_uint_eq(r.rflags, 2);
	ck_assert_uint_eq(r.rsp, 0);
	ck_assert_uint_eq(s.cr0, X86_CR0_PE | X86_CR0_ET);
	ck_assert_uint_eq(s.cr4, 0);
	ck_assert_uint_eq(s.cr3, 0);
	ck_assert_uint_eq(s.efer, 0);
	ck_assert_uint_eq(s.cs.base, 0);
	ck_assert_uint_eq(s.cs.limit, 0xffffffff);
	ck_assert_uint_eq(s.cs.type, 0xb);
	ck_assert(s.cs.s && s.cs.db && s.cs.g && s.cs.present && !s.cs.l && !s.cs.dpl);
	ck_assert_uint_eq(s.cs.selector, X86_PVH_CS);
	ck_assert_uint_eq(s.ss.type, 3);
	ck_assert(s.ss.s && s.ss.db && s.ss.g && s.ss.present);
	ck_assert_mem_eq(&s.ds, &s.ss, sizeof(s.ss));
	ck_assert_mem_eq(&s.es, &s.ss, sizeof(s.ss));
	ck_assert_mem_eq(&s.fs, &s.ss, sizeof(s.ss));
	ck_assert_mem_eq(&s.gs, &s.ss, sizeof(s.ss));
	ck_assert_uint_eq(s.tr.base, 0);
	ck_assert_uint_eq(s.tr.limit, 0x67);
	ck_assert_uint_eq(s.tr.type, 0xb);
	ck_assert(s.tr.present && !s.tr.s);
	ck_assert_uint_eq(s.gdt.base, X86_GDT_ADDR);
	ck_assert_uint_eq(s.gdt.limit, X86_PVH_GDT_SIZE - 1);
	ck_assert_uint_eq(s.apic_base, 0xfee00900); /* untouched */
}
END_TEST

/* The dry check before KVM: either kind, said which; a vmlinux refused as the load
 * would refuse it. */
START_TEST(check_kernel_tells_the_kinds_apart)
{
	struct config cfg;
	struct boot_files bf = {0};
	char what[160] = "", err[512] = "";
	struct fx t;
	uint8_t junk[600] = {0};

	memset(&cfg, 0, sizeof(cfg));
	cfg.memory = 64 * MIB;
	cfg.vcpus = 2;
	snprintf(cfg.kernel, sizeof(cfg.kernel), "/k/vmlinux");
	snprintf(cfg.cmdline, sizeof(cfg.cmdline), "console=ttyS0");
	fx_init(&t, 0, 0);
	bf.kernel = t.img;
	bf.kernel_len = t.len;
	ck_assert_int_eq(arch_check_kernel(&bf, &cfg, what, sizeof(what), err, sizeof(err)), 0);
	ck_assert_str_eq(what, "vmlinux (ELF, PVH entry 0x1000040, 2 segments at "
			       "0x1000000-0x1404fff)");

	cfg.memory = 16 * MIB;
	ck_assert_int_eq(arch_check_kernel(&bf, &cfg, what, sizeof(what), err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "kernel /k/vmlinux: segment of program header 0"), "%s", err);

	cfg.memory = 64 * MIB;
	fx_rebuild(&t, (uint32_t)ENTRY, 0);
	bf.kernel = t.img;
	bf.kernel_len = t.len;
	ck_assert_int_eq(arch_check_kernel(&bf, &cfg, NULL, 0, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "kernel /k/vmlinux: ELF file without a PVH entry point"), "%s",
		      err);

	/* Anything else is still judged as a bzImage. */
	bf.kernel = junk;
	bf.kernel_len = sizeof(junk);
	ck_assert_int_eq(arch_check_kernel(&bf, &cfg, what, sizeof(what), err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "kernel /k/vmlinux: not a bzImage (no 0xAA55 boot flag)"), "%s",
		      err);
	fx_fini(&t);
}
END_TEST

Suite *pvh_suite(void)
{
	Suite *s = suite_create("pvh");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, parse_good);
	tcase_add_test(tc, load_good);
	tcase_add_test(tc, load_high_ram_no_initrd);
	tcase_add_test(tc, refuse_no_pvh_note);
	tcase_add_test(tc, refuse_truncated);
	tcase_add_test(tc, refuse_bad_segments);
	tcase_add_test(tc, refuse_32bit_and_wrong_machine);
	tcase_add_test(tc, refuse_entry_outside_segments);
	tcase_add_test(tc, refuse_segment_outside_ram);
	tcase_add_test(tc, refuse_fixed_areas);
	tcase_add_test(tc, refuse_initrd_and_cmdline);
	tcase_add_test(tc, check_answers_as_load_writing_nothing);
	tcase_add_test(tc, regs_protected_mode);
	tcase_add_test(tc, check_kernel_tells_the_kinds_apart);
	suite_add_tcase(s, tc);
	return s;
}
