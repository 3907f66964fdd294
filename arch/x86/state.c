/* Saving and restoring what KVM holds of an x86 VM and its vCPUs (arch/arch.h's
 * arch_*_save / arch_*_restore), for snapshot, restore and migration.
 *
 * Order, learnt from Firecracker and QEMU, and why:
 *   VM:   the in-kernel PIC and IOAPIC, the PIT, then kvmclock, set before any vCPU
 *         runs so that the guest's clock continues where it was.
 *   vCPU save: mp_state first (reading it makes KVM take pending INIT/SIPI into the
 *         vCPU and LAPIC state, which everything after must include), then regs,
 *         sregs, xsave, xcrs, debug registers, the LAPIC, the MSRs (the TSC deadline
 *         among them), the TSC frequency, and the pending events last (reading the
 *         others may still queue one).
 *   vCPU restore: CPUID is set by arch_vcpu_init from this host's KVM (the destination
 *         builds the vCPU as at boot; a header's "cpu" line made sure it offers every
 *         feature the guest saw, cpufeat.c), then the TSC frequency (scaled by KVM
 *         where the hosts differ, before any MSR refers to TSC values), sregs (paging
 *         and long mode before anything refers to them), regs, xsave and xcrs, the
 *         LAPIC before the MSRs (the TSC deadline MSR is only taken once the LAPIC is
 *         in deadline mode), the MSRs, mp_state, debug registers, and the pending
 *         events last (a restore of the others may clear them).
 * The vCPUs must be stopped or paused outside KVM_RUN while their state is read. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/arch.h"
#include "vmm/log.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

/* The layouts are KVM's own x86 structures; a change here is a new version. */
#define ARCH_STATE_VERSION 2 /* 2: the TSC frequency */
#define ARCH_MAX_MSRS	   256

struct arch_vcpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave xsave;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp_state;
	struct kvm_debugregs debugregs;
	struct kvm_vcpu_events events;
	uint32_t tsc_khz; /* KVM_GET_TSC_KHZ; 0: KVM could not say */
	uint32_t nr_msrs;
	struct kvm_msr_entry msrs[ARCH_MAX_MSRS];
};

struct arch_vm_state {
	struct kvm_irqchip pic_master, pic_slave, ioapic;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
};

const char *arch_state_name(int *version)
{
	*version = ARCH_STATE_VERSION;
	return "x86_64";
}

size_t arch_vm_state_size(void)
{
	return sizeof(struct arch_vm_state);
}

size_t arch_vcpu_state_size(void)
{
	return sizeof(struct arch_vcpu_state);
}

/* The MSRs this KVM can save (KVM_GET_MSR_INDEX_LIST), read in one call each batch. A
 * read stops at the first MSR the vCPU refuses; that one is skipped. */
static int save_msrs(int kvm_fd, struct vcpu *vcpu, struct arch_vcpu_state *s)
{
	struct {
		struct kvm_msr_list hdr;
		uint32_t idx[ARCH_MAX_MSRS];
	} list = {.hdr.nmsrs = ARCH_MAX_MSRS};
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[ARCH_MAX_MSRS];
	} m;
	uint32_t done = 0;

	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &list) < 0)
		return -errno;
	s->nr_msrs = 0;
	while (done < list.hdr.nmsrs) {
		int n;

		memset(&m, 0, sizeof(m));
		m.hdr.nmsrs = list.hdr.nmsrs - done;
		for (uint32_t i = 0; i < m.hdr.nmsrs; i++)
			m.e[i].index = list.idx[done + i];
		n = ioctl(vcpu->fd, KVM_GET_MSRS, &m);
		if (n < 0)
			return -errno;
		memcpy(&s->msrs[s->nr_msrs], m.e, (size_t)n * sizeof(m.e[0]));
		s->nr_msrs += (uint32_t)n;
		done += (uint32_t)n + 1; /* the one at n was refused: skip it */
	}
	return 0;
}

int arch_vcpu_save(struct vm *vm, struct vcpu *vcpu, struct arch_vcpu_state *s)
{
	int ret, khz;

	memset(s, 0, sizeof(*s));
	if (ioctl(vcpu->fd, KVM_GET_MP_STATE, &s->mp_state) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_REGS, &s->regs) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_SREGS, &s->sregs) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_XSAVE, &s->xsave) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_XCRS, &s->xcrs) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_DEBUGREGS, &s->debugregs) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_LAPIC, &s->lapic) < 0)
		return -errno;
	ret = save_msrs(vm->kvm_fd, vcpu, s);
	if (ret < 0)
		return ret;
	khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ);
	s->tsc_khz = khz > 0 ? (uint32_t)khz : 0;
	if (ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &s->events) < 0)
		return -errno;
	return 0;
}

