/* The KVM requests arch/arm64 makes, for vmm/seccomp.c's filters (arch.h). */
#include <linux/kvm.h>
#include <string.h>
#include <ucontext.h>

#include "arch/arch.h"
#include "vmm/seccomp.h"

/* The main thread: each vCPU's set-up and boot registers (kvm.c); the vGIC, ITS and
 * PMU go through KVM_CREATE_DEVICE and KVM_SET_DEVICE_ATTR, which the core lists. */
static const struct seccomp_ioctl arm64_main_ioctls[] = {
    SECCOMP_IOCTL(KVM_ARM_PREFERRED_TARGET),
    SECCOMP_IOCTL(KVM_ARM_VCPU_INIT),
    SECCOMP_IOCTL(KVM_SET_ONE_REG),
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
