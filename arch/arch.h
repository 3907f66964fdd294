/* The architecture interface: the only arch header that vmm/ includes.
 *
 * Call order (vmm/main.c, vmm/vm.c):
 *   boot_files_open -> arch_check_kernel            (before any KVM call; exit 1 on error)
 *   arch_mem_layout -> memory -> arch_vm_init -> devices -> arch_load_kernel
 *   -> arch_vcpu_init for each vCPU -> run -> arch_vm_destroy.
 * A guest reboot recreates the whole VM, so nothing here needs a reset path. */
#ifndef MINIVMM_ARCH_H
#define MINIVMM_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmm/mem.h"

struct vm;
struct vcpu;
struct config;
/* Each architecture's private VM state, vm->arch: defined by arch/ARCH only, made by
 * arch_vm_init() and freed by arch_vm_destroy(). */
struct arch_vm;

/* The kernel and initrd files, mapped read-only (vmm/image.c). */
struct boot_files {
	const uint8_t *kernel;
	size_t kernel_len;
	const uint8_t *initrd; /* NULL when there is none */
	size_t initrd_len;
};

/* Splits ram bytes into guest physical ranges (x86: low RAM below the 32-bit PCI hole,
 * the rest from 4 GiB). Returns the number of ranges (<= max) or -EINVAL. */
int arch_mem_layout(uint64_t ram, gpa_t *gpas, uint64_t *sizes, int max);

/* Validates the kernel image, that the initrd and command line fit the guest memory,
 * without touching KVM. Returns 0, with what kind of kernel it is in what (one line such
 * as "bzImage (protocol 2.15)"; what may be NULL), or -EINVAL with one message in err. */
int arch_check_kernel(const struct boot_files *bf, const struct config *cfg, char *what,
		      size_t whatlen, char *err, size_t errlen);

/* Prints the guest physical memory map (for --dry-run). */
void arch_print_memory_map(const struct config *cfg, FILE *f);
/* --dry-run --dtb PATH: writes the device tree the guest would get (the 64-bit PCI
 * window as [vm] mmio64 or mmio64_hotplug make it, before devices add their large BARs)
 * to path. Returns 0, or -errno with one message in err (-EOPNOTSUPP: the arch boots
 * without a device tree). */
int arch_write_dtb(const struct boot_files *bf, const struct config *cfg, const char *path,
		   char *err, size_t errlen);

struct pci_windows;
/* The PCI windows (I/O, 32-bit and 64-bit memory, ECAM) for a guest with ram bytes. */
void arch_pci_windows(uint64_t ram, struct pci_windows *w);

struct kvm_irq_routing_entry;
/* The in-kernel irqchip's wired inputs as KVM GSI routes (vmm/irq.c restates them when
 * it replaces KVM's table): writes at most max entries to e and returns how many, or
 * -ENOSPC; *nr_wired is the number of wired GSIs (0 .. nr_wired - 1; MSI GSIs come
 * after). x86: IOAPIC pins 0-23, ISA GSIs 0-15 also on the PIC; arm64: GSI n is SPI n. */
int arch_irq_routes(struct kvm_irq_routing_entry *e, size_t max, uint32_t *nr_wired);
/* KVM_IRQ_LINE's irq field for wired GSI gsi (x86: the GSI; arm64: SPI type and INTID). */
uint32_t arch_irq_line(unsigned int gsi);

/* The fixed platform devices (vmm/vm_devices.c, devices/serial.c). */
struct arch_platform {
	bool uart_mmio;		/* the console 16550 is on the MMIO bus (else port I/O) */
	uint64_t uart_base;	/* its first register */
	unsigned int uart_irq;	/* its wired GSI */
	bool pc_devices;	/* the PC's CMOS clock, ACPI power ports and hotplug ports */
	const char *iommu_hint; /* what to do when a device has no IOMMU group */
};
/* The arch's platform, constant for the program's life. */
const struct arch_platform *arch_platform(void);

/* VM-wide set-up: in-kernel irqchip and timers, and arch private state. */
int arch_vm_init(struct vm *vm);
/* After arch_vm_init: the widest guest physical address the host's KVM supports, in
 * bits (the most vm->phys_bits may be). */
unsigned int arch_host_phys_bits(const struct vm *vm);
/* Loads vm->boot into guest memory and writes the firmware tables; logs which kind of
 * kernel it loaded. */
int arch_load_kernel(struct vm *vm);
/* Per-vCPU registers, CPUID and MSRs. */
int arch_vcpu_init(struct vm *vm, struct vcpu *vcpu);
/* After KVM_EXIT_FAIL_ENTRY with this hardware reason: what is known about why, for the
 * log ("" if nothing). Returns buf. */
const char *arch_vcpu_fail_entry_hint(struct vcpu *vcpu, uint64_t reason, char *buf, size_t size);
/* Frees what arch_vm_init made; idempotent. */
void arch_vm_destroy(struct vm *vm);

/* The seccomp filters (vmm/seccomp.c): the KVM requests the arch's own code makes on
 * threads of kind (enum seccomp_thread: the main thread sets up VMs, vCPUs and their
 * state; vCPU threads), which the filters allow beside the core's. Returns how many are
 * at *table (0: none). */
struct seccomp_ioctl;
size_t arch_seccomp_ioctls(int kind, const struct seccomp_ioctl **table);
/* In a SIGSYS handler (async-signal-safe): makes the trapped system call return ret;
 * ucontext is the handler's third argument. */
void arch_seccomp_set_return(void *ucontext, long ret);
/* The header that numbers this arch's system calls, for the SIGSYS report. */
const char *arch_syscall_table(void);

/* What KVM holds of the VM and of each vCPU, for snapshot, restore and migration
 * (arch/ARCH/state.c, which documents the order and the layout). Save with every vCPU
 * outside KVM_RUN; restore into a VM made from the same config, after arch_vcpu_init
 * and before the vCPUs first run. The states are arch-private blobs of
 * arch_*_state_size() bytes (a snapshot stores them as they are, with
 * ARCH_STATE_VERSION). All return 0 or -errno. */
struct arch_vm_state;
struct arch_vcpu_state;
/* The arch's name and the version of its state layout, for a snapshot's header. */
const char *arch_state_name(int *version);
size_t arch_vm_state_size(void);
size_t arch_vcpu_state_size(void);
int arch_vm_save(struct vm *vm, struct arch_vm_state *s);
int arch_vm_restore(struct vm *vm, const struct arch_vm_state *s);
int arch_vcpu_save(struct vm *vm, struct vcpu *vcpu, struct arch_vcpu_state *s);
int arch_vcpu_restore(struct vm *vm, struct vcpu *vcpu, const struct arch_vcpu_state *s);
/* The CPU features a guest started on this host sees, as one line of words for a
 * snapshot's header and a migration's hello (arch/ARCH/cpufeat.c lists them); and the
 * check of a saved line against this host before a restore: 0, or -EINVAL with a
 * message naming each feature the guest saw that this host's KVM does not offer.
 * kvm_fd is /dev/kvm's. */
int arch_cpu_features(int kvm_fd, char *buf, size_t len);
int arch_cpu_check(int kvm_fd, const char *saved, char *err, size_t errlen);

#endif
