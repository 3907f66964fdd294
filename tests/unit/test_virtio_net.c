/* virtio-net teardown with traffic in flight (issue 13): the device is created on a
 * real tap on a VM without KVM, driven like a guest driver would (receive queue, MSI-X
 * enabled with a vector for it), and destroyed while a sender floods frames into the
 * tap and a "guest" thread keeps the receive queue full of buffers, so that the
 * receive thread is delivering frames, and signalling MSI-X, at the moment the device
 * goes away. Any state freed under a running device thread crashes here (or shows up
 * under ASan). Needs root and /dev/net/tun; skipped, with the reason, without them. */
#include "tests/unit/unit.h"
#include "tests/unit/tap_fixture.h"
#include "tests/unit/virtio_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/virtio_net.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio_backends.h"
#include "devices/virtio_pci.h"
#include "vmm/config.h"
#include "vmm/machine.h"

#define RAM	   (16ULL << 20)
#define DESC_GPA   0x10000
#define AVAIL_GPA  0x11000
#define USED_GPA   0x12000
#define TX_DESC	   0x13000 /* the transmit queue's rings (tap_gone only) */
#define TX_AVAIL   0x14000
#define TX_USED	   0x15000
#define TX_BUF	   0x30000
#define BUF_GPA	   0x20000
#define BUF_LEN	   2048
#define QSIZE	   256
#define RX_VECTOR  1 /* vector 0 is for config changes */
#define ROUNDS	   200
#define MIN_FRAMES 64 /* delivered before each teardown: the flood reaches the guest */

/* A VM without KVM with one virtio-net device on the tap, and the guest's view of it. */
struct bed {
	struct machine vm;
	struct virtio_dev *vd;
	uint64_t common, notify, device;
	uint32_t notify_mult;
	uint32_t msix_cap;
	pthread_t guest;
	bool guest_started;
	_Atomic bool guest_stop;
	/* Whether the guest thread may still notify the device: like a vCPU, it must be
	 * out of the device's BAR before the device goes. */
	pthread_mutex_t kick_lock;
	bool kick;
};

static uint32_t cfg_read(struct bed *b, uint32_t off, uint32_t len)
{
	return vt_cfg_read(&b->vm, b->vd, off, len);
}

static void cfg_write(struct bed *b, uint32_t off, uint32_t v, uint32_t len)
{
	vt_cfg_write(&b->vm, b->vd, off, v, len);
}

static uint64_t rd(struct bed *b, uint64_t addr, uint32_t len)
{
	return vt_rd(&b->vm, addr, len);
}

static void wr(struct bed *b, uint64_t addr, uint64_t v, uint32_t len)
{
	vt_wr(&b->vm, addr, v, len);
}

static void *gpa(struct bed *b, gpa_t a)
{
	return mem_gpa_to_hva(&b->vm.mem, a, 1);
}

/* Finds the common configuration and the MSI-X capability, as Linux does. */
static void find_caps(struct bed *b)
{
	for (uint32_t cap = cfg_read(b, 0x34, 1); cap; cap = cfg_read(b, cap + 1, 1)) {
		uint32_t bar = cfg_read(b, cap + 4, 1);

		uint32_t type = cfg_read(b, cap + 3, 1);
		uint64_t addr;

		if (cfg_read(b, cap, 1) == 0x11)
			b->msix_cap = cap;
		if (cfg_read(b, cap, 1) != 0x09)
			continue;
		addr = (cfg_read(b, 0x10 + 4 * bar, 4) & ~0xfu) |
		       (uint64_t)cfg_read(b, 0x14 + 4 * bar, 4) << 32;
		addr += cfg_read(b, cap + 8, 4);
		if (type == VIRTIO_PCI_CAP_COMMON_CFG)
			b->common = addr;
		else if (type == VIRTIO_PCI_CAP_DEVICE_CFG)
			b->device = addr;
		else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
			b->notify = addr; /* the receive queue is queue 0: offset 0 */
			b->notify_mult = cfg_read(b, cap + 16, 4);
		}
	}
	ck_assert_uint_ne(b->common, 0);
	ck_assert_uint_ne(b->notify, 0);
	ck_assert_uint_ne(b->msix_cap, 0);
}

