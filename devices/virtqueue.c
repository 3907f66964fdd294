/* Split virtqueue, device side (see virtqueue.h).
 *
 * Layout (virtio 1.2, 2.7): descriptor table of size x 16 bytes {le64 addr, le32 len,
 * le16 flags, le16 next}; available ring {le16 flags, le16 idx, le16 ring[size],
 * le16 used_event}; used ring {le16 flags, le16 idx, {le32 id, le32 len}[size],
 * le16 avail_event}. x86 is little-endian, so the fields are read as they are. */
#include "devices/virtqueue.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "vmm/log.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "virtio rings are little-endian");

#define DESC_SIZE 16u

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static uint16_t *avail_flags(const struct virtq *vq)
{
	return (uint16_t *)vq->avail;
}

static uint16_t *avail_idx(const struct virtq *vq)
{
	return (uint16_t *)(vq->avail + 2);
}

static uint16_t *avail_ring(const struct virtq *vq, uint16_t i)
{
	return (uint16_t *)(vq->avail + 4 + 2u * i);
}

static uint16_t *used_flags(const struct virtq *vq)
{
	return (uint16_t *)vq->used;
}

static uint16_t *used_idx(const struct virtq *vq)
{
	return (uint16_t *)(vq->used + 2);
}

static uint16_t *avail_event(const struct virtq *vq)
{
	return (uint16_t *)(vq->used + 4 + 8u * vq->size);
}

int virtq_start(struct virtq *vq, const struct guest_mem *mem, const char *name, uint16_t size,
		gpa_t desc, gpa_t avail, gpa_t used, uint64_t features)
{
	virtq_stop(vq);
	vq->mem = mem;
	vq->name = name;
	if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return -EINVAL;
	/* The spec's alignments; they also make every ring field naturally aligned, so
	 * the atomic loads and stores below are plain aligned accesses. */
	if ((desc & 15) || (avail & 1) || (used & 3))
		return -EINVAL;
	vq->desc = mem_gpa_to_hva(mem, desc, (uint64_t)size * DESC_SIZE);
	vq->avail = mem_gpa_to_hva(mem, avail, 6 + 2 * (uint64_t)size);
	vq->used = mem_gpa_to_hva(mem, used, 6 + 8 * (uint64_t)size);
	if (!vq->desc || !vq->avail || !vq->used) {
		virtq_stop(vq);
		return -EFAULT;
	}
	vq->size = size;
	vq->desc_gpa = desc;
	vq->avail_gpa = avail;
	vq->used_gpa = used;
	vq->event_idx = features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	/* The device starts from index 0 in both rings (the driver zeroed them). */
	vq->last_avail = vq->used_idx = vq->signalled_used = 0;
	vq->ready = true;
	return 0;
}

void virtq_stop(struct virtq *vq)
{
	const struct guest_mem *mem = vq->mem;
	const char *name = vq->name;

	memset(vq, 0, sizeof(*vq));
	vq->mem = mem;
	vq->name = name;
}

/* One read of a descriptor the driver may be rewriting as we look: copy it, then a
 * compiler barrier so that the checks and the use below see the same copy (the
 * compiler may not re-load a field from guest memory after validating it). */
static struct desc read_desc(const uint8_t *p)
{
	struct desc d;

	memcpy(&d.addr, p, 8);
	memcpy(&d.len, p + 8, 4);
	memcpy(&d.flags, p + 12, 2);
	memcpy(&d.next, p + 14, 2);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return d;
}

/* Appends one buffer to the chain after checking it; the order rule (all readable
 * before any writable) and the caps live here so both walks share them. */
