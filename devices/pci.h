/* PCI: one host bridge, bus 0, 32 slots x 8 functions, 4 KiB of config space per
 * function, reachable through port I/O CF8/CFC (first 256 bytes) and ECAM (all 4 KiB).
 *
 * The core owns the config header's BARs and command register: it sizes BARs, places
 * them at start-up (there is no firmware, so we do what firmware would), and when the
 * guest moves a BAR or toggles I/O / memory decode it unmaps and maps the BAR through
 * the device's ops. Everything else in config space is the device's: an emulated
 * device keeps it in dev->cfg with writable bits in dev->wmask; a passed-through device
 * (VFIO) forwards in cfg_read/cfg_write.
 *
 * Locking: config accesses are serialized by one mutex per host bridge (they are rare
 * and must see a consistent BAR state); BAR accesses go straight to the device's handler
 * from the bus, without that lock. */
#ifndef MINIVMM_PCI_H
#define MINIVMM_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct machine;
struct pci_dev;

#define PCI_CFG_SIZE	    4096
#define PCI_NR_BARS	    7 /* BAR0-5 and the expansion ROM */
#define PCI_ROM_BAR	    6 /* config register 0x30; memory, 32-bit, read-only */
#define PCI_NR_SLOTS	    32
#define PCI_DEVFN(slot, fn) ((uint8_t)(((slot) << 3) | (fn)))

enum pci_bar_type { PCI_BAR_NONE = 0, PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };

struct pci_bar {
	enum pci_bar_type type;
	bool prefetchable;
	uint64_t size;	     /* power of two; I/O >= 4 bytes, memory >= 4 KiB */
	uint64_t addr;	     /* guest address the BAR registers hold */
	bool mapped;	     /* currently decoded (registered on a bus or as a memslot) */
	bool rom_enabled;    /* PCI_ROM_BAR only: the register's enable bit */
	bool refused;	     /* decoding but left unmapped where it is (pci_bar.c) */
	struct pci_dev *dev; /* set by pci_register */
	int index;
};

struct pci_dev_ops {
	/* Optional. Config read of [off, off + len) (len 1, 2 or 4, never crossing a
	 * dword). data arrives filled from dev->cfg (with the core's BAR and command
	 * values); a passthrough device may replace it. */
	void (*cfg_read)(struct pci_dev *dev, uint32_t off, uint8_t *data, uint32_t len);
	/* Optional. Called after the core has applied a guest write to dev->cfg through
	 * dev->wmask (and handled BARs and command); data is what the guest wrote. */
	void (*cfg_write)(struct pci_dev *dev, uint32_t off, const uint8_t *data, uint32_t len);
	/* Access to BAR bar at offset off (for BARs the core registers on the PIO or MMIO
	 * bus: every BAR unless bar_map is set). */
	void (*bar_io)(struct pci_dev *dev, int bar, uint64_t off, uint8_t *data, uint32_t len,
		       bool is_write);
	/* Optional. If set, the device maps and unmaps its BARs itself (VFIO: memslots for
	 * the mmap-able parts, bus ranges for the trapped ones). Return 0 or -errno. */
	int (*bar_map)(struct pci_dev *dev, int bar, uint64_t addr);
	void (*bar_unmap)(struct pci_dev *dev, int bar, uint64_t addr);
};

struct pci_dev {
	struct machine *mach;
	const struct pci_dev_ops *ops;
	void *priv;
	const char *name; /* for messages, e.g. "virtio-blk disk0" */
	uint8_t devfn;
	uint8_t cfg[PCI_CFG_SIZE];   /* the guest's view */
	uint8_t wmask[PCI_CFG_SIZE]; /* bits the guest may change (outside BARs/command) */
	struct pci_bar bars[PCI_NR_BARS];
	uint8_t last_cap;	       /* offset of the last capability in the list, 0: none */
	uint16_t last_ext_cap;	       /* offset of the last extended capability, 0: none */
	uint16_t cap_end, ext_cap_end; /* where the next capability may start */
};

/* Creates the host bridge (00:00.0), CF8/CFC on the PIO bus and ECAM on the MMIO bus,
 * and the BAR windows: I/O [io_base, io_end), 32-bit memory [m32_base, m32_end),
 * 64-bit memory [m64_base, m64_end). Returns 0 or -errno.
 *
 * The 64-bit window is sized from the devices: until pci_set_m64_end, its end is the
 * guest's physical address limit (addr_limit), so the boot devices' large BARs are
 * placed first, then the window is ended after them plus room for devices added later.
 * A BAR the guest moves is mapped only inside a window of its kind and clear of every
 * other BAR. m64_hint ends the message of a BAR that does not fit (which setting would
 * make room). */
