/* IOMMU dirty tracking through iommufd (vfio/iommufd_hwpt.c) on the kernel's mock IOMMU:
 * minivmm's own functions allocate and share the dirty-tracking HWPT, turn tracking on,
 * read and clear the dirty bits into a migration's per-region bitmaps, turn it off and
 * destroy the HWPT; and a device whose IOMMU cannot track falls back to the IOAS,
 * untracked, saying why.
 *
 * No IOMMU this test bed can emulate records dirty bits (QEMU 7.2's VT-d has no SSADS,
 * its virtio-iommu and SMMUv3 none either), so the test runs on the mock IOMMU of
 * iommufd's selftest (CONFIG_IOMMUFD_TEST, in the test bed's kernel): its devices are
 * iommufd devices without VFIO, which is why the code under test takes an iommufd fd, a
 * device id and the IOAS, and the attach as a function (here the mock's replace). The
 * mock marks pages dirty on request (IOMMU_TEST_OP_DIRTY) as a device's DMA would.
 * Needs /dev/iommu and that kernel option: without either every test SKIPs with the
 * reason (make check-unit on a machine like CI's); the nested scenario unit-kvm runs
 * them and fails on such a skip.
 *
 * Without the kernel, a fake backend checks the migration's use of it (vfio/pci_mig.c):
 * which tracker a device gets, tracking on at the start, read each round, off at the
 * end, and the fallback when it cannot start. */
#include "devices/device.h"
#include "tests/unit/unit.h"
#include "vfio/internal.h"
#include "vfio/iommu.h"
#include "vfio/iommufd_hwpt.h"
#include "vfio/uapi_compat.h"
#include "vfio/vfio.h"
#include "vmm/machine.h"
#include "vmm/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- the selftest interface: not UAPI ----
 * IOMMU_TEST_CMD and struct iommu_test_cmd live in the kernel source beside the driver
 * (drivers/iommu/iommufd/iommufd_test.h), in no installed header, and the kernel may
 * change them at will: a tool for testing the kernel, not an ABI. So only what this
 * test uses is defined here, from Linux 6.12's file, the test bed's kernel; the
 * assertions pin that layout, so that a change shows at build time instead of as an
 * ioctl the kernel misreads. The union keeps its largest member (dirty), which gives
 * the structure its 6.12 size: the kernel wants at least up to `last`. */
enum {
	TEST_OP_MOCK_DOMAIN_REPLACE = 10, /* moves a mock device to another IOAS or HWPT */
	TEST_OP_MOCK_DOMAIN_FLAGS = 12,	  /* a mock device, bound and attached to an IOAS */
	TEST_OP_DIRTY = 13,		  /* marks the pages of a bitmap dirty in a HWPT */
};
#define MOCK_FLAGS_DEVICE_NO_DIRTY (1u << 0) /* its IOMMU has no dirty tracking */
#define MOCK_APERTURE_START	   (1ull << 24)

struct test_cmd {
	__u32 size;
	__u32 op;
	__u32 id; /* MOCK_DOMAIN_FLAGS: the IOAS; REPLACE: the device; DIRTY: the HWPT */
	__u32 __reserved;
	union {
		struct {
			__u32 out_stdev_id; /* the selftest object: the mock device */
			__u32 out_hwpt_id;  /* the automatic domain it got */
			__u32 out_idev_id;  /* the iommufd device (HWPT_ALLOC's dev_id) */
			__u32 dev_flags;
		} mock_domain_flags;
		struct {
			__u32 pt_id;
		} mock_domain_replace;
		struct {
			__u32 flags;
			__aligned_u64 iova;
			__aligned_u64 length;
			__aligned_u64 page_size; /* the mock's own page: one bit of uptr each */
			__aligned_u64 uptr;
			__aligned_u64 out_nr_dirty;
		} dirty;
	};
	__u32 last;
};
#define IOMMU_TEST_CMD _IO(';', 0x80 + 32)