static int add_buf(const struct virtq *vq, struct virtq_chain *c, const struct desc *d,
		   const char **why)
{
	bool writable = d->flags & VRING_DESC_F_WRITE;
	void *hva;

	if (!writable && c->nr_in) {
		*why = "driver-readable descriptor after a writable one";
		return -EINVAL;
	}
	if (d->len == 0)
		return 0; /* nothing to transfer; not worth an iovec */
	if ((uint64_t)d->len > VIRTQ_MAX_CHAIN_LEN - (c->out_len + c->in_len)) {
		*why = "chain longer than 128 MiB";
		return -E2BIG;
	}
	if (c->nr_out + c->nr_in >= VIRTQ_MAX_IOV) {
		*why = "too many buffers in one chain";
		return -E2BIG;
	}
	hva = mem_gpa_to_hva(vq->mem, d->addr, d->len);
	if (!hva) {
		*why = "buffer outside guest RAM";
		return -EFAULT;
	}
	c->iov[c->nr_out + c->nr_in] = (struct iovec){.iov_base = hva, .iov_len = d->len};
	if (writable) {
		c->nr_in++;
		c->in_len += d->len;
	} else {
		c->nr_out++;
		c->out_len += d->len;
	}
	return 0;
}

/* Walks an indirect table (virtio 1.2, 2.7.5.3): its own index space, no nesting, at
 * most as many descriptors as it holds. */
static int walk_indirect(const struct virtq *vq, struct virtq_chain *c, const struct desc *ind,
			 const char **why)
{
	uint32_t n = ind->len / DESC_SIZE, i = 0, seen = 0;
	const uint8_t *table;
	struct desc d;
	int ret;

	if (ind->len == 0 || ind->len % DESC_SIZE || n > VIRTQ_MAX_SIZE) {
		*why = "indirect table of bad length";
		return -EINVAL;
	}
	table = mem_gpa_to_hva(vq->mem, ind->addr, ind->len);
	if (!table) {
		*why = "indirect table outside guest RAM";
		return -EFAULT;
	}
	for (;;) {
		if (seen++ == n) {
			*why = "loop in an indirect table";
			return -ELOOP;
		}
		d = read_desc(table + (size_t)i * DESC_SIZE);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			*why = "nested indirect descriptor";
			return -EINVAL;
		}
		ret = add_buf(vq, c, &d, why);
		if (ret < 0)
			return ret;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= n) {
			*why = "next index beyond the indirect table";
			return -EINVAL;
		}
	}
}

static int walk(const struct virtq *vq, struct virtq_chain *c, const char **why)
{
	uint32_t i = c->head, seen = 0;
	struct desc d;
	int ret;

	if (i >= vq->size) {
		*why = "head index out of range";
		return -EINVAL;
	}
	for (;;) {
		if (seen++ == vq->size) {
			*why = "descriptor loop";
			return -ELOOP;
		}
		d = read_desc(vq->desc + (size_t)i * DESC_SIZE);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (!vq->indirect) {
				*why = "indirect descriptor without VIRTIO_F_INDIRECT_DESC";
				return -EINVAL;
			}
			if (d.flags & VRING_DESC_F_NEXT) {
				*why = "indirect descriptor with NEXT";
				return -EINVAL;
			}
			/* It ends the chain: it cannot have NEXT. */
			return walk_indirect(vq, c, &d, why);
		}
		ret = add_buf(vq, c, &d, why);
		if (ret < 0)
			return ret;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= vq->size) {
			*why = "next index out of range";
			return -EINVAL;
		}
	}
}

int virtq_pop(struct virtq *vq, struct virtq_chain *c)
{
	const char *why = "";
	uint16_t idx, pending;
	int ret;

	c->head = VIRTQ_NO_HEAD;
	c->nr_out = c->nr_in = 0;
	c->out_len = c->in_len = 0;
	if (!vq->ready || vq->broken)
		return 0;
	/* Acquire: the ring entry and the descriptors it names were written before the
	 * driver published idx (virtio 1.2, 2.7.13). */
	idx = __atomic_load_n(avail_idx(vq), __ATOMIC_ACQUIRE);
	pending = (uint16_t)(idx - vq->last_avail);
	if (pending == 0)
		return 0;
	if (pending > vq->size) {
		/* Not one bad chain but a bad ring: nothing sensible to complete. */
		vq->broken = true;
		log_guest("%s: available index jumped by %u (queue size %u); queue stopped",
			  vq->name, pending, vq->size);
		return -EIO;
	}
	c->head =
	    __atomic_load_n(avail_ring(vq, vq->last_avail & (vq->size - 1)), __ATOMIC_RELAXED);
	vq->last_avail++;
	ret = walk(vq, c, &why);
	if (ret < 0) {
		log_guest("%s: bad descriptor chain (head %u): %s", vq->name, c->head, why);
		c->nr_out = c->nr_in = 0;
		c->out_len = c->in_len = 0;
		return ret;
	}
	return 1;
}

