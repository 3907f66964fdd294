/* Devices whose queues a vhost-user back end serves: virtio-fs ([fs.NAME], virtiofsd)
 * and virtio-blk ([disk.NAME] vhost_user = SOCKET, qemu-storage-daemon). The transport
 * (virtio_pci.c) is ours: config space, MSI-X, the notify BAR; the rings, the data and
 * the interrupts go between KVM and the back end (kick: the queue's ioeventfd; call:
 * its MSI-X vector's irqfd), with no thread of ours on the way.
 *
 * A back end that dies: its socket hangs up, the I/O thread sees it, says so, and the
 * transport takes the queues back: every request the back end had taken and not
 * answered, and every one after, is answered with an I/O error (virtio-blk status
 * IOERR, virtio-fs a FUSE reply of -EIO), and the device asks for a reset; after the
 * driver's reset the back end is gone still, the start fails and the queues are taken
 * back again. The guest sees errors, minivmm goes on. Which requests the back end had
 * completed is read from the used ring, which tells them apart only when it completed
 * them in order (README says what else can happen).
 *
 * A back end restarted on the same socket is taken back without the guest's help:
 * while the transport answers the queues, it calls vu_start once a second, which
 * connects anew and, when the new back end offers every feature the driver took (and,
 * for a disk, the same configuration), hands it the rings at the transport's position.
 * What the old one had in flight was failed at the takeover, so nothing is lost or
 * done twice beyond what the used ring could not tell (the in-order caveat above);
 * the in-flight log of INFLIGHT_SHMFD is not needed for that. A virtio-fs back end
 * starts with no FUSE session: the guest's mount answers errors until it is mounted
 * again (virtiofsd refuses requests before FUSE_INIT). */
#include <errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_fs.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/vhost_user.h"
#include "devices/virtio_backends.h"
#include "devices/virtio_devices.h"
#include "devices/virtio_pci.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/machine.h"

#define QUEUE_SIZE 1024
/* A disk's config up to the discard and write-zeroes fields (what those features the
 * back end offers describe); secure erase and zones are not passed on. */
#define BLK_CONFIG (offsetof(struct virtio_blk_config, unused1) + 3)
/* The virtio bits a back end may offer the guest: device-specific ones, indirect
 * descriptors, event index, VERSION_1. Not packed rings or platform IOMMU (the
 * transport takes the rings back as split rings when the back end dies), not
 * vhost-user's own bit. */
#define PASSED                                                                                     \
	(0xffffffULL | 1ULL << VIRTIO_RING_F_INDIRECT_DESC | 1ULL << VIRTIO_RING_F_EVENT_IDX |     \
	 1ULL << VIRTIO_F_VERSION_1)

struct vu_dev {
	struct vhost_user vu;
	bool fs;
	uint8_t config[64];
	struct vhost_user_ring rings[VIRTIO_PCI_MAX_QUEUES];
	unsigned int nr_rings;
	char name[CONFIG_NAME_MAX + 24];
	char spec_name[sizeof(((struct vhost_user *)0)->name)];
	char sock[sizeof(((struct vhost_user *)0)->path)];
	int last_err; /* of the last failed reconnection, logged once per error */
};

static void vu_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data, uint32_t len)
{
	struct vu_dev *d = vd->priv;

	memcpy(data, d->config + off, len); /* the transport keeps off + len in config_size */
}

/* The back end is gone and the transport answers: each request fails. */
static uint32_t fail_blk(struct virtio_dev *vd, unsigned int q, struct virtq_chain *c)
{
	uint8_t status = VIRTIO_BLK_S_IOERR;

	(void)vd, (void)q;
	if (!c->in_len)
		return 0;
	return (uint32_t)iov_from_buf(c->iov + c->nr_out, c->nr_in, c->in_len - 1, &status, 1);
}

static uint32_t fail_fs(struct virtio_dev *vd, unsigned int q, struct virtq_chain *c)
{
	struct {
		uint32_t len;
		int32_t error;
		uint64_t unique;
	} out = {16, -EIO, 0};

	(void)vd, (void)q;
	if (c->in_len < sizeof(out)) /* FORGET and the like: no reply expected */
		return 0;
	iov_to_buf(c->iov, c->nr_out, 8, &out.unique, sizeof(out.unique));
	return (uint32_t)iov_from_buf(c->iov + c->nr_out, c->nr_in, 0, &out, sizeof(out));
}

static void vu_queue_notify(struct virtio_dev *vd, unsigned int q)
{
	struct vu_dev *d = vd->priv;

	virtio_serve_queue(vd, q, d->fs ? fail_fs : fail_blk);
}

