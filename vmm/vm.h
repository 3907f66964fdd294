/* struct vm: everything one virtual machine owns. No globals: every function that
 * touches VM state takes a struct vm *.
 *
 * Threads: one per vCPU (vcpu.h) plus the main thread, which runs the event loop
 * (console input, signals, stop requests). vCPU threads never stop the VM themselves:
 * they call vm_request_stop(), and the main thread kicks and joins them. */
#ifndef MINIVMM_VM_H
#define MINIVMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "vmm/bus.h"
#include "vmm/config.h"
#include "vmm/irq.h"
#include "vmm/mem.h"

/* Why the VM stopped; the first request wins. */
enum vm_stop {
	VM_RUNNING = 0,
	VM_STOP_POWEROFF, /* guest powered off: exit 0 */
	VM_STOP_RESET,	  /* guest reboot: restart or exit 0, per on_reboot */
	VM_STOP_TRIPLE,	  /* triple fault: a reset on a PC; restart, or exit 3 (main.c) */
	VM_STOP_FAULT,	  /* internal error, unhandled exit: exit 3 */
	VM_STOP_SIGINT,	  /* exit 130 */
	VM_STOP_SIGTERM,  /* exit 143 */
};

struct vcpu; /* vmm/vcpu.h */
struct serial;
struct boot_files;
struct pci_host;
struct virtio_dev;
struct virtio_devices; /* private to devices/virtio_devices.c */
struct arch_vm;	       /* private to arch/ARCH (see arch/arch.h) */

#define VM_MAX_DEVICES 8

struct vm {
	const struct config *cfg;
	int kvm_fd, vm_fd;
	int run_size; /* KVM_GET_VCPU_MMAP_SIZE */
	struct guest_mem mem;
	struct bus pio, mmio;
	struct vcpu *vcpus;
	unsigned int nr_vcpus;

	const struct boot_files *boot; /* kernel and initrd, owned by main */
	struct serial *serial;
	void *dev_state[VM_MAX_DEVICES]; /* per vm_devices[] entry in vm.c */
	size_t nr_devs;			 /* how many were created */
	int buses_ready;
	struct arch_vm *arch;		/* arch private state */
	struct irq_state irq;		/* GSI routes (vmm/irq.c) */
	struct pci_host *pci;		/* devices/pci.c; NULL until pci_init */
	struct virtio_devices *virtio;	/* devices/virtio_devices.c */
	struct virtio_dev *console_dev; /* virtio console, when [console] device = virtio */
	void *vfio;			/* vfio/ */
	/* KVM memory slots: 0..nr_ram_slots-1 are guest RAM; the rest are handed out by
	 * vm_memslot_add (VFIO BARs). used_slots is a bitmap, under slot_lock. */
	pthread_mutex_t slot_lock;
	uint64_t used_slots[4];
	int console_out; /* fd the serial port writes to, -1 for none */

	/* Test hook (env MINIVMM_SECCOMP_TEST=vcpu): vCPU 0 makes a forbidden system call
	 * once its filter is in place, to prove the filter is live. NULL normally. */
	const char *seccomp_test;
	atomic_int stop; /* enum vm_stop */
	int stop_efd;	 /* eventfd: wakes the main loop when stop is set */

	/* Boot timing, CLOCK_MONOTONIC ns; t_start is the process start. */
	uint64_t t_start;
	_Atomic uint64_t t_first_run, t_userspace;

	/* Exit counters for benchmarks, logged by the stats mark (devices/power.c): every
	 * return from KVM_RUN, and those for port I/O and MMIO. Relaxed atomic adds: they
	 * order nothing, and the reader only wants running totals. */
	_Atomic uint64_t exits, exits_io, exits_mmio;
	atomic_uint stats_marks; /* stats marks seen so far */
	bool stats_log;		 /* MINIVMM_STATS is set: the stats mark logs */
};

/* Creates the VM (KVM fds, memory, devices, kernel loaded, vCPUs created but not
 * running). boot must outlive the VM. On failure returns -errno after printing one message naming
 * the cause and the fix; *vm is then fully torn down. console_out is borrowed, not closed. */
int vm_create(struct vm *vm, const struct config *cfg, const struct boot_files *boot,
	      int console_out, uint64_t t_start);
/* Starts one thread per vCPU. */
int vm_start(struct vm *vm);
/* Asks the VM to stop for why (first caller wins) and wakes the main loop. Safe from
 * any thread, including vCPU threads and device handlers. */
void vm_request_stop(struct vm *vm, enum vm_stop why);
/* Kicks every vCPU out of KVM_RUN and joins the threads (main thread only). */
void vm_stop_vcpus(struct vm *vm);
/* Releases everything vm_create made. Idempotent. */
void vm_destroy(struct vm *vm);

uint64_t vm_now_ns(void);

/* Maps host memory at hva into the guest at gpa (size and both addresses page aligned)
 * as a new KVM memory slot; returns the slot number or -errno. Thread-safe. */
int vm_memslot_add(struct vm *vm, gpa_t gpa, uint64_t size, void *hva);
void vm_memslot_remove(struct vm *vm, int slot);

#endif
