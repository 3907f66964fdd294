/* virtio-net teardown with traffic in flight (issue 13): the device is created on a
 * real tap on a VM without KVM, driven like a guest driver would (receive queue, MSI-X
 * enabled with a vector for it), and destroyed while a sender floods frames into the
 * tap and a "guest" thread keeps the receive queue full of buffers, so that the
 * receive thread is delivering frames, and signalling MSI-X, at the moment the device
 * goes away. Any state freed under a running device thread crashes here (or shows up
 * under ASan). Needs root and /dev/net/tun; skipped, with the reason, without them. */
#include "tests/unit/unit.h"
#include "tests/unit/tap_fixture.h"
#include "tests/unit/net_fixture.h"

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
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "devices/frame_stream.h"
#include "devices/virtio_backends.h"
#include "devices/virtio_pci.h"
#include "vmm/config.h"
#include "vmm/machine.h"
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
		b = bed_create_on(NULL, tap_name);
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
	b = bed_create_on(NULL, tap_name);
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
