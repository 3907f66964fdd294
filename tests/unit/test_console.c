/* Guest console output to a console nobody reads (issue 14): a full, blocking pipe as
 * the console fd. The guest's writes (UART port writes on a "vCPU" thread, a
 * virtio-console transmit chain on the device's I/O thread) must not wait for the
 * reader, and the main thread's console input, which takes the same lock as the output
 * path, must not wait either: before the fix the writer blocked in write() holding the
 * lock and the main loop then blocked in serial_input(), so SIGTERM went unread. The
 * dropped bytes are counted. The last test runs the real binary (like test_vmm.c) with
 * a guest writing to COM1 for ever, stdout a full pipe and console input pending, and
 * expects SIGTERM to stop it. */
#include "tests/unit/unit.h"
#include "tests/unit/tiny_kernel.h"
#include "tests/unit/virtio_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "devices/serial.h"
#include "devices/virtio_backends.h"
#include "devices/virtio_pci.h"
#include "vmm/machine.h"

#define COM1	  0x3f8
#define OUT_BYTES 20000 /* the guest's output, all of it dropped */
#define DEADLINE  1	/* seconds the guest's writes and the console input may take */

/* A pipe whose write end is blocking, like a stdout nobody reads, filled up. */
static void full_pipe(int fds[2])
{
	char buf[4096];
	int flags;

	memset(buf, 'f', sizeof(buf));
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	flags = fcntl(fds[1], F_GETFL);
	ck_assert_int_eq(fcntl(fds[1], F_SETFL, flags | O_NONBLOCK), 0);
	while (write(fds[1], buf, sizeof(buf)) > 0)
		;
	while (write(fds[1], buf, 1) > 0)
		;
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(fcntl(fds[1], F_SETFL, flags), 0);
}

/* Joins t, failing the test if it has not finished DEADLINE seconds after start. */
static void join_by(pthread_t t, const struct timespec *start, const char *what)
{
	struct timespec end = *start;

	end.tv_sec += DEADLINE;
	ck_assert_msg(pthread_timedjoin_np(t, NULL, &end) == 0,
		      "%s still blocked %d s later: it waits for the console's reader", what,
		      DEADLINE);
}

struct uart_bed {
	struct machine vm;
	struct serial *s;
};

static void *uart_guest(void *arg)
{
	struct uart_bed *b = arg;

	for (int i = 0; i < OUT_BYTES; i++) {
		uint8_t c = 'a' + i % 26;

		bus_access(&b->vm.pio, COM1, &c, 1, true);
	}
	return NULL;
}

static void *uart_input(void *arg)
{
	struct uart_bed *b = arg;

	for (int i = 0; i < 1000; i++) {
		serial_input(b->s, (const uint8_t *)"k", 1);
		nanosleep(&(struct timespec){0, 100000}, NULL);
	}
	return NULL;
}

