/* Virtio PCI modern transport (see virtio_pci.h), its PCI side: config space, the BAR,
 * capabilities, creation, save and load. Interrupts, queue service and the device's
 * I/O thread are virtio_pci_queue.c's.
 *
 * BAR 4 layout (16 KiB, 64-bit memory):
 *	0x0000	common configuration (struct virtio_pci_common_cfg, 0x40 bytes)
 *	0x0800	ISR status (1 byte used)
 *	0x1000	device configuration (backend's, up to 0x800 bytes)
 *	0x1800	notifications: queue q at 0x1800 + 4 q (notify_off_multiplier 4)
 *	0x2000	MSI-X table
 *	0x3000	MSI-X PBA */
#include "devices/virtio_pci.h"
#include "devices/virtio_pci_queue.h"

#include <errno.h>
#include <linux/kvm.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/irq.h"
#include "devices/stream.h"
#include "vmm/log.h"
#include "vmm/machine.h"

#define VP_BAR	      4
#define VP_BAR_SIZE   0x4000
#define VP_COMMON     0x0000
#define VP_COMMON_LEN 0x40
#define VP_ISR	      0x0800
#define VP_ISR_LEN    4
#define VP_DEVCFG     0x1000
#define VP_NOTIFY     0x1800
#define VP_NOTIFY_MUL 4
#define VP_MSIX_TABLE 0x2000
#define VP_MSIX_PBA   0x3000

#define PCI_INTERRUPT_LINE_OFF 0x3c
#define PCI_INTERRUPT_PIN_OFF  0x3d
#define PCI_CAP_ID_VNDR_       0x09

/* Features every device gets from the transport. */
#define VP_TRANSPORT_FEATURES                                                                      \
	(1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_RING_F_EVENT_IDX |                            \
	 1ULL << VIRTIO_RING_F_INDIRECT_DESC)

/* Little-endian fields of n bytes (x86 is little-endian: copying is enough). */
static uint64_t le_get(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	memcpy(&v, p, n);
	return v;
}

static void le_put(uint8_t *p, size_t n, uint64_t v)
{
	memcpy(p, &v, n);
}

static bool overlaps(uint64_t off, uint32_t len, uint64_t start, uint64_t size)
{
	return off < start + size && start < off + len;
}

/* Device reset (status 0): forget features, queues and interrupt routing. */
static void vp_reset(struct virtio_dev *vd)
{
	if (vd->external_running && vd->ops->stop)
		vp_run_ctl(vd, CTL_STOP);
	vd->external_running = false;
	vd->takeover = false;
	for (unsigned int i = 0; i < vd->ops->nr_queues; i++) {
		struct virtio_queue *q = &vd->q[i];

		virtq_stop(&q->vq);
		q->size = vd->ops->queue_size;
		q->msix_vector = VIRTIO_MSI_NO_VECTOR;
		q->enabled = false;
		q->desc = q->driver = q->device = 0;
	}
	vd->driver_features = 0;
	vd->dfselect = vd->gfselect = 0;
	vd->queue_select = 0;
	vd->config_vector = VIRTIO_MSI_NO_VECTOR;
	vd->status = 0;
	vp_isr_read_clear(vd);
	if (vd->ops->reset)
		vd->ops->reset(vd);
}

/* Common configuration */

static struct virtio_queue *selected(struct virtio_dev *vd)
{
	return vd->queue_select < vd->ops->nr_queues ? &vd->q[vd->queue_select] : NULL;
}

