/* virtio-net on a host tap device ([net.NAME] tap, mac, queues).
 *
 * Transmit runs on the transport's I/O thread: each chain (virtio_net_hdr + frame) goes
 * to the tap with one writev; the tap understands the header (IFF_VNET_HDR), so the
 * checksum and segmentation offloads the guest negotiated are done by the host kernel.
 * Receive has its own thread: it reads one frame from the tap (header included) into a
 * buffer, and copies it into the next receive chain under vd->lock; while the guest has
 * posted no buffers it stops reading (the tap queues, then drops) and waits for the
 * receive queue's kick. One queue pair; the structures take more (multiqueue-ready).
 *
 * A tap deleted on the host (`ip link del`) leaves our fd detached: poll() reports
 * POLLERR on it for ever and reads and writes fail with EBADFD. The device then says
 * its link is down (VIRTIO_NET_S_LINK_UP cleared, with a config interrupt), the
 * receive thread stops polling the tap (it only waits for the stop request and kicks)
 * and transmitted frames are dropped, as on an unplugged cable; the VM keeps running.
 *
 * Locking: the receive thread takes vd->lock around ring accesses, like the I/O thread. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

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

struct vnet {
	struct virtio_dev *vd;
	char name[CONFIG_NAME_MAX + 8];
	char tap_name[IFNAMSIZ];
	uint8_t mac[6];
	int tap;
	/* The tap is gone: set once, by whichever thread sees it first; read by
	 * config_read on vCPU threads without a lock. */
	atomic_bool link_down;
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
	uint8_t cfg[8];
	uint16_t status = atomic_load(&n->link_down) ? 0 : VIRTIO_NET_S_LINK_UP;

	memcpy(cfg, n->mac, 6);
	memcpy(cfg + 6, &status, 2);
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
	if (ioctl(n->tap, TUNSETOFFLOAD, tun) < 0)
		log_warn("%s: TUNSETOFFLOAD %#x: %m", n->name, tun);
	n->offloads_set = true;
}

/* The tap was deleted under us (why: what showed it): one log line, and the guest is
 * told its link went down. vd->lock held. */
static void vnet_link_down(struct vnet *n, const char *why)
{
	if (atomic_exchange(&n->link_down, true))
		return;
	log_warn("%s: tap '%s' is gone (%s; deleted on the host?): link down, frames are "
		 "dropped from now on; recreate the tap and restart the VM to reconnect",
		 n->name, n->tap_name, why);
	/* Before DRIVER_OK the driver reads the status when it starts: nothing to say. */
	if (n->vd->status & VIRTIO_CONFIG_S_DRIVER_OK)
		virtio_config_changed(n->vd);
}

/* A read or write error that means the tap itself is gone, not a full or empty queue. */
static bool tap_dead_errno(int err)
{
	return err == EBADFD || err == ENODEV || err == EIO || err == ENXIO;
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
	/* A full tap (host side not reading) drops the frame, as a wire would. */
	if (writev(n->tap, c->iov, (int)c->nr_out) < 0 && errno != EAGAIN) {
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
	n->pending = 0;
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
		n->pending = 0; /* nobody to give it to */
		return true;
	}
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
		log_guest("%s: receive buffer of %llu bytes for a %zd-byte frame: dropped", n->name,
			  (unsigned long long)c->in_len, n->pending);
	} else {
		/* num_buffers (header bytes 10-11) is 1: no mergeable buffers. */
		n->frame[10] = 1;
		n->frame[11] = 0;
		done = iov_from_buf(&c->iov[c->nr_out], c->nr_in, 0, n->frame, (size_t)n->pending);
	}
	virtq_complete(vq, c, (uint32_t)done);
	virtio_queue_notify_driver(vd, RXQ);
	n->pending = 0;
	return true;
}

/* Reads the next frame from the tap into n->frame (n->pending: its length, 0: none).
 * Returns false if the tap is gone. */
static bool vnet_read(struct vnet *n)
{
	n->pending = read(n->tap, n->frame, sizeof(n->frame));
	if (n->pending >= 0)
		return true;
	n->pending = 0;
	return !tap_dead_errno(errno);
}

