/* virtio-net on a host tap device ([net.NAME] tap, mac, queues), or on passt's Unix
 * socket ([net.NAME] passt): user-mode networking, no tap and no privilege needed.
 *
 * Transmit runs on the transport's I/O thread: each chain (virtio_net_hdr + frame) goes
 * to the tap with one writev; the tap understands the header (IFF_VNET_HDR), so the
 * checksum and segmentation offloads the guest negotiated are done by the host kernel.
 * Receive has its own thread: it reads one frame from the tap (header included) into a
 * buffer, and copies it into the next receive chain under vd->lock; while the guest has
 * posted no buffers it stops reading (the tap queues, then drops) and waits for the
 * receive queue's kick, which it asks the driver for (notifications are enabled when
 * the ring runs dry). One queue pair; the structures take more (multiqueue-ready).
 *
 * A tap deleted on the host (`ip link del`) leaves our fd detached: poll() reports
 * POLLERR on it for ever and reads and writes fail with EBADFD. The device then says
 * its link is down (VIRTIO_NET_S_LINK_UP cleared, with a config interrupt), the
 * receive thread stops polling the tap (it only waits for the stop request and kicks)
 * and transmitted frames are dropped, as on an unplugged cable; the VM keeps running.
 *
 * passt: frames go both ways on one stream socket in QEMU's "socket stream" format (a
 * 4-byte big-endian length, then the frame: frame_stream.h), without a virtio-net
 * header, so the device offers no checksum or segmentation offload (passt needs whole,
 * checksummed frames and sends such); on receive the guest gets a zeroed header. A
 * frame is written whole or not at all: one the socket takes only part of is finished
 * before any other (the rest waits in a buffer that the receive thread writes out as
 * soon as the socket has room), and a frame that comes while one is unfinished, or
 * while the socket is full, is dropped, as on a busy wire. Received bytes are buffered
 * until a whole frame is there. passt closing the connection (it exited or was killed)
 * takes the link down as a deleted tap does; the receive thread then tries its socket
 * once a second, and a passt started again there brings the link back up (the stream
 * carries no state beyond the frame in flight, which is dropped).
 *
 * Locking: the receive thread takes vd->lock around ring accesses, like the I/O thread;
 * the passt transmit buffer is only touched under vd->lock. The receive buffers (tap
 * frame, passt stream) belong to the receive thread. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/frame_stream.h"
#include "devices/virtio_backends.h"
#include "devices/virtio_pci.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/machine.h"

#define RXQ	     0
#define TXQ	     1
#define VNET_HDR_LEN 12 /* struct virtio_net_hdr_v1: VERSION_1 always has num_buffers */
#define FRAME_MAX    (VNET_HDR_LEN + 65550)
#define RX_BATCH     64 /* frames delivered per pass of the receive thread */
#define PASST_CLOSED "it closed the connection: exited or killed?"
#define PASST_MTU    1500 /* the guest's largest MTU with passt (virtio_net_create) */

/* The passt connection's buffers. */
struct passt {
	struct frame_rx rx; /* received bytes (the receive thread's) */
	/* The frame being sent: tx[tx_off, tx_len) is still to be written; tx_len 0: none.
	 * Under vd->lock; tx_busy mirrors tx_len != 0 for the receive thread's poll. */
	size_t tx_off, tx_len;
	atomic_bool tx_busy;
	uint8_t tx[FRAME_STREAM_HDR + FRAME_STREAM_MAX];
};

struct vnet {
	struct virtio_dev *vd;
	char name[CONFIG_NAME_MAX + 8];
	char tap_name[IFNAMSIZ];
	char passt_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint8_t mac[6];
	int fd;		  /* the tap, or the socket connected to passt */
	struct passt *ps; /* passt mode; NULL: a tap */
	/* The tap or passt is gone: set once, by whichever thread sees it first; read by
	 * config_read on vCPU threads without a lock. */
	atomic_bool link_down;
	/* Frames dropped: received ones larger than the guest's receive buffer, and
	 * transmitted ones that passt could not take then (or that were malformed). Logged
	 * when the device goes away. */
	atomic_ulong rx_dropped, tx_dropped;
	int rx_kick; /* eventfd: the guest posted receive buffers */
	int stop;    /* eventfd: stop the receive thread */
	pthread_t rx_thread;
	bool rx_running;
	bool offloads_set;
	ssize_t pending; /* bytes of a received frame waiting for a buffer, 0: none */
	struct virtq_chain chain;
	uint8_t frame[FRAME_MAX];
};