static void common_image(struct virtio_dev *vd, uint8_t *b)
{
	struct virtio_queue *q = selected(vd);

	memset(b, 0, VP_COMMON_LEN);
	le_put(b + VIRTIO_PCI_COMMON_DFSELECT, 4, vd->dfselect);
	le_put(b + VIRTIO_PCI_COMMON_DF, 4,
	       vd->dfselect < 2 ? vd->features >> (32 * vd->dfselect) : 0);
	le_put(b + VIRTIO_PCI_COMMON_GFSELECT, 4, vd->gfselect);
	le_put(b + VIRTIO_PCI_COMMON_GF, 4,
	       vd->gfselect < 2 ? vd->driver_features >> (32 * vd->gfselect) : 0);
	le_put(b + VIRTIO_PCI_COMMON_MSIX, 2, vd->config_vector);
	le_put(b + VIRTIO_PCI_COMMON_NUMQ, 2, (uint16_t)vd->ops->nr_queues);
	b[VIRTIO_PCI_COMMON_STATUS] = vd->status;
	b[VIRTIO_PCI_COMMON_CFGGENERATION] = 0; /* our device config never changes */
	le_put(b + VIRTIO_PCI_COMMON_Q_SELECT, 2, vd->queue_select);
	if (!q)
		return; /* queue_size 0: no such queue */
	le_put(b + VIRTIO_PCI_COMMON_Q_SIZE, 2, q->size);
	le_put(b + VIRTIO_PCI_COMMON_Q_MSIX, 2, q->msix_vector);
	le_put(b + VIRTIO_PCI_COMMON_Q_ENABLE, 2, q->enabled);
	le_put(b + VIRTIO_PCI_COMMON_Q_NOFF, 2, vd->queue_select);
	le_put(b + VIRTIO_PCI_COMMON_Q_DESCLO, 8, q->desc);
	le_put(b + VIRTIO_PCI_COMMON_Q_AVAILLO, 8, q->driver);
	le_put(b + VIRTIO_PCI_COMMON_Q_USEDLO, 8, q->device);
}

static uint16_t checked_vector(struct virtio_dev *vd, uint16_t v)
{
	/* Reading back VIRTIO_MSI_NO_VECTOR tells the driver the vector was refused. */
	return v < vd->msix.nr ? v : VIRTIO_MSI_NO_VECTOR;
}

