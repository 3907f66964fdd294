/* Snapshot and restore through the real binary on /dev/kvm, with a tiny guest that
 * prints 'B' at its entry and then '.' every 4096 turns of a loop that counts in a
 * register: paused and saved through the API, the VM ends; `minivmm --restore` resumes
 * it in a new process: it prints '.' again and never 'B' (it was not booted again).
 * A snapshot with a device that cannot be saved yet, a corrupted state, a truncated
 * memory file, another version's header and a guest that saw CPU features this host
 * lacks are refused with a message and exit 1, and the console file is left as it was.
 * Skipped, with the reason, without /dev/kvm. */
#include "tests/unit/unit.h"
#include "tests/unit/tiny_kernel.h"

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* mov dx, 0x3f8; mov al, 'B'; out dx, al;
 * loop: inc rbx; test ebx, 0xfff; jnz loop; mov al, '.'; out dx, al; jmp loop */
static const uint8_t guest_dots[] = {0x66, 0xba, 0xf8, 0x03, 0xb0, 0x42, 0xee, 0x48,
				     0xff, 0xc3, 0xf7, 0xc3, 0xff, 0x0f, 0x00, 0x00,
				     0x75, 0xf5, 0xb0, 0x2e, 0xee, 0xeb, 0xf0};

static const char *bin(void)
{
	return getenv("MINIVMM_BIN") ? getenv("MINIVMM_BIN") : "build/minivmm";
}

static const char *ctl_bin(void)
{
	return getenv("MINIVMM_CTL") ? getenv("MINIVMM_CTL") : "build/minivmm-ctl";
}

static void slurp(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, size - 1, f) : 0;

	buf[n] = 0;
	if (f)
		fclose(f);
}

