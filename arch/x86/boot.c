/* Linux x86 boot protocol, 64-bit entry: bzImage parsing, boot_params, e820, GDT, page
 * tables and the long-mode register state. See boot.h and Documentation/arch/x86/boot.rst. */
#include "arch/x86/boot.h"
#include "arch/x86/layout.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <asm/e820.h>
#include <asm/processor-flags.h>

/* Offsets in the image of the fields we read before the header is known to be sane. */
#define OFF_JUMP_LEN  0x201 /* second byte of the 2-byte jump ending the header */
#define OFF_BOOT_FLAG 0x1fe
#define OFF_HDR_MAGIC 0x202
#define OFF_VERSION   0x206
#define HDR_MAGIC     "HdrS"
#define BOOT_FLAG     0xaa55
/* The header must reach init_size (0x260/4), the last field this loader relies on. */
#define HDR_MIN_END (X86_SETUP_HDR_OFFSET + offsetof(struct setup_header, init_size) + 4)
/* boot_params has room for the setup header up to edd_mbr_sig_buffer. */
#define BP_HDR_ROOM  (offsetof(struct boot_params, edd_mbr_sig_buffer) - X86_SETUP_HDR_OFFSET)
#define SECTOR	     512
#define PAGE_SIZE_4K 0x1000ULL
#define MIB	     (1ULL << 20)
/* The real-mode heap is unused with the 64-bit entry, but heap_end_ptr is obligatory;
 * 0xe000 - 0x200 is the protocol's sample value for a kernel loaded below 0x90000. */
#define HEAP_END_PTR   (0xe000 - 0x200)
#define E820_MAX_ZP    E820_MAX_ENTRIES_ZEROPAGE
#define LOADER_UNKNOWN 0xff /* type_of_loader: no registered boot loader ID */

#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

/* Page table entry bits. */
#define PTE_P  (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_PS (1ULL << 7) /* 2 MiB page in a PD entry */

/* Flat 4 GiB descriptors: G=1, limit 0xfffff. Code: P, S, execute/read, accessed, L=1.
 * Data: P, S, read/write, accessed, D/B=1. The accessed bits match the segment state
 * set in x86_boot_regs(), so a reload by the guest changes nothing. */
#define GDT_CODE64 0x00af9b000000ffffULL
#define GDT_DATA   0x00cf93000000ffffULL
#define GDT_SIZE   (4 * sizeof(uint64_t))

int x86_boot_fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

