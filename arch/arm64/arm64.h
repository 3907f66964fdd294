/* What arm64.c (memory map, boot, device tree) and kvm.c (vGIC, vCPUs) share. */
#ifndef MINIVMM_ARM64_H
#define MINIVMM_ARM64_H

#include <stdbool.h>
#include <stdint.h>

/* arch.h's struct arch_vm: made by arch_vm_init (kvm.c), the boot fields filled by
 * arch_load_kernel (arm64.c) for arch_vcpu_init. */
struct arch_vm {
	int gic_fd;	     /* the in-kernel GICv3 (KVM_DEV_TYPE_ARM_VGIC_V3) */
	int its_fd;	     /* its ITS, or -1 when the host's KVM has none (no MSIs) */
	bool pmu;	     /* the vCPUs get a PMUv3 (the host has KVM_CAP_ARM_PMU_V3) */
	bool io_window;	     /* the PCI I/O window is on the MMIO bus (arm64_io_window) */
	uint64_t entry, dtb; /* the boot vCPU's PC and x0 */
};

struct machine;
/* Registers (on) or removes the PCI I/O window: MMIO accesses at ARM64_PCI_IO_BASE + N
 * become port N on the machine's port bus, where the PCI core puts I/O BARs. */
int arm64_io_window(struct machine *m, bool on);

#endif
