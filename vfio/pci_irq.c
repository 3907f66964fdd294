/* Interrupts of a passed-through device: INTx, MSI and MSI-X, switched at run time as
 * the guest's driver enables and disables them.
 *
 * The device's real interrupts are the host kernel's (VFIO_DEVICE_SET_IRQS); we only
 * hand it eventfds, and KVM injects from those eventfds through irqfds, so no VMM
 * thread sits in the interrupt path:
 *   - MSI-X: the vector eventfds of the emulated MSI-X table (devices/msix.c), which
 *     also owns their GSIs, routes and masking;
 *   - MSI: one eventfd and one GSI per enabled vector, routed from the emulated
 *     capability (address, data with the vector number in its low bits), per-vector
 *     masking by disconnecting the irqfd (a signal meanwhile stays counted and is
 *     delivered on unmask);
 *   - INTx: a level-triggered irqfd on the slot's IOAPIC pin with a resample eventfd
 *     that VFIO uses as its unmask trigger: VFIO masks the line when it fires, KVM
 *     signals the resample eventfd when the guest EOIs, VFIO unmasks; a device that
 *     still asserts the line fires again, one interrupt per EOI, never a storm.
 *     Some drivers (mediated device samples such as mtty) take no unmask eventfd;
 *     for them a small thread waits on the resample eventfd and unmasks through
 *     VFIO_DEVICE_SET_IRQS, so the same level semantics hold, one syscall later.
 * VFIO allows one of the three at a time, so a switch turns the old one off first.
 *
 * irq_lock serializes switches (config writes and MSI-X enable callbacks). */
#include <errno.h>
#include <linux/pci_regs.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vfio/internal.h"
#include "vmm/irq.h"
#include "vmm/log.h"
#include "vmm/machine.h"

static const char *const mode_names[] = {"none", "INTx", "MSI", "MSI-X"};

#define VFIO_MODE_LOGS 16

static int set_irqs(struct vfio_pci *vp, uint32_t index, uint32_t flags, uint32_t count,
		    const int32_t *fds)
{
	size_t n = (flags & VFIO_IRQ_SET_DATA_EVENTFD) ? count : 0;
	struct vfio_irq_set *s = calloc(1, sizeof(*s) + n * sizeof(int32_t));
	int ret;

	if (!s)
		return -ENOMEM;
	s->argsz = (uint32_t)(sizeof(*s) + n * sizeof(int32_t));
	s->flags = flags;
	s->index = index;
	s->start = 0;
	s->count = count;
	if (n)
		memcpy(s->data, fds, n * sizeof(int32_t));
	ret = ioctl(vp->fd, VFIO_DEVICE_SET_IRQS, s) < 0 ? -errno : 0;
	free(s);
	return ret;
}

static void drain(int efd)
{
	uint64_t v;

	if (read(efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_guest("eventfd read failed: %m");
}

uint32_t vfio_msi_data(uint32_t data, unsigned int nr, unsigned int i)
{
	/* With nr vectors the device replaces the low log2(nr) bits of data by the
	 * vector number. */
	return (data & ~(uint32_t)(nr - 1)) | i;
}

/* The unmask thread of a device without an unmask eventfd: each guest EOI (the
 * resample eventfd) becomes an unmask. It touches only the device fd and its own
 * eventfds, never irq_lock, which intx_thread_stop holds while joining it. */
static void *intx_unmask_thread(void *opaque)
{
	struct vfio_pci *vp = opaque;
	struct pollfd p[2] = {{.fd = vp->intx_resample, .events = POLLIN},
			      {.fd = vp->intx_stop, .events = POLLIN}};

	if (!machine_thread_enter(vp->mach, SECCOMP_THREAD_IO_VFIO, vp->name))
		return NULL;
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_guest("%s: INTx unmask thread: poll failed: %m", vp->name);
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		if (p[0].revents & POLLIN) {
			drain(vp->intx_resample);
			set_irqs(vp, VFIO_PCI_INTX_IRQ_INDEX,
				 VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, 1, NULL);
		}
	}
}

static int intx_thread_start(struct vfio_pci *vp)
{
	int ret;

	vp->intx_stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vp->intx_stop < 0)
		return -errno;
	ret = -pthread_create(&vp->intx_thread, NULL, intx_unmask_thread, vp);
	if (ret < 0) {
		close(vp->intx_stop);
		vp->intx_stop = -1;
		return ret;
	}
	if (!vp->intx_thread_logged) {
		vp->intx_thread_logged = true;
		log_info("%s: its driver takes no INTx unmask eventfd; a VMM thread unmasks on "
			 "guest EOI",
			 vp->name);
	}
	return 0;
}

