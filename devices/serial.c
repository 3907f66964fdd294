/* 16550A UART emulation, enough for Linux's 8250 driver (autoconfig, FIFO, THRE and RX
 * interrupts, loopback for the probe).
 *
 * Locking: a vCPU thread (register access) and the main thread (console input) both
 * touch the state, so everything is under s->lock. The interrupt line is raised and
 * lowered only on changes, so that an edge-triggered IOAPIC pin sees clean edges. */
#include "devices/serial.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/vm.h"
#include "vmm/irq.h"

enum { RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

#define IER_RDI	     0x01
#define IER_THRI     0x02
#define IIR_NONE     0x01
#define IIR_THRI     0x02
#define IIR_RDI	     0x04
#define IIR_FIFO     0xc0
#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB     0x80
#define MCR_LOOP     0x10
#define MCR_OUT2     0x08
#define LSR_DR	     0x01
#define LSR_THRE     0x20
#define LSR_TEMT     0x40
#define RX_SIZE	     4096

struct serial {
	struct vm *vm;
	pthread_mutex_t lock;
	uint16_t base;
	unsigned int irq;
	int out_fd;
	bool irq_level;
	bool thre_pending; /* THR empty interrupt not yet acknowledged */
	uint8_t ier, fcr, lcr, mcr, scr, dll, dlm;
	uint8_t rx[RX_SIZE];
	size_t rx_head, rx_count;
};

static uint8_t serial_iir(const struct serial *s)
{
	uint8_t fifo = (s->fcr & FCR_ENABLE) ? IIR_FIFO : 0;

	if ((s->ier & IER_RDI) && s->rx_count)
		return fifo | IIR_RDI;
	if ((s->ier & IER_THRI) && s->thre_pending)
		return fifo | IIR_THRI;
	return fifo | IIR_NONE;
}

/* Called with the lock held after every state change. On PCs OUT2 gates the IRQ. */
static void serial_update_irq(struct serial *s)
{
	bool level = !(serial_iir(s) & IIR_NONE) && (s->mcr & MCR_OUT2);

	if (level != s->irq_level) {
		s->irq_level = level;
		irq_line(s->vm, s->irq, level);
	}
}

static void rx_push(struct serial *s, uint8_t c)
{
	if (s->rx_count < RX_SIZE)
		s->rx[(s->rx_head + s->rx_count++) % RX_SIZE] = c;
}

static void serial_out(struct serial *s, uint8_t c)
{
	if (s->mcr & MCR_LOOP) {
		rx_push(s, c);
		return;
	}
	/* Console output is best effort: a closed or full console must not stop the
	 * guest, and a short write to a tty is not worth retrying for one byte. */
	if (s->out_fd >= 0 && write(s->out_fd, &c, 1) < 0 && errno != EAGAIN)
		s->out_fd = -1;
}

static uint8_t serial_read(struct serial *s, unsigned int reg)
{
	uint8_t v;

	switch (reg) {
	case RBR_THR:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (!s->rx_count)
			return 0;
		v = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % RX_SIZE;
		s->rx_count--;
		return v;
	case IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case IIR_FCR:
		v = serial_iir(s);
		if ((v & 0x0f) == IIR_THRI) /* reading IIR acknowledges THRE */
			s->thre_pending = false;
		return v;
	case LCR:
		return s->lcr;
	case MCR:
		return s->mcr;
	case LSR:
		return LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0);
	case MSR:
		if (s->mcr & MCR_LOOP) /* DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD */
			return ((s->mcr & 1) << 5) | ((s->mcr & 2) << 3) | ((s->mcr & 4) << 4) |
			       ((s->mcr & 8) << 4);
		return 0xb0; /* DCD, DSR, CTS: a cable with someone on the other end */
	default:
		return s->scr;
	}
}

static void serial_write(struct serial *s, unsigned int reg, uint8_t v)
{
	switch (reg) {
	case RBR_THR:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
			return;
		}
		serial_out(s, v);
		s->thre_pending = true; /* sent at once, so the THR is empty again */
		return;
	case IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			return;
		}
		if ((v & IER_THRI) && !(s->ier & IER_THRI))
			s->thre_pending = true;
		s->ier = v & 0x0f;
		return;
	case IIR_FCR:
		if (v & FCR_CLEAR_RX)
			s->rx_count = 0;
		s->fcr = v & FCR_ENABLE;
		return;
	case LCR:
		s->lcr = v;
		return;
	case MCR:
		s->mcr = v & 0x1f;
		return;
	case SCR:
		s->scr = v;
		return;
	default: /* LSR and MSR are read-only */
		return;
	}
}

static void serial_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct serial *s = opaque;

	if (len != 1) {
		log_guest("serial: %u-byte access at offset %llu ignored", len,
			  (unsigned long long)off);
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (is_write)
		serial_write(s, (unsigned int)off, data[0]);
	else
		data[0] = serial_read(s, (unsigned int)off);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

struct serial *serial_create(struct vm *vm, uint16_t base, unsigned int irq, int out_fd)
{
	struct serial *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return NULL;
	s->vm = vm;
	s->base = base;
	s->irq = irq;
	s->out_fd = out_fd;
	pthread_mutex_init(&s->lock, NULL);
	ret = bus_register(&vm->pio, base, 8, serial_io, s);
	if (ret < 0) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		errno = -ret;
		return NULL;
	}
	return s;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	bus_unregister(&s->vm->pio, s->base);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

size_t serial_input(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	for (n = 0; n < len && s->rx_count < RX_SIZE; n++)
		rx_push(s, buf[n]);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}
