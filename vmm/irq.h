/* Interrupt plumbing shared by devices: ISA lines on the in-kernel irqchip now; GSI
 * routes, MSI and irqfd join here for PCI. */
#ifndef MINIVMM_IRQ_H
#define MINIVMM_IRQ_H

#include <stdbool.h>

struct vm;

/* Sets the level of an in-kernel irqchip input (ISA IRQ / IOAPIC pin). */
void irq_line(struct vm *vm, unsigned int irq, bool level);

#endif