static int sh(const char *fmt, const char *a, const char *b)
{
	char cmd[1024];
	int st;

	snprintf(cmd, sizeof(cmd), fmt, a, b);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* minivmm with args (its stderr to errfile), in the background; returns its pid. */
static pid_t spawn(const char *args, const char *errfile)
{
	char cmd[768];
	pid_t pid;

	snprintf(cmd, sizeof(cmd), "exec %s %s </dev/null 2>%s", bin(), args, errfile);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int run(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* 0 when `minivmm --restore snap` says pattern (a grep basic regex). */
static int restore_says(const char *snap, const char *pattern)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s --restore %s 2>&1 </dev/null | grep -q '%s'", bin(), snap,
		 pattern);
	return run(cmd);
}

/* Waits until path holds at least n of c (10 s at most). */
static bool wait_chars(const char *path, char c, int n)
{
	static char buf[65536];

	for (int i = 0; i < 1000; i++) {
		int k = 0;

		slurp(path, buf, sizeof(buf));
		for (char *p = buf; *p; p++)
			k += *p == c;
		if (k >= n)
			return true;
		usleep(10000);
	}
	return false;
}

START_TEST(restore_resumes_the_guest)
{
	char dir[] = "/tmp/minivmm-snap-XXXXXX", path[128], sock[128], snap[128], out[4096],
	     log[8192], con[65536], con2[65536];
	pid_t pid;
	int st;
	FILE *f;

	if (access("/dev/kvm", R_OK | W_OK) != 0)
		UNIT_SKIP("no usable /dev/kvm on this machine");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	write_kernel(dir, guest_dots, sizeof(guest_dots));
	snprintf(path, sizeof(path), "%s/vm.ini", dir);
	snprintf(sock, sizeof(sock), "%s/vm.sock", dir);
	snprintf(snap, sizeof(snap), "%s/snap", dir);
	ck_assert_int_eq(mkdir(snap, 0700), 0);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[vm]\nkernel = kernel\nmemory = 32M\n[console]\nmode = file\npath = console\n"
		   "[api]\nsocket = vm.sock\n");
	fclose(f);
	snprintf(out, sizeof(out), "%s/err1", dir);
	pid = spawn(path, out);
	snprintf(path, sizeof(path), "%s/console", dir);
	ck_assert_msg(wait_chars(path, '.', 3), "the guest printed no dots");
	/* Not paused: refused. Paused: written. */
	snprintf(out, sizeof(out), "%s %s snapshot path=%s >%s/out 2>&1", ctl_bin(), sock, snap,
		 dir);
	ck_assert_int_eq(run(out), 1);
	ck_assert_int_eq(sh("%s %s pause >/dev/null", ctl_bin(), sock), 0);
	ck_assert_int_eq(run(out), 0);
	ck_assert_int_eq(sh("%s %s shutdown >/dev/null", ctl_bin(), sock), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	slurp(path, con, sizeof(con));
	ck_assert_ptr_nonnull(strchr(con, 'B'));

	/* A new process resumes it: dots again, no second boot. */
	ck_assert_int_eq(unlink(path), 0);
	snprintf(out, sizeof(out), "--restore %s", snap);
	snprintf(log, sizeof(log), "%s/err2", dir);
	pid = spawn(out, log);
	ck_assert_msg(wait_chars(path, '.', 3), "the restored guest printed no dots");
	slurp(path, con, sizeof(con));
	ck_assert_msg(!strchr(con, 'B'), "the restored guest booted again: %.80s", con);
	kill(pid, SIGTERM);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 143);
	snprintf(out, sizeof(out), "%s/err2", dir);
	slurp(out, log, sizeof(log));
	ck_assert_msg(strstr(log, "restored the VM saved in"), "%s", log);

	/* Damaged snapshots: refused, exit 1, with what is wrong, and the console file
	 * (which a restore continues) untouched. */
	slurp(path, con, sizeof(con));
	ck_assert_int_eq(sh("truncate -s 1M %s/memory", snap, ""), 0);
	ck_assert_int_eq(restore_says(snap, "memory file is missing or not"), 0);
	ck_assert_int_eq(sh("truncate -s 32M %s/memory", snap, ""), 0);
	ck_assert_int_eq(sh("cp %s/header %s/header.good", snap, snap), 0);
	ck_assert_int_eq(sh("sed -i 's/1[.]0[.]edx=\\([0-9a-f]*\\)[0-9a-f]\\{3\\}/1.0.edx=\\1fff/' "
			    "%s/header",
			    snap, ""),
			 0);
	ck_assert_int_eq(
	    restore_says(snap, "features this host.s KVM does not offer (.*CPUID 1.0 edx bit 10"),
	    0);
	ck_assert_int_eq(sh("cp %s/header.good %s/header", snap, snap), 0);
	ck_assert_int_eq(sh("printf 'garbage-garbage-garbage' | dd of=%s/state bs=1 seek=4 "
			    "conv=notrunc 2>/dev/null",
			    snap, ""),
			 0);
	ck_assert_int_eq(restore_says(snap, "its state is damaged"), 0);
	ck_assert_int_eq(
	    sh("sed -i 's/minivmm-snapshot 2/minivmm-snapshot 99/' %s/header", snap, ""), 0);
	ck_assert_int_eq(restore_says(snap, "made by another version"), 0);
	snprintf(out, sizeof(out), "%s --restore %s </dev/null 2>/dev/null", bin(), snap);
	ck_assert_int_eq(run(out), 1);
	slurp(path, con2, sizeof(con2));
	ck_assert_msg(!strcmp(con, con2), "a refused restore changed the console file");
	ck_assert_int_eq(sh("rm -rf %s%s", dir, ""), 0);
}
END_TEST

/* A VM with a virtio disk (which the tiny guest never drives): saved and restored with
 * it, the disk there again. */
