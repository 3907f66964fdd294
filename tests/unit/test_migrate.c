/* Live migration: the stream parser on crafted streams, the address parser, and the
 * real binary on /dev/kvm with a tiny guest that keeps writing memory and checks what
 * it wrote: page n % 4096 of a 16 MiB area holds n, and before writing n+4096 there the
 * guest checks that n is still there, printing 'X' and stopping if not. It prints 'B'
 * at boot and '.' every 16384 writes. Migrated over a Unix socket and then on over TCP
 * while it runs: the destination prints dots, never 'B' (not booted again) nor 'X' (no
 * page lost), and the source exits 0. A destination that stops reading, one that
 * refuses (another memory size), a peer that sends garbage and a stream from another
 * version: the source runs on, the destination exits 4 with the reason. Skipped, with the reason,
 * without /dev/kvm. */
#include "tests/unit/unit.h"
#include "tests/unit/tiny_kernel.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "vmm/mem.h"
#include "vmm/migrate.h"
#include "vmm/migrate_wire.h"

/* mov dx, 0x3f8; mov al, 'B'; out dx, al
 * loop: inc rbx; mov rcx, rbx; and rcx, 0xfff; shl rcx, 12; lea rax, [rbx - 0x1000]
 *       cmp rbx, 0x1000; jb skip; cmp [rcx + 0x200000], rax; jne bad
 * skip: mov [rcx + 0x200000], rbx; test ebx, 0x3fff; jnz loop
 *       mov al, '.'; out dx, al; jmp loop
 * bad:  mov al, 'X'; out dx, al; jmp $ */
static const uint8_t guest_writer[] = {
    0x66, 0xba, 0xf8, 0x03, 0xb0, 0x42, 0xee, 0x48, 0xff, 0xc3, 0x48, 0x89, 0xd9, 0x48, 0x81,
    0xe1, 0xff, 0x0f, 0x00, 0x00, 0x48, 0xc1, 0xe1, 0x0c, 0x48, 0x8d, 0x83, 0x00, 0xf0, 0xff,
    0xff, 0x48, 0x81, 0xfb, 0x00, 0x10, 0x00, 0x00, 0x72, 0x09, 0x48, 0x39, 0x81, 0x00, 0x00,
    0x20, 0x00, 0x75, 0x14, 0x48, 0x89, 0x99, 0x00, 0x00, 0x20, 0x00, 0xf7, 0xc3, 0xff, 0x3f,
    0x00, 0x00, 0x75, 0xc7, 0xb0, 0x2e, 0xee, 0xeb, 0xc2, 0xb0, 0x58, 0xee, 0xeb, 0xfe};

/* ---- the stream parser ---- */

struct rx {
	uint8_t buf[16384];
	size_t len;
};

static void put(struct rx *r, const void *p, size_t n)
{
	ck_assert_uint_le(r->len + n, sizeof(r->buf));
	memcpy(r->buf + r->len, p, n);
	r->len += n;
}

static void rec(struct rx *r, uint32_t tag, uint32_t count, uint64_t arg)
{
	struct mig_rec m = {tag, count, arg};

	put(r, &m, sizeof(m));
}

/* The CRC-32 trailer of a STATE or DEVDATA payload: of a and b, or one wrong bit. */
static void crc(struct rx *r, const void *a, size_t alen, const void *b, size_t blen, bool bad)
{
	uint32_t c = (uint32_t)crc32(crc32(0, a, (uInt)alen), b, (uInt)blen) ^ bad;

	put(r, &c, sizeof(c));
}

static int state_calls;

static int state_ok(void *ctx, const uint8_t *data, size_t len, char *err, size_t errlen)
{
	(void)ctx, (void)err, (void)errlen;
	state_calls++;
	return len == 3 && !memcmp(data, "abc", 3) ? 0 : -EINVAL;
}

static int dev_calls;

static int dev_ok(void *ctx, const char *name, const uint8_t *data, size_t len, char *err,
		  size_t errlen)
{
	(void)ctx, (void)data;
	dev_calls++;
	if (strcmp(name, "vfio.tty") || len != 2) {
		snprintf(err, errlen, "no device %s", name);
		return -ENODEV;
	}
	return 0;
}

