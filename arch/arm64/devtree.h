/* The arm64 guest's device tree, built with libfdt from one machine description.
 *
 * Portable C with no KVM headers, so that the unit tests run on any host: arm64.c fills
 * struct arm64_machine from the memory map (layout.h), the PCI windows and the boot
 * files, and the same description gives the tree that --dry-run prints. */
#ifndef MINIVMM_ARM64_DT_H
#define MINIVMM_ARM64_DT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The interrupt controller's and ITS's phandles in the tree. */
#define ARM64_DT_PHANDLE_GIC 1
#define ARM64_DT_PHANDLE_ITS 2

/* Every address is a guest physical one; a size of 0 leaves that part out where it is
 * optional (initrd, ITS, the 64-bit window). */
struct arm64_machine {
	unsigned int nr_vcpus;
	uint64_t ram_base, ram_size;
	const char *bootargs; /* NULL: none */
	uint64_t initrd_start, initrd_size;
	uint64_t gicd_base, gicd_size;
	uint64_t gicr_base, gicr_size; /* every vCPU's redistributor, one after another */
	uint64_t gicr_stride;	       /* one redistributor's size */
	uint64_t its_base, its_size;
	uint64_t uart_base, uart_size;
	uint32_t uart_spi, uart_clock; /* its interrupt (GIC SPI) and input clock in Hz */
	bool pmu;		       /* the vCPUs have a PMU (interrupt: PPI ARM64_PMU_PPI) */
	/* The PCI host bridge: ECAM for buses bus_first..bus_last, the I/O window (PCI port
	 * io_pci .. io_pci + io_size at CPU address io_cpu), and the memory windows, which
	 * are identity-mapped. */
	uint64_t ecam_base;
	uint32_t bus_first, bus_last;
	uint64_t io_cpu, io_pci, io_size;
	uint64_t m32_base, m32_size;
	uint64_t m64_base, m64_size;
	/* INTx: the SPI of pin (1 = INTA) of a device in slot s is intx_spi[s % 4][pin - 1]
	 * (the swizzle repeats every four slots). */
	uint32_t intx_spi[4][4];
	/* The ITS's device IDs for requester IDs 0 .. 0xffff: rid + msi_base. */
	uint32_t msi_base;
};

/* The PPIs of the architected timer (secure and non-secure physical, virtual,
 * hypervisor) and of the PMU, as KVM wires them. */
#define ARM64_TIMER_PPI_SEC  13
#define ARM64_TIMER_PPI_PHYS 14
#define ARM64_TIMER_PPI_VIRT 11
#define ARM64_TIMER_PPI_HYP  10
#define ARM64_PMU_PPI	     7

/* Builds the tree for m into buf (size bytes) and checks it with fdt_check_full.
 * Returns its size, or -EINVAL with one message in err for a description that cannot be
 * right (no vCPUs, too few redistributors, an initrd outside RAM, windows that overlap
 * RAM or each other, ...), -ENOSPC if it does not fit size. */
int arm64_devtree_build(const struct arm64_machine *m, void *buf, size_t size, char *err,
			size_t errlen);

/* The MPIDR affinity that KVM gives vCPU id (Aff0: id % 16, Aff1: id / 16): the cpu
 * node's reg, which PSCI CPU_ON names. */
uint64_t arm64_devtree_mpidr(unsigned int id);

#endif
