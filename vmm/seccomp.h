/* Per-thread system call filters (libseccomp).
 *
 * Each kind of thread gets an allow list; anything else kills the whole VMM
 * ([security] seccomp = on), or is allowed and logged by the kernel (log). Filters
 * stack: a thread inherits its creator's filter and adds its own, so vCPU and I/O
 * threads end up with the intersection of the main thread's list and theirs. ioctl is
 * allowed only for the exact requests each kind of thread makes (seccomp.c's tables),
 * fcntl only for FD and status flags (no F_SETOWN, F_SETSIG, O_ASYNC), mmap and
 * mprotect never with PROT_EXEC.
 *
 * log mode, for debugging a denial: the call is not made; the thread gets SIGSYS, whose
 * handler prints the system call's number and makes the call fail with ENOSYS. */
#ifndef MINIVMM_SECCOMP_H
#define MINIVMM_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>

#include "vmm/config.h"

enum seccomp_thread {
	SECCOMP_THREAD_MAIN,	 /* main thread: creates and tears down VMs, event loop */
	SECCOMP_THREAD_VCPU,	 /* KVM_RUN and the device emulation it calls */
	SECCOMP_THREAD_IO,	 /* virtio queue threads: blk, console, rng */
	SECCOMP_THREAD_IO_NET,	 /* virtio-net's queue and tap receive threads */
	SECCOMP_THREAD_IO_VFIO,	 /* a passed-through device's INTx unmask thread */
	SECCOMP_THREAD_IO_VHOST, /* a thread whose back end is a process on a Unix socket
				  * (vhost-user, passt's receive thread): its messages, and
				  * connecting again when it restarts */
	SECCOMP_THREAD_API,	 /* the control API's socket thread (started before the main
				  * thread's filter: this one is its whole filter) */
	SECCOMP_THREAD_MIGRATE,	 /* the migration thread: its socket and the dirty log (also
				  * started before the main thread's filter) */
	SECCOMP_THREAD_KINDS
};

/* An ioctl request a filter allows, and its name (for tests and messages). */
struct seccomp_ioctl {
	unsigned long nr;
	const char *name;
};
/* One table entry: the request and its name. */
#define SECCOMP_IOCTL(nr)                                                                          \
	{                                                                                          \
		nr, #nr                                                                            \
	}

/* The requests kind's own table allows; *table gets it, the count is returned. The
 * main thread's filter allows all three tables (its threads inherit it). */
size_t seccomp_ioctls(enum seccomp_thread kind, const struct seccomp_ioctl **table);

/* Installs the filter for the calling thread. Returns 0 or -errno (mode off: 0). */
int seccomp_install(enum seccomp_mode mode, enum seccomp_thread kind);

/* Installs the SIGSYS reporter for log mode (main thread, before any filter). */
int seccomp_report_setup(enum seccomp_mode mode);

#endif
