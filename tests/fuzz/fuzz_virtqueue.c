/* The split-virtqueue walker (devices/virtqueue.c) against a hostile driver.
 *
 * Guest RAM (mem_init, anonymous): 64 KiB at 0 and 64 KiB at 1 MiB, each between
 * PROT_NONE guard pages where the address space allows, so a stray host access past a
 * region faults. The input is a 2-byte header (log2 of the queue size, feature bits)
 * and then commands, each an opcode byte and its fields (see run()): write a descriptor
 * in the ring or in an indirect table, publish a head, move avail->idx anywhere, poke
 * any guest bytes (flags, used_event), toggle notifications, restart the queue (also
 * at addresses from the input), and pop/push until the queue runs dry. After the input
 * the queue is drained once more.
 *
 * Invariants: every iovec of a popped chain lies inside one RAM region; counts and
 * lengths add up and respect the caps; a pop loop ends within queue-size pops; a bad
 * chain comes back empty. */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/virtqueue.h"
#include "tests/fuzz/fuzz.h"

#define REGION	  0x10000ULL
#define RAM1	  0x100000ULL
#define DESC_GPA  0x0000 /* up to 1024 x 16 bytes */
#define AVAIL_GPA 0x4000 /* 6 + 2 x 1024 */
#define USED_GPA  0x5000 /* 6 + 8 x 1024 */
#define TABLE_GPA 0x8000 /* indirect tables: 1024 x 16 bytes */

static struct guest_mem mem;
static struct virtq vq;
static struct virtq_chain chain;

static void guard(void *addr)
{
	void *p =
	    mmap(addr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p != MAP_FAILED && p != addr)
		munmap(p, 4096); /* an old kernel ignored the hint: no guard there */
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const gpa_t gpas[] = {0, RAM1};
	const uint64_t sizes[] = {REGION, REGION};

	(void)argc, (void)argv;
	if (mem_init(&mem, gpas, sizes, 2, 0)) {
		fprintf(stderr, "fuzz_virtqueue: mem_init failed\n");
		exit(1);
	}
	for (int i = 0; i < mem.nr_regions; i++) {
		guard(mem.regions[i].hva - 4096);
		guard(mem.regions[i].hva + mem.regions[i].size);
	}
	return 0;
}

static bool in_one_region(const void *base, size_t len)
{
	const uint8_t *b = base;

	for (int i = 0; i < mem.nr_regions; i++) {
		const struct mem_region *r = &mem.regions[i];

		if (b >= r->hva && b < r->hva + r->size && len <= (size_t)(r->hva + r->size - b))
			return true;
	}
	return false;
}

static void check_chain(int ret)
{
	uint64_t out = 0, in = 0;

	if (ret <= 0) {
		FUZZ_CHECK(chain.nr_out == 0 && chain.nr_in == 0);
		FUZZ_CHECK(chain.out_len == 0 && chain.in_len == 0);
		/* A bad head is completed as given (the driver sees its own garbage). */
		if (ret < 0)
			FUZZ_CHECK(chain.head == VIRTQ_NO_HEAD || chain.head <= UINT16_MAX);
		return;
	}
	FUZZ_CHECK(chain.head < vq.size);
	FUZZ_CHECK(chain.nr_out + chain.nr_in <= VIRTQ_MAX_IOV);
	for (unsigned int i = 0; i < chain.nr_out + chain.nr_in; i++) {
		const struct iovec *v = &chain.iov[i];

		FUZZ_CHECK(v->iov_len > 0);
		FUZZ_CHECK(in_one_region(v->iov_base, v->iov_len));
		/* Touch both ends: a wrong translation faults on the guard pages. */
		if (i < chain.nr_out) {
			out += v->iov_len;
			(void)*(volatile uint8_t *)v->iov_base;
			(void)*((volatile uint8_t *)v->iov_base + v->iov_len - 1);
		} else {
			in += v->iov_len;
			*(volatile uint8_t *)v->iov_base = 0xa5;
			*((volatile uint8_t *)v->iov_base + v->iov_len - 1) = 0x5a;
		}
	}
	FUZZ_CHECK(out == chain.out_len && in == chain.in_len);
	FUZZ_CHECK(out + in <= VIRTQ_MAX_CHAIN_LEN);
}

/* Pops and completes chains until there are none, as a device's I/O thread does. */
static void drain(uint32_t len_bias)
{
	unsigned int pops = 0;
	int ret;

	for (;;) {
		ret = virtq_pop(&vq, &chain);
		check_chain(ret);
		if (ret == 0)
			break;
		/* Each pop consumes one available entry and at most size are pending. */
		FUZZ_CHECK(++pops <= (unsigned int)vq.size + 1);
		if (ret > 0)
			virtq_push(&vq, chain.head, (uint32_t)chain.in_len ^ (len_bias & 7));
		else if (chain.head != VIRTQ_NO_HEAD)
			virtq_push(&vq, chain.head, 0);
		else
			FUZZ_CHECK(vq.broken);
	}
	(void)virtq_need_notify(&vq);
}