/* The used ring is ours to write: a migration must send its pages again. */
static void used_dirty(const struct virtq *vq)
{
	mem_dirty_hva(vq->mem, vq->used, 6 + 8u * vq->size);
}

void virtq_push(struct virtq *vq, uint32_t head, uint32_t len)
{
	uint8_t *elem;

	if (!vq->ready)
		return;
	elem = vq->used + 4 + 8u * (vq->used_idx & (vq->size - 1));
	__atomic_store_n((uint32_t *)elem, head, __ATOMIC_RELAXED);
	__atomic_store_n((uint32_t *)(elem + 4), len, __ATOMIC_RELAXED);
	vq->used_idx++;
	/* Release: the element (and the data written into the buffers) is visible before
	 * the driver can see the new index. */
	__atomic_store_n(used_idx(vq), vq->used_idx, __ATOMIC_RELEASE);
	used_dirty(vq);
}

void virtq_complete(struct virtq *vq, const struct virtq_chain *c, uint32_t len)
{
	for (unsigned int i = c->nr_out; i < c->nr_out + c->nr_in; i++)
		mem_dirty_hva(vq->mem, c->iov[i].iov_base, c->iov[i].iov_len);
	virtq_push(vq, c->head, len);
}

bool virtq_need_notify(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, now = vq->used_idx, event;
	bool valid = vq->signalled_valid;

	if (!vq->ready)
		return false;
	/* Full barrier: our used->idx store must be visible before we read the driver's
	 * suppression fields, or we could miss its request for an interrupt (the driver
	 * does the mirror image: writes used_event, barrier, reads used->idx). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->signalled_used = now;
	vq->signalled_valid = true;
	if (old == now)
		return false; /* nothing used since the last decision */
	if (!vq->event_idx)
		return !(__atomic_load_n(avail_flags(vq), __ATOMIC_RELAXED) &
			 VRING_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	event = __atomic_load_n(avail_ring(vq, vq->size), __ATOMIC_RELAXED); /* used_event */
	return vring_need_event(event, now, old);
}

void virtq_disable_notify(struct virtq *vq)
{
	/* With EVENT_IDX a stale avail_event already suppresses notifications. */
	if (vq->ready && !vq->event_idx) {
		__atomic_store_n(used_flags(vq), VRING_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
		used_dirty(vq);
	}
}

bool virtq_enable_notify(struct virtq *vq)
{
	if (!vq->ready || vq->broken)
		return false;
	if (vq->event_idx)
		__atomic_store_n(avail_event(vq), vq->last_avail, __ATOMIC_RELAXED);
	else
		__atomic_store_n(used_flags(vq), 0, __ATOMIC_RELAXED);
	used_dirty(vq);
	/* Full barrier: the driver must see notifications enabled before we look at
	 * avail->idx again, else a buffer added in between would go unnoticed by both. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(avail_idx(vq), __ATOMIC_ACQUIRE) != vq->last_avail;
}

/* Copies between buf and bytes [off, off + len) of iov, in the direction to_iov says;
 * returns the bytes copied (fewer if iov ends first). */
static size_t iov_copy(const struct iovec *iov, unsigned int n, size_t off, uint8_t *buf,
		       size_t len, bool to_iov)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		uint8_t *base = iov[i].iov_base;
		size_t chunk;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		chunk = iov[i].iov_len - off;
		if (chunk > len - done)
			chunk = len - done;
		if (to_iov)
			memcpy(base + off, buf + done, chunk);
		else
			memcpy(buf + done, base + off, chunk);
		done += chunk;
		off = 0;
	}
	return done;
}

size_t iov_to_buf(const struct iovec *iov, unsigned int n, size_t off, void *buf, size_t len)
{
	return iov_copy(iov, n, off, buf, len, false);
}

size_t iov_from_buf(const struct iovec *iov, unsigned int n, size_t off, const void *buf,
		    size_t len)
{
	/* Only read through: iov_copy writes to buf in the other direction alone. */
	return iov_copy(iov, n, off, (uint8_t *)buf, len, true);
}