/* What a driver does up to DRIVER_OK, for the receive queue only: every available
 * entry names descriptor 0, one device-writable buffer that any frame fits. */
static void driver_start(struct bed *b)
{
	struct vring_desc d = {BUF_GPA, BUF_LEN, VRING_DESC_F_WRITE, 0};
	const uint8_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	ck_assert_int_eq(mem_write(&b->vm.mem, DESC_GPA, &d, sizeof(d)), 0);
	memset(gpa(b, AVAIL_GPA), 0, 4 + 2 * QSIZE);
	*(uint16_t *)gpa(b, AVAIL_GPA + 2) = QSIZE;

	/* MSI-X on, its vectors still masked: notifications count in the eventfds. */
	cfg_write(b, b->msix_cap + 2, 0x8000, 2);
	wr(b, b->common + VIRTIO_PCI_COMMON_STATUS, 0, 1);
	wr(b, b->common + VIRTIO_PCI_COMMON_STATUS, s, 1);
	wr(b, b->common + VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_GF, 1u << VIRTIO_NET_F_STATUS, 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_GF, 1u << (VIRTIO_F_VERSION_1 - 32), 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_STATUS, s | VIRTIO_CONFIG_S_FEATURES_OK, 1);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_SIZE, QSIZE, 2);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_MSIX, RX_VECTOR, 2);
	ck_assert_uint_eq(rd(b, b->common + VIRTIO_PCI_COMMON_Q_MSIX, 2), RX_VECTOR);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_DESCLO, DESC_GPA, 8);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_AVAILLO, AVAIL_GPA, 8);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_USEDLO, USED_GPA, 8);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	/* The transmit queue, small: only tap_gone sends on it. */
	memset(gpa(b, TX_AVAIL), 0, 4 + 2 * 16);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_SIZE, 16, 2);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_DESCLO, TX_DESC, 8);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_AVAILLO, TX_AVAIL, 8);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_USEDLO, TX_USED, 8);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	wr(b, b->common + VIRTIO_PCI_COMMON_STATUS,
	   s | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK, 1);
	ck_assert_uint_eq(rd(b, b->common + VIRTIO_PCI_COMMON_STATUS, 1) & 0x4f, 0x0f);
}

static uint16_t used_idx(struct bed *b)
{
	return __atomic_load_n((uint16_t *)gpa(b, USED_GPA + 2), __ATOMIC_ACQUIRE);
}

/* The guest's side: hands every used buffer straight back, so that the receive queue
 * stays full however fast frames come, and notifies the device (as a driver must: it
 * waits for a notification once it has found the queue empty) until told to stop. */
static void *guest_thread(void *arg)
{
	struct bed *b = arg;
	uint16_t *avail = gpa(b, AVAIL_GPA + 2);

	while (!b->guest_stop) {
		__atomic_store_n(avail, (uint16_t)(used_idx(b) + QSIZE), __ATOMIC_RELEASE);
		pthread_mutex_lock(&b->kick_lock);
		if (b->kick)
			wr(b, b->notify, 0, 2);
		pthread_mutex_unlock(&b->kick_lock);
		nanosleep(&(struct timespec){0, 20000}, NULL);
	}
	return NULL;
}

static struct bed *bed_create(void)
{
	const gpa_t base = 0;
	const uint64_t size = RAM;
	struct config_net net = {.name = "eth0", .mac = {0x52, 0x54, 0, 0x12, 0x34, 0x56}};
	struct bed *b = calloc(1, sizeof(*b));

	ck_assert_ptr_nonnull(b);
	pthread_mutex_init(&b->kick_lock, NULL);
	snprintf(net.tap, sizeof(net.tap), "%s", tap_name);
	b->vm.vm_fd = -1;
	bus_init(&b->vm.pio, "pio");
	bus_init(&b->vm.mmio, "mmio");
	ck_assert_int_eq(mem_init(&b->vm.mem, &base, &size, 1, 0), 0);
	ck_assert_int_eq(pci_init(&b->vm, &vt_windows), 0);
	ck_assert_int_eq(virtio_net_create(&b->vm, &net, &b->vd), 0);
	find_caps(b);
	return b;
}