static void write_status(struct virtio_dev *vd, uint8_t v)
{
	uint8_t old = vd->status;

	if (v == 0) {
		vp_reset(vd);
		return;
	}
	if ((v & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK)) {
		uint64_t extra = vd->driver_features & ~vd->features;

		/* Refusing means leaving FEATURES_OK clear; the driver reads it back. */
		if (extra || !(vd->driver_features & (1ULL << VIRTIO_F_VERSION_1))) {
			log_guest("%s: driver features %#llx not acceptable (offered %#llx)",
				  vd->name, (unsigned long long)vd->driver_features,
				  (unsigned long long)vd->features);
			v &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
		}
	}
	if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && !(v & VIRTIO_CONFIG_S_FEATURES_OK)) {
		log_guest("%s: DRIVER_OK without FEATURES_OK", vd->name);
		v &= (uint8_t)~VIRTIO_CONFIG_S_DRIVER_OK;
	}
	vd->status = v | (old & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* External queues: the back end takes them now (and reads the kicks). */
	if ((vd->status & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    vd->ops->start) {
		if (vp_run_ctl(vd, CTL_START) == 0)
			vd->external_running = true;
		else
			vp_takeover(vd); /* the I/O thread polls the kicks already (serve_ctl) */
	}
	/* Buffers may have been made available before DRIVER_OK, when we were not
	 * allowed to use them: look at every queue now. */
	if ((vd->status & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK))
		for (unsigned int i = 0; i < vd->ops->nr_queues; i++)
			if (vd->q[i].enabled)
				vp_kick(vd, i);
}

static void enable_queue(struct virtio_dev *vd, struct virtio_queue *q)
{
	int ret;

	if (q->enabled)
		return;
	ret = virtq_start(&q->vq, &vd->mach->mem, q->name, q->size, q->desc, q->driver, q->device,
			  vd->driver_features);
	if (ret < 0 || q->size > vd->ops->queue_size) {
		virtq_stop(&q->vq);
		log_guest("%s: cannot enable a queue of size %u at desc %#llx avail %#llx used "
			  "%#llx",
			  q->name, q->size, (unsigned long long)q->desc,
			  (unsigned long long)q->driver, (unsigned long long)q->device);
		vp_needs_reset(vd);
		return;
	}
	q->enabled = true;
}

/* Applies value v the driver wrote to the field at field_off. */
static void common_apply(struct virtio_dev *vd, uint32_t field_off, uint64_t v)
{
	struct virtio_queue *q = selected(vd);
	bool q_writable = q && !q->enabled; /* ring setup is frozen once enabled */
	bool feat_writable = !(vd->status & VIRTIO_CONFIG_S_FEATURES_OK);

	switch (field_off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		vd->dfselect = (uint32_t)v;
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		vd->gfselect = (uint32_t)v;
		break;
	case VIRTIO_PCI_COMMON_GF:
		if (feat_writable && vd->gfselect < 2) {
			unsigned int shift = 32 * vd->gfselect;

			vd->driver_features &= ~(0xffffffffULL << shift);
			vd->driver_features |= v << shift;
		}
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		vd->config_vector = checked_vector(vd, (uint16_t)v);
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		write_status(vd, (uint8_t)v);
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		vd->queue_select = (uint16_t)v;
		break;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		if (q_writable)
			q->size = (uint16_t)v;
		break;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		if (q)
			q->msix_vector = checked_vector(vd, (uint16_t)v);
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		/* Writing 0 is forbidden to the driver (it resets instead): ignored. */
		if (q && v == 1)
			enable_queue(vd, q);
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
		if (q_writable)
			q->desc = v;
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
		if (q_writable)
			q->driver = v;
		break;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
		if (q_writable)
			q->device = v;
		break;
	default: /* read-only fields */
		break;
	}
}

static void common_access(struct virtio_dev *vd, uint64_t off, uint8_t *data, uint32_t len,
			  bool is_write)
{
	/* Writable fields, in order, so that a (strange) wide write touching a select
	 * register and the field it selects applies the select first. */
	static const struct {
		uint8_t off, size;
	} fields[] = {
	    {VIRTIO_PCI_COMMON_DFSELECT, 4}, {VIRTIO_PCI_COMMON_GFSELECT, 4},
	    {VIRTIO_PCI_COMMON_GF, 4},	     {VIRTIO_PCI_COMMON_MSIX, 2},
	    {VIRTIO_PCI_COMMON_STATUS, 1},   {VIRTIO_PCI_COMMON_Q_SELECT, 2},
	    {VIRTIO_PCI_COMMON_Q_SIZE, 2},   {VIRTIO_PCI_COMMON_Q_MSIX, 2},
	    {VIRTIO_PCI_COMMON_Q_DESCLO, 8}, {VIRTIO_PCI_COMMON_Q_AVAILLO, 8},
	    {VIRTIO_PCI_COMMON_Q_USEDLO, 8}, {VIRTIO_PCI_COMMON_Q_ENABLE, 2},
	};
	uint8_t b[VP_COMMON_LEN];

	if (off + len > VP_COMMON_LEN)
		return;
	pthread_mutex_lock(&vd->lock);
	common_image(vd, b);
	if (!is_write) {
		memcpy(data, b + off, len);
	} else {
		memcpy(b + off, data, len);
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (overlaps(off, len, fields[i].off, fields[i].size))
				common_apply(vd, fields[i].off,
					     le_get(b + fields[i].off, fields[i].size));
	}
	pthread_mutex_unlock(&vd->lock);
}

/* BAR 4 */

static void vp_bar_access(struct virtio_dev *vd, uint64_t off, uint8_t *data, uint32_t len,
			  bool is_write)
{
	uint32_t table = msix_table_size(&vd->msix), pba = msix_pba_size(&vd->msix);

	if (off < VP_COMMON + VP_COMMON_LEN) {
		if (!is_write)
			memset(data, 0, len);
		common_access(vd, off - VP_COMMON, data, len, is_write);
	} else if (off >= VP_ISR && off + len <= VP_ISR + VP_ISR_LEN) {
		if (!is_write) {
			memset(data, 0, len);
			/* Reading clears it, and lowers INTx (virtio 1.2, 4.1.4.5). */
			if (off == VP_ISR)
				data[0] = vp_isr_read_clear(vd);
		}
	} else if (off >= VP_DEVCFG && off + len <= VP_DEVCFG + VIRTIO_PCI_DEVCFG_MAX) {
		uint32_t o = (uint32_t)(off - VP_DEVCFG);

		if (!is_write)
			memset(data, 0, len);
		if (o + len > vd->ops->config_size)
			return;
		if (!is_write)
			vd->ops->config_read(vd, o, data, len);
		else if (vd->ops->config_write)
			vd->ops->config_write(vd, o, data, len);
	} else if (off >= VP_NOTIFY && off < VP_NOTIFY + VP_NOTIFY_MUL * vd->ops->nr_queues) {
		/* Only when KVM did not take it through the ioeventfd. Either way the
		 * queue is served on the I/O thread, never here. */
		if (is_write)
			vp_kick(vd, (unsigned int)((off - VP_NOTIFY) / VP_NOTIFY_MUL));
		else
			memset(data, 0, len);
	} else if (off >= VP_MSIX_TABLE && off + len <= VP_MSIX_TABLE + table) {
		msix_table_access(&vd->msix, off - VP_MSIX_TABLE, data, len, is_write);
	} else if (off >= VP_MSIX_PBA && off + len <= VP_MSIX_PBA + pba) {
		msix_pba_access(&vd->msix, off - VP_MSIX_PBA, data, len, is_write);
	}
}

static void vp_bar_io(struct pci_dev *dev, int bar, uint64_t off, uint8_t *data, uint32_t len,
		      bool is_write)
{
	if (bar == VP_BAR && off + len <= VP_BAR_SIZE)
		vp_bar_access(dev->priv, off, data, len, is_write);
}

static void vp_mmio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	vp_bar_access(opaque, off, data, len, is_write);
}