/* The back end went away: a new one on the same socket, if it can serve what the
 * driver took. Logs each new reason for not connecting once (this is tried once a
 * second). On the I/O thread, vd->lock held. */
static int vu_reconnect(struct virtio_dev *vd, struct vu_dev *d)
{
	uint8_t config[sizeof(d->config)];
	char why[512];
	int ret = vhost_user_connect(&d->vu, d->sock, d->spec_name, why, sizeof(why));

	if (ret == 0 && (vd->driver_features & ~d->vu.features)) {
		snprintf(why, sizeof(why),
			 "%s: the vhost-user back end now at %s lacks features %#llx that the "
			 "guest's driver uses; start the one it had",
			 vd->name, d->sock,
			 (unsigned long long)(vd->driver_features & ~d->vu.features));
		ret = -ENOTSUP;
	}
	if (ret == 0 && !d->fs &&
	    (vhost_user_get_config(&d->vu, config, (uint32_t)BLK_CONFIG) < 0 ||
	     memcmp(config, d->config, BLK_CONFIG) != 0)) {
		snprintf(why, sizeof(why),
			 "%s: the vhost-user back end now at %s serves another disk (its "
			 "capacity or geometry differ); start it on the same image",
			 vd->name, d->sock);
		ret = -EMEDIUMTYPE;
	}
	if (ret < 0) {
		vhost_user_close(&d->vu);
		if (ret != d->last_err)
			log_warn("%s; trying again every second", why);
		d->last_err = ret;
		return ret;
	}
	d->last_err = 0;
	return 0;
}

static int vu_start(struct virtio_dev *vd)
{
	struct vu_dev *d = vd->priv;
	int ret;

	if (d->vu.fd < 0) {
		ret = vu_reconnect(vd, d);
		if (ret < 0)
			return ret;
	}
	d->nr_rings = 0;
	for (unsigned int i = 0; i < vd->ops->nr_queues; i++) {
		const struct virtio_queue *q = &vd->q[i];

		if (!q->enabled)
			continue;
		d->rings[d->nr_rings++] = (struct vhost_user_ring){
		    .index = i,
		    .size = q->size,
		    .last_avail = q->vq.last_avail, /* 0, or where a takeover left it */
		    .desc = q->desc,
		    .avail = q->driver,
		    .used = q->device,
		    .kick_fd = q->kick_fd,
		    .call_fd = virtio_queue_call_fd(vd, i),
		};
	}
	return vhost_user_start(&d->vu, vd->driver_features, &vd->mach->mem, d->rings, d->nr_rings);
}

static void vu_stop(struct virtio_dev *vd)
{
	struct vu_dev *d = vd->priv;

	vhost_user_stop(&d->vu, d->rings, d->nr_rings);
}

static int vu_watch_fd(struct virtio_dev *vd)
{
	return ((struct vu_dev *)vd->priv)->vu.fd;
}

static void vu_gone(struct virtio_dev *vd)
{
	struct vu_dev *d = vd->priv;

	log_err("%s: the vhost-user back end %s hung up (it died or was stopped): its "
		"requests fail with I/O errors until it is back; start it again on the same "
		"socket and minivmm reconnects (within a second)",
		vd->name, d->vu.path);
	vhost_user_close(&d->vu);
}

static void vu_destroy(void *priv)
{
	struct vu_dev *d = priv;

	vhost_user_close(&d->vu);
	free(d);
}

static const struct virtio_backend_ops fs_ops = {
    .name = "vhost-user-fs",
    .device_id = VIRTIO_ID_FS,
    .pci_class = 0x018000, /* mass storage, other */
    .nr_queues = 2,	   /* hiprio and one request queue */
    .queue_size = QUEUE_SIZE,
    .config_size = sizeof(struct virtio_fs_config),
    .config_read = vu_config_read,
    .queue_notify = vu_queue_notify,
    .io_kind = SECCOMP_THREAD_IO_VHOST,
    .reconnects = true,
    .start = vu_start,
    .stop = vu_stop,
    .watch_fd = vu_watch_fd,
    .gone = vu_gone,
    .destroy = vu_destroy,
};

static const struct virtio_backend_ops blk_ops = {
    .name = "vhost-user-blk",
    .device_id = VIRTIO_ID_BLOCK,
    .pci_class = 0x010000, /* mass storage, SCSI (as QEMU's virtio-blk) */
    .nr_queues = 1,
    .queue_size = QUEUE_SIZE,
    .config_size = BLK_CONFIG,
    .config_read = vu_config_read,
    .queue_notify = vu_queue_notify,
    .io_kind = SECCOMP_THREAD_IO_VHOST,
    .reconnects = true,
    .start = vu_start,
    .stop = vu_stop,
    .watch_fd = vu_watch_fd,
    .gone = vu_gone,
    .destroy = vu_destroy,
};