int x86_bzimage_parse(const uint8_t *img, size_t len, struct x86_bzimage *out, char *err,
		      size_t errlen)
{
	const struct setup_header *h = &out->hdr;
	size_t hdr_end, setup_sects;
	uint16_t version;

	memset(out, 0, sizeof(*out));
	/* Magic first, so that a file that is not a kernel at all is called that rather
	 * than "truncated". */
	if (len < OFF_HDR_MAGIC + 4)
		return x86_boot_fail(err, errlen, -ENOEXEC, "not a bzImage (%zu bytes, too short)",
				     len);
	if (get16(img + OFF_BOOT_FLAG) != BOOT_FLAG)
		return x86_boot_fail(err, errlen, -ENOEXEC, "not a bzImage (no 0xAA55 boot flag)");
	if (memcmp(img + OFF_HDR_MAGIC, HDR_MAGIC, 4))
		return x86_boot_fail(err, errlen, -ENOEXEC, "not a bzImage (no HdrS magic)");

	/* The header ends where the jump at 0x200 lands (boot.rst, 64-bit protocol). */
	hdr_end = OFF_HDR_MAGIC + img[OFF_JUMP_LEN];
	if (hdr_end > len)
		return x86_boot_fail(err, errlen, -EINVAL,
				     "truncated: setup header claims %zu bytes but file has %zu",
				     hdr_end, len);
	if (hdr_end < OFF_VERSION + 2)
		return x86_boot_fail(err, errlen, -EINVAL, "setup header too short (%zu bytes)",
				     hdr_end);
	version = get16(img + OFF_VERSION);
	if (version < X86_BOOT_PROTO_MIN)
		return x86_boot_fail(err, errlen, -EINVAL,
				     "boot protocol %u.%02u too old (need %u.%02u)", version >> 8,
				     version & 0xff, X86_BOOT_PROTO_MIN >> 8,
				     X86_BOOT_PROTO_MIN & 0xff);
	if (hdr_end < HDR_MIN_END)
		return x86_boot_fail(
		    err, errlen, -EINVAL,
		    "setup header too short (ends at 0x%zx, protocol %u.%02u needs 0x%zx)", hdr_end,
		    version >> 8, version & 0xff, (size_t)HDR_MIN_END);

	out->hdr_len = hdr_end - X86_SETUP_HDR_OFFSET;
	memcpy(&out->hdr, img + X86_SETUP_HDR_OFFSET,
	       out->hdr_len < sizeof(out->hdr) ? out->hdr_len : sizeof(out->hdr));

	setup_sects = h->setup_sects ? h->setup_sects : 4; /* 0 means 4, for old loaders */
	out->setup_size = (setup_sects + 1) * SECTOR;
	if (out->setup_size > len)
		return x86_boot_fail(err, errlen, -EINVAL,
				     "truncated: setup claims %zu bytes but file has %zu",
				     out->setup_size, len);
	out->payload_offset = out->setup_size;
	out->payload_size = len - out->setup_size;
	if (!out->payload_size)
		return x86_boot_fail(err, errlen, -EINVAL,
				     "truncated: no protected-mode kernel after the %zu-byte setup",
				     out->setup_size);
	/* syssize counts 16-byte paragraphs, rounded up. Trailing bytes (signatures) are
	 * allowed; a payload short by a paragraph or more means the file was cut. */
	if ((uint64_t)h->syssize * 16 > (uint64_t)out->payload_size + 15)
		return x86_boot_fail(
		    err, errlen, -EINVAL,
		    "truncated: kernel claims %llu bytes after the setup but file has %zu",
		    (unsigned long long)h->syssize * 16, out->payload_size);

	if (!(h->xloadflags & XLF_KERNEL_64))
		return x86_boot_fail(err, errlen, -EINVAL,
				     "kernel has no 64-bit entry point (XLF_KERNEL_64 not set)");
	if (!(h->loadflags & LOADED_HIGH))
		return x86_boot_fail(err, errlen, -EINVAL,
				     "zImage kernels are not supported (LOADED_HIGH not set)");
	out->relocatable = h->relocatable_kernel != 0;
	if (out->relocatable &&
	    (!h->kernel_alignment || (h->kernel_alignment & (h->kernel_alignment - 1))))
		return x86_boot_fail(err, errlen, -EINVAL,
				     "bad kernel_alignment 0x%x (not a power of two)",
				     h->kernel_alignment);
	/* A non-relocatable bzImage is still loaded at 1 MiB (it moves itself to
	 * pref_address); one that wants another load address is not a standard bzImage. */
	if (!out->relocatable && h->code32_start != X86_KERNEL_LOAD)
		return x86_boot_fail(
		    err, errlen, -EINVAL,
		    "kernel is not relocatable and must be loaded at 0x%x, not 0x%llx",
		    h->code32_start, X86_KERNEL_LOAD);

	out->version = version;
	out->initrd_addr_max = h->initrd_addr_max;
	out->cmdline_size = h->cmdline_size;
	out->kernel_alignment = h->kernel_alignment;
	out->init_size = h->init_size;
	out->pref_address = h->pref_address;
	return 0;
}