static void intx_thread_stop(struct vfio_pci *vp)
{
	uint64_t one = 1;

	if (vp->intx_stop < 0)
		return;
	if (write(vp->intx_stop, &one, sizeof(one)) != sizeof(one))
		log_warn("%s: cannot stop the INTx unmask thread: %m", vp->name);
	else
		pthread_join(vp->intx_thread, NULL);
	close(vp->intx_stop);
	vp->intx_stop = -1;
}

static int intx_on(struct vfio_pci *vp)
{
	int ret;

	if (vp->intx_efd < 0) {
		vp->intx_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		vp->intx_resample = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->intx_efd < 0 || vp->intx_resample < 0)
			return -errno;
	}
	/* A count left from an earlier INTx period would inject a stale interrupt. */
	drain(vp->intx_efd);
	drain(vp->intx_resample);
	ret = set_irqs(vp, VFIO_PCI_INTX_IRQ_INDEX,
		       VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 1, &vp->intx_efd);
	if (ret < 0)
		return ret;
	ret = irq_irqfd(vp->mach, vp->intx_efd, vp->intx_gsi, vp->intx_resample, true);
	if (ret == 0) {
		ret = set_irqs(vp, VFIO_PCI_INTX_IRQ_INDEX,
			       VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, 1,
			       &vp->intx_resample);
		/* vfio-pci returns 0; drivers without unmask eventfds ENOTTY or EINVAL. */
		if (ret == -ENOTTY || ret == -EINVAL)
			ret = intx_thread_start(vp);
	}
	if (ret < 0) {
		irq_irqfd(vp->mach, vp->intx_efd, vp->intx_gsi, vp->intx_resample, false);
		set_irqs(vp, VFIO_PCI_INTX_IRQ_INDEX,
			 VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, NULL);
		return ret;
	}
	/* It may have fired and been masked before the unmask eventfd was in place. */
	set_irqs(vp, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
		 1, NULL);
	return 0;
}

static void intx_off(struct vfio_pci *vp)
{
	intx_thread_stop(vp);
	set_irqs(vp, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		 0, NULL);
	irq_irqfd(vp->mach, vp->intx_efd, vp->intx_gsi, vp->intx_resample, false);
}

/* Routes and (un)masks the enabled MSI vectors from the emulated capability. */
static void msi_update(struct vfio_pci *vp)
{
	struct vfio_msi *m = &vp->msi;
	const uint8_t *c = &vp->pci.cfg[m->cap];
	uint32_t data_off = m->is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32;
	uint32_t mask_off = m->is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32;
	uint64_t addr = pci_cfg_read32(&vp->pci, m->cap + PCI_MSI_ADDRESS_LO);

	if (m->is64)
		addr |= (uint64_t)pci_cfg_read32(&vp->pci, m->cap + PCI_MSI_ADDRESS_HI) << 32;
	m->addr = addr;
	m->data = (uint32_t)(c[data_off] | c[data_off + 1] << 8);
	m->mask = m->pvm ? pci_cfg_read32(&vp->pci, m->cap + mask_off) : 0;
	for (unsigned int i = 0; i < m->nr; i++) {
		bool masked = (m->mask >> i) & 1;

		if (irq_msi_route(vp->mach, (uint32_t)m->gsi[i], m->addr,
				  vfio_msi_data(m->data, m->nr, i), vp->pci.devfn) < 0)
			log_guest("%s: cannot route MSI vector %u", vp->name, i);
		if (masked == !m->live[i]) /* already as wanted */
			continue;
		if (irq_irqfd(vp->mach, m->efd[i], (uint32_t)m->gsi[i], -1, !masked) == 0)
			m->live[i] = !masked;
	}
}