static int set_ioeventfd(struct virtio_dev *vd, unsigned int q, uint64_t bar_addr, bool assign)
{
	struct kvm_ioeventfd e = {
	    .addr = bar_addr + VP_NOTIFY + VP_NOTIFY_MUL * q,
	    .len = 2, /* the driver writes the 16-bit queue index */
	    .fd = vd->q[q].kick_fd,
	    .flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};

	return ioctl(vd->mach->vm_fd, KVM_IOEVENTFD, &e) < 0 ? -errno : 0;
}

/* We map BAR 4 ourselves (rather than letting the core put it on the bus) so that the
 * notify addresses follow the BAR into KVM's ioeventfds when the guest moves it. */
static void vp_bar_unmap(struct pci_dev *dev, int bar, uint64_t addr)
{
	struct virtio_dev *vd = dev->priv;

	(void)addr;
	if (bar != VP_BAR || !vd->bar_mapped)
		return;
	for (unsigned int i = 0; i < vd->ops->nr_queues; i++) {
		if (vd->q[i].ioeventfd && set_ioeventfd(vd, i, vd->bar_addr, false) < 0)
			log_err("%s: cannot remove the ioeventfd of queue %u: %m", vd->name, i);
		vd->q[i].ioeventfd = false;
	}
	bus_unregister(&vd->mach->mmio, vd->bar_addr);
	vd->bar_mapped = false;
}

static int vp_bar_map(struct pci_dev *dev, int bar, uint64_t addr)
{
	struct virtio_dev *vd = dev->priv;
	int ret;

	if (bar != VP_BAR)
		return -EINVAL;
	vp_bar_unmap(dev, bar, vd->bar_addr);
	ret = bus_register(&vd->mach->mmio, addr, VP_BAR_SIZE, vp_mmio, vd);
	if (ret < 0)
		return ret;
	vd->bar_addr = addr;
	vd->bar_mapped = true;
	for (unsigned int i = 0; i < vd->ops->nr_queues; i++) {
		ret = set_ioeventfd(vd, i, addr, true);
		vd->q[i].ioeventfd = ret == 0;
		/* Not fatal: notifications then exit to vp_mmio, which is slower. */
		if (ret < 0 && i == 0)
			log_warn("%s: KVM_IOEVENTFD failed (%s); queue notifications will "
				 "take MMIO exits",
				 vd->name, strerror(-ret));
	}
	return 0;
}

/* Config space: the MSI-X capability and the PCI_CFG access window (cfg_type 5). */