static void vnet_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data, uint32_t len)
{
	struct vnet *n = vd->priv;
	uint8_t cfg[12]; /* struct virtio_net_config up to mtu */
	uint16_t status = atomic_load(&n->link_down) ? 0 : VIRTIO_NET_S_LINK_UP;
	uint16_t pairs = 1, mtu = n->ps ? PASST_MTU : 0; /* mtu: with VIRTIO_NET_F_MTU only */

	memcpy(cfg, n->mac, 6);
	memcpy(cfg + 6, &status, 2);
	memcpy(cfg + 8, &pairs, 2);
	memcpy(cfg + 10, &mtu, 2);
	memset(data, 0, len);
	if (off < sizeof(cfg))
		memcpy(data, cfg + off, len < sizeof(cfg) - off ? len : sizeof(cfg) - off);
}

/* The tap's receive offloads follow what the guest accepted; set once it is running
 * (vd->lock held). */
static void vnet_offloads(struct vnet *n)
{
	uint64_t f = n->vd->driver_features;
	unsigned int tun = 0;

	if (n->offloads_set)
		return;
	if (f & (1ULL << VIRTIO_NET_F_GUEST_CSUM)) {
		tun |= TUN_F_CSUM;
		if (f & (1ULL << VIRTIO_NET_F_GUEST_TSO4))
			tun |= TUN_F_TSO4;
		if (f & (1ULL << VIRTIO_NET_F_GUEST_TSO6))
			tun |= TUN_F_TSO6;
	}
	if (!n->ps && ioctl(n->fd, TUNSETOFFLOAD, tun) < 0)
		log_warn("%s: TUNSETOFFLOAD %#x: %m", n->name, tun);
	n->offloads_set = true;
}

/* The tap was deleted under us, or passt went away (why: what showed it): one log
 * line, and the guest is told its link went down. vd->lock held. */
static void vnet_link_down(struct vnet *n, const char *why)
{
	if (atomic_exchange(&n->link_down, true))
		return;
	if (n->ps) {
		atomic_store(&n->ps->tx_busy, false);
		n->ps->tx_len = 0;
		log_warn("%s: lost passt at %s (%s): link down, frames are dropped until it "
			 "is back; start passt again (passt --socket %s) and minivmm "
			 "reconnects within a second",
			 n->name, n->passt_path, why, n->passt_path);
	} else {
		log_warn("%s: tap '%s' is gone (%s; deleted on the host?): link down, frames "
			 "are dropped from now on; recreate the tap and restart the VM to "
			 "reconnect",
			 n->name, n->tap_name, why);
	}
	/* Before DRIVER_OK the driver reads the status when it starts: nothing to say. */
	if (n->vd->status & VIRTIO_CONFIG_S_DRIVER_OK)
		virtio_config_changed(n->vd);
}

/* A read or write error that means the tap itself is gone, not a full or empty queue. */
static bool tap_dead_errno(int err)
{
	return err == EBADFD || err == ENODEV || err == EIO || err == ENXIO;
}

/* Writes what is left of the frame being sent to passt. Returns true once it is all
 * written (or the link is down), false while the socket is full. vd->lock held. */
static bool passt_flush(struct vnet *n)
{
	struct passt *p = n->ps;

	while (p->tx_off < p->tx_len) {
		/* SIGPIPE is ignored process-wide (main.c): a closed socket is EPIPE. */
		ssize_t w = write(n->fd, p->tx + p->tx_off, p->tx_len - p->tx_off);

		if (w > 0) {
			p->tx_off += (size_t)w;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && errno == EAGAIN) {
			return false;
		} else {
			vnet_link_down(n, w < 0 && errno != EPIPE ? strerror(errno) : PASST_CLOSED);
			return true;
		}
	}
	p->tx_len = p->tx_off = 0;
	atomic_store(&p->tx_busy, false);
	return true;
}

/* One frame to passt: the length, then the frame without its virtio-net header, copied
 * out of the guest's buffers first so that a partial write can be finished later. */