static void msi_off(struct vfio_pci *vp)
{
	struct vfio_msi *m = &vp->msi;

	if (m->nr)
		set_irqs(vp, VFIO_PCI_MSI_IRQ_INDEX,
			 VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, NULL);
	for (unsigned int i = 0; i < VFIO_MSI_MAX; i++) {
		if (m->live[i])
			irq_irqfd(vp->mach, m->efd[i], (uint32_t)m->gsi[i], -1, false);
		m->live[i] = false;
		if (m->gsi[i] >= 0)
			irq_msi_free(vp->mach, (uint32_t)m->gsi[i]);
		if (m->efd[i] >= 0)
			close(m->efd[i]);
		m->gsi[i] = m->efd[i] = -1;
	}
	m->nr = 0;
}

static int msi_on(struct vfio_pci *vp, unsigned int n)
{
	struct vfio_msi *m = &vp->msi;
	int ret;

	for (unsigned int i = 0; i < n; i++) {
		m->efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (m->efd[i] < 0) {
			ret = -errno;
			goto err;
		}
		m->gsi[i] = irq_msi_alloc(vp->mach);
		if (m->gsi[i] < 0) {
			ret = m->gsi[i];
			goto err;
		}
		m->nr = i + 1;
	}
	msi_update(vp);
	ret = set_irqs(vp, VFIO_PCI_MSI_IRQ_INDEX,
		       VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, n, m->efd);
	if (ret == 0)
		return 0;
err:
	m->nr = n; /* msi_off releases what was taken; its SET_IRQS off is harmless */
	msi_off(vp);
	return ret;
}

static int msix_on(struct vfio_pci *vp)
{
	int32_t *fds = calloc(vp->msix.nr, sizeof(*fds));
	int ret;

	if (!fds)
		return -ENOMEM;
	for (unsigned int i = 0; i < vp->msix.nr; i++)
		fds[i] = vp->msix.v[i].efd;
	ret = set_irqs(vp, VFIO_PCI_MSIX_IRQ_INDEX,
		       VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, vp->msix.nr, fds);
	free(fds);
	return ret;
}

static void mode_off(struct vfio_pci *vp)
{
	switch (vp->mode) {
	case VFIO_IRQ_INTX:
		intx_off(vp);
		break;
	case VFIO_IRQ_MSI:
		msi_off(vp);
		break;
	case VFIO_IRQ_MSIX:
		set_irqs(vp, VFIO_PCI_MSIX_IRQ_INDEX,
			 VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, NULL);
		break;
	case VFIO_IRQ_NONE:
		break;
	}
	vp->mode = VFIO_IRQ_NONE;
}

static int mode_on(struct vfio_pci *vp, enum vfio_irq_mode mode, unsigned int msi_nr)
{
	int ret = 0;

	switch (mode) {
	case VFIO_IRQ_INTX:
		ret = intx_on(vp);
		break;
	case VFIO_IRQ_MSI:
		ret = msi_on(vp, msi_nr);
		break;
	case VFIO_IRQ_MSIX:
		ret = msix_on(vp);
		break;
	case VFIO_IRQ_NONE:
		break;
	}
	if (ret == 0)
		vp->mode = mode;
	return ret;
}

