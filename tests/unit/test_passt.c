/* The passt back end of virtio-net, through the guest's view of tests/unit/net_fixture.h,
 * on a Unix socket this test listens on in passt's place (no root needed): frames both
 * ways in the length-prefixed stream format, without virtio-net headers; a stream that
 * the guest does not keep up with or that passt does not read stays whole; passt going
 * away takes the link down, and passt started again brings it back. */
#include "tests/unit/unit.h"
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
#define RX_BUFS	  0x40000 /* passt tests: distinct receive buffers, BUF_LEN each */
#define NR_RX	  8	  /* ... for the first NR_RX entries of the receive queue */
#define TXB(k)	  (0x100000 + (uint64_t)(k)*0x20000) /* transmit slot k: header + frame */
#define TX_SLOTS  8	/* two descriptors each in the 16-entry transmit queue */
#define BIG_FRAME 60000 /* split by the kernel into several socket buffers */

/* passt's side: a listener in a fresh folder, and the connection the device makes. */
struct fake_passt {
	char dir[32];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listener, conn;
};

/* passt listening on f->path (again, when it was started again). */
static void fake_passt_bind(struct fake_passt *f)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	unlink(f->path);
	strcpy(sa.sun_path, f->path);
	f->listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(f->listener, 0);
	ck_assert_int_eq(bind(f->listener, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(f->listener, 1), 0);
}

static void fake_passt_listen(struct fake_passt *f)
{
	/* The device writes to a socket whose peer may be gone: as main.c does. */
	signal(SIGPIPE, SIG_IGN);
	strcpy(f->dir, "/tmp/minivmm-passt-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/passt.socket", f->dir);
	fake_passt_bind(f);
	f->conn = -1;
}

