/* PVH boot of an uncompressed ELF vmlinux (Xen's "x86/HVM direct boot ABI", which Linux
 * implements with CONFIG_PVH in arch/x86/platform/pvh/).
 *
 * The kernel announces its 32-bit physical entry point in an ELF note (name "Xen", type
 * XEN_ELFNOTE_PHYS32_ENTRY). The VMM loads every PT_LOAD segment at its physical
 * address, writes a struct hvm_start_info (command line, initrd as module 0, the e820
 * map, the ACPI RSDP) at X86_PVH_START_INFO and starts the boot vCPU at the entry in
 * 32-bit protected mode with paging off and EBX pointing at the start info. The other
 * vCPUs are started by the guest (INIT/SIPI), as with a bzImage.
 *
 * Call order: x86_elf_magic -> x86_pvh_parse -> x86_pvh_load, then for the boot vCPU
 * KVM_GET_SREGS -> x86_pvh_regs -> KVM_SET_SREGS / KVM_SET_REGS. */
#ifndef MINIVMM_X86_PVH_H
#define MINIVMM_X86_PVH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "arch/x86/layout.h"
#include "vmm/mem.h"

/* The start-of-day structures, from the documented ABI (Xen's
 * include/public/arch-x86/hvm/start_info.h, in Linux include/xen/interface/hvm/): Debian
 * ships no header with them. All fields little endian; the asserts pin the layout. */
#define XEN_ELFNOTE_PHYS32_ENTRY  18
#define XEN_HVM_START_MAGIC_VALUE 0x336ec578
#define X86_PVH_START_INFO_V1	  1 /* the version with memmap_paddr and memmap_entries */

struct hvm_start_info {
	uint32_t magic;		 /* XEN_HVM_START_MAGIC_VALUE */
	uint32_t version;	 /* 1 */
	uint32_t flags;		 /* SIF_* (none here) */
	uint32_t nr_modules;	 /* entries at modlist_paddr */
	uint64_t modlist_paddr;	 /* struct hvm_modlist_entry[nr_modules] */
	uint64_t cmdline_paddr;	 /* NUL-terminated */
	uint64_t rsdp_paddr;	 /* ACPI RSDP, 0 for none */
	uint64_t memmap_paddr;	 /* struct hvm_memmap_table_entry[memmap_entries] */
	uint32_t memmap_entries; /* 0: ask the hypervisor (there is none here) */
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

/* type: the e820 types (1 RAM, 2 reserved, 3 ACPI, 4 NVS, 5 unusable). */
struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info size");
_Static_assert(offsetof(struct hvm_start_info, modlist_paddr) == 16, "modlist_paddr");
_Static_assert(offsetof(struct hvm_start_info, rsdp_paddr) == 32, "rsdp_paddr");
_Static_assert(offsetof(struct hvm_start_info, memmap_paddr) == 40, "memmap_paddr");
_Static_assert(offsetof(struct hvm_start_info, memmap_entries) == 48, "memmap_entries");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry size");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry size");
_Static_assert(offsetof(struct hvm_memmap_table_entry, type) == 16, "memmap type");

/* Where the start info page's parts go (one page at X86_PVH_START_INFO). */
#define X86_PVH_MODLIST (X86_PVH_START_INFO + 0x40)
#define X86_PVH_MEMMAP	(X86_PVH_START_INFO + 0x80)
/* The boot GDT for the 32-bit entry: null, null, code at X86_PVH_CS, data at
 * X86_PVH_DS, the TSS at X86_PVH_TR (the descriptors of the state x86_pvh_regs sets). */
#define X86_PVH_CS	 0x10
#define X86_PVH_DS	 0x18
#define X86_PVH_TR	 0x20
#define X86_PVH_GDT_SIZE (5 * 8)
/* The initrd goes below 2 GiB, the initrd_addr_max every x86-64 bzImage declares (a
 * vmlinux declares none). */
#define X86_PVH_INITRD_MAX 0x7fffffffULL
/* Loadable segments accepted (Linux has 4 or 5) and program headers read. */
#define X86_PVH_MAX_SEGS  16
#define X86_PVH_MAX_PHDRS 64

struct x86_pvh_seg {
	int phdr;	 /* its index in the program header table, for messages */
	uint64_t paddr;	 /* p_paddr: where it is loaded */
	uint64_t offset; /* p_offset: where its bytes are in the file */
	uint64_t filesz; /* bytes copied */
	uint64_t memsz;	 /* bytes occupied (memsz - filesz zeroed) */
};

/* What x86_pvh_parse() learnt about a vmlinux. */
struct x86_pvh {
	struct x86_pvh_seg seg[X86_PVH_MAX_SEGS]; /* PT_LOAD with p_memsz > 0, file order */
	int nr_segs;				  /* >= 1 */
	uint32_t entry;				  /* XEN_ELFNOTE_PHYS32_ENTRY */
	uint64_t start, end;			  /* lowest p_paddr, highest p_paddr + p_memsz */
};

/* Whether img[0, len) starts with the ELF magic (then it is no bzImage: its boot sector
 * would start with a jump). */
bool x86_elf_magic(const uint8_t *img, size_t len);

/* Validates a 64-bit x86 ELF executable with a PVH entry note in img[0, len) and
 * describes it in out: every loadable segment inside the file, none overlapping
 * another, the entry inside one segment's file bytes. Returns 0, or -ENOEXEC (not ELF)
 * or -EINVAL with one line in err. img is not kept; pass it to x86_pvh_load(). */
int x86_pvh_parse(const uint8_t *img, size_t len, struct x86_pvh *out, char *err, size_t errlen);

/* Loads a parsed vmlinux into guest memory: every segment at its p_paddr (memsz - filesz
 * bytes zeroed after the file bytes), the command line at X86_CMDLINE, the initrd
 * (optional: NULL or initrd_len 0) page aligned as high as it can go below
 * min(end of low RAM, X86_PVH_INITRD_MAX + 1) and above the kernel, the GDT at
 * X86_GDT_ADDR and the start info page (start info, module list, memory map with
 * rsdp_paddr = rsdp, 0 for none) at X86_PVH_START_INFO. cmdline NULL means "".
 * Everything is checked before anything is written. Returns 0, or -errno with one line
 * in err: -ENOSPC for a segment outside guest RAM or an initrd that does not fit,
 * -EINVAL for a segment over the fixed areas of layout.h (GDT, start info, page
 * tables, command line, the BIOS area with the ACPI tables) or a memory layout without
 * low RAM at 0, -E2BIG for a command line that is too long. */
int x86_pvh_load(const struct guest_mem *mem, const struct x86_pvh *pvh, const uint8_t *img,
		 const uint8_t *initrd, size_t initrd_len, const char *cmdline, uint64_t rsdp,
		 char *err, size_t errlen);
/* Only the checks of x86_pvh_load (which makes them all before it writes anything):
 * the same answer and message, nothing written. For the check at start, where copying
 * a large vmlinux into scratch memory only to throw it away cost seconds in the test
 * bed's emulated host. */
int x86_pvh_check(const struct guest_mem *mem, const struct x86_pvh *pvh, size_t initrd_len,
		  const char *cmdline, char *err, size_t errlen);

/* Puts the boot vCPU in 32-bit protected mode, paging off, at entry with EBX =
 * X86_PVH_START_INFO. sregs must come from KVM_GET_SREGS; regs is overwritten. */
void x86_pvh_regs(struct kvm_sregs *sregs, struct kvm_regs *regs, uint32_t entry);

#endif
