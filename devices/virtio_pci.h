/* Virtio 1.x over PCI (modern only; virtio 1.2, section 4.1): the transport's contract
 * with the device types ("backends": block, net, console, entropy), that is what a
 * backend implements (struct virtio_backend_ops) and what it may call. Nothing else
 * lives here, so a backend sees only the transport: the backends' constructors are in
 * virtio_backends.h, the VM's list of devices in virtio_devices.h.
 *
 * The transport is a struct pci_dev with one 64-bit memory BAR (BAR 4, 16 KiB) holding
 * the common configuration, ISR, device configuration and notification regions, each
 * described by a vendor capability, plus the MSI-X table and PBA (one vector for config
 * changes and one per queue). The guest's queue notifications land on one eventfd per
 * queue (KVM_IOEVENTFD on the notify address, or written by the MMIO handler where that
 * is not available) and are served by one I/O thread per device, so requests never run
 * on a vCPU thread. Interrupts go out through msix_notify(), or INTx when the guest has
 * not enabled MSI-X.
 *
 * Locking: vd->lock guards the transport state (features, status, queues) and is held by
 * the I/O thread while it serves a queue, so a reset from a vCPU waits for requests in
 * flight and then nothing touches the rings again. vd->intx_lock pairs the ISR with the
 * INTx line. Lock order: PCI config lock -> vd->lock -> msix lock. */
#ifndef MINIVMM_VIRTIO_PCI_H
#define MINIVMM_VIRTIO_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_config.h> /* VIRTIO_CONFIG_S_*, VIRTIO_F_*, for backends too */

#include "devices/msix.h"
#include "devices/pci.h"
#include "devices/virtqueue.h"
#include "vmm/seccomp.h"

struct machine;
struct virtio_dev;

#define VIRTIO_PCI_MAX_QUEUES 8
#define VIRTIO_RECONNECT_MS   1000  /* how often a gone back end is tried again */
#define VIRTIO_PCI_DEVCFG_MAX 0x800 /* room for device config in the BAR */

/* What a device type provides. The transport owns features common to all devices
 * (VERSION_1, EVENT_IDX, INDIRECT_DESC), queues and interrupts. */
struct virtio_backend_ops {
	const char *name;	/* "virtio-blk", for messages */
	uint16_t device_id;	/* VIRTIO_ID_*; the PCI device id is 0x1040 + this */
	uint32_t pci_class;	/* 24-bit class code: base, sub-class, prog-if */
	unsigned int nr_queues; /* 1..VIRTIO_PCI_MAX_QUEUES */
	uint16_t queue_size;	/* the largest size the driver may pick (power of two) */
	size_t config_size;	/* bytes of device configuration, <= VIRTIO_PCI_DEVCFG_MAX */
	/* Device config access, [off, off + len) within config_size; on a vCPU thread
	 * without vd->lock (config that can change is the backend's to guard). */
	void (*config_read)(struct virtio_dev *vd, uint32_t off, uint8_t *data, uint32_t len);
	/* Optional; writes are ignored without it. */
	void (*config_write)(struct virtio_dev *vd, uint32_t off, const uint8_t *data,
			     uint32_t len);
	/* The driver notified queue q (or DRIVER_OK was set): serve it, usually with
	 * virtio_serve_queue(). On the I/O thread with vd->lock held. */
	void (*queue_notify)(struct virtio_dev *vd, unsigned int q);
	/* Optional: the driver reset the device (vd->lock held). */
	void (*reset)(struct virtio_dev *vd);
	/* The seccomp kind of the I/O thread, which runs queue_notify: what this device's
	 * calls need (0: SECCOMP_THREAD_IO, for those that make no ioctl of their own). */
	enum seccomp_thread io_kind;
	/* Queues served outside minivmm (vhost-user), all optional. start: the driver set
	 * DRIVER_OK; stop: it reset the device after a start. Both run on the device's
	 * I/O thread while the vCPU that wrote the status waits holding vd->lock (so they
	 * must not take it); the I/O thread reads no kick eventfd of such a device (the
	 * back end does) unless the back end is gone or would not start and the
	 * transport took the queues back (queue_notify then answers them). watch_fd, when
	 * it returns >= 0, is polled by the I/O thread: readable means the back end went
	 * away; gone is called there (without vd->lock, to say so and let go of it), and
	 * the transport then takes the queues back. reconnects: the back end may come
	 * back; while the transport holds the queues of a running device (DRIVER_OK)
	 * because watch_fd is -1, the I/O thread calls start again, with vd->lock held,
	 * every VIRTIO_RECONNECT_MS, and once it succeeds the back end serves the rings from
	 * where the transport left them (start connects anew itself). */
	bool reconnects;
	int (*start)(struct virtio_dev *vd);
	void (*stop)(struct virtio_dev *vd);
	int (*watch_fd)(struct virtio_dev *vd);
	void (*gone)(struct virtio_dev *vd);
	/* Stops the backend's own threads, if it has any, then frees its state. Called
	 * after the I/O thread has stopped and before the transport frees anything those
	 * threads may use (queue state, MSI-X, INTx, the virtio_dev itself). */
	void (*destroy)(void *priv);
};

