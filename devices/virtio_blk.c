/* virtio-blk (virtio 1.2, 5.2) on a raw image file or block device.
 *
 * Requests are served on the device's I/O thread with preadv/pwritev straight between
 * the image and guest memory. The image is locked the way QEMU locks its images
 * (disk_lock.h), so that neither two minivmms nor minivmm and a QEMU, qemu-img or
 * qemu-io can both write it, nor one read it while another writes. */
#include "devices/virtio_blk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/disk_lock.h"
#include "devices/virtio_backends.h"
#include "devices/virtio_pci.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/machine.h"

#define SECTOR	   512u
#define QUEUE_SIZE 256
/* Largest data segment: with seg_max segments, a request stays below the virtqueue's
 * cap on chain length (VIRTQ_MAX_CHAIN_LEN), which Linux would otherwise not know. */
#define SEG_SIZE_MAX (256u << 10)
/* The config up to num_queues: everything the features we offer describe. */
#define CONFIG_SIZE offsetof(struct virtio_blk_config, max_discard_sectors)

_Static_assert(sizeof(((struct virtio_blk_disk *)0)->id) == VIRTIO_BLK_ID_BYTES, "id size");
_Static_assert((QUEUE_SIZE - 2) * (uint64_t)SEG_SIZE_MAX < VIRTQ_MAX_CHAIN_LEN, "request cap");

struct blk {
	struct virtio_blk_disk disk;
	struct virtio_blk_config config;
	char name[CONFIG_NAME_MAX + 16];
	const struct config_disk *conf;
	bool unlocked; /* an incoming migration's, until the handover (virtio_blk_activate) */
};

static size_t iov_total(const struct iovec *iov, unsigned int n)
{
	size_t len = 0;

	for (unsigned int i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

/* The iovecs covering [off, off + len) of iov (the bytes themselves are not copied).
 * Returns how many were written to out (at most n). */
static unsigned int iov_slice(const struct iovec *iov, unsigned int n, size_t off, size_t len,
			      struct iovec *out)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n && len > 0; i++) {
		size_t chunk;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		chunk = iov[i].iov_len - off;
		if (chunk > len)
			chunk = len;
		out[k++] = (struct iovec){(uint8_t *)iov[i].iov_base + off, chunk};
		len -= chunk;
		off = 0;
	}
	return k;
}

