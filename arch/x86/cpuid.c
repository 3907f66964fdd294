/* Guest CPUID topology. See cpuid.h for what each leaf ends up saying, and the Intel
 * SDM (CPUID leaves 1, 4, 0xB, 0x1F) and AMD APM (0x80000008, 0x8000001D/E). */
#include "arch/x86/cpuid.h"

#include <asm/kvm_para.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>

/* Leaf 1. */
#define L1_EBX_APIC_ID_SHIFT 24
#define L1_EBX_NPROC_SHIFT   16
#define L1_EBX_TOPO_MASK     0xffff0000u
#define L1_ECX_HYPERVISOR    (1u << 31)
#define L1_EDX_HTT	     (1u << 28)

/* 0x80000001 ECX: CmpLegacy, "HTT counts cores" (AMD); meaningful only with HTT. */
#define EXT1_ECX_CMP_LEGACY (1u << 1)

/* Leaf 4 and 0x8000001D (same EAX layout for what we touch). */
#define CACHE_EAX_TYPE(eax)   ((eax)&0x1f) /* 0: no more caches */
#define CACHE_EAX_LEVEL(eax)  (((eax) >> 5) & 0x7)
#define CACHE_EAX_SHARE_SHIFT 14
#define CACHE_EAX_SHARE_MASK  (0xfffu << CACHE_EAX_SHARE_SHIFT)
#define L4_EAX_CORES_SHIFT    26
#define L4_EAX_CORES_MASK     (0x3fu << L4_EAX_CORES_SHIFT)

/* Leaves 0xB and 0x1F: ECX[15:8] level type. */
#define TOPO_TYPE_SMT  1
#define TOPO_TYPE_CORE 2

/* 0x80000008 ECX: [7:0] NC (threads in package - 1), [15:12] ApicIdSize. */
#define AMD_NC_MASK	      0xffu
#define AMD_APICID_SIZE_SHIFT 12
#define AMD_APICID_SIZE_MASK  (0xfu << AMD_APICID_SIZE_SHIFT)

/* Bits of APIC ID needed to number n things: ceil(log2(n)), 0 for n = 1. */
static unsigned int order(unsigned int n)
{
	unsigned int bits = 0;

	while ((1u << bits) < n)
		bits++;
	return bits;
}

/* Threads sharing a cache, minus one: with one thread per core, L1 and L2 belong to one
 * vCPU and L3 (the last level) to the whole socket. The host's value would describe
 * the host's SMT siblings instead, which the guest's cacheinfo uses to group CPUs. */
static uint32_t cache_sharing(uint32_t eax, unsigned int nr_vcpus)
{
	uint32_t share = CACHE_EAX_LEVEL(eax) >= 3 ? nr_vcpus - 1 : 0;

	return (eax & ~CACHE_EAX_SHARE_MASK) | share << CACHE_EAX_SHARE_SHIFT;
}

static void set_leaf4(struct kvm_cpuid_entry2 *e, unsigned int nr_vcpus)
{
	/* Null descriptors (type 0) end the list and carry no topology. */
	if (!CACHE_EAX_TYPE(e->eax))
		return;
	e->eax = cache_sharing(e->eax, nr_vcpus);
	e->eax = (e->eax & ~L4_EAX_CORES_MASK) | (nr_vcpus - 1) << L4_EAX_CORES_SHIFT;
}

static bool has_entry(const struct kvm_cpuid2 *c, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == function && c->entries[i].index == index)
			return true;
	return false;
}

/* Leaf 0xB / 0x1F subleaf e->index. The shift of a level is the number of APIC ID bits
 * below the next level up, so the core level's shift is the package's. */
static void set_ext_topology(struct kvm_cpuid_entry2 *e, unsigned int apic_id,
			     unsigned int nr_vcpus)
{
	switch (e->index) {
	case 0:
		e->eax = 0;
		e->ebx = 1;
		e->ecx = TOPO_TYPE_SMT << 8 | 0;
		break;
	case 1:
		e->eax = order(nr_vcpus);
		e->ebx = nr_vcpus;
		e->ecx = TOPO_TYPE_CORE << 8 | 1;
		break;
	default:
		/* Type 0, "invalid": tells the guest there are no more levels. */
		e->eax = 0;
		e->ebx = 0;
		e->ecx = e->index & 0xff;
		break;
	}
	e->edx = apic_id;
}

