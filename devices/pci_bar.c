/* PCI BARs: placement in the host bridge's windows at start-up and hotplug, decode, and
 * the guest moving them.
 *
 * There is no firmware, so we place BARs as firmware would: naturally aligned, first
 * fit, I/O BARs in the I/O window, memory BARs of 64 MiB and more that can sit above
 * 4 GiB (64-bit ones) in the 64-bit window, the rest in the 32-bit window (a small
 * 64-bit BAR goes above 4 GiB only when that is full). The guest may move any BAR
 * afterwards (Linux does with pci=realloc, or when it disagrees with us): the old
 * mapping goes first, and the new one is made only inside a window of the BAR's kind
 * (what the ACPI tables' _CRS tells the guest it may use, so never over RAM, the ECAM
 * or the interrupt controllers) and clear of every other mapped BAR. Anything else is
 * the guest's mistake: the BAR stays unmapped, and a rate-limited line says why. A
 * refusal can be transient: the guest moves a device's BARs one register at a time
 * (Linux does, with decode on, for a hot-added device), so a BAR can land on one that
 * is about to move away. So after every move, decode change or removal, the refused
 * BARs are tried again (pci_bars_retry), as hardware would decode them again. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/pci_host.h"
#include "devices/pci_regs.h"
#include "vmm/bus.h"
#include "vmm/log.h"
#include "vmm/machine.h"

#define M64_MIN_SIZE (64ULL << 20) /* smaller BARs go below 4 GiB first */

static void pci_bar_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_bar *b = opaque;

	if (b->index == PCI_ROM_BAR && is_write)
		return; /* read-only memory */
	b->dev->ops->bar_io(b->dev, b->index, off, data, len, is_write);
}

/* "64 GiB", "256 MiB", "16 KiB" or "256 B": BAR sizes are powers of two. */
static const char *size_text(uint64_t v, char *buf, size_t len)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;

	while (u < 4 && v >= 1024 && !(v & 1023))
		v >>= 10, u++;
	snprintf(buf, len, "%llu %s", (unsigned long long)v, unit[u]);
	return buf;
}

static bool pci_bar_decoding(const struct pci_dev *dev, const struct pci_bar *b)
{
	uint16_t cmd = (uint16_t)(dev->cfg[PCI_COMMAND] | dev->cfg[PCI_COMMAND + 1] << 8);

	if (b->index == PCI_ROM_BAR)
		return (cmd & PCI_CMD_MEM) && b->rom_enabled;
	return b->type == PCI_BAR_IO ? (cmd & PCI_CMD_IO) : (cmd & PCI_CMD_MEM);
}

