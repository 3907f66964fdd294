/* vmm/seccomp.h on arm64, for now without filters: vmm/seccomp.c's allow lists name
 * x86's KVM ioctls (CPUID, MSRs, LAPIC, PIT, XSAVE) and read the syscall number from
 * x86's registers in its SIGSYS reporter. arm64 needs its own ioctl list (ONE_REG,
 * VCPU_INIT, PREFERRED_TARGET, device attributes) before the filters can be on; until
 * then the VMM says once, at start, that it runs without them. */
#include "vmm/log.h"
#include "vmm/seccomp.h"

size_t seccomp_ioctls(enum seccomp_thread kind, const struct seccomp_ioctl **table)
{
	(void)kind;
	*table = NULL;
	return 0;
}

int seccomp_install(enum seccomp_mode mode, enum seccomp_thread kind)
{
	(void)mode, (void)kind;
	return 0;
}

int seccomp_report_setup(enum seccomp_mode mode)
{
	if (mode != SECCOMP_OFF)
		log_warn("[security] seccomp: no filters on arm64 yet; running without them");
	return 0;
}
