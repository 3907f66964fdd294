/* The CPU features a snapshot or migration carries (cpufeat.c; arch.h's arch_cpu_*). */
#ifndef MINIVMM_X86_CPUFEAT_H
#define MINIVMM_X86_CPUFEAT_H

#include <linux/kvm.h>
#include <stddef.h>

/* arch_cpu_check against the CPUID list c rather than KVM's: pure, and the saved line
 * is untrusted (a snapshot's header, a migration's hello; fuzzed by
 * tests/fuzz/fuzz_cpufeat.c). 0, -EINVAL with a message in err, or -ENOMEM. */
int x86_cpu_check(const struct kvm_cpuid2 *c, const char *saved, char *err, size_t errlen);

#endif
