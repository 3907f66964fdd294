/* The in-kernel GICv3 and ITS state through the KVM device attributes
 * (Documentation/virt/kvm/devices/arm-vgic-v3.rst and arm-vgic-its.rst).
 *
 * What KVM requires, and the order kept here:
 *   - every access needs the vGIC initialised (KVM_DEV_ARM_VGIC_CTRL_INIT, done by the
 *     last arch_vcpu_init) and every vCPU out of KVM_RUN (-EBUSY otherwise);
 *   - distributor and redistributor registers are 32-bit: a 64-bit one (IROUTER,
 *     PROPBASER, PENDBASER) is its low word then its high word;
 *   - GICD_IIDR first (its revision says which behaviour userspace expects);
 *   - the ISPENDR registers carry the latch of a level interrupt, not its line, which
 *     KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO carries (so that a pending INTx survives); the
 *     SPIs' trigger (ICFGR) is restored before either;
 *   - the SET registers only set: the CLEAR ones first take away what the saved state
 *     does not have;
 *   - a redistributor's PROPBASER and PENDBASER before its GICR_CTLR (KVM ignores them
 *     once EnableLPIs is set), and ICC_CTLR_EL1 before the active-priority registers
 *     (its PRIbits say how many of them there are);
 *   - the ITS after every redistributor (its tables name them and read their LPI
 *     configuration and pending tables): GITS_IIDR (the table layout's revision), the
 *     BASERs, CBASER before CREADR (a CBASER write resets CREADR), CWRITER, the tables,
 *     GITS_CTLR last (enabling it runs any queued commands).
 * At save, KVM first writes the LPIs' pending bits and the ITS's tables into guest RAM:
 * a snapshot takes the memory after the state, and a migration sends the pages KVM
 * wrote with its last dirty pass. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/arm64/arm64.h"
#include "arch/arm64/gic_state.h"
#include "vmm/vm.h"

/* Distributor, and the redistributor's RD and SGI frames. */
#define GICD_CTLR	0x0000
#define GICD_IIDR	0x0008
#define GICD_IGROUPR	0x0080
#define GICD_ISENABLER	0x0100
#define GICD_ICENABLER	0x0180
#define GICD_ISPENDR	0x0200
#define GICD_ISACTIVER	0x0300
#define GICD_ICACTIVER	0x0380
#define GICD_IPRIORITYR 0x0400
#define GICD_ICFGR	0x0c00
#define GICD_IROUTER	0x6000
#define GICR_CTLR	0x0000
#define GICR_PROPBASER	0x0070
#define GICR_PENDBASER	0x0078
#define GICR_SGI	0x10000 /* the SGI frame's registers are the distributor's */
#define GITS_CTLR	0x0000
#define GITS_IIDR	0x0004
#define GITS_CBASER	0x0080
#define GITS_CWRITER	0x0088
#define GITS_CREADR	0x0090
#define GITS_BASER	0x0100
/* ICC_*_EL1 as KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS names them: op0, op1, CRn, CRm, op2. */
#define ICC(op0, op1, crn, crm, op2)                                                               \
	((uint64_t)((op0) << 14 | (op1) << 11 | (crn) << 7 | (crm) << 3 | (op2)))
#define ICC_PMR		    ICC(3, 0, 4, 6, 0)
#define ICC_BPR0	    ICC(3, 0, 12, 8, 3)
#define ICC_AP0R(n)	    ICC(3, 0, 12, 8, 4 + (n))
#define ICC_AP1R(n)	    ICC(3, 0, 12, 9, (n))
#define ICC_BPR1	    ICC(3, 0, 12, 12, 3)
#define ICC_CTLR	    ICC(3, 0, 12, 12, 4)
#define ICC_SRE		    ICC(3, 0, 12, 12, 5)
#define ICC_IGRPEN0	    ICC(3, 0, 12, 12, 6)
#define ICC_IGRPEN1	    ICC(3, 0, 12, 12, 7)
#define ICC_CTLR_PRIBITS(v) ((unsigned int)((v) >> 8 & 7) + 1)

