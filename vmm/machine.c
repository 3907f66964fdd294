/* The machine interface (machine.h): what devices may use of a VM. */
#include "vmm/machine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "vmm/log.h"

#define MACHINE_MAX_SLOTS 256

uint64_t machine_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int machine_init(struct machine *m)
{
	memset(m, 0, sizeof(*m));
	m->vm_fd = -1;
	m->mem.memfd = -1;
	m->stop_efd = -1;
	m->watch_ep = -1;
	pthread_mutex_init(&m->slot_lock, NULL);
	if (bus_init(&m->pio, "pio") < 0) {
		m->pio.name = NULL;
		return -ENOMEM;
	}
	if (bus_init(&m->mmio, "mmio") < 0) {
		m->mmio.name = NULL;
		return -ENOMEM;
	}
	m->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->stop_efd < 0)
		return -errno;
	m->watch_ep = epoll_create1(EPOLL_CLOEXEC);
	return m->watch_ep < 0 ? -errno : 0;
}

void machine_error(struct machine *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->last_err, sizeof(m->last_err), fmt, ap);
	va_end(ap);
	log_err("%s", m->last_err);
}

int machine_watch(struct machine *m, int fd, enum machine_watch kind, unsigned int slot)
{
	struct epoll_event ev = {.events = EPOLLIN,
				 .data.u64 = (uint64_t)(uint32_t)fd << 32 | kind << 8 | slot};

	return epoll_ctl(m->watch_ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

void machine_unwatch(struct machine *m, int fd)
{
	epoll_ctl(m->watch_ep, EPOLL_CTL_DEL, fd, NULL);
}

int machine_watched(struct machine *m, enum machine_watch *kind, unsigned int *slot)
{
	struct epoll_event ev;
	uint64_t v;

	if (epoll_wait(m->watch_ep, &ev, 1, 0) != 1)
		return -EAGAIN;
	if (read((int)(ev.data.u64 >> 32), &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	*kind = (enum machine_watch)((ev.data.u64 >> 8) & 0xff);
	*slot = ev.data.u64 & 0xff;
	return 0;
}

void machine_exit(struct machine *m)
{
	if (m->stop_efd >= 0)
		close(m->stop_efd);
	m->stop_efd = -1;
	if (m->watch_ep >= 0)
		close(m->watch_ep);
	m->watch_ep = -1;
	if (m->pio.name) {
		bus_destroy(&m->pio);
		m->pio.name = NULL;
	}
	if (m->mmio.name) {
		bus_destroy(&m->mmio);
		m->mmio.name = NULL;
	}
	pthread_mutex_destroy(&m->slot_lock);
}

bool machine_mark(struct machine *m, enum machine_mark mark)
{
	uint64_t zero = 0;

	return atomic_compare_exchange_strong(&m->stats.mark_ns[mark], &zero, machine_now_ns());
}

void machine_request_stop(struct machine *m, enum vm_stop why)
{
	int running = VM_RUNNING;
	uint64_t one = 1;

	if (!atomic_compare_exchange_strong(&m->stop, &running, (int)why))
		return;
	machine_mark(m, MARK_STOP);
	if (m->stop_efd >= 0 && write(m->stop_efd, &one, sizeof(one)) < 0)
		log_err("cannot wake the main loop: %m");
}

bool machine_thread_enter(struct machine *m, enum seccomp_thread kind, const char *who)
{
	int ret = m->filters ? seccomp_install(m->seccomp, kind) : 0;

	if (ret == 0)
		return true;
	log_err("%s: cannot install its seccomp filter: %s", who, strerror(-ret));
	machine_request_stop(m, VM_STOP_FAULT);
	return false;
}

int machine_memslot_add(struct machine *m, gpa_t gpa, uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region r = {
	    .guest_phys_addr = gpa, .memory_size = size, .userspace_addr = (uintptr_t)hva};
	int slot = -ENOSPC;

	pthread_mutex_lock(&m->slot_lock);
	for (int i = 0; i < MACHINE_MAX_SLOTS; i++) {
		if (m->used_slots[i / 64] & (1ULL << (i % 64)))
			continue;
		r.slot = (uint32_t)i;
		if (ioctl(m->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
			slot = -errno;
			break;
		}
		m->used_slots[i / 64] |= 1ULL << (i % 64);
		slot = i;
		break;
	}
	pthread_mutex_unlock(&m->slot_lock);
	return slot;
}

void machine_memslot_remove(struct machine *m, int slot)
{
	struct kvm_userspace_memory_region r = {.slot = (uint32_t)slot, .memory_size = 0};

	if (slot < 0 || slot >= MACHINE_MAX_SLOTS)
		return;
	pthread_mutex_lock(&m->slot_lock);
	if (ioctl(m->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) == 0)
		m->used_slots[slot / 64] &= ~(1ULL << (slot % 64));
	pthread_mutex_unlock(&m->slot_lock);
}

int machine_memslots_used(struct machine *m)
{
	int n = 0;

	pthread_mutex_lock(&m->slot_lock);
	for (int i = 0; i < 4; i++)
		n += __builtin_popcountll(m->used_slots[i]);
	pthread_mutex_unlock(&m->slot_lock);
	return n;
}
