/* MSI-X emulation (see msix.h for the design: eventfd per vector, irqfd while unmasked). */
#include "devices/msix.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/pci.h"
#include "devices/stream.h"
#include "vmm/irq.h"
#include "vmm/log.h"
#include "vmm/machine.h"

#define MSIX_CAP_ID	 0x11
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_FNMASK 0x4000
#define MSIX_VEC_MASKED	 0x1

int msix_init(struct msix *m, struct pci_dev *dev, unsigned int nr_vectors, int bar,
	      uint32_t table_off, uint32_t pba_off)
{
	uint8_t cap[12] = {MSIX_CAP_ID, 0};
	uint32_t v;
	int off, ret;

	memset(m, 0, sizeof(*m));
	if (nr_vectors == 0 || nr_vectors > MSIX_MAX_VECTORS || (table_off & 7) || (pba_off & 7))
		return -EINVAL;
	m->dev = dev;
	m->nr = nr_vectors;
	m->bar = bar;
	m->table_off = table_off;
	m->pba_off = pba_off;
	m->v = calloc(nr_vectors, sizeof(*m->v));
	if (!m->v)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	for (unsigned int i = 0; i < nr_vectors; i++)
		m->v[i].efd = -1;
	for (unsigned int i = 0; i < nr_vectors; i++) {
		m->v[i].gsi = -1;
		m->v[i].ctrl = MSIX_VEC_MASKED; /* every vector starts masked */
		m->v[i].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (m->v[i].efd < 0) {
			ret = -errno;
			goto err;
		}
	}
	v = nr_vectors - 1;
	memcpy(&cap[2], &(uint16_t){(uint16_t)v}, 2);
	v = table_off | (uint32_t)bar;
	memcpy(&cap[4], &v, 4);
	v = pba_off | (uint32_t)bar;
	memcpy(&cap[8], &v, 4);
	off = pci_dev_add_cap(dev, cap, sizeof(cap));
	if (off < 0) {
		ret = off;
		goto err;
	}
	m->cap = (uint32_t)off;
	dev->wmask[m->cap + 3] = (MSIX_CTRL_ENABLE | MSIX_CTRL_FNMASK) >> 8;
	return 0;
err:
	msix_destroy(m);
	return ret;
}

/* Connects or disconnects vector i's irqfd to match the guest's settings. Lock held. */
static void msix_update(struct msix *m, unsigned int i)
{
	struct msix_vector *v = &m->v[i];
	bool want = m->enabled && !m->fn_masked && !(v->ctrl & MSIX_VEC_MASKED);
	struct machine *mach = m->dev->mach;
	int ret;

	if (!want) {
		if (v->live)
			irq_irqfd(mach, v->efd, (uint32_t)v->gsi, -1, false);
		v->live = false;
		return;
	}
	if (v->gsi < 0) {
		v->gsi = irq_msi_alloc(mach);
		if (v->gsi < 0) {
			log_guest("%s: out of GSIs for MSI-X vector %u", m->dev->name, i);
			return;
		}
	}
	ret = irq_msi_route(mach, (uint32_t)v->gsi, (uint64_t)v->addr_hi << 32 | v->addr_lo,
			    v->data, m->dev->devfn); /* bus 0: the requester ID is the devfn */
	if (ret == 0 && !v->live)
		ret = irq_irqfd(mach, v->efd, (uint32_t)v->gsi, -1, true);
	if (ret < 0)
		log_guest("%s: MSI-X vector %u not routed: %s", m->dev->name, i, strerror(-ret));
	else
		v->live = true;
}

void msix_destroy(struct msix *m)
{
	if (!m->v)
		return;
	for (unsigned int i = 0; i < m->nr; i++) {
		struct msix_vector *v = &m->v[i];

		if (v->live)
			irq_irqfd(m->dev->mach, v->efd, (uint32_t)v->gsi, -1, false);
		if (v->gsi >= 0)
			irq_msi_free(m->dev->mach, (uint32_t)v->gsi);
		if (v->efd >= 0)
			close(v->efd);
	}
	free(m->v);
	m->v = NULL;
	pthread_mutex_destroy(&m->lock);
}

uint32_t msix_table_size(const struct msix *m)
{
	return m->nr * MSIX_ENTRY_SIZE;
}

uint32_t msix_pba_size(const struct msix *m)
{
	return ((m->nr + 63) / 64) * 8;
}

static void msix_dword(struct msix *m, uint64_t off, uint32_t *val, bool is_write)
{
	unsigned int i = (unsigned int)(off / MSIX_ENTRY_SIZE);
	struct msix_vector *v;
	uint32_t *field;

	if (i >= m->nr) {
		if (!is_write)
			*val = 0xffffffff;
		return;
	}
	v = &m->v[i];
	field = (uint32_t *[]){&v->addr_lo, &v->addr_hi, &v->data, &v->ctrl}[(off % 16) / 4];
	if (!is_write) {
		*val = *field;
		return;
	}
	*field = field == &v->ctrl ? (*val & MSIX_VEC_MASKED) : *val;
	msix_update(m, i);
}

