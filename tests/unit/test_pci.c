/* The PCI core on a VM without KVM: config space through CF8/CFC and ECAM, BAR sizing,
 * placement, moving and decode; capabilities; MSI-X table behaviour. */
#include "tests/unit/unit.h"

#include <stdlib.h>
#include <string.h>

#include "devices/msix.h"
#include "devices/stream.h"
#include "devices/pci.h"
#include "vmm/machine.h"

struct fake {
	struct machine vm;
	struct pci_dev dev;
	struct msix msix;
	int bar_hits[PCI_NR_BARS];
	uint64_t last_off;
};

static void fake_bar_io(struct pci_dev *dev, int bar, uint64_t off, uint8_t *data, uint32_t len,
			bool is_write)
{
	struct fake *f = dev->priv;

	(void)len;
	f->bar_hits[bar]++;
	f->last_off = off;
	if (bar == 2 && off >= 0x1000 && off < 0x1000 + msix_table_size(&f->msix))
		msix_table_access(&f->msix, off - 0x1000, data, len, is_write);
	else if (bar == 2 && off >= 0x2000 && off < 0x2000 + msix_pba_size(&f->msix))
		msix_pba_access(&f->msix, off - 0x2000, data, len, is_write);
	else if (!is_write)
		data[0] = 0x42;
}

static void fake_cfg_write(struct pci_dev *dev, uint32_t off, const uint8_t *data, uint32_t len)
{
	struct fake *f = dev->priv;

	(void)data;
	msix_cfg_write(&f->msix, off, len);
}

static const struct pci_dev_ops fake_ops = {.bar_io = fake_bar_io, .cfg_write = fake_cfg_write};

static const struct pci_windows windows = {.io_base = 0xc000,
					   .io_end = 0x10000,
					   .m32_base = 0xc0000000,
					   .m32_end = 0xe0000000,
					   .m64_base = 0x1000000000ULL,
					   .m64_end = 0x1800000000ULL,
					   .ecam_base = 0xe0000000};

static struct fake *fake_create(void)
{
	struct fake *f = calloc(1, sizeof(*f));

	ck_assert_ptr_nonnull(f);
	f->vm.vm_fd = -1;
	bus_init(&f->vm.pio, "pio");
	bus_init(&f->vm.mmio, "mmio");
	ck_assert_int_eq(pci_init(&f->vm, &windows), 0);
	f->dev.name = "fake";
	f->dev.ops = &fake_ops;
	f->dev.priv = f;
	pci_dev_init(&f->dev, 0x1234, 0x5678, 0x020000, 1, 0x1234, 0x1);
	f->dev.cfg[0x3d] = 1; /* INTA */
	ck_assert_int_eq(pci_dev_add_bar(&f->dev, 0, PCI_BAR_IO, 32, false), 0);
	ck_assert_int_eq(pci_dev_add_bar(&f->dev, 1, PCI_BAR_MEM32, 0x1000, false), 0);
	ck_assert_int_eq(pci_dev_add_bar(&f->dev, 2, PCI_BAR_MEM64, 0x4000, true), 0);
	ck_assert_int_eq(pci_dev_add_bar(&f->dev, 4, PCI_BAR_MEM64, 256ULL << 20, true), 0);
	ck_assert_int_eq(msix_init(&f->msix, &f->dev, 3, 2, 0x1000, 0x2000), 0);
	ck_assert_int_eq(pci_register(&f->vm, &f->dev, 3, 0), 0);
	return f;
}

static void fake_destroy(struct fake *f)
{
	pci_unregister(&f->dev); /* unmaps the BARs */
	pci_destroy(&f->vm);
	msix_destroy(&f->msix);
	bus_destroy(&f->vm.pio);
	bus_destroy(&f->vm.mmio);
	free(f);
}