/* preadv/pwritev until everything is transferred (they may stop short). */
static int rw_all(int fd, struct iovec *iov, unsigned int n, off_t off, bool write)
{
	while (n > 0) {
		ssize_t r = write ? pwritev(fd, iov, (int)n, off) : preadv(fd, iov, (int)n, off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO; /* end of file: the image shrank under us */
		off += r;
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

/* Reads or writes len bytes at sector; returns a VIRTIO_BLK_S_* status. */
static uint8_t blk_rw(const struct virtio_blk_disk *d, const struct iovec *iov, unsigned int n,
		      size_t off, size_t len, uint64_t sector, bool write)
{
	struct iovec data[VIRTQ_MAX_IOV];
	unsigned int k;
	int ret;

	if (len % SECTOR) {
		log_guest("virtio-blk: request of %zu bytes, not whole sectors", len);
		return VIRTIO_BLK_S_IOERR;
	}
	if (sector > d->sectors || len / SECTOR > d->sectors - sector) {
		log_guest("virtio-blk: request beyond the end (sector %llu + %zu, capacity %llu)",
			  (unsigned long long)sector, len / SECTOR, (unsigned long long)d->sectors);
		return VIRTIO_BLK_S_IOERR;
	}
	k = iov_slice(iov, n, off, len, data);
	ret = rw_all(d->fd, data, k, (off_t)(sector * SECTOR), write);
	if (ret < 0) {
		log_guest("virtio-blk: %s at sector %llu failed: %s", write ? "write" : "read",
			  (unsigned long long)sector, strerror(-ret));
		return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

uint32_t virtio_blk_request(const struct virtio_blk_disk *d, const struct iovec *iov,
			    unsigned int nr_out, unsigned int nr_in)
{
	const struct iovec *in = iov + nr_out;
	size_t out_len = iov_total(iov, nr_out), in_len = iov_total(in, nr_in);
	struct virtio_blk_outhdr hdr;
	uint32_t written = 0;
	uint8_t status;

	if (in_len == 0) {
		log_guest("virtio-blk: request without room for a status byte");
		return 0;
	}
	if (iov_to_buf(iov, nr_out, 0, &hdr, sizeof(hdr)) != sizeof(hdr)) {
		log_guest("virtio-blk: request shorter than its header");
		status = VIRTIO_BLK_S_IOERR;
		goto done;
	}
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
		status = blk_rw(d, in, nr_in, 0, in_len - 1, hdr.sector, false);
		if (status == VIRTIO_BLK_S_OK)
			written = (uint32_t)(in_len - 1);
		break;
	case VIRTIO_BLK_T_OUT:
		if (d->readonly) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		status =
		    blk_rw(d, iov, nr_out, sizeof(hdr), out_len - sizeof(hdr), hdr.sector, true);
		break;
	case VIRTIO_BLK_T_FLUSH:
		status = fdatasync(d->fd) < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_GET_ID:
		written = (uint32_t)iov_from_buf(
		    in, nr_in, 0, d->id, in_len - 1 < sizeof(d->id) ? in_len - 1 : sizeof(d->id));
		status = VIRTIO_BLK_S_OK;
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
done:
	/* Last, after the data: the driver may look at the status byte first. */
	iov_from_buf(in, nr_in, in_len - 1, &status, 1);
	return written + 1;
}

static uint32_t blk_chain(struct virtio_dev *vd, unsigned int q, struct virtq_chain *c)
{
	const struct blk *b = vd->priv;

	(void)q;
	return virtio_blk_request(&b->disk, c->iov, c->nr_out, c->nr_in);
}

static void blk_queue_notify(struct virtio_dev *vd, unsigned int q)
{
	virtio_serve_queue(vd, q, blk_chain);
}

static void blk_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data, uint32_t len)
{
	const struct blk *b = vd->priv;

	memcpy(data, (const uint8_t *)&b->config + off, len);
}

static void blk_free(void *priv)
{
	struct blk *b = priv;

	if (b->disk.fd >= 0)
		close(b->disk.fd); /* drops the locks too */
	free(b);
}

static const struct virtio_backend_ops blk_ops = {
    .name = "virtio-blk",
    .device_id = VIRTIO_ID_BLOCK,
    .pci_class = 0x010000, /* mass storage (SCSI), as other VMMs use */
    .nr_queues = 1,
    .queue_size = QUEUE_SIZE,
    .config_size = CONFIG_SIZE,
    .config_read = blk_config_read,
    .queue_notify = blk_queue_notify,
    .destroy = blk_free,
};

/* Locks the image (fd) or says who holds it. */
static int blk_lock(struct machine *mach, const struct config_disk *disk, int fd)
{
	char why[128];
	int ret = disk_lock(fd, !disk->readonly, why, sizeof(why));

	if (ret == -EBUSY)
		machine_error(
		    mach,
		    "[disk.%s] %s is in use: %s (a QEMU, qemu-img, qemu-io or another "
		    "minivmm); stop it first: an image must not be written by two at once",
		    disk->name, disk->path, why);
	else if (ret < 0)
		machine_error(mach, "[disk.%s] %s: %s", disk->name, disk->path, why);
	return ret;
}

/* Opens and locks the image; returns its size in bytes through *size. An incoming
 * migration's disk is not locked yet: the source holds it until the handover. */
static int blk_open(struct machine *mach, const struct config_disk *disk, uint64_t *size)
{
	struct stat st;
	int fd, ret;

	fd = open(disk->path, (disk->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		machine_error(
		    mach, "[disk.%s] cannot open %s: %s%s", disk->name, disk->path, strerror(-ret),
		    ret == -EACCES || ret == -EROFS ? " (set readonly = on for a read-only image)"
						    : "");
		return ret;
	}
	ret = mach->incoming ? 0 : blk_lock(mach, disk, fd);
	if (ret < 0)
		goto err;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto err;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) < 0) {
			ret = -errno;
			machine_error(mach, "[disk.%s] cannot get the size of %s: %m", disk->name,
				      disk->path);
			goto err;
		}
	} else if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
	} else {
		ret = -EINVAL;
		machine_error(mach, "[disk.%s] %s is neither a regular file nor a block device",
			      disk->name, disk->path);
		goto err;
	}
	return fd;
err:
	close(fd);
	return ret;
}

int virtio_blk_create(struct machine *mach, const struct config_disk *disk, struct virtio_dev **out)
{
	uint64_t size, features;
	struct blk *b;
	int ret;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	ret = blk_open(mach, disk, &size);
	if (ret < 0) {
		free(b);
		return ret;
	}
	b->disk.fd = ret;
	b->conf = disk;
	b->unlocked = mach->incoming;
	b->disk.sectors = size / SECTOR;
	b->disk.readonly = disk->readonly;
	if (size % SECTOR)
		log_warn("[disk.%s] %s is %llu bytes, not a multiple of 512: the guest does not "
			 "see the last %llu",
			 disk->name, disk->path, (unsigned long long)size,
			 (unsigned long long)(size % SECTOR));
	/* The serial: the disk's name, NUL-padded, not necessarily terminated. */
	memcpy(b->disk.id, disk->name, strnlen(disk->name, sizeof(b->disk.id)));
	b->config.capacity = b->disk.sectors;
	b->config.size_max = SEG_SIZE_MAX;
	b->config.seg_max = QUEUE_SIZE - 2; /* room for the header and status */
	b->config.blk_size = SECTOR;
	features = 1ULL << VIRTIO_BLK_F_SIZE_MAX | 1ULL << VIRTIO_BLK_F_SEG_MAX |
		   1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_FLUSH;
	if (disk->readonly)
		features |= 1ULL << VIRTIO_BLK_F_RO;
	snprintf(b->name, sizeof(b->name), "virtio-blk %s", disk->name);
	ret = virtio_dev_create(mach, &blk_ops, b, features, b->name, out);
	if (ret < 0)
		blk_free(b);
	return ret;
}

int virtio_blk_activate(struct virtio_dev *vd, bool on)
{
	struct blk *b = vd->priv;
	struct machine *mach = vd->mach;
	int ret = 0;

	if (on && b->unlocked)
		ret = blk_lock(mach, b->conf, b->disk.fd);
	else if (!on && !b->unlocked && fdatasync(b->disk.fd) < 0 && errno != EINVAL)
		ret = -errno; /* the destination must find every write on the image */
	else if (!on && !b->unlocked)
		disk_unlock(b->disk.fd);
	if (ret == 0)
		b->unlocked = !on;
	return ret;
}
