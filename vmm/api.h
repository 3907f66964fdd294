/* The control API's transport: a Unix socket carrying one JSON object per line, in the
 * shape of QEMU's QMP.
 *
 *   minivmm -> client on connect  {"greeting": {"version": "0.1.0", "commands": [...]}}
 *   client -> minivmm             {"execute": "info", "arguments": {...}, "id": ANY}
 *   minivmm -> client             {"return": {...}, "id": ANY}
 *                              or {"error": {"class": "...", "desc": "..."}, "id": ANY}
 *   minivmm -> every client       {"event": "DEVICE_DELETED", "data": {...},
 *                                  "timestamp": {"seconds": N, "microseconds": N}}
 *
 * Threads: the API thread owns the socket. It accepts clients (the socket is 0600 and
 * a peer whose uid is not ours is refused), reads and frames their lines, parses and
 * checks each request against the command's schema, and writes replies and events;
 * all of that on untrusted input, under its own seccomp filter. A request that passes
 * is queued for the main thread, which runs it against the VM (api_service) and
 * queues the reply. Every fd is non-blocking and every buffer bounded: a client that
 * sends garbage, floods, stops reading or vanishes mid-line costs only itself. */
#ifndef MINIVMM_API_H
#define MINIVMM_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "vmm/config.h"

#define API_MAX_LINE	(64 * 1024)   /* one request, newline included */
#define API_MAX_OUTPUT	(1024 * 1024) /* queued for one client that does not read */
#define API_MAX_CLIENTS 8

struct api;

/* Error classes of an error reply (README lists when each is used). */
#define API_ERR_GENERIC	 "GenericError"
#define API_ERR_SYNTAX	 "SyntaxError"	   /* not JSON, or not a request object */
#define API_ERR_NOCMD	 "CommandNotFound" /* execute names no command */
#define API_ERR_ARGS	 "InvalidArguments"
#define API_ERR_NODEV	 "DeviceNotFound"
#define API_ERR_STATE	 "InvalidState" /* e.g. resume when not paused */
#define API_ERR_TOO_LONG "TooLong"	/* a line over API_MAX_LINE */

struct api_error {
	const char *cls;
	char desc[512];
};

/* A command: its name, the schema its "arguments" must match exactly, and what the
 * main thread runs. The schema is "KEY:T KEY:T? ..." with T s (string), b (boolean)
 * or i (integer) and ? for an optional key; any other key is refused (NULL: it takes
 * none). run returns the "return" value (NULL for {}) or NULL with err->cls set. */
struct api_command {
	const char *name;
	const char *args;
	json_t *(*run)(void *ctx, json_t *args, struct api_error *err);
};

/* The parse and checks of one request line, as the API thread makes them; pure, for
 * the fuzz target. On success fills *cmd, *args (a new reference, or NULL) and *id (a
 * new reference, or NULL) and returns 0; else -EINVAL with err set (*id set when the
 * request had a readable one, so that the error reply can carry it). */
int api_parse(const char *line, size_t len, const struct api_command *cmds, size_t n,
	      const struct api_command **cmd, json_t **args, json_t **id, struct api_error *err);

/* Creates the socket at path (an existing socket file there is replaced; any other
 * file is refused) and starts the API thread, which installs its seccomp filter in
 * mode before it reads anything. Call before the main thread's filter (which does not
 * allow sockets). Returns 0 or -errno after one message. */
int api_open(struct api **out, const char *path, const struct api_command *cmds, size_t n,
	     enum seccomp_mode mode);
/* Stops the thread and closes every client. The socket file stays (the main thread's
 * filter has no unlink, and a filter that allowed it could delete any of the user's
 * files); the next minivmm on that path replaces it, and a client connecting meanwhile
 * gets ECONNREFUSED. NULL is fine. */
void api_close(struct api *api);
/* Readable when requests wait for the main thread; api_service runs them. */
int api_wake_fd(const struct api *api);
void api_service(struct api *api, void *ctx);
/* Sends event name with data (stolen; NULL for none) to every client. Any thread. */
void api_event(struct api *api, const char *name, json_t *data);

#endif
