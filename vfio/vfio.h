/* VFIO passthrough: the host PCI functions and mediated devices named by the
 * [vfio.NAME] sections become PCI devices of the guest, with their BARs mapped into it,
 * their interrupts injected by KVM and guest RAM DMA-able by them at iova = guest
 * physical address, through the legacy container or iommufd ([vfio] backend).
 *
 * Two device kinds of the device model (devices/device.h):
 *   vfio      the VM's backend, one per VM with any [vfio.NAME] (spec->conf: the
 *             config). Before changing anything on the host it checks every device (it
 *             exists, its driver, its IOMMU group is viable, guest RAM clear of
 *             reserved regions, RLIMIT_MEMLOCK); each problem is one message naming
 *             the device and the exact fix, and nothing is left changed. Then it binds
 *             (bind = auto), attaches every device and maps guest RAM. Destroying it
 *             closes the groups or cdevs and the backend and gives bind = auto devices
 *             back to their drivers.
 *   vfio-pci  one guest PCI function per [vfio.NAME] (spec->parent: the vfio
 *             instance, spec->index: which one), made after it and destroyed before;
 *             destroying it turns interrupts off, unmaps BARs and resets the device.
 * Both need the GSI table, guest RAM and the VM fd; vm.c destroys devices before those.
 * Every path that ends a VM (power-off, reboot, signals, failed start) destroys them, so
 * a device moved by bind = auto is always given back (short of SIGKILL). */
#ifndef MINIVMM_VFIO_H
#define MINIVMM_VFIO_H

#include <stddef.h>

#include "devices/device.h"

extern const struct device_ops vfio_device_ops;
extern const struct device_ops vfio_pci_device_ops;

struct config_vfio;
/* While the VM runs (the control API's add-device): the vfio instance's state takes
 * one more host device, checked, bound (bind = auto), attached and DMA-mapped as at
 * start; its host index for the vfio-pci spec goes to *index. Returns 0 or -errno
 * after one message, with nothing changed. c must outlive the VM. */
int vfio_host_add(void *backend, const struct config_vfio *c, unsigned int *index);
/* After its vfio-pci function is destroyed: detaches the host device (guest RAM
 * unmapped when it was the last) and gives a bind = auto device back to its driver. */
void vfio_host_remove(void *backend, unsigned int index);

/* What a vfio-pci instance's host driver offers for migration ("stop-copy, p2p,
 * pre-copy; DMA logging"), into buf; NULL when it cannot migrate. For info. */
const char *vfio_pci_migration(void *state, char *buf, size_t len);
/* What records the guest pages a vfio-pci instance's device writes by DMA during a live
 * migration ("the device's DMA logging", "the IOMMU (iommufd HWPT 3)", or "none (why)"),
 * into buf; for info and the log. */
const char *vfio_pci_dma_tracker(void *state, char *buf, size_t len);

#endif
