/* 16550A UART emulation, enough for Linux's 8250 driver (autoconfig, FIFO, THRE and RX
 * interrupts, loopback for the probe).
 *
 * Locking: a vCPU thread (register access) and the main thread (console input) both
 * touch the state, so everything is under s->lock. The interrupt line is raised and
 * lowered only on changes, so that an edge-triggered IOAPIC pin sees clean edges.
 *
 * Output goes through struct console_out, which virtio-console shares: it never waits
 * for the console's reader, because the vCPU writes with s->lock held and the main
 * thread's console input takes that lock; a console nobody read used to stall the
 * guest and then the main loop, which so never read SIGTERM. */
#include "devices/serial.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "devices/stream.h"
#include "vmm/log.h"
#include "vmm/machine.h"
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
	struct machine *mach;
	pthread_mutex_t lock;
	struct bus *bus; /* mach->pio (x86) or mach->mmio (arm64) */
	uint64_t base;
	unsigned int irq;
	struct console_out out;
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

/* Non-blocking output without touching the fd's O_NONBLOCK: the console is usually
 * the user's terminal or a pipe shared with other processes (and with our own stderr),
 * whose open file description we must not change under them, nor leave changed if we
 * are killed. Instead each write is preceded by a poll() with no timeout and carries no
 * more than what POLLOUT guarantees room for: one byte on a terminal (the tty layer
 * only promises some room), PIPE_BUF on a pipe (POLLOUT means a free page, and a write
 * of up to PIPE_BUF bytes takes one) or a socket (POLLOUT means at most a quarter of
 * the send buffer in use). Regular files, block devices and /dev/null have no reader
 * to wait for: no poll. The bounded buffer is the kernel's (pipe, tty or socket buffer); what
 * does not fit now is dropped, so nothing is left over to flush later. The one case
 * left that can block is another process filling the same pipe between our poll()
 * and write(). */
void console_out_init(struct console_out *o, int fd, const char *name)
{
	struct stat st;

	*o = (struct console_out){.fd = fd, .chunk = 1, .name = name};
	if (fd < 0 || fstat(fd, &st) < 0)
		return;
	/* Major 1 character devices are /dev/null and its kin, which never block. */
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) ||
	    (S_ISCHR(st.st_mode) && major(st.st_rdev) == 1))
		o->chunk = 0;
	else if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
		o->chunk = PIPE_BUF;
}

/* Reports drops at once the first time, then at most every 10 s (the guest decides how
 * much it writes: the log must not follow), and whatever is left at teardown. */
static void console_out_report(struct console_out *o, bool final)
{
	struct timespec now;

	if (o->dropped == o->reported)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!final && now.tv_sec < o->next_report)
		return;
	log_warn("%s: the console is not being read: %llu bytes of guest output dropped so "
		 "far",
		 o->name, (unsigned long long)o->dropped);
	o->reported = o->dropped;
	o->next_report = now.tv_sec + 10;
}

/* Writes what fits now of [buf, buf + len); returns the bytes written, and false in
 * *more when the console took less than asked (full, or failed). */
static size_t out_some(struct console_out *o, const uint8_t *buf, size_t len, bool *more)
{
	size_t done = 0;

	while (o->fd >= 0 && done < len) {
		size_t n = len - done;
		ssize_t w;

		if (o->chunk) {
			struct pollfd p = {.fd = o->fd, .events = POLLOUT};

			/* POLLERR or POLLHUP: let write() say what went wrong. */
			if (poll(&p, 1, 0) != 1)
				break;
			if (n > o->chunk)
				n = o->chunk;
		}
		w = write(o->fd, buf + done, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			/* EAGAIN: someone else's O_NONBLOCK on a full console, a drop. Anything
			 * else is a console that went away: best effort, stop writing. */
			if (errno != EAGAIN) {
				log_warn("%s: console write failed: %m; guest output is discarded "
					 "from now on",
					 o->name);
				o->fd = -1;
			}
			break;
		}
		done += (size_t)w;
	}
	*more = done == len;
	return done;
}

size_t console_out_writev(struct console_out *o, const struct iovec *iov, unsigned int n)
{
	size_t done = 0, left = 0;
	bool more = true;
	unsigned int i;

	for (i = 0; i < n && more; i++) {
		size_t w = out_some(o, iov[i].iov_base, iov[i].iov_len, &more);

		done += w;
		left += iov[i].iov_len - w;
	}
	for (; i < n; i++) /* nothing after a gap: the console sees whole runs */
		left += iov[i].iov_len;
	if (left && o->fd >= 0) {
		o->dropped += left;
		console_out_report(o, false);
	}
	return done;
}

