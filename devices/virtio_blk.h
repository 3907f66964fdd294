/* virtio-blk request processing without any transport: the part of virtio_blk.c that
 * works on a file descriptor and iovecs only, so that the unit tests
 * (tests/unit/test_virtio_blk.c) can drive requests without a PCI device or a guest.
 * The constructor that wires it to the transport is in virtio_backends.h. */
#ifndef MINIVMM_VIRTIO_BLK_H
#define MINIVMM_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct virtio_blk_disk {
	int fd;
	uint64_t sectors; /* capacity in 512-byte sectors */
	bool readonly;
	char id[20]; /* VIRTIO_BLK_ID_BYTES: the serial, NUL-padded */
};

/* Serves one request: iov[0, nr_out) driver-readable (header, then data for writes),
 * iov[nr_out, nr_out + nr_in) driver-writable (data for reads, then the status byte,
 * written last). Returns the used length (bytes written), 0 if there is no room for a
 * status byte. */
uint32_t virtio_blk_request(const struct virtio_blk_disk *d, const struct iovec *iov,
			    unsigned int nr_out, unsigned int nr_in);

#endif
