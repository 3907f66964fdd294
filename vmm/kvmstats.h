/* KVM's own per-vCPU counters (KVM_GET_STATS_FD, Linux 5.14+), read for benchmarks.
 *
 * Exits that KVM handles in the kernel (HLT, APIC and MSR accesses, interrupt windows)
 * never reach the VMM, so the VMM's own exit counters cannot see them; these can. The
 * stats mark (devices/power.c, MINIVMM_STATS) logs them next to the VMM's. */
#ifndef MINIVMM_KVMSTATS_H
#define MINIVMM_KVMSTATS_H

#include <stddef.h>
#include <stdint.h>

/* The counters we log, in this order (names as KVM's stats descriptors spell them;
 * pf_*: guest memory faults KVM took and fixed, x86 only, 0 where absent). */
/* clang-format off: one name per line (clang-format 14 reflows this differently each run) */
#define KVM_STATS_NAMES                                                                            \
	X(exits)                                                                                   \
	X(halt_exits)                                                                              \
	X(halt_wakeup)                                                                             \
	X(halt_successful_poll)                                                                    \
	X(irq_exits)                                                                               \
	X(irq_window_exits)                                                                        \
	X(irq_injections)                                                                          \
	X(insn_emulation)                                                                          \
	X(hypercalls)                                                                              \
	X(pf_taken)                                                                                \
	X(pf_fixed)
/* clang-format on */
enum {
#define X(n) KVM_STAT_##n,
	KVM_STATS_NAMES
#undef X
	    KVM_STAT_COUNT
};

struct kvm_stats {
	int fd;			     /* -1: not available */
	int64_t off[KVM_STAT_COUNT]; /* file offset of each counter's u64, -1 if absent */
};

/* Opens vCPU vcpu_fd's stats; on a kernel without them s->fd stays -1 and reads give
 * zeros. Returns 0 or -errno. */
int kvm_stats_open(struct kvm_stats *s, int vcpu_fd);
void kvm_stats_close(struct kvm_stats *s);

/* Adds this vCPU's current counters into sum[KVM_STAT_COUNT]. */
void kvm_stats_add(const struct kvm_stats *s, uint64_t *sum);

/* "name=value ..." of sum into buf; returns buf. */
const char *kvm_stats_format(const uint64_t *sum, char *buf, size_t size);

#endif