int x86_e820_build(const struct mem_region *regions, int n, struct boot_e820_entry *out, int max)
{
	uint64_t low_end, prev_end;
	int i, k = 0, need;

	if (n < 1 || n > MEM_MAX_REGIONS || regions[0].gpa != 0 ||
	    regions[0].size < X86_KERNEL_LOAD)
		return -EINVAL;
	low_end = regions[0].size;
	prev_end = low_end;
	for (i = 1; i < n; i++) {
		/* Sorted and disjoint, else the map would overlap itself. */
		if (regions[i].gpa < prev_end || !regions[i].size)
			return -EINVAL;
		prev_end = regions[i].gpa + regions[i].size;
	}
	need = (low_end > X86_KERNEL_LOAD ? 3 : 2) + n - 1;
	if (max < need)
		return -ENOSPC;

	/* The EBDA to 1 MiB is RAM in the VMM, but a PC has the EBDA, VGA memory and BIOS
	 * ROMs there; Linux expects it reserved, and the ACPI tables live in it. */
	out[k++] = (struct boot_e820_entry){.addr = 0, .size = X86_EBDA_START, .type = E820_RAM};
	out[k++] = (struct boot_e820_entry){.addr = X86_EBDA_START,
					    .size = X86_KERNEL_LOAD - X86_EBDA_START,
					    .type = E820_RESERVED};
	if (low_end > X86_KERNEL_LOAD)
		out[k++] = (struct boot_e820_entry){
		    .addr = X86_KERNEL_LOAD, .size = low_end - X86_KERNEL_LOAD, .type = E820_RAM};
	for (i = 1; i < n; i++)
		out[k++] = (struct boot_e820_entry){
		    .addr = regions[i].gpa, .size = regions[i].size, .type = E820_RAM};
	return k;
}

/* End (page aligned) of the memory the kernel may use before it reads the e820 map: the
 * loaded payload, and init_size bytes from both the load address and the runtime start
 * (where the decompressor puts the kernel, boot.rst "init_size"). */
static uint64_t kernel_end(const struct x86_bzimage *bz)
{
	uint64_t start, end;

	if (bz->relocatable)
		start =
		    x86_align_up(max_u64(X86_KERNEL_LOAD, bz->pref_address), bz->kernel_alignment);
	else
		start = bz->pref_address ? bz->pref_address : X86_KERNEL_LOAD;
	end = max_u64(X86_KERNEL_LOAD + bz->payload_size, X86_KERNEL_LOAD + bz->init_size);
	end = max_u64(end, start + bz->init_size);
	return x86_align_up(end, PAGE_SIZE_4K);
}

int x86_boot_plan(const struct x86_bzimage *bz, uint64_t low_end, size_t initrd_len,
		  const char *cmdline, uint64_t *initrd_addr, char *err, size_t errlen)
{
	uint64_t kend, top;
	size_t cmdline_len = cmdline ? strlen(cmdline) : 0;

	*initrd_addr = 0;
	if (low_end <= X86_KERNEL_LOAD)
		return x86_boot_fail(err, errlen, -EINVAL,
				     "guest memory has no RAM from 0 to beyond 1 MiB");
	/* A pref_address past low RAM cannot fit; checking it first keeps the arithmetic
	 * in kernel_end() far from overflow. */
	if (bz->pref_address >= low_end || bz->payload_size >= low_end)
		return x86_boot_fail(
		    err, errlen, -ENOSPC,
		    "kernel (%zu bytes, wants to run at 0x%llx) does not fit in low RAM "
		    "(ends at 0x%llx)",
		    bz->payload_size, (unsigned long long)bz->pref_address,
		    (unsigned long long)low_end);
	kend = kernel_end(bz);
	if (kend > low_end)
		return x86_boot_fail(
		    err, errlen, -ENOSPC,
		    "kernel needs memory up to 0x%llx (init_size %u MiB) but low RAM ends at "
		    "0x%llx",
		    (unsigned long long)kend, bz->init_size >> 20, (unsigned long long)low_end);

	if (cmdline_len > bz->cmdline_size)
		return x86_boot_fail(err, errlen, -E2BIG,
				     "command line is %zu bytes but the kernel accepts at most %u",
				     cmdline_len, bz->cmdline_size);
	if (cmdline_len >= X86_CMDLINE_MAX)
		return x86_boot_fail(err, errlen, -E2BIG,
				     "command line is %zu bytes, at most %llu fit", cmdline_len,
				     X86_CMDLINE_MAX - 1);

	if (!initrd_len)
		return 0;
	/* initrd_addr_max is the highest byte the initrd may occupy. */
	top = min_u64(low_end, (uint64_t)bz->initrd_addr_max + 1);
	if (initrd_len > top || ((top - initrd_len) & ~(PAGE_SIZE_4K - 1)) < kend)
		return x86_boot_fail(
		    err, errlen, -ENOSPC,
		    "initrd (%llu MiB) does not fit below 0x%llx (%llu MiB free above the "
		    "kernel, which ends at 0x%llx)",
		    ((unsigned long long)initrd_len + MIB - 1) / MIB, (unsigned long long)top,
		    (unsigned long long)(top > kend ? (top - kend) / MIB : 0),
		    (unsigned long long)kend);
	*initrd_addr = (top - initrd_len) & ~(PAGE_SIZE_4K - 1);
	return 0;
}

