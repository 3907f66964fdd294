/* Interrupt plumbing (see irq.h): the GSI routing table and irqfd. */
#include "vmm/irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/arch.h"
#include "vmm/log.h"
#include "vmm/machine.h"

static struct kvm_irq_routing_entry *irq_entries(struct irq_state *s)
{
	return s->table->entries;
}

static int irq_commit(struct machine *m)
{
	return ioctl(m->vm_fd, KVM_SET_GSI_ROUTING, m->irq.table) < 0 ? -errno : 0;
}

int irq_init(struct machine *m)
{
	struct irq_state *s = &m->irq;
	size_t max = IRQ_MAX_WIRED_ROUTES + IRQ_MAX_GSI;
	int n;

	memset(s, 0, sizeof(*s));
	s->table = calloc(1, sizeof(*s->table) + max * sizeof(s->table->entries[0]));
	if (!s->table)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	/* Replacing KVM's table means restating its default wired routes. */
	n = arch_irq_routes(irq_entries(s), IRQ_MAX_WIRED_ROUTES, &s->nr_wired);
	if (n < 0)
		return n;
	s->table->nr = (uint32_t)n;
	s->next_gsi = s->nr_wired;
	/* arm64 answers yes once arch_vm_init has made the ITS; x86 never does. */
	s->msi_devid = ioctl(m->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MSI_DEVID) > 0;
	return irq_commit(m);
}

void irq_destroy(struct machine *m)
{
	if (!m->irq.table)
		return;
	free(m->irq.table);
	m->irq.table = NULL;
	pthread_mutex_destroy(&m->irq.lock);
}

void irq_line(struct machine *m, unsigned int irq, bool level)
{
	struct kvm_irq_level l = {.irq = arch_irq_line(irq), .level = level};

	if (ioctl(m->vm_fd, KVM_IRQ_LINE, &l) < 0)
		log_guest("KVM_IRQ_LINE %u failed: %m", irq);
}

int irq_msi_alloc(struct machine *m)
{
	struct irq_state *s = &m->irq;
	int gsi = -ENOSPC;

	pthread_mutex_lock(&s->lock);
	for (uint32_t g = s->nr_wired; g < IRQ_MAX_GSI; g++) {
		if (!(s->used[g / 8] & (1u << (g % 8)))) {
			s->used[g / 8] |= (uint8_t)(1u << (g % 8));
			gsi = (int)g;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return gsi;
}

/* Index of gsi's MSI entry, or -1. Lock held. */
static int irq_find_msi(struct irq_state *s, uint32_t gsi)
{
	for (uint32_t i = 0; i < s->table->nr; i++)
		if (irq_entries(s)[i].gsi == gsi && irq_entries(s)[i].type == KVM_IRQ_ROUTING_MSI)
			return (int)i;
	return -1;
}

int irq_msi_route(struct machine *m, uint32_t gsi, uint64_t addr, uint32_t data, uint32_t devid)
{
	struct irq_state *s = &m->irq;
	int i, ret;

	if (gsi >= IRQ_MAX_GSI || gsi < s->nr_wired)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	i = irq_find_msi(s, gsi);
	if (i < 0)
		i = (int)s->table->nr++;
	irq_entries(s)[i] = (struct kvm_irq_routing_entry){
	    .gsi = gsi,
	    .type = KVM_IRQ_ROUTING_MSI,
	    .u.msi = {
		.address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data}};
	if (s->msi_devid) {
		irq_entries(s)[i].flags = KVM_MSI_VALID_DEVID;
		irq_entries(s)[i].u.msi.devid = devid;
	}
	ret = irq_commit(m);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

void irq_msi_free(struct machine *m, uint32_t gsi)
{
	struct irq_state *s = &m->irq;
	int i;

	if (gsi >= IRQ_MAX_GSI)
		return;
	pthread_mutex_lock(&s->lock);
	i = irq_find_msi(s, gsi);
	if (i >= 0) {
		irq_entries(s)[i] = irq_entries(s)[--s->table->nr];
		irq_commit(m);
	}
	s->used[gsi / 8] &= (uint8_t) ~(1u << (gsi % 8));
	pthread_mutex_unlock(&s->lock);
}

static int irq_kvm_irqfd(struct machine *m, int efd, uint32_t gsi, int resample_fd, bool assign)
{
	struct kvm_irqfd fd = {.fd = (uint32_t)efd, .gsi = gsi};

	if (!assign)
		fd.flags = KVM_IRQFD_FLAG_DEASSIGN;
	else if (resample_fd >= 0) {
		fd.flags = KVM_IRQFD_FLAG_RESAMPLE;
		fd.resamplefd = (uint32_t)resample_fd;
	}
	return ioctl(m->vm_fd, KVM_IRQFD, &fd) < 0 ? -errno : 0;
}

/* Index of efd's deferred irqfd on gsi, or -1. Lock held. */
static int irq_find_deferred(struct irq_state *s, int efd, uint32_t gsi)
{
	for (unsigned int i = 0; i < s->nr_deferred; i++)
		if (s->deferred[i].efd == efd && s->deferred[i].gsi == gsi)
			return (int)i;
	return -1;
}

int irq_irqfd(struct machine *m, int efd, uint32_t gsi, int resample_fd, bool assign)
{
	struct irq_state *s = &m->irq;
	int ret, i;

	pthread_mutex_lock(&s->lock);
	if (!s->chip_ready && (i = irq_find_deferred(s, efd, gsi)) >= 0) {
		if (!assign) /* never reached KVM: forgetting it is the deassign */
			s->deferred[i] = s->deferred[--s->nr_deferred];
		pthread_mutex_unlock(&s->lock);
		return assign ? -EEXIST : 0;
	}
	ret = irq_kvm_irqfd(m, efd, gsi, resample_fd, assign);
	if (ret == -EAGAIN && assign && !s->chip_ready) {
		ret = -ENOSPC;
		if (s->nr_deferred < IRQ_MAX_DEFERRED) {
			s->deferred[s->nr_deferred++] = (struct irq_deferred){
			    .efd = efd, .resample_fd = resample_fd, .gsi = gsi};
			ret = 0;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int irq_chip_ready(struct machine *m)
{
	struct irq_state *s = &m->irq;
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	s->chip_ready = true;
	for (unsigned int i = 0; i < s->nr_deferred && ret == 0; i++) {
		const struct irq_deferred *d = &s->deferred[i];

		ret = irq_kvm_irqfd(m, d->efd, d->gsi, d->resample_fd, true);
		if (ret < 0)
			log_err("cannot connect the irqfd of GSI %u: %s", d->gsi, strerror(-ret));
	}
	s->nr_deferred = 0;
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int irq_signal_msi(struct machine *m, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = {
	    .address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data};

	return ioctl(m->vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -errno : 0;
}