/* Reads (set false) or writes one attribute; 0 or -errno. */
static int attr(int fd, bool set, uint32_t group, uint64_t a, void *val)
{
	struct kvm_device_attr da = {.group = group, .attr = a, .addr = (uintptr_t)val};

	return ioctl(fd, set ? KVM_SET_DEVICE_ATTR : KVM_GET_DEVICE_ATTR, &da) < 0 ? -errno : 0;
}

/* The reason in vm->m.last_err, with KVM's error; returns ret. */
static int fail(struct vm *vm, int ret, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(vm->m.last_err, sizeof(vm->m.last_err), fmt, ap);
	va_end(ap);
	n = strlen(vm->m.last_err);
	snprintf(vm->m.last_err + n, sizeof(vm->m.last_err) - n, ": %s", strerror(-ret));
	return ret;
}

/* The attribute's vCPU field: MPIDR_EL1's affinity levels 3 to 0, one byte each. */
static uint64_t mpidr_attr(uint64_t mpidr)
{
	return ((mpidr >> 32 & 0xff) << 24 | (mpidr & 0xffffff)) << KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT;
}

/* One 32-bit register of a frame (group DIST_REGS or REDIST_REGS) at off. */
static int reg32(struct vm *vm, bool set, uint32_t group, uint64_t mpidr, uint32_t off, uint32_t *v)
{
	int ret = attr(vm->arch->gic_fd, set, group, mpidr_attr(mpidr) | off, v);

	if (ret < 0)
		return fail(vm, ret, "%s %s %#x (vCPU MPIDR %#llx)", set ? "setting" : "reading",
			    group == KVM_DEV_ARM_VGIC_GRP_DIST_REGS ? "GICD" : "GICR", off,
			    (unsigned long long)mpidr);
	return 0;
}

/* A 64-bit register as its two words, low first. */
static int reg64(struct vm *vm, bool set, uint32_t group, uint64_t mpidr, uint32_t off, uint64_t *v)
{
	uint32_t lo = (uint32_t)*v, hi = (uint32_t)(*v >> 32);
	int ret = reg32(vm, set, group, mpidr, off, &lo);

	ret = ret ?: reg32(vm, set, group, mpidr, off + 4, &hi);
	if (ret == 0 && !set)
		*v = (uint64_t)hi << 32 | lo;
	return ret;
}

static int icc(struct vm *vm, bool set, uint64_t mpidr, uint64_t reg, uint64_t *v)
{
	int ret = attr(vm->arch->gic_fd, set, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS,
		       mpidr_attr(mpidr) | reg, v);

	if (ret < 0)
		return fail(vm, ret,
			    "%s GIC CPU interface register op0..op2 %#llx (vCPU MPIDR %#llx)",
			    set ? "setting" : "reading", (unsigned long long)reg,
			    (unsigned long long)mpidr);
	return 0;
}

static int its_reg(struct vm *vm, bool set, uint32_t off, uint64_t *v)
{
	int ret = attr(vm->arch->its_fd, set, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, off, v);

	return ret < 0 ? fail(vm, ret, "%s GITS %#x", set ? "setting" : "reading", off) : 0;
}

static int level(struct vm *vm, bool set, uint64_t mpidr0, uint32_t intid, uint32_t *v)
{
	uint64_t a =
	    mpidr_attr(mpidr0) |
	    (uint64_t)VGIC_LEVEL_INFO_LINE_LEVEL << KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT | intid;
	int ret = attr(vm->arch->gic_fd, set, KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO, a, v);

	return ret < 0 ? fail(vm, ret, "%s the line levels from INTID %u",
			      set ? "setting" : "reading", intid)
		       : 0;
}

static int nr_irqs(struct vm *vm, uint32_t *n)
{
	int ret = attr(vm->arch->gic_fd, false, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, n);

	return ret < 0 ? fail(vm, ret, "reading the vGIC's number of interrupts") : 0;
}