/* Config dword read through CF8/CFC, as a guest would. */
static uint32_t conf1_read(struct fake *f, uint8_t devfn, uint32_t reg)
{
	uint32_t a = 0x80000000u | devfn << 8 | reg, v;

	bus_access(&f->vm.pio, 0xcf8, (uint8_t *)&a, 4, true);
	bus_access(&f->vm.pio, 0xcfc, (uint8_t *)&v, 4, false);
	return v;
}

static void conf1_write(struct fake *f, uint8_t devfn, uint32_t reg, uint32_t v)
{
	uint32_t a = 0x80000000u | devfn << 8 | reg;

	bus_access(&f->vm.pio, 0xcf8, (uint8_t *)&a, 4, true);
	bus_access(&f->vm.pio, 0xcfc, (uint8_t *)&v, 4, true);
}

static uint32_t ecam_read(struct fake *f, uint8_t devfn, uint32_t reg)
{
	uint32_t v;

	bus_access(&f->vm.mmio, windows.ecam_base + ((uint64_t)devfn << 12) + reg, (uint8_t *)&v, 4,
		   false);
	return v;
}

START_TEST(enumeration)
{
	struct fake *f = fake_create();
	uint8_t devfn = PCI_DEVFN(3, 0);

	ck_assert_uint_eq(conf1_read(f, 0, 0), 0x00081b36); /* host bridge */
	ck_assert_uint_eq(conf1_read(f, 0, 8) >> 8, 0x060000);
	ck_assert_uint_eq(conf1_read(f, devfn, 0), 0x56781234);
	ck_assert_uint_eq(ecam_read(f, devfn, 0), 0x56781234);
	ck_assert_uint_eq(conf1_read(f, PCI_DEVFN(4, 0), 0), 0xffffffff); /* empty slot */
	ck_assert_uint_eq(ecam_read(f, PCI_DEVFN(3, 1), 0), 0xffffffff);
	/* INTA of slot 3 swizzles to GSI 16 + (3 + 0) % 4 */
	ck_assert_uint_eq(conf1_read(f, devfn, 0x3c) & 0xff, 19);
	/* capability list: status bit, pointer, MSI-X with 3 vectors */
	ck_assert(conf1_read(f, devfn, 4) & (0x10 << 16));
	ck_assert_uint_eq(conf1_read(f, devfn, 0x34) & 0xff, 0x40);
	ck_assert_uint_eq(conf1_read(f, devfn, 0x40) & 0xff, 0x11);
	ck_assert_uint_eq(conf1_read(f, devfn, 0x40) >> 16, 2);
	ck_assert_uint_eq(conf1_read(f, devfn, 0x44), 0x1000 | 2);
	/* reserved bits and read-only ids ignore writes */
	conf1_write(f, devfn, 0, 0);
	ck_assert_uint_eq(conf1_read(f, devfn, 0), 0x56781234);
	fake_destroy(f);
}
END_TEST

START_TEST(extended_config_via_ecam_only)
{
	struct fake *f = fake_create();
	uint8_t body[4] = {1, 2, 3, 4};
	uint8_t devfn = PCI_DEVFN(3, 0);

	ck_assert_int_eq(pci_dev_add_ext_cap(&f->dev, 0x0b, 1, body, 4), 0x100);
	ck_assert_int_eq(pci_dev_add_ext_cap(&f->dev, 0x0c, 1, body, 4), 0x108);
	ck_assert_uint_eq(ecam_read(f, devfn, 0x100), 0x1081000b); /* v1, next = 0x108 */
	ck_assert_uint_eq(ecam_read(f, devfn, 0x104), 0x04030201);
	ck_assert_uint_eq(ecam_read(f, devfn, 0x108), 0x0001000c);
	fake_destroy(f);
}
END_TEST

