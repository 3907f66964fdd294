/* VFIO PCI passthrough: the host PCI functions and mediated devices named by the
 * [vfio.NAME] sections become PCI devices of the guest, with their BARs mapped into it,
 * their interrupts injected by KVM and guest RAM DMA-able by them at iova = guest
 * physical address, through the legacy container or iommufd ([vfio] backend).
 *
 * Call order (vm.c):
 *	memory -> arch_vm_init -> irq_init -> pci_init -> vfio_devices_create(vm)
 *	-> ... -> vCPUs                                   (an error means exit 2)
 *	teardown: vCPUs joined -> pci_destroy(vm) -> vfio_devices_destroy(vm)
 *	          -> irq_destroy -> mem_destroy -> VM fd closed
 * pci_destroy frees the passed-through devices (their interrupts off, BARs unmapped,
 * reset); vfio_devices_destroy then closes the groups or cdevs and the backend and gives
 * bind = auto devices back to their drivers. It works in either order, but both must
 * run while the GSI table, guest RAM and the VM fd still exist. It runs on every path
 * that ends a VM (power-off, reboot, signals, failed start), so a device moved by
 * bind = auto is always given back (short of SIGKILL). */
#ifndef MINIVMM_VFIO_H
#define MINIVMM_VFIO_H

struct vm;

/* Sets up every [vfio.NAME] of vm->cfg and keeps its state in vm->vfio (NULL when
 * there is none). Before changing anything on the host it checks every device (it
 * exists, its driver, its IOMMU group is viable, guest RAM clear of reserved regions,
 * RLIMIT_MEMLOCK); each problem is one message naming the device and the exact fix.
 * Returns 0 or -errno after that message, with nothing left changed. */
int vfio_devices_create(struct vm *vm);
/* Tears it down and restores host drivers. Idempotent; fine with vm->vfio NULL. */
void vfio_devices_destroy(struct vm *vm);

#endif
