/* The architecture interface: the only arch header that vmm/ includes.
 * Call order (see vmm/main.c): arch_mem_layout -> (memory, vm fd) -> arch_vm_init ->
 * arch_load_kernel -> arch_write_tables -> arch_vcpu_init for each vCPU.
 * arch_reset re-runs the guest-visible parts for a guest reboot. */
#ifndef MINIVMM_ARCH_H
#define MINIVMM_ARCH_H

#include <stdint.h>

#include "vmm/mem.h"

struct vm;
struct vcpu;

/* Splits ram bytes into guest physical ranges (x86: low RAM below the 32-bit PCI hole,
 * the rest from 4 GiB). Returns the number of ranges (<= max) or -EINVAL. */
int arch_mem_layout(uint64_t ram, gpa_t *gpas, uint64_t *sizes, int max);

int arch_vm_init(struct vm *vm);
int arch_load_kernel(struct vm *vm);
int arch_write_tables(struct vm *vm);
int arch_vcpu_init(struct vm *vm, struct vcpu *vcpu);

#endif