struct pci_windows {
	uint64_t io_base, io_end, m32_base, m32_end, m64_base, m64_end, ecam_base;
	uint64_t addr_limit;
	uint64_t io_min; /* the guest may move I/O BARs down to here, not just io_base */
	char m64_hint[160];
};
int pci_init(struct machine *mach, const struct pci_windows *w);
/* The end of the highest BAR placed in the 64-bit window (m64_base if none), and the
 * window's end from now on, with the hint for a BAR that does not fit any more. */
uint64_t pci_m64_used_end(struct machine *mach);
void pci_set_m64_end(struct machine *mach, uint64_t end, const char *hint);
/* The windows as they are now (for the ACPI tables and the API). */
void pci_get_windows(struct machine *mach, struct pci_windows *w);
/* Frees the host bridge; every device must have been unregistered by its owner. */
void pci_destroy(struct machine *mach);

/* Fills the type-0 header: ids, class (24 bits: base, sub, prog-if), revision,
 * subsystem ids; the status register says "has a capability list" once a capability
 * is added. Zeroes everything else. */
void pci_dev_init(struct pci_dev *dev, uint16_t vendor, uint16_t device, uint32_t class,
		  uint8_t revision, uint16_t subsys_vendor, uint16_t subsys);

/* Declares BAR bar (a 64-bit BAR uses bar and bar + 1; PCI_ROM_BAR is the expansion ROM,
 * PCI_BAR_MEM32, reached through bar_io/bar_map like the others while the guest has
 * both memory decode and the ROM's enable bit on). Before pci_register only. */
int pci_dev_add_bar(struct pci_dev *dev, int bar, enum pci_bar_type type, uint64_t size,
		    bool prefetchable);

/* Appends a capability (body starts with the ID byte; the core fills the next
 * pointer in body[1]) in the standard space after 0x40. Returns its offset or -ENOSPC.
 * wmask bits for it are the caller's to set. */
int pci_dev_add_cap(struct pci_dev *dev, const void *body, uint32_t len);
/* Appends a minimal PCI Express capability (root complex integrated endpoint), which
 * tells the guest the function has extended (4 KiB) config space. Returns its offset. */
int pci_dev_add_pcie_cap(struct pci_dev *dev);
/* Appends an extended capability (header dword built from id, version) at 0x100+.
 * Returns its offset or -ENOSPC. */
int pci_dev_add_ext_cap(struct pci_dev *dev, uint16_t id, uint8_t version, const void *body,
			uint32_t len);

/* Places the device at slot (-1: the first free slot, function 0; functions > 0 must
 * name their slot), assigns its BARs in the windows and enables them as firmware would
 * (command register I/O + memory + bus master left for the guest to set). Returns 0,
 * -EEXIST if the devfn is taken, -ENOSPC if a BAR window is full. */
int pci_register(struct machine *mach, struct pci_dev *dev, int slot, int fn);
/* Takes the device off the bus: BARs unmapped (through bar_unmap for devices that map
 * their own), its devfn and BAR space free for the next pci_register. The device stays
 * its owner's to free; pci_register and pci_unregister are its only two contacts with
 * the core. No-op for a device not on the bus. */
void pci_unregister(struct pci_dev *dev);

struct device_stream;
/* The guest's view of the function (config space, BAR addresses, decode) into out, and
 * back: load keeps the bits the guest cannot write from this device, places the BARs
 * where the saved guest had them and maps them as its command register says.
 * -EINVAL for a config space of another device or a short stream. */
void pci_save(struct pci_dev *dev, struct device_stream *out);
int pci_load(struct pci_dev *dev, struct device_stream *in);

/* One config access as the guest makes it, for bus 0 devfn (used by the CF8/CFC and
 * ECAM handlers, and by unit tests). Reads of absent functions return all ones. */
void pci_cfg_access(struct machine *mach, uint8_t devfn, uint32_t off, uint8_t *data, uint32_t len,
		    bool is_write);

/* Interrupt pin -> IOAPIC input for INTx: slot-swizzled over four lines (_PRT). */
unsigned int pci_intx_gsi(uint8_t devfn, unsigned int pin /* 1 = INTA */);

#include "devices/pci_regs.h" /* the config space accessors */

#endif
