/* The PCI host bridge: bus 0, CF8/CFC and ECAM, config space, registration and saved
 * state (BAR placement and decode are pci_bar.c's).
 *
 * Locking: host->lock serializes config accesses and (un)mapping of BARs, which they
 * trigger. BAR accesses reach devices through the buses without it. */
#include "devices/pci.h"
#include "devices/pci_host.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/stream.h"
#include "vmm/log.h"
#include "vmm/machine.h"

#define CF8_PORT       0xcf8
#define RCR_OFF	       1    /* 0xcf9: the chipset's reset control register */
#define RCR_SYS_RST    0x02 /* full (not CPU-only) reset: kept, reads back */
#define RCR_RST_CPU    0x04 /* writing it resets the machine */
#define ECAM_BUS0_SIZE (1 << 20)

unsigned int pci_intx_gsi(uint8_t devfn, unsigned int pin)
{
	/* The usual swizzle over the four PCI lines, wired to IOAPIC inputs 16-19. */
	return 16 + ((devfn >> 3) + pin - 1) % 4;
}

void pci_dev_init(struct pci_dev *dev, uint16_t vendor, uint16_t device, uint32_t class,
		  uint8_t revision, uint16_t subsys_vendor, uint16_t subsys)
{
	memset(dev->cfg, 0, sizeof(dev->cfg));
	memset(dev->wmask, 0, sizeof(dev->wmask));
	memset(dev->bars, 0, sizeof(dev->bars));
	pci_cfg_write16(dev, 0x00, vendor);
	pci_cfg_write16(dev, 0x02, device);
	pci_cfg_write32(dev, 0x08, class << 8 | revision);
	pci_cfg_write16(dev, 0x2c, subsys_vendor);
	pci_cfg_write16(dev, 0x2e, subsys);
	dev->wmask[PCI_INT_LINE] = 0xff; /* scratch for the guest's IRQ bookkeeping */
	dev->wmask[0x0c] = 0xff;	 /* cache line size */
	dev->last_cap = 0;
	dev->last_ext_cap = 0;
	dev->cap_end = dev->ext_cap_end = 0;
}

int pci_dev_add_bar(struct pci_dev *dev, int bar, enum pci_bar_type type, uint64_t size,
		    bool prefetchable)
{
	uint64_t min = type == PCI_BAR_IO ? 4 : 4096;

	if (bar < 0 || bar >= PCI_NR_BARS || (type == PCI_BAR_MEM64 && bar >= PCI_ROM_BAR - 1) ||
	    (bar == PCI_ROM_BAR && (type != PCI_BAR_MEM32 || size < 2048)) ||
	    (bar != PCI_ROM_BAR && size < min) || (size & (size - 1)) ||
	    (type == PCI_BAR_IO && size > 256))
		return -EINVAL;
	dev->bars[bar] = (struct pci_bar){.type = type, .prefetchable = prefetchable, .size = size};
	return 0;
}

int pci_dev_add_cap(struct pci_dev *dev, const void *body, uint32_t len)
{
	uint32_t off = dev->last_cap ? dev->cap_end : 0x40;

	off = (off + 3) & ~3u;
	if (len < 2 || off + len > 0x100)
		return -ENOSPC;
	memcpy(&dev->cfg[off], body, len);
	dev->cfg[off + 1] = 0;
	if (dev->last_cap)
		dev->cfg[dev->last_cap + 1] = (uint8_t)off;
	else
		dev->cfg[PCI_CAP_PTR] = (uint8_t)off;
	dev->last_cap = (uint8_t)off;
	dev->cap_end = (uint16_t)(off + len);
	dev->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	return (int)off;
}

int pci_dev_add_ext_cap(struct pci_dev *dev, uint16_t id, uint8_t version, const void *body,
			uint32_t len)
{
	uint32_t off = dev->last_ext_cap ? dev->ext_cap_end : 0x100;

	off = (off + 3) & ~3u;
	if (off + 4 + len > PCI_CFG_SIZE)
		return -ENOSPC;
	pci_cfg_write32(dev, off, id | (uint32_t)(version & 0xf) << 16);
	memcpy(&dev->cfg[off + 4], body, len);
	if (dev->last_ext_cap) /* the next-pointer is bits 31:20 of the previous header */
		pci_cfg_write32(dev, dev->last_ext_cap,
				pci_cfg_read32(dev, dev->last_ext_cap) | off << 20);
	dev->last_ext_cap = (uint16_t)off;
	dev->ext_cap_end = (uint16_t)(off + 4 + len);
	return (int)off;
}