static void passt_tx(struct vnet *n, struct virtq_chain *c)
{
	struct passt *p = n->ps;
	size_t len = (size_t)c->out_len - VNET_HDR_LEN;

	if (len < ETH_HLEN || len > FRAME_STREAM_MAX) {
		log_guest("%s: transmit frame of %zu bytes: dropped", n->name, len);
		atomic_fetch_add(&n->tx_dropped, 1);
		return;
	}
	/* Frames never interleave: while one is unfinished, a new one is dropped. */
	if (!passt_flush(n) || atomic_load(&n->link_down)) {
		atomic_fetch_add(&n->tx_dropped, 1);
		return;
	}
	frame_stream_put_len(p->tx, (uint32_t)len);
	iov_to_buf(c->iov, c->nr_out, VNET_HDR_LEN, p->tx + FRAME_STREAM_HDR, len);
	p->tx_off = 0;
	p->tx_len = FRAME_STREAM_HDR + len;
	atomic_store(&p->tx_busy, true);
	if (passt_flush(n) || p->tx_off)
		return; /* sent, or begun: the receive thread finishes it */
	p->tx_len = 0;	/* the socket took none of it: dropped, as on a busy wire */
	atomic_store(&p->tx_busy, false);
	atomic_fetch_add(&n->tx_dropped, 1);
}

static uint32_t vnet_tx_chain(struct virtio_dev *vd, unsigned int q, struct virtq_chain *c)
{
	struct vnet *n = vd->priv;

	(void)q;
	if (c->nr_out == 0 || c->out_len < VNET_HDR_LEN) {
		log_guest("%s: transmit chain without a header", n->name);
		return 0;
	}
	if (atomic_load(&n->link_down))
		return 0; /* no wire: dropped */
	if (n->ps) {
		passt_tx(n, c);
		/* Begun but not finished: the receive thread waits for room to write the
		 * rest, and may be in a poll() that does not wait for it yet. */
		if (atomic_load(&n->ps->tx_busy) && eventfd_write(n->rx_kick, 1) < 0)
			log_err("%s: cannot wake the receive thread: %m", n->name);
		return 0;
	}
	/* A full tap (host side not reading) drops the frame, as a wire would. */
	if (writev(n->fd, c->iov, (int)c->nr_out) < 0 && errno != EAGAIN) {
		if (tap_dead_errno(errno))
			vnet_link_down(n, "write failed");
		else
			log_guest("%s: tap write: %m", n->name);
	}
	return 0;
}

static void vnet_queue_notify(struct virtio_dev *vd, unsigned int q)
{
	struct vnet *n = vd->priv;

	vnet_offloads(n);
	if (q == TXQ)
		virtio_serve_queue(vd, q, vnet_tx_chain);
	else if (eventfd_write(n->rx_kick, 1) < 0)
		log_err("%s: cannot wake the receive thread: %m", n->name);
}

static void vnet_reset(struct virtio_dev *vd)
{
	struct vnet *n = vd->priv;

	n->offloads_set = false;
	/* passt: the frame stays in the stream buffer, which only the receive thread
	 * touches; it is found there again and goes to the driver that comes next. */
	n->pending = 0;
}

/* The pending frame was delivered or dropped: the next one may be read. Receive
 * thread, vd->lock held. */
static void vnet_rx_done(struct vnet *n)
{
	n->pending = 0;
	if (n->ps)
		frame_rx_consume(&n->ps->rx);
}

/* Copies the pending frame into one receive chain. Returns true if it was delivered
 * (or dropped for good), false if the guest has no buffer now. vd->lock held. */
