/* Config space of a passed-through device, on a fake device (a 4 KiB buffer shaped like
 * QEMU's e1000e): the capability list the guest sees, live reads and forwarded writes
 * of passed-through capabilities, status and command, the hidden ROM, and the MSI and
 * MSI-X capabilities switching the interrupt mode. No VFIO: the device fd is -1, so
 * the interrupt code only tracks the mode. */
#include "tests/unit/unit.h"
#include "vfio/internal.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/machine.h"

struct fake_dev {
	uint8_t cfg[PCI_CFG_SIZE];
	uint32_t last_wr_off, last_wr_len, writes;
};

static int fake_rd(void *opaque, uint32_t off, void *buf, uint32_t len)
{
	struct fake_dev *f = opaque;

	memcpy(buf, &f->cfg[off], len);
	return 0;
}

static int fake_wr(void *opaque, uint32_t off, const void *buf, uint32_t len)
{
	struct fake_dev *f = opaque;

	memcpy(&f->cfg[off], buf, len);
	f->last_wr_off = off;
	f->last_wr_len = len;
	f->writes++;
	return 0;
}

static void w16(uint8_t *b, uint32_t off, uint16_t v)
{
	b[off] = (uint8_t)v;
	b[off + 1] = (uint8_t)(v >> 8);
}

static void w32(uint8_t *b, uint32_t off, uint32_t v)
{
	w16(b, off, (uint16_t)v);
	w16(b, off + 2, (uint16_t)(v >> 16));
}

static uint32_t r32(const uint8_t *b, uint32_t off)
{
	return (uint32_t)b[off] | b[off + 1] << 8 | b[off + 2] << 16 | (uint32_t)b[off + 3] << 24;
}

/* e1000e as QEMU builds it, plus a SATA capability and an SR-IOV extended capability
 * that must stay hidden. */
static void fake_e1000e(struct fake_dev *f)
{
	uint8_t *c = f->cfg;

	memset(f, 0, sizeof(*f));
	w16(c, 0x00, 0x8086);
	w16(c, 0x02, 0x10d3);
	w16(c, 0x06, 0x0010);
	w32(c, 0x08, 0x02000000);
	w16(c, 0x2c, 0x8086);
	w16(c, 0x2e, 0x0000);
	c[0x34] = 0xc8;
	c[0x3d] = 1;
	w32(c, 0xc8, 0x0022d001);  /* PM, next 0xd0 */
	w32(c, 0xd0, 0x0080e005);  /* MSI, 64-bit, 1 vector, next 0xe0 */
	w32(c, 0xe0, 0x0002a010);  /* PCIe v2, next 0xa0 */
	w32(c, 0xe4, 0x00008000);  /* DevCap */
	w32(c, 0xa0, 0x0004f011);  /* MSI-X, 5 vectors, next 0xf0 */
	w32(c, 0xa4, 0x00000003);  /* table: BAR3 + 0 */
	w32(c, 0xa8, 0x00002003);  /* PBA: BAR3 + 0x2000 */
	w32(c, 0xf0, 0x00000012);  /* SATA: hidden */
	w32(c, 0x100, 0x14020001); /* AER v2, next 0x140 */
	w32(c, 0x104, 0x00001000);
	w32(c, 0x140, 0x15010003); /* DSN, next 0x150 */
	w32(c, 0x144, 0x12345678);
	w32(c, 0x150, 0x00010010); /* SR-IOV: hidden */
}

static void vp_init(struct vfio_pci *vp, struct fake_dev *f)
{
	memset(vp, 0, sizeof(*vp));
	vp->fd = -1;
	vp->intx_efd = vp->intx_resample = vp->intx_stop = -1;
	vp->watch_efd[0] = vp->watch_efd[1] = -1;
	vp->cfg = (struct vfio_cfg_io){.rd = fake_rd, .wr = fake_wr, .opaque = f};
	vp->pci.priv = vp;
	vp->pci.name = vp->name;
	strcpy(vp->name, "vfio.test (0000:00:05.0)");
	pthread_mutex_init(&vp->irq_lock, NULL);
	ck_assert_int_eq(vfio_cfg_build(vp), 0);
}

static void vp_fini(struct vfio_pci *vp)
{
	if (vp->has_msix)
		msix_destroy(&vp->msix);
	pthread_mutex_destroy(&vp->irq_lock);
}

/* A guest access as the PCI core makes it (for registers outside BARs). */
static uint32_t guest_read(struct vfio_pci *vp, uint32_t off, uint32_t len)
{
	uint8_t data[4] = {0};

	memcpy(data, &vp->pci.cfg[off], len);
	vfio_cfg_read(&vp->pci, off, data, len);
	return r32(data, 0) & (len == 4 ? 0xffffffffu : (1u << (8 * len)) - 1);
}