void msix_table_access(struct msix *m, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	uint32_t dw[2] = {0, 0};

	if ((len != 4 && len != 8) || (off & (len - 1))) {
		log_guest("%s: MSI-X table access of %u bytes at %#llx ignored", m->dev->name, len,
			  (unsigned long long)off);
		return;
	}
	if (is_write)
		memcpy(dw, data, len);
	pthread_mutex_lock(&m->lock);
	for (uint32_t k = 0; k < len / 4; k++)
		msix_dword(m, off + 4 * k, &dw[k], is_write);
	pthread_mutex_unlock(&m->lock);
	if (!is_write)
		memcpy(data, dw, len);
}

/* A vector is pending while its irqfd is disconnected (masked) and its eventfd has
 * counted a signal; poll() sees the count without consuming it. Connected, KVM takes
 * each signal at once. Lock held. */
static bool msix_pending(const struct msix_vector *v)
{
	struct pollfd p = {.fd = v->efd, .events = POLLIN};

	return !v->live && v->efd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

void msix_pba_access(struct msix *m, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	uint64_t bits = 0;
	unsigned int first;

	if (is_write)
		return; /* read-only: writes are ignored, as the spec says */
	memset(data, 0, len);
	if ((len != 4 && len != 8) || (off & (len - 1)) || off >= msix_pba_size(m))
		return;
	first = (unsigned int)(off / 8) * 64;
	pthread_mutex_lock(&m->lock);
	for (unsigned int i = first; i < first + 64 && i < m->nr; i++)
		if (msix_pending(&m->v[i]))
			bits |= 1ULL << (i - first);
	pthread_mutex_unlock(&m->lock);
	bits >>= 8 * (off & 7);
	memcpy(data, &bits, len); /* x86: little endian, as the guest reads it */
}

void msix_cfg_write(struct msix *m, uint32_t off, uint32_t len)
{
	uint16_t ctrl;
	bool was, now;

	if (off + len <= m->cap + 2 || off >= m->cap + 4)
		return;
	ctrl = (uint16_t)(m->dev->cfg[m->cap + 2] | m->dev->cfg[m->cap + 3] << 8);
	pthread_mutex_lock(&m->lock);
	was = m->enabled;
	m->enabled = ctrl & MSIX_CTRL_ENABLE;
	m->fn_masked = ctrl & MSIX_CTRL_FNMASK;
	now = m->enabled;
	for (unsigned int i = 0; i < m->nr; i++)
		msix_update(m, i);
	pthread_mutex_unlock(&m->lock);
	if (was != now && m->on_enable)
		m->on_enable(m, now, m->opaque);
}

bool msix_enabled(const struct msix *m)
{
	return __atomic_load_n(&m->enabled, __ATOMIC_ACQUIRE);
}

int msix_notify(struct msix *m, unsigned int vector)
{
	uint64_t one = 1;

	if (vector >= m->nr)
		return -EINVAL;
	/* Counted in the eventfd even while masked; KVM delivers it on unmask. */
	if (write(m->v[vector].efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

/* In a saved vector control word, beyond the spec's mask bit: a masked vector's
 * interrupt is pending (its PBA bit), to be delivered once the guest unmasks it. */
#define SAVED_PENDING 0x80000000u

void msix_save(struct msix *m, struct device_stream *out)
{
	uint32_t nr = m->nr;

	pthread_mutex_lock(&m->lock);
	stream_put(out, &nr, sizeof(nr));
	for (unsigned int i = 0; i < m->nr; i++) {
		const struct msix_vector *v = &m->v[i];
		uint32_t e[4] = {v->addr_lo, v->addr_hi, v->data,
				 v->ctrl | (msix_pending(v) ? SAVED_PENDING : 0)};

		stream_put(out, e, sizeof(e));
	}
	pthread_mutex_unlock(&m->lock);
}

int msix_load(struct msix *m, struct device_stream *in)
{
	uint64_t pending[(MSIX_MAX_VECTORS + 63) / 64] = {0};
	uint32_t nr;

	stream_get(in, &nr, sizeof(nr));
	if (in->err || nr != m->nr)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	for (unsigned int i = 0; i < m->nr; i++) {
		struct msix_vector *v = &m->v[i];
		uint32_t e[4];

		stream_get(in, e, sizeof(e));
		v->addr_lo = e[0], v->addr_hi = e[1], v->data = e[2];
		v->ctrl = e[3] & MSIX_VEC_MASKED;
		if (e[3] & SAVED_PENDING)
			pending[i / 64] |= 1ULL << (i % 64);
	}
	pthread_mutex_unlock(&m->lock);
	if (in->err)
		return in->err;
	/* Enable and function mask from the restored config space; routes follow. */
	msix_cfg_write(m, m->cap + 2, 2);
	for (unsigned int i = 0; i < m->nr; i++)
		if (pending[i / 64] >> (i % 64) & 1)
			msix_notify(m, i); /* pending again, or delivered if unmasked */
	return 0;
}

int msix_vector_fd(struct msix *m, unsigned int vector)
{
	return vector < m->nr ? m->v[vector].efd : -1;
}