static void fake_passt_accept(struct fake_passt *f)
{
	f->conn = accept4(f->listener, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(f->conn, 0);
}

static void fake_passt_close(struct fake_passt *f)
{
	if (f->conn >= 0)
		close(f->conn);
	if (f->listener >= 0)
		close(f->listener);
	unlink(f->path);
	rmdir(f->dir);
}

/* Reads exactly len bytes, waiting at most ms for each part. */
static bool read_full(int fd, void *buf, size_t len, int ms)
{
	for (size_t got = 0; got < len;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, ms) <= 0)
			return false;
		n = read(fd, (uint8_t *)buf + got, len - got);
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

static void write_full(int fd, const void *buf, size_t len)
{
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
}

/* A frame of len bytes whose content says which one it is (seq in its first bytes,
 * the rest a pattern seeded by it). */
static void frame_fill(uint8_t *f, size_t len, uint32_t seq)
{
	for (size_t i = 0; i < len; i++)
		f[i] = (uint8_t)(seq * 31 + i);
	if (len >= 4)
		memcpy(f, &seq, 4);
}

static bool frame_check(const uint8_t *f, size_t len, uint32_t seq)
{
	uint8_t *want = malloc(len + 1);
	bool ok;

	frame_fill(want, len, seq);
	ok = memcmp(f, want, len) == 0;
	free(want);
	return ok;
}

/* A stream record (length, frame) for frame seq of len bytes; returns its size. */
static size_t record_fill(uint8_t *p, size_t len, uint32_t seq)
{
	frame_stream_put_len(p, (uint32_t)len);
	frame_fill(p + FRAME_STREAM_HDR, len, seq);
	return FRAME_STREAM_HDR + len;
}

/* Distinct buffers for the first NR_RX receive entries (driver_start made every entry
 * name descriptor 0), before any frame comes. */
static void rx_buffers(struct bed *b)
{
	for (uint16_t i = 0; i < NR_RX; i++) {
		struct vring_desc d = {RX_BUFS + i * BUF_LEN, BUF_LEN, VRING_DESC_F_WRITE, 0};

		ck_assert_int_eq(mem_write(&b->vm.mem, DESC_GPA + i * sizeof(d), &d, sizeof(d)), 0);
		*(uint16_t *)gpa(b, AVAIL_GPA + 4 + 2 * i) = i;
	}
}

static uint16_t tx_used_idx(struct bed *b)
{
	return __atomic_load_n((uint16_t *)gpa(b, TX_USED + 2), __ATOMIC_ACQUIRE);
}

static void rx_kick(struct bed *b)
{
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
	wr(b, b->notify + rd(b, b->common + VIRTIO_PCI_COMMON_Q_NOFF, 2) * (uint64_t)b->notify_mult,
	   0, 2);
}

static void tx_kick(struct bed *b)
{
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
	wr(b, b->notify + rd(b, b->common + VIRTIO_PCI_COMMON_Q_NOFF, 2) * (uint64_t)b->notify_mult,
	   1, 2);
}

/* Puts frame seq (len bytes) in transmit slot i % TX_SLOTS behind a header full of
 * junk (the device must not pass it on), as one descriptor or as header + frame, and
 * makes it available as entry i. */
static void tx_post(struct bed *b, uint16_t i, size_t len, uint32_t seq, bool one_desc)
{
	uint16_t k = i % TX_SLOTS, d0 = (uint16_t)(2 * k);
	uint64_t at = TXB(k);
	struct vring_desc d[2] = {{at, VNET_HDR_SIZE, VRING_DESC_F_NEXT, (uint16_t)(d0 + 1)},
				  {at + VNET_HDR_SIZE, (uint32_t)len, 0, 0}};

	if (one_desc)
		d[0] = (struct vring_desc){at, (uint32_t)(VNET_HDR_SIZE + len), 0, 0};
	memset(gpa(b, at), 0xee, VNET_HDR_SIZE);
	frame_fill(gpa(b, at + VNET_HDR_SIZE), len, seq);
	ck_assert_int_eq(mem_write(&b->vm.mem, TX_DESC + d0 * sizeof(d[0]), d, sizeof(d)), 0);
	*(uint16_t *)gpa(b, TX_AVAIL + 4 + 2 * (i % 16)) = d0;
	__atomic_store_n((uint16_t *)gpa(b, TX_AVAIL + 2), (uint16_t)(i + 1), __ATOMIC_RELEASE);
}

static void tx_wait(struct bed *b, uint16_t idx)
{
	int i;

	for (i = 0; i < 2000 && tx_used_idx(b) != idx; i++)
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	ck_assert_msg(i < 2000, "transmit buffers not returned (used %u, want %u)",
		      (unsigned int)tx_used_idx(b), (unsigned int)idx);
}

static void rx_wait(struct bed *b, uint16_t idx)
{
	int i;

	for (i = 0; i < 2000 && used_idx(b) != idx; i++)
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	ck_assert_msg(i < 2000, "received frames: %u, want %u", (unsigned int)used_idx(b),
		      (unsigned int)idx);
}

/* Frames both ways: what the guest sends reaches passt as length + frame without the
 * virtio-net header; what passt sends, in whatever pieces, reaches the guest whole
 * behind a zeroed header; a frame larger than the guest's buffer is dropped (returned
 * empty) and the next still arrives. No offload is offered. */
START_TEST(passt_frames)
{
	static const size_t rx_len[] = {60, 1000, 1514, 3000, 100};
	const uint32_t offloads = 1u << VIRTIO_NET_F_CSUM | 1u << VIRTIO_NET_F_GUEST_CSUM |
				  1u << VIRTIO_NET_F_HOST_TSO4 | 1u << VIRTIO_NET_F_HOST_TSO6 |
				  1u << VIRTIO_NET_F_GUEST_TSO4 | 1u << VIRTIO_NET_F_GUEST_TSO6 |
				  1u << VIRTIO_NET_F_HOST_UFO | 1u << VIRTIO_NET_F_GUEST_UFO |
				  1u << VIRTIO_NET_F_MRG_RXBUF;
	uint8_t buf[2 * (FRAME_STREAM_HDR + 3000)], got[FRAME_STREAM_HDR + 100];
	const uint8_t hdr[VNET_HDR_SIZE] = {[10] = 1};
	struct fake_passt f;
	struct bed *b;
	uint32_t df;
	size_t n;

	fake_passt_listen(&f);
	b = bed_create_on(f.path, NULL);
	fake_passt_accept(&f);
	wr(b, b->common + VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
	df = (uint32_t)rd(b, b->common + VIRTIO_PCI_COMMON_DF, 4);
	ck_assert_msg(df & (1u << VIRTIO_NET_F_MAC) && df & (1u << VIRTIO_NET_F_STATUS),
		      "features %#x: no MAC or STATUS", df);
	ck_assert_msg(!(df & offloads), "features %#x offer an offload passt cannot take", df);
	ck_assert_msg(df & (1u << VIRTIO_NET_F_MTU), "features %#x: no MTU", df);
	ck_assert_uint_eq(rd(b, b->device + offsetof(struct virtio_net_config, mtu), 2), 1500);
	driver_start(b);
	rx_buffers(b);

	/* Transmit: header and frame apart, then in one descriptor. */
	tx_post(b, 0, 60, 1, false);
	tx_post(b, 1, 100, 2, true);
	tx_kick(b);
	tx_wait(b, 2);
	ck_assert(read_full(f.conn, got, FRAME_STREAM_HDR + 60, 2000));
	ck_assert_mem_eq(got, "\x00\x00\x00\x3c", 4);
	ck_assert(frame_check(got + FRAME_STREAM_HDR, 60, 1));
	ck_assert(read_full(f.conn, got, FRAME_STREAM_HDR + 100, 2000));
	ck_assert_mem_eq(got, "\x00\x00\x00\x64", 4);
	ck_assert(frame_check(got + FRAME_STREAM_HDR, 100, 2));

	/* Receive: two frames in one write, one in two writes (cut inside the frame),
	 * one too large for the guest's 2 KiB buffers, and one more. */
	n = record_fill(buf, rx_len[0], 10);
	n += record_fill(buf + n, rx_len[1], 11);
	write_full(f.conn, buf, n);
	rx_wait(b, 2);
	n = record_fill(buf, rx_len[2], 12);
	write_full(f.conn, buf, 700);
	nanosleep(&(struct timespec){0, 50000000}, NULL);
	ck_assert_uint_eq(used_idx(b), 2); /* the cut frame waits for its end */
	write_full(f.conn, buf + 700, n - 700);
	n = record_fill(buf, rx_len[3], 13);
	n += record_fill(buf + n, rx_len[4], 14);
	write_full(f.conn, buf, n);
	rx_wait(b, 5);
	for (uint32_t j = 0; j < 5; j++) {
		struct vring_used_elem u;
		const uint8_t *rx = gpa(b, RX_BUFS + j * BUF_LEN);
		size_t want = rx_len[j] + VNET_HDR_SIZE > BUF_LEN ? 0 : rx_len[j] + VNET_HDR_SIZE;

		memcpy(&u, gpa(b, USED_GPA + 4 + j * sizeof(u)), sizeof(u));
		ck_assert_uint_eq(u.id, j);
		ck_assert_msg(u.len == want, "frame %u: %u bytes to the guest, want %zu", j, u.len,
			      want);
		if (!want)
			continue;
		ck_assert_mem_eq(rx, hdr, VNET_HDR_SIZE);
		ck_assert_msg(frame_check(rx + VNET_HDR_SIZE, rx_len[j], 10 + j),
			      "frame %u corrupted", j);
	}
	bed_destroy(b);
	fake_passt_close(&f);
}
END_TEST

/* The guest posts few receive buffers and, as Linux does with EVENT_IDX, notifies the
 * device only when the avail_event the device wrote asks for it: once the buffers run
 * out, the device must ask (it used to leave avail_event stale, waited for a kick that
 * never came, and receiving stopped for good under load). Every frame arrives, in
 * order, as buffers are added two at a time. */
START_TEST(passt_rx_refill)
{
	const uint16_t frames = 6;
	uint16_t *avail_idx, *ring, avail = 2;
	uint8_t buf[FRAME_STREAM_HDR + 100];
	struct fake_passt f;
	struct bed *b;

	fake_passt_listen(&f);
	b = bed_create_on(f.path, NULL);
	fake_passt_accept(&f);
	driver_start_features(b, 1u << VIRTIO_NET_F_STATUS | 1u << VIRTIO_RING_F_EVENT_IDX);
	rx_buffers(b);
	/* Two buffers only (the device has popped none yet: nothing came). */
	avail_idx = gpa(b, AVAIL_GPA + 2);
	ring = gpa(b, AVAIL_GPA + 4);
	__atomic_store_n(avail_idx, avail, __ATOMIC_RELEASE);
	for (uint32_t j = 0; j < frames; j++)
		write_full(f.conn, buf, record_fill(buf, 100, 20 + j));
	rx_wait(b, 2);
	while (avail < frames) {
		uint16_t old = avail, event;

		nanosleep(&(struct timespec){0, 50000000}, NULL);
		ck_assert_uint_eq(used_idx(b), avail); /* waiting for buffers */
		ring[avail] = avail;
		ring[avail + 1] = (uint16_t)(avail + 1);
		avail = (uint16_t)(avail + 2);
		__atomic_store_n(avail_idx, avail, __ATOMIC_SEQ_CST);
		/* used ring: flags, idx, ring[QSIZE], then avail_event */
		event =
		    __atomic_load_n((uint16_t *)gpa(b, USED_GPA + 4 + 8 * QSIZE), __ATOMIC_SEQ_CST);
		if (vring_need_event(event, avail, old))
			wr(b, b->notify, 0, 2);
		rx_wait(b, avail);
	}
	for (uint32_t j = 0; j < frames; j++) {
		const uint8_t *rx = gpa(b, RX_BUFS + j * BUF_LEN);

		ck_assert_msg(frame_check(rx + VNET_HDR_SIZE, 100, 20 + j), "frame %u", j);
	}
	bed_destroy(b);
	fake_passt_close(&f);
}
END_TEST

/* passt does not read for a while (its socket fills) while the guest sends large
 * frames: some are dropped, but what passt reads afterwards is a clean stream of whole
 * frames in order, ending on a frame boundary (a frame the socket took only part of is
 * finished once there is room), and a frame sent after that arrives whole. */
START_TEST(passt_backpressure)
{
	const uint16_t nr = 96;
	const size_t cap = 16 << 20;
	uint8_t *in = malloc(cap);
	struct fake_passt f;
	struct bed *b;
	size_t have = 0, off = 0, len;
	uint32_t frames = 0, last = 0;
	ssize_t rec;
	int queued;

	ck_assert_ptr_nonnull(in);
	fake_passt_listen(&f);
	b = bed_create_on(f.path, NULL);
	fake_passt_accept(&f);
	driver_start(b);
	for (uint16_t i = 0; i < nr; i += TX_SLOTS) {
		for (uint16_t k = 0; k < TX_SLOTS; k++)
			tx_post(b, (uint16_t)(i + k), BIG_FRAME, (uint32_t)(i + k + 1), k & 1);
		tx_kick(b);
		tx_wait(b, (uint16_t)(i + TX_SLOTS));
	}
	/* Whether the socket took part of a frame (not asserted: it depends on how the
	 * kernel sizes socket buffers; 4 bytes of length and BIG_FRAME each). */
	ck_assert_int_eq(ioctl(f.conn, FIONREAD, &queued), 0);
	fprintf(stderr, "%s: %d bytes queued: %s\n", __func__, queued,
		queued % (FRAME_STREAM_HDR + BIG_FRAME) ? "a frame was cut short by the full socket"
							: "whole frames only");
	/* Now read everything there is, as passt would once it runs again. */
	for (;;) {
		struct pollfd p = {.fd = f.conn, .events = POLLIN};
		ssize_t r;

		if (poll(&p, 1, 500) <= 0)
			break;
		r = read(f.conn, in + have, cap - have);
		ck_assert_int_gt(r, 0);
		have += (size_t)r;
	}
	while ((rec = frame_stream_next(in + off, have - off, &len)) > 0) {
		uint32_t seq;

		ck_assert_uint_eq(len, BIG_FRAME);
		memcpy(&seq, in + off + FRAME_STREAM_HDR, 4);
		ck_assert_msg(seq > last, "frame %u after frame %u", seq, last);
		ck_assert_msg(frame_check(in + off + FRAME_STREAM_HDR, len, seq),
			      "frame %u corrupted", seq);
		last = seq;
		frames++;
		off += (size_t)rec;
	}
	ck_assert_msg(off == have, "%zu bytes after the last whole frame", have - off);
	ck_assert_uint_gt(frames, 0);
	ck_assert_msg(frames < nr, "all %u frames passed a socket nobody read", frames);
	fprintf(stderr, "%s: %u of %u frames of %d bytes reached passt, in step\n", __func__,
		frames, nr, BIG_FRAME);
	/* The stream is still in step: one more frame arrives whole. */
	tx_post(b, nr, BIG_FRAME, 1000, false);
	tx_kick(b);
	tx_wait(b, (uint16_t)(nr + 1));
	ck_assert(read_full(f.conn, in, FRAME_STREAM_HDR + BIG_FRAME, 2000));
	ck_assert_int_eq(frame_stream_next(in, FRAME_STREAM_HDR + BIG_FRAME, &len),
			 FRAME_STREAM_HDR + BIG_FRAME);
	ck_assert(frame_check(in + FRAME_STREAM_HDR, BIG_FRAME, 1000));
	bed_destroy(b);
	fake_passt_close(&f);
	free(in);
}
END_TEST

/* passt exits: the guest sees its link go down with a config interrupt, the receive
 * thread does not spin, transmitted frames are dropped, one log line names the socket
 * and how to recover. passt started again on the same socket: the link comes back up
 * within the retry second although the guest keeps notifying the receive queue all
 * along (its kicks must not put the retry off), with one log line, and frames go both
 * ways on the new connection. The device still goes away cleanly. */
START_TEST(passt_gone)
{
	char log[] = "/tmp/minivmm-passt-log-XXXXXX", text[4096] = "", buf[FRAME_STREAM_HDR + 100];
	uint8_t got[FRAME_STREAM_HDR + 60];
	struct fake_passt f;
	struct bed *b;
	int log_fd, saved_stderr, lines = 0, i;
	double cpu;
	ssize_t n;

	fake_passt_listen(&f);
	b = bed_create_on(f.path, NULL);
	fake_passt_accept(&f);
	driver_start(b);
	wr(b, b->common + VIRTIO_PCI_COMMON_MSIX, 0, 2); /* config changes: vector 0 */
	ck_assert_uint_eq(link_status(b) & VIRTIO_NET_S_LINK_UP, VIRTIO_NET_S_LINK_UP);
	ck_assert(!msix_pending(b, 0));

	log_fd = mkstemp(log);
	ck_assert_int_ge(log_fd, 0);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ge(dup2(log_fd, STDERR_FILENO), 0);
	close(f.conn); /* passt is killed: no process, its socket file left behind */
	close(f.listener);
	f.conn = f.listener = -1;
	nanosleep(&(struct timespec){0, 100000000}, NULL);
	cpu = cpu_seconds();
	nanosleep(&(struct timespec){1, 0}, NULL);
	cpu = cpu_seconds() - cpu;
	ck_assert_msg(cpu < 0.05, "%.3f s of CPU in 1 s with passt gone: spinning", cpu);
	ck_assert_msg(!(link_status(b) & VIRTIO_NET_S_LINK_UP), "the link still reads up");
	ck_assert_msg(msix_pending(b, 0), "no config-change interrupt for the link change");

	tx_post(b, 0, 60, 1, false);
	tx_kick(b);
	tx_wait(b, 1);

	rx_buffers(b);
	fake_passt_bind(&f);
	for (i = 0; i < 60 && !(link_status(b) & VIRTIO_NET_S_LINK_UP); i++) {
		rx_kick(b); /* a busy guest */
		nanosleep(&(struct timespec){0, 50000000}, NULL);
	}
	ck_assert_msg(i < 60, "the link is still down 3 s after passt came back");
	fake_passt_accept(&f);
	n = (ssize_t)record_fill((uint8_t *)buf, 100, 21);
	write_full(f.conn, buf, (size_t)n);
	rx_wait(b, 1);
	ck_assert(frame_check(gpa(b, RX_BUFS) + VNET_HDR_SIZE, 100, 21));
	tx_post(b, 1, 60, 22, false);
	tx_kick(b);
	tx_wait(b, 2);
	ck_assert(read_full(f.conn, got, sizeof(got), 2000));
	ck_assert(frame_check(got + FRAME_STREAM_HDR, 60, 22));
	bed_destroy(b);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	n = pread(log_fd, text, sizeof(text) - 1, 0);
	close(log_fd);
	unlink(log);
	ck_assert_int_ge(n, 0);
	fprintf(stderr, "%s", text);
	for (char *l = strstr(text, "lost passt"); l; l = strstr(l + 1, "lost passt"))
		lines++;
	ck_assert_msg(lines == 1, "%d 'lost passt' lines in the log", lines);
	ck_assert_msg(strstr(text, f.path) && strstr(text, "passt --socket"),
		      "the log line names neither the socket nor the fix");
	ck_assert_msg(strstr(text, "is back: link up"), "no log line for the reconnection");
	fake_passt_close(&f);
}
END_TEST

/* No passt listening: the device is not created, and the message says how to start it. */
START_TEST(passt_absent)
{
	struct config_net net = {.name = "eth0", .mac = {0x52, 0x54, 0, 0x12, 0x34, 0x56}};
	char log[] = "/tmp/minivmm-passt-log-XXXXXX", text[1024] = "";
	struct machine *vm = calloc(1, sizeof(*vm));
	struct virtio_dev *vd = NULL;
	int log_fd, saved_stderr, ret;

	ck_assert_ptr_nonnull(vm);
	snprintf(net.passt, sizeof(net.passt), "/nonexistent/passt.socket");
	log_fd = mkstemp(log);
	ck_assert_int_ge(log_fd, 0);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ge(dup2(log_fd, STDERR_FILENO), 0);
	ret = virtio_net_create(vm, &net, &vd);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	ck_assert_int_ge(pread(log_fd, text, sizeof(text) - 1, 0), 0);
	close(log_fd);
	unlink(log);
	ck_assert_int_eq(ret, -ENOENT);
	ck_assert_ptr_null(vd);
	ck_assert_msg(strstr(text, "cannot connect to passt at /nonexistent/passt.socket") &&
			  strstr(text, "passt --socket /nonexistent/passt.socket"),
		      "message: %s", text);
	free(vm);
}
END_TEST

Suite *passt_suite(void)
{
	Suite *s = suite_create("passt");
	TCase *tc = tcase_create("passt");

	/* A socket in passt's place: no root needed. */
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, passt_frames);
	tcase_add_test(tc, passt_rx_refill);
	tcase_add_test(tc, passt_backpressure);
	tcase_add_test(tc, passt_gone);
	tcase_add_test(tc, passt_absent);
	suite_add_tcase(s, tc);
	return s;
}
