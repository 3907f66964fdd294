/* The machine interface: everything a device may use of the virtual machine, and
 * nothing else. Devices (devices/, vfio/) program against struct machine; only vmm/
 * and arch/ see struct vm (vmm/vm.h), which embeds one.
 *
 * What a device gets:
 *   guest memory   mem, through mem_gpa_to_hva() and the helpers in vmm/mem.h only
 *   PIO and MMIO   pio, mmio: bus_register / bus_unregister (vmm/bus.h)
 *   PCI            pci: pci_register / pci_unregister (devices/pci.h)
 *   interrupts     irq: irq_line, MSI routes and irqfds (vmm/irq.h)
 *   KVM            vm_fd, for KVM_IOEVENTFD and the KVM-VFIO device only
 *   memslots       machine_memslot_add / machine_memslot_remove
 *   stop           machine_request_stop: the VM stops (poweroff, reset, fault)
 *   its threads    machine_thread_enter: the seccomp filter for its kind
 *   benchmarks     stats: exit counters and boot times (the power device's marks)
 *
 * Threads: any thread may call these; buses, the GSI table and memslots lock inside. */
#ifndef MINIVMM_MACHINE_H
#define MINIVMM_MACHINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/config.h"
#include "vmm/irq.h"
#include "vmm/mem.h"
#include "vmm/seccomp.h"

/* Why the VM stopped; the first request wins. */
enum vm_stop {
	VM_RUNNING = 0,
	VM_STOP_POWEROFF,	/* guest powered off: exit 0 */
	VM_STOP_RESET,		/* guest reboot: restart or exit 0, per on_reboot */
	VM_STOP_TRIPLE,		/* triple fault: a reset on a PC; restart, or exit 3 (main.c) */
	VM_STOP_FAULT,		/* internal error, unhandled exit: exit 3 */
	VM_STOP_SIGINT,		/* exit 130 */
	VM_STOP_SIGTERM,	/* exit 143 */
	VM_STOP_MIGRATED,	/* migrated away, the destination confirmed: exit 0 */
	VM_STOP_MIGRATE_UNSURE, /* handed over, no confirmation: stopped, exit 5 (main.c) */
};

struct pci_host;
struct machine;

/* Exit counters and boot times for benchmarks. The counters are relaxed atomic adds:
 * they order nothing, and the reader only wants running totals. */
/* The boot cycle's timeline (machine_mark): where a start's time goes, logged at exit. */
enum machine_mark {
	MARK_MEMORY,	   /* guest RAM allocated (passthrough populates it with the devices) */
	MARK_DEVICES,	   /* every device created */
	MARK_LOADED,	   /* kernel, initrd and firmware tables in guest RAM */
	MARK_FIRST_RUN,	   /* vCPU 0's first KVM_RUN */
	MARK_FIRST_OUTPUT, /* the guest's first console byte (serial or virtio) */
	MARK_USERSPACE,	   /* the guest's init wrote the boot mark (port 0x5fe) */
	MARK_STOP,	   /* a stop was requested (power-off, reset, signal, fault) */
	MARK_COUNT
};

struct machine_stats {
	_Atomic uint64_t exits, exits_io, exits_mmio;
	uint64_t t_start; /* CLOCK_MONOTONIC ns of the process start (or restart) */
	_Atomic uint64_t mark_ns[MARK_COUNT]; /* when each mark was first reached; 0: not */
	atomic_uint marks;		      /* stats marks seen so far */
	bool log;			      /* MINIVMM_STATS is set: the stats mark logs */
	/* Adds every vCPU's KVM binary stats into sum (vmm/kvmstats.h); set by vm.c. */
	void (*kvm_sum)(struct machine *m, uint64_t *sum);
};

struct machine {
	int vm_fd;
	struct guest_mem mem;
	struct bus pio, mmio;
	struct irq_state irq; /* GSI routes (vmm/irq.c) */
	struct pci_host *pci; /* devices/pci.c; NULL until pci_init */
	bool filters;	      /* device threads install seccomp (false in unit tests) */
	bool incoming;	      /* made for an incoming migration: devices wait for activate */
	/* PCI slots (devices/pci.c's pci_register with slot -1): the one the device being
	 * created takes (its config pins it; 0: the first free one), and those that the
	 * config pins for others, which the first free one skips. Main thread. */
	unsigned int pci_slot_next;
	uint32_t pci_pinned;
	enum seccomp_mode seccomp;
	atomic_int stop; /* enum vm_stop */
	int stop_efd;	 /* eventfd: wakes the main loop when stop is set */
	struct machine_stats stats;
	/* Device events for the main thread (machine_watch): an epoll set it polls. */
	int watch_ep;
	/* The last message of a device that could not be created (machine_error), so that
	 * the control API can return it; main thread only. */
	char last_err[512];
	/* KVM memory slots: 0..nr_ram_slots-1 are guest RAM; the rest are handed out by
	 * machine_memslot_add (VFIO BARs). used_slots is a bitmap, under slot_lock. */
	pthread_mutex_t slot_lock;
	uint64_t used_slots[4];
};

/* Sets up the parts that need no KVM (buses, locks, stop eventfd), vm_fd -1. Returns
 * 0 or -errno; machine_exit undoes it (and is fine after a failure). */
int machine_init(struct machine *m);
void machine_exit(struct machine *m);

/* Asks the VM to stop for why (first caller wins) and wakes the main loop. Safe from
 * any thread, including vCPU threads and device handlers. */
void machine_request_stop(struct machine *m, enum vm_stop why);

/* For a device thread's first line: installs the seccomp filter for kind; on failure
 * logs it for who, asks the VM to stop and returns false (the thread should return). */
bool machine_thread_enter(struct machine *m, enum seccomp_thread kind, const char *who);

/* Maps host memory at hva into the guest at gpa (size and both addresses page aligned)
 * as a new KVM memory slot; returns the slot number or -errno. Thread-safe. */
int machine_memslot_add(struct machine *m, gpa_t gpa, uint64_t size, void *hva);
void machine_memslot_remove(struct machine *m, int slot);
/* Slots in use (guest RAM included), for tests that count what a device gave back. */
int machine_memslots_used(struct machine *m);

/* Device events the main thread acts on, not a device thread: an eventfd that a device
 * (VFIO) signals when the host wants the device back (MACHINE_WATCH_RELEASE) or it
 * reports an error (MACHINE_WATCH_ERROR), for the device in PCI slot. Main thread.
 * machine_watched reads one: the fd is drained, kind and slot returned; -EAGAIN when
 * none is pending. */
enum machine_watch { MACHINE_WATCH_RELEASE, MACHINE_WATCH_ERROR };
int machine_watch(struct machine *m, int fd, enum machine_watch kind, unsigned int slot);
void machine_unwatch(struct machine *m, int fd);
int machine_watched(struct machine *m, enum machine_watch *kind, unsigned int *slot);

/* A device that cannot be created says why: logged, and kept in m->last_err. */
void machine_error(struct machine *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

uint64_t machine_now_ns(void);

/* Notes that the boot cycle reached mark (the first time only); true if this call did.
 * Any thread. */
bool machine_mark(struct machine *m, enum machine_mark mark);

#endif