START_TEST(serial_console_not_read)
{
	struct uart_bed b = {0};
	struct timespec start;
	pthread_t guest, input;
	int fds[2];
	uint8_t c = 'Z', got[4096];

	full_pipe(fds);
	b.vm.vm_fd = -1;
	bus_init(&b.vm.pio, "pio");
	b.s = serial_create(&b.vm, COM1, 4, fds[1]);
	ck_assert_ptr_nonnull(b.s);

	clock_gettime(CLOCK_REALTIME, &start);
	ck_assert_int_eq(pthread_create(&guest, NULL, uart_guest, &b), 0);
	ck_assert_int_eq(pthread_create(&input, NULL, uart_input, &b), 0);
	join_by(guest, &start, "the guest's UART writes");
	join_by(input, &start, "serial_input");
	ck_assert_uint_eq(serial_output_dropped(b.s), OUT_BYTES);

	/* Once the reader reads again, output flows again (the console was not given up). */
	ck_assert_int_eq(read(fds[0], got, sizeof(got)), sizeof(got));
	bus_access(&b.vm.pio, COM1, &c, 1, true);
	ck_assert_uint_eq(serial_output_dropped(b.s), OUT_BYTES);

	serial_destroy(b.s);
	bus_destroy(&b.vm.pio);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* virtio-console: a VM without KVM (notifications take the MMIO path to the I/O
 * thread) and the device driven as a guest driver would, on its transmit queue. */
#define RAM	  (16ULL << 20)
#define TX_DESC	  0x10000
#define TX_AVAIL  0x11000
#define TX_USED	  0x12000
#define TX_BUF	  0x100000
#define TX_CHAINS 8
#define TX_LEN	  (OUT_BYTES / TX_CHAINS)

struct vcon_bed {
	struct machine vm;
	struct virtio_dev *vd;
	uint64_t common, notify;
	uint32_t notify_mult;
};

static uint32_t cfg_read(struct vcon_bed *b, uint32_t off, uint32_t len)
{
	return vt_cfg_read(&b->vm, b->vd, off, len);
}

static uint64_t rd(struct vcon_bed *b, uint64_t addr, uint32_t len)
{
	return vt_rd(&b->vm, addr, len);
}

static void wr(struct vcon_bed *b, uint64_t addr, uint64_t v, uint32_t len)
{
	vt_wr(&b->vm, addr, v, len);
}

static void vcon_driver_start(struct vcon_bed *b)
{
	const uint8_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	for (uint32_t cap = cfg_read(b, 0x34, 1); cap; cap = cfg_read(b, cap + 1, 1)) {
		uint32_t bar = cfg_read(b, cap + 4, 1), type = cfg_read(b, cap + 3, 1);
		uint64_t addr;

		if (cfg_read(b, cap, 1) != 0x09)
			continue;
		addr = (cfg_read(b, 0x10 + 4 * bar, 4) & ~0xfu) |
		       (uint64_t)cfg_read(b, 0x14 + 4 * bar, 4) << 32;
		addr += cfg_read(b, cap + 8, 4);
		if (type == VIRTIO_PCI_CAP_COMMON_CFG)
			b->common = addr;
		else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
			b->notify = addr;
			b->notify_mult = cfg_read(b, cap + 16, 4);
		}
	}
	ck_assert_uint_ne(b->common, 0);
	ck_assert_uint_ne(b->notify, 0);
	wr(b, b->common + VIRTIO_PCI_COMMON_STATUS, 0, 1);
	wr(b, b->common + VIRTIO_PCI_COMMON_STATUS, s, 1);
	wr(b, b->common + VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_GF, 1u << (VIRTIO_F_VERSION_1 - 32), 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_STATUS, s | VIRTIO_CONFIG_S_FEATURES_OK, 1);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_SELECT, 1, 2); /* transmitq */
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_SIZE, 16, 2);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_DESCLO, TX_DESC, 8);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_AVAILLO, TX_AVAIL, 8);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_USEDLO, TX_USED, 8);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	wr(b, b->common + VIRTIO_PCI_COMMON_STATUS,
	   s | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK, 1);
	ck_assert_uint_eq(rd(b, b->common + VIRTIO_PCI_COMMON_STATUS, 1) & 0x4f, 0x0f);
}

static uint16_t *ring16(struct vcon_bed *b, gpa_t a)
{
	return mem_gpa_to_hva(&b->vm.mem, a, 2);
}

/* The guest posts TX_CHAINS output chains at once and notifies, then waits (like a
 * driver polling its used ring) for all of them to come back. */
static void *vcon_guest(void *arg)
{
	struct vcon_bed *b = arg;
	uint64_t notify =
	    b->notify + rd(b, b->common + VIRTIO_PCI_COMMON_Q_NOFF, 2) * (uint64_t)b->notify_mult;

	for (int i = 0; i < TX_CHAINS; i++) {
		struct vring_desc d = {TX_BUF + (uint64_t)i * TX_LEN, TX_LEN, 0, 0};

		ck_assert_int_eq(mem_write(&b->vm.mem, TX_DESC + 16 * i, &d, sizeof(d)), 0);
		*ring16(b, TX_AVAIL + 4 + 2 * i) = (uint16_t)i;
	}
	__atomic_store_n(ring16(b, TX_AVAIL + 2), TX_CHAINS, __ATOMIC_RELEASE);
	wr(b, notify, 1, 2);
	while (__atomic_load_n(ring16(b, TX_USED + 2), __ATOMIC_ACQUIRE) != TX_CHAINS)
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	return NULL;
}

static void *vcon_input(void *arg)
{
	struct vcon_bed *b = arg;

	for (int i = 0; i < 1000; i++) {
		virtio_console_input(b->vd, (const uint8_t *)"k", 1);
		nanosleep(&(struct timespec){0, 100000}, NULL);
	}
	return NULL;
}