int pci_dev_add_pcie_cap(struct pci_dev *dev)
{
	/* Version 2, Root Complex Integrated Endpoint (type 9): no link, no slot. Linux
	 * reads 4 KiB of config space only from functions with this capability. */
	uint8_t cap[0x3c] = {0x10, 0, 0x92, 0x00};
	int off = pci_dev_add_cap(dev, cap, sizeof(cap));

	if (off >= 0) {
		dev->wmask[off + 8] = 0xff; /* device control: payload sizes, error reporting */
		dev->wmask[off + 9] = 0x7f;
	}
	return off;
}

/* ---- config access ------------------------------------------------------------- */

static void pci_cfg_write_locked(struct pci_dev *dev, uint32_t off, const uint8_t *data,
				 uint32_t len)
{
	uint8_t merged[4];
	uint32_t dw = off & ~3u, val;

	/* Merge the written bytes into the dword they belong to, to decide about the
	 * registers the core owns. */
	memcpy(merged, &dev->cfg[dw], 4);
	memcpy(&merged[off - dw], data, len);
	val = (uint32_t)merged[0] | merged[1] << 8 | merged[2] << 16 | (uint32_t)merged[3] << 24;
	if (dw == PCI_COMMAND) {
		if (off < PCI_STATUS)
			pci_command_write(dev, (uint16_t)val);
		/* status: write-1-to-clear error bits; ours never get set */
	} else if (dw >= PCI_BAR0 && dw < PCI_BAR0 + 4 * PCI_ROM_BAR) {
		pci_bar_write(dev, (int)(dw - PCI_BAR0) / 4, val);
	} else if (dw == PCI_ROM_REG) {
		pci_bar_write(dev, PCI_ROM_BAR, val);
	} else {
		for (uint32_t i = 0; i < len; i++) {
			uint8_t m = dev->wmask[off + i];

			dev->cfg[off + i] = (uint8_t)((dev->cfg[off + i] & ~m) | (data[i] & m));
		}
	}
	if (dev->ops && dev->ops->cfg_write)
		dev->ops->cfg_write(dev, off, data, len);
}

void pci_cfg_access(struct machine *mach, uint8_t devfn, uint32_t off, uint8_t *data, uint32_t len,
		    bool is_write)
{
	struct pci_host *h = mach->pci;
	struct pci_dev *dev;

	if (!is_write)
		memset(data, 0xff, len);
	if (!h || (len != 1 && len != 2 && len != 4) || (off & (len - 1)) ||
	    off + len > PCI_CFG_SIZE)
		return;
	pthread_mutex_lock(&h->lock);
	dev = h->devs[devfn];
	if (dev && is_write) {
		pci_cfg_write_locked(dev, off, data, len);
	} else if (dev) {
		memcpy(data, &dev->cfg[off], len);
		if (dev->ops && dev->ops->cfg_read)
			dev->ops->cfg_read(dev, off, data, len);
	}
	pthread_mutex_unlock(&h->lock);
}

/* CF8 (address) and CFC-CFF (data): the PC's configuration mechanism #1. */
static void pci_conf1_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_host *h = opaque;
	uint32_t cf8, reg;

	if (off == RCR_OFF && len == 1) {
		/* Byte port 0xcf9 inside CF8 is the reset control register of the PC's
		 * chipsets (PIIX, ICH). Linux resets through it with reboot=pci, and after a
		 * failed BIOS reset when it found mechanism #1; a guest cannot be left with a
		 * reset method that the hardware it believes in would have had. */
		if (!is_write) {
			data[0] = __atomic_load_n(&h->rcr, __ATOMIC_RELAXED);
			return;
		}
		__atomic_store_n(&h->rcr, data[0] & RCR_SYS_RST, __ATOMIC_RELAXED);
		if (data[0] & RCR_RST_CPU)
			machine_request_stop(h->mach, VM_STOP_RESET);
		return;
	}
	if (off < 4) {
		if (off != 0 || len != 4)
			return; /* other byte probes of 0xcf8-0xcfb: not mechanism #1 */
		if (is_write)
			h->cf8 = (uint32_t)data[0] | data[1] << 8 | data[2] << 16 |
				 (uint32_t)data[3] << 24;
		else
			memcpy(data, &h->cf8, 4);
		return;
	}
	cf8 = __atomic_load_n(&h->cf8, __ATOMIC_RELAXED);
	reg = (cf8 & 0xfc) | (uint32_t)(off - 4);
	if (!(cf8 & 0x80000000u) || ((cf8 >> 16) & 0xff) != 0 || (off - 4) + len > 4)
		return;
	pci_cfg_access(h->mach, (uint8_t)(cf8 >> 8), reg, data, len, is_write);
}