/* Runs the parser on r over 64 KiB of guest memory; returns its result, err filled. */
static int parse(struct rx *r, uint8_t **ram, char *err, size_t errlen)
{
	static struct guest_mem mem;
	gpa_t gpa = 0;
	uint64_t size = 64 << 10, pages = 0;
	struct wire w;
	int ret;

	mem_destroy(&mem);
	ck_assert_int_eq(mem_init(&mem, &gpa, &size, 1, 0), 0);
	wire_init(&w, -1, 0, 0, NULL);
	w.in = r->buf;
	w.in_len = r->len;
	state_calls = 0;
	ret =
	    migrate_recv_records(&w, &mem, &(struct mig_sink){.state = state_ok, .devdata = dev_ok},
				 &pages, err, errlen);
	*ram = mem.regions[0].hva;
	return ret;
}

START_TEST(stream_good)
{
	struct rx r = {.len = 0};
	uint8_t page[MIG_PAGE], *ram;
	char err[512];

	memset(page, 0x5a, sizeof(page));
	rec(&r, MIG_PAGES, 1, 2 * MIG_PAGE);
	put(&r, page, sizeof(page));
	rec(&r, MIG_ZEROS, 2, 2 * MIG_PAGE); /* written, then zero again */
	rec(&r, MIG_PAGES, 1, 15 * MIG_PAGE);
	put(&r, page, sizeof(page));
	rec(&r, MIG_DEVDATA, 8, 2); /* a device's pre-copy data */
	put(&r, "vfio.ttyhi", 10);
	crc(&r, "vfio.tty", 8, "hi", 2, false);
	rec(&r, MIG_STATE, 0, 3);
	put(&r, "abc", 3);
	crc(&r, "", 0, "abc", 3, false);
	rec(&r, MIG_END, 0, 0);
	dev_calls = 0;
	ck_assert_int_eq(parse(&r, &ram, err, sizeof(err)), 0);
	ck_assert_int_eq(state_calls, 1);
	ck_assert_int_eq(dev_calls, 1);
	ck_assert_int_eq(ram[2 * MIG_PAGE], 0);
	ck_assert_int_eq(ram[15 * MIG_PAGE + 4095], 0x5a);
}
END_TEST

/* Each bad stream: refused with the message, never a crash or a write outside RAM. */
START_TEST(stream_bad)
{
	static const struct {
		struct mig_rec rec;
		const char *want;
	} bad[] = {
	    {{MIG_PAGES, 1, 16 * MIG_PAGE}, "a bad record at byte 0"},	   /* past the end */
	    {{MIG_PAGES, 2, 15 * MIG_PAGE}, "a bad record at byte 0"},	   /* runs past it */
	    {{MIG_PAGES, 0, 0}, "a bad record at byte 0"},		   /* no pages */
	    {{MIG_PAGES, 1, 100}, "a bad record at byte 0"},		   /* not aligned */
	    {{MIG_PAGES, MIG_MAX_RUN + 1, 0}, "a bad record at byte 0"},   /* too long */
	    {{MIG_ZEROS, UINT32_MAX, 0}, "a bad record at byte 0"},	   /* way too long */
	    {{MIG_PAGES, 1, UINT64_MAX - 4095}, "a bad record at byte 0"}, /* wraps */
	    {{MIG_END, 0, 0}, "a bad record at byte 0"},		   /* no state yet */
	    {{MIG_STATE, 0, 1ULL << 40}, "a bad record at byte 0"},	   /* huge state */
	    {{99, 0, 0}, "a bad record at byte 0 (tag 99"},
	    {{MIG_PAGES, 1, 0}, "the stream ended inside the record at byte 0"}, /* no data */
	    {{MIG_DEVDATA, 0, 2}, "a bad record at byte 0"},			 /* no name */
	    {{MIG_DEVDATA, 200, 2}, "a bad record at byte 0"},			 /* name too long */
	    {{MIG_DEVDATA, 8, 1ULL << 40}, "a bad record at byte 0"},		 /* huge data */
	};
	uint8_t *ram;
	char err[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rx r = {.len = 0};

		put(&r, &bad[i].rec, sizeof(bad[i].rec));
		ck_assert_int_lt(parse(&r, &ram, err, sizeof(err)), 0);
		ck_assert_msg(strstr(err, bad[i].want), "case %zu: %s", i, err);
	}
	{ /* two states; pages after the state; a state the loader refuses */
		struct rx r = {.len = 0};

		rec(&r, MIG_STATE, 0, 3);
		put(&r, "abc", 3);
		crc(&r, "", 0, "abc", 3, false);
		rec(&r, MIG_STATE, 0, 3);
		put(&r, "abc", 3);
		ck_assert_int_lt(parse(&r, &ram, err, sizeof(err)), 0);
		ck_assert_msg(strstr(err, "a bad record at byte 23"), "%s", err);
		r.len = 0; /* data for a device the VM does not have: its sink's message */
		rec(&r, MIG_DEVDATA, 5, 2);
		put(&r, "otherhi", 7);
		crc(&r, "other", 5, "hi", 2, false);
		ck_assert_int_eq(parse(&r, &ram, err, sizeof(err)), -ENODEV);
		ck_assert_msg(strstr(err, "no device other"), "%s", err);
		r.len = 0;
		rec(&r, MIG_STATE, 0, 3);
		put(&r, "xyz", 3);
		crc(&r, "", 0, "xyz", 3, false);
		ck_assert_int_eq(parse(&r, &ram, err, sizeof(err)), -EINVAL);
		/* Damaged on the way: refused, naming what, before any device or KVM sees
		 * it. */
		dev_calls = state_calls = 0;
		r.len = 0;
		rec(&r, MIG_DEVDATA, 8, 2);
		put(&r, "vfio.ttyhi", 10);
		crc(&r, "vfio.tty", 8, "hi", 2, true);
		ck_assert_int_eq(parse(&r, &ram, err, sizeof(err)), -EBADMSG);
		ck_assert_msg(strstr(err, "the pre-copy data of vfio.tty arrived damaged"), "%s",
			      err);
		ck_assert_int_eq(dev_calls, 0);
		r.len = 0;
		rec(&r, MIG_STATE, 0, 3);
		put(&r, "abc", 3);
		crc(&r, "", 0, "abc", 3, true);
		ck_assert_int_eq(parse(&r, &ram, err, sizeof(err)), -EBADMSG);
		ck_assert_msg(strstr(err, "the VM's state arrived damaged"), "%s", err);
		ck_assert_int_eq(state_calls, 0);
		r.len = 0; /* cut short: the end of the stream named */
		ck_assert_int_eq(parse(&r, &ram, err, sizeof(err)), -EPIPE);
		ck_assert_msg(strstr(err, "the stream ended at byte 0"), "%s", err);
	}
}
END_TEST