int x86_boot_load(const struct guest_mem *mem, const struct x86_bzimage *bz, const uint8_t *img,
		  const uint8_t *initrd, size_t initrd_len, const char *cmdline, uint64_t rsdp_addr,
		  char *err, size_t errlen)
{
	struct boot_params bp;
	uint64_t addr; /* of the initrd */
	int nr, ret;

	if (mem->nr_regions < 1 || mem->regions[0].gpa != 0)
		return x86_boot_fail(err, errlen, -EINVAL, "guest memory has no RAM region at 0");
	if (initrd_len && !initrd)
		return x86_boot_fail(err, errlen, -EINVAL, "initrd length %zu without data",
				     initrd_len);
	if (!cmdline)
		cmdline = "";
	ret = x86_boot_plan(bz, mem->regions[0].size, initrd_len, cmdline, &addr, err, errlen);
	if (ret)
		return ret;

	memset(&bp, 0, sizeof(bp));
	/* Copy the header as far as the image says it goes (0x202 + jump offset), not just
	 * the fields this struct knows about: newer kernels may have more. */
	memcpy((uint8_t *)&bp + X86_SETUP_HDR_OFFSET, img + X86_SETUP_HDR_OFFSET,
	       bz->hdr_len < BP_HDR_ROOM ? bz->hdr_len : BP_HDR_ROOM);
	nr = x86_e820_build(mem->regions, mem->nr_regions, bp.e820_table, E820_MAX_ZP);
	if (nr < 0)
		return x86_boot_fail(err, errlen, nr,
				     "cannot build the e820 map for this memory layout");
	bp.e820_entries = (uint8_t)nr;
	bp.hdr.type_of_loader = LOADER_UNKNOWN;
	bp.hdr.loadflags |= LOADED_HIGH | CAN_USE_HEAP;
	bp.hdr.heap_end_ptr = HEAP_END_PTR;
	bp.hdr.code32_start = X86_KERNEL_LOAD; /* where we put it (obligatory if relocatable) */
	bp.hdr.cmd_line_ptr = (uint32_t)X86_CMDLINE;
	bp.ext_cmd_line_ptr = (uint32_t)(X86_CMDLINE >> 32);
	/* We pass no setup_data list; never let an image's stray value send the kernel
	 * walking one. */
	bp.hdr.setup_data = 0;
	bp.hdr.ramdisk_image = (uint32_t)addr;
	bp.ext_ramdisk_image = (uint32_t)(addr >> 32);
	bp.hdr.ramdisk_size = (uint32_t)initrd_len;
	bp.ext_ramdisk_size = (uint32_t)((uint64_t)initrd_len >> 32);
	bp.acpi_rsdp_addr = rsdp_addr;

	ret = mem_write(mem, X86_KERNEL_LOAD, img + bz->payload_offset, bz->payload_size);
	if (!ret)
		ret = mem_write(mem, X86_CMDLINE, cmdline, strlen(cmdline) + 1);
	if (!ret && initrd_len)
		ret = mem_write(mem, addr, initrd, initrd_len);
	if (!ret)
		ret = mem_write(mem, X86_BOOT_PARAMS, &bp, sizeof(bp));
	if (ret)
		return x86_boot_fail(err, errlen, ret, "cannot write the kernel into guest memory");
	return 0;
}

