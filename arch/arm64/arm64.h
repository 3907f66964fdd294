/* What arm64.c (memory map, boot, device tree) and kvm.c (vGIC, vCPUs) share. */
#ifndef MINIVMM_ARM64_H
#define MINIVMM_ARM64_H

#include <stdbool.h>
#include <stdint.h>

struct arm64_its_state;

/* arch.h's struct arch_vm: made by arch_vm_init (kvm.c), the boot fields filled by
 * arch_load_kernel (arm64.c) for arch_vcpu_init. */
struct arch_vm {
	int gic_fd;	     /* the in-kernel GICv3 (KVM_DEV_TYPE_ARM_VGIC_V3) */
	int its_fd;	     /* its ITS, or -1 when the host's KVM has none (no MSIs) */
	bool pmu;	     /* the vCPUs get a PMUv3 (the host has KVM_CAP_ARM_PMU_V3) */
	bool io_window;	     /* the PCI I/O window is on the MMIO bus (arm64_io_window) */
	uint64_t entry, dtb; /* the boot vCPU's PC and x0 */
	/* A restore's ITS registers, from arch_vm_restore until the last vCPU's
	 * arch_vcpu_restore has restored every redistributor (state.c); else NULL. */
	struct arm64_its_state *its_restore;
};

struct kvm_vcpu_init;
/* KVM_ARM_VCPU_INIT's argument as every vCPU gets it (kvm.c), and as the CPU features
 * of a snapshot describe it (cpufeat.c): KVM's preferred target, PSCI 0.2, the PMU when
 * pmu, powered off when secondary. 0 or -errno. */
int arm64_vcpu_init_args(int vm_fd, bool pmu, bool secondary, struct kvm_vcpu_init *init);

struct machine;
/* Registers (on) or removes the PCI I/O window: MMIO accesses at ARM64_PCI_IO_BASE + N
 * become port N on the machine's port bus, where the PCI core puts I/O BARs. */
int arm64_io_window(struct machine *m, bool on);

#endif