static void guest_write(struct vfio_pci *vp, uint32_t off, uint32_t val, uint32_t len)
{
	struct pci_dev *d = &vp->pci;
	uint8_t data[4];

	w32(data, 0, val);
	if (off == 0x04) {
		pci_cfg_write16(d, 0x04, (uint16_t)(val & 0x0547));
	} else if (off != 0x06) {
		for (uint32_t i = 0; i < len; i++)
			d->cfg[off + i] = (uint8_t)((d->cfg[off + i] & ~d->wmask[off + i]) |
						    (data[i] & d->wmask[off + i]));
	}
	vfio_cfg_write(d, off, data, len);
}

/* Offset of capability id in the guest's list, 0 if absent; *order gets the ids. */
static uint32_t find_cap(const struct pci_dev *d, uint8_t id, char *order)
{
	uint32_t p = d->cfg[0x34], found = 0;

	for (int n = 0; p && n < 48; n++, p = d->cfg[p + 1]) {
		if (order)
			order += sprintf(order, "%02x ", d->cfg[p]);
		if (d->cfg[p] == id && !found)
			found = p;
	}
	return found;
}

START_TEST(guest_view)
{
	struct fake_dev f;
	struct vfio_pci vp;
	char order[64] = "";
	uint32_t exp, next;

	fake_e1000e(&f);
	vp_init(&vp, &f);
	ck_assert_uint_eq(pci_cfg_read32(&vp.pci, 0x00), 0x10d38086);
	ck_assert_uint_eq(pci_cfg_read32(&vp.pci, 0x08), 0x02000000);
	ck_assert_uint_eq(pci_cfg_read32(&vp.pci, 0x2c), 0x00008086);
	ck_assert_uint_eq(vp.pin, 1);
	ck_assert_uint_eq(vp.pci.cfg[0x3d], 1);
	/* PM, MSI, PCIe, MSI-X in the device's order; SATA hidden. */
	find_cap(&vp.pci, 0, order);
	ck_assert_str_eq(order, "01 05 10 11 ");
	ck_assert_uint_eq(vp.msi.cap, find_cap(&vp.pci, 0x05, NULL));
	ck_assert(vp.msi.is64 && !vp.msi.pvm);
	ck_assert_uint_eq(vp.msi.max, 1);
	ck_assert(vp.has_msix);
	ck_assert_uint_eq(vp.msix.nr, 5);
	ck_assert_int_eq(vp.msix.bar, 3);
	ck_assert_uint_eq(vp.msix.table_off, 0);
	ck_assert_uint_eq(vp.msix.pba_off, 0x2000);
	ck_assert_uint_eq(vp.msix.cap, find_cap(&vp.pci, 0x11, NULL));
	/* Extended: AER then DSN, SR-IOV hidden. */
	ck_assert_uint_eq(pci_cfg_read32(&vp.pci, 0x100) & 0xfffff, 0x20001);
	next = pci_cfg_read32(&vp.pci, 0x100) >> 20;
	ck_assert_uint_eq(next, 0x140); /* AER cut short where the device's DSN starts */
	ck_assert_uint_eq(pci_cfg_read32(&vp.pci, next) & 0xfffff, 0x10003);
	ck_assert_uint_eq(pci_cfg_read32(&vp.pci, next) >> 20, 0);
	/* Extended bodies are live. */
	ck_assert_uint_eq(guest_read(&vp, next + 4, 4), 0x12345678);
	w32(f.cfg, 0x104, 0x00002000);
	ck_assert_uint_eq(guest_read(&vp, 0x104, 4), 0x00002000);
	exp = pci_cfg_read32(&vp.pci, 0x100);
	ck_assert_uint_eq(guest_read(&vp, 0x100, 4), exp); /* the header stays ours */
	vp_fini(&vp);
}
END_TEST