/* Performs the BAR access the driver described in the PCI_CFG capability. */
static void pcicfg_bar_access(struct virtio_dev *vd, bool is_write)
{
	uint32_t cap = vd->pcicfg_cap;
	uint8_t *win = &vd->pci.cfg[cap + 16];
	uint32_t off = le_get(&vd->pci.cfg[cap + VIRTIO_PCI_CAP_OFFSET], 4);
	uint32_t len = le_get(&vd->pci.cfg[cap + VIRTIO_PCI_CAP_LENGTH], 4);

	if (vd->pci.cfg[cap + VIRTIO_PCI_CAP_BAR] != VP_BAR || (len != 1 && len != 2 && len != 4) ||
	    off % len || off + len > VP_BAR_SIZE) {
		log_guest("%s: bad VIRTIO_PCI_CAP_PCI_CFG access (bar %u off %#x len %u)", vd->name,
			  vd->pci.cfg[cap + VIRTIO_PCI_CAP_BAR], off, len);
		return;
	}
	if (!is_write)
		memset(win, 0, 4);
	vp_bar_access(vd, off, win, len, is_write);
}

static void vp_cfg_read(struct pci_dev *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_dev *vd = dev->priv;
	uint32_t cap = vd->pcicfg_cap;

	if (cap && overlaps(off, len, cap + 16, 4)) {
		pcicfg_bar_access(vd, false);
		memcpy(data, &dev->cfg[off], len);
	}
}

static void vp_cfg_write(struct pci_dev *dev, uint32_t off, const uint8_t *data, uint32_t len)
{
	struct virtio_dev *vd = dev->priv;
	uint32_t cap = vd->pcicfg_cap;

	(void)data;
	if (vd->msix_ready)
		msix_cfg_write(&vd->msix, off, len);
	if (cap && overlaps(off, len, cap + 16, 4))
		pcicfg_bar_access(vd, true);
}

static const struct pci_dev_ops vp_pci_ops = {
    .cfg_read = vp_cfg_read,
    .cfg_write = vp_cfg_write,
    .bar_io = vp_bar_io,
    .bar_map = vp_bar_map,
    .bar_unmap = vp_bar_unmap,
};

/* Teardown order: first every thread that can touch the device, then what they use.
 * The I/O thread goes first because it calls into the backend (ops->queue_notify);
 * ops->destroy then stops the backend's own threads (virtio-net's receive thread, which
 * fills the rings and interrupts the guest under vd->lock up to the last frame) before
 * freeing its state. Only once no thread is left do the BAR's ioeventfds, the INTx
 * line, the MSI-X vectors and vd itself go: freeing the vectors earlier let a frame
 * arriving at shutdown signal freed MSI-X state (issue 13). */
static void vp_free(struct virtio_dev *vd, bool free_priv)
{
	vp_stop_thread(vd);
	if (free_priv && vd->ops->destroy)
		vd->ops->destroy(vd->priv);
	vp_bar_unmap(&vd->pci, VP_BAR, vd->bar_addr);
	if (vd->intx_high)
		vp_intx_set(vd, false);
	if (vd->msix_ready)
		msix_destroy(&vd->msix);
	for (unsigned int i = 0; i < VIRTIO_PCI_MAX_QUEUES; i++) {
		if (vd->q[i].kick_fd >= 0)
			close(vd->q[i].kick_fd);
		if (vd->intx_call[i] >= 0)
			close(vd->intx_call[i]);
	}
	if (vd->stop_fd >= 0)
		close(vd->stop_fd);
	if (vd->ctl_fd >= 0)
		close(vd->ctl_fd);
	pthread_mutex_destroy(&vd->ctl_lock);
	pthread_cond_destroy(&vd->ctl_cond);
	pthread_mutex_destroy(&vd->lock);
	pthread_mutex_destroy(&vd->intx_lock);
	free(vd);
}

/* Creation */

