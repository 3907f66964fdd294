/* The "cpu" line of a snapshot's header or a migration's hello (untrusted: the file or
 * whatever connects to --incoming) as arch/x86/cpufeat.c's x86_cpu_check reads it,
 * against a CPUID list made from the input's first 44 bytes (leaves 1, 7.0, 7.1, 0xd.0,
 * 0x80000001: EAX..EDX each, and one flags byte for whether leaf 7's subleaf counts);
 * the rest, up to a NUL, is the line.
 *
 * Invariants: the result is 0 or -EINVAL (-ENOMEM aside) with a NUL-terminated message
 * on failure; a line made only of words this list offers passes. */
#include <errno.h>
#include <stdbool.h>

#include "arch/x86/cpufeat.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t leaves[][2] = {{1, 0}, {7, 0}, {7, 1}, {0xd, 0}, {0x80000001, 0}};
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[5];
	} list = {.c.nent = 5};
	struct fz f = {data, size};
	bool indexed = fz_u8(&f) & 1;
	char err[512] = "", *line;
	int ret;

	for (int i = 0; i < 5; i++) {
		struct kvm_cpuid_entry2 *e = &list.e[i];

		e->function = leaves[i][0];
		e->index = leaves[i][1];
		e->flags = indexed && e->function == 7 ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
		e->eax = fz_u32(&f), e->ebx = fz_u32(&f), e->ecx = fz_u32(&f), e->edx = fz_u32(&f);
	}
	line = strndup((const char *)f.p, f.n);
	if (!line)
		return 0;
	ret = x86_cpu_check(&list.c, line, err, sizeof(err));
	FUZZ_CHECK(ret == 0 || ret == -ENOMEM ||
		   (ret == -EINVAL && err[0] && memchr(err, 0, sizeof(err))));
	free(line);
	/* This list's own words pass. */
	{
		char own[128];

		snprintf(own, sizeof(own), "1.0.ecx=%08x 7.0.ebx=%08x d.0.eax=%08x", list.e[0].ecx,
			 list.e[1].ebx, list.e[3].eax);
		FUZZ_CHECK(x86_cpu_check(&list.c, own, err, sizeof(err)) == 0);
	}
	return 0;
}