static bool vnet_deliver(struct vnet *n)
{
	struct virtio_dev *vd = n->vd;
	struct virtq *vq = &vd->q[RXQ].vq;
	struct virtq_chain *c = &n->chain;
	size_t done = 0;
	int ret;

	if (vd->frozen)
		return false; /* kept pending: thawing kicks the receive queue */
	if (!(vd->status & VIRTIO_CONFIG_S_DRIVER_OK) || !vq->ready) {
		vnet_rx_done(n); /* nobody to give it to */
		return true;
	}
	virtq_disable_notify(vq);
	ret = virtq_pop(vq, c);
	/* Out of buffers: ask for a kick when the driver adds some, since with EVENT_IDX
	 * it kicks only when avail_event says so (a stale one: never, and receiving would
	 * stop for good), then look once more for buffers added meanwhile. */
	if (ret == 0 && virtq_enable_notify(vq))
		ret = virtq_pop(vq, c);
	if (ret == 0)
		return false;
	if (ret < 0) {
		if (c->head != VIRTQ_NO_HEAD)
			virtq_complete(vq, c, 0);
		virtio_queue_notify_driver(vd, RXQ);
		return false;
	}
	if (c->in_len < (uint64_t)n->pending) {
		atomic_fetch_add(&n->rx_dropped, 1);
		log_guest("%s: receive buffer of %llu bytes for a %zd-byte frame: dropped", n->name,
			  (unsigned long long)c->in_len, n->pending);
	} else if (n->ps) {
		/* No header from passt: a zeroed one (no offloads) with num_buffers 1. */
		uint8_t hdr[VNET_HDR_LEN] = {[10] = 1};
		const uint8_t *frame;
		size_t len;

		frame_rx_peek(&n->ps->rx, &frame, &len);
		done = iov_from_buf(&c->iov[c->nr_out], c->nr_in, 0, hdr, sizeof(hdr));
		done += iov_from_buf(&c->iov[c->nr_out], c->nr_in, sizeof(hdr), frame, len);
	} else {
		/* num_buffers (header bytes 10-11) is 1: no mergeable buffers. */
		n->frame[10] = 1;
		n->frame[11] = 0;
		done = iov_from_buf(&c->iov[c->nr_out], c->nr_in, 0, n->frame, (size_t)n->pending);
	}
	virtq_complete(vq, c, (uint32_t)done);
	virtio_queue_notify_driver(vd, RXQ);
	vnet_rx_done(n);
	return true;
}

/* The next frame from passt into n->pending (header included, as the guest gets it;
 * 0: none yet): one held whole in the stream buffer, else what one read brings.
 * Returns why passt is gone, or NULL. */
static const char *passt_read(struct vnet *n)
{
	struct frame_rx *rx = &n->ps->rx;
	const uint8_t *frame;
	size_t len, room;
	int ret = frame_rx_peek(rx, &frame, &len);

	if (ret == 0) {
		uint8_t *space = frame_rx_space(rx, &room);
		ssize_t got = read(n->fd, space, room);

		if (got == 0)
			return PASST_CLOSED;
		if (got < 0)
			return errno == EAGAIN || errno == EINTR ? NULL : strerror(errno);
		frame_rx_fill(rx, (size_t)got);
		ret = frame_rx_peek(rx, &frame, &len);
	}
	if (ret < 0)
		return "a frame length over 65549 bytes: the stream is out of step";
	n->pending = ret ? (ssize_t)(VNET_HDR_LEN + len) : 0;
	return NULL;
}

/* Reads the next frame into n->pending (its length, 0: none). Returns why the tap or
 * passt is gone, or NULL. */
static const char *vnet_read(struct vnet *n)
{
	if (n->ps)
		return passt_read(n);
	n->pending = read(n->fd, n->frame, sizeof(n->frame));
	if (n->pending >= 0)
		return NULL;
	n->pending = 0;
	return tap_dead_errno(errno) ? "read failed" : NULL;
}

/* Whether a frame can be had without waiting for the fd: passt's stream buffer may
 * hold whole frames that one read brought and that were not delivered yet. */
static bool vnet_buffered(const struct vnet *n)
{
	const uint8_t *frame;
	size_t len;

	return n->ps && frame_rx_peek(&n->ps->rx, &frame, &len) != 0;
}

/* passt went away: a passt started again on the same socket is taken instead (tried
 * once a second by the receive thread, whose filter allows AF_UNIX sockets and connect
 * for this). Both directions move to the new connection under vd->lock, a frame half
 * sent or half received on the old one is dropped, and the guest is told its link is
 * up. Returns whether it connected. */
static bool passt_reconnect(struct vnet *n)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), old;

	memcpy(sa.sun_path, n->passt_path, sizeof(sa.sun_path));
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	pthread_mutex_lock(&n->vd->lock);
	old = n->fd;
	n->fd = fd;
	n->ps->tx_off = n->ps->tx_len = 0;
	atomic_store(&n->ps->tx_busy, false);
	n->ps->rx.start = n->ps->rx.end = 0;
	n->pending = 0;
	atomic_store(&n->link_down, false);
	if (n->vd->status & VIRTIO_CONFIG_S_DRIVER_OK)
		virtio_config_changed(n->vd);
	pthread_mutex_unlock(&n->vd->lock);
	close(old);
	log_info("%s: passt at %s is back: link up", n->name, n->passt_path);
	return true;
}

