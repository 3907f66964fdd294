/* Guest CPUID topology: the exact bits each vCPU reports, on a synthetic CPUID list
 * shaped like KVM_GET_SUPPORTED_CPUID's (plus the real one when /dev/kvm is usable). */
#include "tests/unit/unit.h"
#include "arch/x86/cpufeat.h"
#include "arch/x86/cpuid.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIG KVM_CPUID_FLAG_SIGNIFCANT_INDEX

/* Host-like values, with topology fields that contradict the guest's on purpose. */
static const struct kvm_cpuid_entry2 host_entries[] = {
    {.function = 0, .eax = 0x1f, .ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69},
    /* EBX: APIC ID 0x12, 0x34 logical CPUs, CLFLUSH 8, brand 0x78; EDX.HTT set. */
    {.function = 1, .eax = 0x000806f8, .ebx = 0x12340878, .ecx = 0x7ffafbff, .edx = 0xbfebfbff},
    /* Leaf 4: L1d, L1i, L2 shared by 2 threads, L3 by 4096, 64 cores; then null. */
    {.function = 4, .index = 0, .flags = SIG, .eax = 0xfc004121, .ebx = 0x02c0003f, .ecx = 0x3f},
    {.function = 4, .index = 1, .flags = SIG, .eax = 0xfc004122, .ebx = 0x01c0003f, .ecx = 0x3f},
    {.function = 4, .index = 2, .flags = SIG, .eax = 0xfc004143, .ebx = 0x03c0003f, .ecx = 0x7ff},
    {.function = 4, .index = 3, .flags = SIG, .eax = 0xffffc163, .ebx = 0x03c0003f, .ecx = 0xfff},
    {.function = 4, .index = 4, .flags = SIG},
    {.function = 6, .eax = 0x77, .ebx = 2, .ecx = 9},
    {.function = 0xa, .eax = 0x08300805, .edx = 0x8603},
    {.function = 0xb, .index = 0, .flags = SIG, .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 0x12},
    {.function = 0xb, .index = 1, .flags = SIG, .eax = 7, .ebx = 96, .ecx = 0x201, .edx = 0x12},
    {.function = 0xb, .index = 2, .flags = SIG, .ecx = 2, .edx = 0x12},
    {.function = 0x1f, .index = 0, .flags = SIG, .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 0x12},
    {.function = 0x1f, .index = 1, .flags = SIG, .eax = 7, .ebx = 96, .ecx = 0x201, .edx = 0x12},
    {.function = 0x1f, .index = 2, .flags = SIG, .eax = 8, .ebx = 96, .ecx = 0x502, .edx = 0x12},
    {.function = 0x80000001, .ecx = 0x00400393},
    /* PerfTscSize 3, ApicIdSize 7, NC 0x3f. */
    {.function = 0x80000008, .eax = 0x3030, .ecx = 0x0003703f},
    {.function = 0x8000001d, .index = 0, .flags = SIG, .eax = 0x00004121, .ebx = 0x01c0003f},
    {.function = 0x8000001d, .index = 3, .flags = SIG, .eax = 0x0003c163, .ebx = 0x03c0003f},
    {.function = 0x8000001d, .index = 4, .flags = SIG},
    {.function = 0x8000001e, .eax = 0x12, .ebx = 0x109, .ecx = 0x300, .edx = 0},
};
#define NR_HOST_ENTRIES (sizeof(host_entries) / sizeof(host_entries[0]))

static struct kvm_cpuid2 *make_cpuid(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + sizeof(host_entries));

	ck_assert_ptr_nonnull(c);
	c->nent = NR_HOST_ENTRIES;
	memcpy(c->entries, host_entries, sizeof(host_entries));
	return c;
}

static const struct kvm_cpuid_entry2 *find(const struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	ck_abort_msg("no CPUID entry %#x.%u", fn, idx);
	return NULL;
}

