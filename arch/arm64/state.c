/* Saving and restoring what KVM holds of an arm64 VM and its vCPUs (arch/arch.h's
 * arch_*_save / arch_*_restore), for snapshot, restore and migration.
 *
 * A vCPU's state is every register KVM_GET_REG_LIST names (the core registers, the
 * FP/SIMD V registers, the system registers, the architected timers' CTL/CVAL/CNT, the
 * firmware pseudo-registers: PSCI version, the Spectre workarounds' states, the
 * hypercall bitmaps), read one by one with KVM_GET_ONE_REG, its mp_state (a secondary
 * that PSCI CPU_OFF'ed, or that was never started, stays off), its redistributor and
 * its GIC CPU interface (gic_state.c). The VM's is the GIC distributor and the ITS.
 *
 * Restore order, and why:
 *   VM (arch_vm_restore): the distributor. Its IROUTERs name vCPUs by MPIDR, which
 *       KVM gives each vCPU from its index, so they are this VM's vCPUs already. The
 *       ITS waits (in vm->arch) for the redistributors.
 *   each vCPU, in index order: its MPIDR checked against the saved one (the
 *       redistributor attributes name the vCPU by it); the registers in KVM's list
 *       order but the two counters (TIMER_CNT, PTIMER_CNT) last: writing one sets the
 *       VM's counter offset so that the guest's counter goes on from the saved value,
 *       and every moment between that write and the vCPUs' first run passes for the
 *       guest, so it comes as late as can be; mp_state; the redistributor and CPU
 *       interface (after the registers: nothing there needs them, but the MPIDR was
 *       checked); the last vCPU then restores the ITS, which needs all redistributors.
 *   Nothing of the saved state is skipped: a register the destination's KVM does not
 *   list, or refuses, fails the restore naming it (the CPU features line, cpufeat.c,
 *   has already refused a host whose CPU differs).
 * Not carried: a reset that KVM has pending for a secondary between the guest's PSCI
 * CPU_ON and that vCPU's next run (no register or attribute shows it), so a guest saved
 * in that moment of its CPU bring-up would restore that vCPU runnable at its old
 * registers.
 * Every vCPU must be out of KVM_RUN while this runs (KVM refuses the vGIC's attributes
 * otherwise); a restore runs before any vCPU has run (KVM takes the firmware bitmaps
 * and changed ID registers only then). */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/arch.h"
#include "arch/arm64/arm64.h"
#include "arch/arm64/gic_state.h"
#include "vmm/log.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

/* A change to the layouts below or in gic_state.h is a new version. */
#define ARCH_STATE_VERSION 1
/* KVM 6.12 lists about 250-300 registers for a vCPU with a PMU and without SVE. */
#define ARM64_MAX_REGS	   1024
#define ARM64_MAX_REG_SIZE 16 /* the V registers; an SVE Z register (256) does not fit */
#define REG_MPIDR	   ARM64_SYS_REG(3, 0, 0, 0, 5)

struct arm64_reg {
	uint64_t id; /* KVM_REG_ARM64 | size | class | index */
	uint8_t val[ARM64_MAX_REG_SIZE];
};

struct arch_vcpu_state {
	uint64_t mpidr;	   /* MPIDR_EL1: which redistributor is the vCPU's */
	uint32_t mp_state; /* KVM_MP_STATE_RUNNABLE, _STOPPED or _SUSPENDED */
	uint32_t nr_regs;
	struct arm64_gicr_state gicr;
	struct arm64_reg regs[ARM64_MAX_REGS];
};

struct arch_vm_state {
	struct arm64_gicd_state gicd;
};

const char *arch_state_name(int *version)
{
	*version = ARCH_STATE_VERSION;
	return "arm64";
}

size_t arch_vm_state_size(void)
{
	return sizeof(struct arch_vm_state);
}

size_t arch_vcpu_state_size(void)
{
	return sizeof(struct arch_vcpu_state);
}

