/* Between the two halves of the virtio PCI transport: virtio_pci.c (the PCI side:
 * config space, the BAR, creation, save and load) calls these, in
 * virtio_pci_queue.c (interrupts, queue service, the takeover of a gone back end and
 * the device's I/O thread). Not for backends: they use virtio_pci.h. */
#ifndef MINIVMM_VIRTIO_PCI_QUEUE_H
#define MINIVMM_VIRTIO_PCI_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio_pci.h"

/* External queues' control requests (vp_run_ctl). */
enum { CTL_START = 1, CTL_STOP = 2 };

/* The INTx line as level (unless the guest disabled INTx), vd->intx_lock held. */
void vp_intx_set(struct virtio_dev *vd, bool level);
/* An interrupt on MSI-X vector (when MSI-X is on), else INTx with isr_bit in the ISR. */
void vp_interrupt(struct virtio_dev *vd, uint16_t vector, uint8_t isr_bit);
/* The ISR as the driver reads it: returned, cleared, INTx lowered. */
uint8_t vp_isr_read_clear(struct virtio_dev *vd);
/* The device needs a reset (NEEDS_RESET and a config interrupt); vd->lock held. */
void vp_needs_reset(struct virtio_dev *vd);
/* Queue q's kick eventfd signalled, as the driver's notification would. */
void vp_kick(struct virtio_dev *vd, unsigned int q);
/* External queues: the I/O thread runs op while this vCPU waits, vd->lock held. */
int vp_run_ctl(struct virtio_dev *vd, int op);
/* The transport serves the queues of a back end that is gone; vd->lock held. */
void vp_takeover(struct virtio_dev *vd);
/* The device's I/O thread. */
int vp_start_thread(struct virtio_dev *vd);
void vp_stop_thread(struct virtio_dev *vd);

#endif
