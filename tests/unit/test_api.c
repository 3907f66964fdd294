/* The control API: the request parser and its schema checks (pure), and the real
 * binary with a tiny guest on /dev/kvm driven through its socket with minivmm-ctl and
 * raw clients: every command, bad requests answered without harm to the VM, a client
 * that floods or vanishes mid-line, hot-added and removed disks. */
#include "tests/unit/unit.h"
#include "tests/unit/tiny_kernel.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/api.h"
#include "vmm/api_cmds.h"

/* ---- the parser ---- */

static const char *parse_class(const char *line, json_t **id)
{
	static struct api_error err;
	const struct api_command *cmd;
	json_t *args, *i;

	memset(&err, 0, sizeof(err));
	if (api_parse(line, strlen(line), api_commands, api_nr_commands, &cmd, &args, &i, &err) ==
	    0) {
		json_decref(args);
		if (id)
			*id = i;
		else
			json_decref(i);
		return NULL;
	}
	if (id)
		*id = i;
	else
		json_decref(i);
	ck_assert_ptr_nonnull(err.cls);
	ck_assert(err.desc[0]);
	return err.cls;
}

START_TEST(requests_are_checked_strictly)
{
	json_t *id = NULL;

	ck_assert_ptr_null(parse_class("{\"execute\": \"ping\"}", NULL));
	ck_assert_ptr_null(parse_class("{\"execute\": \"ping\", \"arguments\": {}}", NULL));
	ck_assert_ptr_null(parse_class("{\"execute\": \"remove-device\", \"arguments\": "
				       "{\"name\": \"disk.a\"}, \"id\": [1, \"x\"]}",
				       &id));
	ck_assert(json_is_array(id));
	json_decref(id);
	ck_assert_ptr_null(parse_class("{\"execute\": \"add-device\", \"arguments\": {\"kind\": "
				       "\"disk\", \"name\": \"b\", \"path\": \"/x\", "
				       "\"readonly\": true}}",
				       NULL));
	ck_assert_str_eq(parse_class("garbage", NULL), API_ERR_SYNTAX);
	ck_assert_str_eq(parse_class("[1, 2]", NULL), API_ERR_SYNTAX);
	ck_assert_str_eq(parse_class("{\"execute\": 7}", NULL), API_ERR_SYNTAX);
	ck_assert_str_eq(parse_class("{\"execute\": \"ping\", \"extra\": 1}", NULL),
			 API_ERR_SYNTAX);
	ck_assert_str_eq(parse_class("{\"execute\": \"ping\", \"execute\": \"info\"}", NULL),
			 API_ERR_SYNTAX); /* duplicate keys */
	ck_assert_str_eq(parse_class("{\"execute\": \"format-disk\"}", NULL), API_ERR_NOCMD);
	ck_assert_str_eq(parse_class("{\"execute\": \"ping\", \"arguments\": {\"a\": 1}}", NULL),
			 API_ERR_ARGS);
	ck_assert_str_eq(parse_class("{\"execute\": \"ping\", \"arguments\": 3}", NULL),
			 API_ERR_ARGS);
	ck_assert_str_eq(parse_class("{\"execute\": \"remove-device\"}", NULL), API_ERR_ARGS);
	ck_assert_str_eq(
	    parse_class("{\"execute\": \"remove-device\", \"arguments\": {\"name\": 5}}", NULL),
	    API_ERR_ARGS);
	ck_assert_str_eq(parse_class("{\"execute\": \"add-device\", \"arguments\": {\"kind\": "
				     "\"disk\", \"name\": \"b\", \"readonly\": \"yes\"}}",
				     NULL),
			 API_ERR_ARGS);
	ck_assert_str_eq(parse_class("{\"execute\": \"add-device\", \"arguments\": {\"kind\": "
				     "\"disk\", \"name\": \"b\", \"size\": 5}}",
				     NULL),
			 API_ERR_ARGS);
	/* The id of a refused request still comes back, for the error reply. */
	ck_assert_str_eq(parse_class("{\"execute\": \"nope\", \"id\": 42}", &id), API_ERR_NOCMD);
	ck_assert_int_eq(json_integer_value(id), 42);
	json_decref(id);
}
END_TEST

/* ---- the real binary ---- */

/* loop: mov dx, 0x3ff; out dx, al; jmp loop */
static const uint8_t guest_loop[] = {0x66, 0xba, 0xff, 0x03, 0xee, 0xeb, 0xf9};

/* A guest that does what an OS's ACPI hotplug driver does when asked to let a slot go:
 * loop: mov dx, PCID; in eax, dx; test eax, eax; jz loop; bsf eax, eax;
 *       mov dx, EJCT; out dx, eax; jmp loop */
