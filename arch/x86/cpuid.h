/* Guest CPUID: KVM's supported list, edited so each vCPU reports the VM's topology.
 *
 * The topology is one socket of nr_vcpus cores with one thread each; vCPU i has APIC ID
 * i (the caller must create it with KVM_CREATE_VCPU id i). Without these edits a guest
 * sees the host's topology fields, which contradict its own vCPU count and APIC IDs. */
#ifndef MINIVMM_X86_CPUID_H
#define MINIVMM_X86_CPUID_H

#include <linux/kvm.h>
#include <stdint.h>

/* Leaf 4 has 6 bits for the number of cores in a package, so one socket holds at most
 * 64 cores; the legacy APIC ID in leaf 1 would allow 255. */
#define X86_CPUID_MAX_VCPUS 64

/* Edits, in place, the entries of cpuid (as returned by KVM_GET_SUPPORTED_CPUID) for
 * vCPU vcpu_index of nr_vcpus:
 *   1           EBX[31:24] APIC ID, EBX[23:16] nr_vcpus, EDX.HTT iff nr_vcpus > 1,
 *               ECX.hypervisor set
 *   4           every cache subleaf: EAX[31:26] nr_vcpus - 1; EAX[25:14] (threads
 *               sharing the cache - 1) 0 for L1/L2, nr_vcpus - 1 for L3 and beyond
 *   0xB, 0x1F   subleaf 0 SMT (shift 0, 1 thread), subleaf 1 core (shift
 *               ceil(log2(nr_vcpus)), nr_vcpus), further subleaves invalid; EDX APIC ID.
 *               A leaf listed without subleaf 1 is hidden instead (all zero but EDX),
 *               and the guest falls back to leaves 1, 4 and 0x80000008.
 *   0x80000001  ECX.CmpLegacy cleared for one vCPU (it qualifies HTT)
 *   0x80000008  ECX[7:0] nr_vcpus - 1, ECX[15:12] ApicIdSize ceil(log2(nr_vcpus))
 *   0x8000001D  EAX[25:14] as for leaf 4
 *   0x8000001E  EAX APIC ID, EBX core ID = APIC ID with 1 thread, ECX node 0 of 1
 * Other leaves (6, 0xA, ...) are left as they are. Only entries present are edited;
 * none are added. Returns 0, or -EINVAL if nr_vcpus is 0 or above X86_CPUID_MAX_VCPUS
 * or vcpu_index >= nr_vcpus. */
int x86_cpuid_for_vcpu(struct kvm_cpuid2 *cpuid, unsigned int vcpu_index, unsigned int nr_vcpus);

/* Sets the KVM hints (leaf 0x40000001 EDX, KVM_HINTS_*) if KVM listed that leaf. */
void x86_cpuid_set_kvm_hints(struct kvm_cpuid2 *cpuid, uint32_t hints);

/* KVM_GET_SUPPORTED_CPUID on the /dev/kvm fd into a buffer allocated here (grown while
 * KVM answers E2BIG); free() it. KVM lists leaf 0xB/0x1F with subleaf 0 only; an empty
 * subleaf 1 is added for x86_cpuid_for_vcpu() to fill in. Returns 0 or -errno. */
int x86_cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out);

/* The physical address width, CPUID 0x80000008 EAX[7:0] (36, the SDM's default, where
 * the leaf is absent), or in KVM's supported list EAX[23:16] where that is set and
 * smaller (the widest address KVM can map); and setting it, for the guest (its
 * GuestPhysAddrSize, EAX[23:16], capped to it when set). The guest takes no address at
 * or above 1 << bits for a BAR. */
unsigned int x86_cpuid_phys_bits(const struct kvm_cpuid2 *cpuid);
void x86_cpuid_set_phys_bits(struct kvm_cpuid2 *cpuid, unsigned int bits);

#endif