#define ASSERT_REGS(c, fn, idx, a, b, cx, d)                                                       \
	do {                                                                                       \
		const struct kvm_cpuid_entry2 *e_ = find(c, fn, idx);                              \
		ck_assert_msg(e_->eax == (a) && e_->ebx == (b) && e_->ecx == (cx) &&               \
				  e_->edx == (d),                                                  \
			      "leaf %#x.%u: got %08x %08x %08x %08x, want %08x %08x %08x %08x",    \
			      fn, idx, e_->eax, e_->ebx, e_->ecx, e_->edx, (uint32_t)(a),          \
			      (uint32_t)(b), (uint32_t)(cx), (uint32_t)(d));                       \
	} while (0)

/* Leaves the edits must not touch, whatever the topology. */
static void assert_untouched(const struct kvm_cpuid2 *c)
{
	ASSERT_REGS(c, 0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69);
	ASSERT_REGS(c, 6, 0, 0x77, 2, 9, 0);
	ASSERT_REGS(c, 0xa, 0, 0x08300805, 0, 0, 0x8603);
	ASSERT_REGS(c, 4, 4, 0, 0, 0, 0);
	ASSERT_REGS(c, 0x8000001d, 4, 0, 0, 0, 0);
	ck_assert_uint_eq(c->nent, NR_HOST_ENTRIES);
	for (uint32_t i = 0; i < c->nent; i++)
		ck_assert_uint_eq(c->entries[i].flags, host_entries[i].flags);
}

START_TEST(one_vcpu)
{
	struct kvm_cpuid2 *c = make_cpuid();

	ck_assert_int_eq(x86_cpuid_for_vcpu(c, 0, 1), 0);
	/* APIC ID 0, 1 logical CPU, HTT clear, hypervisor set. */
	ASSERT_REGS(c, 1, 0, 0x000806f8, 0x00010878, 0xfffafbff, 0xafebfbff);
	/* No core bits, no cache sharing. */
	ASSERT_REGS(c, 4, 0, 0x00000121, 0x02c0003f, 0x3f, 0);
	ASSERT_REGS(c, 4, 1, 0x00000122, 0x01c0003f, 0x3f, 0);
	ASSERT_REGS(c, 4, 2, 0x00000143, 0x03c0003f, 0x7ff, 0);
	ASSERT_REGS(c, 4, 3, 0x00000163, 0x03c0003f, 0xfff, 0);
	for (uint32_t leaf = 0xb; leaf <= 0x1f; leaf += 0x1f - 0xb) {
		ASSERT_REGS(c, leaf, 0, 0, 1, 0x100, 0);
		ASSERT_REGS(c, leaf, 1, 0, 1, 0x201, 0);
		ASSERT_REGS(c, leaf, 2, 0, 0, 2, 0);
	}
	ASSERT_REGS(c, 0x80000001, 0, 0, 0, 0x00400391, 0); /* CmpLegacy cleared */
	ASSERT_REGS(c, 0x80000008, 0, 0x3030, 0, 0x00030000, 0);
	ASSERT_REGS(c, 0x8000001d, 0, 0x00000121, 0x01c0003f, 0, 0);
	ASSERT_REGS(c, 0x8000001d, 3, 0x00000163, 0x03c0003f, 0, 0);
	ASSERT_REGS(c, 0x8000001e, 0, 0, 0, 0, 0);
	assert_untouched(c);
	free(c);
}
END_TEST