static const uint8_t guest_ejects[] = {0x66, 0xba, 0x18, 0x06, 0xed, 0x85, 0xc0, 0x74, 0xf7, 0x0f,
				       0xbc, 0xc0, 0x66, 0xba, 0x1c, 0x06, 0xef, 0xeb, 0xed};

struct run {
	char dir[64], sock[128], err[128];
	pid_t pid;
};

static const char *ctl_bin(void)
{
	return getenv("MINIVMM_CTL") ? getenv("MINIVMM_CTL") : "build/minivmm-ctl";
}

static const char *start(struct run *r, const char *vm_extra, const uint8_t *code, size_t code_len)
{
	const char *bin = getenv("MINIVMM_BIN") ? getenv("MINIVMM_BIN") : "build/minivmm";
	char path[160], cmd[1024];
	FILE *f;

	if (access("/dev/kvm", R_OK | W_OK) != 0)
		return "no usable /dev/kvm on this machine";
	snprintf(r->dir, sizeof(r->dir), "/tmp/minivmm-api-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(r->dir));
	write_kernel(r->dir, code, code_len);
	snprintf(r->sock, sizeof(r->sock), "%s/vm.sock", r->dir);
	snprintf(r->err, sizeof(r->err), "%s/stderr", r->dir);
	snprintf(cmd, sizeof(cmd), "truncate -s 1M %s/a.img %s/b.img", r->dir, r->dir);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/vm.ini", r->dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"[vm]\nkernel = kernel\nmemory = 32M\n%s[console]\nmode = none\n"
		"[disk.a]\npath = a.img\n[api]\nsocket = vm.sock\n",
		vm_extra);
	fclose(f);
	r->pid = fork();
	ck_assert_int_ge(r->pid, 0);
	if (r->pid == 0) {
		snprintf(cmd, sizeof(cmd), "exec %s %s </dev/null 2>%s", bin, path, r->err);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 3000 && access(r->sock, F_OK) != 0; i++)
		usleep(10000);
	ck_assert_msg(access(r->sock, F_OK) == 0, "no socket at %s", r->sock);
	return NULL;
}

/* minivmm-ctl's exit status and output (stdout and stderr). */
static int ctl(struct run *r, const char *args, char *out, size_t len)
{
	char cmd[1024];
	FILE *p;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd), "%s %s %s 2>&1", ctl_bin(), r->sock, args);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, len - 1, p);
	out[n] = 0;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* What the raw connection sent so far (raw_connect starts it afresh). */
static char raw_buf[65536];
static size_t raw_have;

static int raw_connect(struct run *r)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, r->sock);
	raw_have = 0;
	raw_buf[0] = 0;
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Reads until the connection has sent want, at any point since it was made (5 s at
 * most). Replies are compact JSON: "id":9, no spaces. */
static bool raw_expect(int fd, const char *want)
{
	char *buf = raw_buf;
	size_t have = raw_have;

	for (int i = 0; i < 500; i++) {
		if (strstr(buf, want))
			return true;
		struct timeval tv = {0, 10000};
		ssize_t n;

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		n = recv(fd, buf + have, sizeof(raw_buf) - 1 - have, 0);
		if (n > 0) {
			have += (size_t)n;
			buf[have] = 0;
			raw_have = have;
		} else if (n == 0) {
			break;
		}
	}
	return strstr(buf, want) != NULL;
}

