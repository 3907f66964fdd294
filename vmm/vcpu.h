/* One vCPU: its KVM fd and run area, and the thread that runs it (vcpu.c). vm.c makes
 * them, starts, pauses and stops their threads; arch/ and the stats mark read their
 * fields. A vCPU sees the machine interface (vmm/machine.h) only, as devices do.
 * struct vm holds only a pointer to an array of these, so nothing that just passes a
 * struct vm around needs this header. */
#ifndef MINIVMM_VCPU_H
#define MINIVMM_VCPU_H

#include <pthread.h>
#include <stdbool.h>

#include "vmm/exitprof.h"
#include "vmm/kvmstats.h"

struct machine;
struct kvm_run;

/* Pausing: the VM's vCPUs park outside KVM_RUN, so that no vCPU is inside any device
 * while one is removed or added (vm_device_remove), and none runs while the VM is
 * saved. One per VM, shared by its vCPUs. */
struct vcpu_pause {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool requested;
	unsigned int parked;
	unsigned int depth; /* pauses not resumed yet: the API's pause, a device change */
};

struct vcpu {
	struct machine *mach;
	struct vcpu_pause *pause;
	unsigned int id;
	int fd;
	int run_size; /* KVM_GET_VCPU_MMAP_SIZE */
	struct kvm_run *run;
	pthread_t thread;
	int started;
	int done;		/* the thread has returned (under pause->lock) */
	struct kvm_stats stats; /* with MINIVMM_STATS only; fd -1 otherwise */
	struct exitprof prof;	/* with MINIVMM_STATS only; logged by vcpu_destroy */
	/* Test hook (env MINIVMM_SECCOMP_TEST=vcpu): vCPU 0 makes a forbidden system call
	 * once its filter is in place, to prove the filter is live. NULL normally. */
	const char *seccomp_test;
};

/* Creates vCPU id on m (KVM fd and run area; the caller then sets its registers
 * through arch_vcpu_init); on failure returns -errno with nothing left to free. */
int vcpu_create(struct machine *m, int run_size, struct vcpu_pause *pause, struct vcpu *vcpu,
		unsigned int id);
/* Releases what vcpu_create made; the thread must have been joined. Idempotent. */
void vcpu_destroy(struct vcpu *vcpu);
/* The thread body (arg: the struct vcpu): KVM_RUN until the VM is asked to stop. It
 * never stops the VM itself, only asks (machine_request_stop()). */
void *vcpu_thread(void *arg);
/* Installs the handler of the signal that vcpu_kick sends (SIGUSR1), which does
 * nothing but interrupt KVM_RUN. Before the first vCPU thread starts (vm_start). */
int vcpu_kick_setup(void);
/* Gets the thread out of KVM_RUN, now or at its next entry; any thread, once
 * vcpu_create() succeeded, whether or not the thread has started. */
void vcpu_kick(struct vcpu *vcpu);

void vcpu_pause_init(struct vcpu_pause *p);
void vcpu_pause_destroy(struct vcpu_pause *p);
/* Parks the n vCPUs (those whose thread has started) outside KVM_RUN and returns once
 * all are parked or gone; vcpus_resume lets them run again. Pauses nest: the vCPUs run
 * again at the resume that matches the first pause (a device added while the API has
 * the VM paused leaves it paused). Main thread only; a stop request while paused still
 * ends the threads (vm_stop_vcpus resumes them whatever the depth). */
void vcpus_pause(struct vcpu *vcpus, unsigned int n);
void vcpus_resume(struct vcpu *vcpus, unsigned int n);
/* Lets them run whatever the depth (before a stop). */
void vcpus_resume_all(struct vcpu *vcpus, unsigned int n);

#endif