/* As vm_destroy() does once the vCPUs have stopped, then the VM itself. */
static void bed_destroy(struct bed *b)
{
	virtio_dev_destroy(b->vd);
	pci_destroy(&b->vm);
	if (b->guest_started) {
		b->guest_stop = true;
		pthread_join(b->guest, NULL);
	}
	pthread_mutex_destroy(&b->kick_lock);
	mem_destroy(&b->vm.mem);
	bus_destroy(&b->vm.pio);
	bus_destroy(&b->vm.mmio);
	free(b);
}

START_TEST(destroy_while_receiving)
{
	char log[] = "/tmp/minivmm-net-log-XXXXXX";
	int log_fd, saved_stderr;
	struct flood f;

	if (tap_skip)
		UNIT_SKIP(tap_skip);
	/* Every round logs the same lines (the device's slot, no ioeventfds without KVM):
	 * after the first they go to a file, named here so that a crash report in it (ASan
	 * writes to stderr) can be found. Removed when the test passes. */
	log_fd = mkstemp(log);
	ck_assert_int_ge(log_fd, 0);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ge(saved_stderr, 0);
	fprintf(stderr, "%s: messages of rounds 2-%d go to %s\n", __func__, ROUNDS, log);
	flood_start(&f);
	for (int round = 0; round < ROUNDS; round++) {
		struct bed *b;
		uint16_t start;
		int i;

		if (round == 1)
			ck_assert_int_ge(dup2(log_fd, STDERR_FILENO), 0);
		b = bed_create();
		driver_start(b);
		start = used_idx(b);
		b->kick = true;
		ck_assert_int_eq(pthread_create(&b->guest, NULL, guest_thread, b), 0);
		b->guest_started = true;
		for (i = 0; i < 5000 && (uint16_t)(used_idx(b) - start) < MIN_FRAMES; i++)
			nanosleep(&(struct timespec){0, 1000000}, NULL);
		ck_assert_msg((uint16_t)(used_idx(b) - start) >= MIN_FRAMES,
			      "round %d: only %u frames reached the receive queue", round,
			      (unsigned int)(uint16_t)(used_idx(b) - start));
		/* As vm_destroy() does once the vCPUs have stopped: frames still coming in,
		 * and receive buffers for them (the guest thread keeps the ring full, which
		 * only touches guest RAM). */
		pthread_mutex_lock(&b->kick_lock);
		b->kick = false;
		pthread_mutex_unlock(&b->kick_lock);
		bed_destroy(b);
	}
	flood_stop(&f);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	close(log_fd);
	unlink(log);
}
END_TEST

/* What `ip link del TAP` does: RTM_DELLINK over rtnetlink, waiting for the answer. */
static int tap_delete(void)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = {.h = {.nlmsg_len = sizeof(req),
		       .nlmsg_type = RTM_DELLINK,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK,
		       .nlmsg_seq = 1},
		 .i = {.ifi_family = AF_UNSPEC, .ifi_index = (int)if_nametoindex(tap_name)}};
	struct {
		struct nlmsghdr h;
		struct nlmsgerr e;
	} ack;
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), ret = -EIO;

	if (s < 0)
		return -errno;
	if (req.i.ifi_index <= 0)
		ret = -ENODEV;
	else if (send(s, &req, sizeof(req), 0) == (ssize_t)sizeof(req) &&
		 recv(s, &ack, sizeof(ack), 0) >= (ssize_t)sizeof(ack.h) &&
		 ack.h.nlmsg_type == NLMSG_ERROR)
		ret = ack.e.error;
	close(s);
	return ret;
}

static double cpu_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Whether MSI-X vector v is pending (masked and signalled): the PBA, as a driver sees
 * it through the BAR the capability names. */
static bool msix_pending(struct bed *b, unsigned int v)
{
	uint32_t pba = cfg_read(b, b->msix_cap + 8, 4), bar = pba & 7;
	uint64_t addr = (cfg_read(b, 0x10 + 4 * bar, 4) & ~0xfu) |
			(uint64_t)cfg_read(b, 0x14 + 4 * bar, 4) << 32;

	return rd(b, addr + (pba & ~7u) + v / 64 * 8, 8) >> (v % 64) & 1;
}

static uint16_t link_status(struct bed *b)
{
	return (uint16_t)rd(b, b->device + offsetof(struct virtio_net_config, status), 2);
}