START_TEST(bars_placed_sized_and_decoded)
{
	struct fake *f = fake_create();
	uint8_t devfn = PCI_DEVFN(3, 0), v;
	uint32_t bar0, bar1, bar2, bar4, bar5;

	bar0 = conf1_read(f, devfn, 0x10);
	bar1 = conf1_read(f, devfn, 0x14);
	bar2 = conf1_read(f, devfn, 0x18);
	bar4 = conf1_read(f, devfn, 0x20);
	bar5 = conf1_read(f, devfn, 0x24);
	ck_assert_uint_eq(bar0, 0xc000 | 1);	   /* I/O */
	ck_assert_uint_eq(bar1, 0xc0000000);	   /* mem32 */
	ck_assert_uint_eq(bar2, 0xc0004000 | 0xc); /* mem64 pf, small: < 4G */
	ck_assert_uint_eq(conf1_read(f, devfn, 0x1c), 0);
	ck_assert_uint_eq(bar4, 0xc); /* large: 64-bit window */
	ck_assert_uint_eq(bar5, 0x10);
	/* decode is on as firmware leaves it: the BARs answer */
	ck_assert(bus_access(&f->vm.pio, 0xc004, &v, 1, false));
	ck_assert_uint_eq(v, 0x42);
	ck_assert(bus_access(&f->vm.mmio, 0x1000000000ULL + 8, &v, 1, false));
	/* sizing: all ones reads back the size mask with the flags */
	conf1_write(f, devfn, 0x14, 0xffffffff);
	ck_assert_uint_eq(conf1_read(f, devfn, 0x14), 0xfffff000);
	conf1_write(f, devfn, 0x10, 0xffffffff);
	ck_assert_uint_eq(conf1_read(f, devfn, 0x10), 0xffe1);
	conf1_write(f, devfn, 0x20, 0xffffffff);
	conf1_write(f, devfn, 0x24, 0xffffffff);
	ck_assert_uint_eq(conf1_read(f, devfn, 0x20), 0xf000000c);
	ck_assert_uint_eq(conf1_read(f, devfn, 0x24), 0xffffffff);
	/* moving: the old address goes dark, the new one answers */
	conf1_write(f, devfn, 0x14, 0xd0000000);
	ck_assert(!bus_access(&f->vm.mmio, 0xc0000000, &v, 1, false));
	ck_assert(bus_access(&f->vm.mmio, 0xd0000010, &v, 1, false));
	ck_assert_uint_eq(f->last_off, 0x10);
	/* memory decode off: no memory BAR answers; the I/O BAR still does, where the
	 * sizing write above left it (0xffe0), and no longer at its first address */
	conf1_write(f, devfn, 0x04, 0x1);
	ck_assert(!bus_access(&f->vm.mmio, 0xd0000010, &v, 1, false));
	ck_assert(bus_access(&f->vm.pio, 0xffe4, &v, 1, false));
	ck_assert(!bus_access(&f->vm.pio, 0xc004, &v, 1, false));
	fake_destroy(f);
}
END_TEST