START_TEST(snapshot_with_a_virtio_disk)
{
	char dir[] = "/tmp/minivmm-snap-XXXXXX", path[128], sock[128], cmd[768], out[4096];
	pid_t pid;
	int st;
	FILE *f;

	if (access("/dev/kvm", R_OK | W_OK) != 0)
		UNIT_SKIP("no usable /dev/kvm on this machine");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	write_kernel(dir, guest_dots, sizeof(guest_dots));
	snprintf(path, sizeof(path), "%s/vm.ini", dir);
	snprintf(sock, sizeof(sock), "%s/vm.sock", dir);
	ck_assert_int_eq(sh("truncate -s 1M %s/a.img%s", dir, ""), 0);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[vm]\nkernel = kernel\nmemory = 32M\n[console]\nmode = none\n"
		   "[disk.a]\npath = a.img\n[api]\nsocket = vm.sock\n");
	fclose(f);
	pid = spawn(path, "/dev/null");
	for (int i = 0; i < 1000 && access(sock, F_OK) != 0; i++)
		usleep(10000);
	ck_assert_int_eq(sh("%s %s pause >/dev/null", ctl_bin(), sock), 0);
	snprintf(cmd, sizeof(cmd), "%s %s snapshot path=%s >/dev/null", ctl_bin(), sock, dir);
	ck_assert_int_eq(run(cmd), 0);
	ck_assert_int_eq(sh("%s %s shutdown >/dev/null", ctl_bin(), sock), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	snprintf(cmd, sizeof(cmd), "--restore %s", dir);
	pid = spawn(cmd, "/dev/null");
	for (int i = 0; i < 500 && sh("%s %s ping >/dev/null 2>&1", ctl_bin(), sock); i++)
		usleep(10000);
	snprintf(cmd, sizeof(cmd), "%s %s info | grep -q disk.a", ctl_bin(), sock);
	ck_assert_int_eq(run(cmd), 0);
	snprintf(out, sizeof(out), "%s %s shutdown >/dev/null", ctl_bin(), sock);
	ck_assert_int_eq(run(out), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(sh("rm -rf %s%s", dir, ""), 0);
}
END_TEST

/* The bdf of device name in info's reply, into bdf. */
static void info_bdf(const char *sock, const char *name, char *bdf)
{
	char cmd[512], out[4096], *p;
	FILE *f;
	size_t n;

	snprintf(cmd, sizeof(cmd), "%s %s info", ctl_bin(), sock);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	pclose(f);
	p = strstr(out, name);
	ck_assert_msg(p, "%s not in %s", name, out);
	p = strstr(p, "\"bdf\": \"");
	ck_assert_ptr_nonnull(p);
	memcpy(bdf, p + 8, 12);
	bdf[12] = 0;
}

/* Devices keep their PCI slots across a snapshot even when one before them was
 * removed (the restored config pins them): the guest's drivers find them where they
 * were. */
START_TEST(snapshot_keeps_slots)
{
	char dir[] = "/tmp/minivmm-snap-XXXXXX", path[128], sock[128], cmd[768], before[2][16],
	     after[2][16];
	pid_t pid;
	int st;
	FILE *f;

	if (access("/dev/kvm", R_OK | W_OK) != 0)
		UNIT_SKIP("no usable /dev/kvm on this machine");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	write_kernel(dir, guest_dots, sizeof(guest_dots));
	snprintf(path, sizeof(path), "%s/vm.ini", dir);
	snprintf(sock, sizeof(sock), "%s/vm.sock", dir);
	ck_assert_int_eq(sh("truncate -s 1M %s/a.img %s/b.img", dir, dir), 0);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"[vm]\nkernel = kernel\nmemory = 32M\n[console]\nmode = none\n"
		"[disk.a]\npath = a.img\n[disk.b]\npath = b.img\n[rng]\n[api]\nsocket = vm.sock\n");
	fclose(f);
	pid = spawn(path, "/dev/null");
	for (int i = 0; i < 1000 && access(sock, F_OK) != 0; i++)
		usleep(10000);
	snprintf(cmd, sizeof(cmd), "%s %s remove-device name=disk.a force=true >/dev/null",
		 ctl_bin(), sock);
	ck_assert_int_eq(run(cmd), 0);
	info_bdf(sock, "disk.b", before[0]);
	info_bdf(sock, "\"rng\"", before[1]);
	ck_assert_int_eq(sh("%s %s pause >/dev/null", ctl_bin(), sock), 0);
	snprintf(cmd, sizeof(cmd), "%s %s snapshot path=%s >/dev/null", ctl_bin(), sock, dir);
	ck_assert_int_eq(run(cmd), 0);
	ck_assert_int_eq(sh("%s %s shutdown >/dev/null", ctl_bin(), sock), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	snprintf(cmd, sizeof(cmd), "grep -q 'slot = ' %s/config.ini", dir);
	ck_assert_int_eq(run(cmd), 0);
	snprintf(cmd, sizeof(cmd), "--restore %s", dir);
	pid = spawn(cmd, "/dev/null");
	for (int i = 0; i < 500 && sh("%s %s ping >/dev/null 2>&1", ctl_bin(), sock); i++)
		usleep(10000);
	info_bdf(sock, "disk.b", after[0]);
	info_bdf(sock, "\"rng\"", after[1]);
	ck_assert_str_eq(after[0], before[0]);
	ck_assert_str_eq(after[1], before[1]);
	ck_assert_int_eq(sh("%s %s shutdown >/dev/null", ctl_bin(), sock), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(sh("rm -rf %s%s", dir, ""), 0);
}
END_TEST

Suite *snapshot_suite(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc = tcase_create("tiny");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, restore_resumes_the_guest);
	tcase_add_test(tc, snapshot_with_a_virtio_disk);
	tcase_add_test(tc, snapshot_keeps_slots);
	suite_add_tcase(s, tc);
	return s;
}
