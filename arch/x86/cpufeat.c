/* The CPU features a guest sees, for snapshots and migration (arch.h's arch_cpu_*).
 *
 * A guest's CPUID is what this host's KVM supports (cpuid.c), read once at boot: the
 * kernel then picks its code paths (AVX2 memcpy, XSAVE layout, RDTSCP, LA57 paging) and
 * never looks again. Restored on a host without one of them, the guest faults with an
 * invalid opcode at some later moment, far from the cause. So a snapshot's header and
 * a migration's hello carry the feature words below, and a restore or an incoming
 * migration refuses a guest that saw a feature this host's KVM does not offer, naming
 * it. A host with more features is fine: the restored vCPUs get this host's CPUID
 * (arch_vcpu_init, as at boot), a superset of what the guest chose from.
 *
 * Words: "LEAF.SUBLEAF.REG=HEX", leaf and subleaf in hex. Bits that the guest's own
 * control registers switch (OSXSAVE, OSPKE) are not features and are ignored. */
#include "arch/x86/cpufeat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "arch/x86/cpuid.h"

enum { EAX, EBX, ECX, EDX };

static const struct word {
	uint32_t leaf, sub;
	int reg;
	uint32_t ignore;
} words[] = {
    {0x1, 0, ECX, 1u << 27 /* OSXSAVE */},
    {0x1, 0, EDX, 0},
    {0x7, 0, EBX, 0},
    {0x7, 0, ECX, 1u << 4 /* OSPKE */},
    {0x7, 0, EDX, 0},
    {0x7, 1, EAX, 0},
    {0xd, 0, EAX, 0}, /* the XSAVE state components (XCR0) */
    {0xd, 1, EAX, 0}, /* XSAVEOPT, XSAVEC, XSAVES */
    {0x80000001, 0, ECX, 0},
    {0x80000001, 0, EDX, 0},
    {0x80000008, 0, EBX, 0},
};

/* Names for the features users meet most; others are named by leaf, register and bit. */
static const struct name {
	uint32_t leaf, sub;
	int reg, bit;
	const char *name;
} names[] = {
    {0x1, 0, ECX, 9, "ssse3"},		{0x1, 0, ECX, 19, "sse4_1"},	{0x1, 0, ECX, 20, "sse4_2"},
    {0x1, 0, ECX, 21, "x2apic"},	{0x1, 0, ECX, 22, "movbe"},	{0x1, 0, ECX, 23, "popcnt"},
    {0x1, 0, ECX, 25, "aes"},		{0x1, 0, ECX, 26, "xsave"},	{0x1, 0, ECX, 28, "avx"},
    {0x1, 0, ECX, 29, "f16c"},		{0x1, 0, ECX, 30, "rdrand"},	{0x7, 0, EBX, 3, "bmi1"},
    {0x7, 0, EBX, 5, "avx2"},		{0x7, 0, EBX, 8, "bmi2"},	{0x7, 0, EBX, 9, "erms"},
    {0x7, 0, EBX, 16, "avx512f"},	{0x7, 0, EBX, 18, "rdseed"},	{0x7, 0, EBX, 19, "adx"},
    {0x7, 0, EBX, 29, "sha_ni"},	{0x7, 0, ECX, 16, "la57"},	{0x7, 0, EDX, 4, "fsrm"},
    {0x80000001, 0, EDX, 27, "rdtscp"}, {0x80000001, 0, ECX, 5, "abm"},
};

static const char regname[][4] = {"eax", "ebx", "ecx", "edx"};

static uint32_t value_of(const struct kvm_cpuid2 *c, uint32_t leaf, uint32_t sub, int reg)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function != leaf ||
		    ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e->index != sub))
			continue;
		return reg == EAX ? e->eax : reg == EBX ? e->ebx : reg == ECX ? e->ecx : e->edx;
	}
	return 0; /* a leaf KVM does not list offers nothing */
}

int arch_cpu_features(int kvm_fd, char *buf, size_t len)
{
	struct kvm_cpuid2 *c;
	size_t n = 0;
	int ret = x86_cpuid_get_supported(kvm_fd, &c);

	if (ret < 0)
		return ret;
	buf[0] = 0;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]) && n < len; i++) {
		const struct word *w = &words[i];

		n += (size_t)snprintf(buf + n, len - n, "%s%x.%x.%s=%08x", i ? " " : "", w->leaf,
				      w->sub, regname[w->reg],
				      value_of(c, w->leaf, w->sub, w->reg) & ~w->ignore);
	}
	free(c);
	return n < len ? 0 : -ENOSPC;
}

static int reg_index(const char *s)
{
	for (int r = 0; r < 4; r++)
		if (!strcmp(s, regname[r]))
			return r;
	return -1;
}

/* Appends ", NAME" (or ", LEAF.SUB REG bit N") for each bit of missing. */
static size_t name_bits(char *out, size_t len, size_t n, uint32_t leaf, uint32_t sub, int reg,
			uint32_t missing)
{
	for (int bit = 0; bit < 32 && n < len; bit++) {
		const char *name = NULL;

		if (!(missing >> bit & 1))
			continue;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (names[i].leaf == leaf && names[i].sub == sub && names[i].reg == reg &&
			    names[i].bit == bit)
				name = names[i].name;
		if (name)
			n += (size_t)snprintf(out + n, len - n, "%s%s", n ? ", " : "", name);
		else
			n += (size_t)snprintf(out + n, len - n, "%sCPUID %x.%x %s bit %d",
					      n ? ", " : "", leaf, sub, regname[reg], bit);
	}
	return n;
}

int x86_cpu_check(const struct kvm_cpuid2 *c, const char *saved, char *err, size_t errlen)
{
	char missing[384] = "", *copy = strdup(saved), *save = NULL;
	size_t n = 0;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		unsigned int leaf, sub, val;
		char reg[4];
		int consumed = 0, r;

		if (sscanf(tok, "%x.%x.%3[a-z]=%8x%n", &leaf, &sub, reg, &val, &consumed) != 4 ||
		    tok[consumed] || (r = reg_index(reg)) < 0) {
			snprintf(err, errlen, "its CPU features are unreadable (\"%.40s\")", tok);
			ret = -EINVAL;
			goto out;
		}
		n = name_bits(missing, sizeof(missing), n, leaf, sub, r,
			      val & ~value_of(c, leaf, sub, r));
	}
	if (n) {
		snprintf(err, errlen,
			 "the guest was started on a CPU with features this host's KVM does not "
			 "offer (%s); restore it on a host with the same CPU or a newer one",
			 missing);
		ret = -EINVAL;
	}
out:
	free(copy);
	return ret;
}

int arch_cpu_check(int kvm_fd, const char *saved, char *err, size_t errlen)
{
	struct kvm_cpuid2 *c;
	int ret = x86_cpuid_get_supported(kvm_fd, &c);

	if (ret < 0) {
		snprintf(err, errlen, "cannot read this host's CPU features from KVM: %s",
			 strerror(-ret));
		return ret;
	}
	ret = x86_cpu_check(c, saved, err, errlen);
	free(c);
	return ret;
}
