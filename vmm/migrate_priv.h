/* What the two halves of the source side of live migration share (vmm/migrate.c: the
 * main thread's; vmm/migrate_send.c: the migration thread's). Private to them. */
#ifndef MINIVMM_MIGRATE_PRIV_H
#define MINIVMM_MIGRATE_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/stream.h"
#include "vmm/migrate.h"
#include "vmm/seccomp.h"
#include "vmm/snapshot.h"

/* What the thread asks of the main thread. */
enum mig_req {
	REQ_NONE,
	REQ_SWITCHOVER, /* pause the vCPUs, save the state into mig->state */
	REQ_HANDOVER,	/* flush and unlock the disks (activate off) */
	REQ_DONE,	/* the destination runs the guest: stop */
	REQ_UNSURE,	/* GO sent, no ACK: stop, never run twice */
	REQ_ABORT,	/* failed before GO: everything back as it was */
};

struct migration {
	pthread_t thread;
	enum seccomp_mode mode;
	int efd; /* the thread -> the main thread: a request waits */
	atomic_bool cancel;
	pthread_mutex_t lock; /* everything below */
	pthread_cond_t cond;
	bool quit, job;
	struct vm *vm;
	struct migrate_params p;
	char *cfgtext;
	char header[SNAPSHOT_HEADER_MAX];
	enum mig_req req;
	bool req_done;
	int req_ret;
	/* the main thread's undo list for REQ_ABORT */
	bool paused, saved, handed;
	struct device_stream state;
	uint64_t t_start, t_stop;
	uint64_t pages;	    /* the thread's count, copied into fig by fig_update */
	bool dma_untracked; /* a device's DMA is not logged: RAM goes whole at the end */
	uint64_t *kvm_bm;   /* KVM_GET_DIRTY_LOG's bitmap, as large as the largest region's */
	struct migrate_figures fig;
};

/* The migration thread's body (migrate_send.c): waits for jobs, runs each, and asks
 * the main thread (ask_main through efd) for what touches the VM. */
void *migrate_thread(void *arg);

#endif
