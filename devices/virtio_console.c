/* virtio-console ([console] device = virtio): one port, the guest's hvc0, wired to the
 * VMM's console like the UART. Output (transmitq) is written to the console fd on the
 * I/O thread through the UART's struct console_out, so it never waits for the reader:
 * the I/O thread holds vd->lock there, which the main thread's console input needs.
 * Input arrives from the main thread; it is kept in a small buffer and copied into the
 * guest's receive buffers as they come (under vd->lock), so typing ahead of the guest's
 * driver loses nothing up to the buffer's size. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/serial.h"
#include "devices/virtio_backends.h"
#include "devices/virtio_pci.h"
#include "vmm/log.h"
#include "vmm/machine.h"

#define RXQ	0
#define TXQ	1
#define IN_SIZE 4096

struct vcon {
	struct virtio_dev *vd;
	struct console_out out; /* used on the I/O thread, under vd->lock */
	uint8_t in[IN_SIZE];
	size_t in_head, in_count;
	struct virtq_chain chain;
};

static void vcon_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data, uint32_t len)
{
	/* cols, rows, max_nr_ports, emerg_wr: all zero (no size, no multiport). */
	(void)vd, (void)off;
	memset(data, 0, len);
}

static uint32_t vcon_tx_chain(struct virtio_dev *vd, unsigned int q, struct virtq_chain *c)
{
	struct vcon *v = vd->priv;

	(void)q;
	machine_mark(vd->mach, MARK_FIRST_OUTPUT);
	console_out_writev(&v->out, c->iov, c->nr_out); /* best effort, as for the UART */
	return 0;
}

/* Moves buffered input into receive chains. vd->lock held. */
static void vcon_fill(struct vcon *v)
{
	struct virtio_dev *vd = v->vd;
	struct virtq *vq = &vd->q[RXQ].vq;
	bool pushed = false;

	if (!(vd->status & VIRTIO_CONFIG_S_DRIVER_OK) || !vq->ready)
		return;
	while (v->in_count) {
		struct virtq_chain *c = &v->chain;
		size_t done = 0, first = IN_SIZE - v->in_head;
		int ret = virtq_pop(vq, c);

		if (ret == 0)
			break;
		if (ret > 0) {
			/* The ring's bytes in at most two runs: to its end, then from its start. */
			struct iovec *in = &c->iov[c->nr_out];

			if (first > v->in_count)
				first = v->in_count;
			done = iov_from_buf(in, c->nr_in, 0, v->in + v->in_head, first);
			if (done == first)
				done +=
				    iov_from_buf(in, c->nr_in, done, v->in, v->in_count - first);
			v->in_head = (v->in_head + done) % IN_SIZE;
			v->in_count -= done;
		}
		if (c->head != VIRTQ_NO_HEAD)
			virtq_complete(vq, c, (uint32_t)done);
		pushed = true;
	}
	if (pushed)
		virtio_queue_notify_driver(vd, RXQ);
}

static void vcon_queue_notify(struct virtio_dev *vd, unsigned int q)
{
	if (q == TXQ)
		virtio_serve_queue(vd, q, vcon_tx_chain);
	else
		vcon_fill(vd->priv);
}

static void vcon_destroy(void *priv)
{
	struct vcon *v = priv;

	console_out_fini(&v->out);
	free(v);
}

static const struct virtio_backend_ops vcon_ops = {
    .name = "virtio-console",
    .device_id = 3,
    .pci_class = 0x078000,
    .nr_queues = 2,
    .queue_size = 64,
    .config_size = 12,
    .config_read = vcon_config_read,
    .queue_notify = vcon_queue_notify,
    .destroy = vcon_destroy,
};

size_t virtio_console_input(struct virtio_dev *vd, const uint8_t *buf, size_t len)
{
	struct vcon *v = vd->priv;
	size_t n;

	pthread_mutex_lock(&vd->lock);
	for (n = 0; n < len && v->in_count < IN_SIZE && !vd->frozen; n++)
		v->in[(v->in_head + v->in_count++) % IN_SIZE] = buf[n];
	vcon_fill(v);
	pthread_mutex_unlock(&vd->lock);
	return n;
}

int virtio_console_create(struct machine *mach, int out_fd, struct virtio_dev **out)
{
	struct vcon *v = calloc(1, sizeof(*v));
	int ret;

	if (!v)
		return -ENOMEM;
	console_out_init(&v->out, out_fd, "virtio-console");
	ret = virtio_dev_create(mach, &vcon_ops, v, 0, "virtio-console", out);
	if (ret < 0) {
		free(v);
		return ret;
	}
	v->vd = *out;
	return 0;
}

uint64_t virtio_console_output_dropped(struct virtio_dev *vd)
{
	struct vcon *v = vd->priv;
	uint64_t n;

	pthread_mutex_lock(&vd->lock);
	n = v->out.dropped;
	pthread_mutex_unlock(&vd->lock);
	return n;
}
