/* Config-space virtualization of a passed-through device (vfio/pci_cfg.c, and the mode
 * switching of vfio/pci_irq.c) against a hostile device and a hostile guest.
 *
 * The device is faked as in tests/unit/test_vfio_cfg.c: its config space is a 4 KiB
 * buffer behind vp->cfg. The input is
 *	flags (1 byte)   bit 0: extended space unreadable (a conventional PCI device)
 *	                 bit 1: a device fd (/dev/null: every VFIO ioctl fails), so that
 *	                        interrupt switches run their error paths; else fd -1
 *	n (2 bytes)      how many bytes of config space follow (at most 4096; rest zero)
 *	config (n bytes) the device's config space, from which vfio_cfg_build() makes the
 *	                 guest's view
 *	then 8-byte operations: guest config accesses through pci_cfg_access() (the device
 *	is registered on a PCI host bridge of a VM without KVM), MSI-X table accesses, and
 *	the device changing its own registers under us.
 *
 * Invariants: the device is only accessed inside its 4 KiB config space; the guest's
 * capability list is well-formed (inside the standard space, aligned, no loop); the
 * interrupt mode matches what the guest's config asks for when there is no fd. */
#include <errno.h>
#include <fcntl.h>
#include <linux/pci_regs.h>
#include <unistd.h>

#include "tests/fuzz/fuzz.h"
#include "vfio/internal.h"
#include "vmm/machine.h"

struct fake_dev {
	uint8_t cfg[PCI_CFG_SIZE];
	bool conventional;
};

static int fake_rd(void *opaque, uint32_t off, void *buf, uint32_t len)
{
	struct fake_dev *f = opaque;

	FUZZ_CHECK(off < PCI_CFG_SIZE && len <= PCI_CFG_SIZE - off);
	if (f->conventional && off + len > PCI_CFG_SPACE_SIZE)
		return -EIO;
	memcpy(buf, &f->cfg[off], len);
	return 0;
}

static int fake_wr(void *opaque, uint32_t off, const void *buf, uint32_t len)
{
	struct fake_dev *f = opaque;

	FUZZ_CHECK(off < PCI_CFG_SIZE && len <= PCI_CFG_SIZE - off);
	if (f->conventional && off + len > PCI_CFG_SPACE_SIZE)
		return -EIO;
	memcpy(&f->cfg[off], buf, len);
	return 0;
}

static const struct pci_dev_ops ops = {.cfg_read = vfio_cfg_read, .cfg_write = vfio_cfg_write};

static const struct pci_windows windows = {.io_base = 0xc000,
					   .io_end = 0x10000,
					   .m32_base = 0xc0000000,
					   .m32_end = 0xe0000000,
					   .m64_base = 0x1000000000ULL,
					   .m64_end = 0x1800000000ULL,
					   .ecam_base = 0xe0000000};

static void check_cap_list(const struct pci_dev *d)
{
	uint32_t p = d->cfg[PCI_CAPABILITY_LIST];
	int n = 0;

	if (!(d->cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST))
		FUZZ_CHECK(p == 0);
	for (; p; p = d->cfg[p + 1]) {
		FUZZ_CHECK(p >= 0x40 && p <= 0xfc && !(p & 3));
		FUZZ_CHECK(++n <= 48);
	}
}

static void check_mode(const struct vfio_pci *vp)
{
	const uint8_t *msi = vp->msi.cap ? &vp->pci.cfg[vp->msi.cap] : NULL;
	enum vfio_irq_mode want = VFIO_IRQ_NONE;

	if (vp->fd >= 0)
		return; /* every switch fails with a real fd on /dev/null */
	if (vp->has_msix && msix_enabled(&vp->msix))
		want = VFIO_IRQ_MSIX;
	else if (msi && (msi[PCI_MSI_FLAGS] & PCI_MSI_FLAGS_ENABLE))
		want = VFIO_IRQ_MSI;
	else if (vp->pin)
		want = VFIO_IRQ_INTX;
	/* The mode follows the last switch; only MSI-X enable, MSI writes and the initial
	 * state trigger one, so just check it is one the device can do. */
	FUZZ_CHECK(vp->mode == VFIO_IRQ_NONE || vp->mode == want ||
		   (vp->mode == VFIO_IRQ_INTX && vp->pin) ||
		   (vp->mode == VFIO_IRQ_MSI && vp->msi.cap) ||
		   (vp->mode == VFIO_IRQ_MSIX && vp->has_msix));
	if (vp->msi.cap)
		FUZZ_CHECK(
		    (1u << ((vp->pci.cfg[vp->msi.cap + PCI_MSI_FLAGS] & PCI_MSI_FLAGS_QSIZE) >>
			    4)) <= vp->msi.max ||
		    !(vp->pci.cfg[vp->msi.cap + PCI_MSI_FLAGS] & PCI_MSI_FLAGS_ENABLE));
}