START_TEST(passthrough_and_header)
{
	struct fake_dev f;
	struct vfio_pci vp;
	uint32_t pcie, msix;

	fake_e1000e(&f);
	vp_init(&vp, &f);
	pcie = find_cap(&vp.pci, 0x10, NULL);
	msix = find_cap(&vp.pci, 0x11, NULL);
	/* Header from the guest's chain, body live from the device. */
	ck_assert_uint_eq(guest_read(&vp, pcie, 2), 0x10 | msix << 8);
	ck_assert_uint_eq(guest_read(&vp, pcie + 2, 2), 0x0002);
	ck_assert_uint_eq(guest_read(&vp, pcie + 4, 4), 0x8000);
	w32(f.cfg, 0xe4, 0x8001);
	ck_assert_uint_eq(guest_read(&vp, pcie + 4, 4), 0x8001);
	/* Body writes reach the device at its own offset; header writes do not. */
	guest_write(&vp, pcie + 8, 0x2810, 2);
	ck_assert_uint_eq(f.last_wr_off, 0xe8);
	ck_assert_uint_eq(r32(f.cfg, 0xe8) & 0xffff, 0x2810);
	f.writes = 0;
	guest_write(&vp, pcie, 0xffff, 2);
	ck_assert_uint_eq(f.writes, 0);
	ck_assert_uint_eq(f.cfg[0xe0], 0x10);
	/* Status: live (INTx status), the capability-list bit ours; writes forwarded. */
	w16(f.cfg, 0x06, 0x0008);
	ck_assert_uint_eq(guest_read(&vp, 0x06, 2), 0x0018);
	ck_assert_uint_eq(guest_read(&vp, 0x04, 4) >> 16, 0x0018);
	guest_write(&vp, 0x06, 0x8000, 2);
	ck_assert_uint_eq(f.last_wr_off, 0x06);
	ck_assert_uint_eq(r32(f.cfg, 0x04) >> 16, 0x8000);
	/* Command: what the core keeps, forwarded. */
	guest_write(&vp, 0x04, 0x0407, 2);
	ck_assert_uint_eq(r32(f.cfg, 0x04) & 0xffff, 0x0407);
	guest_write(&vp, 0x04, 0xffff, 2);
	ck_assert_uint_eq(r32(f.cfg, 0x04) & 0xffff, 0x0547);
	/* No expansion ROM. */
	guest_write(&vp, 0x30, 0xfffff801, 4);
	ck_assert_uint_eq(guest_read(&vp, 0x30, 4), 0);
	vp_fini(&vp);
}
END_TEST

START_TEST(msi_and_msix_modes)
{
	struct fake_dev f;
	struct vfio_pci vp;
	uint32_t msi;

	fake_e1000e(&f);
	vp_init(&vp, &f);
	msi = vp.msi.cap;
	guest_write(&vp, msi + 4, 0xfee00000, 4);
	guest_write(&vp, msi + 8, 0, 4);
	guest_write(&vp, msi + 12, 0x4041, 2);
	ck_assert_uint_eq(pci_cfg_read32(&vp.pci, msi + 4), 0xfee00000);
	ck_assert_uint_eq(pci_cfg_read32(&vp.pci, msi + 12) & 0xffff, 0x4041);
	ck_assert_int_eq(vp.mode, VFIO_IRQ_INTX);
	/* Eight vectors asked of a one-vector device: one it is. */
	guest_write(&vp, msi + 2, 0x0031, 2);
	ck_assert_uint_eq(vp.pci.cfg[msi + 2], 0x81);
	ck_assert_int_eq(vp.mode, VFIO_IRQ_MSI);
	ck_assert_uint_eq(f.writes, 0); /* the device's own MSI is VFIO's to program */
	guest_write(&vp, msi + 2, 0x0000, 2);
	ck_assert_int_eq(vp.mode, VFIO_IRQ_INTX);
	/* MSI-X wins over MSI. */
	guest_write(&vp, msi + 2, 0x0001, 2);
	guest_write(&vp, vp.msix.cap + 2, 0x8004, 2);
	ck_assert(msix_enabled(&vp.msix));
	ck_assert_int_eq(vp.mode, VFIO_IRQ_MSIX);
	guest_write(&vp, vp.msix.cap + 2, 0x0004, 2);
	ck_assert_int_eq(vp.mode, VFIO_IRQ_MSI);
	guest_write(&vp, msi + 2, 0x0000, 2);
	ck_assert_int_eq(vp.mode, VFIO_IRQ_INTX);
	vp_fini(&vp);
}
END_TEST

