/* The vhost-user front end against a real back end: qemu-storage-daemon exporting a
 * raw image as vhost-user-blk. Connect and negotiate, read the disk's config, share a
 * memfd of "guest" memory, start one ring, put a write request in it by hand, kick its
 * eventfd and wait for the back end's call: the request completes with status OK, the
 * image holds the data at the sector, and stopping the ring gives back its index.
 * Skipped, with the reason, where qemu-storage-daemon is not installed. */
#include "tests/unit/unit.h"
#include "tests/unit/tiny_kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices/vhost_user.h"
#include "vmm/config.h"
#include "vmm/mem.h"
#include "vmm/virtiofsd.h"

#define DESC  0x1000
#define AVAIL 0x2000
#define USED  0x3000
#define HDR   0x4000
#define DATA  0x5000
#define STAT  0x6000

static void put_desc(uint8_t *ram, int i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = ram + DESC + 16 * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static pid_t start_qsd(const char *img, const char *sock)
{
	pid_t qsd = fork();

	ck_assert_int_ge(qsd, 0);
	if (qsd == 0) {
		char blockdev[256], export[256];

		snprintf(blockdev, sizeof(blockdev), "driver=file,node-name=f,filename=%s", img);
		snprintf(export, sizeof(export),
			 "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=%s,"
			 "writable=on",
			 sock);
		execlp("qemu-storage-daemon", "qemu-storage-daemon", "--blockdev", blockdev,
		       "--export", export, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && access(sock, F_OK) != 0; i++)
		usleep(10000);
	return qsd;
}

START_TEST(blk_request_through_qsd)
{
	char dir[] = "/tmp/minivmm-vu-XXXXXX", img[128], sock[128], cmd[768], err[512];
	struct vhost_user vu;
	struct guest_mem mem;
	struct vhost_user_ring ring;
	const gpa_t gpa = 0;
	const uint64_t size = 1 << 20;
	uint64_t capacity = 0, one = 1;
	uint8_t *ram, buf[512];
	struct pollfd p;
	pid_t qsd;
	int fd;

	if (system("command -v qemu-storage-daemon >/dev/null 2>&1") != 0)
		UNIT_SKIP("qemu-storage-daemon is not installed (Debian: qemu-system-common)");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/disk.raw", dir);
	snprintf(sock, sizeof(sock), "%s/blk.sock", dir);
	snprintf(cmd, sizeof(cmd), "truncate -s 4M %s", img);
	ck_assert_int_eq(system(cmd), 0);
	qsd = start_qsd(img, sock);

	/* The socket file appears at bind, before the daemon listens: refused until then. */
	for (int i = 0;
	     i < 100 && vhost_user_connect(&vu, sock, "disk.t", err, sizeof(err)) == -ECONNREFUSED;
	     i++)
		usleep(50000);
	ck_assert_msg(vu.fd >= 0, "%s", err);
	ck_assert_int_eq(vhost_user_get_config(&vu, &capacity, 8), 0);
	ck_assert_uint_eq(capacity, (4 << 20) / 512);

	ck_assert_int_eq(mem_init(&mem, &gpa, &size, 1, MEM_MEMFD), 0);
	ram = mem.regions[0].hva;
	/* A write of 512 bytes at sector 2: header (type OUT), data, status. */
	uint32_t type = 1;
	uint64_t sector = 2;
	uint16_t idx = 1, head = 0;

	memcpy(ram + HDR, &type, 4);
	memcpy(ram + HDR + 8, &sector, 8);
	memset(ram + DATA, 0x5a, 512);
	ram[STAT] = 0xff;
	put_desc(ram, 0, HDR, 16, 1 /* NEXT */, 1);
	put_desc(ram, 1, DATA, 512, 1, 2);
	put_desc(ram, 2, STAT, 1, 2 /* WRITE */, 0);
	memcpy(ram + AVAIL + 4, &head, 2); /* ring[0] */
	__atomic_store_n((uint16_t *)(ram + AVAIL + 2), idx, __ATOMIC_RELEASE);

	ring = (struct vhost_user_ring){.index = 0,
					.size = 8,
					.desc = DESC,
					.avail = AVAIL,
					.used = USED,
					.kick_fd = eventfd(0, EFD_CLOEXEC),
					.call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
	ck_assert_int_eq(vhost_user_start(&vu, 1ULL << 32 /* VERSION_1 */, &mem, &ring, 1), 0);
	ck_assert_int_eq(write(ring.kick_fd, &one, 8), 8);
	/* The back end may signal the call fd when the ring starts too: wait for the used
	 * index, each call waking us. */
	for (int i = 0;
	     i < 50 && __atomic_load_n((uint16_t *)(ram + USED + 2), __ATOMIC_ACQUIRE) != 1; i++) {
		p = (struct pollfd){.fd = ring.call_fd, .events = POLLIN};
		if (poll(&p, 1, 100) == 1)
			ck_assert_int_eq(read(ring.call_fd, &one, 8), 8);
	}
	ck_assert_uint_eq(__atomic_load_n((uint16_t *)(ram + USED + 2), __ATOMIC_ACQUIRE), 1);
	ck_assert_uint_eq(ram[STAT], 0); /* VIRTIO_BLK_S_OK */

	fd = open(img, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, 512, 1024), 512);
	close(fd);
	for (int i = 0; i < 512; i++)
		ck_assert_uint_eq(buf[i], 0x5a);

	ck_assert_int_eq(vhost_user_stop(&vu, &ring, 1), 0);
	ck_assert_uint_eq(ring.last_avail, 1);

	vhost_user_close(&vu);
	kill(qsd, SIGTERM);
	waitpid(qsd, NULL, 0);
	close(ring.kick_fd);
	close(ring.call_fd);
	mem_destroy(&mem);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static int sh(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* minivmm on dir/vm.ini with extra arguments, once its API socket api is there. */
static pid_t start_vmm(const char *bin, const char *dir, const char *extra, const char *api)
{
	char cmd[1024];
	pid_t pid;

	unlink(api);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		snprintf(cmd, sizeof(cmd), "exec %s %s %s/vm.ini </dev/null 2>>%s/err", bin, extra,
			 dir, dir);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000 && access(api, F_OK) != 0; i++)
		usleep(10000);
	return pid;
}

/* The real binary, its seccomp filters on: a vhost-user disk added to a running VM
 * through the API (the main thread connects and negotiates), listed by info with its
 * socket, removed again; the VM then ends with exit 0. A VM with
 * shared_memory = off refuses the hot-add first. */
START_TEST(hotplug_vhost_user_disk)
{
	static const uint8_t spin[] = {0xeb, 0xfe}; /* jmp $ */
	char dir[] = "/tmp/minivmm-vu-XXXXXX", cmd[1024], img[128], sock[128], api[128];
	const char *bin = getenv("MINIVMM_BIN") ? getenv("MINIVMM_BIN") : "build/minivmm";
	const char *ctl = getenv("MINIVMM_CTL") ? getenv("MINIVMM_CTL") : "build/minivmm-ctl";
	pid_t qsd, vmm;
	int st;
	FILE *f;

	if (access("/dev/kvm", R_OK | W_OK) != 0)
		UNIT_SKIP("no usable /dev/kvm on this machine");
	if (sh("command -v qemu-storage-daemon >/dev/null 2>&1") != 0)
		UNIT_SKIP("qemu-storage-daemon is not installed (Debian: qemu-system-common)");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	write_kernel(dir, spin, sizeof(spin));
	snprintf(img, sizeof(img), "%s/d.raw", dir);
	snprintf(sock, sizeof(sock), "%s/blk.sock", dir);
	snprintf(api, sizeof(api), "%s/api.sock", dir);
	snprintf(cmd, sizeof(cmd), "truncate -s 2M %s", img);
	ck_assert_int_eq(sh(cmd), 0);
	qsd = start_qsd(img, sock);
	snprintf(cmd, sizeof(cmd), "%s/vm.ini", dir);
	f = fopen(cmd, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[vm]\nkernel = kernel\nmemory = 32M\n[console]\nmode = none\n[api]\nsocket = "
		   "api.sock\n");
	fclose(f);
	/* Private guest RAM: a hot-add is refused, naming the key. */
	vmm = start_vmm(bin, dir, "--set vm.shared_memory=off", api);
	snprintf(cmd, sizeof(cmd),
		 "%s %s add-device kind=disk name=v vhost_user=%s 2>&1 | grep -q 'start minivmm "
		 "with \\[vm\\] shared_memory = on'",
		 ctl, api, sock);
	ck_assert_int_eq(sh(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s %s shutdown >/dev/null", ctl, api);
	ck_assert_int_eq(sh(cmd), 0);
	ck_assert_int_eq(waitpid(vmm, &st, 0), vmm);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	vmm = start_vmm(bin, dir, "", api); /* auto: shared, as it has an API socket */
	snprintf(cmd, sizeof(cmd), "%s %s add-device kind=disk name=v vhost_user=%s >/dev/null",
		 ctl, api, sock);
	ck_assert_int_eq(sh(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s %s info | grep -q '\"vhost-user-blk\"'", ctl, api);
	ck_assert_int_eq(sh(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s %s remove-device name=disk.v force=true >/dev/null", ctl,
		 api);
	ck_assert_int_eq(sh(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s %s info | grep -q disk.v", ctl, api);
	ck_assert_int_eq(sh(cmd), 1);
	/* A socket with nothing behind it: refused with the reason, the VM runs on. */
	snprintf(cmd, sizeof(cmd),
		 "%s %s add-device kind=disk name=w vhost_user=%s/none.sock 2>&1 | grep -q 'cannot "
		 "connect to the vhost-user back end'",
		 ctl, api, dir);
	ck_assert_int_eq(sh(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s %s shutdown >/dev/null", ctl, api);
	ck_assert_int_eq(sh(cmd), 0);
	ck_assert_int_eq(waitpid(vmm, &st, 0), vmm);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	kill(qsd, SIGTERM);
	waitpid(qsd, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(sh(cmd), 0);
}
END_TEST

/* A socket with nothing behind it: refused with the path and the fix. */
START_TEST(no_back_end)
{
	struct vhost_user vu;
	char err[512];

	ck_assert_int_eq(vhost_user_connect(&vu, "/nonexistent/vu.sock", "fs.x", err, sizeof(err)),
			 -ENOENT);
	ck_assert_msg(
	    strstr(err, "cannot connect to the vhost-user back end at /nonexistent/vu.sock") &&
		strstr(err, "start it first"),
	    "%s", err);
}
END_TEST

/* [fs] path = DIR: minivmm's own virtiofsd (QEMU 7.2's serves one connection and
 * exits when it closes). Its socket takes a handshake; after that connection closes a
 * second one is served too (the supervisor started virtiofsd again); a config with
 * sandbox = none is refused for that virtiofsd with the reason; after the stop the
 * socket and its folder are gone and no virtiofsd of ours is left. */
START_TEST(own_virtiofsd)
{
	char dir[] = "/tmp/minivmm-vfs-XXXXXX", err[512], sock[108], cmd[256];
	struct config *cfg = calloc(1, sizeof(*cfg));
	struct virtiofsd v;
	struct vhost_user vu;

	if (access("/usr/lib/qemu/virtiofsd", X_OK) != 0 &&
	    access("/usr/libexec/virtiofsd", X_OK) != 0)
		UNIT_SKIP("no virtiofsd (Debian: qemu-system-common up to 7.2, or virtiofsd)");
	if (geteuid() != 0)
		UNIT_SKIP("virtiofsd's chroot sandbox needs root");
	ck_assert_ptr_nonnull(cfg);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	cfg->nr_fs = 1;
	strcpy(cfg->fs[0].name, "t");
	strcpy(cfg->fs[0].path, dir);
	cfg->fs[0].sandbox = FS_SANDBOX_CHROOT;
	ck_assert_msg(virtiofsd_start(&v, cfg, (uid_t)-1, (gid_t)-1, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_ptr_nonnull(strstr(cfg->fs[0].socket, "/t.sock"));
	ck_assert_uint_lt(strlen(cfg->fs[0].socket), sizeof(sock));
	memcpy(sock, cfg->fs[0].socket, sizeof(sock));
	for (int round = 0; round < 2; round++) {
		ck_assert_msg(vhost_user_connect(&vu, sock, "fs.t", err, sizeof(err)) == 0,
			      "round %d: %s", round, err);
		ck_assert(vu.features & (1ULL << 32)); /* VERSION_1 */
		vhost_user_close(&vu);
	}
	virtiofsd_stop(&v);
	ck_assert_int_ne(access(sock, F_OK), 0);
	*strrchr(sock, '/') = 0;
	ck_assert_int_ne(access(sock, F_OK), 0);
	snprintf(cmd, sizeof(cmd), "pgrep -f '[v]irtiofsd --fd=3 -o source=%s' >/dev/null", dir);
	ck_assert_int_ne(sh(cmd), 0);

	if (access("/usr/libexec/virtiofsd", X_OK) != 0) {
		cfg->fs[0].sandbox = FS_SANDBOX_NONE;
		cfg->fs[0].socket[0] = 0;
		ck_assert_int_eq(virtiofsd_start(&v, cfg, (uid_t)-1, (gid_t)-1, err, sizeof(err)),
				 -EINVAL);
		ck_assert_msg(strstr(err, "fs.t: sandbox = none") &&
				  strstr(err, "has only namespace and chroot"),
			      "%s", err);
	}
	rmdir(dir);
	free(cfg);
}
END_TEST

Suite *vhost_user_suite(void)
{
	Suite *s = suite_create("vhost_user");
	TCase *tc = tcase_create("qsd");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, blk_request_through_qsd);
	tcase_add_test(tc, no_back_end);
	tcase_add_test(tc, hotplug_vhost_user_disk);
	tcase_add_test(tc, own_virtiofsd);
	suite_add_tcase(s, tc);
	return s;
}
