/* The device model: every device of a VM, built-in, virtio or VFIO, is one instance of
 * a kind described by a struct device_ops, made from one struct device_spec.
 *
 * vm.c derives the list of specs from the config (devices/catalog.c), creates them in
 * that order and destroys them in reverse; vm_device_remove / vm_device_add take one
 * PCI device off a running machine and put one on. Each instance has exactly one owner,
 * its struct device: the PCI core and the buses only refer to it.
 *
 * The contract for a kind:
 *   create   registers on the machine (buses, PCI, IRQ routes, memslots), starts its
 *            threads; returns 0 or -errno after one message naming the device and the
 *            fix, with nothing left registered.
 *   destroy  stops its threads first, then releases everything create took (BARs,
 *            memslots, GSI routes, irqfds, ioeventfds, fds, memory). It runs with every
 *            vCPU stopped or paused, so no vCPU is inside the device; a freed PCI slot
 *            and its BAR space can be taken by the next device.
 *   save     with the vCPUs paused: writes the device's state, and stops it touching
 *            guest memory until thaw (so that memory saved after it agrees with it).
 *   thaw     lets a saved device run again (after the snapshot, or a failed one).
 *   load     into a device just created from the same config, before the vCPUs run;
 *            every length and value checked (the state is untrusted input).
 *   activate for live migration between two minivmms on one host: off gives up the host
 *            resources that the destination takes over (a disk image's locks, after
 *            flushing it) at the handover; on takes them (the destination then, or a
 *            source whose handover failed). A device made while machine->incoming is
 *            set waits for on before it takes them. NULL: nothing to hand over.
 *   reset: NULL until a kind needs it. A kind without save cannot be snapshotted or
 *   migrated (refused, naming the device), nor an instance whose unmigratable says why.
 *
 * Devices with state outside guest memory that moves while the guest runs (VFIO
 * migration v2) also take part in live migration's phases; all optional:
 *   mig_start    source, main thread, as pre-copy begins: start early data (PRE_COPY)
 *                and logging its own DMA writes; *dma_tracked false if nothing logs
 *                them (then guest RAM is sent whole at the switchover).
 *   mig_precopy  migration thread, each round: the device data readable now.
 *   mig_dirty    migration thread, each round: OR the pages it wrote into bitmaps (one
 *                per RAM region of mem, a bit per 4 KiB page).
 *   quiesce      at the switchover, vCPUs paused, on every device before any save:
 *                stop initiating DMA and interrupts to others (P2P states).
 *   mig_end      source, main thread: the migration ended (logging off; a device still
 *                in pre-copy runs as before).
 *   load_early   destination: pre-copy data, in order, before load gets the rest. */
#ifndef MINIVMM_DEVICE_H
#define MINIVMM_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/config.h"

struct machine;
struct device;
struct pci_dev;
struct device_stream; /* the snapshot and migration format (devices/stream.h) */
struct guest_mem;

struct device_spec {
	const struct device_ops *ops;
	char name[CONFIG_NAME_MAX + 16]; /* "serial", "disk.root", "vfio.nvme": messages, API */
	const void *conf;		 /* its config section (struct config_disk, ...), or NULL */
	int fd;				 /* console output for serial and virtio console, else -1 */
	const struct device *parent;	 /* vfio-pci: the VM's vfio backend instance */
	unsigned int index;		 /* vfio-pci: which [vfio.NAME] of the backend */
	unsigned int slot;		 /* PCI kinds: the slot the config pins, 0: any */
};

struct device_ops {
	const char *kind; /* "serial", "virtio-blk", "vfio-pci", ... */
	bool pci;	  /* a PCI function: may be removed and added while vCPUs run */
	bool hotplug;	  /* the API's add-device and remove-device take this kind */
	/* Nothing the guest sees (the vfio backend: its functions hold the state): no
	 * record in a snapshot or migration, and none expected, so that a VM that still
	 * has one after its last function went moves to a VM that never had one. */
	bool stateless;
	int (*create)(struct machine *m, const struct device_spec *spec, void **state);
	void (*destroy)(void *state);
	/* PCI kinds: the function on the bus (for its address in messages and the API). */
	struct pci_dev *(*pci_dev)(void *state);
	int (*reset)(void *state);
	int (*save)(void *state, struct device_stream *out);
	int (*load)(void *state, struct device_stream *in);
	void (*thaw)(void *state);
	int (*activate)(void *state, bool on);
	const char *(*unmigratable)(void *state);
	int (*mig_start)(void *state, bool *dma_tracked);
	int (*mig_precopy)(void *state, struct device_stream *out);
	int (*mig_dirty)(void *state, const struct guest_mem *mem, uint64_t **bitmaps);
	int (*quiesce)(void *state);
	void (*mig_end)(void *state);
	int (*load_early)(void *state, const uint8_t *data, size_t len);
};

struct device {
	struct device_spec spec;
	void *state; /* NULL while the device is not on the machine */
};

#endif