/* 16-bit real-mode code: mov al, X86_RESET_VALUE; mov dx, X86_PORT_RESET; out dx, al;
 * cli; 1: hlt; jmp 1b. */
const uint8_t x86_reset_stub[X86_RESET_STUB_LEN] = {
    0xb0, X86_RESET_VALUE, 0xba, X86_PORT_RESET & 0xff, X86_PORT_RESET >> 8, 0xee, 0xfa, 0xf4, 0xeb,
    0xfd};

_Static_assert(X86_ACPI_BASE + X86_ACPI_MAX <= X86_RESET_VECTOR, "ACPI tables over the stub");
_Static_assert(X86_RESET_VECTOR + X86_RESET_STUB_LEN <= X86_KERNEL_LOAD, "stub past 1 MiB");

int x86_boot_reset_stub(const struct guest_mem *mem)
{
	return mem_write(mem, X86_RESET_VECTOR, x86_reset_stub, sizeof(x86_reset_stub));
}

int x86_boot_page_tables(const struct guest_mem *mem)
{
	const uint64_t gdt[4] = {0, 0, GDT_CODE64, GDT_DATA};
	/* PML4, PDPT, then 4 PDs of 512 2 MiB pages each: 4 GiB. */
	uint64_t *pt = mem_gpa_to_hva(mem, X86_PAGE_TABLES, 6 * PAGE_SIZE_4K);
	uint64_t *pml4 = pt, *pdpt = pt + 512, *pd = pt + 2 * 512;
	int i;

	_Static_assert(sizeof(gdt) == GDT_SIZE, "GDT size");
	if (!pt)
		return -EFAULT;
	if (mem_write(mem, X86_GDT_ADDR, gdt, sizeof(gdt)))
		return -EFAULT;
	/* Rewritten whole, so that a reboot starts from clean tables. */
	memset(pt, 0, 6 * PAGE_SIZE_4K);
	pml4[0] = (X86_PAGE_TABLES + PAGE_SIZE_4K) | PTE_P | PTE_RW;
	for (i = 0; i < 4; i++)
		pdpt[i] = (X86_PAGE_TABLES + (2 + i) * PAGE_SIZE_4K) | PTE_P | PTE_RW;
	for (i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | PTE_P | PTE_RW | PTE_PS;
	return 0;
}

void x86_boot_regs(struct kvm_sregs *sregs, struct kvm_regs *regs)
{
	const struct kvm_segment code = {
	    .base = 0,
	    .limit = 0xffffffff,
	    .selector = X86_BOOT_CS,
	    .type = 11, /* execute/read, accessed */
	    .present = 1,
	    .s = 1,
	    .l = 1,
	    .g = 1,
	};
	const struct kvm_segment data = {
	    .base = 0,
	    .limit = 0xffffffff,
	    .selector = X86_BOOT_DS,
	    .type = 3, /* read/write, accessed */
	    .present = 1,
	    .db = 1,
	    .s = 1,
	    .g = 1,
	};

	sregs->cs = code;
	sregs->ds = data;
	sregs->es = data;
	sregs->fs = data;
	sregs->gs = data;
	sregs->ss = data;
	sregs->gdt.base = X86_GDT_ADDR;
	sregs->gdt.limit = GDT_SIZE - 1;
	/* Reset state has CD and NW set; the kernel would start with caches off (and
	 * slowly, where the host honours it) until it rewrites CR0 much later. */
	sregs->cr0 =
	    (sregs->cr0 | X86_CR0_PE | X86_CR0_ET | X86_CR0_PG) & ~(X86_CR0_CD | X86_CR0_NW);
	sregs->cr3 = X86_PAGE_TABLES;
	sregs->cr4 |= X86_CR4_PAE;
	sregs->efer |= EFER_LME | EFER_LMA;

	memset(regs, 0, sizeof(*regs));
	regs->rip = X86_KERNEL_LOAD + 0x200; /* 64-bit entry: startup_64 */
	regs->rsi = X86_BOOT_PARAMS;
	regs->rflags = 2; /* bit 1 is reserved and reads as 1; IF clear */
}
