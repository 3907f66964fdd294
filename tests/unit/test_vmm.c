/* The minivmm binary end to end on this machine's /dev/kvm, with tiny guests: each is
 * a few 64-bit instructions wrapped in a minimal bzImage, so they run even where KVM
 * emulates every instruction. Checks serial output, PIO and MMIO dispatch, and the exit
 * code for each way a guest can end. Skipped, with the reason, without /dev/kvm. */
#include "tests/unit/unit.h"
#include "tests/unit/tiny_kernel.h"
#include "tests/unit/tiny_vmlinux.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct run {
	int status;
	char console[256];
	char err[1 << 16];
};

static void read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? 0 : read(fd, buf, size - 1);

	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
}

/* Runs build/minivmm on a config for dir/kernel with the [vm] extra line, stopping it
 * with SIGTERM after secs seconds; removes dir. */
static void run_kernel_in(const char *dir, const char *extra, int secs, struct run *r)
{
	char ini[300], cmd[1024], path[300];
	const char *bin = getenv("MINIVMM_BIN") ? getenv("MINIVMM_BIN") : "build/minivmm";
	FILE *f;

	snprintf(ini, sizeof(ini), "%s/vm.ini", dir);
	f = fopen(ini, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"[vm]\nkernel = kernel\nmemory = 32M\n%s\n[console]\nmode = file\n"
		"path = console\n",
		extra);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "timeout -k 5 %d %s %s 2>%s/stderr </dev/null", secs, bin, ini,
		 dir);
	r->status = system(cmd);
	ck_assert(WIFEXITED(r->status));
	r->status = WEXITSTATUS(r->status);
	snprintf(path, sizeof(path), "%s/console", dir);
	read_file(path, r->console, sizeof(r->console));
	snprintf(path, sizeof(path), "%s/stderr", dir);
	read_file(path, r->err, sizeof(r->err));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Runs build/minivmm on a config with the given code and [vm] extra line, stopping it
 * with SIGTERM after secs seconds. */
static const char *run_guest_for(const uint8_t *code, size_t len, const char *extra, int secs,
				 struct run *r)
{
	char dir[] = "/tmp/minivmm-test-XXXXXX";

	if (access("/dev/kvm", R_OK | W_OK) != 0)
		return "no usable /dev/kvm on this machine";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	write_kernel(dir, code, len);
	run_kernel_in(dir, extra, secs, r);
	return NULL;
}

static const char *run_guest(const uint8_t *code, size_t len, const char *extra, struct run *r)
{
	return run_guest_for(code, len, extra, 60, r);
}

/* Runs code as a tiny guest and expects exit status and a line of minivmm's log. */
static void expect_ending(const uint8_t *code, size_t len, const char *extra, int status,
			  const char *log)
{
	struct run r;
	const char *skip = run_guest(code, len, extra, &r);

	if (skip)
		UNIT_SKIP(skip);
	ck_assert_msg(r.status == status, "exit %d, not %d: %s", r.status, status, r.err);
	ck_assert_msg(strstr(r.err, log), "'%s' not in: %s", log, r.err);
}

/* mov dx, port; mov al, value; out dx, al */
#define OUTB(port, v) 0x66, 0xba, (port)&0xff, (port) >> 8, 0xb0, (v), 0xee
#define COM1	      0x3f8
#define HALT	      0xf4, 0xeb, 0xfd /* hlt; jmp back to hlt */

