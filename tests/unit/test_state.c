/* The x86 VM and vCPU state that a snapshot or migration carries (arch/x86/state.c), on
 * /dev/kvm: a tiny guest counts in memory; it is paused and its KVM state and RAM
 * saved; that VM is destroyed; a new VM from the same config gets the RAM and the state
 * restored, and the guest goes on counting from where it was, without running its
 * entry code again. Skipped, with the reason, without /dev/kvm. */
#include "tests/unit/unit.h"
#include "tests/unit/tiny_kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "vmm/image.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"

#define COUNTER 0x5000 /* incremented by the loop */
#define BOOTS	0x5008 /* incremented once, at the entry */

/* inc dword [BOOTS]; loop: inc qword [COUNTER]; mov dx, 0x3ff; out dx, al; jmp loop */
static const uint8_t guest_counts[] = {0xff, 0x04, 0x25, 0x08, 0x50, 0x00, 0x00, 0x48,
				       0xff, 0x04, 0x25, 0x00, 0x50, 0x00, 0x00, 0x66,
				       0xba, 0xff, 0x03, 0xee, 0xeb, 0xf1};

static uint64_t peek(struct vm *vm, uint64_t gpa)
{
	uint64_t v;

	ck_assert_int_eq(mem_read(&vm->m.mem, gpa, &v, sizeof(v)), 0);
	return v;
}

static void wait_count(struct vm *vm, uint64_t above)
{
	for (int i = 0; i < 5000 && peek(vm, COUNTER) <= above; i++)
		usleep(1000);
	ck_assert_uint_gt(peek(vm, COUNTER), above);
}