void vfio_irq_update(struct vfio_pci *vp)
{
	const uint8_t *msi = vp->msi.cap ? &vp->pci.cfg[vp->msi.cap] : NULL;
	enum vfio_irq_mode want = VFIO_IRQ_NONE;
	unsigned int nr = 0;
	int ret;

	if (vp->has_msix && msix_enabled(&vp->msix))
		want = VFIO_IRQ_MSIX;
	else if (msi && (msi[PCI_MSI_FLAGS] & PCI_MSI_FLAGS_ENABLE)) {
		want = VFIO_IRQ_MSI;
		nr = 1u << ((msi[PCI_MSI_FLAGS] & PCI_MSI_FLAGS_QSIZE) >> 4);
	} else if (vp->pin)
		want = VFIO_IRQ_INTX;
	pthread_mutex_lock(&vp->irq_lock);
	if (vp->fd < 0) { /* no device behind (unit tests): only track the mode */
		vp->mode = want;
		goto out;
	}
	if (want == vp->mode && (want != VFIO_IRQ_MSI || nr == vp->msi.nr)) {
		if (want == VFIO_IRQ_MSI)
			msi_update(vp);
		goto out;
	}
	mode_off(vp);
	ret = mode_on(vp, want, nr);
	if (ret < 0) {
		log_guest("%s: cannot switch its interrupts to %s: %s", vp->name, mode_names[want],
			  strerror(-ret));
		if (want != VFIO_IRQ_INTX && vp->pin)
			mode_on(vp, VFIO_IRQ_INTX, 0);
	}
	/* Worth seeing when a guest driver misbehaves; a guest must not flood the log. */
	if (vp->mode_logs < VFIO_MODE_LOGS) {
		vp->mode_logs++;
		log_info("%s: interrupts now %s%s", vp->name, mode_names[vp->mode],
			 vp->mode_logs == VFIO_MODE_LOGS ? " (further switches not logged)" : "");
	}
out:
	pthread_mutex_unlock(&vp->irq_lock);
}

void vfio_irq_msix_enable(struct msix *m, bool enabled, void *opaque)
{
	(void)m;
	(void)enabled; /* vfio_irq_update reads the state itself */
	vfio_irq_update(opaque);
}

void vfio_irq_teardown(struct vfio_pci *vp)
{
	pthread_mutex_lock(&vp->irq_lock);
	if (vp->fd >= 0)
		mode_off(vp);
	vp->mode = VFIO_IRQ_NONE;
	if (vp->intx_efd >= 0)
		close(vp->intx_efd);
	if (vp->intx_resample >= 0)
		close(vp->intx_resample);
	vp->intx_efd = vp->intx_resample = -1;
	pthread_mutex_unlock(&vp->irq_lock);
}

static const struct {
	uint32_t index;
	enum machine_watch kind;
	const char *what;
} watched[2] = {{VFIO_PCI_REQ_IRQ_INDEX, MACHINE_WATCH_RELEASE, "device request"},
		{VFIO_PCI_ERR_IRQ_INDEX, MACHINE_WATCH_ERROR, "error"}};

void vfio_irq_watch_start(struct vfio_pci *vp)
{
	for (int i = 0; i < 2; i++) {
		int32_t efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

		vp->watch_efd[i] = -1;
		if (efd < 0)
			continue;
		if (set_irqs(vp, watched[i].index,
			     VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 1,
			     &efd) < 0) {
			log_info("%s: no %s interrupt", vp->name, watched[i].what);
			close(efd);
			continue;
		}
		if (machine_watch(vp->mach, efd, watched[i].kind, vp->pci.devfn >> 3) < 0) {
			set_irqs(vp, watched[i].index,
				 VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, NULL);
			close(efd);
			continue;
		}
		vp->watch_efd[i] = efd;
	}
}

void vfio_irq_watch_stop(struct vfio_pci *vp)
{
	for (int i = 0; i < 2; i++) {
		if (vp->watch_efd[i] < 0)
			continue;
		machine_unwatch(vp->mach, vp->watch_efd[i]);
		set_irqs(vp, watched[i].index, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
			 0, NULL);
		close(vp->watch_efd[i]);
		vp->watch_efd[i] = -1;
	}
}

void vfio_irq_kick(struct vfio_pci *vp)
{
	pthread_mutex_lock(&vp->irq_lock);
	if (vp->fd >= 0 && vp->mode == VFIO_IRQ_INTX &&
	    set_irqs(vp, VFIO_PCI_INTX_IRQ_INDEX,
		     VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 1, NULL) < 0)
		log_warn("%s: cannot signal its INTx after the restore: %m", vp->name);
	pthread_mutex_unlock(&vp->irq_lock);
}