START_TEST(serial_output_and_poweroff)
{
	static const uint8_t code[] = {OUTB(COM1, 'h'), OUTB(COM1, 'i'), OUTB(0x600, 0x34), HALT};
	struct run r;
	const char *skip = run_guest(code, sizeof(code), "", &r);

	if (skip)
		UNIT_SKIP(skip);
	ck_assert_str_eq(r.console, "hi");
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.err, "guest powered off (exit 0)"));
	/* The boot cycle's timeline, every mark this guest reaches, in order (it writes
	 * no boot mark, so no "guest userspace"). */
	ck_assert_msg(strstr(r.err, "timeline (ms since start): config "), "%s", r.err);
	{
		static const char *const order[] = {
		    "config ",		", guest RAM ",	    ", devices ",
		    ", kernel loaded ", ", first KVM_RUN ", ", first console output ",
		    ", stop request ",	", torn down ",	    ", exit "};
		const char *p = strstr(r.err, "timeline");

		for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
			p = strstr(p, order[i]);
			ck_assert_msg(p, "'%s' missing or out of order in: %s", order[i], r.err);
		}
		ck_assert_ptr_null(strstr(r.err, "guest userspace"));
	}
	ck_assert_ptr_nonnull(strstr(r.err, "minivmm: kernel: bzImage (protocol 2.15)\n"));
}
END_TEST

/* ---- An ELF vmlinux booted through its PVH entry (arch/x86/pvh.c) ---- */

#define PVH_LOAD 0x100000 /* the guest's one segment, and its entry */

/* 32-bit code, paging off: if [ebx] is the start info magic, print 'P' and the first
 * byte of the command line (start info + 0x18: cmdline_paddr), else 'X'; power off. */
static const uint8_t pvh_code[] = {0x81,
				   0x3b,
				   0x78,
				   0xc5,
				   0x6e,
				   0x33, /* cmp dword [ebx], 0x336ec578 */
				   0x75,
				   0x17,	    /* jne bad (+23) */
				   OUTB(COM1, 'P'), /* ends with dx = COM1 */
				   0x8b,
				   0x73,
				   0x18, /* mov esi, [ebx + 0x18] */
				   0x8a,
				   0x06, /* mov al, [esi] */
				   0xee, /* out dx, al */
				   OUTB(0x600, 0x34),
				   HALT,
				   OUTB(COM1, 'X'), /* bad: */
				   OUTB(0x600, 0x34),
				   HALT};

/* Writes dir/kernel: a vmlinux with pvh_code as its segment (bss after it). */
static void write_vmlinux(const char *dir)
{
	const struct tv_seg seg = {PVH_LOAD, 0x2000, pvh_code, sizeof(pvh_code)};
	char path[300];
	size_t len;
	uint8_t *img = tv_build(&seg, 1, PVH_LOAD, 8, &len, NULL);
	FILE *f;

	ck_assert_ptr_nonnull(img);
	snprintf(path, sizeof(path), "%s/kernel", dir);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(img, 1, len, f), len);
	fclose(f);
	free(img);
}

START_TEST(pvh_vmlinux_boots)
{
	char dir[] = "/tmp/minivmm-test-XXXXXX";
	struct run r;

	if (access("/dev/kvm", R_OK | W_OK) != 0)
		UNIT_SKIP("no usable /dev/kvm on this machine");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	write_vmlinux(dir);
	run_kernel_in(dir, "cmdline = Qx\nvcpus = 2", 60, &r);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.console, "PQ");
	ck_assert_msg(strstr(r.err, "minivmm: kernel: vmlinux (ELF, PVH entry 0x100000, 1 "
				    "segments at 0x100000-0x101fff)\n"),
		      "%s", r.err);
	ck_assert_ptr_nonnull(strstr(r.err, "guest powered off (exit 0)"));
}
END_TEST

/* --dry-run says which kind the kernel is (no KVM needed). */
/* `minivmm --dry-run DIR/vm.ini` (exit 0 expected), its output into out. */
static void dry_run(const char *dir, char *out, size_t size)
{
	const char *bin = getenv("MINIVMM_BIN") ? getenv("MINIVMM_BIN") : "build/minivmm";
	char cmd[1024];
	size_t n;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s --dry-run %s/vm.ini 2>&1", bin, dir);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(out, 1, size - 1, f);
	out[n] = 0;
	ck_assert_int_eq(pclose(f), 0);
}