static int add_vendor_cap(struct virtio_dev *vd, uint8_t type, uint32_t off, uint32_t len,
			  uint32_t extra_len, uint32_t extra)
{
	uint8_t b[20] = {PCI_CAP_ID_VNDR_, 0, (uint8_t)(16 + extra_len), type, VP_BAR};

	le_put(b + VIRTIO_PCI_CAP_OFFSET, 4, off);
	le_put(b + VIRTIO_PCI_CAP_LENGTH, 4, len);
	if (extra_len)
		le_put(b + 16, 4, extra);
	return pci_dev_add_cap(&vd->pci, b, 16 + extra_len);
}

static int add_caps(struct virtio_dev *vd)
{
	int ret, cap;

	ret = add_vendor_cap(vd, VIRTIO_PCI_CAP_COMMON_CFG, VP_COMMON, VP_COMMON_LEN, 0, 0);
	if (ret >= 0)
		ret = add_vendor_cap(vd, VIRTIO_PCI_CAP_ISR_CFG, VP_ISR, VP_ISR_LEN, 0, 0);
	if (ret >= 0 && vd->ops->config_size)
		ret = add_vendor_cap(vd, VIRTIO_PCI_CAP_DEVICE_CFG, VP_DEVCFG,
				     (uint32_t)vd->ops->config_size, 0, 0);
	if (ret >= 0)
		ret = add_vendor_cap(vd, VIRTIO_PCI_CAP_NOTIFY_CFG, VP_NOTIFY,
				     VP_NOTIFY_MUL * vd->ops->nr_queues, 4, VP_NOTIFY_MUL);
	if (ret < 0)
		return ret;
	/* PCI_CFG: bar, offset, length and the data window are the driver's to write. */
	cap = add_vendor_cap(vd, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 4, 0);
	if (cap < 0)
		return cap;
	vd->pci.wmask[cap + VIRTIO_PCI_CAP_BAR] = 0xff;
	memset(&vd->pci.wmask[cap + VIRTIO_PCI_CAP_OFFSET], 0xff, 12);
	vd->pcicfg_cap = (uint32_t)cap;
	/* A PCI Express capability, so that the guest uses the 4 KiB ECAM config space. */
	cap = pci_dev_add_pcie_cap(&vd->pci);
	return cap < 0 ? cap : 0;
}

static int vp_init(struct virtio_dev *vd, struct machine *mach,
		   const struct virtio_backend_ops *ops, void *priv, uint64_t features,
		   const char *name)
{
	int ret;

	vd->mach = mach;
	vd->ops = ops;
	vd->priv = priv;
	/* A back end that serves the rings decides what ring features it has. */
	vd->features = ops->start ? features : features | VP_TRANSPORT_FEATURES;
	vd->stop_fd = vd->ctl_fd = -1;
	for (unsigned int i = 0; i < VIRTIO_PCI_MAX_QUEUES; i++)
		vd->q[i].kick_fd = vd->intx_call[i] = -1;
	pthread_mutex_init(&vd->ctl_lock, NULL);
	pthread_cond_init(&vd->ctl_cond, NULL);
	snprintf(vd->name, sizeof(vd->name), "%s", name);
	pthread_mutex_init(&vd->lock, NULL);
	pthread_mutex_init(&vd->intx_lock, NULL);
	if (ops->nr_queues < 1 || ops->nr_queues > VIRTIO_PCI_MAX_QUEUES ||
	    ops->config_size > VIRTIO_PCI_DEVCFG_MAX || ops->queue_size > VIRTQ_MAX_SIZE)
		return -EINVAL;
	vd->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vd->stop_fd < 0)
		return -errno;
	if (ops->start) {
		vd->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vd->ctl_fd < 0)
			return -errno;
		for (unsigned int i = 0; i < ops->nr_queues; i++) {
			vd->intx_call[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			if (vd->intx_call[i] < 0)
				return -errno;
		}
	}
	for (unsigned int i = 0; i < ops->nr_queues; i++) {
		vd->q[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vd->q[i].kick_fd < 0)
			return -errno;
		snprintf(vd->q[i].name, sizeof(vd->q[i].name), "%s q%u", vd->name, i);
		vd->q[i].vq.name = vd->q[i].name;
	}
	vp_reset(vd);

	pci_dev_init(&vd->pci, 0x1af4, (uint16_t)(0x1040 + ops->device_id), ops->pci_class, 1,
		     0x1af4, 0x1100);
	vd->pci.mach = mach;
	vd->pci.ops = &vp_pci_ops;
	vd->pci.priv = vd;
	vd->pci.name = vd->name;
	vd->pci.cfg[PCI_INTERRUPT_PIN_OFF] = 1; /* INTA */
	vd->pci.wmask[PCI_INTERRUPT_LINE_OFF] = 0xff;
	ret = pci_dev_add_bar(&vd->pci, VP_BAR, PCI_BAR_MEM64, VP_BAR_SIZE, false);
	if (ret < 0)
		return ret;
	ret = add_caps(vd);
	if (ret < 0)
		return ret;
	/* One vector for configuration changes, one per queue. */
	ret =
	    msix_init(&vd->msix, &vd->pci, 1 + ops->nr_queues, VP_BAR, VP_MSIX_TABLE, VP_MSIX_PBA);
	if (ret < 0)
		return ret;
	vd->msix_ready = true;
	if (msix_table_size(&vd->msix) > VP_MSIX_PBA - VP_MSIX_TABLE ||
	    msix_pba_size(&vd->msix) > VP_BAR_SIZE - VP_MSIX_PBA)
		return -E2BIG;
	return vp_start_thread(vd);
}