static void *vnet_rx_thread(void *arg)
{
	struct vnet *n = arg;
	bool fd_ok = true; /* false: only the stop request and kicks are polled */
	uint64_t next_try = 0;

	/* passt's thread may connect to it again: the filter of socket back ends. */
	if (!machine_thread_enter(n->vd->mach,
				  n->ps ? SECCOMP_THREAD_IO_VHOST : SECCOMP_THREAD_IO_NET, n->name))
		return NULL;
	struct pollfd p[3] = {{.fd = n->stop, .events = POLLIN},
			      {.fd = n->rx_kick, .events = POLLIN},
			      {.fd = n->fd, .events = 0}};

	for (;;) {
		const char *gone = NULL;      /* why the tap or passt is dead, if it is */
		bool ready = false;	      /* a frame is there without reading the fd */
		bool retry = !fd_ok && n->ps; /* passt is gone: try it again meanwhile */
		eventfd_t v;
		int ret;

		/* Only read while a frame can go somewhere; wait for room while a frame to
		 * passt is half-written. POLLERR and POLLHUP come whether asked for or not
		 * (so a back end that dies is seen even while a frame waits for a guest
		 * buffer): a deleted tap reports them for ever, passt's socket once it
		 * closed. */
		p[2].events = 0;
		p[2].revents = 0;
		if (fd_ok && !n->pending) {
			p[2].events = POLLIN;
			ready = vnet_buffered(n);
		}
		if (fd_ok && n->ps && atomic_load(&n->ps->tx_busy))
			p[2].events |= POLLOUT;
		ret =
		    poll(p, fd_ok ? 3 : 2, ready ? 0 : virtio_reconnect_timeout(&next_try, retry));
		if (ret < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		if (retry && virtio_reconnect_due(&next_try)) {
			fd_ok = passt_reconnect(n);
			p[2].fd = n->fd;
			continue; /* a kick poll saw is still there next round */
		}
		if (p[1].revents)
			eventfd_read(n->rx_kick, &v);
		if (p[2].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			gone = n->ps ? PASST_CLOSED : "poll error";
		} else {
			if (p[2].revents & POLLOUT) {
				pthread_mutex_lock(&n->vd->lock);
				passt_flush(n);
				pthread_mutex_unlock(&n->vd->lock);
			}
			if (!n->pending && (ready || (p[2].revents & POLLIN)))
				gone = vnet_read(n);
		}
		if (n->pending && !gone) {
			pthread_mutex_lock(&n->vd->lock);
			for (unsigned int done = 0; n->pending && vnet_deliver(n);) {
				/* Back to poll() after a batch, with no frame pending, so that
				 * a stop request is seen even while frames and buffers keep
				 * coming. */
				if (++done == RX_BATCH)
					break;
				gone = vnet_read(n);
				if (gone)
					break;
			}
			pthread_mutex_unlock(&n->vd->lock);
		}
		if (gone && fd_ok) {
			fd_ok = false;
			n->pending = 0;
			pthread_mutex_lock(&n->vd->lock);
			vnet_link_down(n, gone);
			pthread_mutex_unlock(&n->vd->lock);
		}
		/* The link went down on the transmit side: stop polling the fd too. */
		if (atomic_load(&n->link_down))
			fd_ok = false;
	}
	return NULL;
}

static void vnet_destroy(void *priv)
{
	struct vnet *n = priv;
	unsigned long rx, tx;

	if (n->rx_running) {
		eventfd_write(n->stop, 1);
		pthread_join(n->rx_thread, NULL);
	}
	rx = atomic_load(&n->rx_dropped);
	tx = atomic_load(&n->tx_dropped);
	if (rx || tx)
		log_info("%s: %lu received frames dropped (larger than the guest's receive "
			 "buffer), %lu transmitted frames dropped (%s)",
			 n->name, rx, tx, n->ps ? "passt busy, or malformed" : "malformed");
	if (n->fd >= 0)
		close(n->fd);
	if (n->rx_kick >= 0)
		close(n->rx_kick);
	if (n->stop >= 0)
		close(n->stop);
	free(n->ps);
	free(n);
}

static const struct virtio_backend_ops vnet_ops = {
    .name = "virtio-net",
    .device_id = 1,
    .pci_class = 0x020000,
    .nr_queues = 2,
    .queue_size = 256,
    .config_size = 12,
    .config_read = vnet_config_read,
    .queue_notify = vnet_queue_notify,
    .reset = vnet_reset,
    .io_kind = SECCOMP_THREAD_IO_NET, /* TUNSETOFFLOAD once features are known */
    .destroy = vnet_destroy,
};

static int vnet_open_tap(struct vnet *n, const char *ifname)
{
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
	int hdr = VNET_HDR_LEN, ret;

	n->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (n->fd < 0) {
		ret = -errno;
		log_err("%s: cannot open /dev/net/tun: %s (is the tun module loaded?)", n->name,
			strerror(-ret));
		return ret;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(n->fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		log_err("%s: cannot attach to tap '%s': %s; create it first with: ip tuntap add "
			"%s mode tap user $(id -un) && ip link set %s up",
			n->name, ifname, strerror(-ret), ifname, ifname);
		return ret;
	}
	if (ioctl(n->fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		ret = -errno;
		log_err("%s: TUNSETVNETHDRSZ: %s", n->name, strerror(-ret));
		return ret;
	}
	return 0;
}

/* Connects to passt's socket, on the main thread (seccomp allows AF_UNIX sockets and
 * connect there only). Non-blocking from the start: connecting to a listener whose
 * backlog is full fails (EAGAIN) instead of hanging the VM's creation. */
static int vnet_connect_passt(struct vnet *n, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("%s: passt socket %s: the path is too long for a socket", n->name, path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	strcpy(n->passt_path, path);
	n->ps = calloc(1, sizeof(*n->ps));
	if (!n->ps)
		return -ENOMEM;
	n->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (n->fd < 0)
		return -errno;
	if (connect(n->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		log_err("%s: cannot connect to passt at %s: %s; start it first, as the user that "
			"runs minivmm: passt --socket %s%s",
			n->name, path, strerror(-ret), path,
			ret == -EAGAIN ? " (it accepts no connection: stopped or hung?)" : "");
		return ret;
	}
	return 0;
}

int virtio_net_create(struct machine *mach, const struct config_net *cfg, struct virtio_dev **out)
{
	uint64_t features = 1ULL << VIRTIO_NET_F_MAC | 1ULL << VIRTIO_NET_F_STATUS;
	struct vnet *n = calloc(1, sizeof(*n));
	int ret;

	if (!n)
		return -ENOMEM;
	n->fd = n->rx_kick = n->stop = -1;
	snprintf(n->name, sizeof(n->name), "net.%s", cfg->name);
	memcpy(n->mac, cfg->mac, 6);
	snprintf(n->tap_name, sizeof(n->tap_name), "%s", cfg->tap);
	if (cfg->passt[0]) {
		/* Whole frames both ways: passt takes no virtio-net header, so nothing
		 * the guest could leave undone (checksums, segmentation) is offered. And
		 * an MTU: passt's DHCP offers 65520, which some guests apply (dhclient
		 * does), but without segmentation offloads or mergeable buffers a Linux
		 * guest posts receive buffers for 1518-byte frames, and the larger
		 * segments passt would then send it are dropped here. */
		features |= 1ULL << VIRTIO_NET_F_MTU;
		ret = vnet_connect_passt(n, cfg->passt);
	} else {
		features |= 1ULL << VIRTIO_NET_F_CSUM | 1ULL << VIRTIO_NET_F_GUEST_CSUM |
			    1ULL << VIRTIO_NET_F_HOST_TSO4 | 1ULL << VIRTIO_NET_F_HOST_TSO6 |
			    1ULL << VIRTIO_NET_F_GUEST_TSO4 | 1ULL << VIRTIO_NET_F_GUEST_TSO6;
		ret = vnet_open_tap(n, cfg->tap);
	}
	if (ret < 0)
		goto err;
	n->rx_kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	n->stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->rx_kick < 0 || n->stop < 0) {
		ret = -errno;
		goto err;
	}
	ret = virtio_dev_create(mach, &vnet_ops, n, features, n->name, out);
	if (ret < 0)
		goto err;
	n->vd = *out;
	/* From here the device owns n: virtio_dev_destroy runs vnet_destroy. */
	ret = -pthread_create(&n->rx_thread, NULL, vnet_rx_thread, n);
	if (ret < 0) {
		log_err("%s: cannot start its receive thread: %s", n->name, strerror(-ret));
		virtio_dev_destroy(*out);
		*out = NULL;
		return ret;
	}
	n->rx_running = true;
	return 0;
err:
	vnet_destroy(n);
	return ret;
}