START_TEST(virtio_console_not_read)
{
	const gpa_t base = 0;
	const uint64_t size = RAM;
	struct vcon_bed *b = calloc(1, sizeof(*b));
	struct timespec start;
	pthread_t guest, input;
	int fds[2];

	ck_assert_ptr_nonnull(b);
	full_pipe(fds);
	b->vm.vm_fd = -1;
	bus_init(&b->vm.pio, "pio");
	bus_init(&b->vm.mmio, "mmio");
	ck_assert_int_eq(mem_init(&b->vm.mem, &base, &size, 1, 0), 0);
	ck_assert_int_eq(pci_init(&b->vm, &vt_windows), 0);
	ck_assert_int_eq(virtio_console_create(&b->vm, fds[1], &b->vd), 0);
	vcon_driver_start(b);
	memset(mem_gpa_to_hva(&b->vm.mem, TX_BUF, OUT_BYTES), 'v', OUT_BYTES);

	clock_gettime(CLOCK_REALTIME, &start);
	ck_assert_int_eq(pthread_create(&guest, NULL, vcon_guest, b), 0);
	ck_assert_int_eq(pthread_create(&input, NULL, vcon_input, b), 0);
	join_by(guest, &start, "the guest's transmit chains");
	join_by(input, &start, "virtio_console_input");
	ck_assert_uint_eq(virtio_console_output_dropped(b->vd), TX_CHAINS * TX_LEN);

	virtio_dev_destroy(b->vd);
	pci_destroy(&b->vm);
	mem_destroy(&b->vm.mem);
	bus_destroy(&b->vm.pio);
	bus_destroy(&b->vm.mmio);
	free(b);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* Waits up to ms for pid to end; returns its status, or -1 if it still runs. */
static int wait_ms(pid_t pid, int ms)
{
	int status;

	for (int i = 0; i < ms; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	return -1;
}

START_TEST(sigterm_with_console_not_read)
{
	/* mov dx, COM1; mov al, 'x'; out dx, al; jmp back to the mov */
	static const uint8_t code[] = {0x66, 0xba, 0xf8, 0x03, 0xb0, 'x', 0xee, 0xeb, 0xf7};
	const char *bin = getenv("MINIVMM_BIN") ? getenv("MINIVMM_BIN") : "build/minivmm";
	char dir[] = "/tmp/minivmm-console-XXXXXX", ini[300], errpath[300], err[4096] = "";
	char cmd[1024];
	int out[2], in[2], status, fd;
	ssize_t n;
	pid_t pid;
	FILE *f;

	if (access("/dev/kvm", R_OK | W_OK) != 0)
		UNIT_SKIP("no usable /dev/kvm on this machine");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	write_kernel(dir, code, sizeof(code));
	snprintf(ini, sizeof(ini), "%s/vm.ini", dir);
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	f = fopen(ini, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[vm]\nkernel = kernel\nmemory = 32M\n[console]\nmode = stdio\n");
	fclose(f);
	full_pipe(out);
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		/* MINIVMM_BIN may be a command ("env ASAN_OPTIONS=... minivmm", as in make
		 * check-asan); exec keeps the pid, so SIGTERM reaches minivmm itself. */
		snprintf(cmd, sizeof(cmd), "exec %s %s", bin, ini);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	/* The guest fills its console (already full), then input arrives: before the fix
	 * the vCPU was stuck in write() holding the UART's lock and the main thread then
	 * stuck in serial_input(), so the SIGTERM below was never read. */
	nanosleep(&(struct timespec){0, 500000000}, NULL);
	ck_assert_int_eq(write(in[1], "abc", 3), 3);
	nanosleep(&(struct timespec){0, 100000000}, NULL);
	kill(pid, SIGTERM);
	status = wait_ms(pid, 1000);
	if (status == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	fd = open(errpath, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, err, sizeof(err) - 1);
		err[n > 0 ? n : 0] = 0;
		close(fd);
	}
	unlink(errpath);
	unlink(ini);
	snprintf(errpath, sizeof(errpath), "%s/kernel", dir);
	unlink(errpath);
	rmdir(dir);
	close(in[0]), close(in[1]), close(out[0]), close(out[1]);
	ck_assert_msg(status != -1, "SIGTERM not acted on within 1 s (SIGKILL needed): %s", err);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 143, "status 0x%x: %s", status,
		      err);
	ck_assert_msg(strstr(err, "serial: the console is not being read"), "%s", err);
}
END_TEST

Suite *console_suite(void)
{
	Suite *s = suite_create("console");
	TCase *tc = tcase_create("not_read");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, serial_console_not_read);
	tcase_add_test(tc, virtio_console_not_read);
	tcase_add_test(tc, sigterm_with_console_not_read);
	suite_add_tcase(s, tc);
	return s;
}
