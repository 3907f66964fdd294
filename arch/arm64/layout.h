/* arm64 guest physical memory map (a "virt"-like board: devices below 2 GiB, RAM from
 * 2 GiB, large PCI BARs above RAM).
 *
 *   0x08000000  GICv3 distributor (64 KiB)
 *   0x08080000  GICv3 ITS (128 KiB): MSI/MSI-X doorbell (GITS_TRANSLATER at +0x10040)
 *   0x080a0000  GICv3 redistributors, 128 KiB per vCPU, up to ARM64_MAX_VCPUS
 *   0x09000000  console UART, a 16550 (4 KiB), on SPI ARM64_UART_SPI
 *   0x3eff0000  PCI I/O window: port N is at this address + N (64 KiB)
 *   0x40000000  PCI ECAM (256 MiB reserved; bus 0 used)
 *   0x50000000  PCI 32-bit memory window, up to RAM
 *   0x80000000  RAM: the kernel at its 2 MiB aligned start + text_offset, the initrd
 *               below the device tree, the device tree in the last 2 MiB
 *   above RAM   PCI 64-bit memory window (from the first GiB boundary)
 *
 * Interrupts: wired GSI n is SPI n (INTID 32 + n); the UART is SPI 1, PCI INTx the
 * SPIs 16-19 (devices/pci.c's pci_intx_gsi), MSIs go through the ITS. */
#ifndef MINIVMM_ARM64_LAYOUT_H
#define MINIVMM_ARM64_LAYOUT_H

#define ARM64_GICD_BASE	  0x08000000ULL
#define ARM64_GICD_SIZE	  0x10000ULL
#define ARM64_GITS_BASE	  0x08080000ULL
#define ARM64_GITS_SIZE	  0x20000ULL
#define ARM64_GICR_BASE	  0x080a0000ULL
#define ARM64_GICR_STRIDE 0x20000ULL /* RD_base and SGI_base frames */
#define ARM64_MAX_VCPUS	  123	     /* redistributors that fit below the UART */
#define ARM64_UART_BASE	  0x09000000ULL
#define ARM64_UART_SIZE	  0x1000ULL
#define ARM64_UART_SPI	  1
#define ARM64_UART_CLOCK  1843200 /* the PC UART's crystal: 115200 baud at divisor 1 */
#define ARM64_PCI_IO_BASE 0x3eff0000ULL
#define ARM64_PCI_IO_SIZE 0x10000ULL
#define ARM64_ECAM_BASE	  0x40000000ULL
#define ARM64_M32_BASE	  0x50000000ULL
#define ARM64_RAM_BASE	  0x80000000ULL
#define ARM64_M32_END	  ARM64_RAM_BASE
/* The vGIC's interrupt count (SGIs, PPIs and SPIs; a multiple of 32). */
#define ARM64_GIC_NR_IRQS 256
#define ARM64_NR_WIRED	  32 /* wired GSIs, i.e. SPIs 0-31 */
/* KVM's default guest physical address size for KVM_CREATE_VM type 0 (40 bits). */
#define ARM64_DEFAULT_IPA_BITS 40

#endif