int virtio_dev_create(struct machine *mach, const struct virtio_backend_ops *ops, void *priv,
		      uint64_t features, const char *name, struct virtio_dev **out)
{
	struct virtio_dev *vd = calloc(1, sizeof(*vd));
	int ret;

	if (!vd)
		return -ENOMEM;
	ret = vp_init(vd, mach, ops, priv, features, name);
	if (ret < 0)
		goto err;
	ret = pci_register(mach, &vd->pci, -1, 0);
	if (ret < 0)
		goto err;
	if (out)
		*out = vd;
	return 0;
err:
	log_err("cannot create %s: %s", name, strerror(-ret));
	vp_free(vd, false);
	return ret;
}

void virtio_dev_destroy(struct virtio_dev *vd)
{
	if (!vd)
		return;
	if (getenv("MINIVMM_STATS"))
		log_info("stats: %s: %llu requests, %llu notifications, %llu interrupts", vd->name,
			 (unsigned long long)vd->stat_chains, (unsigned long long)vd->stat_kicks,
			 (unsigned long long)vd->stat_irqs);
	/* Off the bus first (its BAR unmapped: no new notifications), then vp_free stops
	 * the threads before it frees what they use. */
	pci_unregister(&vd->pci);
	vp_free(vd, true);
}

/* ---- snapshot and restore ---- */

#define VP_STATE_VERSION 1

int virtio_dev_save(struct virtio_dev *vd, struct device_stream *out)
{
	uint32_t version = VP_STATE_VERSION, nq = vd->ops->nr_queues;

	pthread_mutex_lock(&vd->lock);
	vd->frozen = true;
	stream_put(out, &version, sizeof(version));
	pci_save(&vd->pci, out);
	msix_save(&vd->msix, out);
	stream_put(out, &vd->features, sizeof(vd->features));
	stream_put(out, &vd->driver_features, sizeof(vd->driver_features));
	stream_put(out, &vd->dfselect, sizeof(vd->dfselect));
	stream_put(out, &vd->gfselect, sizeof(vd->gfselect));
	stream_put(out, &vd->status, sizeof(vd->status));
	stream_put(out, &vd->queue_select, sizeof(vd->queue_select));
	stream_put(out, &vd->config_vector, sizeof(vd->config_vector));
	stream_put(out, &vd->isr, sizeof(vd->isr));
	stream_put(out, &nq, sizeof(nq));
	for (unsigned int i = 0; i < nq; i++) {
		const struct virtio_queue *q = &vd->q[i];
		uint8_t flags =
		    (uint8_t)(q->enabled | q->vq.signalled_valid << 1 | q->vq.broken << 2);

		stream_put(out, &q->size, sizeof(q->size));
		stream_put(out, &q->msix_vector, sizeof(q->msix_vector));
		stream_put(out, &flags, 1);
		stream_put(out, &q->desc, sizeof(q->desc));
		stream_put(out, &q->driver, sizeof(q->driver));
		stream_put(out, &q->device, sizeof(q->device));
		stream_put(out, &q->vq.last_avail, sizeof(q->vq.last_avail));
		stream_put(out, &q->vq.used_idx, sizeof(q->vq.used_idx));
		stream_put(out, &q->vq.signalled_used, sizeof(q->vq.signalled_used));
	}
	pthread_mutex_unlock(&vd->lock);
	return out->err;
}

