/* PCI BARs beyond the basics (test_pci.c): the 64-bit window sized from the devices and
 * limited by the address width, BARs the guest moves (refused outside the windows and
 * over other BARs), and the expansion ROM BAR. On a VM without KVM: BARs go on the buses. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci.h"
#include "devices/stream.h"
#include "vmm/machine.h"

#define GIB (1ULL << 30)

struct bed {
	struct machine vm;
	struct pci_dev dev[3];
	int reads, writes;
};

static void bed_bar_io(struct pci_dev *dev, int bar, uint64_t off, uint8_t *data, uint32_t len,
		       bool is_write)
{
	struct bed *b = dev->priv;

	if (is_write) {
		b->writes++;
		return;
	}
	b->reads++;
	for (uint32_t i = 0; i < len; i++)
		data[i] = (uint8_t)(bar == PCI_ROM_BAR ? (off + i) & 0xff : 0x42);
}

static const struct pci_dev_ops bed_ops = {.bar_io = bed_bar_io};

/* A 40-bit guest with 4 GiB of RAM: the 64-bit window starts at 8 GiB and, until it is
 * sized, reaches the address limit. */
static struct bed *bed_create(void)
{
	struct pci_windows w = {.io_min = 0x1000,
				.io_base = 0xc000,
				.io_end = 0x10000,
				.m32_base = 0xc0000000,
				.m32_end = 0xe0000000,
				.m64_base = 8 * GIB,
				.m64_end = 1ULL << 40,
				.addr_limit = 1ULL << 40,
				.ecam_base = 0xe0000000};
	struct bed *b = calloc(1, sizeof(*b));

	ck_assert_ptr_nonnull(b);
	b->vm.vm_fd = -1;
	bus_init(&b->vm.pio, "pio");
	bus_init(&b->vm.mmio, "mmio");
	ck_assert_int_eq(pci_init(&b->vm, &w), 0);
	for (int i = 0; i < 3; i++) {
		b->dev[i].name = i == 0 ? "gpu0" : i == 1 ? "gpu1" : "nic";
		b->dev[i].ops = &bed_ops;
		b->dev[i].priv = b;
		pci_dev_init(&b->dev[i], 0x10de, 0x1234, 0x030000, 1, 0, 0);
	}
	return b;
}

static void bed_destroy(struct bed *b)
{
	for (int i = 0; i < 3; i++)
		pci_unregister(&b->dev[i]);
	pci_destroy(&b->vm);
	bus_destroy(&b->vm.pio);
	bus_destroy(&b->vm.mmio);
	free(b);
}

static uint32_t cfg_read(struct bed *b, struct pci_dev *d, uint32_t reg)
{
	uint32_t v;

	pci_cfg_access(&b->vm, d->devfn, reg, (uint8_t *)&v, 4, false);
	return v;
}

static void cfg_write(struct bed *b, struct pci_dev *d, uint32_t reg, uint32_t v)
{
	pci_cfg_access(&b->vm, d->devfn, reg, (uint8_t *)&v, 4, true);
}

static bool answers(struct bed *b, uint64_t addr)
{
	uint8_t v;

	return bus_access(&b->vm.mmio, addr, &v, 1, false);
}

/* Two 64 GiB prefetchable BARs: naturally aligned in the 64-bit window, flags kept; the
 * window then ends after them plus room, and a third no longer fits. */
START_TEST(large_bars_fill_the_sized_window)
{
	struct bed *b = bed_create();
	struct pci_windows w;

	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(pci_dev_add_bar(&b->dev[i], 0, PCI_BAR_MEM32, 16 << 20, false), 0);
		ck_assert_int_eq(pci_dev_add_bar(&b->dev[i], 2, PCI_BAR_MEM64, 64 * GIB, true), 0);
		ck_assert_int_eq(pci_register(&b->vm, &b->dev[i], -1, 0), 0);
	}
	ck_assert_uint_eq(b->dev[0].bars[2].addr, 64 * GIB);
	ck_assert_uint_eq(b->dev[1].bars[2].addr, 128 * GIB);
	ck_assert_uint_eq(cfg_read(b, &b->dev[1], 0x18), 0xc);	      /* mem64, prefetchable */
	ck_assert_uint_eq(cfg_read(b, &b->dev[1], 0x1c), 32);	      /* 128 GiB >> 32 */
	ck_assert_uint_eq(cfg_read(b, &b->dev[0], 0x10), 0xc0000000); /* mem32 below 4G */
	ck_assert(answers(b, 64 * GIB) && answers(b, 192 * GIB - 1));
	ck_assert_uint_eq(pci_m64_used_end(&b->vm), 192 * GIB);
	pci_set_m64_end(&b->vm, 192 * GIB + 32 * GIB, "room");
	pci_get_windows(&b->vm, &w);
	ck_assert_uint_eq(w.m64_end, 224 * GIB);
	ck_assert_str_eq(w.m64_hint, "room");
	/* 64 GiB more does not fit in 32 GiB of room; 16 GiB does, first fit, aligned. */
	ck_assert_int_eq(pci_dev_add_bar(&b->dev[2], 0, PCI_BAR_MEM64, 64 * GIB, true), 0);
	ck_assert_int_eq(pci_register(&b->vm, &b->dev[2], -1, 0), -ENOSPC);
	ck_assert_int_eq(pci_dev_add_bar(&b->dev[2], 0, PCI_BAR_MEM64, 16 * GIB, true), 0);
	ck_assert_int_eq(pci_register(&b->vm, &b->dev[2], -1, 0), 0);
	ck_assert_uint_eq(b->dev[2].bars[0].addr, 16 * GIB);
	bed_destroy(b);
}
END_TEST