/* Issue 14: the tap is deleted on the host under a running device. The receive thread
 * must stop polling it (it used to spin on POLLERR at 100% CPU), the guest must see its
 * link go down with a config interrupt, transmitting must drop frames, and the device
 * must still go away cleanly. */
START_TEST(tap_gone)
{
	struct virtio_net_hdr_v1 hdr = {0};
	uint8_t frame[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0x12, 0x34, 0x56};
	struct vring_desc d[2] = {{TX_BUF, sizeof(hdr), VRING_DESC_F_NEXT, 1},
				  {TX_BUF + 64, sizeof(frame), 0, 0}};
	struct bed *b;
	double cpu;
	int i, ret;

	if (tap_skip)
		UNIT_SKIP(tap_skip);
	b = bed_create();
	wr(b, b->common + VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
	ck_assert_msg(rd(b, b->common + VIRTIO_PCI_COMMON_DF, 4) & (1u << VIRTIO_NET_F_STATUS),
		      "VIRTIO_NET_F_STATUS not offered: the guest cannot see the link go down");
	driver_start(b);
	wr(b, b->common + VIRTIO_PCI_COMMON_MSIX, 0, 2); /* config changes: vector 0 */
	ck_assert_uint_eq(rd(b, b->common + VIRTIO_PCI_COMMON_MSIX, 2), 0);
	ck_assert_uint_eq(link_status(b) & VIRTIO_NET_S_LINK_UP, VIRTIO_NET_S_LINK_UP);
	ck_assert(!msix_pending(b, 0));

	ret = tap_delete();
	ck_assert_msg(ret == 0, "cannot delete tap %s: %s", tap_name, strerror(-ret));
	nanosleep(&(struct timespec){0, 100000000}, NULL);
	/* The test thread sleeps and nothing else runs: the process's CPU time is the
	 * device's threads'. A spinning receive thread takes the whole second. */
	cpu = cpu_seconds();
	nanosleep(&(struct timespec){1, 0}, NULL);
	cpu = cpu_seconds() - cpu;
	ck_assert_msg(cpu < 0.05, "%.3f s of CPU in 1 s with the tap gone: spinning", cpu);

	ck_assert_msg(!(link_status(b) & VIRTIO_NET_S_LINK_UP), "the link still reads up");
	ck_assert_msg(msix_pending(b, 0), "no config-change interrupt for the link change");

	/* Transmit on the dead tap: the frame is dropped and its buffer returned. */
	ck_assert_int_eq(mem_write(&b->vm.mem, TX_DESC, d, sizeof(d)), 0);
	ck_assert_int_eq(mem_write(&b->vm.mem, TX_BUF, &hdr, sizeof(hdr)), 0);
	ck_assert_int_eq(mem_write(&b->vm.mem, TX_BUF + 64, frame, sizeof(frame)), 0);
	*(uint16_t *)gpa(b, TX_AVAIL + 4) = 0;
	__atomic_store_n((uint16_t *)gpa(b, TX_AVAIL + 2), 1, __ATOMIC_RELEASE);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
	wr(b, b->notify + rd(b, b->common + VIRTIO_PCI_COMMON_Q_NOFF, 2) * (uint64_t)b->notify_mult,
	   1, 2);
	for (i = 0;
	     i < 2000 && __atomic_load_n((uint16_t *)gpa(b, TX_USED + 2), __ATOMIC_ACQUIRE) != 1;
	     i++)
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	ck_assert_msg(i < 2000, "the transmit buffer was never returned");

	bed_destroy(b);
}
END_TEST

Suite *virtio_net_suite(void)
{
	Suite *s = suite_create("virtio_net");
	TCase *tc = tcase_create("teardown");

	tcase_add_unchecked_fixture(tc, tap_setup, tap_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, destroy_while_receiving);
	suite_add_tcase(s, tc);
	/* Its own tap: the test deletes it (the fixture's teardown then has nothing to
	 * delete, and the next case's setup makes a new one). */
	tc = tcase_create("tap_gone");
	tcase_add_unchecked_fixture(tc, tap_setup, tap_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, tap_gone);
	suite_add_tcase(s, tc);
	return s;
}
