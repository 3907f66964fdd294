/* The one place that knows every device kind and which config section makes which. */
#include "vmm/vm_devices.h"

#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "devices/hotplug.h"
#include "devices/platform.h"
#include "devices/serial.h"
#include "devices/virtio_devices.h"
#include "vfio/vfio.h"

static struct device *add(struct device *out, size_t *n, size_t max, const struct device_ops *ops,
			  const char *kind, const char *name)
{
	struct device *d;

	if (*n >= max)
		return NULL;
	d = &out[(*n)++];
	memset(d, 0, sizeof(*d));
	d->spec.ops = ops;
	d->spec.fd = -1;
	if (name)
		snprintf(d->spec.name, sizeof(d->spec.name), "%s.%s", kind, name);
	else
		snprintf(d->spec.name, sizeof(d->spec.name), "%s", kind);
	return d;
}

size_t vm_devices_plan(const struct config *cfg, int console_out, struct device *out, size_t max)
{
	struct device *d, *vfio;
	size_t n = 0;

	d = add(out, &n, max, &serial_device_ops, "serial", NULL);
	if (d)
		d->spec.fd = console_out; /* early messages, whichever console the guest uses */
	/* The PC's port-I/O devices; arm64 powers off through PSCI and has no CMOS. */
	if (arch_platform()->pc_devices) {
		add(out, &n, max, &rtc_device_ops, "rtc", NULL);
		add(out, &n, max, &power_device_ops, "power", NULL);
		add(out, &n, max, &hotplug_device_ops, "hotplug", NULL);
	}
	if (cfg->nr_vfio > 0) {
		unsigned int host = 0; /* the backend's hosts skip unplugged sections */

		vfio = add(out, &n, max, &vfio_device_ops, "vfio", NULL);
		if (vfio)
			vfio->spec.conf = cfg;
		for (unsigned int i = 0; vfio && i < cfg->nr_vfio; i++) {
			if (cfg->vfio[i].unplugged)
				continue;
			d = add(out, &n, max, &vfio_pci_device_ops, "vfio", cfg->vfio[i].name);
			if (d) {
				d->spec.parent = vfio;
				d->spec.index = host;
				d->spec.slot = cfg->vfio[i].slot;
			}
			host++;
		}
	}
	if (cfg->console.device == CONSOLE_DEV_VIRTIO) {
		d = add(out, &n, max, &virtio_console_device_ops, "console", NULL);
		if (d) {
			d->spec.fd = console_out;
			d->spec.slot = cfg->console.slot;
		}
	}
	for (unsigned int i = 0; i < cfg->nr_disks && i < CONFIG_MAX_DISKS; i++) {
		if (cfg->disks[i].unplugged)
			continue;
		d = add(out, &n, max,
			cfg->disks[i].vhost_user[0] ? &vhost_user_blk_device_ops
						    : &virtio_blk_device_ops,
			"disk", cfg->disks[i].name);
		if (d) {
			d->spec.conf = &cfg->disks[i];
			d->spec.slot = cfg->disks[i].slot;
		}
	}
	for (unsigned int i = 0; i < cfg->nr_nets && i < CONFIG_MAX_NETS; i++) {
		d = add(out, &n, max, &virtio_net_device_ops, "net", cfg->nets[i].name);
		if (d) {
			d->spec.conf = &cfg->nets[i];
			d->spec.slot = cfg->nets[i].slot;
		}
	}
	if (cfg->rng && (d = add(out, &n, max, &virtio_rng_device_ops, "rng", NULL)))
		d->spec.slot = cfg->rng_slot;
	for (unsigned int i = 0; i < cfg->nr_fs && i < CONFIG_MAX_FS; i++) {
		d = add(out, &n, max, &vhost_user_fs_device_ops, "fs", cfg->fs[i].name);
		if (d) {
			d->spec.conf = &cfg->fs[i];
			d->spec.slot = cfg->fs[i].slot;
		}
	}
	return n;
}