static int vu_create(struct machine *mach, const struct device_spec *spec, void **state, bool fs)
{
	const struct virtio_backend_ops *ops = fs ? &fs_ops : &blk_ops;
	const char *sock = fs ? ((const struct config_fs *)spec->conf)->socket
			      : ((const struct config_disk *)spec->conf)->vhost_user;
	struct vu_dev *d = calloc(1, sizeof(*d));
	char why[512];
	uint64_t features;
	int ret;

	_Static_assert(sizeof(struct virtio_fs_config) <= sizeof(d->config), "fs config");
	_Static_assert(BLK_CONFIG <= sizeof(d->config), "blk config");
	if (!d)
		return -ENOMEM;
	/* The back end maps guest RAM through the memfd: private memory cannot be shared
	 * (vmm/vm.c, vm_shared_memory). Only a hot-add can get here that way. */
	if (mach->mem.memfd < 0) {
		machine_error(mach,
			      "%s: a vhost-user back end needs guest RAM it can map, and this VM's "
			      "is private; start minivmm with [vm] shared_memory = on to hot-add "
			      "vhost-user devices",
			      spec->name);
		free(d);
		return -EINVAL;
	}
	d->fs = fs;
	snprintf(d->name, sizeof(d->name), "%s %s", ops->name, spec->name);
	ret = vhost_user_connect(&d->vu, sock, spec->name, why, sizeof(why));
	if (ret < 0) {
		machine_error(mach, "%s", why);
		free(d);
		return ret;
	}
	/* For connecting again (vu_reconnect): what this connection was made with. */
	memcpy(d->spec_name, d->vu.name, sizeof(d->spec_name));
	memcpy(d->sock, d->vu.path, sizeof(d->sock));
	features = d->vu.features & PASSED;
	if (!(features & (1ULL << VIRTIO_F_VERSION_1))) {
		machine_error(mach, "%s: the vhost-user back end %s does not offer virtio 1.0",
			      spec->name, sock);
		ret = -ENOTSUP;
		goto err;
	}
	if (fs) {
		struct virtio_fs_config *c = (struct virtio_fs_config *)d->config;

		memcpy(c->tag, ((const struct config_fs *)spec->conf)->tag,
		       strnlen(((const struct config_fs *)spec->conf)->tag, sizeof(c->tag)));
		c->num_request_queues = 1;
	} else {
		ret = vhost_user_get_config(&d->vu, d->config, (uint32_t)blk_ops.config_size);
		if (ret < 0) {
			machine_error(
			    mach,
			    "%s: cannot read the disk's configuration from the vhost-user "
			    "back end %s: %s",
			    spec->name, sock, strerror(-ret));
			goto err;
		}
		/* One queue here; nothing whose config lies beyond BLK_CONFIG. */
		features &= ~(1ULL << VIRTIO_BLK_F_MQ | 1ULL << 16 /* SECURE_ERASE */ |
			      1ULL << 17 /* ZONED */);
	}
	ret = virtio_dev_create(mach, ops, d, features, d->name, (struct virtio_dev **)state);
	if (ret == 0)
		return 0;
err:
	vhost_user_close(&d->vu);
	free(d);
	return ret;
}

static int fs_create(struct machine *mach, const struct device_spec *spec, void **state)
{
	return vu_create(mach, spec, state, true);
}

static int blk_create(struct machine *mach, const struct device_spec *spec, void **state)
{
	return vu_create(mach, spec, state, false);
}

static void vu_device_destroy(void *state)
{
	virtio_dev_destroy(state);
}

static struct pci_dev *vu_device_pci(void *state)
{
	return &((struct virtio_dev *)state)->pci;
}

/* No save: the back end holds the rings' state (vhost-user's device state transfer is
 * not used), so snapshots and migrations refuse these devices by name. */
const struct device_ops vhost_user_fs_device_ops = {.kind = "vhost-user-fs",
						    .pci = true,
						    .create = fs_create,
						    .destroy = vu_device_destroy,
						    .pci_dev = vu_device_pci};
const struct device_ops vhost_user_blk_device_ops = {.kind = "vhost-user-blk",
						     .pci = true,
						     .hotplug = true,
						     .create = blk_create,
						     .destroy = vu_device_destroy,
						     .pci_dev = vu_device_pci};
