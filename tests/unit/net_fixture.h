/* The virtio-net device tests' machine (test_virtio_net.c: a tap; test_passt.c: passt's
 * socket): a VM without KVM with one virtio-net device, and a guest driver's view of it
 * (config space, the BAR, the rings in guest RAM). */
#ifndef MINIVMM_TEST_NET_FIXTURE_H
#define MINIVMM_TEST_NET_FIXTURE_H

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/virtio_backends.h"
#include "devices/virtio_pci.h"
#include "tests/unit/unit.h"
#include "tests/unit/virtio_fixture.h"
#include "vmm/config.h"
#include "vmm/machine.h"

#define RAM	      (16ULL << 20)
#define DESC_GPA      0x10000
#define AVAIL_GPA     0x11000
#define USED_GPA      0x12000
#define TX_DESC	      0x13000 /* the transmit queue's rings (tap_gone only) */
#define TX_AVAIL      0x14000
#define TX_USED	      0x15000
#define TX_BUF	      0x30000
#define BUF_GPA	      0x20000
#define BUF_LEN	      2048
#define QSIZE	      256
#define RX_VECTOR     1 /* vector 0 is for config changes */
#define ROUNDS	      200
#define MIN_FRAMES    64 /* delivered before each teardown: the flood reaches the guest */
#define VNET_HDR_SIZE 12 /* struct virtio_net_hdr_v1 */

/* A VM without KVM with one virtio-net device on the tap, and the guest's view of it. */
struct bed {
	struct machine vm;
	struct virtio_dev *vd;
	uint64_t common, notify, device;
	uint32_t notify_mult;
	uint32_t msix_cap;
	pthread_t guest;
	bool guest_started;
	_Atomic bool guest_stop;
	/* Whether the guest thread may still notify the device: like a vCPU, it must be
	 * out of the device's BAR before the device goes. */
	pthread_mutex_t kick_lock;
	bool kick;
};

static inline uint32_t cfg_read(struct bed *b, uint32_t off, uint32_t len)
{
	return vt_cfg_read(&b->vm, b->vd, off, len);
}

static inline void cfg_write(struct bed *b, uint32_t off, uint32_t v, uint32_t len)
{
	vt_cfg_write(&b->vm, b->vd, off, v, len);
}

static inline uint64_t rd(struct bed *b, uint64_t addr, uint32_t len)
{
	return vt_rd(&b->vm, addr, len);
}

static inline void wr(struct bed *b, uint64_t addr, uint64_t v, uint32_t len)
{
	vt_wr(&b->vm, addr, v, len);
}

static inline void *gpa(struct bed *b, gpa_t a)
{
	return mem_gpa_to_hva(&b->vm.mem, a, 1);
}

/* Finds the common configuration and the MSI-X capability, as Linux does. */
static inline void find_caps(struct bed *b)
{
	for (uint32_t cap = cfg_read(b, 0x34, 1); cap; cap = cfg_read(b, cap + 1, 1)) {
		uint32_t bar = cfg_read(b, cap + 4, 1);

		uint32_t type = cfg_read(b, cap + 3, 1);
		uint64_t addr;

		if (cfg_read(b, cap, 1) == 0x11)
			b->msix_cap = cap;
		if (cfg_read(b, cap, 1) != 0x09)
			continue;
		addr = (cfg_read(b, 0x10 + 4 * bar, 4) & ~0xfu) |
		       (uint64_t)cfg_read(b, 0x14 + 4 * bar, 4) << 32;
		addr += cfg_read(b, cap + 8, 4);
		if (type == VIRTIO_PCI_CAP_COMMON_CFG)
			b->common = addr;
		else if (type == VIRTIO_PCI_CAP_DEVICE_CFG)
			b->device = addr;
		else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
			b->notify = addr; /* the receive queue is queue 0: offset 0 */
			b->notify_mult = cfg_read(b, cap + 16, 4);
		}
	}
	ck_assert_uint_ne(b->common, 0);
	ck_assert_uint_ne(b->notify, 0);
	ck_assert_uint_ne(b->msix_cap, 0);
}

/* What a driver does up to DRIVER_OK, accepting features lo (bits 0-31) and VERSION_1:
 * every available entry of the receive queue names descriptor 0, one device-writable
 * buffer that any frame fits; the transmit queue is set up empty. */
