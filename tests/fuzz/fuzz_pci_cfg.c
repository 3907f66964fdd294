/* The PCI host bridge (devices/pci.c) and MSI-X emulation (devices/msix.c) against a
 * hostile guest: config space through pci_cfg_access, CF8/CFC and ECAM, and accesses to
 * wherever the guest has put the BARs.
 *
 * Per input: a VM without KVM (buses, GSI table; vm_fd -1 so every ioctl fails) with
 * the host bridge, a device at 00:03.0 (I/O BAR0, 32-bit BAR1, 64-bit prefetchable BAR2
 * holding the MSI-X table at 0x1000 and the PBA at 0x2000, a large 64-bit BAR4, a
 * PCIe capability, two extended capabilities, writable scratch bytes) and a second
 * function 00:03.1 without BARs. The input is the number of MSI-X vectors, then
 * 10-byte accesses: kind, devfn or BAR, length and flags, offset, value (do_access()).
 *
 * Invariants: the device's BAR handler only sees accesses inside a mapped BAR of the
 * right kind; bus ranges stay sorted and disjoint; BAR addresses stay aligned to their
 * size; config reads of absent functions return all ones. */
#include <errno.h>

#include "devices/msix.h"
#include "devices/pci.h"
#include "tests/fuzz/fuzz.h"
#include "vmm/machine.h"

static const struct pci_windows windows = {.io_base = 0xc000,
					   .io_end = 0x10000,
					   .m32_base = 0xc0000000,
					   .m32_end = 0xe0000000,
					   .m64_base = 0x1000000000ULL,
					   .m64_end = 0x1800000000ULL,
					   .ecam_base = 0xe0000000};

struct fixture {
	struct machine vm;
	struct pci_dev dev, fn1;
	struct msix msix;
};

static void dev_bar_io(struct pci_dev *dev, int bar, uint64_t off, uint8_t *data, uint32_t len,
		       bool is_write)
{
	struct fixture *f = dev->priv;
	const struct pci_bar *b;

	FUZZ_CHECK(dev == &f->dev && bar >= 0 && bar < PCI_NR_BARS);
	b = &dev->bars[bar];
	FUZZ_CHECK(b->type != PCI_BAR_NONE && b->mapped);
	FUZZ_CHECK(bar != PCI_ROM_BAR || !is_write); /* the core keeps the ROM read-only */
	FUZZ_CHECK(len >= 1 && len <= 8 && off < b->size && len <= b->size - off);
	if (bar == 2 && off >= 0x1000 && off < 0x1000 + msix_table_size(&f->msix))
		msix_table_access(&f->msix, off - 0x1000, data, len, is_write);
	else if (bar == 2 && off >= 0x2000 && off < 0x2000 + msix_pba_size(&f->msix))
		msix_pba_access(&f->msix, off - 0x2000, data, len, is_write);
	else if (!is_write)
		memset(data, 0x42, len);
}

static void dev_cfg_write(struct pci_dev *dev, uint32_t off, const uint8_t *data, uint32_t len)
{
	struct fixture *f = dev->priv;

	(void)data;
	FUZZ_CHECK(off < PCI_CFG_SIZE && len <= PCI_CFG_SIZE - off);
	if (dev == &f->dev)
		msix_cfg_write(&f->msix, off, len);
}

static void dev_cfg_read(struct pci_dev *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	(void)dev, (void)data;
	FUZZ_CHECK(off < PCI_CFG_SIZE && len <= PCI_CFG_SIZE - off &&
		   (len == 1 || len == 2 || len == 4));
}

static const struct pci_dev_ops dev_ops = {
    .bar_io = dev_bar_io, .cfg_write = dev_cfg_write, .cfg_read = dev_cfg_read};

