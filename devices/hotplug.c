/* The hotplug register block and the GED interrupt (see hotplug.h). */
#include "devices/hotplug.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "devices/stream.h"
#include "vmm/irq.h"
#include "vmm/log.h"
#include "vmm/machine.h"

#define REG_GEVT 0
#define REG_PCIU 4
#define REG_PCID 8
#define REG_EJCT 12

struct hotplug {
	struct machine *mach;
	pthread_mutex_t lock;
	uint32_t gevt, pciu, pcid; /* what the OS has not read yet */
	uint32_t pending;	   /* eject requests the OS has not completed */
	uint32_t ejected;	   /* ejected slots the main thread has not taken */
	int efd;		   /* wakes the main thread: ejected gained a bit */
};

/* The GED's interrupt is level-triggered, high while GEVT holds an event (the DSDT
 * says so): the OS reading GEVT lowers it, and an event that comes while its handler
 * runs raises it again, so none is lost to a masked edge. Lock held. */
static void raise_event_locked(struct hotplug *h, uint32_t bits)
{
	h->gevt |= bits;
	irq_line(h->mach, X86_GED_IRQ, true);
}

static void raise_event(struct hotplug *h, uint32_t bits)
{
	pthread_mutex_lock(&h->lock);
	raise_event_locked(h, bits);
	pthread_mutex_unlock(&h->lock);
}

static uint32_t take(uint32_t *reg)
{
	uint32_t v = *reg;

	*reg = 0;
	return v;
}

static void hotplug_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct hotplug *h = opaque;
	uint32_t v = 0;
	uint64_t one = 1;

	if (len != 4 || off % 4)
		return; /* the DSDT's field is DWordAcc: anything else is not the OS */
	pthread_mutex_lock(&h->lock);
	if (!is_write) {
		if (off == REG_GEVT) {
			v = take(&h->gevt);
			irq_line(h->mach, X86_GED_IRQ, false);
		} else if (off == REG_PCIU)
			v = take(&h->pciu);
		else if (off == REG_PCID)
			v = take(&h->pcid);
		memcpy(data, &v, 4);
	} else if (off == REG_EJCT) {
		memcpy(&v, data, 4);
		if (v > 0 && v < 32) {
			h->pending &= ~(1u << v);
			h->ejected |= 1u << v;
			if (write(h->efd, &one, sizeof(one)) < 0)
				log_err("hotplug: cannot wake the main thread: %m");
		} else {
			log_guest("hotplug: eject of slot %u ignored (no such slot)", v);
		}
	}
	pthread_mutex_unlock(&h->lock);
}

void hotplug_announce(struct hotplug *h, unsigned int slot)
{
	pthread_mutex_lock(&h->lock);
	h->pciu |= 1u << slot;
	pthread_mutex_unlock(&h->lock);
	raise_event(h, X86_GED_PCI_HOTPLUG);
}

void hotplug_request_eject(struct hotplug *h, unsigned int slot)
{
	pthread_mutex_lock(&h->lock);
	h->pcid |= 1u << slot;
	h->pending |= 1u << slot;
	pthread_mutex_unlock(&h->lock);
	raise_event(h, X86_GED_PCI_HOTPLUG);
}

bool hotplug_eject_pending(struct hotplug *h, unsigned int slot)
{
	bool p;

	pthread_mutex_lock(&h->lock);
	p = h->pending & (1u << slot);
	pthread_mutex_unlock(&h->lock);
	return p;
}

void hotplug_power_button(struct hotplug *h)
{
	raise_event(h, X86_GED_POWER_BUTTON);
}

int hotplug_eject_fd(const struct hotplug *h)
{
	return h->efd;
}

uint32_t hotplug_take_ejected(struct hotplug *h)
{
	uint64_t n;
	uint32_t v;

	if (read(h->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_err("hotplug: %m");
	pthread_mutex_lock(&h->lock);
	v = take(&h->ejected);
	pthread_mutex_unlock(&h->lock);
	return v;
}

static int hotplug_create(struct machine *mach, const struct device_spec *spec, void **state)
{
	struct hotplug *h = calloc(1, sizeof(*h));
	int ret;

	(void)spec;
	if (!h)
		return -ENOMEM;
	h->mach = mach;
	pthread_mutex_init(&h->lock, NULL);
	h->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ret = h->efd < 0
		  ? -errno
		  : bus_register(&mach->pio, X86_PORT_HOTPLUG, X86_PORT_HOTPLUG_LEN, hotplug_io, h);
	if (ret < 0) {
		log_err("cannot create the hotplug registers: %s", strerror(-ret));
		if (h->efd >= 0)
			close(h->efd);
		pthread_mutex_destroy(&h->lock);
		free(h);
		return ret;
	}
	*state = h;
	return 0;
}

static void hotplug_destroy(void *state)
{
	struct hotplug *h = state;

	bus_unregister(&h->mach->pio, X86_PORT_HOTPLUG);
	close(h->efd);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/* What the OS has not read yet and the eject requests it has not completed. */
static int hotplug_save(void *state, struct device_stream *out)
{
	struct hotplug *h = state;
	uint32_t v[4];

	pthread_mutex_lock(&h->lock);
	v[0] = h->gevt, v[1] = h->pciu, v[2] = h->pcid, v[3] = h->pending;
	pthread_mutex_unlock(&h->lock);
	stream_put(out, v, sizeof(v));
	return out->err;
}

static int hotplug_load(void *state, struct device_stream *in)
{
	struct hotplug *h = state;
	uint32_t v[4];

	stream_get(in, v, sizeof(v));
	if (in->err)
		return in->err;
	pthread_mutex_lock(&h->lock);
	h->gevt = v[0], h->pciu = v[1], h->pcid = v[2], h->pending = v[3];
	irq_line(h->mach, X86_GED_IRQ, h->gevt != 0);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

const struct device_ops hotplug_device_ops = {.kind = "hotplug",
					      .create = hotplug_create,
					      .destroy = hotplug_destroy,
					      .save = hotplug_save,
					      .load = hotplug_load};
