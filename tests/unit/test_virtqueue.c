/* Split virtqueue: good chains, indirect tables, notification decisions, and every kind
 * of hostile chain a driver could post (each must fail cleanly, be consumed, and leave
 * no iovec pointing anywhere but guest RAM). */
#include "tests/unit/unit.h"
#include "devices/virtqueue.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>

/* Guest RAM: 1 MiB at 0 and 1 MiB at 4 GiB, with a hole in between. */
#define RAM1	  (1ULL << 32)
#define RAM_SIZE  (1ULL << 20)
#define DESC_GPA  0x1000
#define AVAIL_GPA 0x5000
#define USED_GPA  0x6000
#define TABLE_GPA 0x8000 /* indirect tables (up to 1024 entries: 16 KiB) */
#define DATA_GPA  0x10000
#define QSIZE	  16
#define FEATURES  (1ULL << VIRTIO_RING_F_INDIRECT_DESC | 1ULL << VIRTIO_F_VERSION_1)

struct fixture {
	struct guest_mem mem;
	struct virtq vq;
	struct virtq_chain c;
	uint16_t avail_idx;
};

static void *gpa(struct fixture *f, gpa_t a)
{
	void *p = mem_gpa_to_hva(&f->mem, a, 1);

	ck_assert_ptr_nonnull(p);
	return p;
}

/* On the heap: the chain holds 1024 iovecs. */
static struct fixture *setup(uint64_t features)
{
	const gpa_t gpas[] = {0, RAM1};
	const uint64_t sizes[] = {RAM_SIZE, RAM_SIZE};
	struct fixture *f = calloc(1, sizeof(*f));

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(mem_init(&f->mem, gpas, sizes, 2, 0), 0);
	ck_assert_int_eq(
	    virtq_start(&f->vq, &f->mem, "test q", QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA, features),
	    0);
	return f;
}

static void set_desc_at(struct fixture *f, gpa_t table, unsigned int i, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next)
{
	struct vring_desc d = {.addr = addr, .len = len, .flags = flags, .next = next};

	ck_assert_int_eq(mem_write(&f->mem, table + 16ULL * i, &d, sizeof(d)), 0);
}

static void set_desc(struct fixture *f, unsigned int i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	set_desc_at(f, DESC_GPA, i, addr, len, flags, next);
}

/* Makes head available and publishes the new index, as a driver would. */
static void offer(struct fixture *f, uint16_t head)
{
	uint16_t *ring = gpa(f, AVAIL_GPA + 4 + 2 * (f->avail_idx % QSIZE));

	*ring = head;
	f->avail_idx++;
	*(uint16_t *)gpa(f, AVAIL_GPA + 2) = f->avail_idx;
}

static bool iov_in_ram(struct fixture *f, const struct iovec *iov)
{
	for (int i = 0; i < f->mem.nr_regions; i++) {
		const struct mem_region *r = &f->mem.regions[i];
		uint8_t *b = iov->iov_base;

		if (b >= r->hva && b + iov->iov_len <= r->hva + r->size)
			return true;
	}
	return false;
}

/* Pops one chain expecting error err; checks it was consumed and gave no iovecs. */
static void expect_bad(struct fixture *f, int err, uint32_t head)
{
	uint16_t before = f->vq.last_avail;

	ck_assert_int_eq(virtq_pop(&f->vq, &f->c), err);
	ck_assert_uint_eq(f->c.head, head);
	ck_assert_uint_eq(f->c.nr_out + f->c.nr_in, 0);
	ck_assert_uint_eq(f->c.out_len + f->c.in_len, 0);
	ck_assert_uint_eq((uint16_t)(f->vq.last_avail - before), 1);
	ck_assert_int_eq(virtq_pop(&f->vq, &f->c), 0);
	ck_assert(!f->vq.broken);
}

static void teardown(struct fixture *f)
{
	mem_destroy(&f->mem);
	free(f);
}

