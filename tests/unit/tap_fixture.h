/* A tap device for the unit tests that need one (test_virtio_net.c, test_lifecycle.c):
 * made persistent by an unchecked (parent-side) fixture, so that devices can attach to
 * it and it is deleted even when a test crashes; and a sender that floods it with
 * frames. Needs root and /dev/net/tun; tap_skip says why not otherwise. */
#ifndef MINIVMM_TEST_TAP_FIXTURE_H
#define MINIVMM_TEST_TAP_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/unit.h"

/* The tap, made persistent by the (unchecked, so parent-side) fixture so that the
 * device can attach to it and it is deleted even when a test crashes. */
static char tap_name[IFNAMSIZ];
static const char *tap_skip; /* why the tests cannot run, or NULL */

static int tap_attach(int persist)
{
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", tap_name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, persist) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static void tap_setup(void)
{
	struct ifreq ifr = {0};
	int s;

	tap_skip = NULL;
	if (geteuid() != 0) {
		tap_skip = "needs root to create a tap device";
		return;
	}
	if (access("/dev/net/tun", R_OK | W_OK) != 0) {
		tap_skip = "no usable /dev/net/tun on this machine";
		return;
	}
	snprintf(tap_name, sizeof(tap_name), "mvtap%d", (int)(getpid() % 100000));
	if (tap_attach(1) < 0) {
		tap_skip = "cannot create a persistent tap device (TUNSETIFF/TUNSETPERSIST)";
		return;
	}
	/* Up, so that frames sent on it are queued for its reader (the device). */
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", tap_name);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0))
		tap_skip = "cannot bring the tap device up";
	if (s >= 0)
		close(s);
}

static void tap_teardown(void)
{
	if (tap_name[0] && tap_attach(0) < 0)
		fprintf(stderr, "unit tests: cannot delete tap %s\n", tap_name);
	tap_name[0] = 0;
}

/* Floods the tap with small broadcast frames through a packet socket: whatever is sent
 * out of a tap interface is queued for the process that has the tap open. */
struct flood {
	pthread_t thread;
	int sock;
	_Atomic bool stop;
};

static void *flood_thread(void *arg)
{
	struct flood *f = arg;
	uint8_t frame[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5};

	while (!f->stop)
		if (send(f->sock, frame, sizeof(frame), 0) < 0)
			sched_yield(); /* full queue or no reader yet: try again */
	return NULL;
}

static void flood_start(struct flood *f)
{
	struct sockaddr_ll a = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};

	a.sll_ifindex = (int)if_nametoindex(tap_name);
	ck_assert_int_gt(a.sll_ifindex, 0);
	/* Protocol 0: a send-only socket, which receives nothing. */
	f->sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(f->sock, 0);
	ck_assert_int_eq(bind(f->sock, (struct sockaddr *)&a, sizeof(a)), 0);
	f->stop = false;
	ck_assert_int_eq(pthread_create(&f->thread, NULL, flood_thread, f), 0);
}

static void flood_stop(struct flood *f)
{
	f->stop = true;
	pthread_join(f->thread, NULL);
	close(f->sock);
}

#endif
