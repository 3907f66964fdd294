/* The KVM requests arch/x86 makes, for vmm/seccomp.c's filters (arch.h). */
#include <linux/kvm.h>
#include <string.h>
#include <ucontext.h>

#include "arch/arch.h"
#include "vmm/seccomp.h"

/* The main thread: the platform's set-up (x86.c), CPUID (cpuid.c), each vCPU's
 * initial state (x86.c), snapshot and restore (state.c). */
static const struct seccomp_ioctl x86_main_ioctls[] = {
    SECCOMP_IOCTL(KVM_GET_SUPPORTED_CPUID),
    SECCOMP_IOCTL(KVM_SET_TSS_ADDR),
    SECCOMP_IOCTL(KVM_SET_IDENTITY_MAP_ADDR),
    SECCOMP_IOCTL(KVM_CREATE_IRQCHIP),
    SECCOMP_IOCTL(KVM_CREATE_PIT2),
    SECCOMP_IOCTL(KVM_SET_CPUID2),
    SECCOMP_IOCTL(KVM_SET_MSRS),
    SECCOMP_IOCTL(KVM_SET_FPU),
    SECCOMP_IOCTL(KVM_GET_LAPIC),
    SECCOMP_IOCTL(KVM_SET_LAPIC),
    SECCOMP_IOCTL(KVM_GET_SREGS),
    SECCOMP_IOCTL(KVM_SET_SREGS),
    SECCOMP_IOCTL(KVM_SET_REGS),
    SECCOMP_IOCTL(KVM_GET_MSR_INDEX_LIST),
    SECCOMP_IOCTL(KVM_GET_IRQCHIP),
    SECCOMP_IOCTL(KVM_SET_IRQCHIP),
    SECCOMP_IOCTL(KVM_GET_PIT2),
    SECCOMP_IOCTL(KVM_SET_PIT2),
    SECCOMP_IOCTL(KVM_GET_CLOCK),
    SECCOMP_IOCTL(KVM_SET_CLOCK),
    SECCOMP_IOCTL(KVM_GET_REGS),
    SECCOMP_IOCTL(KVM_GET_XSAVE),
    SECCOMP_IOCTL(KVM_SET_XSAVE),
    SECCOMP_IOCTL(KVM_GET_XCRS),
    SECCOMP_IOCTL(KVM_SET_XCRS),
    SECCOMP_IOCTL(KVM_GET_MSRS),
    SECCOMP_IOCTL(KVM_GET_MP_STATE),
    SECCOMP_IOCTL(KVM_SET_MP_STATE),
    SECCOMP_IOCTL(KVM_GET_DEBUGREGS),
    SECCOMP_IOCTL(KVM_SET_DEBUGREGS),
    SECCOMP_IOCTL(KVM_SET_VCPU_EVENTS),
    SECCOMP_IOCTL(KVM_GET_TSC_KHZ),
    SECCOMP_IOCTL(KVM_SET_TSC_KHZ),
};

/* vCPU threads: why a VM entry failed, for the log (arch_vcpu_fail_entry_hint). */
static const struct seccomp_ioctl x86_vcpu_ioctls[] = {
    SECCOMP_IOCTL(KVM_GET_VCPU_EVENTS),
};

size_t arch_seccomp_ioctls(int kind, const struct seccomp_ioctl **table)
{
	switch (kind) {
	case SECCOMP_THREAD_MAIN:
		*table = x86_main_ioctls;
		return sizeof(x86_main_ioctls) / sizeof(x86_main_ioctls[0]);
	case SECCOMP_THREAD_VCPU:
		*table = x86_vcpu_ioctls;
		return sizeof(x86_vcpu_ioctls) / sizeof(x86_vcpu_ioctls[0]);
	default:
		*table = NULL;
		return 0;
	}
}

void arch_seccomp_set_return(void *ucontext, long ret)
{
	((ucontext_t *)ucontext)->uc_mcontext.gregs[REG_RAX] = ret;
}

const char *arch_syscall_table(void)
{
	return "asm/unistd_64.h";
}
