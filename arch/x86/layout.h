/* x86 guest physical memory map and fixed I/O ports.
 *
 *   0x00000000  real-mode IVT/BDA (RAM, left zero)
 *   0x00000500  GDT for the 64-bit boot entry
 *   0x00007000  boot_params ("zero page"), or for a vmlinux the PVH start info page
 *   0x00009000  page tables: PML4, PDPT at +0x1000, 4 PDs at +0x2000 (4 GiB, 2 MiB pages)
 *   0x00020000  kernel command line (X86_CMDLINE_MAX bytes)
 *   0x0009fc00  EBDA .. 1 MiB: reserved in e820 (legacy BIOS area)
 *   0x000e0000  ACPI tables, RSDP first (inside the reserved BIOS area)
 *   0x000ffff0  the reset stub at F000:FFF0, the real-mode reset vector (boot.c)
 *   0x00100000  protected-mode kernel (bzImage payload); a vmlinux goes where its
 *               segments say (p_paddr), clear of everything above (pvh.c)
 *   ...         initrd: as high as possible below min(low RAM end, initrd_addr_max)
 *   0xc0000000  32-bit PCI/MMIO hole start (RAM stops here, resumes at 4 GiB)
 *   0xe0000000  PCI ECAM (MMCONFIG), 256 MiB
 *   0xfec00000  IOAPIC
 *   0xfee00000  local APIC
 *   0xfffbc000  KVM identity-map page and TSS (Intel only; never RAM)
 *   0x100000000 high RAM
 */
#ifndef MINIVMM_X86_LAYOUT_H
#define MINIVMM_X86_LAYOUT_H

#define X86_GDT_ADDR	 0x500ULL
#define X86_BOOT_PARAMS	 0x7000ULL
#define X86_PAGE_TABLES	 0x9000ULL
#define X86_CMDLINE	 0x20000ULL
#define X86_CMDLINE_MAX	 0x10000ULL
#define X86_EBDA_START	 0x9fc00ULL
#define X86_ACPI_BASE	 0xe0000ULL
#define X86_ACPI_MAX	 0x1ff00ULL /* up to the reset stub's 16 bytes */
#define X86_RESET_VECTOR 0xffff0ULL
#define X86_KERNEL_LOAD	 0x100000ULL
#define X86_HOLE_START	 0xc0000000ULL
#define X86_ECAM_BASE	 0xe0000000ULL
#define X86_ECAM_SIZE	 0x10000000ULL
#define X86_IOAPIC_ADDR	 0xfec00000ULL
#define X86_LAPIC_ADDR	 0xfee00000ULL
#define X86_IDENTITY_MAP 0xfffbc000ULL
#define X86_TSS_ADDR	 0xfffbd000ULL
#define X86_HIGH_RAM	 0x100000000ULL

/* The boot page tables' size (PML4, PDPT, 4 PDs); a vmlinux's PVH start info page (pvh.h)
 * goes where a bzImage's boot_params go. */
#define X86_PAGE_TABLES_SIZE 0x6000ULL
#define X86_PVH_START_INFO   X86_BOOT_PARAMS

/* I/O ports of the ACPI hardware-reduced registers (see acpi.c, devices/acpi_pm.c). */
#define X86_PORT_SLEEP_CTL 0x600 /* write (SLP_TYP << 2) | SLP_EN(0x20) */
#define X86_PORT_SLEEP_STS 0x601
#define X86_PORT_RESET	   0x602 /* write X86_RESET_VALUE to reset */
#define X86_RESET_VALUE	   0x1
#define X86_SLP_TYP_S5	   5 /* \_S5 package value in the DSDT */
/* Guest userspace writes any byte here (via /dev/port) to mark "userspace reached". */
#define X86_PORT_BOOT_MARK 0x5fe
/* Benchmarks: a byte written here logs the VMM's exit counters (with MINIVMM_STATS set),
 * so that a guest can bracket a measured phase (devices/power.c). */
#define X86_PORT_STATS_MARK 0x5ff

#define X86_SERIAL_COM1	    0x3f8
#define X86_SERIAL_COM1_IRQ 4

/* PCI hotplug and the power button, without firmware (devices/hotplug.c; the DSDT's
 * GED0, HPRG, PCI0.Sxx and PWRB in acpi.c): four 32-bit registers from this port,
 *   +0  GEVT  read: pending event bits (X86_GED_*), cleared by the read
 *   +4  PCIU  read: slots with a device added, bit per slot, cleared by the read
 *   +8  PCID  read: slots whose device the VMM asks the OS to eject, cleared by the read
 *   +12 EJCT  write: a slot number; the OS has released that slot's device (_EJ0)
 * and the ACPI generic event device (ACPI0013) interrupting on ISA IRQ X86_GED_IRQ
 * (edge, active high) whenever GEVT gains a bit. */
#define X86_PORT_HOTPLUG     0x610
#define X86_PORT_HOTPLUG_LEN 16
#define X86_GED_IRQ	     5
#define X86_GED_PCI_HOTPLUG  (1u << 1) /* look at PCIU and PCID */
#define X86_GED_POWER_BUTTON (1u << 2) /* the power button was pressed */

#endif
