/* One vCPU: its KVM fd and run area, and the thread that runs it (vcpu.c). vm.c makes
 * them, starts and stops their threads; arch/ and the stats mark read their fields.
 * struct vm holds only a pointer to an array of these, so nothing that just passes a
 * struct vm around needs this header. */
#ifndef MINIVMM_VCPU_H
#define MINIVMM_VCPU_H

#include <pthread.h>

#include "vmm/kvmstats.h"

struct vm;
struct kvm_run;

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	int started;
	struct kvm_stats stats; /* with MINIVMM_STATS only; fd -1 otherwise */
};

/* Creates vCPU id of vm (KVM fd, run area, arch registers); on failure returns -errno
 * with nothing left to free. */
int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int id);
/* Releases what vcpu_create made; the thread must have been joined. Idempotent. */
void vcpu_destroy(struct vcpu *vcpu);
/* The thread body (arg: the struct vcpu): KVM_RUN until the VM is asked to stop. It
 * never stops the VM itself, only asks (vm_request_stop()). */
void *vcpu_thread(void *arg);
/* Gets the thread out of KVM_RUN, now or at its next entry; any thread, once
 * vcpu_create() succeeded, whether or not the thread has started. */
void vcpu_kick(struct vcpu *vcpu);

#endif