static size_t reg_size(uint64_t id)
{
	return (size_t)1 << ((id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT);
}

/* The register for a message: its id, and for a system register its encoding. */
static const char *reg_name(uint64_t id, char *buf, size_t len)
{
	if ((id & KVM_REG_ARM_COPROC_MASK) == KVM_REG_ARM64_SYSREG)
		snprintf(buf, len, "%#llx (S%u_%u_C%u_C%u_%u)", (unsigned long long)id,
			 (unsigned int)(id >> 14 & 3), (unsigned int)(id >> 11 & 7),
			 (unsigned int)(id >> 7 & 15), (unsigned int)(id >> 3 & 15),
			 (unsigned int)(id & 7));
	else
		snprintf(buf, len, "%#llx", (unsigned long long)id);
	return buf;
}

static int one_reg(int fd, bool set, uint64_t id, void *val)
{
	struct kvm_one_reg r = {.id = id, .addr = (uintptr_t)val};

	return ioctl(fd, set ? KVM_SET_ONE_REG : KVM_GET_ONE_REG, &r) < 0 ? -errno : 0;
}

/* The vCPU's register list, malloc'd into *list; at most ARM64_MAX_REGS. */
static int reg_list(struct vm *vm, struct vcpu *vcpu, struct kvm_reg_list **list)
{
	struct kvm_reg_list probe = {.n = 0};
	struct kvm_reg_list *l;

	if (ioctl(vcpu->fd, KVM_GET_REG_LIST, &probe) == 0 || errno != E2BIG) {
		snprintf(vm->m.last_err, sizeof(vm->m.last_err), "vCPU %u: KVM_GET_REG_LIST: %s",
			 vcpu->id, strerror(errno));
		return -EIO;
	}
	if (probe.n > ARM64_MAX_REGS) {
		snprintf(vm->m.last_err, sizeof(vm->m.last_err),
			 "vCPU %u has %llu registers, more than the %d the arm64 state holds",
			 vcpu->id, (unsigned long long)probe.n, ARM64_MAX_REGS);
		return -E2BIG;
	}
	l = malloc(sizeof(*l) + probe.n * sizeof(l->reg[0]));
	if (!l)
		return -ENOMEM;
	l->n = probe.n;
	if (ioctl(vcpu->fd, KVM_GET_REG_LIST, l) < 0) {
		snprintf(vm->m.last_err, sizeof(vm->m.last_err), "vCPU %u: KVM_GET_REG_LIST: %s",
			 vcpu->id, strerror(errno));
		free(l);
		return -EIO;
	}
	*list = l;
	return 0;
}

static int mpidr_of(struct vm *vm, struct vcpu *vcpu, uint64_t *mpidr)
{
	int ret = one_reg(vcpu->fd, false, REG_MPIDR, mpidr);

	if (ret < 0)
		snprintf(vm->m.last_err, sizeof(vm->m.last_err), "vCPU %u: reading MPIDR_EL1: %s",
			 vcpu->id, strerror(-ret));
	return ret;
}

int arch_vcpu_save(struct vm *vm, struct vcpu *vcpu, struct arch_vcpu_state *s)
{
	struct kvm_mp_state mp;
	struct kvm_reg_list *l = NULL;
	char name[64];
	int ret;

	memset(s, 0, sizeof(*s));
	vm->m.last_err[0] = 0;
	ret = mpidr_of(vm, vcpu, &s->mpidr);
	if (ret < 0)
		goto out;
	if (ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp) < 0) {
		ret = -errno;
		snprintf(vm->m.last_err, sizeof(vm->m.last_err), "vCPU %u: KVM_GET_MP_STATE: %s",
			 vcpu->id, strerror(-ret));
		goto out;
	}
	s->mp_state = mp.mp_state;
	ret = reg_list(vm, vcpu, &l);
	if (ret < 0)
		goto out;
	for (uint64_t i = 0; i < l->n; i++) {
		struct arm64_reg *r = &s->regs[i];

		r->id = l->reg[i];
		if (reg_size(r->id) > ARM64_MAX_REG_SIZE) {
			snprintf(
			    vm->m.last_err, sizeof(vm->m.last_err),
			    "vCPU %u: register %s is %zu bytes, more than the arm64 state holds "
			    "(SVE is not supported)",
			    vcpu->id, reg_name(r->id, name, sizeof(name)), reg_size(r->id));
			ret = -E2BIG;
			goto out;
		}
		ret = one_reg(vcpu->fd, false, r->id, r->val);
		if (ret < 0) {
			snprintf(vm->m.last_err, sizeof(vm->m.last_err),
				 "vCPU %u: reading register %s: %s", vcpu->id,
				 reg_name(r->id, name, sizeof(name)), strerror(-ret));
			goto out;
		}
	}
	s->nr_regs = (uint32_t)l->n;
	ret = arm64_gicr_save(vm, s->mpidr, &s->gicr);
out:
	if (ret < 0)
		log_err("arm64 state: %s", vm->m.last_err[0] ? vm->m.last_err : strerror(-ret));
	free(l);
	return ret;
}

