/* The control API's commands (api_cmds.c), run by the main thread against the VM.
 * README's "Control API" section documents each one, its arguments and its replies. */
#ifndef MINIVMM_API_CMDS_H
#define MINIVMM_API_CMDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/api.h"
#include "vmm/machine.h"

struct vm;
struct config;
struct migration;

/* What the commands act on. main.c owns it: vm changes at each guest reboot, and cfg
 * is what a reboot rebuilds the VM from, so add-device and remove-device change it
 * too (a hot-added device is still there after a reboot). */
struct api_ctx {
	struct vm *vm; /* NULL between two VMs */
	struct config *cfg;
	struct api *api;       /* for events */
	struct migration *mig; /* NULL without the API */
	bool paused;
	uint64_t t_boot; /* CLOCK_MONOTONIC ns when this VM was created */
};

/* A device's watched event (machine_watch): the host wants it back (the guest is asked
 * to eject it), or it reported an error (the VM is paused). */
void api_cmds_watched(struct api_ctx *c, enum machine_watch kind, unsigned int slot);
/* The guest ejected the devices in these slots (bit per slot): take them away. */
void api_cmds_ejected(struct api_ctx *c, uint32_t slots);

/* The migration commands and info's migration part (api_migrate.c). api_migrating
 * fails err (and returns true) while a migration runs: commands that change the
 * machine refuse then. */
json_t *api_cmd_send_migration(void *ctx, json_t *args, struct api_error *err);
json_t *api_cmd_cancel_migration(void *ctx, json_t *args, struct api_error *err);
json_t *api_migration_json(struct api_ctx *c);
bool api_migrating(struct api_ctx *c, struct api_error *err);

extern const struct api_command api_commands[];
extern const size_t api_nr_commands;

#endif