static uint64_t features(uint8_t b)
{
	return 1ULL << VIRTIO_F_VERSION_1 | (b & 1 ? 1ULL << VIRTIO_RING_F_EVENT_IDX : 0) |
	       (b & 2 ? 1ULL << VIRTIO_RING_F_INDIRECT_DESC : 0);
}

static void start(uint8_t size_log2, uint8_t feat)
{
	uint16_t size = (uint16_t)(1u << (size_log2 % 11));

	FUZZ_CHECK(virtq_start(&vq, &mem, "fuzz q", size, DESC_GPA, AVAIL_GPA, USED_GPA,
			       features(feat)) == 0);
}

static void run(struct fz *f)
{
	uint16_t avail = 0;

	while (f->n) {
		uint8_t op = fz_u8(f);

		switch (op % 8) {
		case 0: { /* a descriptor: in the ring, or in the indirect area */
			struct vring_desc d;
			uint16_t i = fz_u16(f);
			gpa_t base = op & 0x80 ? TABLE_GPA : DESC_GPA;

			d.addr = fz_u64(f);
			d.len = fz_u32(f);
			d.flags = fz_u16(f);
			d.next = fz_u16(f);
			if (op & 0x40) /* a small address, likely inside RAM */
				d.addr &= op & 0x20 ? 0xfffff : (RAM1 | 0xffff);
			if (op & 0x10) /* a pointer to the indirect area */
				d.addr = TABLE_GPA;
			i %= op & 0x80 ? VIRTQ_MAX_SIZE : (vq.size ? vq.size : 1);
			FUZZ_CHECK(mem_write(&mem, base + 16ULL * i, &d, sizeof(d)) == 0);
			break;
		}
		case 1: { /* publish a head, as a driver does */
			uint16_t head = fz_u16(f), ring;

			if (!vq.ready)
				break;
			if (!(op & 0x80))
				head %= vq.size;
			ring = (uint16_t)(AVAIL_GPA + 4 + 2 * (avail % vq.size));
			FUZZ_CHECK(mem_write(&mem, ring, &head, 2) == 0);
			avail++;
			FUZZ_CHECK(mem_write(&mem, AVAIL_GPA + 2, &avail, 2) == 0);
			break;
		}
		case 2: /* avail->idx anywhere */
			avail = fz_u16(f);
			FUZZ_CHECK(mem_write(&mem, AVAIL_GPA + 2, &avail, 2) == 0);
			break;
		case 3:
			drain(op >> 3);
			break;
		case 4: { /* raw bytes anywhere in region 0 (flags, used_event, ...) */
			uint16_t off = fz_u16(f);
			uint8_t len = fz_u8(f) % 16, buf[16];

			fz_take(f, buf, len);
			if ((uint32_t)off + len <= REGION)
				FUZZ_CHECK(mem_write(&mem, off, buf, len) == 0);
			break;
		}
		case 5:
			if (op & 0x08)
				virtq_disable_notify(&vq);
			else
				(void)virtq_enable_notify(&vq);
			break;
		case 6: /* one pop only: interleaved with publishing */
			check_chain(virtq_pop(&vq, &chain));
			if (chain.head != VIRTQ_NO_HEAD)
				virtq_push(&vq, chain.head, (uint32_t)chain.in_len);
			break;
		case 7: /* reset; restart at the usual or at hostile addresses */
			avail = 0;
			if (op & 0x80) {
				uint16_t size = fz_u16(f);
				gpa_t d = fz_u64(f), a = fz_u64(f), u = fz_u64(f);
				int ret;

				if (op & 0x40) { /* near RAM, to reach the bounds checks */
					d &= 0x10ffff;
					a &= 0x10ffff;
					u &= 0x10ffff;
				}
				ret = virtq_start(&vq, &mem, "fuzz q", size, d, a, u,
						  features(op >> 3));
				FUZZ_CHECK(ret == 0 || ret == -EINVAL || ret == -EFAULT);
				FUZZ_CHECK(ret < 0 || (in_one_region(vq.desc, 16u * vq.size) &&
						       in_one_region(vq.avail, 6u + 2 * vq.size) &&
						       in_one_region(vq.used, 6u + 8 * vq.size)));
				FUZZ_CHECK(ret == 0 || !vq.ready);
			} else {
				start(op >> 3, op >> 6);
			}
			break;
		}
	}
	drain(0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	uint8_t size_log2 = fz_u8(&f), feat = fz_u8(&f);

	if (!mem.nr_regions)
		LLVMFuzzerInitialize(NULL, NULL);
	for (int i = 0; i < mem.nr_regions; i++)
		memset(mem.regions[i].hva, 0, mem.regions[i].size);
	start(size_log2, feat);
	run(&f);
	virtq_stop(&vq);
	return 0;
}
