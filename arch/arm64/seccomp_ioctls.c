/* The KVM requests arch/arm64 makes, for vmm/seccomp.c's filters (arch.h). */
#include <linux/kvm.h>
#include <string.h>
#include <ucontext.h>

#include "arch/arch.h"
#include "vmm/seccomp.h"

/* The main thread: each vCPU's set-up and boot registers (kvm.c); the vGIC, ITS and
 * PMU go through KVM_CREATE_DEVICE and KVM_SET_DEVICE_ATTR, which the core lists;
 * snapshot and restore (state.c, gic_state.c), and the scratch vCPU that the CPU
 * features line is read from (cpufeat.c: KVM_CREATE_VM and KVM_CREATE_VCPU are the
 * core's). */
static const struct seccomp_ioctl arm64_main_ioctls[] = {
    SECCOMP_IOCTL(KVM_ARM_PREFERRED_TARGET), SECCOMP_IOCTL(KVM_ARM_VCPU_INIT),
    SECCOMP_IOCTL(KVM_SET_ONE_REG),	     SECCOMP_IOCTL(KVM_GET_ONE_REG),
    SECCOMP_IOCTL(KVM_GET_REG_LIST),	     SECCOMP_IOCTL(KVM_GET_MP_STATE),
    SECCOMP_IOCTL(KVM_SET_MP_STATE),	     SECCOMP_IOCTL(KVM_GET_DEVICE_ATTR),
};

size_t arch_seccomp_ioctls(int kind, const struct seccomp_ioctl **table)
{
	if (kind == SECCOMP_THREAD_MAIN) {
		*table = arm64_main_ioctls;
		return sizeof(arm64_main_ioctls) / sizeof(arm64_main_ioctls[0]);
	}
	*table = NULL;
	return 0;
}

void arch_seccomp_set_return(void *ucontext, long ret)
{
	((ucontext_t *)ucontext)->uc_mcontext.regs[0] = (unsigned long long)ret; /* x0 */
}

const char *arch_syscall_table(void)
{
	return "asm-generic/unistd.h";
}
