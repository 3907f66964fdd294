/* PVH boot of an ELF vmlinux: the ELF checks, the loader and the 32-bit entry state. See
 * pvh.h and Xen's docs/misc/pvh.pandoc. */
#include "arch/x86/pvh.h"
#include "arch/x86/boot.h"

#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <asm/processor-flags.h>

#define PAGE_SIZE_4K 0x1000ULL
#define MIB	     (1ULL << 20)

/* Flat 4 GiB 32-bit descriptors (G=1, D/B=1, limit 0xfffff): code execute/read, data
 * read/write, both accessed as x86_pvh_regs() sets them; and the busy 32-bit TSS at 0
 * with limit 0x67. */
#define GDT_CODE32 0x00cf9b000000ffffULL
#define GDT_DATA32 0x00cf93000000ffffULL
#define GDT_TSS32  0x00008b0000000067ULL
#define TSS_LIMIT  0x67

_Static_assert(X86_PVH_MODLIST >= X86_PVH_START_INFO + sizeof(struct hvm_start_info),
	       "module list over the start info");
_Static_assert(X86_PVH_MEMMAP >= X86_PVH_MODLIST + sizeof(struct hvm_modlist_entry),
	       "memory map over the module list");
_Static_assert(X86_PVH_MEMMAP + X86_E820_MAX * sizeof(struct hvm_memmap_table_entry) <=
		   X86_PVH_START_INFO + PAGE_SIZE_4K,
	       "memory map past the start info page");

/* What the VMM writes at fixed addresses besides the kernel: no segment may cover it. */
static const struct {
	uint64_t start, end;
	const char *what;
} fixed_areas[] = {
    {X86_GDT_ADDR, X86_GDT_ADDR + X86_PVH_GDT_SIZE, "boot GDT"},
    {X86_PVH_START_INFO, X86_PVH_START_INFO + PAGE_SIZE_4K, "PVH start info"},
    {X86_PAGE_TABLES, X86_PAGE_TABLES + X86_PAGE_TABLES_SIZE, "boot page tables"},
    {X86_CMDLINE, X86_CMDLINE + X86_CMDLINE_MAX, "command line"},
    {X86_EBDA_START, X86_KERNEL_LOAD, "BIOS area (ACPI tables, reset stub)"},
};

bool x86_elf_magic(const uint8_t *img, size_t len)
{
	return len >= SELFMAG && !memcmp(img, ELFMAG, SELFMAG);
}

/* The PVH entry note among the notes of one PT_NOTE segment, notes[0, len), whose
 * entries are padded to align bytes. Returns 1 with *entry set, 0 if it is not there,
 * or -EINVAL for a malformed note. */
static int find_entry_note(const uint8_t *notes, uint64_t len, uint64_t align, int phdr,
			   uint32_t *entry, char *err, size_t errlen)
{
	uint64_t off = 0, name, desc, v;
	Elf64_Nhdr n;

	while (len - off >= sizeof(n)) {
		memcpy(&n, notes + off, sizeof(n));
		name = off + sizeof(n);
		desc = name + x86_align_up(n.n_namesz, align);
		if (desc > len || n.n_descsz > len - desc)
			return x86_boot_fail(
			    err, errlen, -EINVAL,
			    "note at offset 0x%llx of program header %d runs past its "
			    "segment",
			    (unsigned long long)off, phdr);
		if (n.n_type == XEN_ELFNOTE_PHYS32_ENTRY && n.n_namesz == 4 &&
		    !memcmp(notes + name, "Xen", 4)) {
			if (n.n_descsz != 4 && n.n_descsz != 8)
				return x86_boot_fail(
				    err, errlen, -EINVAL,
				    "PVH entry note has a %u-byte value (4 or 8 expected)",
				    n.n_descsz);
			v = 0;
			memcpy(&v, notes + desc, n.n_descsz); /* little endian */
			if (v > UINT32_MAX)
				return x86_boot_fail(err, errlen, -EINVAL,
						     "PVH entry 0x%llx is not a 32-bit address",
						     (unsigned long long)v);
			*entry = (uint32_t)v;
			return 1;
		}
		off = desc + x86_align_up(n.n_descsz, align);
		if (off > len)
			break;
	}
	return 0;
}

