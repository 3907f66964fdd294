/* vCPU threads: KVM_RUN and the exit switch.
 *
 * A vCPU thread never tears anything down. Anything that ends the VM (a guest power-off,
 * a fault, an unhandled exit) becomes machine_request_stop(); the main thread then kicks
 * every vCPU (immediate_exit + SIGUSR1, see vcpu_kick) and joins it. A pause kicks the
 * same way; the thread then parks on the pause condition until resumed. */
#include "vmm/vcpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arch/arch.h"
#include "vmm/log.h"
#include "vmm/machine.h"

int vcpu_create(struct machine *m, int run_size, struct vcpu_pause *pause, struct vcpu *vcpu,
		unsigned int id)
{
	int ret;

	vcpu->mach = m;
	vcpu->pause = pause;
	vcpu->run_size = run_size;
	vcpu->id = id;
	vcpu->run = MAP_FAILED;
	vcpu->stats.fd = -1;
	vcpu->prof = (struct exitprof){0};
	vcpu->fd = ioctl(m->vm_fd, KVM_CREATE_VCPU, id);
	if (vcpu->fd < 0)
		return -errno;
	vcpu->run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		ret = -errno;
		goto err;
	}
	/* Benchmarks only; a kernel without binary stats logs zeros, not an error. */
	if (getenv("MINIVMM_STATS")) {
		kvm_stats_open(&vcpu->stats, vcpu->fd);
		exitprof_init(&vcpu->prof); /* out of memory: no profile, not an error */
	}
	return 0;
err:
	vcpu_destroy(vcpu);
	return ret;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run && vcpu->run != MAP_FAILED)
		munmap(vcpu->run, (size_t)vcpu->run_size);
	vcpu->run = NULL;
	if (vcpu->stats.fd >= 0) {
		uint64_t sum[KVM_STAT_COUNT] = {0};
		char buf[512];

		kvm_stats_add(&vcpu->stats, sum);
		log_info("vcpu %u: KVM's counters at teardown: %s", vcpu->id,
			 kvm_stats_format(sum, buf, sizeof(buf)));
	}
	kvm_stats_close(&vcpu->stats);
	exitprof_report(&vcpu->prof, vcpu->id);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->fd = -1;
}

static void vcpu_on_kick(int sig)
{
	(void)sig; /* only interrupts KVM_RUN; vcpu_kick set immediate_exit */
}

int vcpu_kick_setup(void)
{
	struct sigaction sa = {.sa_handler = vcpu_on_kick};

	sigemptyset(&sa.sa_mask);
	return sigaction(SIGUSR1, &sa, NULL) < 0 ? -errno : 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	/* immediate_exit makes the next (or a restarted) KVM_RUN return at once; the
	 * signal interrupts one that is already running. */
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (vcpu->started)
		pthread_kill(vcpu->thread, SIGUSR1);
}

static void vcpu_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	/* A string instruction (rep outs/ins) arrives as count items of size bytes. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
		bus_access(&vcpu->mach->pio, run->io.port, data, run->io.size, is_write);
}

/* Returns false when the vCPU must stop. */
static bool vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct machine *m = vcpu->mach;

	/* Counted before dispatch, so a stats mark's own exit is in the totals it logs.
	 * Relaxed: this is the hot path and the counters order nothing. */
	atomic_fetch_add_explicit(&m->stats.exits, 1, memory_order_relaxed);
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		atomic_fetch_add_explicit(&m->stats.exits_io, 1, memory_order_relaxed);
		exitprof_count(&vcpu->prof, run->io.port, false,
			       run->io.direction == KVM_EXIT_IO_OUT);
		vcpu_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		atomic_fetch_add_explicit(&m->stats.exits_mmio, 1, memory_order_relaxed);
		exitprof_count(&vcpu->prof, run->mmio.phys_addr, true, run->mmio.is_write);
		bus_access(&m->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
			   run->mmio.is_write);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			machine_request_stop(m, VM_STOP_POWEROFF);
			return false;
		case KVM_SYSTEM_EVENT_RESET:
			machine_request_stop(m, VM_STOP_RESET);
			return false;
		default:
			log_err("vcpu %u: guest crash event %u", vcpu->id, run->system_event.type);
			machine_request_stop(m, VM_STOP_FAULT);
			return false;
		}
	case KVM_EXIT_SHUTDOWN:
		/* A PC's chipset turns the CPU's shutdown cycle into a reset; main.c decides
		 * what that means for us (restart, or exit 3) and logs it, rate-limited. */
		machine_request_stop(m, VM_STOP_TRIPLE);
		return false;
	case KVM_EXIT_FAIL_ENTRY: {
		char hint[256];

		log_err("vcpu %u: KVM entry failed, hardware reason 0x%llx%s", vcpu->id,
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason,
			arch_vcpu_fail_entry_hint(vcpu,
						  run->fail_entry.hardware_entry_failure_reason,
						  hint, sizeof(hint)));
		machine_request_stop(m, VM_STOP_FAULT);
		return false;
	}
	case KVM_EXIT_INTERNAL_ERROR:
		log_err("vcpu %u: KVM internal error, suberror %u", vcpu->id,
			run->internal.suberror);
		machine_request_stop(m, VM_STOP_FAULT);
		return false;
	default:
		log_err("vcpu %u: unhandled KVM exit reason %u", vcpu->id, run->exit_reason);
		machine_request_stop(m, VM_STOP_FAULT);
		return false;
	}
}

