/* Live migration between two minivmm processes (the API's send-migration, and
 * minivmm --incoming ADDR).
 *
 * Source. The migration thread (started at launch, before the main thread's seccomp
 * filter, with its own: sockets and KVM_GET_DIRTY_LOG) connects, sends the hello and
 * then guest RAM while the guest runs: round 0 sends every page that holds data,
 * each further round the pages written since the one before, as KVM's dirty log (the
 * vCPUs' writes, and KVM's own) and the VMM's (virtio buffers and used rings,
 * mem_dirty_hva) report them. When what is left would take no longer than the
 * downtime limit at the bandwidth just measured, or after the round limit, it asks the
 * main thread to pause the vCPUs and save the VM's state (devices frozen), sends the
 * last dirty pages and the state, and waits for the destination's READY. Then the
 * handover: the main thread flushes and unlocks the disks, the thread sends GO, and
 * the destination's ACK makes the source stop (exit 0). Before GO anything that goes
 * wrong (the destination refuses, dies, or stops answering for timeout seconds; a
 * cancel) ends the migration and the guest runs on here as before: devices thawed,
 * disks locked again, vCPUs resumed. After GO without an ACK nobody can know whether
 * the destination runs the guest; the source stops so that it never runs twice
 * (exit 5, README).
 *
 * Threads: the thread never touches the vCPUs or devices itself: it asks the main
 * thread (migrate_wake_fd readable -> migrate_service) and waits for the answer. The
 * main thread keeps serving the API meanwhile; commands that change the machine are
 * refused while a migration runs (migrate_active). */
#ifndef MINIVMM_MIGRATE_H
#define MINIVMM_MIGRATE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "vmm/config.h"

struct vm;
struct api;
struct migration;

enum migrate_state {
	MIGRATE_NONE,	   /* never started */
	MIGRATE_ACTIVE,	   /* pre-copy rounds */
	MIGRATE_STOPPED,   /* vCPUs paused: the last pages, the state, the handover */
	MIGRATE_COMPLETED, /* the destination runs the guest */
	MIGRATE_FAILED,	   /* the guest runs here as before; why says why */
	MIGRATE_RECEIVED,  /* destination: the guest came in by a migration from "to" */
};

/* What info and the log report. */
struct migrate_figures {
	enum migrate_state state;
	char to[128];
	unsigned int rounds;
	uint64_t bytes;	    /* sent so far */
	uint64_t pages;	    /* pages sent (zeros included) */
	uint64_t dirty;	    /* pages found dirty by the last round */
	double mbps;	    /* bandwidth of the last round, MiB/s */
	double total_ms;    /* start to end (or to now) */
	double downtime_ms; /* vCPUs paused here until the destination's ACK; received:
			     * from READY to the ACK (the handover as seen here) */
	char why[512];	    /* failed: the reason */
};

/* The limits of one migration ([migration] in the config; the API may override). */
struct migrate_params {
	char to[128]; /* "unix:PATH", "tcp:IP:PORT", or an absolute path */
	unsigned int downtime_ms, max_rounds, timeout_s;
};

/* Starts the migration thread with its seccomp filter (mode); before the main
 * thread's filter. 0 or -errno after one message. */
int migrate_open(struct migration **out, enum seccomp_mode mode);
/* Stops the thread (any migration must have ended: migrate_abandon). NULL is fine. */
void migrate_close(struct migration *mig);
/* Readable when the thread waits for the main thread: then call migrate_service. */
int migrate_wake_fd(const struct migration *mig);
/* Main thread: begins migrating vm to p->to. cfgtext is the effective config (taken).
 * Refuses (-EBUSY, -ENOTSUP: a device that cannot be migrated, named) with a message in
 * err; else 0 and the thread runs. */
int migrate_start(struct migration *mig, struct vm *vm, const struct migrate_params *p,
		  char *cfgtext, char *err, size_t errlen);
bool migrate_active(struct migration *mig);
/* Asks a running migration to stop (before the handover; after it, too late): false
 * when none runs. Main thread. */
bool migrate_cancel(struct migration *mig);
/* Main thread: does what the thread asks of the VM; sends MIGRATION_* events to api. */
void migrate_service(struct migration *mig, struct api *api);
/* Main thread, before the VM goes away: cancels a migration and waits for the thread. */
void migrate_abandon(struct migration *mig, struct api *api);
void migrate_figures(struct migration *mig, struct migrate_figures *out);
/* Destination: what info reports of the migration that brought the guest in. */
void migrate_set_received(struct migration *mig, const struct migrate_figures *f);

/* "unix:PATH", "tcp:IP:PORT" ([IPv6]), or a path starting with '/' -> a socket
 * address. Numeric addresses only: the migration thread cannot read /etc/hosts.
 * 0 or -EINVAL with a message. */
int migrate_parse_addr(const char *s, struct sockaddr_storage *sa, socklen_t *len, char *err,
		       size_t errlen);

/* Destination. Before the main thread's filter: listens on addr and accepts one
 * source (sfd: the signalfd, which ends the wait: -EINTR), then reads its hello: the
 * header is checked (version, arch) and the config text returned (malloc'd). Returns
 * the connection's fd, or -errno after one message. */
int migrate_accept(const char *addr, int sfd, unsigned int timeout_s, char **cfgtext, char *header,
		   size_t hlen);
/* Reads the rest of the stream into vm (made from that config with incoming set, not
 * started), answers READY, waits for GO, takes over the devices (activate) and
 * answers ACK: 0 with fig filled (state RECEIVED, bytes, pages, total_ms from the
 * first record, downtime_ms from READY), and the caller starts the vCPUs. Else -errno
 * after one message (the source has been told why when it can be). */
int migrate_receive(struct vm *vm, int fd, const char *header, unsigned int timeout_s,
		    struct migrate_figures *fig);
/* Logs why the destination cannot take the guest, tells the source, closes fd. */
void migrate_refuse(int fd, const char *why);

#endif
