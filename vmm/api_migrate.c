/* The control API's migration commands (send-migration, cancel-migration) and the
 * migration part of info; see api_cmds.h and README's "Live migration". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/api_cmds.h"
#include "vmm/migrate.h"
#include "vmm/vm.h"

static const char *const state_names[] = {"none",      "active", "stopped",
					  "completed", "failed", "received"};

json_t *api_migration_json(struct api_ctx *c)
{
	struct migrate_figures f;
	json_t *o;

	if (!c->mig)
		return NULL;
	migrate_figures(c->mig, &f);
	if (f.state == MIGRATE_NONE)
		return NULL;
	if (f.state == MIGRATE_RECEIVED) /* this VM is the destination of one */
		return json_pack("{s:s, s:s, s:I, s:I, s:f, s:f}", "state", "received", "from",
				 f.to, "bytes", (json_int_t)f.bytes, "pages", (json_int_t)f.pages,
				 "total-ms", f.total_ms, "handover-ms", f.downtime_ms);
	o = json_pack("{s:s, s:s, s:i, s:I, s:I, s:I, s:f, s:f}", "state", state_names[f.state],
		      "to", f.to, "rounds", (int)f.rounds, "bytes", (json_int_t)f.bytes, "pages",
		      (json_int_t)f.pages, "dirty-pages", (json_int_t)f.dirty, "mib-per-s", f.mbps,
		      "total-ms", f.total_ms);
	if (f.state == MIGRATE_COMPLETED)
		json_object_set_new(o, "downtime-ms", json_real(f.downtime_ms));
	if (f.state == MIGRATE_FAILED)
		json_object_set_new(o, "error", json_string(f.why));
	return o;
}

bool api_migrating(struct api_ctx *c, struct api_error *err)
{
	if (!migrate_active(c->mig))
		return false;
	err->cls = API_ERR_STATE;
	snprintf(err->desc, sizeof(err->desc),
		 "a migration is running; wait for it to end or cancel-migration");
	return true;
}

json_t *api_cmd_send_migration(void *ctx, json_t *args, struct api_error *err)
{
	struct api_ctx *c = ctx;
	struct migrate_params p = {.downtime_ms = c->cfg->migration.downtime_ms,
				   .max_rounds = c->cfg->migration.max_rounds,
				   .timeout_s = c->cfg->migration.timeout_s};
	json_int_t downtime = p.downtime_ms, rounds = p.max_rounds, timeout = p.timeout_s;
	const char *to = NULL;
	struct config *copy;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!c->vm) {
		err->cls = API_ERR_STATE;
		snprintf(err->desc, sizeof(err->desc), "no VM is running (it is being restarted)");
		return NULL;
	}
	json_unpack(args, "{s:s, s?I, s?I, s?I}", "to", &to, "downtime_ms", &downtime, "max_rounds",
		    &rounds, "timeout", &timeout);
	if (strlen(to) >= sizeof(p.to) || downtime < 1 || downtime > 60000 || rounds < 1 ||
	    rounds > 1000 || timeout < 1 || timeout > 3600) {
		err->cls = API_ERR_ARGS;
		snprintf(err->desc, sizeof(err->desc),
			 "to is at most %zu bytes, downtime_ms 1-60000, max_rounds 1-1000, "
			 "timeout 1-3600 (seconds)",
			 sizeof(p.to) - 1);
		return NULL;
	}
	strcpy(p.to, to);
	p.downtime_ms = (unsigned int)downtime;
	p.max_rounds = (unsigned int)rounds;
	p.timeout_s = (unsigned int)timeout;
	f = open_memstream(&text, &len);
	copy = malloc(sizeof(*copy));
	if (!f || !copy) {
		if (f)
			fclose(f);
		free(copy);
		err->cls = API_ERR_GENERIC;
		snprintf(err->desc, sizeof(err->desc), "out of memory");
		return NULL;
	}
	*copy = *c->cfg;
	vm_config_slots(c->vm, copy); /* the destination builds the same PCI layout */
	config_print(copy, f);
	fclose(f);
	free(copy);
	if (migrate_start(c->mig, c->vm, &p, text, err->desc, sizeof(err->desc)) < 0) {
		err->cls = API_ERR_GENERIC;
		return NULL;
	}
	return json_pack("{s:s}", "to", p.to);
}

json_t *api_cmd_cancel_migration(void *ctx, json_t *args, struct api_error *err)
{
	struct api_ctx *c = ctx;

	(void)args;
	if (!migrate_cancel(c->mig)) {
		err->cls = API_ERR_STATE;
		snprintf(err->desc, sizeof(err->desc), "no migration is running");
	}
	return NULL;
}
