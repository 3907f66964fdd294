/* PCI hotplug and the power button without firmware: the register block that the
 * DSDT's GED0 (ACPI0013), PCI0.PCNT, PCI0.Sxx._EJ0 and PWRB use (layout.h has the
 * ports and the interrupt). A platform device of the device model, kind "hotplug".
 *
 * Adding a device: the VMM creates it, then hotplug_announce(slot): the slot's PCIU
 * bit and a GED interrupt; the OS (Linux's acpiphp) rescans the slot. Removing one:
 * hotplug_request_eject(slot): the PCID bit and an interrupt; the OS unbinds its
 * driver and runs the slot's _EJ0, which writes the slot number to EJCT; only then is
 * the device torn down, by the main thread, which hotplug_eject_fd() wakes and
 * hotplug_take_ejected() tells which slots. An OS that never ejects leaves the device
 * in place, its request pending.
 *
 * Threads: the registers are read and written by vCPU threads, the requests come from
 * the main thread; one mutex covers the state. */
#ifndef MINIVMM_HOTPLUG_H
#define MINIVMM_HOTPLUG_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/device.h"

struct hotplug;

extern const struct device_ops hotplug_device_ops;

void hotplug_announce(struct hotplug *h, unsigned int slot);
void hotplug_request_eject(struct hotplug *h, unsigned int slot);
/* True while an eject request for slot waits for the OS. */
bool hotplug_eject_pending(struct hotplug *h, unsigned int slot);
void hotplug_power_button(struct hotplug *h);
/* Readable when the OS has ejected a slot; the slots (bit per slot) since last call. */
int hotplug_eject_fd(const struct hotplug *h);
uint32_t hotplug_take_ejected(struct hotplug *h);

#endif