static const uint32_t lens[4] = {1, 2, 4, 4};

static void op(struct machine *vm, struct vfio_pci *vp, struct fake_dev *fd, struct fz *in)
{
	uint8_t kind = fz_u8(in), lsel = fz_u8(in);
	uint16_t off = fz_u16(in);
	uint32_t val = fz_u32(in), len = lens[lsel & 3];
	uint8_t data[8];

	memcpy(data, &val, 4);
	memcpy(data + 4, &val, 4);
	switch (kind % 4) {
	case 0: /* guest config access, aligned (what the core accepts) */
	case 1:
		off = (uint16_t)((off % PCI_CFG_SIZE) & ~(len - 1));
		if (kind & 0x80) /* into a capability the guest sees */
			off = (uint16_t)((vp->pci.cfg[PCI_CAPABILITY_LIST] + (off & 0x1f)) &
					 ~(len - 1));
		pci_cfg_access(vm, vp->pci.devfn, off, data, len, kind & 1);
		break;
	case 2: /* MSI-X table (the trapped BAR page forwards here) */
		if (vp->has_msix)
			msix_table_access(&vp->msix, off % (msix_table_size(&vp->msix) + 16), data,
					  lsel & 4 ? 8 : 4, lsel & 8);
		break;
	case 3: /* the device changes a register by itself */
		fd->cfg[off % PCI_CFG_SIZE] = (uint8_t)val;
		break;
	}
	check_cap_list(&vp->pci);
	check_mode(vp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fake_dev fd;
	static struct vfio_pci vp;
	static struct machine vm;
	static int null_fd = -2;
	struct fz in = {data, size};
	uint8_t flags = fz_u8(&in);
	uint16_t n = fz_u16(&in);

	if (null_fd == -2)
		null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	memset(&fd, 0, sizeof(fd));
	fz_take(&in, fd.cfg, n < PCI_CFG_SIZE ? n : PCI_CFG_SIZE);
	fd.conventional = flags & 1;

	memset(&vm, 0, sizeof(vm));
	vm.vm_fd = -1;
	bus_init(&vm.pio, "pio");
	bus_init(&vm.mmio, "mmio");
	(void)irq_init(&vm); /* the table is made; committing it to KVM fails */
	FUZZ_CHECK(pci_init(&vm, &windows) == 0);

	memset(&vp, 0, sizeof(vp));
	vp.fd = flags & 2 ? null_fd : -1;
	vp.mach = &vm;
	vp.intx_efd = vp.intx_resample = -1;
	vp.watch_efd[0] = vp.watch_efd[1] = -1;
	vp.cfg = (struct vfio_cfg_io){.rd = fake_rd, .wr = fake_wr, .opaque = &fd};
	vp.pci.priv = &vp;
	vp.pci.name = vp.name;
	vp.pci.ops = &ops;
	strcpy(vp.name, "vfio.fuzz (0000:00:05.0)");
	pthread_mutex_init(&vp.irq_lock, NULL);
	if (vfio_cfg_build(&vp) == 0 && pci_register(&vm, &vp.pci, 5, 0) == 0) {
		if (vp.pin)
			vp.intx_gsi = pci_intx_gsi(vp.pci.devfn, vp.pin);
		vfio_irq_update(&vp); /* as vfio_pci_create does: INTx if it has a pin */
		check_cap_list(&vp.pci);
		for (int k = 0; in.n && k < 1024; k++)
			op(&vm, &vp, &fd, &in);
	}
	pci_unregister(&vp.pci);
	pci_destroy(&vm);
	vfio_irq_teardown(&vp);
	if (vp.has_msix)
		msix_destroy(&vp.msix);
	pthread_mutex_destroy(&vp.irq_lock);
	bus_destroy(&vm.pio);
	bus_destroy(&vm.mmio);
	irq_destroy(&vm);
	return 0;
}