int x86_cpuid_for_vcpu(struct kvm_cpuid2 *cpuid, unsigned int vcpu_index, unsigned int nr_vcpus)
{
	if (!nr_vcpus || nr_vcpus > X86_CPUID_MAX_VCPUS || vcpu_index >= nr_vcpus)
		return -EINVAL;

	for (uint32_t i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & ~L1_EBX_TOPO_MASK) | vcpu_index << L1_EBX_APIC_ID_SHIFT |
				 nr_vcpus << L1_EBX_NPROC_SHIFT;
			e->ecx |= L1_ECX_HYPERVISOR;
			/* HTT says EBX[23:16] is meaningful, i.e. more than one logical CPU. */
			if (nr_vcpus > 1)
				e->edx |= L1_EDX_HTT;
			else
				e->edx &= ~L1_EDX_HTT;
			break;
		case 4:
			set_leaf4(e, nr_vcpus);
			break;
		case 0xb:
		case 0x1f:
			/* Without a core level the guest would take every vCPU for a
			 * package of its own; rather hide the leaf (EBX 0 at subleaf 0
			 * means "not implemented") and let it use leaves 1/4/0x80000008. */
			if (has_entry(cpuid, e->function, 1))
				set_ext_topology(e, vcpu_index, nr_vcpus);
			else
				*e = (struct kvm_cpuid_entry2){.function = e->function,
							       .index = e->index,
							       .flags = e->flags,
							       .edx = vcpu_index};
			break;
		case 0x80000001:
			/* Cleared with HTT; otherwise the host's value stands (AMD sets it
			 * for multi-core parts, Intel never does). */
			if (nr_vcpus == 1)
				e->ecx &= ~EXT1_ECX_CMP_LEGACY;
			break;
		case 0x80000008:
			e->ecx = (e->ecx & ~(AMD_NC_MASK | AMD_APICID_SIZE_MASK)) |
				 order(nr_vcpus) << AMD_APICID_SIZE_SHIFT | (nr_vcpus - 1);
			break;
		case 0x8000001d:
			if (CACHE_EAX_TYPE(e->eax))
				e->eax = cache_sharing(e->eax, nr_vcpus);
			break;
		case 0x8000001e:
			e->eax = vcpu_index;
			e->ebx = vcpu_index; /* core ID; [15:8] threads per core - 1 = 0 */
			e->ecx = 0;	     /* node 0, [10:8] nodes per socket - 1 = 0 */
			e->edx = 0;
			break;
		default:
			break;
		}
	}
	return 0;
}

void x86_cpuid_set_kvm_hints(struct kvm_cpuid2 *cpuid, uint32_t hints)
{
	for (uint32_t i = 0; i < cpuid->nent; i++)
		if (cpuid->entries[i].function == KVM_CPUID_FEATURES)
			cpuid->entries[i].edx = hints;
}

/* KVM lists leaf 0xB (and 0x1F) with subleaf 0 only, all zero: the VMM is to describe
 * the topology. Add the core-level subleaf 1 so x86_cpuid_for_vcpu() can fill it in. */
static void add_core_subleaves(struct kvm_cpuid2 *c)
{
	static const uint32_t leaves[] = {0xb, 0x1f};

	for (unsigned int i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++)
		if (has_entry(c, leaves[i], 0) && !has_entry(c, leaves[i], 1))
			c->entries[c->nent++] =
			    (struct kvm_cpuid_entry2){.function = leaves[i],
						      .index = 1,
						      .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX};
}

int x86_cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out)
{
	/* KVM does not say how many entries it needs, only E2BIG; today ~60 suffice.
	 * Two spare entries are kept for add_core_subleaves(). */
	unsigned int nent = 128;
	int ret;

	*out = NULL;
	for (;;) {
		struct kvm_cpuid2 *c =
		    calloc(1, sizeof(*c) + (nent + 2) * sizeof(struct kvm_cpuid_entry2));

		if (!c)
			return -ENOMEM;
		c->nent = nent;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			add_core_subleaves(c);
			*out = c;
			return 0;
		}
		ret = -errno;
		free(c);
		if (ret != -E2BIG || nent >= 4096)
			return ret;
		nent *= 2;
	}
}

/* In KVM's supported list, EAX[23:16] (GuestPhysAddrSize), when set, is the widest
 * guest physical address KVM can map, which can be below the CPU's own width (a 52-bit
 * host without 5-level EPT maps 48 bits): the smaller of the two then. */
unsigned int x86_cpuid_phys_bits(const struct kvm_cpuid2 *cpuid)
{
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		uint32_t eax = cpuid->entries[i].eax, phys = eax & 0xff,
			 mappable = eax >> 16 & 0xff;

		if (cpuid->entries[i].function == 0x80000008 && phys)
			return mappable && mappable < phys ? mappable : phys;
	}
	return 36;
}

void x86_cpuid_set_phys_bits(struct kvm_cpuid2 *cpuid, unsigned int bits)
{
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
		uint32_t guest = (e->eax >> 16) & 0xff;

		if (e->function != 0x80000008)
			continue;
		if (guest > bits)
			guest = bits;
		e->eax = (e->eax & 0xff00ff00) | guest << 16 | (bits & 0xff);
	}
}