START_TEST(msix_table_and_control)
{
	struct fake *f = fake_create();
	uint8_t devfn = PCI_DEVFN(3, 0);
	uint64_t tbl = 0xc0004000 + 0x1000;
	uint32_t v = 0;

	/* entries start masked; address/data are plain storage */
	bus_access(&f->vm.mmio, tbl + 12, (uint8_t *)&v, 4, false);
	ck_assert_uint_eq(v, 1);
	v = 0xfee00000;
	bus_access(&f->vm.mmio, tbl + 16, (uint8_t *)&v, 4, true);
	v = 0;
	bus_access(&f->vm.mmio, tbl + 16, (uint8_t *)&v, 4, false);
	ck_assert_uint_eq(v, 0xfee00000);
	/* beyond the last vector: all ones, writes ignored */
	msix_table_access(&f->msix, 3 * 16, (uint8_t *)&v, 4, false);
	ck_assert_uint_eq(v, 0xffffffff);
	/* only the mask bit of vector control is writable */
	v = 0xfffffffe;
	bus_access(&f->vm.mmio, tbl + 12, (uint8_t *)&v, 4, true);
	bus_access(&f->vm.mmio, tbl + 12, (uint8_t *)&v, 4, false);
	ck_assert_uint_eq(v, 0);
	/* enable and function mask through config space */
	ck_assert(!msix_enabled(&f->msix));
	conf1_write(f, devfn, 0x40, 0xc0000000);
	ck_assert(msix_enabled(&f->msix));
	ck_assert(f->msix.fn_masked);
	ck_assert_uint_eq(conf1_read(f, devfn, 0x40) >> 16, 0xc002); /* table size kept */
	conf1_write(f, devfn, 0x40, 0);
	ck_assert(!msix_enabled(&f->msix));
	ck_assert_int_eq(msix_notify(&f->msix, 3), -22);
	/* PBA: a signal on a masked vector is pending until the vector takes it */
	uint64_t pba = ~0ULL;
	bus_access(&f->vm.mmio, 0xc0004000 + 0x2000, (uint8_t *)&pba, 8, false);
	ck_assert_uint_eq(pba, 0);
	ck_assert_int_eq(msix_notify(&f->msix, 1), 0);
	ck_assert_int_eq(msix_notify(&f->msix, 1), 0); /* still one pending bit */
	bus_access(&f->vm.mmio, 0xc0004000 + 0x2000, (uint8_t *)&pba, 8, false);
	ck_assert_uint_eq(pba, 2);
	v = ~0u;
	bus_access(&f->vm.mmio, 0xc0004000 + 0x2004, (uint8_t *)&v, 4, false);
	ck_assert_uint_eq(v, 0); /* upper half of the first qword */
	v = 0;
	bus_access(&f->vm.mmio, 0xc0004000 + 0x2000, (uint8_t *)&v, 4, true); /* ignored */
	bus_access(&f->vm.mmio, 0xc0004000 + 0x2000, (uint8_t *)&v, 4, false);
	ck_assert_uint_eq(v, 2);
	pba = ~0ULL;
	msix_pba_access(&f->msix, 1, (uint8_t *)&pba, 2, false); /* misaligned: zeros */
	ck_assert_uint_eq(pba & 0xffff, 0);
	/* saved and loaded into another function (a snapshot, a migration): still pending */
	struct device_stream out = {0}, in;
	struct fake *g = fake_create();

	msix_save(&f->msix, &out);
	stream_reader(&in, out.data, out.len);
	ck_assert_int_eq(msix_load(&g->msix, &in), 0);
	ck_assert_uint_eq(in.pos, in.len);
	pba = 0;
	msix_pba_access(&g->msix, 0, (uint8_t *)&pba, 8, false);
	ck_assert_uint_eq(pba, 2);
	stream_free(&out);
	fake_destroy(g);
	fake_destroy(f);
}
END_TEST

START_TEST(register_conflicts)
{
	struct fake *f = fake_create();
	struct pci_dev other = {.name = "other", .ops = &fake_ops};

	pci_dev_init(&other, 1, 2, 0, 0, 0, 0);
	ck_assert_int_eq(pci_register(&f->vm, &other, 3, 0), -17);  /* EEXIST */
	ck_assert_int_eq(pci_register(&f->vm, &other, -1, 2), -22); /* fn needs a slot */
	ck_assert_int_eq(pci_register(&f->vm, &other, 3, 1), 0);    /* multifunction */
	ck_assert_uint_eq(conf1_read(f, PCI_DEVFN(3, 0), 0xc) >> 16 & 0x80, 0x80);
	fake_destroy(f);
}
END_TEST

Suite *pci_suite(void)
{
	Suite *s = suite_create("pci");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, enumeration);
	tcase_add_test(tc, extended_config_via_ecam_only);
	tcase_add_test(tc, bars_placed_sized_and_decoded);
	tcase_add_test(tc, msix_table_and_control);
	tcase_add_test(tc, register_conflicts);
	suite_add_tcase(s, tc);
	return s;
}
