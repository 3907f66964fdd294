/* virtio-blk: the request handler on a temporary image (iovecs in, status byte out),
 * image locking, and the whole virtio-pci transport driven the way a guest driver
 * would (capabilities, feature negotiation, queue setup, notify, ISR, reset) on a VM
 * without KVM: notifications take the MMIO path to the device's I/O thread. */
#include "tests/unit/unit.h"
#include "tests/unit/virtio_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices/virtio_backends.h"
#include "devices/stream.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_pci.h"
#include "vmm/config.h"
#include "vmm/machine.h"

#define SECTORS 64 /* image size: 32 KiB */

/* A temporary image of SECTORS sectors, every byte 0xee. */
static int make_image(char *path)
{
	uint8_t buf[SECTORS * 512];
	int fd;

	strcpy(path, "/tmp/minivmm-blk-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	memset(buf, 0xee, sizeof(buf));
	ck_assert_int_eq(write(fd, buf, sizeof(buf)), sizeof(buf));
	return fd;
}

static struct virtio_blk_disk disk_on(int fd, bool readonly)
{
	struct virtio_blk_disk d = {.fd = fd, .sectors = SECTORS, .readonly = readonly};

	memcpy(d.id, "disk0", 5);
	return d;
}

/* One request from a header, a data buffer (NULL: none) and a status byte. */
static uint32_t request(const struct virtio_blk_disk *d, uint32_t type, uint64_t sector, void *data,
			size_t len, uint8_t *status)
{
	struct virtio_blk_outhdr hdr = {.type = type, .sector = sector};
	struct iovec iov[3] = {{&hdr, sizeof(hdr)}};
	unsigned int n = 1;
	bool out = type == VIRTIO_BLK_T_OUT;

	if (data)
		iov[n++] = (struct iovec){data, len};
	iov[n++] = (struct iovec){status, 1};
	*status = 0x77;
	return virtio_blk_request(d, iov, out && data ? 2 : 1, out && data ? 1 : n - 1);
}

START_TEST(write_then_read)
{
	char path[32];
	int fd = make_image(path);
	struct virtio_blk_disk d = disk_on(fd, false);
	uint8_t data[1024], back[1024], file[SECTORS * 512], st;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	ck_assert_uint_eq(request(&d, VIRTIO_BLK_T_OUT, 2, data, sizeof(data), &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_OK);
	/* Exactly those bytes at exactly that place, nothing else touched. */
	ck_assert_int_eq(pread(fd, file, sizeof(file), 0), sizeof(file));
	ck_assert_int_eq(memcmp(file + 1024, data, sizeof(data)), 0);
	for (size_t i = 0; i < sizeof(file); i++)
		if (i < 1024 || i >= 2048)
			ck_assert_uint_eq(file[i], 0xee);
	ck_assert_uint_eq(request(&d, VIRTIO_BLK_T_IN, 2, back, sizeof(back), &st), 1025);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_OK);
	ck_assert_int_eq(memcmp(back, data, sizeof(data)), 0);
	ck_assert_uint_eq(request(&d, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_OK);
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(any_layout)
{
	char path[32];
	int fd = make_image(path);
	struct virtio_blk_disk d = disk_on(fd, false);
	/* Header split over two buffers, the second also holding the first data bytes;
	 * for the read, data and status share one buffer. */
	struct virtio_blk_outhdr hdr = {.type = VIRTIO_BLK_T_OUT, .sector = SECTORS - 1};
	uint8_t tail[8 + 100], rest[412], in[513], file[512];
	struct iovec w[] = {{&hdr, 8}, {tail, sizeof(tail)}, {rest, sizeof(rest)}, {in, 1}};

	memcpy(tail, (uint8_t *)&hdr + 8, 8);
	memset(tail + 8, 0x11, 100);
	memset(rest, 0x22, sizeof(rest));
	ck_assert_uint_eq(virtio_blk_request(&d, w, 3, 1), 1);
	ck_assert_uint_eq(in[0], VIRTIO_BLK_S_OK);
	ck_assert_int_eq(pread(fd, file, 512, (SECTORS - 1) * 512), 512);
	ck_assert_uint_eq(file[0], 0x11);
	ck_assert_uint_eq(file[99], 0x11);
	ck_assert_uint_eq(file[100], 0x22);
	ck_assert_uint_eq(file[511], 0x22);

	hdr.type = VIRTIO_BLK_T_IN;
	struct iovec r[] = {{&hdr, sizeof(hdr)}, {in, sizeof(in)}};
	ck_assert_uint_eq(virtio_blk_request(&d, r, 1, 1), 513);
	ck_assert_uint_eq(in[512], VIRTIO_BLK_S_OK);
	ck_assert_int_eq(memcmp(in, file, 512), 0);
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(bad_requests)
{
	char path[32];
	int fd = make_image(path);
	struct virtio_blk_disk d = disk_on(fd, false);
	uint8_t buf[1024], st;

	memset(buf, 0x5a, sizeof(buf));
	/* Beyond the end, straddling it, wrapping, not whole sectors. */
	ck_assert_uint_eq(request(&d, VIRTIO_BLK_T_IN, SECTORS, buf, 512, &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(request(&d, VIRTIO_BLK_T_OUT, SECTORS - 1, buf, 1024, &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(request(&d, VIRTIO_BLK_T_OUT, UINT64_MAX, buf, 512, &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(request(&d, VIRTIO_BLK_T_OUT, UINT64_MAX / 512 + 1, buf, 512, &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(request(&d, VIRTIO_BLK_T_OUT, 0, buf, 100, &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_IOERR);
	/* The last sector is fine. */
	ck_assert_uint_eq(request(&d, VIRTIO_BLK_T_IN, SECTORS - 1, buf, 512, &st), 513);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_OK);
	/* Unsupported types. */
	ck_assert_uint_eq(request(&d, VIRTIO_BLK_T_DISCARD, 0, NULL, 0, &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_UNSUPP);
	ck_assert_uint_eq(request(&d, 0x80000001, 0, NULL, 0, &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_UNSUPP);
	/* No room for a status: nothing written, used length 0. */
	struct virtio_blk_outhdr hdr = {.type = VIRTIO_BLK_T_IN};
	struct iovec only_hdr[] = {{&hdr, sizeof(hdr)}};
	ck_assert_uint_eq(virtio_blk_request(&d, only_hdr, 1, 0), 0);
	/* A header cut short. */
	struct iovec short_hdr[] = {{&hdr, 8}, {&st, 1}};
	st = 0x77;
	ck_assert_uint_eq(virtio_blk_request(&d, short_hdr, 1, 1), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_IOERR);
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(readonly_refuses_writes)
{
	char path[32];
	int fd = make_image(path);
	struct virtio_blk_disk d = disk_on(fd, true);
	uint8_t buf[512], file[512], st;

	memset(buf, 0, sizeof(buf));
	ck_assert_uint_eq(request(&d, VIRTIO_BLK_T_OUT, 0, buf, 512, &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(pread(fd, file, 512, 0), 512);
	ck_assert_uint_eq(file[0], 0xee);
	ck_assert_uint_eq(request(&d, VIRTIO_BLK_T_IN, 0, buf, 512, &st), 513);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_OK);
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(get_id)
{
	struct virtio_blk_disk d = disk_on(-1, false);
	uint8_t id[VIRTIO_BLK_ID_BYTES], small[4], st;

	memset(id, 0xff, sizeof(id));
	ck_assert_uint_eq(request(&d, VIRTIO_BLK_T_GET_ID, 0, id, sizeof(id), &st), 21);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_OK);
	ck_assert_str_eq((char *)id, "disk0");
	ck_assert_uint_eq(id[19], 0);
	ck_assert_uint_eq(request(&d, VIRTIO_BLK_T_GET_ID, 0, small, sizeof(small), &st), 5);
	ck_assert_int_eq(memcmp(small, "disk", 4), 0);
}
END_TEST

/* ---- through the transport ------------------------------------------------------ */

#define RAM	  (16ULL << 20)
#define DESC_GPA  0x10000
#define AVAIL_GPA 0x11000
#define USED_GPA  0x12000
#define HDR_GPA	  0x20000
#define DATA_GPA  0x30000
#define ST_GPA	  0x40000
#define QSIZE	  16

struct bed {
	struct machine vm;
	struct virtio_dev *vd;
	uint64_t common, isr, devcfg, notify; /* guest addresses, from the capabilities */
	uint32_t notify_mul;
	uint16_t avail_idx;
};

static uint32_t cfg_read(struct bed *b, uint32_t off, uint32_t len)
{
	return vt_cfg_read(&b->vm, b->vd, off, len);
}

static uint64_t rd(struct bed *b, uint64_t addr, uint32_t len)
{
	return vt_rd(&b->vm, addr, len);
}

static void wr(struct bed *b, uint64_t addr, uint64_t v, uint32_t len)
{
	vt_wr(&b->vm, addr, v, len);
}

/* Finds the regions through the vendor capabilities, as Linux does. */
static void find_caps(struct bed *b)
{
	unsigned int seen = 0;

	for (uint32_t cap = cfg_read(b, 0x34, 1); cap; cap = cfg_read(b, cap + 1, 1)) {
		uint32_t type = cfg_read(b, cap + 3, 1), bar = cfg_read(b, cap + 4, 1);
		uint64_t base, off = cfg_read(b, cap + 8, 4);

		if (cfg_read(b, cap, 1) != 0x09)
			continue;
		seen |= 1u << type;
		if (type == VIRTIO_PCI_CAP_PCI_CFG)
			continue;
		base = (cfg_read(b, 0x10 + 4 * bar, 4) & ~0xfu) |
		       (uint64_t)cfg_read(b, 0x14 + 4 * bar, 4) << 32;
		if (type == VIRTIO_PCI_CAP_COMMON_CFG)
			b->common = base + off;
		else if (type == VIRTIO_PCI_CAP_ISR_CFG)
			b->isr = base + off;
		else if (type == VIRTIO_PCI_CAP_DEVICE_CFG)
			b->devcfg = base + off;
		else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
			b->notify = base + off;
			b->notify_mul = cfg_read(b, cap + 16, 4);
		}
	}
	ck_assert_uint_eq(seen, 0x3e); /* types 1..5 */
}

static struct bed *bed_create(const struct config_disk *disk)
{
	const gpa_t gpa = 0;
	const uint64_t size = RAM;
	struct bed *b = calloc(1, sizeof(*b));

	ck_assert_ptr_nonnull(b);
	b->vm.vm_fd = -1;
	bus_init(&b->vm.pio, "pio");
	bus_init(&b->vm.mmio, "mmio");
	ck_assert_int_eq(mem_init(&b->vm.mem, &gpa, &size, 1, 0), 0);
	ck_assert_int_eq(pci_init(&b->vm, &vt_windows), 0);
	ck_assert_int_eq(virtio_blk_create(&b->vm, disk, &b->vd), 0);
	find_caps(b);
	return b;
}

static void bed_destroy(struct bed *b)
{
	virtio_dev_destroy(b->vd); /* stops the I/O thread, closes the image */
	pci_destroy(&b->vm);
	mem_destroy(&b->vm.mem);
	bus_destroy(&b->vm.pio);
	bus_destroy(&b->vm.mmio);
	free(b);
}

static uint64_t device_features(struct bed *b)
{
	wr(b, b->common + VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
	uint64_t lo = rd(b, b->common + VIRTIO_PCI_COMMON_DF, 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
	return lo | rd(b, b->common + VIRTIO_PCI_COMMON_DF, 4) << 32;
}

static uint8_t negotiate(struct bed *b, uint64_t features)
{
	wr(b, b->common + VIRTIO_PCI_COMMON_STATUS, 0, 1);
	wr(b, b->common + VIRTIO_PCI_COMMON_STATUS,
	   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, 1);
	wr(b, b->common + VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_GF, (uint32_t)features, 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_GF, features >> 32, 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_STATUS,
	   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK, 1);
	return (uint8_t)rd(b, b->common + VIRTIO_PCI_COMMON_STATUS, 1);
}

static void setup_queue(struct bed *b)
{
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
	ck_assert_uint_eq(rd(b, b->common + VIRTIO_PCI_COMMON_Q_SIZE, 2), 256);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_SIZE, QSIZE, 2);
	/* 64-bit registers written as two halves, like Linux's vp_iowrite64_twopart. */
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_DESCLO, DESC_GPA, 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_DESCHI, 0, 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_AVAILLO, AVAIL_GPA, 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_AVAILHI, 0, 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_USEDLO, USED_GPA, 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_USEDHI, 0, 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	ck_assert_uint_eq(rd(b, b->common + VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
	wr(b, b->common + VIRTIO_PCI_COMMON_STATUS, 0x0f, 1); /* ... | DRIVER_OK */
}

static void *gpa(struct bed *b, gpa_t a)
{
	return mem_gpa_to_hva(&b->vm.mem, a, 1);
}

/* Posts a 3-descriptor request at slot 0 and waits for the device to use it. */
static void submit(struct bed *b, uint32_t type, uint64_t sector, uint32_t len)
{
	struct virtio_blk_outhdr hdr = {.type = type, .sector = sector};
	struct vring_desc d[3] = {
	    {HDR_GPA, sizeof(hdr), VRING_DESC_F_NEXT, 1},
	    {DATA_GPA, len, VRING_DESC_F_NEXT | (type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0),
	     2},
	    {ST_GPA, 1, VRING_DESC_F_WRITE, 0},
	};
	uint16_t *used_idx = gpa(b, USED_GPA + 2);

	ck_assert_int_eq(mem_write(&b->vm.mem, HDR_GPA, &hdr, sizeof(hdr)), 0);
	ck_assert_int_eq(mem_write(&b->vm.mem, DESC_GPA, d, sizeof(d)), 0);
	*(uint8_t *)gpa(b, ST_GPA) = 0x77;
	*(uint16_t *)gpa(b, AVAIL_GPA + 4 + 2 * (b->avail_idx % QSIZE)) = 0;
	__atomic_store_n((uint16_t *)gpa(b, AVAIL_GPA + 2), ++b->avail_idx, __ATOMIC_RELEASE);
	wr(b, b->notify + 0 * b->notify_mul, 0, 2);
	for (int i = 0; i < 5000 && __atomic_load_n(used_idx, __ATOMIC_ACQUIRE) != b->avail_idx;
	     i++)
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	ck_assert_uint_eq(__atomic_load_n(used_idx, __ATOMIC_ACQUIRE), b->avail_idx);
}

START_TEST(transport_end_to_end)
{
	char path[32];
	int fd = make_image(path);
	struct config_disk disk = {.name = "disk0"};
	struct bed *b;
	uint64_t f;
	uint8_t pattern[1024], file[1024];

	strcpy(disk.path, path);
	b = bed_create(&disk);
	ck_assert_uint_eq(cfg_read(b, 0, 4), 0x10421af4); /* virtio, 0x1040 + block */
	ck_assert_uint_eq(cfg_read(b, 8, 1), 1);	  /* modern-only revision */
	ck_assert_uint_eq(cfg_read(b, 0x2c, 2), 0x1af4);
	ck_assert_uint_eq(b->notify_mul, 4);

	f = device_features(b);
	ck_assert(f & 1ULL << VIRTIO_F_VERSION_1);
	ck_assert(f & 1ULL << VIRTIO_RING_F_EVENT_IDX);
	ck_assert(f & 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	ck_assert(f & 1ULL << VIRTIO_BLK_F_FLUSH);
	ck_assert(!(f & 1ULL << VIRTIO_BLK_F_RO));
	/* Without VERSION_1, or with a feature not offered: FEATURES_OK stays clear. */
	ck_assert(!(negotiate(b, 1ULL << VIRTIO_BLK_F_FLUSH) & VIRTIO_CONFIG_S_FEATURES_OK));
	ck_assert(
	    !(negotiate(b, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << 50) & VIRTIO_CONFIG_S_FEATURES_OK));
	ck_assert(negotiate(b, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_BLK_F_FLUSH) &
		  VIRTIO_CONFIG_S_FEATURES_OK);
	ck_assert_uint_eq(rd(b, b->devcfg, 8), SECTORS);       /* capacity */
	ck_assert_uint_eq(rd(b, b->devcfg + 8, 4), 256 << 10); /* size_max */
	ck_assert_uint_eq(rd(b, b->devcfg + 12, 4), 254);      /* seg_max */
	ck_assert_uint_eq(rd(b, b->devcfg + 20, 4), 512);      /* blk_size */
	setup_queue(b);

	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i ^ 0xa5);
	ck_assert_int_eq(mem_write(&b->vm.mem, DATA_GPA, pattern, sizeof(pattern)), 0);
	submit(b, VIRTIO_BLK_T_OUT, 4, sizeof(pattern));
	ck_assert_uint_eq(*(uint8_t *)gpa(b, ST_GPA), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(pread(fd, file, sizeof(file), 4 * 512), sizeof(file));
	ck_assert_int_eq(memcmp(file, pattern, sizeof(file)), 0);

	memset(gpa(b, DATA_GPA), 0, sizeof(pattern));
	submit(b, VIRTIO_BLK_T_IN, 4, sizeof(pattern));
	ck_assert_uint_eq(*(uint8_t *)gpa(b, ST_GPA), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(memcmp(gpa(b, DATA_GPA), pattern, sizeof(pattern)), 0);
	ck_assert_uint_eq(*(uint32_t *)gpa(b, USED_GPA + 4 + 8 + 4), sizeof(pattern) + 1);
	/* No MSI-X enabled: INTx, and the ISR says "queue" once. */
	ck_assert_uint_eq(rd(b, b->isr, 1), 1);
	ck_assert_uint_eq(rd(b, b->isr, 1), 0);

	/* Reset forgets the queue and features. */
	wr(b, b->common + VIRTIO_PCI_COMMON_STATUS, 0, 1);
	ck_assert_uint_eq(rd(b, b->common + VIRTIO_PCI_COMMON_STATUS, 1), 0);
	ck_assert_uint_eq(rd(b, b->common + VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	ck_assert_uint_eq(rd(b, b->common + VIRTIO_PCI_COMMON_Q_SIZE, 2), 256);
	wr(b, b->common + VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
	ck_assert_uint_eq(rd(b, b->common + VIRTIO_PCI_COMMON_GF, 4), 0);
	bed_destroy(b);
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(image_locking)
{
	char path[32];
	int fd = make_image(path);
	struct config_disk rw = {.name = "a"}, ro = {.name = "b", .readonly = true};
	struct bed *b;
	struct virtio_dev *vd, *reader;

	strcpy(rw.path, path);
	strcpy(ro.path, path);
	b = bed_create(&rw);
	ck_assert_int_eq(virtio_blk_create(&b->vm, &rw, &vd), -EBUSY);
	ck_assert_int_eq(virtio_blk_create(&b->vm, &ro, &vd), -EBUSY);
	bed_destroy(b); /* releases the lock */

	b = bed_create(&ro);
	ck_assert_uint_eq(rd(b, b->devcfg, 8), SECTORS);
	ck_assert_int_eq(virtio_blk_create(&b->vm, &ro, &reader), 0); /* readers share */
	ck_assert_int_eq(virtio_blk_create(&b->vm, &rw, &vd), -EBUSY);
	/* The second reader before the machine it was made on (its I/O thread uses it:
	 * left to bed_destroy, ASan saw that thread start on a freed machine). */
	virtio_dev_destroy(reader);
	bed_destroy(b);
	close(fd);
	unlink(path);
}
END_TEST

/* Snapshot and restore of the transport: a device saved mid-run is frozen (a request
 * posted then is not served), a new device from the same config loads the state and
 * serves that request and the next ones with the indices going on; a state that is not
 * this device's is refused. */
START_TEST(state_survives_save_and_load)
{
	char path[32];
	int fd = make_image(path);
	struct config_disk disk = {.name = "disk0"};
	struct device_stream s = {0}, in;
	uint8_t pattern[1024];
	uint16_t *used_idx;
	struct bed *b;

	strcpy(disk.path, path);
	b = bed_create(&disk);
	ck_assert(negotiate(b, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_BLK_F_FLUSH) &
		  VIRTIO_CONFIG_S_FEATURES_OK);
	setup_queue(b);
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7);
	ck_assert_int_eq(mem_write(&b->vm.mem, DATA_GPA, pattern, sizeof(pattern)), 0);
	submit(b, VIRTIO_BLK_T_OUT, 8, sizeof(pattern));

	ck_assert_int_eq(virtio_dev_save(b->vd, &s), 0);
	/* Frozen: a read posted now waits. */
	{
		struct virtio_blk_outhdr hdr = {.type = VIRTIO_BLK_T_IN, .sector = 8};
		struct vring_desc d[3] = {
		    {HDR_GPA, sizeof(hdr), VRING_DESC_F_NEXT, 1},
		    {DATA_GPA, sizeof(pattern), VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2},
		    {ST_GPA, 1, VRING_DESC_F_WRITE, 0},
		};

		memset(gpa(b, DATA_GPA), 0, sizeof(pattern));
		ck_assert_int_eq(mem_write(&b->vm.mem, HDR_GPA, &hdr, sizeof(hdr)), 0);
		ck_assert_int_eq(mem_write(&b->vm.mem, DESC_GPA, d, sizeof(d)), 0);
		*(uint16_t *)gpa(b, AVAIL_GPA + 4 + 2 * (b->avail_idx % QSIZE)) = 0;
		__atomic_store_n((uint16_t *)gpa(b, AVAIL_GPA + 2), ++b->avail_idx,
				 __ATOMIC_RELEASE);
		wr(b, b->notify, 0, 2);
	}
	used_idx = gpa(b, USED_GPA + 2);
	nanosleep(&(struct timespec){0, 50000000}, NULL);
	ck_assert_uint_eq(__atomic_load_n(used_idx, __ATOMIC_ACQUIRE), b->avail_idx - 1);

	/* Into a new device from the same config: the request is served after load. */
	virtio_dev_destroy(b->vd);
	ck_assert_int_eq(virtio_blk_create(&b->vm, &disk, &b->vd), 0);
	stream_reader(&in, s.data, s.len);
	ck_assert_int_eq(virtio_dev_load(b->vd, &in), 0);
	for (int i = 0; i < 5000 && __atomic_load_n(used_idx, __ATOMIC_ACQUIRE) != b->avail_idx;
	     i++)
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	ck_assert_uint_eq(__atomic_load_n(used_idx, __ATOMIC_ACQUIRE), b->avail_idx);
	ck_assert_int_eq(memcmp(gpa(b, DATA_GPA), pattern, sizeof(pattern)), 0);
	submit(b, VIRTIO_BLK_T_IN, 8, sizeof(pattern)); /* and on */
	ck_assert_uint_eq(*(uint8_t *)gpa(b, ST_GPA), VIRTIO_BLK_S_OK);

	/* Offered features changed (a state from another device): refused. */
	s.data[4 + 4096 + 4 + 2 * 16] ^= 0x40; /* past version, config, MSI-X: features */
	stream_reader(&in, s.data, s.len);
	virtio_dev_destroy(b->vd);
	ck_assert_int_eq(virtio_blk_create(&b->vm, &disk, &b->vd), 0);
	ck_assert_int_eq(virtio_dev_load(b->vd, &in), -EINVAL);
	stream_free(&s);
	bed_destroy(b);
	close(fd);
	unlink(path);
}
END_TEST

/* Runs qemu-io's command cmd on path (-r: read-only) and returns its output. */
static void qemu_io(const char *flags, const char *cmd, const char *path, char *out, size_t len)
{
	char line[256];
	FILE *p;
	size_t n;

	snprintf(line, sizeof(line), "qemu-io %s -f raw -c '%s' %s 2>&1", flags, cmd, path);
	p = popen(line, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, len - 1, p);
	out[n] = 0;
	pclose(p);
}

/* QEMU's image locks (issue 14, finding 7): minivmm's locks were flock(), which QEMU's
 * byte-range OFD locks do not see, so both could write one image. Now qemu-io cannot
 * write an image a minivmm disk holds (it may read it, as it may one a QEMU holds),
 * and minivmm refuses, read-only or not, an image that qemu-io has open for writing. */
START_TEST(image_locks_interoperate_with_qemu)
{
	struct config_disk rw = {.name = "a"}, ro = {.name = "b", .readonly = true};
	char path[32], out[1024];
	int fd, in[2], status;
	struct virtio_dev *vd;
	struct bed *b;
	pid_t pid;

	if (system("command -v qemu-io >/dev/null 2>&1") != 0)
		UNIT_SKIP(
		    "qemu-io not found (Debian's qemu-utils; tests/install-deps.sh installs it)");
	fd = make_image(path);
	strcpy(rw.path, path);
	strcpy(ro.path, path);
	b = bed_create(&rw);
	qemu_io("", "write 0 512", path, out, sizeof(out));
	ck_assert_msg(strstr(out, "Failed to get \"write\" lock"), "qemu-io wrote: %s", out);
	qemu_io("-r", "read 0 512", path, out, sizeof(out));
	ck_assert_msg(strstr(out, "read 512/512 bytes"), "qemu-io -r: %s", out);
	bed_destroy(b);

	/* qemu-io holding the image open for writing, waiting for commands on a pipe. */
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (dup2(in[0], 0) < 0 || !freopen("/dev/null", "w", stdout))
			_exit(127);
		execlp("qemu-io", "qemu-io", "-f", "raw", path, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	/* qemu-io has locked the image once the file shows its locks to us. */
	for (int i = 0; i < 500; i++) {
		struct flock fl = {
		    .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 101, .l_len = 1};

		ck_assert_int_eq(fcntl(fd, F_OFD_GETLK, &fl), 0);
		if (fl.l_type != F_UNLCK)
			break;
		usleep(10000);
	}
	b = calloc(1, sizeof(*b));
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(virtio_blk_create(&b->vm, &rw, &vd), -EBUSY);
	ck_assert_int_eq(virtio_blk_create(&b->vm, &ro, &vd), -EBUSY);
	ck_assert_int_eq(write(in[1], "quit\n", 5), 5);
	close(in[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	free(b);
	b = bed_create(&rw); /* free again once qemu-io is gone */
	bed_destroy(b);
	close(fd);
	unlink(path);
}
END_TEST

Suite *virtio_blk_suite(void)
{
	Suite *s = suite_create("virtio_blk");
	TCase *req = tcase_create("requests");
	TCase *pci = tcase_create("transport");

	tcase_add_test(req, write_then_read);
	tcase_add_test(req, any_layout);
	tcase_add_test(req, bad_requests);
	tcase_add_test(req, readonly_refuses_writes);
	tcase_add_test(req, get_id);
	tcase_add_test(pci, transport_end_to_end);
	tcase_add_test(pci, image_locking);
	tcase_add_test(pci, image_locks_interoperate_with_qemu);
	tcase_add_test(pci, state_survives_save_and_load);
	suite_add_tcase(s, req);
	suite_add_tcase(s, pci);
	return s;
}