/* Checks one PT_LOAD header and adds it to out (unless it occupies no memory). */
static int add_segment(const Elf64_Phdr *ph, int i, size_t len, struct x86_pvh *out, char *err,
		       size_t errlen)
{
	struct x86_pvh_seg *s;

	if (ph->p_filesz > ph->p_memsz)
		return x86_boot_fail(
		    err, errlen, -EINVAL,
		    "program header %d: file size 0x%llx exceeds memory size 0x%llx", i,
		    (unsigned long long)ph->p_filesz, (unsigned long long)ph->p_memsz);
	if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
		return x86_boot_fail(
		    err, errlen, -EINVAL,
		    "truncated: segment of program header %d (file bytes 0x%llx+0x%llx) "
		    "goes past the end of the file (%zu bytes)",
		    i, (unsigned long long)ph->p_offset, (unsigned long long)ph->p_filesz, len);
	if (!ph->p_memsz)
		return 0;
	if (ph->p_paddr + ph->p_memsz < ph->p_paddr)
		return x86_boot_fail(err, errlen, -EINVAL,
				     "program header %d: address 0x%llx + size 0x%llx overflows", i,
				     (unsigned long long)ph->p_paddr,
				     (unsigned long long)ph->p_memsz);
	if (out->nr_segs == X86_PVH_MAX_SEGS)
		return x86_boot_fail(err, errlen, -EINVAL, "more than %d loadable segments",
				     X86_PVH_MAX_SEGS);
	s = &out->seg[out->nr_segs++];
	*s = (struct x86_pvh_seg){.phdr = i,
				  .paddr = ph->p_paddr,
				  .offset = ph->p_offset,
				  .filesz = ph->p_filesz,
				  .memsz = ph->p_memsz};
	return 0;
}

/* No two segments share a byte; start, end and the entry's segment. */
static int check_segments(struct x86_pvh *p, char *err, size_t errlen)
{
	const struct x86_pvh_seg *a, *b;
	bool entry_in = false;
	int i, j;

	if (!p->nr_segs)
		return x86_boot_fail(err, errlen, -EINVAL, "no loadable segment (PT_LOAD)");
	p->start = UINT64_MAX;
	for (i = 0; i < p->nr_segs; i++) {
		a = &p->seg[i];
		for (j = i + 1; j < p->nr_segs; j++) {
			b = &p->seg[j];
			if (a->paddr < b->paddr + b->memsz && b->paddr < a->paddr + a->memsz)
				return x86_boot_fail(
				    err, errlen, -EINVAL,
				    "segments of program headers %d (0x%llx-0x%llx) and %d "
				    "(0x%llx-0x%llx) overlap",
				    a->phdr, (unsigned long long)a->paddr,
				    (unsigned long long)(a->paddr + a->memsz - 1), b->phdr,
				    (unsigned long long)b->paddr,
				    (unsigned long long)(b->paddr + b->memsz - 1));
		}
		if (a->paddr < p->start)
			p->start = a->paddr;
		if (a->paddr + a->memsz > p->end)
			p->end = a->paddr + a->memsz;
		if (p->entry >= a->paddr && p->entry - a->paddr < a->filesz)
			entry_in = true;
	}
	if (!entry_in)
		return x86_boot_fail(
		    err, errlen, -EINVAL,
		    "PVH entry 0x%x is outside the loaded segments (0x%llx-0x%llx)", p->entry,
		    (unsigned long long)p->start, (unsigned long long)(p->end - 1));
	return 0;
}

