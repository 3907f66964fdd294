/* A 16550A UART (COM1) wired to the VMM's console. */
#ifndef MINIVMM_SERIAL_H
#define MINIVMM_SERIAL_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct serial;

/* Registers the UART at base on vm->pio; transmitted bytes go to out_fd (-1: dropped);
 * its interrupt is ISA irq. Returns NULL with errno set on failure. */
struct serial *serial_create(struct vm *vm, uint16_t base, unsigned int irq, int out_fd);
void serial_destroy(struct serial *s);

/* Queues console input for the guest (main thread). Returns how many bytes were taken;
 * the rest do not fit the receive buffer now. */
size_t serial_input(struct serial *s, const uint8_t *buf, size_t len);

#endif