/* The guest moves BARs: the old place goes dark first; a place outside the windows (RAM,
 * the ECAM, past the address limit) or over another BAR is refused and stays dark; a
 * free place in the window works, for a 64-bit BAR once both halves are written. */
START_TEST(moved_bars_follow_or_are_refused)
{
	struct bed *b = bed_create();
	struct pci_dev *g = &b->dev[0], *n = &b->dev[2];
	uint64_t nic;

	ck_assert_int_eq(pci_dev_add_bar(g, 2, PCI_BAR_MEM64, 64 * GIB, true), 0);
	ck_assert_int_eq(pci_register(&b->vm, g, -1, 0), 0);
	ck_assert_int_eq(pci_dev_add_bar(n, 0, PCI_BAR_MEM32, 128 << 10, false), 0);
	ck_assert_int_eq(pci_register(&b->vm, n, -1, 0), 0);
	ck_assert_int_eq(pci_dev_add_bar(&b->dev[1], 0, PCI_BAR_MEM32, 1 << 20, false), 0);
	ck_assert_int_eq(pci_register(&b->vm, &b->dev[1], -1, 0), 0);
	pci_set_m64_end(&b->vm, 256 * GIB, "");
	nic = n->bars[0].addr;
	/* Up to 128 GiB: free and in the window. */
	cfg_write(b, g, 0x1c, 32);
	ck_assert(!answers(b, 64 * GIB));
	ck_assert(answers(b, 128 * GIB + 4096));
	ck_assert(g->bars[2].mapped);
	/* Onto RAM (2 GiB), then past the window: refused, dark. */
	cfg_write(b, g, 0x1c, 0);
	cfg_write(b, g, 0x18, 0x80000000 | 0xc);
	ck_assert(!g->bars[2].mapped);
	ck_assert(!answers(b, 0x80000000) && !answers(b, 128 * GIB + 4096));
	cfg_write(b, g, 0x18, 0xc);
	cfg_write(b, g, 0x1c, 64); /* 256 GiB: the window's end */
	ck_assert(!g->bars[2].mapped);
	cfg_write(b, g, 0x1c, 16); /* 64 GiB again */
	ck_assert(g->bars[2].mapped && answers(b, 64 * GIB));
	/* The NIC's BAR onto the ECAM, then onto the GPU's 32-bit neighbour... */
	cfg_write(b, n, 0x10, 0xe0000000);
	ck_assert(!n->bars[0].mapped);
	cfg_write(b, n, 0x10, (uint32_t)b->dev[1].bars[0].addr + 0x20000);
	ck_assert(!n->bars[0].mapped);
	/* ...and back where it was: mapped again. */
	cfg_write(b, n, 0x10, (uint32_t)nic);
	ck_assert(n->bars[0].mapped && answers(b, nic));
	bed_destroy(b);
}
END_TEST

/* A refusal is not for good: Linux moves a hot-added device's BARs one register at a
 * time with decode on, so BAR0 can land where BAR1 still is; once BAR1 moves on, BAR0
 * is mapped where the guest put it. A removed device frees its place the same way. */
