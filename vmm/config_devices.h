/* config_devices.c: [rng], [vfio], [security] and the devices ([disk.NAME], [net.NAME],
 * [vfio.NAME]) for config.c, which reads the file and hands their sections and keys
 * here. Nothing else includes this: the interface is vmm/config.h. */
#ifndef MINIVMM_CONFIG_DEVICES_H
#define MINIVMM_CONFIG_DEVICES_H

#include "vmm/config_parse.h"

#include <stdio.h>

/* Enters [rng], [vfio] or the section of the device named name, which is made (from
 * c->line or c->arg) if it is new; sets c->dev. */
int config_enter_device(struct ctx *c, enum section sec, const char *name);

/* Applies key = v of the section entered last. */
int config_set_device(struct ctx *c, enum key id, const char *key, const char *v);

/* After the file and the overrides: required keys, one owner per host device. */
int config_check_devices(struct ctx *c);

/* [rng], [vfio], [security], then [disk.*], [net.*], [vfio.*] in the order they were given. */
void config_print_devices(const struct config *cfg, FILE *f);

#endif
