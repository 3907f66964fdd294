/* The list of devices a config describes, in creation order (vm_devices.c). */
#ifndef MINIVMM_VM_DEVICES_H
#define MINIVMM_VM_DEVICES_H

#include <stddef.h>

#include "devices/device.h"

/* Room for the platform devices, the vfio backend, and one per section. */
#define VM_MAX_DEVICES (8 + CONFIG_MAX_VFIO + CONFIG_MAX_DISKS + CONFIG_MAX_NETS)

/* Fills out[0..n) with one spec per device of cfg and returns n: serial, rtc, power,
 * hotplug (the registers of PCI hotplug and the power button), then the PCI functions in the order
 * they take slots (the vfio backend and its functions, the virtio console, disks, nets, rng).
 * console_out is the fd the serial port or virtio console writes to. out must stay where it is:
 * vfio-pci specs point at the vfio entry. Each state is NULL. */
size_t vm_devices_plan(const struct config *cfg, int console_out, struct device *out, size_t max);

#endif