START_TEST(refused_bars_map_once_the_way_is_clear)
{
	struct bed *b = bed_create();
	struct pci_dev *d = &b->dev[2], *g = &b->dev[0];
	uint64_t bar0, bar1;

	ck_assert_int_eq(pci_dev_add_bar(d, 0, PCI_BAR_MEM32, 128 << 10, false), 0);
	ck_assert_int_eq(pci_dev_add_bar(d, 1, PCI_BAR_MEM32, 128 << 10, false), 0);
	ck_assert_int_eq(pci_register(&b->vm, d, -1, 0), 0);
	bar0 = d->bars[0].addr;
	bar1 = d->bars[1].addr;
	cfg_write(b, d, 0x10, (uint32_t)bar1); /* onto BAR1: refused for now */
	ck_assert(!d->bars[0].mapped);
	cfg_write(b, d, 0x14, (uint32_t)bar0); /* BAR1 to BAR0's old place */
	ck_assert(d->bars[0].mapped && d->bars[1].mapped);
	ck_assert(answers(b, bar0) && answers(b, bar1));
	/* A device whose BAR the guest put over another device's: mapped once that one
	 * is removed. */
	ck_assert_int_eq(pci_dev_add_bar(g, 0, PCI_BAR_MEM32, 128 << 10, false), 0);
	ck_assert_int_eq(pci_register(&b->vm, g, -1, 0), 0);
	cfg_write(b, g, 0x10, (uint32_t)bar0);
	ck_assert(!g->bars[0].mapped);
	pci_unregister(d);
	ck_assert(g->bars[0].mapped && answers(b, bar0));
	bed_destroy(b);
}
END_TEST

/* The expansion ROM: size through the register, read-only contents through bar_io while
 * both memory decode and its enable bit are on; a device without one reads 0 there and
 * ignores writes. Saved and restored with its enable bit. */
START_TEST(expansion_rom)
{
	struct bed *b = bed_create();
	struct pci_dev *d = &b->dev[0], *plain = &b->dev[1];
	struct device_stream st = {0};
	uint64_t rom;
	uint8_t v[4];

	ck_assert_int_eq(pci_dev_add_bar(d, PCI_ROM_BAR, PCI_BAR_MEM64, 64 << 10, false), -EINVAL);
	ck_assert_int_eq(pci_dev_add_bar(d, PCI_ROM_BAR, PCI_BAR_MEM32, 1024, false), -EINVAL);
	ck_assert_int_eq(pci_dev_add_bar(d, 0, PCI_BAR_MEM32, 64 << 10, false), 0);
	ck_assert_int_eq(pci_dev_add_bar(d, PCI_ROM_BAR, PCI_BAR_MEM32, 64 << 10, false), 0);
	ck_assert_int_eq(pci_register(&b->vm, d, -1, 0), 0);
	ck_assert_int_eq(pci_register(&b->vm, plain, -1, 0), 0);
	rom = cfg_read(b, d, 0x30);
	ck_assert_uint_eq(rom & 0x7ff, 0); /* placed, not enabled: dark */
	ck_assert_uint_ne(rom, 0);
	ck_assert(!answers(b, rom));
	cfg_write(b, d, 0x30, 0xfffff800);
	ck_assert_uint_eq(cfg_read(b, d, 0x30), 0xffff0000); /* 64 KiB */
	cfg_write(b, d, 0x30, (uint32_t)rom | 1);
	ck_assert_uint_eq(cfg_read(b, d, 0x30), rom | 1);
	ck_assert(bus_access(&b->vm.mmio, rom + 0x1234, v, 4, false));
	ck_assert_uint_eq(v[0], 0x34);
	ck_assert_uint_eq(v[1], 0x35);
	ck_assert(bus_access(&b->vm.mmio, rom + 16, v, 4, true));
	ck_assert_int_eq(b->writes, 0); /* read-only */
	cfg_write(b, d, 0x04, 0);	/* memory decode off */
	ck_assert(!answers(b, rom));
	cfg_write(b, d, 0x04, 2);
	ck_assert(answers(b, rom));
	/* Saved with the enable bit; loaded into a device with it off. */
	pci_save(d, &st);
	cfg_write(b, d, 0x30, 0);
	ck_assert(!answers(b, rom));
	st.pos = 0;
	ck_assert_int_eq(pci_load(d, &st), 0);
	ck_assert_uint_eq(cfg_read(b, d, 0x30), rom | 1);
	ck_assert(answers(b, rom));
	free(st.data);
	/* No ROM: the register reads 0 whatever is written. */
	cfg_write(b, plain, 0x30, 0xffffffff);
	ck_assert_uint_eq(cfg_read(b, plain, 0x30), 0);
	bed_destroy(b);
}
END_TEST

Suite *pci_bars_suite(void)
{
	Suite *s = suite_create("pci_bars");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, large_bars_fill_the_sized_window);
	tcase_add_test(tc, moved_bars_follow_or_are_refused);
	tcase_add_test(tc, refused_bars_map_once_the_way_is_clear);
	tcase_add_test(tc, expansion_rom);
	suite_add_tcase(s, tc);
	return s;
}
