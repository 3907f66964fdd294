/* Tiny guests on the real /dev/kvm: a few instructions each, so they run even where
 * KVM emulates instruction by instruction. Skipped, with the reason, without /dev/kvm. */
#include "tests/unit/unit.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86/boot.h"
#include "arch/x86/layout.h"

struct tiny {
	int kvm, vm, vcpu;
	uint8_t *mem;
	size_t mem_size;
	struct kvm_run *run;
};

/* Real-mode guest of mem_size bytes from 0 with code at gpa, started at cs:ip (cs a
 * real-mode segment: its base is cs * 16); returns 0 or a skip reason. */
static const char *tiny_create(struct tiny *t, size_t mem_size, uint64_t gpa, const uint8_t *code,
			       size_t len, uint16_t cs, uint16_t ip)
{
	struct kvm_userspace_memory_region slot = {
	    .slot = 0, .guest_phys_addr = 0, .memory_size = mem_size};
	struct kvm_sregs sregs;
	struct kvm_regs regs = {.rip = ip, .rflags = 2};
	int run_size;

	t->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (t->kvm < 0)
		return "cannot open /dev/kvm";
	t->vm = ioctl(t->kvm, KVM_CREATE_VM, 0);
	ck_assert_int_ge(t->vm, 0);
	t->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(t->mem, MAP_FAILED);
	t->mem_size = mem_size;
	ck_assert_uint_le(gpa + len, mem_size);
	memcpy(t->mem + gpa, code, len);
	slot.userspace_addr = (uintptr_t)t->mem;
	ck_assert_int_eq(ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &slot), 0);
	t->vcpu = ioctl(t->vm, KVM_CREATE_VCPU, 0);
	ck_assert_int_ge(t->vcpu, 0);
	run_size = ioctl(t->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	t->run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, t->vcpu, 0);
	ck_assert_ptr_ne(t->run, MAP_FAILED);
	ck_assert_int_eq(ioctl(t->vcpu, KVM_GET_SREGS, &sregs), 0);
	sregs.cs.base = (uint64_t)cs << 4;
	sregs.cs.selector = cs;
	ck_assert_int_eq(ioctl(t->vcpu, KVM_SET_SREGS, &sregs), 0);
	ck_assert_int_eq(ioctl(t->vcpu, KVM_SET_REGS, &regs), 0);
	return NULL;
}

static void tiny_destroy(struct tiny *t)
{
	close(t->vcpu);
	close(t->vm);
	close(t->kvm);
	munmap(t->mem, t->mem_size);
}

START_TEST(raw_kvm_port_output)
{
	/* mov dx,0x3f8; mov al,'O'; out dx,al; mov al,'K'; out dx,al; hlt */
	static const uint8_t code[] = {0xba, 0xf8, 0x03, 0xb0, 'O', 0xee, 0xb0, 'K', 0xee, 0xf4};
	struct tiny t;
	char seen[4] = "";
	int n = 0;
	const char *skip = tiny_create(&t, 0x10000, 0x1000, code, sizeof(code), 0, 0x1000);

	if (skip)
		UNIT_SKIP(skip);
	for (;;) {
		ck_assert_int_eq(ioctl(t.vcpu, KVM_RUN, 0), 0);
		if (t.run->exit_reason != KVM_EXIT_IO)
			break;
		ck_assert_int_eq(t.run->io.port, 0x3f8);
		ck_assert_int_eq(t.run->io.direction, KVM_EXIT_IO_OUT);
		ck_assert_int_lt(n, 3);
		seen[n++] = *((char *)t.run + t.run->io.data_offset);
	}
	ck_assert_int_eq(t.run->exit_reason, KVM_EXIT_HLT);
	ck_assert_str_eq(seen, "OK");
	tiny_destroy(&t);
}
END_TEST

/* A guest that reboots by Linux's BIOS method lands at F000:FFF0 in real mode: the
 * stub there must ask for a reset through the ACPI reset register, then stay halted. */
START_TEST(reset_stub_at_the_real_mode_reset_vector)
{
	struct tiny t;
	const char *skip = tiny_create(&t, 1 << 20, X86_RESET_VECTOR, x86_reset_stub,
				       sizeof(x86_reset_stub), 0xf000, 0xfff0);

	if (skip)
		UNIT_SKIP(skip);
	ck_assert_uint_eq(0xf0000 + 0xfff0, X86_RESET_VECTOR);
	ck_assert_int_eq(ioctl(t.vcpu, KVM_RUN, 0), 0);
	ck_assert_int_eq(t.run->exit_reason, KVM_EXIT_IO);
	ck_assert_int_eq(t.run->io.port, X86_PORT_RESET);
	ck_assert_int_eq(t.run->io.direction, KVM_EXIT_IO_OUT);
	ck_assert_int_eq(t.run->io.size, 1);
	ck_assert_int_eq(*((uint8_t *)t.run + t.run->io.data_offset), X86_RESET_VALUE);
	/* If the reset never comes, the CPU halts (with interrupts off) rather than run on. */
	ck_assert_int_eq(ioctl(t.vcpu, KVM_RUN, 0), 0);
	ck_assert_int_eq(t.run->exit_reason, KVM_EXIT_HLT);
	tiny_destroy(&t);
}
END_TEST

Suite *kvm_suite(void)
{
	Suite *s = suite_create("kvm");
	TCase *tc = tcase_create("tiny-guests");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, raw_kvm_port_output);
	tcase_add_test(tc, reset_stub_at_the_real_mode_reset_vector);
	suite_add_tcase(s, tc);
	return s;
}
