/* The device side of the virtio PCI transport (see virtio_pci.h, virtio_pci_queue.h):
 * interrupts (MSI-X or INTx with the ISR), serving queues, the transport taking the
 * queues back from a back end that went away, and the device's I/O thread (kicks, the
 * control channel to an external back end, reconnection). virtio_pci.c, the PCI side
 * (config space, BAR, capabilities, creation, save and load), calls down into this
 * file; nothing here calls up, but through the backend's ops. */
#include "devices/virtio_pci_queue.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/irq.h"
#include "vmm/log.h"
#include "vmm/machine.h"

#define PCI_COMMAND_OFF	     0x04
#define PCI_COMMAND_INTX_OFF 0x400

/* Interrupts */

void vp_intx_set(struct virtio_dev *vd, bool level)
{
	uint16_t cmd;

	memcpy(&cmd, &vd->pci.cfg[PCI_COMMAND_OFF], 2);

	/* The guest may have disabled INTx in the command register; the ISR keeps the
	 * reason so that nothing is lost when it looks. */
	if (level && (cmd & PCI_COMMAND_INTX_OFF))
		level = false;
	if (level == vd->intx_high)
		return;
	vd->intx_high = level;
	irq_line(vd->mach, pci_intx_gsi(vd->pci.devfn, 1), level);
}

void vp_interrupt(struct virtio_dev *vd, uint16_t vector, uint8_t isr_bit)
{
	vd->stat_irqs++;
	if (msix_enabled(&vd->msix)) {
		if (vector != VIRTIO_MSI_NO_VECTOR)
			msix_notify(&vd->msix, vector);
		return;
	}
	pthread_mutex_lock(&vd->intx_lock);
	vd->isr |= isr_bit;
	vp_intx_set(vd, true);
	pthread_mutex_unlock(&vd->intx_lock);
}

uint8_t vp_isr_read_clear(struct virtio_dev *vd)
{
	uint8_t v;

	pthread_mutex_lock(&vd->intx_lock);
	v = vd->isr;
	vd->isr = 0;
	vp_intx_set(vd, false);
	pthread_mutex_unlock(&vd->intx_lock);
	return v;
}

void virtio_config_changed(struct virtio_dev *vd)
{
	vp_interrupt(vd, vd->config_vector, VIRTIO_PCI_ISR_CONFIG);
}

/* The device cannot go on (a broken ring): say so and let the driver reset us. Called
 * with vd->lock held. */