static void *vnet_rx_thread(void *arg)
{
	struct vnet *n = arg;
	bool tap_ok = true; /* false: only the stop request and kicks are polled */

	if (!machine_thread_enter(n->vd->mach, SECCOMP_THREAD_IO_NET, n->name))
		return NULL;
	struct pollfd p[3] = {{.fd = n->stop, .events = POLLIN},
			      {.fd = n->rx_kick, .events = POLLIN},
			      {.fd = n->tap, .events = POLLIN}};

	for (;;) {
		const char *gone = NULL; /* why the tap is dead, if it is */
		eventfd_t v;

		/* Only read the tap while a frame can go somewhere. POLLERR and POLLHUP
		 * come whether asked for or not: a deleted tap reports them for ever. */
		p[2].revents = 0;
		if (poll(p, n->pending || !tap_ok ? 2 : 3, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		if (p[1].revents)
			eventfd_read(n->rx_kick, &v);
		if (p[2].revents & (POLLERR | POLLHUP | POLLNVAL))
			gone = "poll error";
		else if (!n->pending && (p[2].revents & POLLIN) && !vnet_read(n))
			gone = "read failed";
		if (n->pending) {
			pthread_mutex_lock(&n->vd->lock);
			for (unsigned int done = 0; n->pending && vnet_deliver(n);) {
				/* Back to poll() after a batch, with no frame pending, so that
				 * a stop request is seen even while frames and buffers keep
				 * coming. */
				if (++done == RX_BATCH)
					break;
				if (!vnet_read(n)) {
					gone = "read failed";
					break;
				}
			}
			pthread_mutex_unlock(&n->vd->lock);
		}
		if (gone && tap_ok) {
			tap_ok = false;
			n->pending = 0;
			pthread_mutex_lock(&n->vd->lock);
			vnet_link_down(n, gone);
			pthread_mutex_unlock(&n->vd->lock);
		}
	}
	return NULL;
}

static void vnet_destroy(void *priv)
{
	struct vnet *n = priv;

	if (n->rx_running) {
		eventfd_write(n->stop, 1);
		pthread_join(n->rx_thread, NULL);
	}
	if (n->tap >= 0)
		close(n->tap);
	if (n->rx_kick >= 0)
		close(n->rx_kick);
	if (n->stop >= 0)
		close(n->stop);
	free(n);
}

static const struct virtio_backend_ops vnet_ops = {
    .name = "virtio-net",
    .device_id = 1,
    .pci_class = 0x020000,
    .nr_queues = 2,
    .queue_size = 256,
    .config_size = 8,
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

	n->tap = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (n->tap < 0) {
		ret = -errno;
		log_err("%s: cannot open /dev/net/tun: %s (is the tun module loaded?)", n->name,
			strerror(-ret));
		return ret;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(n->tap, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		log_err("%s: cannot attach to tap '%s': %s; create it first with: ip tuntap add "
			"%s mode tap user $(id -un) && ip link set %s up",
			n->name, ifname, strerror(-ret), ifname, ifname);
		return ret;
	}
	if (ioctl(n->tap, TUNSETVNETHDRSZ, &hdr) < 0) {
		ret = -errno;
		log_err("%s: TUNSETVNETHDRSZ: %s", n->name, strerror(-ret));
		return ret;
	}
	return 0;
}

int virtio_net_create(struct machine *mach, const struct config_net *cfg, struct virtio_dev **out)
{
	uint64_t features = 1ULL << VIRTIO_NET_F_MAC | 1ULL << VIRTIO_NET_F_STATUS |
			    1ULL << VIRTIO_NET_F_CSUM | 1ULL << VIRTIO_NET_F_GUEST_CSUM |
			    1ULL << VIRTIO_NET_F_HOST_TSO4 | 1ULL << VIRTIO_NET_F_HOST_TSO6 |
			    1ULL << VIRTIO_NET_F_GUEST_TSO4 | 1ULL << VIRTIO_NET_F_GUEST_TSO6;
	struct vnet *n = calloc(1, sizeof(*n));
	int ret;

	if (!n)
		return -ENOMEM;
	n->tap = n->rx_kick = n->stop = -1;
	snprintf(n->name, sizeof(n->name), "net.%s", cfg->name);
	memcpy(n->mac, cfg->mac, 6);
	snprintf(n->tap_name, sizeof(n->tap_name), "%s", cfg->tap);
	ret = vnet_open_tap(n, cfg->tap);
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
