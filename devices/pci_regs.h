/* Config space accessors (little-endian in dev->cfg) for the PCI core, devices and
 * tests: inline, here rather than in pci.h, so that using them ties a file to no .c. */
#ifndef MINIVMM_PCI_REGS_H
#define MINIVMM_PCI_REGS_H

#include <stdint.h>

#include "devices/pci.h"

static inline uint32_t pci_cfg_read32(const struct pci_dev *d, uint32_t off)
{
	return (uint32_t)d->cfg[off] | (uint32_t)d->cfg[off + 1] << 8 |
	       (uint32_t)d->cfg[off + 2] << 16 | (uint32_t)d->cfg[off + 3] << 24;
}
static inline void pci_cfg_write16(struct pci_dev *d, uint32_t off, uint16_t v)
{
	d->cfg[off] = (uint8_t)v;
	d->cfg[off + 1] = (uint8_t)(v >> 8);
}
static inline void pci_cfg_write32(struct pci_dev *d, uint32_t off, uint32_t v)
{
	pci_cfg_write16(d, off, (uint16_t)v);
	pci_cfg_write16(d, off + 2, (uint16_t)(v >> 16));
}

#endif