static void pci_ecam_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_host *h = opaque;

	pci_cfg_access(h->mach, (uint8_t)(off >> 12), (uint32_t)(off & 0xfff), data, len, is_write);
}

/* ---- registration -------------------------------------------------------------- */

int pci_register(struct machine *mach, struct pci_dev *dev, int slot, int fn)
{
	struct pci_host *h = mach->pci;
	int ret = 0;

	if (!h || fn < 0 || fn > 7 || slot >= PCI_NR_SLOTS || (slot < 0 && fn != 0))
		return -EINVAL;
	dev->mach = mach;
	pthread_mutex_lock(&h->lock);
	if (slot < 0 && mach->pci_slot_next) {
		slot = (int)mach->pci_slot_next;
	} else if (slot < 0) {
		for (slot = 1; slot < PCI_NR_SLOTS &&
			       (h->devs[PCI_DEVFN(slot, 0)] || (mach->pci_pinned >> slot & 1));
		     slot++)
			;
		if (slot == PCI_NR_SLOTS) {
			ret = -ENOSPC;
			goto out;
		}
	}
	dev->devfn = PCI_DEVFN(slot, fn);
	if (h->devs[dev->devfn]) {
		ret = -EEXIST;
		goto out;
	}
	/* A function > 0 makes its slot multifunction: header type bit 7 of function 0. */
	if (fn > 0 && h->devs[PCI_DEVFN(slot, 0)])
		h->devs[PCI_DEVFN(slot, 0)]->cfg[0x0e] |= 0x80;
	if (fn == 0)
		for (int f = 1; f < 8; f++)
			if (h->devs[PCI_DEVFN(slot, f)])
				dev->cfg[0x0e] |= 0x80;
	for (int i = 0; i < PCI_NR_BARS; i++) {
		struct pci_bar *b = &dev->bars[i];

		b->dev = dev;
		b->index = i;
		if (b->type == PCI_BAR_NONE)
			continue;
		ret = pci_place_bar(h, dev, b);
		if (ret < 0)
			goto out;
		pci_bar_sync_cfg(dev, i);
	}
	if (dev->cfg[PCI_INT_PIN])
		dev->cfg[PCI_INT_LINE] = (uint8_t)pci_intx_gsi(dev->devfn, dev->cfg[PCI_INT_PIN]);
	h->devs[dev->devfn] = dev;
	log_info("pci 0000:00:%02x.%x [%04x:%04x] %s", dev->devfn >> 3, dev->devfn & 7,
		 dev->cfg[0] | dev->cfg[1] << 8, dev->cfg[2] | dev->cfg[3] << 8, dev->name);
	/* Firmware would leave decoding on for the BARs it assigned. */
	pci_command_write(dev, PCI_CMD_IO | PCI_CMD_MEM);
out:
	pthread_mutex_unlock(&h->lock);
	return ret;
}

static const struct pci_dev_ops pci_bridge_ops = {0};

int pci_init(struct machine *mach, const struct pci_windows *w)
{
	struct pci_host *h = calloc(1, sizeof(*h));
	int ret;

	if (!h)
		return -ENOMEM;
	h->mach = mach;
	h->w = *w;
	pthread_mutex_init(&h->lock, NULL);
	mach->pci = h;
	ret = bus_register(&mach->pio, CF8_PORT, 8, pci_conf1_io, h);
	if (ret < 0)
		goto err;
	ret = bus_register(&mach->mmio, w->ecam_base, ECAM_BUS0_SIZE, pci_ecam_io, h);
	if (ret < 0) {
		bus_unregister(&mach->pio, CF8_PORT);
		goto err;
	}
	/* 00:00.0, the host bridge: a neutral id (no guest quirks), class 06 00 00. */
	h->bridge.name = "host bridge";
	h->bridge.ops = &pci_bridge_ops;
	pci_dev_init(&h->bridge, 0x1b36, 0x0008, 0x060000, 0, 0x1b36, 0x0008);
	h->bridge.mach = mach;
	h->devs[0] = &h->bridge;
	return 0;
err:
	mach->pci = NULL;
	pthread_mutex_destroy(&h->lock);
	free(h);
	return ret;
}