START_TEST(dry_run_names_the_kernel_kind)
{
	char dir[] = "/tmp/minivmm-test-XXXXXX", cmd[1024], out[8192] = "";
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	write_vmlinux(dir);
	snprintf(cmd, sizeof(cmd), "%s/vm.ini", dir);
	f = fopen(cmd, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[vm]\nkernel = kernel\nmemory = 32M\n");
	fclose(f);
	dry_run(dir, out, sizeof(out));
	ck_assert_msg(strstr(out, "\n; kernel: vmlinux (ELF, PVH entry 0x100000, "), "%s", out);
	write_kernel(dir, pvh_code, sizeof(pvh_code));
	dry_run(dir, out, sizeof(out));
	ck_assert_msg(strstr(out, "\n; kernel: bzImage (protocol 2.15)\n"), "%s", out);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(unclaimed_mmio_and_pio_read_all_ones)
{
	static const uint8_t code[] = {0x48,
				       0xbb,
				       0x00,
				       0x00,
				       0x00,
				       0xd0,
				       0,
				       0,
				       0,
				       0, /* mov rbx, 0xd0000000 (hole) */
				       0x8b,
				       0x03, /* mov eax, [rbx] */
				       0x66,
				       0xba,
				       0xf8,
				       0x03,
				       0xee, /* mov dx, COM1; out dx, al */
				       0x66,
				       0xba,
				       0x34,
				       0x12,
				       0xec, /* mov dx, 0x1234; in al, dx */
				       0x66,
				       0xba,
				       0xf8,
				       0x03,
				       0xee, /* mov dx, COM1; out dx, al */
				       OUTB(0x600, 0x34),
				       HALT};
	struct run r;
	const char *skip = run_guest(code, sizeof(code), "", &r);

	if (skip)
		UNIT_SKIP(skip);
	ck_assert_str_eq(r.console, "\xff\xff");
	ck_assert_int_eq(r.status, 0);
}
END_TEST

START_TEST(reset_with_on_reboot_exit)
{
	static const uint8_t code[] = {OUTB(0x602, 0x01), HALT};

	expect_ending(code, sizeof(code), "on_reboot = exit", 0,
		      "guest rebooted (on_reboot = exit)");
}
END_TEST

START_TEST(i8042_reset)
{
	static const uint8_t code[] = {0xb0, 0xfe, 0xe6, 0x64, HALT}; /* mov al,0xfe; out 0x64 */

	expect_ending(code, sizeof(code), "", 0, "guest rebooted (on_reboot = exit)");
}
END_TEST

/* Linux's reboot=pci: "hard reset" requested first, then RST_CPU, at byte port 0xcf9. */
START_TEST(pci_cf9_reset)
{
	static const uint8_t code[] = {OUTB(0xcf9, 0x02), OUTB(0xcf9, 0x06), HALT};

	expect_ending(code, sizeof(code), "", 0, "guest rebooted (on_reboot = exit)");
}
END_TEST

/* A dword at 0xcf8 is still PCI's address register, not a reset. */
START_TEST(cf8_dword_is_not_a_reset)
{
	/* mov dx,0xcf8; mov eax,0x80000000 | 6 << 8 (RST_CPU in byte 1); out dx,eax;
	 * then power off */
	static const uint8_t code[] = {
	    0x66, 0xba, 0xf8, 0x0c, 0xb8, 0x00, 0x06, 0x00, 0x80, 0xef, OUTB(0x600, 0x34), HALT};

	expect_ending(code, sizeof(code), "", 0, "guest powered off");
}
END_TEST

/* A disk that is a block device gets its size by ioctl(BLKGETSIZE64) in the main thread
 * while the VM is built, under its seccomp filter (this was killed with SIGSYS). */
START_TEST(block_device_disk_under_seccomp)
{
	static const uint8_t code[] = {OUTB(0x600, 0x34), HALT};
	char img[] = "/tmp/minivmm-blk-XXXXXX", cmd[256], dev[64] = "", extra[128];
	struct run r;
	const char *skip = NULL;
	FILE *p;
	int fd = mkstemp(img);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "losetup -f --show %s 2>/dev/null", img);
	p = popen(cmd, "r");
	if (!p || !fgets(dev, sizeof(dev), p) || strncmp(dev, "/dev/loop", 9))
		skip = "no loop device to attach (losetup -f failed: needs root and loop support)";
	if (p)
		pclose(p);
	dev[strcspn(dev, "\n")] = 0;
	if (!skip) {
		snprintf(extra, sizeof(extra), "[disk.d]\npath = %s", dev);
		skip = run_guest(code, sizeof(code), extra, &r);
		snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
		ck_assert_int_eq(system(cmd), 0);
	}
	unlink(img);
	if (skip)
		UNIT_SKIP(skip);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_ptr_nonnull(strstr(r.err, "virtio-blk d"));
}
END_TEST

/* The guest finds MTRRs enabled with WB as the default type (else Linux turns PAT off). */
START_TEST(mtrr_default_type_is_enabled_write_back)
{
	/* mov ecx,0x2ff; rdmsr; mov dx,0x3f8; out dx,al; shr eax,8; out dx,al; power off */
	static const uint8_t code[] = {0xb9,
				       0xff,
				       0x02,
				       0x00,
				       0x00,
				       0x0f,
				       0x32,
				       0x66,
				       0xba,
				       0xf8,
				       0x03,
				       0xee,
				       0xc1,
				       0xe8,
				       0x08,
				       0xee,
				       OUTB(0x600, 0x34),
				       HALT};
	struct run r;
	const char *skip = run_guest(code, sizeof(code), "", &r);

	if (skip)
		UNIT_SKIP(skip);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq((unsigned char)r.console[0], 0x06); /* WB */
	ck_assert_int_eq((unsigned char)r.console[1], 0x08); /* bit 11: enabled */
}
END_TEST

/* With on_reboot = restart a triple fault restarts the guest, as a PC resets. */
START_TEST(triple_fault_restarts_with_on_reboot_restart)
{
	static const uint8_t code[] = {
	    OUTB(COM1, 'x'), 0x31, 0xc0, 0x50, 0x50, 0x0f, 0x01, 0x1c, 0x24, 0xcc};
	struct run r;
	const char *skip = run_guest_for(code, sizeof(code), "on_reboot = restart", 3, &r);

	if (skip)
		UNIT_SKIP(skip);
	/* Still restarting when timeout(1) sent SIGTERM (timeout itself exits 124). */
	ck_assert_int_eq(r.status, 124);
	ck_assert_ptr_nonnull(strstr(r.err, "stopped by SIGTERM (exit 143)"));
	ck_assert_ptr_nonnull(strstr(r.console, "xx"));
	ck_assert_ptr_nonnull(
	    strstr(r.err, "guest reset by a triple fault (2 in a row); restarting it"));
}
END_TEST

START_TEST(triple_fault_exits_3)
{
	/* xor eax,eax; push rax; push rax; lidt [rsp]; int3: no IDT -> triple fault */
	static const uint8_t code[] = {0x31, 0xc0, 0x50, 0x50, 0x0f, 0x01, 0x1c, 0x24, 0xcc};

	expect_ending(code, sizeof(code), "", 3,
		      "stopped: guest triple fault (on_reboot = exit) (exit 3)");
}
END_TEST

START_TEST(boot_mark_is_timed)
{
	static const uint8_t code[] = {OUTB(0x5fe, 1), OUTB(0x600, 0x34), HALT};
	struct run r;
	const char *skip = run_guest(code, sizeof(code), "vcpus = 2", &r);

	if (skip)
		UNIT_SKIP(skip);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.err, "boot: first KVM_RUN "));
	ck_assert_ptr_nonnull(strstr(r.err, " ms, guest userspace "));
}
END_TEST