static int setup(struct fixture *f, unsigned int vectors)
{
	static const uint8_t body[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	int off;

	memset(f, 0, sizeof(*f));
	f->vm.vm_fd = -1;
	bus_init(&f->vm.pio, "pio");
	bus_init(&f->vm.mmio, "mmio");
	(void)irq_init(&f->vm); /* the table is made; committing it to KVM fails */
	FUZZ_CHECK(f->vm.irq.table);
	FUZZ_CHECK(pci_init(&f->vm, &windows) == 0);

	f->dev.name = "fuzz dev";
	f->dev.ops = &dev_ops;
	f->dev.priv = f;
	pci_dev_init(&f->dev, 0x1234, 0x5678, 0x020000, 1, 0x1234, 0x1);
	f->dev.cfg[0x3d] = 1;
	FUZZ_CHECK(pci_dev_add_bar(&f->dev, 0, PCI_BAR_IO, 32, false) == 0);
	FUZZ_CHECK(pci_dev_add_bar(&f->dev, 1, PCI_BAR_MEM32, 0x1000, false) == 0);
	FUZZ_CHECK(pci_dev_add_bar(&f->dev, 2, PCI_BAR_MEM64, 0x4000, true) == 0);
	FUZZ_CHECK(pci_dev_add_bar(&f->dev, 4, PCI_BAR_MEM64, 256ULL << 20, true) == 0);
	FUZZ_CHECK(pci_dev_add_bar(&f->dev, PCI_ROM_BAR, PCI_BAR_MEM32, 0x10000, false) == 0);
	if (msix_init(&f->msix, &f->dev, vectors, 2, 0x1000, 0x2000))
		return -1; /* out of file descriptors: not this input's fault */
	off = pci_dev_add_pcie_cap(&f->dev);
	FUZZ_CHECK(off > 0);
	FUZZ_CHECK(pci_dev_add_ext_cap(&f->dev, 0x0b, 1, body, sizeof(body)) == 0x100);
	FUZZ_CHECK(pci_dev_add_ext_cap(&f->dev, 0x0c, 1, body, 4) > 0x100);
	memset(&f->dev.wmask[0x200], 0xff, 0x20); /* scratch in extended space */
	FUZZ_CHECK(pci_register(&f->vm, &f->dev, 3, 0) == 0);

	f->fn1.name = "fuzz fn1";
	f->fn1.ops = &dev_ops;
	f->fn1.priv = f;
	pci_dev_init(&f->fn1, 0x1234, 0x5679, 0x088000, 0, 0, 0);
	memset(&f->fn1.wmask[0x40], 0xff, 0x10);
	FUZZ_CHECK(pci_register(&f->vm, &f->fn1, 3, 1) == 0);
	return 0;
}

static void teardown(struct fixture *f)
{
	pci_unregister(&f->fn1);
	pci_unregister(&f->dev);
	pci_destroy(&f->vm);
	msix_destroy(&f->msix);
	bus_destroy(&f->vm.pio);
	bus_destroy(&f->vm.mmio);
	irq_destroy(&f->vm);
}

static void check_bus(const struct bus *b)
{
	for (int i = 0; i < b->nr; i++) {
		FUZZ_CHECK(b->ranges[i].len > 0 &&
			   b->ranges[i].base + b->ranges[i].len - 1 >= b->ranges[i].base);
		if (i)
			FUZZ_CHECK(b->ranges[i - 1].base + b->ranges[i - 1].len <=
				   b->ranges[i].base);
	}
}

static void check_state(struct fixture *f)
{
	check_bus(&f->vm.pio);
	check_bus(&f->vm.mmio);
	for (int i = 0; i < PCI_NR_BARS; i++) {
		const struct pci_bar *b = &f->dev.bars[i];

		if (b->type == PCI_BAR_NONE)
			continue;
		FUZZ_CHECK((b->addr & (b->size - 1)) == 0);
		if (b->mapped) {
			uint8_t v[8];

			/* The BAR answers at its address (it must be registered there), which
			 * lies inside a window of its kind. */
			FUZZ_CHECK(bus_access(b->type == PCI_BAR_IO ? &f->vm.pio : &f->vm.mmio,
					      b->addr, v, 4, false));
			if (b->type == PCI_BAR_IO)
				FUZZ_CHECK(b->addr >= windows.io_base &&
					   b->addr + b->size <= windows.io_end);
			else
				FUZZ_CHECK((b->addr >= windows.m32_base &&
					    b->addr + b->size <= windows.m32_end) ||
					   (b->type == PCI_BAR_MEM64 &&
					    b->addr >= windows.m64_base &&
					    b->addr + b->size <= windows.m64_end));
		}
	}
}

static const uint32_t lens[8] = {1, 2, 4, 8, 4, 4, 3, 0};

static void do_access(struct fixture *f, struct fz *in)
{
	uint8_t kind = fz_u8(in), sel = fz_u8(in), lsel = fz_u8(in);
	uint16_t off16 = fz_u16(in);
	uint32_t off = off16 | (uint32_t)fz_u8(in) << 16, len = lens[lsel % 8];
	bool is_write = lsel & 0x80;
	uint8_t data[8];
	uint64_t val = fz_u32(in);

	if (lsel & 0x40)
		val = ~0ULL; /* BAR sizing */
	memcpy(data, &val, 8);
	switch (kind % 5) {
	case 0: { /* what CF8/CFC and ECAM call */
		uint8_t devfn = (kind & 0x80) ? sel : (sel & 1 ? PCI_DEVFN(3, sel >> 7) : sel);
		bool absent =
		    f->vm.pci && devfn != 0 && devfn != PCI_DEVFN(3, 0) && devfn != PCI_DEVFN(3, 1);

		pci_cfg_access(&f->vm, devfn, off % PCI_CFG_SIZE, data, len, is_write);
		if (!is_write && absent)
			for (uint32_t i = 0; i < len; i++)
				FUZZ_CHECK(data[i] == 0xff);
		break;
	}
	case 1: { /* mechanism #1 through the PIO bus */
		uint32_t a = 0x80000000u | (uint32_t)PCI_DEVFN(3, sel & 1) << 8 | (off & 0xfc);

		if (kind & 0x80) {
			uint8_t b[4];

			memcpy(b, &a, 4);
			bus_access(&f->vm.pio, 0xcf8, b, 4, true);
		}
		bus_access(&f->vm.pio, 0xcf8 + (sel & 7), data, len ? len : 1, is_write);
		break;
	}
	case 2: /* ECAM */
		bus_access(&f->vm.mmio, windows.ecam_base + (off & 0xfffff), data, len ? len : 1,
			   is_write);
		break;
	case 3: { /* wherever BAR sel is now (upper offset bits: past its end) */
		const struct pci_bar *b = &f->dev.bars[sel % PCI_NR_BARS];
		uint64_t size = b->size ? b->size : 0x1000;

		bus_access(b->type == PCI_BAR_IO ? &f->vm.pio : &f->vm.mmio,
			   b->addr + (off % (size + 16)), data, len ? len : 1, is_write);
		break;
	}
	case 4: /* the MSI-X table as the BAR handler forwards it */
		msix_table_access(&f->msix, off & 0x3ff, data, len, is_write);
		break;
	}
	check_state(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fixture f;
	struct fz in = {data, size};
	unsigned int vectors = 1 + fz_u8(&in) % 64;

	if (setup(&f, vectors) == 0) {
		check_state(&f);
		for (int n = 0; in.n && n < 512; n++)
			do_access(&f, &in);
	}
	teardown(&f);
	return 0;
}