START_TEST(addresses)
{
	struct sockaddr_storage sa;
	socklen_t len;
	char err[256];

	ck_assert_int_eq(migrate_parse_addr("unix:/tmp/m.sock", &sa, &len, err, sizeof(err)), 0);
	ck_assert_int_eq(sa.ss_family, AF_UNIX);
	ck_assert_int_eq(migrate_parse_addr("/tmp/m.sock", &sa, &len, err, sizeof(err)), 0);
	ck_assert_int_eq(migrate_parse_addr("tcp:127.0.0.1:4444", &sa, &len, err, sizeof(err)), 0);
	ck_assert_int_eq(sa.ss_family, AF_INET);
	ck_assert_int_eq(migrate_parse_addr("tcp:[::1]:4444", &sa, &len, err, sizeof(err)), 0);
	ck_assert_int_eq(sa.ss_family, AF_INET6);
	static const char *const bad[] = {
	    "tcp:localhost:4444", "tcp:127.0.0.1:0", "tcp:127.0.0.1:70000",
	    "tcp:127.0.0.1",	  "unix:",	     "m.sock",
	    "tcp:1.2.3.4:44x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(migrate_parse_addr(bad[i], &sa, &len, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, "is not a migration address") || strstr(err, "1 to"),
			      "%s: %s", bad[i], err);
	}
}
END_TEST

/* ---- the real binary ---- */

/* A command prefix (check-asan gives "env ASAN_OPTIONS=... build-asan/minivmm"). */
static const char *bin(void)
{
	return getenv("MINIVMM_BIN") ? getenv("MINIVMM_BIN") : "build/minivmm";
}

static const char *ctl_bin(void)
{
	return getenv("MINIVMM_CTL") ? getenv("MINIVMM_CTL") : "build/minivmm-ctl";
}

static char dir[64];

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* minivmm with args, each '@' in them standing for the test's folder, stderr to
 * dir/errname; returns its pid. */