size_t console_out_write(struct console_out *o, const void *buf, size_t len)
{
	struct iovec iov = {(void *)buf, len};

	return console_out_writev(o, &iov, 1);
}

void console_out_fini(struct console_out *o)
{
	console_out_report(o, true);
}

/* Called with the lock held after every state change. On PCs OUT2 gates the IRQ. */
static void serial_update_irq(struct serial *s)
{
	bool level = !(serial_iir(s) & IIR_NONE) && (s->mcr & MCR_OUT2);

	if (level != s->irq_level) {
		s->irq_level = level;
		irq_line(s->mach, s->irq, level);
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
	/* Best effort: a full console drops the byte (counted), it never waits. */
	console_out_write(&s->out, &c, 1);
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
		machine_mark(s->mach, MARK_FIRST_OUTPUT);
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

struct serial *serial_create(struct machine *mach, uint16_t base, unsigned int irq, int out_fd)
{
	return serial_create_on(mach, &mach->pio, base, irq, out_fd);
}

struct serial *serial_create_on(struct machine *mach, struct bus *bus, uint64_t base,
				unsigned int irq, int out_fd)
{
	struct serial *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return NULL;
	s->mach = mach;
	s->bus = bus;
	s->base = base;
	s->irq = irq;
	console_out_init(&s->out, out_fd, "serial");
	pthread_mutex_init(&s->lock, NULL);
	ret = bus_register(bus, base, 8, serial_io, s);
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
	bus_unregister(s->bus, s->base);
	console_out_fini(&s->out);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Where the arch puts its console UART (x86: COM1, 0x3f8 and IRQ 4). */
static int serial_dev_create(struct machine *mach, const struct device_spec *spec, void **state)
{
	const struct arch_platform *p = arch_platform();
	struct serial *s = serial_create_on(mach, p->uart_mmio ? &mach->mmio : &mach->pio,
					    p->uart_base, p->uart_irq, spec->fd);

	if (!s) {
		log_err("cannot create the serial port: %m");
		return -errno;
	}
	*state = s;
	return 0;
}

static void serial_dev_destroy(void *state)
{
	serial_destroy(state);
}

/* The UART's registers and what the guest has not read yet. */
static int serial_save(void *state, struct device_stream *out)
{
	struct serial *s = state;
	uint8_t regs[7], flags;
	uint32_t n;

	pthread_mutex_lock(&s->lock);
	regs[0] = s->ier, regs[1] = s->fcr, regs[2] = s->lcr, regs[3] = s->mcr;
	regs[4] = s->scr, regs[5] = s->dll, regs[6] = s->dlm;
	flags = (uint8_t)(s->irq_level | s->thre_pending << 1);
	n = (uint32_t)s->rx_count;
	stream_put(out, regs, sizeof(regs));
	stream_put(out, &flags, 1);
	stream_put(out, &n, sizeof(n));
	for (uint32_t i = 0; i < n; i++)
		stream_put(out, &s->rx[(s->rx_head + i) % RX_SIZE], 1);
	pthread_mutex_unlock(&s->lock);
	return out->err;
}

static int serial_load(void *state, struct device_stream *in)
{
	struct serial *s = state;
	uint8_t regs[7], flags;
	uint32_t n;

	stream_get(in, regs, sizeof(regs));
	stream_get(in, &flags, 1);
	stream_get(in, &n, sizeof(n));
	if (in->err || n > RX_SIZE)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->ier = regs[0], s->fcr = regs[1], s->lcr = regs[2], s->mcr = regs[3];
	s->scr = regs[4], s->dll = regs[5], s->dlm = regs[6];
	s->thre_pending = flags & 2;
	s->rx_head = 0;
	stream_get(in, s->rx, n);
	s->rx_count = in->err ? 0 : n;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return in->err;
}

const struct device_ops serial_device_ops = {.kind = "serial",
					     .create = serial_dev_create,
					     .destroy = serial_dev_destroy,
					     .save = serial_save,
					     .load = serial_load};

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

uint64_t serial_output_dropped(struct serial *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	n = s->out.dropped;
	pthread_mutex_unlock(&s->lock);
	return n;
}
