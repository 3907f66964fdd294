/* The CPU a guest sees on arm64, for snapshots and migration (arch.h's arch_cpu_*).
 *
 * A guest reads its CPU's ID registers once at boot and picks its code paths from them
 * (atomics, CRC32, the crypto instructions, the page sizes and address bits). The
 * restored vCPU state writes them back (state.c, through KVM_SET_ONE_REG), which KVM
 * takes only for values this host's CPU can give; and MIDR_EL1, REVIDR_EL1 and
 * AIDR_EL1 it takes only unchanged. So the line says what the guest saw, and a restore
 * or an incoming migration refuses, before it builds anything, a guest whose CPU this
 * host does not present alike, naming what differs: the vCPU features minivmm asked
 * for at KVM_ARM_VCPU_INIT, and the ID registers below, each of which must match. A
 * host with another CPU, or with a KVM that shows the same CPU otherwise, is refused:
 * migrating between different CPUs is not supported.
 *
 * Words: "psci-0.2", "pmu" (the vCPUs had a PMUv3), and "NAME=HEX" for each register
 * KVM lets this host's vCPU read. The values come from a scratch VM and vCPU made as
 * kvm.c makes the guest's (arm64_vcpu_init_args), since only a vCPU has them. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/arch.h"
#include "arch/arm64/arm64.h"

static const struct idreg {
	const char *name;
	uint64_t id;
} idregs[] = {
    {"midr", ARM64_SYS_REG(3, 0, 0, 0, 0)},  {"revidr", ARM64_SYS_REG(3, 0, 0, 0, 6)},
    {"aidr", ARM64_SYS_REG(3, 1, 0, 0, 7)},  {"ctr", ARM64_SYS_REG(3, 3, 0, 0, 1)},
    {"pfr0", ARM64_SYS_REG(3, 0, 0, 4, 0)},  {"pfr1", ARM64_SYS_REG(3, 0, 0, 4, 1)},
    {"zfr0", ARM64_SYS_REG(3, 0, 0, 4, 4)},  {"dfr0", ARM64_SYS_REG(3, 0, 0, 5, 0)},
    {"isar0", ARM64_SYS_REG(3, 0, 0, 6, 0)}, {"isar1", ARM64_SYS_REG(3, 0, 0, 6, 1)},
    {"isar2", ARM64_SYS_REG(3, 0, 0, 6, 2)}, {"mmfr0", ARM64_SYS_REG(3, 0, 0, 7, 0)},
    {"mmfr1", ARM64_SYS_REG(3, 0, 0, 7, 1)}, {"mmfr2", ARM64_SYS_REG(3, 0, 0, 7, 2)},
};
#define NR_IDREGS (sizeof(idregs) / sizeof(idregs[0]))

/* What this host's KVM gives a guest's vCPU. */
struct host_cpu {
	bool pmu;
	bool have[NR_IDREGS];
	uint64_t val[NR_IDREGS];
};

static int probe(int kvm_fd, struct host_cpu *h)
{
	struct kvm_vcpu_init init;
	int vm_fd, vcpu_fd = -1, ret = 0;

	memset(h, 0, sizeof(*h));
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0)
		return -errno;
	h->pmu = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_PMU_V3) > 0; /* as kvm.c */
	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	if (vcpu_fd < 0) {
		ret = -errno;
		goto out;
	}
	ret = arm64_vcpu_init_args(vm_fd, h->pmu, false, &init);
	if (ret == 0 && ioctl(vcpu_fd, KVM_ARM_VCPU_INIT, &init) < 0)
		ret = -errno;
	for (size_t i = 0; ret == 0 && i < NR_IDREGS; i++) {
		struct kvm_one_reg r = {.id = idregs[i].id, .addr = (uintptr_t)&h->val[i]};

		h->have[i] = ioctl(vcpu_fd, KVM_GET_ONE_REG, &r) == 0;
	}
out:
	if (vcpu_fd >= 0)
		close(vcpu_fd);
	close(vm_fd);
	return ret;
}

int arch_cpu_features(int kvm_fd, char *buf, size_t len)
{
	struct host_cpu h;
	size_t n;
	int ret = probe(kvm_fd, &h);

	if (ret < 0)
		return ret;
	n = (size_t)snprintf(buf, len, "psci-0.2%s", h.pmu ? " pmu" : "");
	for (size_t i = 0; i < NR_IDREGS && n < len; i++)
		if (h.have[i])
			n += (size_t)snprintf(buf + n, len - n, " %s=%llx", idregs[i].name,
					      (unsigned long long)h.val[i]);
	return n < len ? 0 : -ENOSPC;
}

/* Appends "NAME bits H:L (the guest saw X, this host has Y)" for each 4-bit field of the
 * register that differs. */
static size_t name_fields(char *out, size_t len, size_t n, const char *name, uint64_t saw,
			  uint64_t mine)
{
	for (int lo = 60; lo >= 0 && n < len; lo -= 4) {
		unsigned int a = (unsigned int)(saw >> lo & 15),
			     b = (unsigned int)(mine >> lo & 15);

		if (a != b)
			n +=
			    (size_t)snprintf(out + n, len - n,
					     "%s%s bits %d:%d (the guest saw %u, this host has %u)",
					     n ? ", " : "", name, lo + 3, lo, a, b);
	}
	return n;
}

int arch_cpu_check(int kvm_fd, const char *saved, char *err, size_t errlen)
{
	char differ[400] = "", *copy = NULL, *save = NULL;
	struct host_cpu h;
	size_t n = 0;
	int ret = probe(kvm_fd, &h);

	if (ret < 0) {
		snprintf(err, errlen, "cannot read this host's CPU features from KVM: %s",
			 strerror(-ret));
		return ret;
	}
	copy = strdup(saved);
	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		unsigned long long val = 0;
		char name[16];
		int consumed = 0;
		size_t i = NR_IDREGS;

		if (n >= sizeof(differ)) /* cut short: what is there says enough */
			n = sizeof(differ) - 1;
		if (!strcmp(tok, "psci-0.2"))
			continue; /* every arm64 host's KVM has it */
		if (!strcmp(tok, "pmu")) {
			if (!h.pmu)
				n += (size_t)snprintf(differ + n, sizeof(differ) - n, "%spmu",
						      n ? ", " : "");
			continue;
		}
		if (sscanf(tok, "%15[a-z0-9]=%16llx%n", name, &val, &consumed) == 2 &&
		    !tok[consumed])
			for (i = 0; i < NR_IDREGS && strcmp(idregs[i].name, name); i++)
				;
		if (i == NR_IDREGS) {
			snprintf(err, errlen, "its CPU features are unreadable (\"%.40s\")", tok);
			ret = -EINVAL;
			goto out;
		}
		if (!h.have[i])
			n += (size_t)snprintf(differ + n, sizeof(differ) - n,
					      "%s%s (this host's KVM does not show it)",
					      n ? ", " : "", name);
		else
			n = name_fields(differ, sizeof(differ), n, name, val, h.val[i]);
	}
	if (n) {
		snprintf(err, errlen,
			 "the guest was started on a CPU with features this host's KVM does not "
			 "offer alike (%s); restore it on a host with the same CPU and kernel",
			 differ);
		ret = -EINVAL;
	}
out:
	free(copy);
	return ret;
}