static pid_t spawn(const char *args, const char *errname)
{
	char cmd[2048], full[1024];
	size_t n = 0;
	pid_t pid;

	for (const char *p = args; *p && n < sizeof(full) - sizeof(dir) - 1; p++) {
		if (*p == '@')
			n += (size_t)snprintf(full + n, sizeof(full) - n, "%s", dir);
		else
			full[n++] = *p;
	}
	full[n] = 0;
	snprintf(cmd, sizeof(cmd), "exec %s %s </dev/null 2>%s/%s", bin(), full, dir, errname);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void slurp(const char *name, char *buf, size_t size)
{
	char path[128];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	n = f ? fread(buf, 1, size - 1, f) : 0;
	buf[n] = 0;
	if (f)
		fclose(f);
}

/* Waits (20 s at most) until dir/name holds n more dots than it had at from. */
static bool dots(const char *name, size_t from, int n)
{
	static char buf[1 << 20];

	for (int i = 0; i < 2000; i++) {
		int k = 0;

		slurp(name, buf, sizeof(buf));
		for (char *p = buf + (from < strlen(buf) ? from : strlen(buf)); *p; p++)
			k += *p == '.';
		if (k >= n)
			return true;
		usleep(10000);
	}
	return false;
}

static void wait_file(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (int i = 0; i < 1000 && access(path, F_OK) != 0; i++)
		usleep(10000);
}

static int wait_exit(pid_t pid)
{
	int st;

	for (int i = 0; i < 3000; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

/* Until something listens on 127.0.0.1:port (a destination takes a moment to start,
 * longer in an emulated host; connecting to find out would take its one connection). */
static void wait_listen(unsigned int port)
{
	char want[64], line[256];

	snprintf(want, sizeof(want), "0100007F:%04X 00000000:0000 0A", port);
	for (int i = 0; i < 3000; i++) {
		FILE *f = fopen("/proc/net/tcp", "r");
		bool found = false;

		while (f && !found && fgets(line, sizeof(line), f))
			found = strstr(line, want) != NULL;
		if (f)
			fclose(f);
		if (found)
			return;
		usleep(10000);
	}
	ck_abort_msg("nothing listens on 127.0.0.1:%u after 30 s", port);
}

static size_t file_len(const char *name)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

START_TEST(migrate_tiny_guest)
{
	static char con[1 << 20], log[16384];
	pid_t src, dst, dst2;
	FILE *f;

	if (access("/dev/kvm", R_OK | W_OK) != 0)
		UNIT_SKIP("no usable /dev/kvm on this machine");
	snprintf(dir, sizeof(dir), "/tmp/minivmm-mig-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	write_kernel(dir, guest_writer, sizeof(guest_writer));
	run("cd %s && truncate -s 1M a.img", dir);
	f = fopen(strcat(strcpy(log, dir), "/vm.ini"), "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[vm]\nkernel = kernel\nmemory = 32M\n[console]\nmode = file\npath = c1\n"
		   "[disk.a]\npath = a.img\n[api]\nsocket = s1.sock\n"
		   "[migration]\ntimeout = 2\n");
	fclose(f);
	src = spawn("@/vm.ini", "e1");
	ck_assert_msg(dots("c1", 0, 3), "the guest printed no dots");

	/* A second minivmm on the API socket that one answers on is refused: a migration's
	 * destination on this host must not take the source's. */
	ck_assert_int_eq(
	    run("%s %s/vm.ini --set console.path=%s/c0 </dev/null 2>%s/e0", bin(), dir, dir, dir),
	    1);
	slurp("e0", log, sizeof(log));
	ck_assert_msg(strstr(log, "another process is listening there"), "%s", log);
	/* A destination that refuses (another memory size): the source runs on. */
	dst = spawn("--incoming unix:@/m1.sock --set vm.memory=64M --set api.socket=@/s2.sock "
		    "--set console.path=@/c2",
		    "e2");
	wait_file("m1.sock");
	ck_assert_int_eq(
	    run("%s %s/s1.sock send-migration to=unix:%s/m1.sock >/dev/null", ctl_bin(), dir, dir),
	    0);
	ck_assert_int_eq(wait_exit(dst), 4);
	slurp("e2", log, sizeof(log));
	ck_assert_msg(strstr(log, "but its config makes 1 and 67108864"), "%s", log);
	for (int i = 0; i < 500 && run("%s %s/s1.sock info | grep -q '\"failed\"'", ctl_bin(), dir);
	     i++)
		usleep(10000);
	ck_assert_int_eq(run("%s %s/s1.sock info | grep -q 'the destination refused the guest: "
			     "the migration stream: 1 vCPUs'",
			     ctl_bin(), dir),
			 0);
	ck_assert_msg(dots("c1", file_len("c1"), 2), "the source stopped after a refusal");

	/* A destination that stops reading: the source gives up after timeout and runs on. */
	dst = spawn("--incoming unix:@/m2.sock --set api.socket=@/s2.sock --set console.path=@/c2",
		    "e3");
	wait_file("m2.sock");
	usleep(200000);
	kill(dst, SIGSTOP);
	ck_assert_int_eq(
	    run("%s %s/s1.sock send-migration to=unix:%s/m2.sock >/dev/null", ctl_bin(), dir, dir),
	    0);
	for (int i = 0;
	     i < 1000 && run("%s %s/s1.sock info | grep -q 'other side stopped'", ctl_bin(), dir);
	     i++)
		usleep(10000);
	ck_assert_int_eq(run("%s %s/s1.sock info | grep -q 'other side stopped'", ctl_bin(), dir),
			 0);
	ck_assert_msg(dots("c1", file_len("c1"), 2), "the source stopped after a timeout");
	kill(dst, SIGKILL);
	waitpid(dst, NULL, 0);

	/* Over a Unix socket: the guest goes on on the destination. */
	dst = spawn("--incoming unix:@/m3.sock --set api.socket=@/s2.sock --set console.path=@/c2",
		    "e4");
	wait_file("m3.sock");
	ck_assert_int_eq(
	    run("%s %s/s1.sock send-migration to=unix:%s/m3.sock >/dev/null", ctl_bin(), dir, dir),
	    0);
	ck_assert_int_eq(wait_exit(src), 0);
	ck_assert_msg(dots("c2", 0, 3), "no dots on the destination");
	slurp("c2", con, sizeof(con));
	ck_assert_msg(!strchr(con, 'B') && !strchr(con, 'X'), "%.200s", con);
	slurp("e1", log, sizeof(log));
	ck_assert_msg(strstr(log, "migrated to unix:"), "%s", log);

	/* And on over TCP to a third, from the second. */
	dst2 = spawn("--incoming tcp:127.0.0.1:47319 --set api.socket=@/s3.sock "
		     "--set console.path=@/c3",
		     "e5");
	wait_listen(47319);
	ck_assert_int_eq(
	    run("%s %s/s2.sock send-migration to=tcp:127.0.0.1:47319 >/dev/null", ctl_bin(), dir),
	    0);
	ck_assert_int_eq(wait_exit(dst), 0);
	ck_assert_msg(dots("c3", 0, 3), "no dots on the third");
	slurp("c3", con, sizeof(con));
	ck_assert_msg(!strchr(con, 'B') && !strchr(con, 'X'), "%.200s", con);

	/* Garbage at a destination, and a stream from another version: exit 4, the reason. */
	static const struct {
		const char *head, *want;
	} peers[] = {{"hello", "not from minivmm (bad header)"},
		     {"minivmm-snapshot 99\narch x86_64 1\nvcpus 1\nmemory 33554432\n",
		      "made by another version (snapshot 99"}};
	for (int i = 0; i < 2; i++) {
		uint32_t len = (uint32_t)strlen(peers[i].head);
		char hello[256];

		snprintf(hello, sizeof(hello), "%s/hello", dir);
		f = fopen(hello, "w");
		ck_assert_ptr_nonnull(f);
		fwrite("MVMMIGR1", 1, 8, f);
		fwrite(&len, 4, 1, f);
		fputs(peers[i].head, f);
		fclose(f);
		dst = spawn("--incoming tcp:127.0.0.1:47320 --set api.socket=@/s4.sock", "e6");
		wait_listen(47320);
		run("bash -c 'exec 3<>/dev/tcp/127.0.0.1/47320; cat %s >&3; sleep 0.5'", hello);
		ck_assert_int_eq(wait_exit(dst), 4);
		slurp("e6", log, sizeof(log));
		ck_assert_msg(strstr(log, peers[i].want), "%s", log);
	}

	kill(dst2, SIGTERM);
	ck_assert_int_eq(wait_exit(dst2), 143);
	run("rm -rf %s", dir);
}
END_TEST

Suite *migrate_suite(void)
{
	Suite *s = suite_create("migrate");
	TCase *tc = tcase_create("stream");
	TCase *vm = tcase_create("tiny");

	tcase_add_test(tc, stream_good);
	tcase_add_test(tc, stream_bad);
	tcase_add_test(tc, addresses);
	suite_add_tcase(s, tc);
	tcase_set_timeout(vm, 180);
	tcase_add_test(vm, migrate_tiny_guest);
	suite_add_tcase(s, vm);
	return s;
}