static int finish(struct run *r, char *log, size_t len)
{
	char cmd[160];
	int st = 0;
	FILE *f;

	for (int i = 0; i < 1000 && waitpid(r->pid, &st, WNOHANG) == 0; i++)
		usleep(10000);
	if (waitpid(r->pid, &st, WNOHANG) == 0) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, &st, 0);
		st = -1;
	}
	f = fopen(r->err, "r");
	len = f ? fread(log, 1, len - 1, f) : 0;
	log[len] = 0;
	if (f)
		fclose(f);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
	ck_assert_int_eq(system(cmd), 0);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(commands_through_the_socket)
{
	static char out[16384], log[65536];
	struct run r;
	struct stat st;
	char args[256];
	const char *skip = start(&r, "", guest_loop, sizeof(guest_loop));
	int fd;

	if (skip)
		UNIT_SKIP(skip);
	ck_assert_int_eq(stat(r.sock, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_msg(ctl(&r, "ping", out, sizeof(out)) == 0, "%s", out);
	ck_assert_int_eq(ctl(&r, "info", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "\"state\": \"running\"") && strstr(out, "\"disk.a\"") &&
			  strstr(out, "\"bdf\": \"0000:00:01.0\"") && strstr(out, "a.img"),
		      "%s", out);

	ck_assert_int_eq(ctl(&r, "pause", out, sizeof(out)), 0);
	ck_assert_int_eq(ctl(&r, "info", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "\"state\": \"paused\""), "%s", out);
	ck_assert_int_eq(ctl(&r, "pause", out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "InvalidState"), "%s", out);
	/* A disk added while paused: the VM stays paused. */
	snprintf(args, sizeof(args), "add-device kind=disk name=b path=%s/b.img", r.dir);
	ck_assert_msg(ctl(&r, args, out, sizeof(out)) == 0, "%s", out);
	ck_assert_msg(strstr(out, "\"bdf\": \"0000:00:02.0\""), "%s", out);
	ck_assert_int_eq(ctl(&r, "info", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "\"state\": \"paused\"") && strstr(out, "\"disk.b\""), "%s", out);
	ck_assert_int_eq(ctl(&r, "resume", out, sizeof(out)), 0);
	ck_assert_int_eq(ctl(&r, "resume", out, sizeof(out)), 1);

	/* Errors name the problem, and the VM carries on. */
	ck_assert_int_eq(ctl(&r, args, out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "disk.b is on the VM already"), "%s", out);
	ck_assert_int_eq(
	    ctl(&r, "add-device kind=disk name=c path=/nonexistent/c.img", out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "could not be added: [disk.c] cannot open /nonexistent/c.img: No "
				  "such file or directory"),
		      "%s", out);
	ck_assert_int_eq(ctl(&r, "add-device kind=disk name=Bad! path=/x", out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "InvalidArguments"), "%s", out);
	/* bind is checked by the config code, as in the file. */
	ck_assert_int_eq(ctl(&r, "add-device kind=vfio name=v host=0000:00:1f.7 bind=sometimes",
			     out, sizeof(out)),
			 1);
	ck_assert_msg(strstr(out, "bind") && strstr(out, "InvalidArguments"), "%s", out);
	ck_assert_msg(strstr(out, "InvalidArguments"), "%s", out);
	ck_assert_int_eq(ctl(&r, "add-device kind=vfio name=v host=0000:7f:1f.7", out, sizeof(out)),
			 1);
	ck_assert_int_eq(ctl(&r, "remove-device name=disk.zz", out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "DeviceNotFound"), "%s", out);
	ck_assert_int_eq(ctl(&r, "remove-device name=rtc", out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "only disks and vfio devices"), "%s", out);
	ck_assert_int_eq(ctl(&r, "frobnicate", out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "CommandNotFound"), "%s", out);

	/* Raw clients: garbage, an over-long line, one that leaves mid-line. */
	fd = raw_connect(&r);
	ck_assert(raw_expect(fd, "{\"greeting\":"));
	ck_assert_int_eq(write(fd, "{nope\n", 6), 6);
	ck_assert(raw_expect(fd, "SyntaxError"));
	{
		static char big[API_MAX_LINE + 100];

		memset(big, 'x', sizeof(big));
		ck_assert_int_eq(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
		ck_assert_int_eq(write(fd, "\n{\"execute\": \"ping\", \"id\": 9}\n", 31), 31);
		ck_assert(raw_expect(fd, "TooLong"));
		ck_assert(raw_expect(fd, "\"id\":9"));
	}
	close(fd);
	fd = raw_connect(&r);
	ck_assert_int_eq(write(fd, "{\"execute\": \"pi", 16), 16);
	close(fd);
	/* A client that asks and asks and never reads: dropped once 1 MiB of replies
	 * waits for it; the others are served meanwhile. */
	fd = raw_connect(&r);
	for (int i = 0; i < 4000; i++) {
		static const char req[] = "{\"execute\": \"info\"}\n";

		if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != sizeof(req) - 1)
			break; /* dropped already */
		if (i % 500 == 0)
			ck_assert_int_eq(ctl(&r, "ping", out, sizeof(out)), 0);
	}
	close(fd);

	ck_assert_int_eq(ctl(&r, "remove-device name=disk.b force=true", out, sizeof(out)), 0);
	ck_assert_int_eq(ctl(&r, "info", out, sizeof(out)), 0);
	ck_assert_msg(!strstr(out, "disk.b"), "%s", out);
	ck_assert_msg(ctl(&r, args, out, sizeof(out)) == 0, "again: %s", out); /* re-added */
	ck_assert_msg(strstr(out, "\"bdf\": \"0000:00:02.0\""), "%s", out);
	ck_assert_int_eq(ctl(&r, "shutdown", out, sizeof(out)), 0);
	ck_assert_int_eq(finish(&r, log, sizeof(log)), 0);
	ck_assert_msg(strstr(log, "api: listening on"), "%s", log);
	ck_assert_msg(strstr(log, "api: a client is not reading its replies; disconnecting it"),
		      "%s", log);
}
END_TEST

/* Events reach a client that listens, and a reboot (on_reboot = restart rebuilds the
 * VM) keeps the hot-added disk and leaves out the removed one. */
START_TEST(events_and_hot_added_disk_survives_reboot)
{
	static char out[16384], log[65536];
	struct run r;
	char args[256];
	const char *skip = start(&r, "on_reboot = restart\n", guest_loop, sizeof(guest_loop));
	int fd;

	if (skip)
		UNIT_SKIP(skip);
	fd = raw_connect(&r);
	ck_assert(raw_expect(fd, "{\"greeting\":"));
	snprintf(args, sizeof(args), "add-device kind=disk name=b path=%s/b.img readonly=true",
		 r.dir);
	ck_assert_msg(ctl(&r, args, out, sizeof(out)) == 0, "%s", out);
	ck_assert(raw_expect(fd, "\"event\":\"DEVICE_ADDED\""));
	ck_assert_int_eq(ctl(&r, "remove-device name=disk.a force=true", out, sizeof(out)), 0);
	ck_assert(raw_expect(fd, "\"event\":\"DEVICE_DELETED\""));
	ck_assert_int_eq(ctl(&r, "reboot", out, sizeof(out)), 0);
	ck_assert(raw_expect(fd, "\"event\":\"RESET\""));
	close(fd);
	for (int i = 0; i < 100 && ctl(&r, "info", out, sizeof(out)) != 0; i++)
		usleep(50000);
	ck_assert_msg(strstr(out, "\"disk.b\"") && !strstr(out, "\"disk.a\"") &&
			  strstr(out, "\"bdf\": \"0000:00:01.0\""),
		      "after the reboot: %s", out);
	ck_assert_int_eq(ctl(&r, "shutdown", out, sizeof(out)), 0);
	ck_assert_int_eq(finish(&r, log, sizeof(log)), 0);
	ck_assert_msg(strstr(log, "guest rebooted; restarting it"), "%s", log);
}
END_TEST

/* remove-device asks the guest, through the ACPI hotplug registers, and the device goes
 * only once the guest ejects it (here a tiny guest that ejects whatever is asked); a
 * guest that does not eject keeps it, reported as pending. */
START_TEST(remove_waits_for_the_guest_to_eject)
{
	static char out[16384], log[65536];
	struct run r;
	const char *skip = start(&r, "", guest_ejects, sizeof(guest_ejects));
	int fd;

	if (skip)
		UNIT_SKIP(skip);
	fd = raw_connect(&r);
	ck_assert(raw_expect(fd, "{\"greeting\":"));
	ck_assert_int_eq(ctl(&r, "remove-device name=disk.a", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "\"pending\": true"), "%s", out);
	ck_assert(raw_expect(fd, "\"event\":\"DEVICE_DELETED\",\"data\":{\"name\":\"disk.a\"}"));
	ck_assert_int_eq(ctl(&r, "info", out, sizeof(out)), 0);
	ck_assert_msg(!strstr(out, "disk.a"), "%s", out);
	close(fd);
	ck_assert_int_eq(ctl(&r, "shutdown", out, sizeof(out)), 0);
	ck_assert_int_eq(finish(&r, log, sizeof(log)), 0);
	ck_assert_msg(strstr(log, "the guest ejected disk.a"), "%s", log);
}
END_TEST

START_TEST(remove_stays_pending_without_an_eject)
{
	static char out[16384], log[65536];
	struct run r;
	const char *skip = start(&r, "", guest_loop, sizeof(guest_loop));

	if (skip)
		UNIT_SKIP(skip);
	ck_assert_int_eq(ctl(&r, "remove-device name=disk.a", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "\"pending\": true"), "%s", out);
	usleep(300000);
	ck_assert_int_eq(ctl(&r, "info", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "\"disk.a\"") && strstr(out, "\"eject-pending\": true"), "%s",
		      out);
	ck_assert_int_eq(ctl(&r, "power-button", out, sizeof(out)), 0);
	ck_assert_int_eq(ctl(&r, "shutdown", out, sizeof(out)), 0);
	ck_assert_int_eq(finish(&r, log, sizeof(log)), 0);
}
END_TEST

Suite *api_suite(void)
{
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, requests_are_checked_strictly);
	suite_add_tcase(s, tc);
	tc = tcase_create("socket");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, commands_through_the_socket);
	tcase_add_test(tc, events_and_hot_added_disk_survives_reboot);
	tcase_add_test(tc, remove_waits_for_the_guest_to_eject);
	tcase_add_test(tc, remove_stays_pending_without_an_eject);
	suite_add_tcase(s, tc);
	return s;
}