_Static_assert(sizeof(struct test_cmd) == 72, "iommufd selftest of Linux 6.12");
_Static_assert(offsetof(struct test_cmd, last) == 64, "iommufd selftest of Linux 6.12");
_Static_assert(offsetof(struct test_cmd, mock_domain_flags.dev_flags) == 28, "6.12");
_Static_assert(offsetof(struct test_cmd, dirty.iova) == 24, "iommufd selftest of 6.12");
_Static_assert(offsetof(struct test_cmd, dirty.out_nr_dirty) == 56, "6.12");

#define PAGE	   4096u /* the migration's page, a bit of its bitmaps */
#define MB	   (1ull << 20)
#define NR_REGIONS 2

struct bed {
	int fd;
	uint32_t ioas;
	struct guest_mem mem; /* two "RAM regions" mapped in the IOAS, as minivmm maps RAM */
	uint8_t *ram;
};

/* The kernel's page over two: the mock IOMMU's page, which TEST_OP_DIRTY counts in. */
static uint64_t mock_page(void)
{
	return (uint64_t)sysconf(_SC_PAGESIZE) / 2;
}

/* Opens /dev/iommu with an IOAS, which s (the code under test) is given; NULL, or the
 * reason to skip. */
static const char *bed_open(struct bed *b, struct iommufd_hwpts *s)
{
	struct iommu_ioas_alloc a = {.size = sizeof(a)};
	struct test_cmd probe = {.size = sizeof(probe), .op = TEST_OP_DIRTY};

	memset(b, 0, sizeof(*b));
	b->fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (b->fd < 0)
		return errno == ENOENT ? "needs /dev/iommu and the kernel's mock IOMMU: no "
					 "/dev/iommu (a kernel without CONFIG_IOMMUFD)"
				       : "needs /dev/iommu and the kernel's mock IOMMU: /dev/iommu "
					 "cannot be opened (not root?)";
	ck_assert_int_eq(ioctl(b->fd, IOMMU_IOAS_ALLOC, &a), 0);
	b->ioas = a.out_ioas_id;
	*s = (struct iommufd_hwpts){.fd = b->fd, .ioas = b->ioas};
	/* A selftest command on no object: ENOTTY without the selftest, else its refusal. */
	if (ioctl(b->fd, IOMMU_TEST_CMD, &probe) < 0 && errno == ENOTTY) {
		close(b->fd);
		return "needs the kernel's mock IOMMU: this kernel lacks CONFIG_IOMMUFD_TEST "
		       "(the test bed's kernel has it: the nested scenario unit-kvm)";
	}
	return NULL;
}