void vp_needs_reset(struct virtio_dev *vd)
{
	if (vd->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	vd->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	if (vd->status & VIRTIO_CONFIG_S_DRIVER_OK)
		virtio_config_changed(vd);
}

void virtio_serve_queue(struct virtio_dev *vd, unsigned int q, virtio_chain_fn fn)
{
	struct virtq *vq = &vd->q[q].vq;
	struct virtq_chain *c = &vd->chain;
	int ret;

	for (;;) {
		virtq_disable_notify(vq);
		while ((ret = virtq_pop(vq, c)) != 0) {
			if (ret > 0) {
				virtq_complete(vq, c, fn(vd, q, c));
				vd->stat_chains++;
			} else if (c->head != VIRTQ_NO_HEAD)
				virtq_complete(vq, c, 0); /* logged by virtq_pop */
		}
		virtio_queue_notify_driver(vd, q);
		if (!virtq_enable_notify(vq))
			break;
	}
}

void virtio_queue_notify_driver(struct virtio_dev *vd, unsigned int q)
{
	struct virtq *vq = &vd->q[q].vq;

	if (virtq_need_notify(vq))
		vp_interrupt(vd, vd->q[q].msix_vector, 1);
	if (vq->broken)
		vp_needs_reset(vd);
}

void vp_kick(struct virtio_dev *vd, unsigned int q)
{
	if (eventfd_write(vd->q[q].kick_fd, 1) < 0)
		log_err("%s: cannot signal queue %u: %m", vd->name, q);
}

/* External queues: the I/O thread runs op (start or stop the back end) while this
 * vCPU waits; vd->lock stays held meanwhile, so the queues cannot change under it. */
int vp_run_ctl(struct virtio_dev *vd, int op)
{
	int ret;

	if (!vd->thread_running || vd->ctl_fd < 0)
		return -ESRCH;
	pthread_mutex_lock(&vd->ctl_lock);
	vd->ctl_op = op;
	vd->ctl_done = false;
	if (eventfd_write(vd->ctl_fd, 1) < 0) {
		pthread_mutex_unlock(&vd->ctl_lock);
		return -errno;
	}
	while (!vd->ctl_done)
		pthread_cond_wait(&vd->ctl_cond, &vd->ctl_lock);
	ret = vd->ctl_ret;
	pthread_mutex_unlock(&vd->ctl_lock);
	return ret;
}

int virtio_queue_call_fd(struct virtio_dev *vd, unsigned int q)
{
	if (msix_enabled(&vd->msix) && vd->q[q].msix_vector != VIRTIO_MSI_NO_VECTOR)
		return msix_vector_fd(&vd->msix, vd->q[q].msix_vector);
	return vd->intx_call[q];
}

/* The back end is gone (or would not start): the transport serves the queues from now
 * on, from where the used rings stand, and tells the driver the device needs a reset.
 * vd->lock held. A reset later and a new DRIVER_OK try the back end again; it fails at
 * once and the queues are taken back again, so that the driver's requests always end
 * (with errors) instead of waiting for a back end that is not there. */
void vp_takeover(struct virtio_dev *vd)
{
	vd->external_running = false;
	vd->takeover = true;
	for (unsigned int i = 0; i < vd->ops->nr_queues; i++) {
		struct virtq *vq = &vd->q[i].vq;

		if (!vd->q[i].enabled || !vq->ready)
			continue;
		/* What the back end returned is in the used ring; from there on, whatever
		 * it had taken is answered again (the driver still waits for it). */
		vq->used_idx = __atomic_load_n((uint16_t *)(vq->used + 2), __ATOMIC_ACQUIRE);
		vq->last_avail = vq->used_idx;
		vq->signalled_valid = false;
		vp_kick(vd, i);
	}
	vp_needs_reset(vd);
}

/* The I/O thread */

/* External queues: the I/O thread serves a control request (vp_run_ctl). A start that
 * fails leaves the queues to the transport (vp_takeover, which the waiting vCPU does):
 * set here, so that this thread polls their kicks from its next round on. */
static void serve_ctl(struct virtio_dev *vd)
{
	eventfd_t n;
	int op, ret = 0;

	eventfd_read(vd->ctl_fd, &n);
	pthread_mutex_lock(&vd->ctl_lock);
	op = vd->ctl_op;
	pthread_mutex_unlock(&vd->ctl_lock);
	if (op == CTL_START)
		ret = vd->ops->start(vd);
	else if (op == CTL_STOP && vd->ops->stop)
		vd->ops->stop(vd);
	if (ret < 0)
		__atomic_store_n(&vd->takeover, true, __ATOMIC_RELEASE);
	pthread_mutex_lock(&vd->ctl_lock);
	vd->ctl_ret = ret;
	vd->ctl_done = true;
	pthread_cond_broadcast(&vd->ctl_cond);
	pthread_mutex_unlock(&vd->ctl_lock);
}

/* vd->lock for the I/O thread when a vCPU may hold it while it waits in vp_run_ctl for
 * this very thread: such a request is served meanwhile (the back end is gone, so it
 * fails at once) instead of both waiting for ever. */
static void lock_serving_ctl(struct virtio_dev *vd)
{
	while (pthread_mutex_trylock(&vd->lock) != 0) {
		struct pollfd p = {.fd = vd->ctl_fd, .events = POLLIN};

		if (poll(&p, 1, 1) == 1)
			serve_ctl(vd);
	}
}

/* External queues: the control request and back-end events. */
static void external_event(struct virtio_dev *vd, int fd)
{
	eventfd_t n;

	if (fd == vd->ctl_fd) {
		serve_ctl(vd);
		return;
	}
	for (unsigned int i = 0; i < vd->ops->nr_queues; i++)
		if (fd == vd->intx_call[i]) {
			eventfd_read(fd, &n);
			vp_interrupt(vd, VIRTIO_MSI_NO_VECTOR, 1);
			return;
		}
	/* The watch fd: the back end went away. */
	if (vd->ops->gone)
		vd->ops->gone(vd);
	lock_serving_ctl(vd);
	vp_takeover(vd);
	pthread_mutex_unlock(&vd->lock);
}

/* The retry clock is its own, not poll's timeout alone: a guest whose requests keep
 * the thread busy (seen: a mount tried every half second) must not put the next try
 * off for as long as it keeps them coming. */
int virtio_reconnect_timeout(uint64_t *next, bool retrying)
{
	uint64_t now;

	if (!retrying) {
		*next = 0;
		return -1;
	}
	now = machine_now_ns();
	if (!*next)
		*next = now + VIRTIO_RECONNECT_MS * 1000000ULL;
	return *next > now ? (int)((*next - now + 999999) / 1000000) : 0;
}

bool virtio_reconnect_due(uint64_t *next)
{
	uint64_t now = machine_now_ns();

	if (!*next || now < *next)
		return false;
	*next = now + VIRTIO_RECONNECT_MS * 1000000ULL;
	return true;
}

/* A back end that went away and came back (ops->reconnects): the I/O thread, once a
 * second while it serves the queues in the back end's stead, calls start again; when
 * it succeeds the back end takes the rings from where they stand. Every request
 * before each queue's last_avail was answered (with an error) by the transport, whose
 * chains never outlive one virtio_serve_queue under vd->lock, so the rings hold no
 * request half-served; the back end is told last_avail (SET_VRING_BASE) and serves
 * what the driver queued since. The device no longer needs a reset; its driver never
 * has to know beyond the errors it saw meanwhile. */
static void try_reconnect(struct virtio_dev *vd)
{
	lock_serving_ctl(vd);
	if ((vd->status & VIRTIO_CONFIG_S_DRIVER_OK) && vd->takeover && vd->ops->start(vd) == 0) {
		__atomic_store_n(&vd->takeover, false, __ATOMIC_RELEASE);
		vd->external_running = true;
		vd->status &= (uint8_t)~VIRTIO_CONFIG_S_NEEDS_RESET;
		for (unsigned int i = 0; i < vd->ops->nr_queues; i++)
			if (vd->q[i].enabled)
				vp_kick(vd, i); /* the back end looks at what is waiting */
		log_info("%s: the back end is back: it serves the queues again", vd->name);
	}
	pthread_mutex_unlock(&vd->lock);
}

static void *vp_thread(void *arg)
{
	struct virtio_dev *vd = arg;
	struct pollfd pfd[2 + 2 * VIRTIO_PCI_MAX_QUEUES];
	unsigned int nq = vd->ops->nr_queues;
	uint64_t next_try = 0;
	eventfd_t n;

	if (!machine_thread_enter(vd->mach, vd->ops->io_kind ? vd->ops->io_kind : SECCOMP_THREAD_IO,
				  vd->name))
		return NULL;
	for (;;) {
		/* Kicks are ours unless a back end serves the queues. */
		bool kicks = !vd->ops->start || __atomic_load_n(&vd->takeover, __ATOMIC_ACQUIRE);
		int watch = vd->ops->watch_fd ? vd->ops->watch_fd(vd) : -1;
		unsigned int np = 0, first_ext;
		bool retry;
		int ret;

		pfd[np++] = (struct pollfd){.fd = vd->stop_fd, .events = POLLIN};
		for (unsigned int i = 0; kicks && i < nq; i++)
			pfd[np++] = (struct pollfd){.fd = vd->q[i].kick_fd, .events = POLLIN};
		first_ext = np;
		if (vd->ops->start) {
			pfd[np++] = (struct pollfd){.fd = vd->ctl_fd, .events = POLLIN};
			for (unsigned int i = 0; i < nq; i++)
				pfd[np++] =
				    (struct pollfd){.fd = vd->intx_call[i], .events = POLLIN};
			if (watch >= 0)
				pfd[np++] = (struct pollfd){.fd = watch, .events = POLLIN};
		}
		/* Read without vd->lock: a stale view costs one round of waiting. */
		retry =
		    vd->ops->reconnects && kicks && watch < 0 &&
		    (__atomic_load_n(&vd->status, __ATOMIC_RELAXED) & VIRTIO_CONFIG_S_DRIVER_OK);
		ret = poll(pfd, np, virtio_reconnect_timeout(&next_try, retry));
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			log_err("%s: I/O thread: poll failed: %m", vd->name);
			return NULL;
		}
		if (pfd[0].revents)
			return NULL;
		if (retry && virtio_reconnect_due(&next_try)) {
			try_reconnect(vd); /* what poll saw is still there next round */
			continue;
		}
		for (unsigned int k = first_ext; k < np; k++)
			if (pfd[k].revents)
				external_event(vd, pfd[k].fd);
		for (unsigned int i = 0; kicks && i < nq; i++) {
			if (!pfd[1 + i].revents)
				continue;
			eventfd_read(vd->q[i].kick_fd, &n); /* nonblocking; just clears */
			vd->stat_kicks++;
			pthread_mutex_lock(&vd->lock);
			/* No buffers are used before DRIVER_OK (virtio 1.2, 3.1.1); none while
			 * frozen (virtio_dev_thaw kicks every queue again). */
			if ((vd->status & VIRTIO_CONFIG_S_DRIVER_OK) && vd->q[i].enabled &&
			    !vd->frozen)
				vd->ops->queue_notify(vd, i);
			pthread_mutex_unlock(&vd->lock);
		}
	}
}

int vp_start_thread(struct virtio_dev *vd)
{
	sigset_t all, old;
	int ret;

	/* Signals are the main thread's business (and SIGUSR-style vCPU kicks the vCPU
	 * threads'): block them all here, the new thread inherits the mask. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&vd->thread, NULL, vp_thread, vd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return -ret;
	vd->thread_running = true;
	return 0;
}

void vp_stop_thread(struct virtio_dev *vd)
{
	if (!vd->thread_running)
		return;
	if (eventfd_write(vd->stop_fd, 1) < 0)
		log_err("%s: cannot stop the I/O thread: %m", vd->name);
	pthread_join(vd->thread, NULL);
	vd->thread_running = false;
}