static int cmp_id(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool is_counter(uint64_t id)
{
	return id == KVM_REG_ARM_TIMER_CNT || id == KVM_REG_ARM_PTIMER_CNT;
}

/* The saved registers into the vCPU, the counters in the second pass (see the top);
 * each must be one this vCPU's KVM lists (the sorted l). */
static int restore_regs(struct vm *vm, struct vcpu *vcpu, const struct arch_vcpu_state *s,
			const struct kvm_reg_list *l)
{
	char name[64];

	for (int pass = 0; pass < 2; pass++)
		for (uint32_t i = 0; i < s->nr_regs; i++) {
			const struct arm64_reg *r = &s->regs[i];
			uint8_t val[ARM64_MAX_REG_SIZE];
			int ret;

			if (is_counter(r->id) != (pass == 1))
				continue;
			if (reg_size(r->id) > ARM64_MAX_REG_SIZE ||
			    !bsearch(&r->id, l->reg, l->n, sizeof(l->reg[0]), cmp_id)) {
				snprintf(vm->m.last_err, sizeof(vm->m.last_err),
					 "vCPU %u: the guest had register %s, which this host's "
					 "KVM does not have",
					 vcpu->id, reg_name(r->id, name, sizeof(name)));
				return -EINVAL;
			}
			memcpy(val, r->val, sizeof(val)); /* one_reg takes a writable buffer */
			ret = one_reg(vcpu->fd, true, r->id, val);
			if (ret < 0) {
				snprintf(
				    vm->m.last_err, sizeof(vm->m.last_err),
				    "vCPU %u: this host's KVM refuses the guest's register %s: "
				    "%s",
				    vcpu->id, reg_name(r->id, name, sizeof(name)), strerror(-ret));
				return ret;
			}
		}
	return 0;
}

int arch_vcpu_restore(struct vm *vm, struct vcpu *vcpu, const struct arch_vcpu_state *s)
{
	struct kvm_mp_state mp = {.mp_state = s->mp_state};
	struct arch_vm *a = vm->arch;
	struct kvm_reg_list *l = NULL;
	uint64_t mpidr = 0;
	int ret;

	if (s->nr_regs > ARM64_MAX_REGS) {
		snprintf(vm->m.last_err, sizeof(vm->m.last_err),
			 "vCPU %u: the state claims %u registers, at most %d fit", vcpu->id,
			 s->nr_regs, ARM64_MAX_REGS);
		return -EINVAL;
	}
	ret = mpidr_of(vm, vcpu, &mpidr);
	if (ret < 0)
		return ret;
	if (mpidr != s->mpidr) {
		snprintf(vm->m.last_err, sizeof(vm->m.last_err),
			 "vCPU %u was saved with MPIDR %#llx, this VM's vCPU %u has %#llx",
			 vcpu->id, (unsigned long long)s->mpidr, vcpu->id,
			 (unsigned long long)mpidr);
		return -EINVAL;
	}
	ret = reg_list(vm, vcpu, &l);
	if (ret < 0)
		return ret;
	qsort(l->reg, l->n, sizeof(l->reg[0]), cmp_id);
	ret = restore_regs(vm, vcpu, s, l);
	free(l);
	if (ret < 0)
		return ret;
	if (ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp) < 0) {
		ret = -errno;
		snprintf(vm->m.last_err, sizeof(vm->m.last_err), "vCPU %u: KVM_SET_MP_STATE %u: %s",
			 vcpu->id, s->mp_state, strerror(-ret));
		return ret;
	}
	ret = arm64_gicr_restore(vm, s->mpidr, &s->gicr);
	if (ret < 0 || vcpu->id + 1 != vm->nr_vcpus || !a->its_restore)
		return ret;
	ret = arm64_its_restore(vm, a->its_restore);
	free(a->its_restore);
	a->its_restore = NULL;
	return ret;
}

int arch_vm_save(struct vm *vm, struct arch_vm_state *s)
{
	uint64_t mpidr0 = 0;
	int ret;

	vm->m.last_err[0] = 0;
	ret = mpidr_of(vm, &vm->vcpus[0], &mpidr0);
	ret = ret ?: arm64_gicd_save(vm, mpidr0, &s->gicd);
	if (ret < 0)
		log_err("arm64 state: the vGIC: %s",
			vm->m.last_err[0] ? vm->m.last_err : strerror(-ret));
	return ret;
}

int arch_vm_restore(struct vm *vm, const struct arch_vm_state *s)
{
	struct arch_vm *a = vm->arch;
	uint64_t mpidr0 = 0;
	int ret;

	ret = mpidr_of(vm, &vm->vcpus[0], &mpidr0);
	ret = ret ?: arm64_gicd_restore(vm, mpidr0, &s->gicd);
	if (ret < 0 || !s->gicd.has_its)
		return ret;
	free(a->its_restore);
	a->its_restore = malloc(sizeof(*a->its_restore));
	if (!a->its_restore)
		return -ENOMEM;
	*a->its_restore = s->gicd.its;
	return 0;
}