START_TEST(good_chain_and_push)
{
	struct fixture *f;
	struct vring_used_elem *e;

	f = setup(FEATURES);
	set_desc(f, 3, DATA_GPA, 16, VRING_DESC_F_NEXT, 7);
	set_desc(f, 7, RAM1 + 0x100, 4096, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	set_desc(f, 1, DATA_GPA + 16, 1, VRING_DESC_F_WRITE, 0);
	ck_assert_int_eq(virtq_pop(&f->vq, &f->c), 0);
	offer(f, 3);
	ck_assert_int_eq(virtq_pop(&f->vq, &f->c), 1);
	ck_assert_uint_eq(f->c.head, 3);
	ck_assert_uint_eq(f->c.nr_out, 1);
	ck_assert_uint_eq(f->c.nr_in, 2);
	ck_assert_uint_eq(f->c.out_len, 16);
	ck_assert_uint_eq(f->c.in_len, 4097);
	ck_assert_ptr_eq(f->c.iov[0].iov_base, gpa(f, DATA_GPA));
	ck_assert_ptr_eq(f->c.iov[1].iov_base, gpa(f, RAM1 + 0x100));
	ck_assert_uint_eq(f->c.iov[1].iov_len, 4096);
	ck_assert_ptr_eq(f->c.iov[2].iov_base, gpa(f, DATA_GPA + 16));
	ck_assert_int_eq(virtq_pop(&f->vq, &f->c), 0);

	virtq_push(&f->vq, 3, 4097);
	ck_assert_uint_eq(*(uint16_t *)gpa(f, USED_GPA + 2), 1);
	e = gpa(f, USED_GPA + 4);
	ck_assert_uint_eq(e->id, 3);
	ck_assert_uint_eq(e->len, 4097);
	teardown(f);
}
END_TEST

START_TEST(zero_length_buffers_are_dropped)
{
	struct fixture *f;

	f = setup(FEATURES);
	/* A zero-length descriptor names no memory: even a bogus address is harmless. */
	set_desc(f, 0, 0xdead0000000ULL, 0, VRING_DESC_F_NEXT, 1);
	set_desc(f, 1, DATA_GPA, 8, VRING_DESC_F_WRITE, 0);
	offer(f, 0);
	ck_assert_int_eq(virtq_pop(&f->vq, &f->c), 1);
	ck_assert_uint_eq(f->c.nr_out, 0);
	ck_assert_uint_eq(f->c.nr_in, 1);
	teardown(f);
}
END_TEST

START_TEST(ring_wraps)
{
	struct fixture *f;

	f = setup(FEATURES);
	set_desc(f, 5, DATA_GPA, 64, VRING_DESC_F_WRITE, 0);
	for (int i = 0; i < 3 * QSIZE + 3; i++) {
		offer(f, 5);
		ck_assert_int_eq(virtq_pop(&f->vq, &f->c), 1);
		ck_assert_uint_eq(f->c.head, 5);
		virtq_push(&f->vq, f->c.head, 64);
	}
	ck_assert_uint_eq(*(uint16_t *)gpa(f, USED_GPA + 2), 3 * QSIZE + 3);
	teardown(f);
}
END_TEST

START_TEST(indirect_table)
{
	struct fixture *f;

	f = setup(FEATURES);
	set_desc_at(f, TABLE_GPA, 0, DATA_GPA, 16, VRING_DESC_F_NEXT, 2);
	set_desc_at(f, TABLE_GPA, 2, DATA_GPA + 0x100, 512, VRING_DESC_F_NEXT, 1);
	set_desc_at(f, TABLE_GPA, 1, RAM1, 1, VRING_DESC_F_WRITE, 0);
	/* A direct buffer first, then the table ends the chain. */
	set_desc(f, 9, DATA_GPA + 0x1000, 4, VRING_DESC_F_NEXT, 4);
	set_desc(f, 4, TABLE_GPA, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 9);
	ck_assert_int_eq(virtq_pop(&f->vq, &f->c), 1);
	ck_assert_uint_eq(f->c.head, 9);
	ck_assert_uint_eq(f->c.nr_out, 3);
	ck_assert_uint_eq(f->c.nr_in, 1);
	ck_assert_uint_eq(f->c.out_len, 4 + 16 + 512);
	ck_assert_ptr_eq(f->c.iov[1].iov_base, gpa(f, DATA_GPA));
	ck_assert_ptr_eq(f->c.iov[2].iov_base, gpa(f, DATA_GPA + 0x100));
	ck_assert_ptr_eq(f->c.iov[3].iov_base, gpa(f, RAM1));
	teardown(f);
}
END_TEST

START_TEST(indirect_largest_table)
{
	struct fixture *f;

	f = setup(FEATURES);
	for (unsigned int i = 0; i < VIRTQ_MAX_IOV; i++)
		set_desc_at(f, TABLE_GPA, i, DATA_GPA + i, 1,
			    i + 1 < VIRTQ_MAX_IOV ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	set_desc(f, 0, TABLE_GPA, VIRTQ_MAX_IOV * 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	ck_assert_int_eq(virtq_pop(&f->vq, &f->c), 1);
	ck_assert_uint_eq(f->c.nr_out, VIRTQ_MAX_IOV);
	teardown(f);
}
END_TEST

START_TEST(start_rejects_bad_rings)
{
	struct fixture *f;

	f = setup(FEATURES);
	ck_assert_int_eq(virtq_start(&f->vq, &f->mem, "q", 12, DESC_GPA, AVAIL_GPA, USED_GPA, 0),
			 -EINVAL);
	ck_assert_int_eq(virtq_start(&f->vq, &f->mem, "q", 0, DESC_GPA, AVAIL_GPA, USED_GPA, 0),
			 -EINVAL);
	ck_assert_int_eq(virtq_start(&f->vq, &f->mem, "q", 2048, DESC_GPA, AVAIL_GPA, USED_GPA, 0),
			 -EINVAL);
	ck_assert_int_eq(
	    virtq_start(&f->vq, &f->mem, "q", 16, DESC_GPA + 8, AVAIL_GPA, USED_GPA, 0), -EINVAL);
	ck_assert_int_eq(
	    virtq_start(&f->vq, &f->mem, "q", 16, DESC_GPA, AVAIL_GPA + 1, USED_GPA, 0), -EINVAL);
	ck_assert_int_eq(
	    virtq_start(&f->vq, &f->mem, "q", 16, DESC_GPA, AVAIL_GPA, USED_GPA + 2, 0), -EINVAL);
	/* The used ring would run past the end of the first region. */
	ck_assert_int_eq(
	    virtq_start(&f->vq, &f->mem, "q", 16, DESC_GPA, AVAIL_GPA, RAM_SIZE - 64, 0), -EFAULT);
	ck_assert_int_eq(virtq_start(&f->vq, &f->mem, "q", 16, RAM_SIZE, AVAIL_GPA, USED_GPA, 0),
			 -EFAULT);
	ck_assert(!f->vq.ready);
	ck_assert_int_eq(virtq_pop(&f->vq, &f->c), 0);
	virtq_push(&f->vq, 0, 0); /* ignored, no crash */
	ck_assert(!virtq_need_notify(&f->vq));
	teardown(f);
}
END_TEST

START_TEST(bad_buffers_outside_ram)
{
	struct fixture *f;

	f = setup(FEATURES);
	set_desc(f, 0, RAM_SIZE, 1, 0, 0); /* in the hole */
	offer(f, 0);
	expect_bad(f, -EFAULT, 0);
	set_desc(f, 0, RAM_SIZE - 4, 8, 0, 0); /* runs off the end of a region */
	offer(f, 0);
	expect_bad(f, -EFAULT, 0);
	set_desc(f, 0, UINT64_MAX - 4, 64, VRING_DESC_F_WRITE, 0); /* wraps */
	offer(f, 0);
	expect_bad(f, -EFAULT, 0);
	set_desc(f, 0, RAM1 + RAM_SIZE, 4, VRING_DESC_F_WRITE, 0); /* past the top */
	offer(f, 0);
	expect_bad(f, -EFAULT, 0);
	/* A good buffer first, then a bad one: nothing of the chain comes back. */
	set_desc(f, 0, DATA_GPA, 16, VRING_DESC_F_NEXT, 1);
	set_desc(f, 1, 1ULL << 40, 16, VRING_DESC_F_WRITE, 0);
	offer(f, 0);
	expect_bad(f, -EFAULT, 0);
	teardown(f);
}
END_TEST

START_TEST(bad_loops_and_indices)
{
	struct fixture *f;

	f = setup(FEATURES);
	set_desc(f, 2, DATA_GPA, 16, VRING_DESC_F_NEXT, 2); /* self loop */
	offer(f, 2);
	expect_bad(f, -ELOOP, 2);
	set_desc(f, 2, DATA_GPA, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 3);
	set_desc(f, 3, DATA_GPA, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 4);
	set_desc(f, 4, DATA_GPA, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	offer(f, 2);
	expect_bad(f, -ELOOP, 2);
	offer(f, QSIZE); /* head out of range: completed as given, the driver sees it */
	expect_bad(f, -EINVAL, QSIZE);
	offer(f, 0xffff);
	expect_bad(f, -EINVAL, 0xffff);
	set_desc(f, 5, DATA_GPA, 16, VRING_DESC_F_NEXT, QSIZE);
	offer(f, 5);
	expect_bad(f, -EINVAL, 5);
	teardown(f);
}
END_TEST

START_TEST(bad_order_and_flags)
{
	struct fixture *f;

	f = setup(FEATURES);
	set_desc(f, 0, DATA_GPA, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	set_desc(f, 1, DATA_GPA, 16, 0, 0); /* readable after writable */
	offer(f, 0);
	expect_bad(f, -EINVAL, 0);
	set_desc(f, 0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	offer(f, 0);
	expect_bad(f, -EINVAL, 0);
	/* Readable in the table after a writable direct buffer. */
	set_desc_at(f, TABLE_GPA, 0, DATA_GPA, 4, 0, 0);
	set_desc(f, 0, DATA_GPA, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	set_desc(f, 1, TABLE_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_bad(f, -EINVAL, 0);
	teardown(f);

	/* Indirect without having offered VIRTIO_F_INDIRECT_DESC. */
	f = setup(1ULL << VIRTIO_F_VERSION_1);
	set_desc_at(f, TABLE_GPA, 0, DATA_GPA, 4, 0, 0);
	set_desc(f, 0, TABLE_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_bad(f, -EINVAL, 0);
	teardown(f);
}
END_TEST

START_TEST(bad_indirect_tables)
{
	struct fixture *f;

	f = setup(FEATURES);
	set_desc(f, 0, TABLE_GPA, 0, VRING_DESC_F_INDIRECT, 0); /* zero length */
	offer(f, 0);
	expect_bad(f, -EINVAL, 0);
	set_desc(f, 0, TABLE_GPA, 24, VRING_DESC_F_INDIRECT, 0); /* not whole descriptors */
	offer(f, 0);
	expect_bad(f, -EINVAL, 0);
	set_desc(f, 0, TABLE_GPA, (VIRTQ_MAX_SIZE + 1) * 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_bad(f, -EINVAL, 0);
	set_desc(f, 0, RAM_SIZE - 16, 32, VRING_DESC_F_INDIRECT, 0); /* off the end */
	offer(f, 0);
	expect_bad(f, -EFAULT, 0);
	set_desc(f, 0, UINT64_MAX - 15, 32, VRING_DESC_F_INDIRECT, 0); /* wraps */
	offer(f, 0);
	expect_bad(f, -EFAULT, 0);

	set_desc(f, 0, TABLE_GPA, 4 * 16, VRING_DESC_F_INDIRECT, 0);
	set_desc_at(f, TABLE_GPA, 0, DATA_GPA, 4, VRING_DESC_F_NEXT, 1);
	set_desc_at(f, TABLE_GPA, 1, TABLE_GPA, 16, VRING_DESC_F_INDIRECT, 0); /* nested */
	offer(f, 0);
	expect_bad(f, -EINVAL, 0);
	set_desc_at(f, TABLE_GPA, 1, DATA_GPA, 4, VRING_DESC_F_NEXT, 0); /* loops to 0 */
	offer(f, 0);
	expect_bad(f, -ELOOP, 0);
	set_desc_at(f, TABLE_GPA, 1, DATA_GPA, 4, VRING_DESC_F_NEXT, 4); /* beyond table */
	offer(f, 0);
	expect_bad(f, -EINVAL, 0);
	set_desc_at(f, TABLE_GPA, 1, RAM_SIZE + 8, 4, 0, 0); /* buffer in the hole */
	offer(f, 0);
	expect_bad(f, -EFAULT, 0);
	teardown(f);
}
END_TEST

START_TEST(bad_oversize)
{
	struct fixture *f;
	const unsigned int n = VIRTQ_MAX_CHAIN_LEN / (512 << 10) + 1;

	f = setup(FEATURES);
	/* The same 512 KiB buffer named often enough to pass 128 MiB. */
	for (unsigned int i = 0; i < n; i++)
		set_desc_at(f, TABLE_GPA, i, RAM1, 512 << 10,
			    VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, (uint16_t)(i + 1));
	set_desc_at(f, TABLE_GPA, n - 1, RAM1, 512 << 10, VRING_DESC_F_WRITE, 0);
	set_desc(f, 0, TABLE_GPA, n * 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_bad(f, -E2BIG, 0);

	/* One direct buffer plus a full table: one iovec too many. */
	for (unsigned int i = 0; i < VIRTQ_MAX_IOV; i++)
		set_desc_at(f, TABLE_GPA, i, DATA_GPA, 1,
			    i + 1 < VIRTQ_MAX_IOV ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	set_desc(f, 0, DATA_GPA, 1, VRING_DESC_F_NEXT, 1);
	set_desc(f, 1, TABLE_GPA, VIRTQ_MAX_IOV * 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_bad(f, -E2BIG, 0);
	teardown(f);
}
END_TEST

START_TEST(broken_avail_index)
{
	struct fixture *f;

	f = setup(FEATURES);
	set_desc(f, 0, DATA_GPA, 16, 0, 0);
	*(uint16_t *)gpa(f, AVAIL_GPA + 2) = QSIZE + 1;
	ck_assert_int_eq(virtq_pop(&f->vq, &f->c), -EIO);
	ck_assert_uint_eq(f->c.head, VIRTQ_NO_HEAD);
	ck_assert(f->vq.broken);
	ck_assert_int_eq(virtq_pop(&f->vq, &f->c), 0);
	ck_assert(!virtq_enable_notify(&f->vq));
	/* A reset brings it back. */
	ck_assert_int_eq(
	    virtq_start(&f->vq, &f->mem, "q", QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA, FEATURES), 0);
	*(uint16_t *)gpa(f, AVAIL_GPA + 2) = 0;
	offer(f, 0);
	ck_assert_int_eq(virtq_pop(&f->vq, &f->c), 1);
	teardown(f);
}
END_TEST

START_TEST(recovers_after_bad_chain)
{
	struct fixture *f;

	f = setup(FEATURES);
	set_desc(f, 0, RAM_SIZE, 16, 0, 0);
	set_desc(f, 1, DATA_GPA, 16, 0, 0);
	offer(f, 0);
	offer(f, 1);
	ck_assert_int_eq(virtq_pop(&f->vq, &f->c), -EFAULT);
	virtq_push(&f->vq, f->c.head, 0);
	ck_assert_int_eq(virtq_pop(&f->vq, &f->c), 1);
	ck_assert_uint_eq(f->c.head, 1);
	ck_assert(iov_in_ram(f, &f->c.iov[0]));
	teardown(f);
}
END_TEST

START_TEST(notify_without_event_idx)
{
	struct fixture *f;
	uint16_t *aflags, *uflags;

	f = setup(FEATURES);
	aflags = gpa(f, AVAIL_GPA);
	uflags = gpa(f, USED_GPA);
	ck_assert(!virtq_need_notify(&f->vq)); /* nothing pushed yet */
	virtq_push(&f->vq, 0, 0);
	ck_assert(virtq_need_notify(&f->vq));
	ck_assert(!virtq_need_notify(&f->vq)); /* nothing new */
	*aflags = VRING_AVAIL_F_NO_INTERRUPT;
	virtq_push(&f->vq, 0, 0);
	ck_assert(!virtq_need_notify(&f->vq));
	*aflags = 0;
	virtq_push(&f->vq, 0, 0);
	ck_assert(virtq_need_notify(&f->vq));

	virtq_disable_notify(&f->vq);
	ck_assert_uint_eq(*uflags, VRING_USED_F_NO_NOTIFY);
	ck_assert(!virtq_enable_notify(&f->vq));
	ck_assert_uint_eq(*uflags, 0);
	offer(f, 0);
	ck_assert(virtq_enable_notify(&f->vq)); /* a buffer is waiting */
	teardown(f);
}
END_TEST

START_TEST(notify_with_event_idx)
{
	struct fixture *f;
	uint16_t *used_event, *avail_event;

	f = setup(FEATURES | 1ULL << VIRTIO_RING_F_EVENT_IDX);
	used_event = gpa(f, AVAIL_GPA + 4 + 2 * QSIZE);
	avail_event = gpa(f, USED_GPA + 4 + 8 * QSIZE);
	*(uint16_t *)gpa(f, AVAIL_GPA) = VRING_AVAIL_F_NO_INTERRUPT; /* ignored now */

	virtq_push(&f->vq, 0, 0);	      /* used idx 1 */
	ck_assert(virtq_need_notify(&f->vq)); /* first decision always interrupts */
	*used_event = 0;	  /* the driver wanted one when entry 0 was used: done already */
	virtq_push(&f->vq, 0, 0); /* used idx 2 */
	ck_assert(!virtq_need_notify(&f->vq));
	*used_event = 2;	  /* wants an interrupt once entry 2 is used */
	virtq_push(&f->vq, 0, 0); /* used idx 3: entry 2 now used */
	ck_assert(virtq_need_notify(&f->vq));
	*used_event = 10;
	virtq_push(&f->vq, 0, 0);
	virtq_push(&f->vq, 0, 0); /* used idx 5 */
	ck_assert(!virtq_need_notify(&f->vq));
	for (int i = 0; i < 6; i++)
		virtq_push(&f->vq, 0, 0); /* used idx 11: crossed 10 within this batch */
	ck_assert(virtq_need_notify(&f->vq));
	ck_assert(!virtq_need_notify(&f->vq));

	/* Device side: avail_event tells the driver where we stopped. */
	set_desc(f, 0, DATA_GPA, 4, 0, 0);
	offer(f, 0);
	offer(f, 0);
	virtq_disable_notify(&f->vq);
	ck_assert_uint_eq(*(uint16_t *)gpa(f, USED_GPA), 0); /* flags untouched */
	ck_assert_int_eq(virtq_pop(&f->vq, &f->c), 1);
	ck_assert(virtq_enable_notify(&f->vq));
	ck_assert_uint_eq(*avail_event, 1);
	ck_assert_int_eq(virtq_pop(&f->vq, &f->c), 1);
	ck_assert(!virtq_enable_notify(&f->vq));
	ck_assert_uint_eq(*avail_event, 2);
	teardown(f);
}
END_TEST

START_TEST(iov_copies)
{
	char a[3], b[5], out[8];
	struct iovec iov[] = {{a, 3}, {b, 5}};

	ck_assert_uint_eq(iov_from_buf(iov, 2, 1, "abcdefgh", 8), 7);
	ck_assert_int_eq(memcmp(a + 1, "ab", 2), 0);
	ck_assert_int_eq(memcmp(b, "cdefg", 5), 0);
	ck_assert_uint_eq(iov_to_buf(iov, 2, 2, out, 8), 6);
	ck_assert_int_eq(memcmp(out, "bcdefg", 6), 0);
	ck_assert_uint_eq(iov_to_buf(iov, 2, 8, out, 1), 0);
	ck_assert_uint_eq(iov_to_buf(iov, 0, 0, out, 1), 0);
}
END_TEST

Suite *virtqueue_suite(void)
{
	Suite *s = suite_create("virtqueue");
	TCase *good = tcase_create("good");
	TCase *bad = tcase_create("hostile");
	TCase *notify = tcase_create("notify");

	tcase_add_test(good, good_chain_and_push);
	tcase_add_test(good, zero_length_buffers_are_dropped);
	tcase_add_test(good, ring_wraps);
	tcase_add_test(good, indirect_table);
	tcase_add_test(good, indirect_largest_table);
	tcase_add_test(good, iov_copies);
	tcase_add_test(bad, start_rejects_bad_rings);
	tcase_add_test(bad, bad_buffers_outside_ram);
	tcase_add_test(bad, bad_loops_and_indices);
	tcase_add_test(bad, bad_order_and_flags);
	tcase_add_test(bad, bad_indirect_tables);
	tcase_add_test(bad, bad_oversize);
	tcase_add_test(bad, broken_avail_index);
	tcase_add_test(bad, recovers_after_bad_chain);
	tcase_add_test(notify, notify_without_event_idx);
	tcase_add_test(notify, notify_with_event_idx);
	suite_add_tcase(s, good);
	suite_add_tcase(s, bad);
	suite_add_tcase(s, notify);
	return s;
}