/* The SPIs' registers, one direction: w from 1 (INTID 32) up, in the words of each
 * register's width. Restore order as the header says. */
static int gicd_spis(struct vm *vm, bool set, uint64_t mpidr0, struct arm64_gicd_state *s)
{
	const uint32_t D = KVM_DEV_ARM_VGIC_GRP_DIST_REGS, words = s->nr_irqs / 32;
	int ret = 0;

	for (uint32_t w = 1; w < words && ret == 0; w++)
		ret = reg32(vm, set, D, 0, GICD_IGROUPR + 4 * w, &s->igroupr[w]);
	for (uint32_t w = 2; w < s->nr_irqs / 16 && ret == 0; w++)
		ret = reg32(vm, set, D, 0, GICD_ICFGR + 4 * w, &s->icfgr[w]);
	for (uint32_t w = 8; w < s->nr_irqs / 4 && ret == 0; w++)
		ret = reg32(vm, set, D, 0, GICD_IPRIORITYR + 4 * w, &s->ipriorityr[w]);
	for (uint32_t i = 32; i < s->nr_irqs && ret == 0; i++)
		ret = reg64(vm, set, D, 0, GICD_IROUTER + 8 * i, &s->irouter[i]);
	for (uint32_t w = 1; w < words && ret == 0; w++)
		ret = level(vm, set, mpidr0, 32 * w, &s->level[w]);
	for (uint32_t w = 1; w < words && ret == 0; w++) {
		uint32_t clear_active = ~s->isactiver[w], clear_enable = ~s->isenabler[w];

		ret = reg32(vm, set, D, 0, GICD_ISPENDR + 4 * w, &s->ispendr[w]);
		if (set && ret == 0)
			ret = reg32(vm, true, D, 0, GICD_ICACTIVER + 4 * w, &clear_active);
		ret = ret ?: reg32(vm, set, D, 0, GICD_ISACTIVER + 4 * w, &s->isactiver[w]);
		if (set && ret == 0)
			ret = reg32(vm, true, D, 0, GICD_ICENABLER + 4 * w, &clear_enable);
		ret = ret ?: reg32(vm, set, D, 0, GICD_ISENABLER + 4 * w, &s->isenabler[w]);
	}
	return ret;
}

static int its_save(struct vm *vm, struct arm64_its_state *s)
{
	int ret = attr(vm->arch->its_fd, true, KVM_DEV_ARM_VGIC_GRP_CTRL,
		       KVM_DEV_ARM_ITS_SAVE_TABLES, NULL);

	if (ret < 0)
		return fail(vm, ret, "writing the ITS tables to guest memory");
	ret = its_reg(vm, false, GITS_IIDR, &s->iidr);
	for (int n = 0; n < 8 && ret == 0; n++)
		ret = its_reg(vm, false, GITS_BASER + 8 * n, &s->baser[n]);
	ret = ret ?: its_reg(vm, false, GITS_CBASER, &s->cbaser);
	ret = ret ?: its_reg(vm, false, GITS_CREADR, &s->creadr);
	ret = ret ?: its_reg(vm, false, GITS_CWRITER, &s->cwriter);
	ret = ret ?: its_reg(vm, false, GITS_CTLR, &s->ctlr);
	return ret;
}

int arm64_gicd_save(struct vm *vm, uint64_t mpidr0, struct arm64_gicd_state *s)
{
	const uint32_t D = KVM_DEV_ARM_VGIC_GRP_DIST_REGS;
	int ret;

	memset(s, 0, sizeof(*s));
	s->has_its = vm->arch->its_fd >= 0;
	ret = nr_irqs(vm, &s->nr_irqs);
	if (ret == 0 && (s->nr_irqs > ARM64_GIC_MAX_IRQS || s->nr_irqs % 32))
		return fail(vm, -ERANGE, "the vGIC has %u interrupts", s->nr_irqs);
	/* The LPIs' pending bits into their tables, before the ITS's. */
	if (ret == 0 && s->has_its &&
	    (ret = attr(vm->arch->gic_fd, true, KVM_DEV_ARM_VGIC_GRP_CTRL,
			KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES, NULL)) < 0)
		return fail(vm, ret, "writing the LPI pending tables to guest memory");
	ret = ret ?: reg32(vm, false, D, 0, GICD_IIDR, &s->iidr);
	ret = ret ?: reg32(vm, false, D, 0, GICD_CTLR, &s->ctlr);
	ret = ret ?: gicd_spis(vm, false, mpidr0, s);
	if (ret == 0 && s->has_its)
		ret = its_save(vm, &s->its);
	return ret;
}