/* A tiny counting guest's config in the fresh directory dir, and its files open. */
static void setup(char *dir, const char *extra, struct config *cfg, struct boot_images *bi)
{
	char path[64], err[512];
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	write_kernel(dir, guest_counts, sizeof(guest_counts));
	snprintf(path, sizeof(path), "%s/vm.ini", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[vm]\nkernel = kernel\nmemory = 32M\n[console]\nmode = none\n%s", extra);
	fclose(f);
	ck_assert_msg(config_load(cfg, path, NULL, 0, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(boot_files_open(bi, cfg, err, sizeof(err)) == 0, "%s", err);
}

static void cleanup(const char *dir, struct boot_images *bi)
{
	char cmd[96];

	boot_files_close(bi);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(guest_continues_in_a_new_vm)
{
	char dir[] = "/tmp/minivmm-state-XXXXXX", err[512];
	struct arch_vcpu_state *vs;
	struct arch_vm_state *ms;
	struct boot_images bi;
	struct config cfg;
	uint64_t count;
	struct vm a, b;
	uint8_t *ram;

	if (access("/dev/kvm", R_OK | W_OK) != 0)
		UNIT_SKIP("no usable /dev/kvm on this machine");
	setup(dir, "[security]\nseccomp = off\n", &cfg, &bi);
	vs = calloc(1, arch_vcpu_state_size());
	ms = calloc(1, arch_vm_state_size());
	ck_assert(vs && ms);

	ck_assert_int_eq(vm_create(&a, &cfg, &bi.files, -1, 0, false), 0);
	ck_assert_int_eq(vm_start(&a), 0);
	wait_count(&a, 1000);
	vcpus_pause(a.vcpus, a.nr_vcpus);
	ck_assert_int_eq(arch_vm_save(&a, ms), 0);
	ck_assert_int_eq(arch_vcpu_save(&a, &a.vcpus[0], vs), 0);
	ck_assert_int_eq(a.m.mem.nr_regions, 1);
	ram = malloc(a.m.mem.regions[0].size);
	ck_assert_ptr_nonnull(ram);
	memcpy(ram, a.m.mem.regions[0].hva, a.m.mem.regions[0].size);
	count = peek(&a, COUNTER);
	ck_assert_uint_eq(peek(&a, BOOTS), 1);
	vm_request_stop(&a, VM_STOP_POWEROFF);
	vm_destroy(&a);

	/* A new VM from the same config (the files read again, as at a reboot); the
	 * loader writes the kernel again, which the saved RAM replaces. */
	ck_assert_msg(boot_files_reload(&bi, &cfg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(vm_create(&b, &cfg, &bi.files, -1, 0, false), 0);
	memcpy(b.m.mem.regions[0].hva, ram, b.m.mem.regions[0].size);
	ck_assert_int_eq(arch_vm_restore(&b, ms), 0);
	ck_assert_int_eq(arch_vcpu_restore(&b, &b.vcpus[0], vs), 0);
	ck_assert_uint_eq(peek(&b, COUNTER), count);
	ck_assert_int_eq(vm_start(&b), 0);
	wait_count(&b, count + 1000);
	ck_assert_msg(peek(&b, BOOTS) == 1, "the entry code ran again: not a restore");
	vm_request_stop(&b, VM_STOP_POWEROFF);
	vm_destroy(&b);

	free(ram);
	free(vs);
	free(ms);
	cleanup(dir, &bi);
}
END_TEST

/* A state that says it is not what it is, is refused rather than loaded. */
START_TEST(restore_refuses_a_bad_vm_state)
{
	char dir[] = "/tmp/minivmm-state-XXXXXX";
	struct arch_vm_state *ms;
	struct boot_images bi;
	struct config cfg;
	struct vm a;

	if (access("/dev/kvm", R_OK | W_OK) != 0)
		UNIT_SKIP("no usable /dev/kvm on this machine");
	setup(dir, "", &cfg, &bi);
	ms = malloc(arch_vm_state_size());
	ck_assert_ptr_nonnull(ms);
	memset(ms, 0xa5, arch_vm_state_size()); /* garbage: wrong irqchip ids */
	ck_assert_int_eq(vm_create(&a, &cfg, &bi.files, -1, 0, false), 0);
	ck_assert_int_eq(arch_vm_restore(&a, ms), -EINVAL);
	vm_destroy(&a);
	free(ms);
	cleanup(dir, &bi);
}
END_TEST

/* A device kind without a save op (VFIO today): a snapshot is refused, naming it, and
 * writes nothing. */
static int nosave_create(struct machine *m, const struct device_spec *spec, void **state)
{
	(void)m, (void)spec;
	*state = malloc(1);
	return *state ? 0 : -ENOMEM;
}

static void nosave_destroy(void *state)
{
	free(state);
}

static const struct device_ops nosave_ops = {
    .kind = "nosave", .pci = true, .create = nosave_create, .destroy = nosave_destroy};

START_TEST(snapshot_refuses_a_device_it_cannot_save)
{
	char dir[] = "/tmp/minivmm-state-XXXXXX", path[64], err[512];
	struct device_spec spec = {.ops = &nosave_ops, .name = "vfio.gpu", .fd = -1};
	struct boot_images bi;
	struct config cfg;
	struct vm a;

	if (access("/dev/kvm", R_OK | W_OK) != 0)
		UNIT_SKIP("no usable /dev/kvm on this machine");
	setup(dir, "", &cfg, &bi);
	ck_assert_int_eq(vm_create(&a, &cfg, &bi.files, -1, 0, false), 0);
	ck_assert_int_eq(vm_device_add(&a, &spec), 0);
	ck_assert_int_eq(snapshot_save(&a, &cfg, dir, err, sizeof(err)), -ENOTSUP);
	ck_assert_msg(
	    strstr(
		err,
		"vfio.gpu (nosave) cannot be saved or migrated: this version cannot save its kind"),
	    "%s", err);
	/* A kind the API cannot remove either (a shared folder): no advice to remove it. */
	ck_assert_msg(strstr(err, "and it cannot be removed while the guest runs; a VM with it can "
				  "only be shut down and booted again"),
		      "%s", err);
	snprintf(path, sizeof(path), "%s/header", dir);
	ck_assert_int_ne(access(path, F_OK), 0);
	vm_destroy(&a);
	cleanup(dir, &bi);
}
END_TEST

/* The CPU features a snapshot carries: this host's own pass; a feature this host's KVM
 * does not offer (CPUID 1 EDX bit 10 is reserved: no CPU has it) is refused by name;
 * an unreadable line is refused. */
START_TEST(cpu_features_are_checked)
{
	char line[1024], bad[1100], err[512];
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	char *edx;

	if (fd < 0)
		UNIT_SKIP("no usable /dev/kvm on this machine");
	ck_assert_int_eq(arch_cpu_features(fd, line, sizeof(line)), 0);
	ck_assert_msg(strstr(line, "7.0.ebx=") && strstr(line, "1.0.ecx="), "%s", line);
	ck_assert_int_eq(arch_cpu_check(fd, line, err, sizeof(err)), 0);

	edx = strstr(line, "1.0.edx=");
	ck_assert_ptr_nonnull(edx);
	snprintf(bad, sizeof(bad), "%.*s1.0.edx=%08x%s", (int)(edx - line), line,
		 (unsigned int)strtoul(edx + 8, NULL, 16) | 1u << 10, edx + 16);
	ck_assert_int_eq(arch_cpu_check(fd, bad, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "features this host's KVM does not offer (CPUID 1.0 edx bit 10)"),
		      "%s", err);

	ck_assert_int_eq(arch_cpu_check(fd, "1.0.ecx=zz", err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "unreadable"), "%s", err);
	ck_assert_int_eq(arch_cpu_check(fd, "1.0.exx=00000001", err, sizeof(err)), -EINVAL);
	close(fd);
}
END_TEST

Suite *state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("x86");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, guest_continues_in_a_new_vm);
	tcase_add_test(tc, restore_refuses_a_bad_vm_state);
	tcase_add_test(tc, snapshot_refuses_a_device_it_cannot_save);
	tcase_add_test(tc, cpu_features_are_checked);
	suite_add_tcase(s, tc);
	return s;
}
