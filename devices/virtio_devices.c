/* The virtio kinds of the device model: each creates one virtio PCI function through
 * its backend's constructor and destroys it through virtio_dev_destroy(). */
#include "devices/virtio_devices.h"

#include "devices/virtio_backends.h"
#include "devices/virtio_pci.h"

static void virtio_device_destroy(void *state)
{
	virtio_dev_destroy(state);
}

static int virtio_device_save(void *state, struct device_stream *out)
{
	return virtio_dev_save(state, out);
}

static int virtio_device_load(void *state, struct device_stream *in)
{
	return virtio_dev_load(state, in);
}

static void virtio_device_thaw(void *state)
{
	virtio_dev_thaw(state);
}

static int blk_activate(void *state, bool on)
{
	return virtio_blk_activate(state, on);
}

static struct pci_dev *virtio_device_pci(void *state)
{
	return &((struct virtio_dev *)state)->pci;
}

static int console_create(struct machine *mach, const struct device_spec *spec, void **state)
{
	return virtio_console_create(mach, spec->fd, (struct virtio_dev **)state);
}

static int blk_create(struct machine *mach, const struct device_spec *spec, void **state)
{
	return virtio_blk_create(mach, spec->conf, (struct virtio_dev **)state);
}

static int net_create(struct machine *mach, const struct device_spec *spec, void **state)
{
	return virtio_net_create(mach, spec->conf, (struct virtio_dev **)state);
}

static int rng_create(struct machine *mach, const struct device_spec *spec, void **state)
{
	(void)spec;
	return virtio_rng_create(mach, (struct virtio_dev **)state);
}

const struct device_ops virtio_console_device_ops = {.kind = "virtio-console",
						     .pci = true,
						     .create = console_create,
						     .destroy = virtio_device_destroy,
						     .pci_dev = virtio_device_pci,
						     .save = virtio_device_save,
						     .load = virtio_device_load,
						     .thaw = virtio_device_thaw};
const struct device_ops virtio_blk_device_ops = {.kind = "virtio-blk",
						 .pci = true,
						 .hotplug = true,
						 .create = blk_create,
						 .destroy = virtio_device_destroy,
						 .pci_dev = virtio_device_pci,
						 .save = virtio_device_save,
						 .load = virtio_device_load,
						 .thaw = virtio_device_thaw,
						 .activate = blk_activate};
const struct device_ops virtio_net_device_ops = {.kind = "virtio-net",
						 .pci = true,
						 .create = net_create,
						 .destroy = virtio_device_destroy,
						 .pci_dev = virtio_device_pci,
						 .save = virtio_device_save,
						 .load = virtio_device_load,
						 .thaw = virtio_device_thaw};
const struct device_ops virtio_rng_device_ops = {.kind = "virtio-rng",
						 .pci = true,
						 .create = rng_create,
						 .destroy = virtio_device_destroy,
						 .pci_dev = virtio_device_pci,
						 .save = virtio_device_save,
						 .load = virtio_device_load,
						 .thaw = virtio_device_thaw};