static inline void driver_start_features(struct bed *b, uint32_t lo)
{
	struct vring_desc d = {BUF_GPA, BUF_LEN, VRING_DESC_F_WRITE, 0};
	const uint8_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	ck_assert_int_eq(mem_write(&b->vm.mem, DESC_GPA, &d, sizeof(d)), 0);
	memset(gpa(b, AVAIL_GPA), 0, 4 + 2 * QSIZE);
	*(uint16_t *)gpa(b, AVAIL_GPA + 2) = QSIZE;

	/* MSI-X on, its vectors still masked: notifications count in the eventfds. */
	cfg_write(b, b->msix_cap + 2, 0x8000, 2);
	wr(b, b->common + VIRTIO_PCI_COMMON_STATUS, 0, 1);
	wr(b, b->common + VIRTIO_PCI_COMMON_STATUS, s, 1);
	wr(b, b->common + VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_GF, lo, 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_GF, 1u << (VIRTIO_F_VERSION_1 - 32), 4);
	wr(b, b->common + VIRTIO_PCI_COMMON_STATUS, s | VIRTIO_CONFIG_S_FEATURES_OK, 1);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_SIZE, QSIZE, 2);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_MSIX, RX_VECTOR, 2);
	ck_assert_uint_eq(rd(b, b->common + VIRTIO_PCI_COMMON_Q_MSIX, 2), RX_VECTOR);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_DESCLO, DESC_GPA, 8);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_AVAILLO, AVAIL_GPA, 8);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_USEDLO, USED_GPA, 8);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	/* The transmit queue, small: only tap_gone sends on it. */
	memset(gpa(b, TX_AVAIL), 0, 4 + 2 * 16);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_SIZE, 16, 2);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_DESCLO, TX_DESC, 8);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_AVAILLO, TX_AVAIL, 8);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_USEDLO, TX_USED, 8);
	wr(b, b->common + VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	wr(b, b->common + VIRTIO_PCI_COMMON_STATUS,
	   s | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK, 1);
	ck_assert_uint_eq(rd(b, b->common + VIRTIO_PCI_COMMON_STATUS, 1) & 0x4f, 0x0f);
}

static inline void driver_start(struct bed *b)
{
	driver_start_features(b, 1u << VIRTIO_NET_F_STATUS);
}

static inline uint16_t used_idx(struct bed *b)
{
	return __atomic_load_n((uint16_t *)gpa(b, USED_GPA + 2), __ATOMIC_ACQUIRE);
}

/* The guest's side: hands every used buffer straight back, so that the receive queue
 * stays full however fast frames come, and notifies the device (as a driver must: it
 * waits for a notification once it has found the queue empty) until told to stop. */
static inline void *guest_thread(void *arg)
{
	struct bed *b = arg;
	uint16_t *avail = gpa(b, AVAIL_GPA + 2);

	while (!b->guest_stop) {
		__atomic_store_n(avail, (uint16_t)(used_idx(b) + QSIZE), __ATOMIC_RELEASE);
		pthread_mutex_lock(&b->kick_lock);
		if (b->kick)
			wr(b, b->notify, 0, 2);
		pthread_mutex_unlock(&b->kick_lock);
		nanosleep(&(struct timespec){0, 20000}, NULL);
	}
	return NULL;
}

/* The device on passt's socket at passt when not NULL, else on the tap named tap. */
static inline struct bed *bed_create_on(const char *passt, const char *tap)
{
	const gpa_t base = 0;
	const uint64_t size = RAM;
	struct config_net net = {.name = "eth0", .mac = {0x52, 0x54, 0, 0x12, 0x34, 0x56}};
	struct bed *b = calloc(1, sizeof(*b));

	ck_assert_ptr_nonnull(b);
	pthread_mutex_init(&b->kick_lock, NULL);
	if (passt)
		snprintf(net.passt, sizeof(net.passt), "%s", passt);
	else
		snprintf(net.tap, sizeof(net.tap), "%s", tap);
	b->vm.vm_fd = -1;
	bus_init(&b->vm.pio, "pio");
	bus_init(&b->vm.mmio, "mmio");
	ck_assert_int_eq(mem_init(&b->vm.mem, &base, &size, 1, 0), 0);
	ck_assert_int_eq(pci_init(&b->vm, &vt_windows), 0);
	ck_assert_int_eq(virtio_net_create(&b->vm, &net, &b->vd), 0);
	find_caps(b);
	return b;
}

/* As vm_destroy() does once the vCPUs have stopped, then the VM itself. */
static inline void bed_destroy(struct bed *b)
{
	virtio_dev_destroy(b->vd);
	pci_destroy(&b->vm);
	if (b->guest_started) {
		b->guest_stop = true;
		pthread_join(b->guest, NULL);
	}
	pthread_mutex_destroy(&b->kick_lock);
	mem_destroy(&b->vm.mem);
	bus_destroy(&b->vm.pio);
	bus_destroy(&b->vm.mmio);
	free(b);
}

static inline double cpu_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Whether MSI-X vector v is pending (masked and signalled): the PBA, as a driver sees
 * it through the BAR the capability names. */
static inline bool msix_pending(struct bed *b, unsigned int v)
{
	uint32_t pba = cfg_read(b, b->msix_cap + 8, 4), bar = pba & 7;
	uint64_t addr = (cfg_read(b, 0x10 + 4 * bar, 4) & ~0xfu) |
			(uint64_t)cfg_read(b, 0x14 + 4 * bar, 4) << 32;

	return rd(b, addr + (pba & ~7u) + v / 64 * 8, 8) >> (v % 64) & 1;
}

static inline uint16_t link_status(struct bed *b)
{
	return (uint16_t)rd(b, b->device + offsetof(struct virtio_net_config, status), 2);
}

#endif