void pci_unregister(struct pci_dev *dev)
{
	struct pci_host *h = dev->mach ? dev->mach->pci : NULL;
	uint8_t slot0 = PCI_DEVFN(dev->devfn >> 3, 0);

	if (!h || h->devs[dev->devfn] != dev)
		return;
	pthread_mutex_lock(&h->lock);
	for (int b = 0; b < PCI_NR_BARS; b++)
		pci_bar_unmap(dev, b);
	h->devs[dev->devfn] = NULL;
	pci_bars_retry(h); /* BARs the guest had put over this device's */
	/* The slot stops being multifunction when only function 0 is left in it. */
	if (h->devs[slot0]) {
		bool others = false;

		for (int f = 1; f < 8; f++)
			others |= h->devs[PCI_DEVFN(dev->devfn >> 3, f)] != NULL;
		if (!others)
			h->devs[slot0]->cfg[0x0e] &= 0x7f;
	}
	pthread_mutex_unlock(&h->lock);
}

void pci_destroy(struct machine *mach)
{
	struct pci_host *h = mach->pci;

	if (!h)
		return;
	/* Every device's owner has unregistered it by now (vm.c destroys devices first);
	 * one still here is a bug, but its BARs must not outlive the bus either way. */
	for (int i = 1; i < 256; i++) {
		struct pci_dev *dev = h->devs[i];

		if (!dev)
			continue;
		log_err("pci: %s still on the bus at teardown", dev->name);
		for (int b = 0; b < PCI_NR_BARS; b++)
			pci_bar_unmap(dev, b);
		h->devs[i] = NULL;
	}
	bus_unregister(&mach->mmio, h->w.ecam_base);
	bus_unregister(&mach->pio, CF8_PORT);
	pthread_mutex_destroy(&h->lock);
	free(h);
	mach->pci = NULL;
}

/* ---- saved state --------------------------------------------------------------- */

void pci_save(struct pci_dev *dev, struct device_stream *out)
{
	struct pci_host *h = dev->mach->pci;

	pthread_mutex_lock(&h->lock);
	stream_put(out, dev->cfg, sizeof(dev->cfg));
	pthread_mutex_unlock(&h->lock);
}

int pci_load(struct pci_dev *dev, struct device_stream *in)
{
	struct pci_host *h = dev->mach->pci;
	uint8_t *cfg = malloc(PCI_CFG_SIZE);

	if (!cfg)
		return -ENOMEM;
	stream_get(in, cfg, PCI_CFG_SIZE);
	/* The same device: its identity (ids, class, header type) must match. */
	if (in->err || memcmp(cfg, dev->cfg, 4) || memcmp(cfg + 8, dev->cfg + 8, 8)) {
		free(cfg);
		return -EINVAL;
	}
	pthread_mutex_lock(&h->lock);
	for (int i = 0; i < PCI_NR_BARS; i++)
		pci_bar_unmap(dev, i);
	/* What the guest may change (and the core's BARs and command); the rest stays
	 * what this minivmm built, so a doctored snapshot cannot redefine the device. */
	for (uint32_t i = 0; i < PCI_CFG_SIZE; i++)
		dev->cfg[i] = (uint8_t)((dev->cfg[i] & ~dev->wmask[i]) | (cfg[i] & dev->wmask[i]));
	for (int i = 0; i < PCI_NR_BARS; i++) {
		struct pci_bar *b = &dev->bars[i];
		uint64_t addr;

		if (b->type == PCI_BAR_NONE)
			continue;
		addr = 0;
		memcpy(&addr, &cfg[pci_bar_reg(i)], 4);
		if (i == PCI_ROM_BAR)
			b->rom_enabled = addr & 1;
		addr &= i == PCI_ROM_BAR ? ~0x7ffull : b->type == PCI_BAR_IO ? ~3ull : ~0xfull;
		addr &= 0xffffffffull;
		if (b->type == PCI_BAR_MEM64) {
			uint32_t hi;

			memcpy(&hi, &cfg[pci_bar_reg(i + 1)], 4);
			addr |= (uint64_t)hi << 32;
		}
		b->addr = addr & ~(b->size - 1);
		pci_bar_sync_cfg(dev, i);
	}
	pci_cfg_write16(dev, PCI_COMMAND,
			(uint16_t)((cfg[PCI_COMMAND] | cfg[PCI_COMMAND + 1] << 8) & PCI_CMD_MASK));
	for (int i = 0; i < PCI_NR_BARS; i++)
		if (dev->bars[i].type != PCI_BAR_NONE)
			pci_bar_update(dev, i);
	pci_bars_retry(h);
	pthread_mutex_unlock(&h->lock);
	free(cfg);
	return 0;
}