/* Maps 1 MiB at 16 MiB and 2 MiB at 32 MiB (inside the mock's aperture) as guest RAM. */
static void bed_map(struct bed *b)
{
	const uint64_t gpa[NR_REGIONS] = {MOCK_APERTURE_START, 2 * MOCK_APERTURE_START};
	const uint64_t size[NR_REGIONS] = {1 * MB, 2 * MB};
	uint64_t off = 0;

	b->ram = mmap(NULL, 3 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(b->ram, MAP_FAILED);
	for (int r = 0; r < NR_REGIONS; r++) {
		struct iommu_ioas_map m = {
		    .size = sizeof(m),
		    .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			     IOMMU_IOAS_MAP_WRITEABLE,
		    .ioas_id = b->ioas,
		    .user_va = (uintptr_t)(b->ram + off),
		    .length = size[r],
		    .iova = gpa[r],
		};

		ck_assert_msg(ioctl(b->fd, IOMMU_IOAS_MAP, &m) == 0, "IOMMU_IOAS_MAP: %m");
		b->mem.regions[r] =
		    (struct mem_region){.gpa = gpa[r], .size = size[r], .hva = b->ram + off};
		off += size[r];
	}
	b->mem.nr_regions = NR_REGIONS;
	b->mem.ram_size = off;
}

static void bed_close(struct bed *b)
{
	close(b->fd); /* destroys every object: devices, HWPTs, the IOAS */
	if (b->ram)
		munmap(b->ram, 3 * MB);
}

struct mock_dev {
	struct bed *b;
	uint32_t stdev, idev, auto_hwpt;
};

/* A mock device, bound and attached to the IOAS (its automatic domain), as a VFIO
 * device is after VFIO_DEVICE_BIND_IOMMUFD. */
static struct mock_dev mock_dev(struct bed *b, uint32_t flags)
{
	struct test_cmd c = {.size = sizeof(c), .op = TEST_OP_MOCK_DOMAIN_FLAGS, .id = b->ioas};

	c.mock_domain_flags.dev_flags = flags;
	ck_assert_msg(ioctl(b->fd, IOMMU_TEST_CMD, &c) == 0, "IOMMU_TEST_OP_MOCK_DOMAIN: %m");
	return (struct mock_dev){b, c.mock_domain_flags.out_stdev_id,
				 c.mock_domain_flags.out_idev_id, c.mock_domain_flags.out_hwpt_id};
}

/* iommufd_attach_fn for a mock device: what VFIO_DEVICE_ATTACH_IOMMUFD_PT is to a VFIO
 * cdev. A refused replace leaves the device where it was. */
static int mock_attach(void *ctx, uint32_t pt_id)
{
	const struct mock_dev *d = ctx;
	struct test_cmd c = {.size = sizeof(c), .op = TEST_OP_MOCK_DOMAIN_REPLACE, .id = d->stdev};

	c.mock_domain_replace.pt_id = pt_id;
	return ioctl(d->b->fd, IOMMU_TEST_CMD, &c) < 0 ? -errno : 0;
}

/* The mock's DMA: marks the 4 KiB pages pages[0..n) of region r dirty in hwpt (only
 * the first mock page of each, which must be enough to dirty the whole 4 KiB page). */
static void dma_write(struct bed *b, uint32_t hwpt, int r, const uint64_t *pages, int n)
{
	uint64_t mp = mock_page(), bits = b->mem.regions[r].size / mp;
	uint64_t *bm = calloc(bits / 64 + 1, 8);
	struct test_cmd c = {.size = sizeof(c), .op = TEST_OP_DIRTY, .id = hwpt};

	ck_assert_ptr_nonnull(bm);
	for (int i = 0; i < n; i++) {
		uint64_t bit = pages[i] * PAGE / mp;

		bm[bit / 64] |= 1ull << (bit % 64);
	}
	c.dirty.iova = b->mem.regions[r].gpa;
	c.dirty.length = b->mem.regions[r].size;
	c.dirty.page_size = mp;
	c.dirty.uptr = (uintptr_t)bm;
	ck_assert_msg(ioctl(b->fd, IOMMU_TEST_CMD, &c) == 0, "IOMMU_TEST_OP_DIRTY: %m");
	ck_assert_uint_eq(c.dirty.out_nr_dirty, (uint64_t)n);
	free(bm);
}

static uint64_t *bitmaps_alloc(const struct bed *b, uint64_t **bm)
{
	for (int r = 0; r < NR_REGIONS; r++) {
		bm[r] = calloc(b->mem.regions[r].size / PAGE / 64 + 1, 8);
		ck_assert_ptr_nonnull(bm[r]);
	}
	return bm[0];
}

static void bitmaps_free(uint64_t **bm)
{
	for (int r = 0; r < NR_REGIONS; r++)
		free(bm[r]);
}

/* Region r's bitmap has exactly pages[0..n) set. */
static void expect_pages(const struct bed *b, uint64_t **bm, int r, const uint64_t *pages, int n)
{
	for (uint64_t p = 0; p < b->mem.regions[r].size / PAGE; p++) {
		bool want = false;

		for (int i = 0; i < n; i++)
			want |= pages[i] == p;
		ck_assert_msg(((bm[r][p / 64] >> (p % 64)) & 1) == want,
			      "region %d page %llu: dirty %d, expected %d", r,
			      (unsigned long long)p, !want, want);
	}
}

/* Whether the mock domain of hwpt records dirty bits now, as the mock itself sees it:
 * TEST_OP_DIRTY (here with nothing to mark) is refused while it does not. (Linux 6.12's
 * IOMMU_HWPT_GET_DIRTY_BITMAP cannot tell: it drops the driver's refusal to read an
 * untracked domain and answers 0 with nothing set.) */
static bool mock_tracking(const struct bed *b, uint32_t hwpt)
{
	uint64_t none[2] = {0};
	struct test_cmd c = {.size = sizeof(c), .op = TEST_OP_DIRTY, .id = hwpt};

	c.dirty.iova = b->mem.regions[0].gpa;
	c.dirty.length = 64 * mock_page();
	c.dirty.page_size = mock_page();
	c.dirty.uptr = (uintptr_t)none;
	if (ioctl(b->fd, IOMMU_TEST_CMD, &c) == 0)
		return true;
	ck_assert_int_eq(errno, EINVAL);
	return false;
}

static bool hwpt_exists(const struct bed *b, uint32_t id)
{
	struct iommu_hwpt_set_dirty_tracking t = {.size = sizeof(t), .hwpt_id = id};

	/* Turning tracking off is harmless on a HWPT that exists; ENOENT if none does. */
	return ioctl(b->fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &t) == 0 || errno != ENOENT;
}

START_TEST(dirty_pages_tracked)
{
	static const uint64_t p0[] = {0, 5, 255}, p1[] = {1, 64, 511};
	struct iommufd_hwpts s = {0};
	struct mock_dev a, c;
	uint64_t *bm[NR_REGIONS];
	char why[200] = "";
	int slot_a, slot_c;
	uint32_t id;
	bool reader;
	struct bed b;
	const char *skip = bed_open(&b, &s);

	if (skip)
		UNIT_SKIP(skip);
	/* Attached before guest RAM is mapped, as minivmm does at start. */
	a = mock_dev(&b, 0);
	ck_assert_int_eq(iommufd_hwpt_attach(&s, a.idev, mock_attach, &a, &slot_a, why, 200), 0);
	ck_assert_int_eq(slot_a, 0);
	id = s.pt[0].id;
	ck_assert_uint_ne(id, 0);
	ck_assert_uint_ne(id, a.auto_hwpt); /* not the kernel's automatic domain */
	fprintf(stderr, "dirty_pages_tracked: mock device %u on dirty-tracking HWPT %u\n", a.idev,
		id);
	bed_map(&b);
	/* A second device that can share it shares it: one domain, two users. */
	c = mock_dev(&b, 0);
	ck_assert_int_eq(iommufd_hwpt_attach(&s, c.idev, mock_attach, &c, &slot_c, why, 200), 0);
	ck_assert_int_eq(slot_c, 0);
	ck_assert_int_eq(s.pt[0].users, 2);
	ck_assert_uint_eq(s.pt[1].id, 0);

	bitmaps_alloc(&b, bm);
	/* Not tracking until asked; on for both, the first turns it on and is the one that
	 * reads. */
	ck_assert(!mock_tracking(&b, id));
	ck_assert_int_eq(iommufd_hwpt_track(&s, slot_a, true, &reader), 0);
	ck_assert(reader);
	ck_assert(mock_tracking(&b, id));
	ck_assert_int_eq(iommufd_hwpt_track(&s, slot_c, true, &reader), 0);
	ck_assert(!reader);
	ck_assert_int_eq(s.pt[0].tracking, 2);

	dma_write(&b, id, 0, p0, 3);
	dma_write(&b, id, 1, p1, 3);
	ck_assert_int_eq(iommufd_hwpt_read(&s, slot_a, &b.mem, bm), 0);
	expect_pages(&b, bm, 0, p0, 3);
	expect_pages(&b, bm, 1, p1, 3);
	fprintf(stderr, "dirty_pages_tracked: pages 0, 5, 255 and 1, 64, 511 marked by the mock, "
			"exactly those read back\n");
	/* Read and clear: the next round finds nothing, and ORs, never clears ours. */
	ck_assert_int_eq(iommufd_hwpt_read(&s, slot_a, &b.mem, bm), 0);
	expect_pages(&b, bm, 0, p0, 3);
	bitmaps_free(bm);
	bitmaps_alloc(&b, bm);
	ck_assert_int_eq(iommufd_hwpt_read(&s, slot_a, &b.mem, bm), 0);
	expect_pages(&b, bm, 0, NULL, 0);
	expect_pages(&b, bm, 1, NULL, 0);
	fprintf(stderr, "dirty_pages_tracked: a second read finds them clear\n");

	/* Off when the last user stops, not before. */
	ck_assert_int_eq(iommufd_hwpt_track(&s, slot_c, false, NULL), 0);
	ck_assert(mock_tracking(&b, id));
	ck_assert_int_eq(iommufd_hwpt_read(&s, slot_a, &b.mem, bm), 0);
	ck_assert_int_eq(iommufd_hwpt_track(&s, slot_a, false, NULL), 0);
	ck_assert_int_eq(s.pt[0].tracking, 0);
	ck_assert(!mock_tracking(&b, id));
	fprintf(stderr, "dirty_pages_tracked: tracking off with its last user\n");
	bitmaps_free(bm);

	/* Detached (back to the IOAS: a mock device cannot be unattached), put: the HWPT
	 * goes with its last device, not before. */
	ck_assert_int_eq(mock_attach(&a, b.ioas), 0);
	iommufd_hwpt_put(&s, slot_a);
	ck_assert(hwpt_exists(&b, id));
	ck_assert_int_eq(mock_attach(&c, b.ioas), 0);
	ck_assert_int_eq(iommufd_hwpt_put(&s, slot_c), 0);
	ck_assert_uint_eq(s.pt[0].id, 0);
	ck_assert(!hwpt_exists(&b, id));
	fprintf(stderr, "dirty_pages_tracked: HWPT %u destroyed with its last device\n", id);
	bed_close(&b);
}
END_TEST

/* A device whose IOMMU cannot track: refused by the HWPT another device has (EINVAL),
 * refused a HWPT of its own (EOPNOTSUPP), on the IOAS, untracked, and the reason says
 * so; nothing is left behind for it. */
START_TEST(untracked_device_falls_back)
{
	struct iommufd_hwpts s = {0};
	struct mock_dev a, n;
	char why[200] = "";
	int slot_a, slot_n = 0;
	struct bed b;
	const char *skip = bed_open(&b, &s);

	if (skip)
		UNIT_SKIP(skip);
	bed_map(&b);
	a = mock_dev(&b, 0);
	ck_assert_int_eq(iommufd_hwpt_attach(&s, a.idev, mock_attach, &a, &slot_a, why, 200), 0);
	ck_assert_int_eq(slot_a, 0);
	n = mock_dev(&b, MOCK_FLAGS_DEVICE_NO_DIRTY);
	ck_assert_int_eq(iommufd_hwpt_attach(&s, n.idev, mock_attach, &n, &slot_n, why, 200), 0);
	ck_assert_int_eq(slot_n, -1);
	ck_assert_msg(strstr(why, "its IOMMU records no dirty bits") != NULL, "why: %s", why);
	fprintf(stderr,
		"untracked_device_falls_back: mock device %u (no dirty tracking) on the "
		"IOAS: %s\n",
		n.idev, why);
	ck_assert_int_eq(s.pt[0].users, 1);
	for (int i = 1; i < IOMMUFD_MAX_HWPTS; i++)
		ck_assert_uint_eq(s.pt[i].id, 0);
	/* Nothing to track for it; put of an untracked device is a no-op. */
	ck_assert_int_eq(iommufd_hwpt_track(&s, slot_n, true, NULL), -EINVAL);
	iommufd_hwpt_put(&s, slot_n);
	ck_assert_int_eq(s.pt[0].users, 1);

	/* Alone, too: no HWPT made, none shared. */
	ck_assert_int_eq(mock_attach(&a, b.ioas), 0);
	iommufd_hwpt_put(&s, slot_a);
	why[0] = 0;
	ck_assert_int_eq(mock_attach(&n, b.ioas), 0);
	ck_assert_int_eq(iommufd_hwpt_attach(&s, n.idev, mock_attach, &n, &slot_n, why, 200), 0);
	ck_assert_int_eq(slot_n, -1);
	ck_assert_ptr_nonnull(strstr(why, "its IOMMU records no dirty bits"));
	for (int i = 0; i < IOMMUFD_MAX_HWPTS; i++)
		ck_assert_uint_eq(s.pt[i].id, 0);
	bed_close(&b);
}
END_TEST

/* Hot-plug's cycle: a device attached and removed 100 times leaves no HWPT behind. */
START_TEST(hwpt_lifecycle_100_times)
{
	struct iommufd_hwpts s = {0};
	struct mock_dev a;
	char why[200];
	int slot;
	struct bed b;
	const char *skip = bed_open(&b, &s);

	if (skip)
		UNIT_SKIP(skip);
	bed_map(&b);
	a = mock_dev(&b, 0);
	for (int i = 0; i < 100; i++) {
		uint32_t id;

		ck_assert_int_eq(iommufd_hwpt_attach(&s, a.idev, mock_attach, &a, &slot, why, 200),
				 0);
		ck_assert_int_eq(slot, 0);
		id = s.pt[0].id;
		ck_assert_int_eq(iommufd_hwpt_track(&s, slot, true, NULL), 0);
		ck_assert(mock_tracking(&b, id));
		ck_assert_int_eq(iommufd_hwpt_track(&s, slot, false, NULL), 0);
		ck_assert_int_eq(mock_attach(&a, b.ioas), 0);
		ck_assert_int_eq(iommufd_hwpt_put(&s, slot), 0);
		ck_assert(!hwpt_exists(&b, id));
	}
	for (int i = 0; i < IOMMUFD_MAX_HWPTS; i++)
		ck_assert_uint_eq(s.pt[i].id, 0);
	bed_close(&b);
}
END_TEST

/* ---- the migration's side, on a fake backend ---- */

struct fake_backend {
	int track_ret;	    /* what dirty_track(on) answers */
	int on, off, reads; /* calls */
	bool tracking;
};

/* The backend's state is opaque to vfio/: the fake's own structure stands for it. */
static int fake_track(struct vfio_iommu *io, int device_fd, bool on)
{
	struct fake_backend *f = (struct fake_backend *)io;

	(void)device_fd;
	if (on && f->track_ret)
		return f->track_ret;
	*(on ? &f->on : &f->off) += 1;
	f->tracking = on;
	return 0;
}

static int fake_read(struct vfio_iommu *io, int device_fd, const struct guest_mem *mem,
		     uint64_t **bitmaps)
{
	struct fake_backend *f = (struct fake_backend *)io;

	(void)device_fd;
	ck_assert(f->tracking);
	f->reads++;
	bitmaps[mem->nr_regions - 1][0] |= 1u << 3; /* the device wrote page 3 */
	return 0;
}

static const struct vfio_iommu_ops fake_ops = {
    .name = "fake", .dirty_track = fake_track, .dirty_read = fake_read};

START_TEST(migration_uses_the_iommu)
{
	struct machine *m = calloc(1, sizeof(*m));
	struct vfio_vm *vv = calloc(1, sizeof(*vv));
	struct vfio_pci *vp = calloc(1, sizeof(*vp));
	struct fake_backend f = {0};
	uint64_t word = 0, *bm[1] = {&word};
	const struct device_ops *ops = &vfio_pci_device_ops;
	char buf[300];
	bool tracked = false;

	ck_assert(m && vv && vp);
	m->mem.nr_regions = 1;
	m->mem.regions[0] = (struct mem_region){.gpa = 0, .size = 64 * PAGE};
	vv->iommu_ops = &fake_ops;
	vv->iommu = (struct vfio_iommu *)&f;
	vp->vv = vv;
	vp->mach = m;
	vp->fd = -1;
	vp->mig.data_fd = -1;
	strcpy(vp->name, "vfio.nic (0000:00:05.0)");
	vp->mig.flags = VFIO_MIGRATION_STOP_COPY;

	/* What info and the log say, in the order minivmm prefers them. */
	snprintf(vp->mig.untracked, sizeof(vp->mig.untracked), "its IOMMU records no dirty bits");
	ck_assert_str_eq(vfio_pci_dma_tracker(vp, buf, sizeof(buf)),
			 "none (no device DMA logging; its IOMMU records no dirty bits)");
	vp->mig.hwpt = 7;
	ck_assert_str_eq(vfio_pci_dma_tracker(vp, buf, sizeof(buf)), "the IOMMU (iommufd HWPT 7)");
	vp->mig.logging = true;
	ck_assert_str_eq(vfio_pci_dma_tracker(vp, buf, sizeof(buf)), "the device's DMA logging");

	/* The device's log will not start (no device here): the IOMMU takes over, on at the
	 * start, read each round, off at the end. */
	ck_assert_int_eq(ops->mig_start(vp, &tracked), 0);
	ck_assert(tracked);
	ck_assert_int_eq(f.on, 1);
	ck_assert_int_eq(ops->mig_dirty(vp, &m->mem, bm), 0);
	ck_assert_int_eq(ops->mig_dirty(vp, &m->mem, bm), 0);
	ck_assert_int_eq(f.reads, 2);
	ck_assert_uint_eq(word, 1u << 3);
	ops->mig_end(vp);
	ck_assert_int_eq(f.off, 1);
	ck_assert(!f.tracking);
	ops->mig_end(vp); /* a second end turns nothing off twice */
	ck_assert_int_eq(f.off, 1);

	/* The IOMMU refuses to start: untracked, the migration's safe fallback. */
	f.track_ret = -EIO;
	ck_assert_int_eq(ops->mig_start(vp, &tracked), 0);
	ck_assert(!tracked);
	ck_assert_int_eq(ops->mig_dirty(vp, &m->mem, bm), 0);
	ck_assert_int_eq(f.reads, 2);
	ops->mig_end(vp);
	ck_assert_int_eq(f.off, 1);

	/* No HWPT: nothing asked of the backend. */
	f.track_ret = 0;
	vp->mig.hwpt = 0;
	ck_assert_int_eq(ops->mig_start(vp, &tracked), 0);
	ck_assert(!tracked);
	ck_assert_int_eq(f.on, 1);
	ops->mig_end(vp);
	free(vp);
	free(vv);
	free(m);
}
END_TEST

Suite *iommufd_dirty_suite(void)
{
	Suite *s = suite_create("iommufd_dirty");
	TCase *tc = tcase_create("mock_iommu");

	tcase_add_test(tc, dirty_pages_tracked);
	tcase_add_test(tc, untracked_device_falls_back);
	tcase_add_test(tc, hwpt_lifecycle_100_times);
	suite_add_tcase(s, tc);
	tc = tcase_create("migration");
	tcase_add_test(tc, migration_uses_the_iommu);
	suite_add_tcase(s, tc);
	return s;
}
