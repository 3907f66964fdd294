/* virtio-rng (virtio 1.2, 5.4): driver-writable buffers filled from getrandom(). */
#include "devices/virtio_pci.h"

#include <errno.h>
#include <linux/virtio_ids.h>
#include <sys/random.h>

#include "devices/virtio_backends.h"
#include "vmm/log.h"

/* Per request: a driver may post a huge buffer; filling a part of it is allowed
 * (the used length says how much) and keeps the I/O thread responsive. */
#define RNG_MAX_PER_REQUEST (64u << 10)

static uint32_t rng_chain(struct virtio_dev *vd, unsigned int q, struct virtq_chain *c)
{
	size_t done = 0;

	(void)vd;
	(void)q;
	for (unsigned int i = c->nr_out; i < c->nr_out + c->nr_in; i++) {
		uint8_t *p = c->iov[i].iov_base;
		size_t len = c->iov[i].iov_len;

		if (len > RNG_MAX_PER_REQUEST - done)
			len = RNG_MAX_PER_REQUEST - done;
		while (len > 0) {
			ssize_t r = getrandom(p, len, 0);

			if (r < 0) {
				if (errno == EINTR)
					continue;
				log_err("virtio-rng: getrandom failed: %m");
				return (uint32_t)done;
			}
			p += r;
			len -= (size_t)r;
			done += (size_t)r;
		}
		if (done == RNG_MAX_PER_REQUEST)
			break;
	}
	return (uint32_t)done;
}

static void rng_queue_notify(struct virtio_dev *vd, unsigned int q)
{
	virtio_serve_queue(vd, q, rng_chain);
}

static const struct virtio_backend_ops rng_ops = {
    .name = "virtio-rng",
    .device_id = VIRTIO_ID_RNG,
    .pci_class = 0xff0000, /* unclassified device */
    .nr_queues = 1,
    .queue_size = 64,
    .config_size = 0,
    .queue_notify = rng_queue_notify,
};

int virtio_rng_create(struct machine *mach, struct virtio_dev **out)
{
	return virtio_dev_create(mach, &rng_ops, NULL, 0, "virtio-rng", out);
}