int arm64_gicd_restore(struct vm *vm, uint64_t mpidr0, const struct arm64_gicd_state *saved)
{
	struct arm64_gicd_state s = *saved; /* the accessors take pointers */
	uint32_t mine = 0;
	int ret = nr_irqs(vm, &mine);

	if (ret < 0)
		return ret;
	if (s.nr_irqs != mine) {
		snprintf(vm->m.last_err, sizeof(vm->m.last_err),
			 "the saved vGIC has %u interrupts, this VM's has %u", s.nr_irqs, mine);
		return -EINVAL;
	}
	if (s.has_its != (vm->arch->its_fd >= 0)) {
		snprintf(vm->m.last_err, sizeof(vm->m.last_err),
			 "the guest %s a GICv3 ITS and this host's KVM %s",
			 s.has_its ? "had" : "had no", s.has_its ? "has none" : "gives it one");
		return -EINVAL;
	}
	ret = reg32(vm, true, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0, GICD_IIDR, &s.iidr);
	ret = ret ?: gicd_spis(vm, true, mpidr0, &s);
	ret = ret ?: reg32(vm, true, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0, GICD_CTLR, &s.ctlr);
	return ret;
}

/* The CPU interface, one direction; the active-priority registers that the guest's
 * priority bits give it (1, 2 or 4 of each; KVM refuses the others). */
static int cpu_if(struct vm *vm, bool set, uint64_t mpidr, struct arm64_gicr_state *s)
{
	unsigned int pribits, naprs;
	int ret;

	ret = icc(vm, set, mpidr, ICC_SRE, &s->icc_sre);
	ret = ret ?: icc(vm, set, mpidr, ICC_CTLR, &s->icc_ctlr);
	ret = ret ?: icc(vm, set, mpidr, ICC_PMR, &s->icc_pmr);
	ret = ret ?: icc(vm, set, mpidr, ICC_BPR0, &s->icc_bpr0);
	ret = ret ?: icc(vm, set, mpidr, ICC_BPR1, &s->icc_bpr1);
	if (ret < 0)
		return ret;
	pribits = ICC_CTLR_PRIBITS(s->icc_ctlr);
	naprs = pribits >= 7 ? 4 : pribits == 6 ? 2 : 1;
	for (unsigned int n = 0; n < naprs && ret == 0; n++) {
		ret = icc(vm, set, mpidr, ICC_AP0R(n), &s->icc_ap0r[n]);
		ret = ret ?: icc(vm, set, mpidr, ICC_AP1R(n), &s->icc_ap1r[n]);
	}
	ret = ret ?: icc(vm, set, mpidr, ICC_IGRPEN0, &s->icc_igrpen0);
	ret = ret ?: icc(vm, set, mpidr, ICC_IGRPEN1, &s->icc_igrpen1);
	return ret;
}