/* The stats mark logs the VMM's exit counters and KVM's own (KVM_GET_STATS_FD) only
 * when asked to: a guest must not be able to fill the log otherwise. */
START_TEST(stats_mark_logs_vmm_and_kvm_counters)
{
	static const uint8_t code[] = {OUTB(0x5ff, 1), OUTB(0x5ff, 1), OUTB(0x600, 0x34), HALT};
	unsigned long long kvm_exits = 0;
	struct run r;
	const char *skip, *k;

	setenv("MINIVMM_STATS", "1", 1);
	skip = run_guest(code, sizeof(code), "", &r);
	unsetenv("MINIVMM_STATS");
	if (skip)
		UNIT_SKIP(skip);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.err, "stats: mark 1: exits io=1 mmio=0 all=1 kvm: exits="));
	k = strstr(r.err, "stats: mark 2: exits io=2 mmio=0 all=2 kvm: exits=");
	ck_assert_msg(k, "no second mark in: %s", r.err);
	/* KVM counts every exit, those it handles itself too: at least our two. */
	ck_assert_int_eq(sscanf(strstr(k, "kvm: exits=") + 11, "%llu", &kvm_exits), 1);
	ck_assert_uint_ge(kvm_exits, 2);
	ck_assert_ptr_nonnull(strstr(k, " halt_exits="));

	skip = run_guest(code, sizeof(code), "", &r);
	ck_assert_ptr_null(skip);
	ck_assert_ptr_null(strstr(r.err, "stats: mark"));
}
END_TEST

