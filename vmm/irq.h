/* Interrupt plumbing shared by emulated and passed-through devices.
 *
 * KVM's GSI routing table is replaced as a whole by KVM_SET_GSI_ROUTING, so the VM keeps
 * the full table here (the irqchip's wired inputs as the arch lists them, arch_irq_routes:
 * x86 IOAPIC/PIC pins, arm64 GIC SPIs; plus one MSI route per allocated vector) and
 * commits it on every change. Interrupts reach KVM through irqfd: a device
 * (or VFIO) signals an eventfd and KVM injects, with no VMM thread involved.
 *
 * Thread-safe: a mutex in struct irq_state guards the table. */
#ifndef MINIVMM_IRQ_H
#define MINIVMM_IRQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct machine;

#define IRQ_MAX_GSI	     1024
#define IRQ_MAX_WIRED_ROUTES 64 /* most routes arch_irq_routes may list */
#define IRQ_MAX_DEFERRED     64 /* irqfds waiting for the irqchip (irq_irqfd) */

/* An irqfd KVM would not take yet: assigned by irq_chip_ready. */
struct irq_deferred {
	int efd, resample_fd;
	uint32_t gsi;
};

struct irq_state {
	pthread_mutex_t lock;
	struct kvm_irq_routing *table; /* wired inputs + MSI routes */
	uint32_t nr_wired;	       /* GSIs below this are wired; MSI GSIs come after */
	bool msi_devid;		       /* MSI routes carry the device ID (KVM_CAP_MSI_DEVID) */
	uint32_t next_gsi;	       /* next never-used GSI */
	uint8_t used[IRQ_MAX_GSI / 8]; /* MSI GSIs in use */
	bool chip_ready;	       /* irqfds go to KVM at once (irq_chip_ready) */
	struct irq_deferred deferred[IRQ_MAX_DEFERRED];
	unsigned int nr_deferred;
};

/* Sets up the default routes (arch_irq_routes). After the in-kernel irqchip exists
 * (arch_vm_init). */
int irq_init(struct machine *m);
void irq_destroy(struct machine *m);

/* Sets the level of a wired irqchip input, by GSI (x86: ISA IRQ / IOAPIC pin; arm64:
 * SPI number). */
void irq_line(struct machine *m, unsigned int irq, bool level);

/* Allocates a GSI for an MSI route (no route yet: call irq_msi_route). -ENOSPC. */
int irq_msi_alloc(struct machine *m);
/* Points gsi at the MSI address/data pair (what the guest wrote in the MSI or MSI-X
 * entry) from the device with requester ID devid (bus << 8 | devfn), and commits the
 * table. An Arm GICv3 ITS translates by device ID, so KVM wants it on every MSI route
 * there (KVM_CAP_MSI_DEVID); where KVM does not (x86), devid is not passed. */
int irq_msi_route(struct machine *m, uint32_t gsi, uint64_t addr, uint32_t data, uint32_t devid);
/* Removes gsi's route and frees it. */
void irq_msi_free(struct machine *m, uint32_t gsi);

/* Connects (assign) or disconnects an eventfd to a GSI through KVM_IRQFD. resample_fd
 * >= 0 makes it a level-triggered irqfd whose resample eventfd is signalled when the
 * guest EOIs (INTx). A count already pending on efd when assigned is delivered at once,
 * which is what MSI-X unmasking relies on. Until irq_chip_ready, an irqfd that KVM
 * refuses with EAGAIN (arm64: no irqfd before the vGIC is initialised, which needs
 * every vCPU, and devices come first) is kept and assigned then; 0 is returned. */
int irq_irqfd(struct machine *m, int efd, uint32_t gsi, int resample_fd, bool assign);
/* The arch's irqchip is complete (arm64: after the vGIC's CTRL_INIT; x86 never needs
 * it): assigns the irqfds irq_irqfd kept. Returns 0 or the first -errno (after a
 * message naming the GSI). Main thread, before the vCPUs run. */
int irq_chip_ready(struct machine *m);

/* Sends one MSI directly (KVM_SIGNAL_MSI), for a device without an irqfd. */
int irq_signal_msi(struct machine *m, uint64_t addr, uint32_t data);

#endif