/* The SGI frame: the SGIs' and PPIs' configuration and state. */
static int sgi_frame(struct vm *vm, bool set, uint64_t mpidr, struct arm64_gicr_state *s)
{
	const uint32_t R = KVM_DEV_ARM_VGIC_GRP_REDIST_REGS;
	uint32_t clear_active = ~s->isactiver0, clear_enable = ~s->isenabler0;
	int ret = reg32(vm, set, R, mpidr, GICR_SGI + GICD_IGROUPR, &s->igroupr0);

	for (uint32_t w = 0; w < 2 && ret == 0; w++)
		ret = reg32(vm, set, R, mpidr, GICR_SGI + GICD_ICFGR + 4 * w, &s->icfgr[w]);
	for (uint32_t w = 0; w < 8 && ret == 0; w++)
		ret =
		    reg32(vm, set, R, mpidr, GICR_SGI + GICD_IPRIORITYR + 4 * w, &s->ipriorityr[w]);
	ret = ret ?: reg32(vm, set, R, mpidr, GICR_SGI + GICD_ISPENDR, &s->ispendr0);
	if (set && ret == 0)
		ret = reg32(vm, true, R, mpidr, GICR_SGI + GICD_ICACTIVER, &clear_active);
	ret = ret ?: reg32(vm, set, R, mpidr, GICR_SGI + GICD_ISACTIVER, &s->isactiver0);
	if (set && ret == 0)
		ret = reg32(vm, true, R, mpidr, GICR_SGI + GICD_ICENABLER, &clear_enable);
	ret = ret ?: reg32(vm, set, R, mpidr, GICR_SGI + GICD_ISENABLER, &s->isenabler0);
	return ret;
}

/* The PPIs' input lines are not saved: the only PPIs are the timer's and the PMU's,
 * whose levels KVM computes again from their restored registers when the vCPU runs. */
int arm64_gicr_save(struct vm *vm, uint64_t mpidr, struct arm64_gicr_state *s)
{
	const uint32_t R = KVM_DEV_ARM_VGIC_GRP_REDIST_REGS;
	int ret;

	memset(s, 0, sizeof(*s));
	ret = reg32(vm, false, R, mpidr, GICR_CTLR, &s->ctlr);
	ret = ret ?: reg64(vm, false, R, mpidr, GICR_PROPBASER, &s->propbaser);
	ret = ret ?: reg64(vm, false, R, mpidr, GICR_PENDBASER, &s->pendbaser);
	ret = ret ?: sgi_frame(vm, false, mpidr, s);
	ret = ret ?: cpu_if(vm, false, mpidr, s);
	return ret;
}

int arm64_gicr_restore(struct vm *vm, uint64_t mpidr, const struct arm64_gicr_state *saved)
{
	const uint32_t R = KVM_DEV_ARM_VGIC_GRP_REDIST_REGS;
	struct arm64_gicr_state s = *saved;
	int ret;

	ret = reg64(vm, true, R, mpidr, GICR_PROPBASER, &s.propbaser);
	ret = ret ?: reg64(vm, true, R, mpidr, GICR_PENDBASER, &s.pendbaser);
	ret = ret ?: sgi_frame(vm, true, mpidr, &s);
	ret = ret ?: reg32(vm, true, R, mpidr, GICR_CTLR, &s.ctlr);
	ret = ret ?: cpu_if(vm, true, mpidr, &s);
	return ret;
}

int arm64_its_restore(struct vm *vm, const struct arm64_its_state *saved)
{
	struct arm64_its_state s = *saved;
	int ret = its_reg(vm, true, GITS_IIDR, &s.iidr);

	for (int n = 0; n < 8 && ret == 0; n++)
		ret = its_reg(vm, true, GITS_BASER + 8 * n, &s.baser[n]);
	ret = ret ?: its_reg(vm, true, GITS_CBASER, &s.cbaser);
	ret = ret ?: its_reg(vm, true, GITS_CREADR, &s.creadr);
	ret = ret ?: its_reg(vm, true, GITS_CWRITER, &s.cwriter);
	if (ret == 0 && (ret = attr(vm->arch->its_fd, true, KVM_DEV_ARM_VGIC_GRP_CTRL,
				    KVM_DEV_ARM_ITS_RESTORE_TABLES, NULL)) < 0)
		return fail(vm, ret, "reading the ITS tables back from guest memory");
	ret = ret ?: its_reg(vm, true, GITS_CTLR, &s.ctlr);
	return ret;
}