/* cpu_pm = on asks KVM to leave HLT and PAUSE to the guest; where KVM can, the guest
 * runs as usual, and where it cannot, the VMM says so and exits 2 before any vCPU. */
START_TEST(cpu_pm_on)
{
	static const uint8_t code[] = {OUTB(COM1, 'p'), OUTB(0x600, 0x34), HALT};
	struct run r;
	const char *skip = run_guest(code, sizeof(code), "cpu_pm = on", &r);
	int fd, have;

	if (skip)
		UNIT_SKIP(skip);
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	have = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_DISABLE_EXITS);
	close(fd);
	if (have > 0 && (have & (KVM_X86_DISABLE_EXITS_HLT | KVM_X86_DISABLE_EXITS_PAUSE)) ==
			    (KVM_X86_DISABLE_EXITS_HLT | KVM_X86_DISABLE_EXITS_PAUSE)) {
		ck_assert_int_eq(r.status, 0);
		ck_assert_str_eq(r.console, "p");
	} else {
		ck_assert_int_eq(r.status, 2);
		ck_assert_ptr_nonnull(strstr(r.err, "[vm] cpu_pm = on: this host's KVM cannot"));
	}
}
END_TEST

/* The guest's physical address width: CPUID 0x80000008 AL says phys_bits; the 64-bit
 * PCI window is sized within it (its room shrinks to fit when it was not set, and is
 * refused when it was); a width above the host's is refused before any vCPU runs. */
START_TEST(phys_bits_reach_the_guest_and_bound_the_window)
{
	/* mov eax, 0x80000008; cpuid; mov dx, COM1; out dx, al */
	static const uint8_t code[] = {0xb8,
				       0x08,
				       0x00,
				       0x00,
				       0x80,
				       0x0f,
				       0xa2,
				       0x66,
				       0xba,
				       0xf8,
				       0x03,
				       0xee,
				       OUTB(0x600, 0x34),
				       HALT};
	struct run r;
	const char *skip = run_guest(code, sizeof(code), "phys_bits = 36", &r);

	if (skip)
		UNIT_SKIP(skip);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.console, "$"); /* 36 */
	ck_assert_msg(strstr(r.err, "pci: 64-bit window [0x100000000, 0x900000000), 32G of it "
				    "free for devices added later; guest physical address width "
				    "36 bits"),
		      "%s", r.err);
	/* 33 bits leave 4 GiB above the 4 GiB of RAM and holes: the room shrinks... */
	run_guest(code, sizeof(code), "phys_bits = 33", &r);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.console, "!"); /* 33 */
	ck_assert_msg(strstr(r.err, "[0x100000000, 0x200000000), 4G of it free"), "%s", r.err);
	/* ...unless it was asked for. */
	run_guest(code, sizeof(code), "phys_bits = 33\nmmio64_hotplug = 8G", &r);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "[vm] mmio64_hotplug = 8G does not fit: the 64-bit PCI "
				    "window starts at 0x100000000"),
		      "%s", r.err);
	run_guest(code, sizeof(code), "phys_bits = 52", &r);
	if (r.status == 0) /* a host with 52-bit addresses */
		ck_assert_str_eq(r.console, "4");
	else
		ck_assert_msg(strstr(r.err, "[vm] phys_bits = 52: this host's KVM supports guest "
					    "physical addresses of up to "),
			      "%s", r.err);
}
END_TEST