/* Proves the filter is live: a system call no thread may make (see seccomp.h). */
static void vcpu_seccomp_test(struct vcpu *vcpu)
{
	long ret;

	if (!vcpu->seccomp_test || strcmp(vcpu->seccomp_test, "vcpu") || vcpu->id)
		return;
	ret = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
	log_info("seccomp test: vcpu 0 called socket() and lives on (returned %ld)", ret);
	if (ret >= 0)
		close((int)ret);
}

/* Waits while a pause is requested. The kick that asked for it left immediate_exit set;
 * it is cleared before the caller looks at the stop flag again, so a stop requested
 * meanwhile (flag first, then kick) is never lost. */
static void vcpu_park(struct vcpu *vcpu)
{
	struct vcpu_pause *p = vcpu->pause;

	pthread_mutex_lock(&p->lock);
	p->parked++;
	pthread_cond_broadcast(&p->cond);
	while (p->requested && atomic_load(&vcpu->mach->stop) == VM_RUNNING)
		pthread_cond_wait(&p->cond, &p->lock);
	p->parked--;
	pthread_mutex_unlock(&p->lock);
	__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
}

void vcpu_pause_init(struct vcpu_pause *p)
{
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->requested = false;
	p->parked = 0;
	p->depth = 0;
}

void vcpu_pause_destroy(struct vcpu_pause *p)
{
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}

static unsigned int vcpus_running(const struct vcpu *vcpus, unsigned int n)
{
	unsigned int r = 0;

	for (unsigned int i = 0; i < n; i++)
		r += vcpus[i].started && !vcpus[i].done;
	return r;
}

void vcpus_pause(struct vcpu *vcpus, unsigned int n)
{
	struct vcpu_pause *p;

	if (n == 0)
		return;
	p = vcpus[0].pause;
	pthread_mutex_lock(&p->lock);
	if (p->depth++ > 0) { /* already paused */
		pthread_mutex_unlock(&p->lock);
		return;
	}
	__atomic_store_n(&p->requested, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&p->lock);
	/* Only running threads: a kick leaves immediate_exit set, which only vcpu_park
	 * clears; one that has not started would spin on it once it does. */
	for (unsigned int i = 0; i < n; i++)
		if (vcpus[i].started && !__atomic_load_n(&vcpus[i].done, __ATOMIC_ACQUIRE))
			vcpu_kick(&vcpus[i]);
	pthread_mutex_lock(&p->lock);
	/* A thread that ended (a stop) broadcasts too, so this never waits for it. */
	while (p->parked < vcpus_running(vcpus, n))
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

void vcpus_resume(struct vcpu *vcpus, unsigned int n)
{
	struct vcpu_pause *p;

	if (n == 0)
		return;
	p = vcpus[0].pause;
	pthread_mutex_lock(&p->lock);
	if (p->depth > 0 && --p->depth == 0) {
		p->requested = false;
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
}

void vcpus_resume_all(struct vcpu *vcpus, unsigned int n)
{
	struct vcpu_pause *p;

	if (n == 0)
		return;
	p = vcpus[0].pause;
	pthread_mutex_lock(&p->lock);
	p->depth = 0;
	p->requested = false;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* The thread is over: tell a pause that waits for it not to. */
static void vcpu_done(struct vcpu *vcpu)
{
	struct vcpu_pause *p = vcpu->pause;

	pthread_mutex_lock(&p->lock);
	vcpu->done = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct machine *m = vcpu->mach;

	if (!machine_thread_enter(m, SECCOMP_THREAD_VCPU, "vcpu thread")) {
		vcpu_done(vcpu);
		return NULL;
	}
	vcpu_seccomp_test(vcpu);

	while (atomic_load(&m->stop) == VM_RUNNING) {
		if (__atomic_load_n(&vcpu->pause->requested, __ATOMIC_ACQUIRE)) {
			vcpu_park(vcpu);
			continue;
		}
		if (vcpu->id == 0)
			machine_mark(m, MARK_FIRST_RUN);
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_err("vcpu %u: KVM_RUN failed: %m", vcpu->id);
			machine_request_stop(m, VM_STOP_FAULT);
			break;
		}
		if (!vcpu_handle_exit(vcpu))
			break;
	}
	return NULL;
}
