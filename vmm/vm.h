/* struct vm: everything one virtual machine owns. No globals: every function that
 * touches VM state takes a struct vm *. Devices never see this: they get the machine
 * interface (vmm/machine.h), which struct vm embeds as m.
 *
 * Threads: one per vCPU (vcpu.h) plus the main thread, which runs the event loop
 * (console input, signals, stop requests) and adds and removes devices. vCPU threads
 * never stop the VM themselves: they call machine_request_stop(), and the main thread
 * kicks and joins them. */
#ifndef MINIVMM_VM_H
#define MINIVMM_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/device.h"
#include "vmm/config.h"
#include "vmm/machine.h"
#include "vmm/vcpu.h"
#include "vmm/vm_devices.h"

struct serial;
struct boot_files;
struct virtio_dev;
struct arch_vm; /* private to arch/ARCH (see arch/arch.h) */

struct vm {
	struct machine m; /* what devices see */
	const struct config *cfg;
	int kvm_fd;
	int run_size; /* KVM_GET_VCPU_MMAP_SIZE */
	struct vcpu *vcpus;
	unsigned int nr_vcpus;
	struct vcpu_pause pause;

	const struct boot_files *boot; /* kernel and initrd, owned by main */
	/* The guest's physical address width (CPUID) and the size of the 64-bit PCI
	 * window as vm_create settled them ([vm] phys_bits, mmio64 and mmio64_hotplug). */
	unsigned int phys_bits;
	uint64_t mmio64;
	struct arch_vm *arch; /* arch private state */
	/* Every device, in creation order; an entry whose state is NULL is not on the
	 * machine (not created yet, or removed). */
	struct device devs[VM_MAX_DEVICES];
	size_t nr_devs;
	/* Where console input goes (main.c): the virtio console when there is one, else
	 * the serial port. States of entries in devs, or NULL. */
	struct serial *serial;
	struct virtio_dev *console_dev;
	int console_out; /* fd the consoles write to, -1 for none */
};

/* Whether cfg makes guest RAM a shareable memfd ([vm] shared_memory; auto: when a
 * vhost-user device is configured) rather than private memory with huge pages. */
bool vm_shared_memory(const struct config *cfg);

/* Creates the VM (KVM fds, memory, devices, kernel loaded, vCPUs created but not
 * running). incoming: for a migration's destination (devices wait for activate before
 * they take disks). boot must outlive the VM. On failure returns -errno after printing
 * one message naming the cause and the fix; *vm is then fully torn down. console_out
 * is borrowed, not closed. */
int vm_create(struct vm *vm, const struct config *cfg, const struct boot_files *boot,
	      int console_out, uint64_t t_start, bool incoming);
/* Starts one thread per vCPU. */
int vm_start(struct vm *vm);
/* Asks the VM to stop for why (first caller wins) and wakes the main loop. */
static inline void vm_request_stop(struct vm *vm, enum vm_stop why)
{
	machine_request_stop(&vm->m, why);
}
/* Kicks every vCPU out of KVM_RUN and joins the threads (main thread only). */
void vm_stop_vcpus(struct vm *vm);
/* Releases everything vm_create made. Idempotent. */
void vm_destroy(struct vm *vm);

/* The device named name ("disk.root", "vfio.nvme"), or NULL. */
struct device *vm_device_find(struct vm *vm, const char *name);
/* Takes a PCI device off the running machine: the vCPUs are paused, the device is
 * destroyed (threads stopped, BARs, memslots, GSI routes, irqfds, ioeventfds and fds
 * released), the vCPUs resumed. -ENOENT if it is not on the machine, -EPERM if it is
 * not a PCI device. Main thread only. */
int vm_device_remove(struct vm *vm, const char *name);
/* Creates the device of spec on the running machine, vCPUs paused meanwhile; an entry
 * with the same name that was removed is reused, else a free one. Any kind: a PCI
 * device, or what one needs first (the vfio backend). -EEXIST if a device of that name
 * is on the machine, -ENOSPC if the list is full, or create's -errno (after its
 * message). Main thread only. */
int vm_device_add(struct vm *vm, const struct device_spec *spec);

/* Live migration: every device with an activate op, on or off (devices/device.h); a
 * failure names the device in err and, turning off, turns back on what it turned off.
 * Main thread. */
int vm_devices_activate(struct vm *vm, bool on, char *err, size_t errlen);
/* Pins every PCI device of cfg (a copy of vm's config) to the slot it has on vm now,
 * so that a VM built from it (a restore, a migration's destination) has the same
 * layout whatever devices came and went here. */
void vm_config_slots(struct vm *vm, struct config *cfg);
/* KVM's dirty page log on the RAM slots and the VMM's (mem_dirty_*), on or off. */
int vm_dirty_log(struct vm *vm, bool on);

#endif