int x86_pvh_parse(const uint8_t *img, size_t len, struct x86_pvh *out, char *err, size_t errlen)
{
	bool have_entry = false;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int i, ret;

	memset(out, 0, sizeof(*out));
	if (!x86_elf_magic(img, len))
		return x86_boot_fail(err, errlen, -ENOEXEC, "not an ELF file");
	if (len < EI_NIDENT)
		return x86_boot_fail(err, errlen, -EINVAL, "truncated: ELF header (%zu bytes)",
				     len);
	if (img[EI_CLASS] != ELFCLASS64)
		return x86_boot_fail(
		    err, errlen, -EINVAL,
		    "ELF class %u is not 64-bit (a 32-bit vmlinux cannot boot here)",
		    img[EI_CLASS]);
	if (img[EI_DATA] != ELFDATA2LSB)
		return x86_boot_fail(err, errlen, -EINVAL, "ELF file is not little endian");
	if (len < sizeof(eh))
		return x86_boot_fail(err, errlen, -EINVAL,
				     "truncated: ELF header needs %zu bytes but file has %zu",
				     sizeof(eh), len);
	memcpy(&eh, img, sizeof(eh));
	if (eh.e_machine != EM_X86_64)
		return x86_boot_fail(err, errlen, -EINVAL, "ELF machine %u is not x86-64 (%u)",
				     eh.e_machine, EM_X86_64);
	if (eh.e_type != ET_EXEC)
		return x86_boot_fail(err, errlen, -EINVAL,
				     "ELF type %u is not an executable (ET_EXEC)", eh.e_type);
	if (eh.e_phentsize != sizeof(ph) || !eh.e_phnum || eh.e_phnum > X86_PVH_MAX_PHDRS)
		return x86_boot_fail(
		    err, errlen, -EINVAL,
		    "bad program header table (%u entries of %u bytes; 1 to %d of %zu "
		    "expected)",
		    eh.e_phnum, eh.e_phentsize, X86_PVH_MAX_PHDRS, sizeof(ph));
	if (eh.e_phoff > len || (uint64_t)eh.e_phnum * sizeof(ph) > len - eh.e_phoff)
		return x86_boot_fail(
		    err, errlen, -EINVAL,
		    "truncated: program headers end at 0x%llx but file has %zu bytes",
		    (unsigned long long)(eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(ph)), len);

	for (i = 0; i < eh.e_phnum; i++) {
		memcpy(&ph, img + eh.e_phoff + (size_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD) {
			ret = add_segment(&ph, i, len, out, err, errlen);
			if (ret)
				return ret;
		} else if (ph.p_type == PT_NOTE && !have_entry) {
			if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
				return x86_boot_fail(
				    err, errlen, -EINVAL,
				    "truncated: notes of program header %d go past the end "
				    "of the file (%zu bytes)",
				    i, len);
			ret = find_entry_note(img + ph.p_offset, ph.p_filesz,
					      ph.p_align == 8 ? 8 : 4, i, &out->entry, err, errlen);
			if (ret < 0)
				return ret;
			have_entry = ret == 1;
		}
	}
	if (!have_entry)
		return x86_boot_fail(
		    err, errlen, -EINVAL,
		    "ELF file without a PVH entry point (no Xen note "
		    "XEN_ELFNOTE_PHYS32_ENTRY: build the kernel with CONFIG_PVH=y, or boot "
		    "its bzImage)");
	return check_segments(out, err, errlen);
}

/* The checks of x86_pvh_load(): every segment in guest RAM and clear of the fixed
 * areas, the command line's length, and where the initrd goes (*initrd_addr). */
static int pvh_plan(const struct guest_mem *mem, const struct x86_pvh *p, size_t initrd_len,
		    size_t cmdline_len, uint64_t *initrd_addr, char *err, size_t errlen)
{
	uint64_t low_end, top, floor;
	size_t i, k;

	*initrd_addr = 0;
	if (mem->nr_regions < 1 || mem->regions[0].gpa != 0 ||
	    mem->regions[0].size <= X86_KERNEL_LOAD)
		return x86_boot_fail(err, errlen, -EINVAL,
				     "guest memory has no RAM from 0 to beyond 1 MiB");
	low_end = mem->regions[0].size;
	for (i = 0; i < (size_t)p->nr_segs; i++) {
		const struct x86_pvh_seg *s = &p->seg[i];
		uint64_t last = s->paddr + s->memsz - 1;

		/* The one checked translation says whether it is all RAM. */
		if (!mem_gpa_to_hva(mem, s->paddr, s->memsz))
			return x86_boot_fail(
			    err, errlen, -ENOSPC,
			    "segment of program header %d (0x%llx-0x%llx) is outside guest "
			    "RAM (low RAM ends at 0x%llx; [vm] memory too small?)",
			    s->phdr, (unsigned long long)s->paddr, (unsigned long long)last,
			    (unsigned long long)low_end);
		for (k = 0; k < sizeof(fixed_areas) / sizeof(fixed_areas[0]); k++)
			if (s->paddr < fixed_areas[k].end && fixed_areas[k].start <= last)
				return x86_boot_fail(
				    err, errlen, -EINVAL,
				    "segment of program header %d (0x%llx-0x%llx) overlaps "
				    "the %s at 0x%llx-0x%llx",
				    s->phdr, (unsigned long long)s->paddr, (unsigned long long)last,
				    fixed_areas[k].what, (unsigned long long)fixed_areas[k].start,
				    (unsigned long long)fixed_areas[k].end - 1);
	}
	if (cmdline_len >= X86_CMDLINE_MAX)
		return x86_boot_fail(err, errlen, -E2BIG,
				     "command line is %zu bytes, at most %llu fit", cmdline_len,
				     X86_CMDLINE_MAX - 1);
	if (!initrd_len)
		return 0;
	/* Above the kernel and the BIOS area, as high as it goes below the limit. */
	top = low_end < X86_PVH_INITRD_MAX + 1 ? low_end : X86_PVH_INITRD_MAX + 1;
	floor = x86_align_up(p->end > X86_KERNEL_LOAD ? p->end : X86_KERNEL_LOAD, PAGE_SIZE_4K);
	if (initrd_len > top || ((top - initrd_len) & ~(PAGE_SIZE_4K - 1)) < floor)
		return x86_boot_fail(
		    err, errlen, -ENOSPC,
		    "initrd (%llu MiB) does not fit below 0x%llx (%llu MiB free above the "
		    "kernel, which ends at 0x%llx)",
		    ((unsigned long long)initrd_len + MIB - 1) / MIB, (unsigned long long)top,
		    (unsigned long long)(top > floor ? (top - floor) / MIB : 0),
		    (unsigned long long)floor);
	*initrd_addr = (top - initrd_len) & ~(PAGE_SIZE_4K - 1);
	return 0;
}

/* The start info page: start info, module list (the initrd) and memory map. */
static int pvh_start_info(const struct guest_mem *mem, uint64_t initrd_addr, size_t initrd_len,
			  uint64_t rsdp, char *err, size_t errlen)
{
	uint8_t page[PAGE_SIZE_4K];
	struct boot_e820_entry e820[X86_E820_MAX];
	struct hvm_memmap_table_entry mm;
	struct hvm_modlist_entry mod;
	struct hvm_start_info si = {
	    .magic = XEN_HVM_START_MAGIC_VALUE,
	    .version = X86_PVH_START_INFO_V1,
	    .cmdline_paddr = X86_CMDLINE,
	    .rsdp_paddr = rsdp,
	    .memmap_paddr = X86_PVH_MEMMAP,
	};
	int i, nr;

	nr = x86_e820_build(mem->regions, mem->nr_regions, e820, X86_E820_MAX);
	if (nr < 0)
		return x86_boot_fail(err, errlen, nr,
				     "cannot build the e820 map for this memory layout");
	memset(page, 0, sizeof(page));
	for (i = 0; i < nr; i++) {
		mm = (struct hvm_memmap_table_entry){
		    .addr = e820[i].addr, .size = e820[i].size, .type = e820[i].type};
		memcpy(page + (X86_PVH_MEMMAP - X86_PVH_START_INFO) + i * sizeof(mm), &mm,
		       sizeof(mm));
	}
	si.memmap_entries = (uint32_t)nr;
	if (initrd_len) {
		mod = (struct hvm_modlist_entry){.paddr = initrd_addr, .size = initrd_len};
		memcpy(page + (X86_PVH_MODLIST - X86_PVH_START_INFO), &mod, sizeof(mod));
		si.nr_modules = 1;
		si.modlist_paddr = X86_PVH_MODLIST;
	}
	memcpy(page, &si, sizeof(si));
	if (mem_write(mem, X86_PVH_START_INFO, page, sizeof(page)))
		return x86_boot_fail(err, errlen, -EFAULT, "cannot write the PVH start info");
	return 0;
}

int x86_pvh_check(const struct guest_mem *mem, const struct x86_pvh *pvh, size_t initrd_len,
		  const char *cmdline, char *err, size_t errlen)
{
	uint64_t initrd_addr;

	return pvh_plan(mem, pvh, initrd_len, strlen(cmdline ? cmdline : ""), &initrd_addr, err,
			errlen);
}

int x86_pvh_load(const struct guest_mem *mem, const struct x86_pvh *pvh, const uint8_t *img,
		 const uint8_t *initrd, size_t initrd_len, const char *cmdline, uint64_t rsdp,
		 char *err, size_t errlen)
{
	const uint64_t gdt[5] = {0, 0, GDT_CODE32, GDT_DATA32, GDT_TSS32};
	uint64_t initrd_addr;
	uint8_t *hva;
	int i, ret;

	_Static_assert(sizeof(gdt) == X86_PVH_GDT_SIZE, "GDT size");
	if (initrd_len && !initrd)
		return x86_boot_fail(err, errlen, -EINVAL, "initrd length %zu without data",
				     initrd_len);
	if (!cmdline)
		cmdline = "";
	ret = pvh_plan(mem, pvh, initrd_len, strlen(cmdline), &initrd_addr, err, errlen);
	if (ret)
		return ret;

	for (i = 0; i < pvh->nr_segs; i++) {
		const struct x86_pvh_seg *s = &pvh->seg[i];

		hva = mem_gpa_to_hva(mem, s->paddr, s->memsz);
		if (!hva)
			goto fault;
		memcpy(hva, img + s->offset, s->filesz);
		memset(hva + s->filesz, 0, s->memsz - s->filesz);
	}
	if (mem_write(mem, X86_CMDLINE, cmdline, strlen(cmdline) + 1) ||
	    (initrd_len && mem_write(mem, initrd_addr, initrd, initrd_len)) ||
	    mem_write(mem, X86_GDT_ADDR, gdt, sizeof(gdt)))
		goto fault;
	return pvh_start_info(mem, initrd_addr, initrd_len, rsdp, err, errlen);
fault:
	return x86_boot_fail(err, errlen, -EFAULT, "cannot write the kernel into guest memory");
}

void x86_pvh_regs(struct kvm_sregs *sregs, struct kvm_regs *regs, uint32_t entry)
{
	const struct kvm_segment code = {
	    .limit = 0xffffffff,
	    .selector = X86_PVH_CS,
	    .type = 11, /* execute/read, accessed */
	    .present = 1,
	    .s = 1,
	    .db = 1,
	    .g = 1,
	};
	const struct kvm_segment data = {
	    .limit = 0xffffffff,
	    .selector = X86_PVH_DS,
	    .type = 3, /* read/write, accessed */
	    .present = 1,
	    .s = 1,
	    .db = 1,
	    .g = 1,
	};
	const struct kvm_segment tr = {
	    .limit = TSS_LIMIT,
	    .selector = X86_PVH_TR,
	    .type = 11, /* busy 32-bit TSS */
	    .present = 1,
	};

	sregs->cs = code;
	sregs->ds = data;
	sregs->es = data;
	sregs->fs = data;
	sregs->gs = data;
	sregs->ss = data;
	sregs->tr = tr;
	sregs->gdt.base = X86_GDT_ADDR;
	sregs->gdt.limit = X86_PVH_GDT_SIZE - 1;
	sregs->cr0 = X86_CR0_PE | X86_CR0_ET;
	sregs->cr3 = 0;
	sregs->cr4 = 0;
	sregs->efer = 0;

	memset(regs, 0, sizeof(*regs));
	regs->rip = entry;
	regs->rbx = X86_PVH_START_INFO;
	regs->rflags = 2; /* bit 1 reads as 1; IF, TF and VM clear */
}