/* The vCPU thread's filter is live: a system call outside its list kills the VMM
 * (SIGSYS, 128 + 31 through timeout) with seccomp = on ... */
START_TEST(seccomp_kills_a_forbidden_syscall)
{
	static const uint8_t code[] = {OUTB(COM1, 'x'), OUTB(0x600, 0x34), HALT};
	struct run r;
	const char *skip;

	setenv("MINIVMM_SECCOMP_TEST", "vcpu", 1);
	skip = run_guest(code, sizeof(code), "", &r);
	unsetenv("MINIVMM_SECCOMP_TEST");
	if (skip)
		UNIT_SKIP(skip);
	ck_assert_int_eq(r.status, 128 + 31);
	ck_assert_str_eq(r.console, ""); /* killed before the guest ran */
}
END_TEST

/* ... and with seccomp = log it is reported by number and fails, the VM runs on. */
START_TEST(seccomp_log_mode_lets_it_through)
{
	static const uint8_t code[] = {OUTB(COM1, 'x'), OUTB(0x600, 0x34), HALT};
	struct run r;
	const char *skip;

	setenv("MINIVMM_SECCOMP_TEST", "vcpu", 1);
	skip = run_guest(code, sizeof(code), "[security]\nseccomp = log", &r);
	unsetenv("MINIVMM_SECCOMP_TEST");
	if (skip)
		UNIT_SKIP(skip);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.console, "x");
	ck_assert_ptr_nonnull(
	    strstr(r.err, "minivmm: seccomp: denied system call 41 ")); /* socket */
	ck_assert_ptr_nonnull(strstr(r.err, "seccomp test: vcpu 0 called socket() and lives on "
					    "(returned -1)"));
}
END_TEST

/* [security] user: the VM runs on as an unprivileged user (the guest still powers off
 * normally); a chroot that cannot be entered stops it with exit 2. */
START_TEST(privilege_drop)
{
	static const uint8_t code[] = {OUTB(COM1, 'u'), OUTB(0x600, 0x34), HALT};
	struct run r;
	const char *skip;

	if (geteuid() != 0)
		UNIT_SKIP("needs root to drop privileges");
	skip = run_guest(code, sizeof(code), "[security]\nuser = nobody", &r);
	if (skip)
		UNIT_SKIP(skip);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.console, "u");
	skip = run_guest(code, sizeof(code), "[security]\nchroot = /nonexistent-minivmm", &r);
	ck_assert_int_eq(r.status, 2);
	ck_assert_ptr_nonnull(
	    strstr(r.err, "[security] chroot = /nonexistent-minivmm: No such file"));
}
END_TEST