/* The guest's TSC ran at s->tsc_khz: where this host's differs, KVM scales it (TSC
 * scaling, VMX and SVM both have it) so that the guest's clock keeps its rate. Not
 * within KVM's own tolerance of 250 ppm (two calibrations of one host's TSC differ by
 * that much): there KVM would not scale but keep the TSC "catching up" with the host
 * clock at every entry, a TSC that jumps, while the guest copes with an error that
 * small as it does with any crystal's. */
static int restore_tsc_khz(struct vm *vm, struct vcpu *vcpu, uint32_t khz)
{
	int mine = ioctl(vcpu->fd, KVM_GET_TSC_KHZ);
	if (!khz || mine <= 0 || llabs((long long)khz - mine) * 1000000 <= 250LL * mine)
		return 0;
	/* Without TSC scaling KVM would accept a faster rate and "catch up" instead. */
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_CONTROL) <= 0)
		errno = ENOTSUP;
	else if (ioctl(vcpu->fd, KVM_SET_TSC_KHZ, (unsigned long)khz) == 0) {
		if (vcpu == &vm->vcpus[0])
			log_info("the guest's TSC ran at %u kHz, this host's at %d kHz: KVM "
				 "scales it",
				 khz, mine);
		return 0;
	}
	snprintf(vm->m.last_err, sizeof(vm->m.last_err),
		 "the guest's TSC ran at %u kHz and this host's runs at %d kHz, and KVM cannot "
		 "scale it here (%s); restore it on a host with the same TSC frequency",
		 khz, mine, strerror(errno));
	return -EINVAL;
}

int arch_vcpu_restore(struct vm *vm, struct vcpu *vcpu, const struct arch_vcpu_state *s)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[ARCH_MAX_MSRS];
	} m;

	if (s->nr_msrs > ARCH_MAX_MSRS)
		return -EINVAL;
	m.hdr.nmsrs = s->nr_msrs;
	m.hdr.pad = 0;
	memcpy(m.e, s->msrs, s->nr_msrs * sizeof(m.e[0]));
	if (restore_tsc_khz(vm, vcpu, s->tsc_khz) < 0)
		return -EINVAL;
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &s->sregs) < 0 ||
	    ioctl(vcpu->fd, KVM_SET_REGS, &s->regs) < 0 ||
	    ioctl(vcpu->fd, KVM_SET_XSAVE, &s->xsave) < 0 ||
	    ioctl(vcpu->fd, KVM_SET_XCRS, &s->xcrs) < 0 ||
	    ioctl(vcpu->fd, KVM_SET_LAPIC, &s->lapic) < 0)
		return -errno;
	if (ioctl(vcpu->fd, KVM_SET_MSRS, &m) != (int)s->nr_msrs)
		return -EIO;
	if (ioctl(vcpu->fd, KVM_SET_MP_STATE, &s->mp_state) < 0 ||
	    ioctl(vcpu->fd, KVM_SET_DEBUGREGS, &s->debugregs) < 0 ||
	    ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &s->events) < 0)
		return -errno;
	return 0;
}

int arch_vm_save(struct vm *vm, struct arch_vm_state *s)
{
	memset(s, 0, sizeof(*s));
	s->pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	s->pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	s->ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	if (ioctl(vm->m.vm_fd, KVM_GET_IRQCHIP, &s->pic_master) < 0 ||
	    ioctl(vm->m.vm_fd, KVM_GET_IRQCHIP, &s->pic_slave) < 0 ||
	    ioctl(vm->m.vm_fd, KVM_GET_IRQCHIP, &s->ioapic) < 0 ||
	    ioctl(vm->m.vm_fd, KVM_GET_PIT2, &s->pit) < 0 ||
	    ioctl(vm->m.vm_fd, KVM_GET_CLOCK, &s->clock) < 0)
		return -errno;
	return 0;
}

int arch_vm_restore(struct vm *vm, const struct arch_vm_state *s)
{
	struct kvm_clock_data clock = {.clock = s->clock.clock};

	if (s->pic_master.chip_id != KVM_IRQCHIP_PIC_MASTER ||
	    s->pic_slave.chip_id != KVM_IRQCHIP_PIC_SLAVE ||
	    s->ioapic.chip_id != KVM_IRQCHIP_IOAPIC)
		return -EINVAL;
	if (ioctl(vm->m.vm_fd, KVM_SET_IRQCHIP, &s->pic_master) < 0 ||
	    ioctl(vm->m.vm_fd, KVM_SET_IRQCHIP, &s->pic_slave) < 0 ||
	    ioctl(vm->m.vm_fd, KVM_SET_IRQCHIP, &s->ioapic) < 0 ||
	    ioctl(vm->m.vm_fd, KVM_SET_PIT2, &s->pit) < 0 ||
	    ioctl(vm->m.vm_fd, KVM_SET_CLOCK, &clock) < 0)
		return -errno;
	return 0;
}
