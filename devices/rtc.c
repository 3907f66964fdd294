/* CMOS RTC (ports 0x70/0x71): the wall clock the guest reads at boot, in BCD 24-hour
 * mode, from the host's UTC time at the moment of each read. No alarms, no periodic
 * interrupt: Linux only needs the time, and the "update in progress" bit always reads
 * clear so that its read loop finishes at once. The index register is per VM, under a
 * lock because any vCPU may use the ports. */
#include "devices/platform.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/stream.h"
#include "vmm/machine.h"

#define RTC_PORT 0x70

struct rtc {
	struct machine *mach;
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t ram[128]; /* CMOS bytes the guest may use as scratch */
};

static uint8_t bcd(int v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static uint8_t rtc_reg(struct rtc *r, uint8_t reg)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	switch (reg) {
	case 0x00:
		return bcd(tm.tm_sec);
	case 0x02:
		return bcd(tm.tm_min);
	case 0x04:
		return bcd(tm.tm_hour);
	case 0x06:
		return bcd(tm.tm_wday + 1);
	case 0x07:
		return bcd(tm.tm_mday);
	case 0x08:
		return bcd(tm.tm_mon + 1);
	case 0x09:
		return bcd(tm.tm_year % 100);
	case 0x32:
		return bcd((tm.tm_year + 1900) / 100);
	case 0x0a:
		return 0x26; /* 32.768 kHz base, 1024 Hz rate; UIP clear */
	case 0x0b:
		return 0x02; /* 24-hour, BCD, no interrupts */
	case 0x0c:
		return 0x00; /* no interrupt flags */
	case 0x0d:
		return 0x80; /* valid RAM and time */
	default:
		return r->ram[reg & 0x7f];
	}
}

static void rtc_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct rtc *r = opaque;

	if (len != 1)
		return;
	pthread_mutex_lock(&r->lock);
	if (off == 0) {
		if (is_write)
			r->index = data[0] & 0x7f; /* bit 7 is the NMI mask, not ours */
		else
			data[0] = r->index;
	} else if (is_write) {
		if (r->index > 0x0d) /* the clock itself is read-only */
			r->ram[r->index] = data[0];
	} else {
		data[0] = rtc_reg(r, r->index);
	}
	pthread_mutex_unlock(&r->lock);
}

static int rtc_create(struct machine *mach, const struct device_spec *spec, void **state)
{
	struct rtc *r = calloc(1, sizeof(*r));
	int ret;

	(void)spec;
	if (!r)
		return -ENOMEM;
	r->mach = mach;
	pthread_mutex_init(&r->lock, NULL);
	ret = bus_register(&mach->pio, RTC_PORT, 2, rtc_io, r);
	if (ret < 0) {
		free(r);
		return ret;
	}
	*state = r;
	return 0;
}

static void rtc_destroy(void *state)
{
	struct rtc *r = state;

	bus_unregister(&r->mach->pio, RTC_PORT);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* The index register and the CMOS scratch bytes; the clock itself is the host's. */
static int rtc_save(void *state, struct device_stream *out)
{
	struct rtc *r = state;

	pthread_mutex_lock(&r->lock);
	stream_put(out, &r->index, 1);
	stream_put(out, r->ram, sizeof(r->ram));
	pthread_mutex_unlock(&r->lock);
	return out->err;
}

static int rtc_load(void *state, struct device_stream *in)
{
	struct rtc *r = state;
	uint8_t index, ram[sizeof(r->ram)];

	stream_get(in, &index, 1);
	stream_get(in, ram, sizeof(ram));
	if (in->err)
		return in->err;
	pthread_mutex_lock(&r->lock);
	r->index = index;
	memcpy(r->ram, ram, sizeof(ram));
	pthread_mutex_unlock(&r->lock);
	return 0;
}

const struct device_ops rtc_device_ops = {.kind = "rtc",
					  .create = rtc_create,
					  .destroy = rtc_destroy,
					  .save = rtc_save,
					  .load = rtc_load};
