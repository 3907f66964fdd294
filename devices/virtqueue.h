/* Split virtqueues (virtio 1.2, section 2.7) over guest memory: the device side.
 *
 * The driver owns three areas in guest RAM: the descriptor table, the available ring
 * (driver -> device) and the used ring (device -> driver). Everything in them is
 * hostile input: virtq_pop() reads every descriptor exactly once into a local copy,
 * translates every buffer through mem_gpa_to_hva() and bounds every walk, so that a
 * malicious or buggy driver can neither make the VMM touch memory outside guest RAM nor
 * keep it looping. A bad chain is consumed, logged (rate-limited) and reported to the
 * caller, which completes it with len 0 (or an error status where it can).
 *
 * Threads: one virtq is used by one thread at a time (the device's I/O thread, under the
 * device lock); the driver runs concurrently on other CPUs, hence the barriers.
 *
 * Pure logic: no KVM, no PCI, so it is unit-tested on anonymous guest memory. */
#ifndef MINIVMM_VIRTQUEUE_H
#define MINIVMM_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/mem.h"

/* Largest queue size we accept; the spec allows 32768 but nothing needs more. It is
 * also the cap on descriptors in one chain (spec: a chain is never longer than the
 * queue) and on iovecs, which keeps preadv/pwritev within IOV_MAX (1024). */
#define VIRTQ_MAX_SIZE 1024
#define VIRTQ_MAX_IOV  VIRTQ_MAX_SIZE
/* Cap on the bytes one chain may describe: far above what a driver sends (Linux
 * virtio-blk: seg_max x 4 KiB pages), small enough that no request monopolizes the I/O
 * thread or overflows 32-bit used lengths. */
#define VIRTQ_MAX_CHAIN_LEN (128u << 20)
/* chain->head when there is no head to return (the ring itself is broken). */
#define VIRTQ_NO_HEAD UINT32_MAX

struct virtq {
	const struct guest_mem *mem;
	const char *name; /* for log messages, e.g. "virtio-blk disk0 q0" */
	uint16_t size;	  /* entries, a power of two <= VIRTQ_MAX_SIZE */
	bool ready;	  /* virtq_start succeeded and no reset since */
	bool broken;	  /* the available ring is inconsistent: stop serving it */
	bool event_idx;	  /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;	  /* VIRTIO_F_INDIRECT_DESC negotiated */
	gpa_t desc_gpa, avail_gpa, used_gpa;
	/* Host views of the three areas, translated (and bounds-checked) once at start:
	 * guest RAM never moves while the VM exists. */
	uint8_t *desc, *avail, *used;
	uint16_t last_avail;	 /* next available-ring entry to consume */
	uint16_t used_idx;	 /* our copy of used->idx (we are its only writer) */
	uint16_t signalled_used; /* used_idx when we last decided about an interrupt */
	bool signalled_valid;
};

/* One descriptor chain as the device sees it: iov[0, nr_out) are driver-readable
 * (requests), iov[nr_out, nr_out + nr_in) driver-writable (replies); the spec requires
 * that order. Zero-length descriptors are dropped. Every iov lies inside guest RAM. */
struct virtq_chain {
	uint32_t head; /* the id to give back to virtq_push(), or VIRTQ_NO_HEAD */
	unsigned int nr_out, nr_in;
	uint64_t out_len, in_len; /* bytes in each part */
	struct iovec iov[VIRTQ_MAX_IOV];
};

/* Makes vq live with the addresses the driver wrote (features: the negotiated
 * VIRTIO_F_* bits). Checks size (power of two, 1..VIRTQ_MAX_SIZE), the spec's
 * alignments and that the three areas lie in guest RAM. Returns 0, -EINVAL or -EFAULT;
 * vq is left stopped on failure. */
int virtq_start(struct virtq *vq, const struct guest_mem *mem, const char *name, uint16_t size,
		gpa_t desc, gpa_t avail, gpa_t used, uint64_t features);
/* Forgets everything (device reset). */
void virtq_stop(struct virtq *vq);

/* Takes the next available chain. Returns 1 with *c filled, 0 if there is none (or vq
 * is not ready or broken), or a negative errno for a bad chain: it is consumed, and
 * c->head says what to complete (VIRTQ_NO_HEAD: nothing; then vq is marked broken
 * because the ring itself is garbage). -EINVAL: malformed (index out of range, flags
 * misuse, readable after writable); -EFAULT: a buffer or table outside guest RAM;
 * -ELOOP: more descriptors than the queue (or table) holds; -E2BIG: too many bytes or
 * iovecs; -EIO: the available index moved by more than the queue size. */
int virtq_pop(struct virtq *vq, struct virtq_chain *c);

/* Returns chain head to the driver with len bytes written into its writable part.
 * Devices use virtq_complete, which also tells a running migration that the VMM wrote
 * the chain's writable buffers (virtq_push marks only the used ring). */
void virtq_push(struct virtq *vq, uint32_t head, uint32_t len);
void virtq_complete(struct virtq *vq, const struct virtq_chain *c, uint32_t len);

/* After one or more pushes: whether the driver wants an interrupt now (used_event with
 * VIRTIO_F_EVENT_IDX, else VRING_AVAIL_F_NO_INTERRUPT). Updates the bookkeeping, so
 * call it once per batch and send the interrupt if it says so. */
bool virtq_need_notify(struct virtq *vq);

/* Driver->device notification suppression around a processing loop:
 *	for (;;) {
 *		virtq_disable_notify(vq);
 *		while (virtq_pop(...)) ...;
 *		if (!virtq_enable_notify(vq))
 *			break;
 *	}
 * virtq_enable_notify returns true when buffers arrived after the last pop, which the
 * driver may not have notified us about. */
void virtq_disable_notify(struct virtq *vq);
bool virtq_enable_notify(struct virtq *vq);

/* Copy between a linear buffer and [off, off + len) of an iovec array (of n entries);
 * return the bytes copied (less than len if the iovecs are shorter). */
size_t iov_to_buf(const struct iovec *iov, unsigned int n, size_t off, void *buf, size_t len);
size_t iov_from_buf(const struct iovec *iov, unsigned int n, size_t off, const void *buf,
		    size_t len);

#endif