START_TEST(two_vcpus)
{
	struct kvm_cpuid2 *c = make_cpuid();

	ck_assert_int_eq(x86_cpuid_for_vcpu(c, 1, 2), 0);
	ASSERT_REGS(c, 1, 0, 0x000806f8, 0x01020878, 0xfffafbff, 0xbfebfbff);
	ASSERT_REGS(c, 4, 0, 0x04000121, 0x02c0003f, 0x3f, 0);
	ASSERT_REGS(c, 4, 2, 0x04000143, 0x03c0003f, 0x7ff, 0);
	ASSERT_REGS(c, 4, 3, 0x04004163, 0x03c0003f, 0xfff, 0); /* L3 shared by 2 */
	for (uint32_t leaf = 0xb; leaf <= 0x1f; leaf += 0x1f - 0xb) {
		ASSERT_REGS(c, leaf, 0, 0, 1, 0x100, 1);
		ASSERT_REGS(c, leaf, 1, 1, 2, 0x201, 1);
		ASSERT_REGS(c, leaf, 2, 0, 0, 2, 1);
	}
	ASSERT_REGS(c, 0x80000001, 0, 0, 0, 0x00400393, 0); /* CmpLegacy kept */
	ASSERT_REGS(c, 0x80000008, 0, 0x3030, 0, 0x00031001, 0);
	ASSERT_REGS(c, 0x8000001d, 0, 0x00000121, 0x01c0003f, 0, 0);
	ASSERT_REGS(c, 0x8000001d, 3, 0x00004163, 0x03c0003f, 0, 0);
	ASSERT_REGS(c, 0x8000001e, 0, 1, 1, 0, 0);
	assert_untouched(c);
	free(c);
}
END_TEST

START_TEST(eight_vcpus)
{
	struct kvm_cpuid2 *c = make_cpuid();

	for (unsigned int id = 0; id < 8; id++) {
		memcpy(c->entries, host_entries, sizeof(host_entries));
		ck_assert_int_eq(x86_cpuid_for_vcpu(c, id, 8), 0);
		ASSERT_REGS(c, 1, 0, 0x000806f8, id << 24 | 0x00080878, 0xfffafbff, 0xbfebfbff);
		ASSERT_REGS(c, 4, 0, 0x1c000121, 0x02c0003f, 0x3f, 0);
		ASSERT_REGS(c, 4, 1, 0x1c000122, 0x01c0003f, 0x3f, 0);
		ASSERT_REGS(c, 4, 3, 0x1c01c163, 0x03c0003f, 0xfff, 0);
		ASSERT_REGS(c, 0xb, 0, 0, 1, 0x100, id);
		ASSERT_REGS(c, 0xb, 1, 3, 8, 0x201, id);
		ASSERT_REGS(c, 0xb, 2, 0, 0, 2, id);
		ASSERT_REGS(c, 0x1f, 1, 3, 8, 0x201, id);
		ASSERT_REGS(c, 0x1f, 2, 0, 0, 2, id);
		ASSERT_REGS(c, 0x80000008, 0, 0x3030, 0, 0x00033007, 0);
		ASSERT_REGS(c, 0x8000001d, 3, 0x0001c163, 0x03c0003f, 0, 0);
		ASSERT_REGS(c, 0x8000001e, 0, id, id, 0, 0);
		assert_untouched(c);
	}
	free(c);
}
END_TEST

START_TEST(odd_counts_round_up)
{
	struct kvm_cpuid2 *c = make_cpuid();

	/* 3 cores need 2 APIC ID bits; 64 cores fill leaf 4's 6-bit field. */
	ck_assert_int_eq(x86_cpuid_for_vcpu(c, 2, 3), 0);
	ASSERT_REGS(c, 0xb, 1, 2, 3, 0x201, 2);
	ASSERT_REGS(c, 0x80000008, 0, 0x3030, 0, 0x00032002, 0);
	memcpy(c->entries, host_entries, sizeof(host_entries));
	ck_assert_int_eq(x86_cpuid_for_vcpu(c, 63, 64), 0);
	ASSERT_REGS(c, 1, 0, 0x000806f8, 0x3f400878, 0xfffafbff, 0xbfebfbff);
	ASSERT_REGS(c, 4, 0, 0xfc000121, 0x02c0003f, 0x3f, 0);
	ASSERT_REGS(c, 4, 3, 0xfc0fc163, 0x03c0003f, 0xfff, 0);
	ASSERT_REGS(c, 0xb, 1, 6, 64, 0x201, 63);
	ASSERT_REGS(c, 0x80000008, 0, 0x3030, 0, 0x0003603f, 0);
	free(c);
}
END_TEST