struct virtio_queue {
	struct virtq vq;
	uint16_t size;	      /* as the driver set it; starts at the maximum */
	uint16_t msix_vector; /* VIRTIO_MSI_NO_VECTOR: none */
	bool enabled;
	uint64_t desc, driver, device; /* ring addresses as the driver wrote them */
	int kick_fd;		       /* eventfd: driver notifications */
	bool ioeventfd;		       /* kick_fd is bound to the notify address in KVM */
	char name[80];
};

struct virtio_dev {
	struct pci_dev pci; /* pci.priv points back here */
	struct msix msix;
	struct machine *mach;
	const struct virtio_backend_ops *ops;
	void *priv;
	char name[64];

	pthread_mutex_t lock;
	uint64_t features;	  /* offered */
	uint64_t driver_features; /* accepted by the driver */
	uint32_t dfselect, gfselect;
	uint8_t status;
	uint16_t queue_select;
	uint16_t config_vector;
	struct virtio_queue q[VIRTIO_PCI_MAX_QUEUES];
	struct virtq_chain chain; /* the I/O thread's scratch chain */

	pthread_mutex_t intx_lock;
	uint8_t isr;	/* bit 0: used buffers, bit 1: config change */
	bool intx_high; /* INTx line level we set */

	int stop_fd; /* eventfd: stops the I/O thread */
	pthread_t thread;
	bool thread_running;
	bool msix_ready;
	uint32_t pcicfg_cap; /* config offset of the PCI_CFG capability */
	/* Counters for benchmarks (printed at exit when MINIVMM_STATS is set): chains
	 * served, I/O thread wake-ups by driver notifications, interrupts sent. */
	_Atomic uint64_t stat_chains, stat_kicks, stat_irqs;
	uint64_t bar_addr; /* where BAR 4 is mapped, when bar_mapped */
	bool bar_mapped;
	/* Saved (virtio_dev_save) and not thawed yet: no thread touches the rings or
	 * guest memory (under lock); kicks are left for virtio_dev_thaw. */
	bool frozen;
	/* External queues (ops->start): the I/O thread's control channel, whether the
	 * back end runs the rings, whether the transport took them back, and the eventfds
	 * the back end signals for a queue while the guest uses INTx, not MSI-X. */
	int ctl_fd;
	pthread_mutex_t ctl_lock;
	pthread_cond_t ctl_cond;
	int ctl_op, ctl_ret;
	bool ctl_done, external_running, takeover;
	int intx_call[VIRTIO_PCI_MAX_QUEUES];
};

/* Creates the PCI function for a backend and registers it on the VM's PCI bus (first
 * free slot); features are the backend's device-specific bits. On success priv belongs
 * to the device: virtio_dev_destroy() stops the I/O thread, calls ops->destroy(priv)
 * and frees the rest. On failure returns -errno and priv is still the caller's. */
int virtio_dev_create(struct machine *mach, const struct virtio_backend_ops *ops, void *priv,
		      uint64_t features, const char *name, struct virtio_dev **out);

struct device_stream;
/* Snapshot and restore of the transport (config space, MSI-X table, status, features,
 * queues with their addresses and indices). save also freezes the device: from then
 * on nothing touches guest memory until virtio_dev_thaw, which kicks every enabled
 * queue to serve what came meanwhile. load restores into a device just created from
 * the same config, then thaws it. Backends keep no state worth saving (a virtio-net
 * frame in flight is dropped and resent by TCP). -EINVAL for a state that is not this
 * device's or does not hold together. */
int virtio_dev_save(struct virtio_dev *vd, struct device_stream *out);
int virtio_dev_load(struct virtio_dev *vd, struct device_stream *in);
void virtio_dev_thaw(struct virtio_dev *vd);

/* Handles one chain; returns the bytes written into its driver-writable part. */
typedef uint32_t (*virtio_chain_fn)(struct virtio_dev *vd, unsigned int q, struct virtq_chain *c);
/* Trying a gone back end again every VIRTIO_RECONNECT_MS, on a clock of its own (a busy
 * thread must not put the try off): the poll timeout until the next try, or -1 when
 * not retrying (*next, the next try's machine_now_ns, is then reset); and whether a
 * try is due now (the one after is then scheduled). */
int virtio_reconnect_timeout(uint64_t *next, bool retrying);
bool virtio_reconnect_due(uint64_t *next);

/* Pops every available chain of queue q, hands it to fn, returns it with fn's length
 * (bad chains with length 0) and interrupts the driver if it asked for it. For
 * ops->queue_notify. */
void virtio_serve_queue(struct virtio_dev *vd, unsigned int q, virtio_chain_fn fn);
/* For backends that push to queue q outside virtio_serve_queue (a receive path on
 * another thread, holding vd->lock): interrupts the driver if it asked for it, and
 * flags the device for reset if the ring turned out broken. */
void virtio_queue_notify_driver(struct virtio_dev *vd, unsigned int q);
/* Tells the driver that the device configuration changed. */
void virtio_config_changed(struct virtio_dev *vd);
/* External queues: the eventfd a back end signals to interrupt the driver for queue q
 * (its MSI-X vector's irqfd, or one the I/O thread turns into INTx). */
int virtio_queue_call_fd(struct virtio_dev *vd, unsigned int q);

#endif