Suite *vmm_suite(void)
{
	Suite *s = suite_create("vmm");
	TCase *tc = tcase_create("tiny-guests");

	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, serial_output_and_poweroff);
	tcase_add_test(tc, pvh_vmlinux_boots);
	tcase_add_test(tc, dry_run_names_the_kernel_kind);
	tcase_add_test(tc, unclaimed_mmio_and_pio_read_all_ones);
	tcase_add_test(tc, reset_with_on_reboot_exit);
	tcase_add_test(tc, i8042_reset);
	tcase_add_test(tc, triple_fault_exits_3);
	tcase_add_test(tc, triple_fault_restarts_with_on_reboot_restart);
	tcase_add_test(tc, pci_cf9_reset);
	tcase_add_test(tc, mtrr_default_type_is_enabled_write_back);
	tcase_add_test(tc, block_device_disk_under_seccomp);
	tcase_add_test(tc, cf8_dword_is_not_a_reset);
	tcase_add_test(tc, boot_mark_is_timed);
	tcase_add_test(tc, seccomp_kills_a_forbidden_syscall);
	tcase_add_test(tc, seccomp_log_mode_lets_it_through);
	tcase_add_test(tc, privilege_drop);
	tcase_add_test(tc, stats_mark_logs_vmm_and_kvm_counters);
	tcase_add_test(tc, cpu_pm_on);
	tcase_add_test(tc, phys_bits_reach_the_guest_and_bound_the_window);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- The kernel file rewritten while the guest runs (on_reboot = restart) ---- */

#include <poll.h>
#include <signal.h>
#include <time.h>

/* Prints 'a', waits for a byte on COM1 (LSR data ready), then resets the machine. */
static const uint8_t wait_then_reset[] = {OUTB(COM1, 'a'),
					  0x66,
					  0xba,
					  0xfd,
					  0x03, /* wait: mov dx, COM1 + 5 (LSR) */
					  0xec, /* in al, dx */
					  0xa8,
					  0x01, /* test al, 1 (data ready) */
					  0x74,
					  0xf7, /* jz wait */
					  0x66,
					  0xba,
					  0xf8,
					  0x03,		     /* mov dx, COM1 */
					  0xec,		     /* in al, dx (take the byte) */
					  OUTB(0x602, 0x01), /* reset */
					  HALT};

struct live_vmm {
	pid_t pid;
	int in, out; /* the guest's console: its input, its output */
	char dir[32];
	char console[256];
	size_t console_len;
};

