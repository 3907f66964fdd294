/* Private to the PCI core (pci.c: config space, bus, registration; pci_bar.c: BAR
 * decode, placement and windows): the host bridge and the register layout both use. */
#ifndef MINIVMM_PCI_HOST_H
#define MINIVMM_PCI_HOST_H

#include "devices/pci.h"

#define PCI_COMMAND	    0x04
#define PCI_STATUS	    0x06
#define PCI_BAR0	    0x10
#define PCI_ROM_REG	    0x30
#define PCI_CAP_PTR	    0x34
#define PCI_INT_LINE	    0x3c
#define PCI_INT_PIN	    0x3d
#define PCI_CMD_IO	    0x1
#define PCI_CMD_MEM	    0x2
#define PCI_CMD_MASK	    0x0547 /* io, mem, master, parity, serr, intx disable */
#define PCI_STATUS_CAP_LIST 0x10

struct pci_host {
	struct machine *mach;
	pthread_mutex_t lock;
	struct pci_windows w;
	uint32_t cf8;
	uint8_t rcr; /* reset control register (0xcf9) */
	struct pci_dev *devs[256];
	struct pci_dev bridge;
};

/* The config register of BAR i (0-5, or PCI_ROM_BAR). */
static inline uint32_t pci_bar_reg(int i)
{
	return i == PCI_ROM_BAR ? PCI_ROM_REG : PCI_BAR0 + 4 * (uint32_t)i;
}

/* pci_bar.c, all with h->lock held. */
void pci_bar_unmap(struct pci_dev *dev, int i);
/* Maps BAR i where its register says if decode is on and the place is allowed. */
void pci_bar_update(struct pci_dev *dev, int i);
/* The register value the guest reads from BAR i's address and type. */
void pci_bar_sync_cfg(struct pci_dev *dev, int i);
/* A dword the guest wrote to BAR register i (0-5: BAR0-5, PCI_ROM_BAR: 0x30). */
void pci_bar_write(struct pci_dev *dev, int i, uint32_t val);
void pci_command_write(struct pci_dev *dev, uint16_t cmd);
/* Tries again every BAR refused where it is: after a move, decode change or removal. */
void pci_bars_retry(struct pci_host *h);
/* Gives BAR b of dev, not yet on the bus, a free place in its window; -ENOSPC with a
 * message naming the device, the BAR and the window if there is none. */
int pci_place_bar(struct pci_host *h, struct pci_dev *dev, struct pci_bar *b);

#endif