START_TEST(leaf_b_without_core_level_is_hidden)
{
	/* What KVM reports: leaf 0xB subleaf 0 only, all zero. */
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[2];
	} s = {.c.nent = 2,
	       .e = {{.function = 0xb, .index = 0, .flags = SIG, .ebx = 1, .ecx = 0x100},
		     {.function = 1, .ebx = 0x0800}}};

	ck_assert_int_eq(x86_cpuid_for_vcpu(&s.c, 3, 4), 0);
	ASSERT_REGS(&s.c, 0xb, 0, 0, 0, 0, 3);
	ck_assert_uint_eq(s.e[0].flags, SIG);
	ASSERT_REGS(&s.c, 1, 0, 0, 0x03040800, 1u << 31, 1u << 28);
}
END_TEST

START_TEST(bad_arguments)
{
	struct kvm_cpuid2 *c = make_cpuid();

	ck_assert_int_eq(x86_cpuid_for_vcpu(c, 0, 0), -EINVAL);
	ck_assert_int_eq(x86_cpuid_for_vcpu(c, 2, 2), -EINVAL);
	ck_assert_int_eq(x86_cpuid_for_vcpu(c, 0, X86_CPUID_MAX_VCPUS + 1), -EINVAL);
	ck_assert_int_eq(memcmp(c->entries, host_entries, sizeof(host_entries)), 0);
	free(c);
}
END_TEST

START_TEST(kvm_hints)
{
	struct kvm_cpuid2 *c = make_cpuid();
	struct kvm_cpuid2 *k = calloc(1, sizeof(*k) + 2 * sizeof(k->entries[0]));

	x86_cpuid_set_kvm_hints(c, 1); /* no KVM leaf listed: nothing to set */
	ck_assert_int_eq(memcmp(c->entries, host_entries, sizeof(host_entries)), 0);
	free(c);
	ck_assert_ptr_nonnull(k);
	k->nent = 2;
	k->entries[0] = (struct kvm_cpuid_entry2){.function = 0x40000000, .eax = 0x40000001};
	k->entries[1] = (struct kvm_cpuid_entry2){.function = 0x40000001, .eax = 0x01007afb};
	x86_cpuid_set_kvm_hints(k, 1);
	ASSERT_REGS(k, 0x40000001, 0, 0x01007afb, 0, 0, 1); /* features kept, hint set */
	ASSERT_REGS(k, 0x40000000, 0, 0x40000001, 0, 0, 0);
	free(k);
}
END_TEST

/* 0x80000008 EAX[7:0] is the physical address width (36 without the leaf), capped by
 * EAX[23:16] where KVM sets it; setting it caps GuestPhysAddrSize and keeps the linear
 * width and the other registers. */
START_TEST(phys_bits)
{
	struct kvm_cpuid2 *k = calloc(1, sizeof(*k) + sizeof(k->entries[0]));

	ck_assert_ptr_nonnull(k);
	ck_assert_uint_eq(x86_cpuid_phys_bits(k), 36);
	k->nent = 1;
	k->entries[0] =
	    (struct kvm_cpuid_entry2){.function = 0x80000008, .eax = 0x00303028, .ecx = 0x7003};
	ck_assert_uint_eq(x86_cpuid_phys_bits(k), 40);
	x86_cpuid_set_phys_bits(k, 39);
	ASSERT_REGS(k, 0x80000008, 0, 0x00273027, 0, 0x7003, 0);
	x86_cpuid_set_phys_bits(k, 46);
	ASSERT_REGS(k, 0x80000008, 0, 0x0027302e, 0, 0x7003, 0);
	/* A 52-bit host whose KVM maps 48 bits (no 5-level EPT): 48. */
	k->entries[0].eax = 0x00303034;
	ck_assert_uint_eq(x86_cpuid_phys_bits(k), 48);
	k->entries[0].eax = 0x00003034; /* no GuestPhysAddrSize: the CPU's */
	ck_assert_uint_eq(x86_cpuid_phys_bits(k), 52);
	free(k);
}
END_TEST

