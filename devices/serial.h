/* A 16550A UART (COM1) wired to the VMM's console. */
#ifndef MINIVMM_SERIAL_H
#define MINIVMM_SERIAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/device.h"

struct machine;
struct serial;

/* Guest console output to the VMM's console fd (the UART's and virtio-console's), that
 * never waits for the reader: a vCPU or I/O thread must not stall on a console nobody
 * reads, nor hold a lock that the main thread's console input needs. What the fd cannot
 * take at once is dropped, counted, and reported in the log (rate-limited). */
struct console_out {
	int fd;		     /* -1: output dropped silently (no console, or it failed) */
	size_t chunk;	     /* most bytes one write may carry after poll(); 0: no poll */
	const char *name;    /* for messages: "serial", "virtio-console" */
	uint64_t dropped;    /* bytes dropped because the console was full */
	uint64_t reported;   /* dropped as of the last message */
	int64_t next_report; /* no new message before this CLOCK_MONOTONIC second */
};

/* Looks at what fd is (fstat) to know how much a write may carry without blocking. */
void console_out_init(struct console_out *o, int fd, const char *name);
/* Writes what the console takes now of buf; returns how many bytes that was (the rest
 * is dropped and counted). Caller serializes calls on one o. */
size_t console_out_write(struct console_out *o, const void *buf, size_t len);
/* The same for the bytes of iov[0..n). */
size_t console_out_writev(struct console_out *o, const struct iovec *iov, unsigned int n);
/* Logs drops not reported yet (at teardown). */
void console_out_fini(struct console_out *o);

/* Registers the UART at base on mach->pio; transmitted bytes go to out_fd (-1: dropped);
 * its interrupt is ISA irq. Returns NULL with errno set on failure. */
struct serial *serial_create(struct machine *mach, uint16_t base, unsigned int irq, int out_fd);
/* The same on any bus (arm64: MMIO, one byte-wide register per address). */
struct bus;
struct serial *serial_create_on(struct machine *mach, struct bus *bus, uint64_t base,
				unsigned int irq, int out_fd);
void serial_destroy(struct serial *s);
/* The device kind: the arch's console UART (arch_platform: x86 COM1 at 0x3f8, IRQ 4),
 * output to spec->fd; its state is the serial. */
extern const struct device_ops serial_device_ops;

/* Queues console input for the guest (main thread). Returns how many bytes were taken;
 * the rest do not fit the receive buffer now. */
size_t serial_input(struct serial *s, const uint8_t *buf, size_t len);
/* Bytes the guest sent that the console could not take (dropped). */
uint64_t serial_output_dropped(struct serial *s);

#endif
