/* The VM's virtio devices as one set, made from vm->cfg (see virtio_devices.c): what
 * vm.c calls, so that it needs neither the backends nor the transport. */
#ifndef MINIVMM_VIRTIO_DEVICES_H
#define MINIVMM_VIRTIO_DEVICES_H

struct vm;

/* Every virtio device of vm->cfg ([console] device = virtio, [disk.*], [net.*], [rng]),
 * listed in vm->virtio. Call after pci_init() and before the vCPUs start;
 * virtio_devices_destroy() after they have stopped (before or after pci_destroy(),
 * which frees the devices themselves). */
int virtio_devices_create(struct vm *vm);
void virtio_devices_destroy(struct vm *vm);

#endif
