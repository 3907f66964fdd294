/* The VM's virtio devices, from its config: the virtio console ([console] device =
 * virtio), one virtio-blk per [disk.NAME], one virtio-net per [net.NAME], one virtio-rng
 * for [rng].
 *
 * Each device belongs to the PCI core once registered (pci_destroy() frees it through
 * its destroy hook); vm->virtio only lists them, so that this list can be dropped in
 * any order relative to pci_destroy(). */
#include "devices/virtio_devices.h"

#include <errno.h>
#include <stdlib.h>

#include "devices/virtio_backends.h"
#include "vmm/config.h"
#include "vmm/vm.h"

struct virtio_devices {
	unsigned int nr;
	struct virtio_dev *devs[CONFIG_MAX_DISKS + CONFIG_MAX_NETS + 2];
};

int virtio_devices_create(struct vm *vm)
{
	const struct config *cfg = vm->cfg;
	struct virtio_devices *list;
	int ret;

	list = calloc(1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	vm->virtio = list;
	/* On failure the devices made so far stay registered: vm_destroy() frees them
	 * with everything else. Each creator has printed what went wrong. */
	if (cfg->console.device == CONSOLE_DEV_VIRTIO) {
		ret = virtio_console_create(vm, vm->console_out, &list->devs[list->nr]);
		if (ret < 0)
			return ret;
		vm->console_dev = list->devs[list->nr++];
	}
	for (unsigned int i = 0; i < cfg->nr_disks && i < CONFIG_MAX_DISKS; i++) {
		ret = virtio_blk_create(vm, &cfg->disks[i], &list->devs[list->nr]);
		if (ret < 0)
			return ret;
		list->nr++;
	}
	for (unsigned int i = 0; i < cfg->nr_nets && i < CONFIG_MAX_NETS; i++) {
		ret = virtio_net_create(vm, &cfg->nets[i], &list->devs[list->nr]);
		if (ret < 0)
			return ret;
		list->nr++;
	}
	if (cfg->rng) {
		ret = virtio_rng_create(vm, &list->devs[list->nr]);
		if (ret < 0)
			return ret;
		list->nr++;
	}
	return 0;
}

void virtio_devices_destroy(struct vm *vm)
{
	free(vm->virtio);
	vm->virtio = NULL;
}