void pci_bar_unmap(struct pci_dev *dev, int i)
{
	struct pci_bar *b = &dev->bars[i];

	if (!b->mapped)
		return;
	if (dev->ops->bar_map)
		dev->ops->bar_unmap(dev, i, b->addr);
	else
		bus_unregister(b->type == PCI_BAR_IO ? &dev->mach->pio : &dev->mach->mmio, b->addr);
	b->mapped = false;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static bool inside(uint64_t a, uint64_t alen, uint64_t base, uint64_t end)
{
	return a >= base && a + alen <= end && a + alen > a;
}

/* Why b may not be mapped at its address, or NULL: outside every window of its kind, or
 * over another BAR that is mapped. */
static const char *pci_bar_refused(const struct pci_host *h, const struct pci_bar *b, char *buf,
				   size_t len)
{
	const struct pci_windows *w = &h->w;
	bool io = b->type == PCI_BAR_IO;

	if (io ? !inside(b->addr, b->size, w->io_min ? w->io_min : w->io_base, w->io_end)
	       : !inside(b->addr, b->size, w->m32_base, w->m32_end) &&
		     (b->type != PCI_BAR_MEM64 ||
		      !inside(b->addr, b->size, w->m64_base, w->m64_end)))
		return "it is outside the host bridge's windows";
	for (int d = 0; d < 256; d++) {
		const struct pci_dev *o = h->devs[d];

		for (int i = 0; o && i < PCI_NR_BARS; i++) {
			const struct pci_bar *x = &o->bars[i];

			if (x != b && x->mapped && (x->type == PCI_BAR_IO) == io &&
			    overlaps(b->addr, b->size, x->addr, x->size)) {
				snprintf(buf, len, "it overlaps %s's BAR%d", o->name, i);
				return buf;
			}
		}
	}
	return NULL;
}

/* Maps BAR i where it is if decoding and allowed; a refusal is logged unless quiet. */
static void pci_bar_try(struct pci_dev *dev, int i, bool quiet)
{
	struct pci_bar *b = &dev->bars[i];
	char why[160], sz[32];
	const char *no;
	int ret;

	b->refused = false;
	if (b->type == PCI_BAR_NONE || !pci_bar_decoding(dev, b))
		return;
	no = pci_bar_refused(dev->mach->pci, b, why, sizeof(why));
	if (no) {
		b->refused = true;
		if (!quiet)
			log_guest("%s: BAR%d (%s) at %#llx left unmapped: %s", dev->name, i,
				  size_text(b->size, sz, sizeof(sz)), (unsigned long long)b->addr,
				  no);
		return;
	}
	if (dev->ops->bar_map)
		ret = dev->ops->bar_map(dev, i, b->addr);
	else
		ret = bus_register(b->type == PCI_BAR_IO ? &dev->mach->pio : &dev->mach->mmio,
				   b->addr, b->size, pci_bar_io, b);
	if (ret < 0) {
		log_guest("%s: BAR%d at %#llx not mapped: %s", dev->name, i,
			  (unsigned long long)b->addr, strerror(-ret));
		return;
	}
	b->mapped = true;
}

void pci_bar_update(struct pci_dev *dev, int i)
{
	pci_bar_unmap(dev, i);
	pci_bar_try(dev, i, false);
}

void pci_bars_retry(struct pci_host *h)
{
	for (int d = 1; d < 256; d++)
		for (int i = 0; h->devs[d] && i < PCI_NR_BARS; i++)
			if (h->devs[d]->bars[i].refused && !h->devs[d]->bars[i].mapped)
				pci_bar_try(h->devs[d], i, true);
}

void pci_bar_sync_cfg(struct pci_dev *dev, int i)
{
	struct pci_bar *b = &dev->bars[i];
	uint32_t flags = b->type == PCI_BAR_IO
			     ? 0x1
			     : (b->type == PCI_BAR_MEM64 ? 0x4 : 0x0) | (b->prefetchable ? 0x8 : 0);

	if (i == PCI_ROM_BAR)
		flags = b->rom_enabled;
	pci_cfg_write32(dev, pci_bar_reg(i), (uint32_t)b->addr | flags);
	if (b->type == PCI_BAR_MEM64)
		pci_cfg_write32(dev, pci_bar_reg(i + 1), (uint32_t)(b->addr >> 32));
}

void pci_bar_write(struct pci_dev *dev, int reg, uint32_t val)
{
	int i = reg;
	struct pci_bar *b;
	uint64_t addr;

	if (dev->bars[reg].type == PCI_BAR_NONE) {
		/* Either unused (reads 0: absent) or the upper half of a 64-bit BAR. */
		if (reg == 0 || reg == PCI_ROM_BAR || dev->bars[reg - 1].type != PCI_BAR_MEM64)
			return;
		i = reg - 1;
	}
	b = &dev->bars[i];
	pci_bar_unmap(dev, i); /* at the old address, before it changes */
	addr = b->addr;
	if (i == PCI_ROM_BAR) {
		addr = val & ~0x7ffu;
		b->rom_enabled = val & 1;
	} else if (i == reg) {
		addr = (addr & ~0xffffffffULL) | (val & (b->type == PCI_BAR_IO ? ~3u : ~0xfu));
	} else {
		addr = (addr & 0xffffffffULL) | (uint64_t)val << 32;
	}
	addr &= ~(b->size - 1);
	if (b->type != PCI_BAR_MEM64)
		addr &= 0xffffffffULL;
	if (b->type == PCI_BAR_IO)
		addr &= 0xffff;
	b->addr = addr;
	pci_bar_sync_cfg(dev, i);
	pci_bar_update(dev, i);
	pci_bars_retry(dev->mach->pci);
}

void pci_command_write(struct pci_dev *dev, uint16_t cmd)
{
	uint16_t old = (uint16_t)(dev->cfg[PCI_COMMAND] | dev->cfg[PCI_COMMAND + 1] << 8);

	cmd &= PCI_CMD_MASK;
	pci_cfg_write16(dev, PCI_COMMAND, cmd);
	if ((old ^ cmd) & (PCI_CMD_IO | PCI_CMD_MEM)) {
		for (int i = 0; i < PCI_NR_BARS; i++)
			if (dev->bars[i].type != PCI_BAR_NONE)
				pci_bar_update(dev, i);
		pci_bars_retry(dev->mach->pci);
	}
}

/* ---- placement ----------------------------------------------------------------- */

/* The first address of [base, end), aligned to b's size, where b overlaps no BAR of the
 * same space that a device on the bus (or an earlier BAR of b's own device) holds now:
 * first fit, so the space of a removed device is taken again. BARs the guest moved are
 * seen where it put them. */
static bool pci_bar_clashes(const struct pci_bar *x, bool io, uint64_t addr, uint64_t size)
{
	return x->type != PCI_BAR_NONE && (x->type == PCI_BAR_IO) == io && x->addr != 0 &&
	       overlaps(addr, size, x->addr, x->size);
}

static int pci_fit(struct pci_host *h, struct pci_dev *dev, struct pci_bar *b, uint64_t base,
		   uint64_t end)
{
	bool io = b->type == PCI_BAR_IO;
	uint64_t addr = (base + b->size - 1) & ~(b->size - 1);
	bool moved;

	do {
		moved = false;
		for (int d = 0; d < 256 && !moved; d++) {
			const struct pci_dev *o = d == 0 ? dev : h->devs[d];

			if (!o || (d > 0 && o == dev))
				continue;
			for (int i = 0; i < PCI_NR_BARS; i++) {
				const struct pci_bar *x = &o->bars[i];

				if (x == b || (o == dev && i >= b->index))
					break;
				if (pci_bar_clashes(x, io, addr, b->size)) {
					addr = (x->addr + x->size + b->size - 1) & ~(b->size - 1);
					moved = true;
					break;
				}
			}
		}
		if (addr < base || !inside(addr, b->size, base, end))
			return -ENOSPC;
	} while (moved);
	b->addr = addr;
	return 0;
}

int pci_place_bar(struct pci_host *h, struct pci_dev *dev, struct pci_bar *b)
{
	const struct pci_windows *w = &h->w;
	const char *kind;
	char sz[32], what[80];
	bool high = b->type == PCI_BAR_MEM64;

	if (b->type == PCI_BAR_IO) {
		if (pci_fit(h, dev, b, w->io_base, w->io_end) == 0)
			return 0;
		kind = "I/O";
	} else if (high && b->size >= M64_MIN_SIZE) {
		if (pci_fit(h, dev, b, w->m64_base, w->m64_end) == 0)
			return 0;
		kind = "64-bit";
	} else {
		if (pci_fit(h, dev, b, w->m32_base, w->m32_end) == 0 ||
		    (high && pci_fit(h, dev, b, w->m64_base, w->m64_end) == 0))
			return 0;
		kind = high ? "32-bit or the 64-bit" : "32-bit";
	}
	if (b->index == PCI_ROM_BAR)
		snprintf(what, sizeof(what), "its expansion ROM (%s)",
			 size_text(b->size, sz, sizeof(sz)));
	else
		snprintf(what, sizeof(what), "BAR%d (%s, %s%s)", b->index,
			 size_text(b->size, sz, sizeof(sz)),
			 b->type == PCI_BAR_IO ? "I/O"
			 : high		       ? "64-bit"
					       : "32-bit",
			 b->prefetchable ? " prefetchable" : "");
	/* Kept as the machine's last error: add-device replies with it. */
	if (!strcmp(kind, "64-bit"))
		machine_error(
		    h->mach, "%s: %s does not fit in the 64-bit PCI window [%#llx, %#llx)%s%s",
		    dev->name, what, (unsigned long long)w->m64_base,
		    (unsigned long long)w->m64_end, w->m64_hint[0] ? ": " : "", w->m64_hint);
	else
		machine_error(h->mach, "%s: %s does not fit in the %s PCI window%s", dev->name,
			      what, kind, strchr(kind, ' ') ? "s" : "");
	return -ENOSPC;
}

uint64_t pci_m64_used_end(struct machine *mach)
{
	struct pci_host *h = mach->pci;
	uint64_t top = h->w.m64_base;

	pthread_mutex_lock(&h->lock);
	for (int d = 1; d < 256; d++)
		for (int i = 0; h->devs[d] && i < PCI_NR_BARS; i++) {
			const struct pci_bar *b = &h->devs[d]->bars[i];

			if (b->type == PCI_BAR_MEM64 && b->addr >= h->w.m64_base &&
			    b->addr + b->size > top)
				top = b->addr + b->size;
		}
	pthread_mutex_unlock(&h->lock);
	return top;
}

void pci_set_m64_end(struct machine *mach, uint64_t end, const char *hint)
{
	struct pci_host *h = mach->pci;

	pthread_mutex_lock(&h->lock);
	h->w.m64_end = end;
	snprintf(h->w.m64_hint, sizeof(h->w.m64_hint), "%s", hint);
	pthread_mutex_unlock(&h->lock);
}

void pci_get_windows(struct machine *mach, struct pci_windows *w)
{
	struct pci_host *h = mach->pci;

	pthread_mutex_lock(&h->lock);
	*w = h->w;
	pthread_mutex_unlock(&h->lock);
}
