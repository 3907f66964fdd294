/* Linux x86 boot protocol (Documentation/arch/x86/boot.rst), 64-bit entry only.
 *
 * The VMM does the real-mode setup's job itself: it loads the protected-mode payload of
 * a bzImage at X86_KERNEL_LOAD, fills in boot_params ("zero page"), builds a GDT and
 * identity page tables, and starts the vCPU in long mode at the 64-bit entry point
 * (load address + 0x200) with RSI pointing at boot_params. The setup code in the image
 * never runs. Addresses are those of arch/x86/layout.h.
 *
 * Call order: x86_bzimage_parse -> x86_boot_load -> x86_boot_page_tables, then per vCPU
 * KVM_GET_SREGS -> x86_boot_regs -> KVM_SET_SREGS / KVM_SET_REGS. */
#ifndef MINIVMM_X86_BOOT_H
#define MINIVMM_X86_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h>
#include <linux/kvm.h>

#include "vmm/mem.h"

/* Where the setup header lives in the image (and in boot_params). */
#define X86_SETUP_HDR_OFFSET 0x1f1
/* The oldest protocol we accept: 2.12 added xloadflags (and so XLF_KERNEL_64). */
#define X86_BOOT_PROTO_MIN 0x020c
/* GDT selectors the 64-bit boot protocol requires (__BOOT_CS, __BOOT_DS). */
#define X86_BOOT_CS 0x10
#define X86_BOOT_DS 0x18
/* Entries x86_e820_build() writes: 3 for region 0, 1 per further region. */
#define X86_E820_MAX (MEM_MAX_REGIONS + 2)

/* What x86_bzimage_parse() learnt about an image. "Payload" here is the whole
 * protected-mode kernel (everything after the real-mode setup sectors), not the
 * compressed blob that hdr.payload_offset points at inside it. */
struct x86_bzimage {
	struct setup_header hdr;  /* as in the image, zero past hdr_len */
	size_t hdr_len;		  /* setup header bytes the image has (from 0x1f1) */
	size_t setup_size;	  /* (setup_sects + 1) * 512, setup_sects 0 meaning 4 */
	size_t payload_offset;	  /* == setup_size */
	size_t payload_size;	  /* bytes to copy to X86_KERNEL_LOAD */
	uint16_t version;	  /* boot protocol, 0x020f for 2.15 */
	uint32_t initrd_addr_max; /* highest byte the initrd may occupy */
	uint32_t cmdline_size;	  /* longest command line, without the NUL */
	uint32_t kernel_alignment;
	uint32_t init_size; /* memory the kernel needs from its runtime start */
	uint64_t pref_address;
	bool relocatable;
};

/* Validates the bzImage in img[0, len) and describes it in out. Returns 0, or -EINVAL
 * (-ENOEXEC for a file that is not a bzImage at all) with one line in err saying what
 * is wrong. img is not kept; pass the same buffer to x86_boot_load(). */
int x86_bzimage_parse(const uint8_t *img, size_t len, struct x86_bzimage *out, char *err,
		      size_t errlen);

/* The e820 map for guest RAM regions (those of struct guest_mem; region 0 starts at 0
 * and is at least 1 MiB): [0, EBDA) usable, [EBDA, 1 MiB) reserved, [1 MiB, end of
 * region 0) usable, every further region usable. Returns the number of entries written
 * (<= X86_E820_MAX), -EINVAL for a bad region list, or -ENOSPC if max is too small. */
int x86_e820_build(const struct mem_region *regions, int n, struct boot_e820_entry *out, int max);

/* The checks of x86_boot_load() without guest memory (for validating a configuration
 * before the VM exists): does the kernel fit in low RAM [0, low_end), the command line
 * (NULL meaning "") in the kernel's and X86_CMDLINE_MAX, and an initrd of initrd_len
 * bytes (0 for none) between the kernel and min(low_end, initrd_addr_max + 1)?
 * Sets *initrd_addr to where the initrd goes (0 without one). Returns 0, or -errno
 * with one line in err as for x86_boot_load(). */
int x86_boot_plan(const struct x86_bzimage *bz, uint64_t low_end, size_t initrd_len,
		  const char *cmdline, uint64_t *initrd_addr, char *err, size_t errlen);

/* Loads a parsed image (img is the buffer given to x86_bzimage_parse()) into guest
 * memory: the payload at X86_KERNEL_LOAD, the command line at X86_CMDLINE, the initrd
 * (optional: NULL or initrd_len 0) page aligned as high as it can go in low RAM below
 * initrd_addr_max and above the kernel, and boot_params at X86_BOOT_PARAMS with the
 * e820 map and acpi_rsdp_addr = rsdp_addr (0 for none). cmdline NULL means "".
 * Everything is checked before anything is written. Returns 0, or -errno with one line
 * in err: -E2BIG for a command line that is too long, -ENOSPC when the kernel or the
 * initrd does not fit, -EINVAL for a memory layout without low RAM at 0. */
int x86_boot_load(const struct guest_mem *mem, const struct x86_bzimage *bz, const uint8_t *img,
		  const uint8_t *initrd, size_t initrd_len, const char *cmdline, uint64_t rsdp_addr,
		  char *err, size_t errlen);

/* Writes the boot GDT at X86_GDT_ADDR (null, null, 64-bit code at X86_BOOT_CS, data at
 * X86_BOOT_DS) and page tables at X86_PAGE_TABLES identity-mapping [0, 4 GiB) with
 * 2 MiB pages. Returns 0 or -EFAULT if that memory is not guest RAM. */
int x86_boot_page_tables(const struct guest_mem *mem);

/* What a PC has at its reset vector (F000:FFF0) is firmware; ours is only a reset.
 * Linux reboots, when nothing else is configured, through EFI if the FADT says
 * hardware-reduced ACPI (ours does) and, with no EFI, by jumping to F000:FFF0 in real
 * mode (the "BIOS" method). The stub there writes the FADT's reset register, so that
 * path ends in a reset request like the others, instead of running zeros. */
#define X86_RESET_STUB_LEN 10
extern const uint8_t x86_reset_stub[X86_RESET_STUB_LEN];
int x86_boot_reset_stub(const struct guest_mem *mem);

/* Puts a vCPU in 64-bit mode at the kernel's 64-bit entry. sregs must come from
 * KVM_GET_SREGS (only the fields long mode needs are changed); regs is overwritten. */
void x86_boot_regs(struct kvm_sregs *sregs, struct kvm_regs *regs);

/* Shared by the bzImage and PVH loaders: err gets the message (when given), ret is
 * returned; and rounding up to a power-of-two alignment. */
__attribute__((format(printf, 4, 5))) int x86_boot_fail(char *err, size_t errlen, int ret,
							const char *fmt, ...);
static inline uint64_t x86_align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

#endif