START_TEST(supported_from_kvm)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	const struct kvm_cpuid_entry2 *e1 = NULL;
	struct kvm_cpuid2 *c;
	int has_b0 = 0, has_b1 = 0;

	if (fd < 0)
		UNIT_SKIP("/dev/kvm cannot be opened");
	ck_assert_int_eq(x86_cpuid_get_supported(fd, &c), 0);
	close(fd);
	ck_assert_uint_gt(c->nent, 0);
	for (uint32_t i = 0; i < c->nent; i++) {
		has_b0 |= c->entries[i].function == 0xb && c->entries[i].index == 0;
		has_b1 |= c->entries[i].function == 0xb && c->entries[i].index == 1;
		if (c->entries[i].function == 1)
			e1 = &c->entries[i];
	}
	ck_assert_ptr_nonnull(e1);
	ck_assert_int_eq(has_b0, has_b1); /* the core level is added when KVM lists 0xB */
	ck_assert_int_eq(x86_cpuid_for_vcpu(c, 3, 4), 0);
	ck_assert_uint_eq(e1->ebx >> 16, 0x0304);
	ck_assert_uint_ne(e1->ecx & (1u << 31), 0);
	if (has_b1)
		ASSERT_REGS(c, 0xb, 1, 2, 4, 0x201, 3);
	free(c);
	ck_assert_int_eq(x86_cpuid_get_supported(-1, &c), -EBADF);
	ck_assert_ptr_null(c);
}
END_TEST

/* A snapshot's CPU feature words against a CPUID list, without KVM: the list's own
 * words pass, a bit it lacks is refused by name (or by leaf and bit), an unreadable
 * word is refused. */
START_TEST(cpu_feature_words_checked)
{
	struct kvm_cpuid2 *k = calloc(1, sizeof(*k) + 2 * sizeof(k->entries[0]));
	char err[512];

	ck_assert_ptr_nonnull(k);
	k->nent = 2;
	k->entries[0] = (struct kvm_cpuid_entry2){.function = 1, .ecx = 1u << 28, .edx = 0xff};
	k->entries[1] = (struct kvm_cpuid_entry2){
	    .function = 7, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .ebx = 1u << 3};
	ck_assert_int_eq(x86_cpu_check(k, "1.0.ecx=10000000 1.0.edx=000000ff 7.0.ebx=00000008", err,
				       sizeof(err)),
			 0);
	ck_assert_int_eq(x86_cpu_check(k, "7.0.ebx=00000028 1.0.edx=000004ff", err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "does not offer (avx2, CPUID 1.0 edx bit 10)"), "%s", err);
	/* 7.1 is not listed: nothing of it is offered. */
	ck_assert_int_eq(x86_cpu_check(k, "7.1.eax=00000001", err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "CPUID 7.1 eax bit 0"), "%s", err);
	ck_assert_int_eq(x86_cpu_check(k, "1.0.ecx=1000000x", err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "its CPU features are unreadable"), "%s", err);
	free(k);
}
END_TEST

Suite *cpuid_suite(void)
{
	Suite *s = suite_create("cpuid");
	TCase *tc = tcase_create("topology");

	tcase_add_test(tc, one_vcpu);
	tcase_add_test(tc, two_vcpus);
	tcase_add_test(tc, eight_vcpus);
	tcase_add_test(tc, odd_counts_round_up);
	tcase_add_test(tc, leaf_b_without_core_level_is_hidden);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, supported_from_kvm);
	tcase_add_test(tc, kvm_hints);
	tcase_add_test(tc, phys_bits);
	tcase_add_test(tc, cpu_feature_words_checked);
	suite_add_tcase(s, tc);
	return s;
}