/* Starts minivmm with a stdio console on pipes; NULL or why it cannot run here. */
static const char *live_start(struct live_vmm *v, const char *extra)
{
	const char *bin = getenv("MINIVMM_BIN") ? getenv("MINIVMM_BIN") : "build/minivmm";
	char ini[64], cmd[1024];
	int to[2], from[2];
	FILE *f;

	if (access("/dev/kvm", R_OK | W_OK) != 0)
		return "no usable /dev/kvm on this machine";
	memset(v, 0, sizeof(*v));
	strcpy(v->dir, "/tmp/minivmm-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(v->dir));
	write_kernel(v->dir, wait_then_reset, sizeof(wait_then_reset));
	snprintf(ini, sizeof(ini), "%s/vm.ini", v->dir);
	f = fopen(ini, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[vm]\nkernel = kernel\nmemory = 32M\non_reboot = restart\n%s\n", extra);
	fclose(f);
	ck_assert_int_eq(pipe(to), 0);
	ck_assert_int_eq(pipe(from), 0);
	/* exec: the shell becomes minivmm (or env, which execs it), so that its pid and
	 * its wait status are minivmm's own (a signal shows as one). */
	snprintf(cmd, sizeof(cmd), "exec %s %s 2>%s/stderr", bin, ini, v->dir);
	v->pid = fork();
	ck_assert_int_ge(v->pid, 0);
	if (v->pid == 0) {
		dup2(to[0], STDIN_FILENO);
		dup2(from[1], STDOUT_FILENO);
		close(to[0]), close(to[1]), close(from[0]), close(from[1]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	v->in = to[1];
	v->out = from[0];
	return NULL;
}

/* Reads the console until it holds n 'a's or ends (or 30 s pass); returns the count. */
static int live_wait_for(struct live_vmm *v, int n)
{
	time_t end = time(NULL) + 30;
	int count = 0;

	for (;;) {
		struct pollfd p = {.fd = v->out, .events = POLLIN};
		ssize_t got;

		count = 0;
		for (size_t i = 0; i < v->console_len; i++)
			count += v->console[i] == 'a';
		if (count >= n || time(NULL) > end || poll(&p, 1, 1000) < 0)
			return count;
		if (!(p.revents & (POLLIN | POLLHUP)))
			continue;
		got = read(v->out, v->console + v->console_len,
			   sizeof(v->console) - 1 - v->console_len);
		if (got <= 0)
			return count;
		v->console_len += (size_t)got;
	}
}

/* Waits for minivmm to end (SIGKILL after 30 s); returns its wait status. */
static int live_end(struct live_vmm *v, char *err, size_t errlen)
{
	char path[64], cmd[64];
	int status = 0;

	for (int i = 0; i < 300 && waitpid(v->pid, &status, WNOHANG) == 0; i++) {
		struct timespec ts = {0, 100 * 1000 * 1000};

		nanosleep(&ts, NULL);
		if (i == 299) {
			kill(v->pid, SIGKILL);
			waitpid(v->pid, &status, 0);
		}
	}
	close(v->in);
	close(v->out);
	snprintf(path, sizeof(path), "%s/stderr", v->dir);
	read_file(path, err, errlen);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", v->dir);
	ck_assert_int_eq(system(cmd), 0);
	return status;
}

/* What cp(1) over the running kernel does, caught half-way: truncated to nothing, then
 * only the first len bytes back (len 0: all of them, the same bytes as before). */
static void rewrite_kernel(const struct live_vmm *v, size_t len)
{
	uint8_t img[8192];
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/kernel", v->dir);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	n = pread(fd, img, sizeof(img), 0);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	if (len == 0 || len > (size_t)n)
		len = (size_t)n;
	ck_assert_int_eq(pwrite(fd, img, len, 0), (ssize_t)len);
	close(fd);
}

/* The reboot found a shorter file where it had mapped the kernel: SIGBUS (135). Now it
 * stops with exit 1, saying why. */
START_TEST(kernel_rewritten_before_a_reboot_stops_cleanly)
{
	struct live_vmm v;
	char err[1 << 16];
	const char *skip = live_start(&v, "");
	int status;

	if (skip)
		UNIT_SKIP(skip);
	ck_assert_int_eq(live_wait_for(&v, 1), 1);
	rewrite_kernel(&v, 1000);
	ck_assert_int_eq(write(v.in, "r", 1), 1); /* the guest resets */
	status = live_end(&v, err, sizeof(err));
	ck_assert_msg(!WIFSIGNALED(status), "killed by signal %d: %s", WTERMSIG(status), err);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status 0x%x: %s", status,
		      err);
	ck_assert_msg(strstr(err, "/kernel changed since minivmm started"), "%s", err);
	ck_assert_msg(strstr(err, "stopped: cannot restart the guest (exit 1)"), "%s", err);
}
END_TEST

/* The same bytes written back (a rebuild that changed nothing): the reboot boots it. */
START_TEST(kernel_rewritten_identically_still_reboots)
{
	struct live_vmm v;
	char err[1 << 16];
	const char *skip = live_start(&v, "");
	int status;

	if (skip)
		UNIT_SKIP(skip);
	ck_assert_int_eq(live_wait_for(&v, 1), 1);
	rewrite_kernel(&v, 0);
	ck_assert_int_eq(write(v.in, "r", 1), 1);
	ck_assert_int_eq(live_wait_for(&v, 2), 2); /* booted again */
	kill(v.pid, SIGTERM);
	status = live_end(&v, err, sizeof(err));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 143, "status 0x%x: %s", status,
		      err);
	ck_assert_msg(strstr(err, "guest rebooted; restarting it"), "%s", err);
}
END_TEST

Suite *vmm_reboot_suite(void)
{
	Suite *s = suite_create("vmm_reboot");
	TCase *tc = tcase_create("kernel-rewritten");

	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, kernel_rewritten_before_a_reboot_stops_cleanly);
	tcase_add_test(tc, kernel_rewritten_identically_still_reboots);
	suite_add_tcase(s, tc);
	return s;
}