void virtio_dev_thaw(struct virtio_dev *vd)
{
	pthread_mutex_lock(&vd->lock);
	vd->frozen = false;
	if (vd->status & VIRTIO_CONFIG_S_DRIVER_OK)
		for (unsigned int i = 0; i < vd->ops->nr_queues; i++)
			if (vd->q[i].enabled)
				vp_kick(vd, i);
	pthread_mutex_unlock(&vd->lock);
}

int virtio_dev_load(struct virtio_dev *vd, struct device_stream *in)
{
	uint32_t version = 0, nq = 0;
	uint64_t features;
	int ret;

	stream_get(in, &version, sizeof(version));
	if (in->err || version != VP_STATE_VERSION)
		return -EINVAL;
	ret = pci_load(&vd->pci, in);
	if (ret == 0)
		ret = msix_load(&vd->msix, in);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&vd->lock);
	vp_reset(vd);
	stream_get(in, &features, sizeof(features));
	stream_get(in, &vd->driver_features, sizeof(vd->driver_features));
	stream_get(in, &vd->dfselect, sizeof(vd->dfselect));
	stream_get(in, &vd->gfselect, sizeof(vd->gfselect));
	stream_get(in, &vd->status, sizeof(vd->status));
	stream_get(in, &vd->queue_select, sizeof(vd->queue_select));
	stream_get(in, &vd->config_vector, sizeof(vd->config_vector));
	stream_get(in, &vd->isr, sizeof(vd->isr));
	stream_get(in, &nq, sizeof(nq));
	/* The same device, offering the same features; the driver accepted only those. */
	if (in->err || features != vd->features || (vd->driver_features & ~vd->features) ||
	    nq != vd->ops->nr_queues)
		ret = -EINVAL;
	for (unsigned int i = 0; ret == 0 && i < nq; i++) {
		struct virtio_queue *q = &vd->q[i];
		uint16_t last_avail, used_idx, signalled;
		uint8_t flags;

		stream_get(in, &q->size, sizeof(q->size));
		stream_get(in, &q->msix_vector, sizeof(q->msix_vector));
		stream_get(in, &flags, 1);
		stream_get(in, &q->desc, sizeof(q->desc));
		stream_get(in, &q->driver, sizeof(q->driver));
		stream_get(in, &q->device, sizeof(q->device));
		stream_get(in, &last_avail, sizeof(last_avail));
		stream_get(in, &used_idx, sizeof(used_idx));
		stream_get(in, &signalled, sizeof(signalled));
		if (in->err || q->size > vd->ops->queue_size) {
			ret = -EINVAL;
			break;
		}
		q->msix_vector = checked_vector(vd, q->msix_vector);
		if (flags & 1) {
			/* As the driver enabled it, checked the same way; then the indices. */
			enable_queue(vd, q);
			if (!q->enabled) {
				ret = -EINVAL;
				break;
			}
			q->vq.last_avail = last_avail;
			q->vq.used_idx = used_idx;
			q->vq.signalled_used = signalled;
			q->vq.signalled_valid = flags & 2;
			q->vq.broken = flags & 4;
		}
	}
	vd->config_vector = checked_vector(vd, vd->config_vector);
	if (ret < 0)
		vp_reset(vd);
	else if (vd->isr && !msix_enabled(&vd->msix))
		vp_intx_set(vd, true); /* the guest had not acknowledged its interrupt yet */
	pthread_mutex_unlock(&vd->lock);
	if (ret == 0)
		virtio_dev_thaw(vd);
	return ret;
}