START_TEST(msi_multi_vector_masking)
{
	struct fake_dev f;
	struct vfio_pci vp;
	uint32_t msi;

	/* A 32-bit MSI with per-vector masking and 8 vectors; no pin, no MSI-X. */
	memset(&f, 0, sizeof(f));
	w16(f.cfg, 0x00, 0x1234);
	w16(f.cfg, 0x02, 0x5678);
	w16(f.cfg, 0x06, 0x0010);
	f.cfg[0x34] = 0x50;
	w32(f.cfg, 0x50, 0x01060005);
	vp_init(&vp, &f);
	msi = vp.msi.cap;
	ck_assert(!vp.msi.is64 && vp.msi.pvm);
	ck_assert_uint_eq(vp.msi.max, 8);
	ck_assert_uint_eq(vp.pci.cfg[msi + 2], 0x06);
	ck_assert_uint_eq(vp.pci.cfg[msi + 3], 0x01);
	ck_assert_uint_eq(vp.pci.wmask[msi + 0x0c], 0xff); /* mask bits of 8 vectors */
	ck_assert_uint_eq(vp.pci.wmask[msi + 0x0d], 0x00);
	ck_assert_uint_eq(vp.pci.wmask[msi + 0x08], 0xff); /* data at 8 (32-bit) */
	ck_assert_int_eq(vp.mode, VFIO_IRQ_NONE);
	guest_write(&vp, msi + 2, 0x0051, 2); /* 32 asked: 8 given */
	ck_assert_uint_eq((vp.pci.cfg[msi + 2] >> 4) & 7, 3);
	ck_assert_int_eq(vp.mode, VFIO_IRQ_MSI);
	guest_write(&vp, msi + 2, 0x0000, 2);
	ck_assert_int_eq(vp.mode, VFIO_IRQ_NONE);
	vp_fini(&vp);
}
END_TEST

/* vfio/pci.c's device ops: what the PCI core calls when the guest moves a BAR. */

/* A guest that places a passed-through BAR onto its RAM: each config write that maps it
 * fails (KVM refuses the overlapping memslot), and the log must not grow by a line per
 * write (it did: log_err). */
START_TEST(bar_over_ram_log_is_rate_limited)
{
	struct kvm_userspace_memory_region ram = {.slot = 0, .memory_size = 2 << 20};
	char log[] = "/tmp/minivmm-vfio-log-XXXXXX", text[32768], *p;
	int kvm, log_fd, saved, lines = 0, occurrences = 0;
	struct vfio_vm vv = {0};
	struct fake_dev f;
	struct vfio_pci vp;
	struct machine *vm;
	void *mem, *bar;
	ssize_t n;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		UNIT_SKIP("no usable /dev/kvm on this machine");
	vm = calloc(1, sizeof(*vm));
	ck_assert_ptr_nonnull(vm);
	vm->vm_fd = ioctl(kvm, KVM_CREATE_VM, 0);
	ck_assert_int_ge(vm->vm_fd, 0);
	pthread_mutex_init(&vm->slot_lock, NULL);
	mem =
	    mmap(NULL, ram.memory_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bar = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(mem != MAP_FAILED && bar != MAP_FAILED);
	ram.userspace_addr = (uintptr_t)mem;
	ck_assert_int_eq(ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &ram), 0);
	vm->used_slots[0] = 1; /* slot 0: the RAM */

	fake_e1000e(&f);
	vp_init(&vp, &f);
	vp.vv = &vv;
	vp.mach = vm;
	vp.bars[0].nr_parts = 1;
	vp.bars[0].parts[0] = (struct vfio_bar_part){
	    .vp = &vp, .bar = 0, .off = 0, .len = 4096, .mmap = true, .hva = bar, .slot = -1};

	log_fd = mkstemp(log);
	ck_assert_int_ge(log_fd, 0);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(dup2(log_fd, STDERR_FILENO), 0);
	for (int i = 0; i < 200; i++)
		if (vfio_pci_ops.bar_map(&vp.pci, 0, 0x100000) >= 0)
			break;
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(log_fd, text, sizeof(text) - 1, 0);
	close(log_fd);
	unlink(log);
	text[n > 0 ? n : 0] = 0;
	for (p = text; (p = strstr(p, "cannot map BAR0 part")); p++)
		lines++;
	for (p = text; (p = strstr(p, "(occurrence ")); p++)
		occurrences++;
	ck_assert_ptr_nonnull(strstr(text, "File exists")); /* it did fail, over RAM */
	ck_assert_msg(lines >= 1 && lines <= 10, "%d lines for 200 writes:\n%.400s", lines, text);
	ck_assert_int_eq(occurrences, lines);
	ck_assert(!vp.bars[0].parts[0].mapped);

	vp_fini(&vp);
	munmap(bar, 4096);
	munmap(mem, ram.memory_size);
	close(vm->vm_fd);
	pthread_mutex_destroy(&vm->slot_lock);
	free(vm);
	close(kvm);
}
END_TEST

Suite *vfio_cfg_suite(void)
{
	Suite *s = suite_create("vfio_cfg");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, guest_view);
	tcase_add_test(tc, passthrough_and_header);
	tcase_add_test(tc, msi_and_msix_modes);
	tcase_add_test(tc, msi_multi_vector_masking);
	tcase_add_test(tc, bar_over_ram_log_is_rate_limited);
	suite_add_tcase(s, tc);
	return s;
}
