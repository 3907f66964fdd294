/* The in-kernel GICv3's state and its ITS's, read and written through the KVM device
 * attributes (gic_state.c), for state.c's snapshot, restore and migration. The layouts
 * are part of the arm64 state (ARCH_STATE_VERSION in state.c). */
#ifndef MINIVMM_ARM64_GIC_STATE_H
#define MINIVMM_ARM64_GIC_STATE_H

#include <stdint.h>

/* The GICv3's INTID space for SGIs, PPIs and SPIs: the most KVM_DEV_ARM_VGIC_GRP_NR_IRQS
 * may say. */
#define ARM64_GIC_MAX_IRQS 1024

/* The ITS's registers (its tables are in guest RAM, written there at save). */
struct arm64_its_state {
	uint64_t iidr, cbaser, creadr, cwriter, ctlr;
	uint64_t baser[8];
};

/* The distributor. Registers of 1, 2 or 8 bits per interrupt are kept as the 32-bit
 * words KVM reads, indexed as the register file is (INTID / 32, / 16, / 4): the words
 * of the SGIs and PPIs stay 0 here (they are each redistributor's). */
struct arm64_gicd_state {
	uint32_t nr_irqs; /* KVM_DEV_ARM_VGIC_GRP_NR_IRQS */
	uint32_t has_its;
	uint32_t iidr, ctlr;
	uint32_t igroupr[ARM64_GIC_MAX_IRQS / 32], isenabler[ARM64_GIC_MAX_IRQS / 32];
	uint32_t ispendr[ARM64_GIC_MAX_IRQS / 32], isactiver[ARM64_GIC_MAX_IRQS / 32];
	uint32_t level[ARM64_GIC_MAX_IRQS / 32]; /* the SPIs' input lines */
	uint32_t icfgr[ARM64_GIC_MAX_IRQS / 16];
	uint32_t ipriorityr[ARM64_GIC_MAX_IRQS / 4];
	uint64_t irouter[ARM64_GIC_MAX_IRQS];
	struct arm64_its_state its;
};

/* One vCPU's redistributor (its RD and SGI frames) and CPU interface registers. */
struct arm64_gicr_state {
	uint64_t propbaser, pendbaser;
	uint32_t ctlr, igroupr0, isenabler0, ispendr0, isactiver0;
	uint32_t icfgr[2], ipriorityr[8];
	uint64_t icc_sre, icc_ctlr, icc_pmr, icc_bpr0, icc_bpr1, icc_igrpen0, icc_igrpen1;
	uint64_t icc_ap0r[4], icc_ap1r[4];
};

/* All return 0, or -errno with the reason in vm->m.last_err. Save with every vCPU out
 * of KVM_RUN. mpidr: the vCPU's MPIDR_EL1, which names its redistributor. */
struct vm;
/* Writes the LPIs' pending bits and the ITS's tables into guest RAM (before it is
 * saved or its last dirty pages sent), then reads the distributor and the ITS. */
int arm64_gicd_save(struct vm *vm, uint64_t mpidr0, struct arm64_gicd_state *s);
int arm64_gicd_restore(struct vm *vm, uint64_t mpidr0, const struct arm64_gicd_state *s);
int arm64_gicr_save(struct vm *vm, uint64_t mpidr, struct arm64_gicr_state *s);
int arm64_gicr_restore(struct vm *vm, uint64_t mpidr, const struct arm64_gicr_state *s);
/* After every redistributor is restored (the tables name them and their LPI tables). */
int arm64_its_restore(struct vm *vm, const struct arm64_its_state *s);

#endif
