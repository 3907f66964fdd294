/* Config space of a passed-through device: what the guest sees and what reaches the
 * device.
 *
 * The guest's view is built in dev->cfg like an emulated device's: the ids, class and
 * subsystem ids of the real device, BARs and the expansion ROM declared to the PCI core
 * (which sizes and places them; pci.c serves the ROM read-only), and a capability list
 * rebuilt by the core from what we keep:
 *   - MSI-X: emulated by devices/msix.c (the table lives in a trapped BAR page);
 *   - MSI: emulated here (pci_irq.c programs the device through VFIO);
 *   - PM, PCI Express, VPD, AF, vendor-specific, and the extended capabilities AER,
 *     DSN, power budgeting, LTR and vendor-specific: passed through: their bodies are
 *     read from and written to the device (VFIO itself virtualizes the risky bits);
 *   - anything else (SR-IOV, ATS, PASID, resizable BAR, ...) is hidden: it needs host
 *     cooperation we do not have.
 * Live from the device besides those bodies: the status register (interrupt status,
 * error bits; the capability-list bit stays ours). Forwarded writes: the command
 * register (decode, bus master, INTx disable, which VFIO applies to its own INTx
 * masking, so the semantics stay right), status (write-one-to-clear) and the
 * passed-through capability bodies.
 *
 * Called under the PCI core's config lock (one access at a time per host bridge). */
#include <errno.h>
#include <linux/pci_regs.h>
#include <string.h>

#include "vfio/internal.h"
#include "vmm/log.h"

#define CFG_STD_SIZE   256
#define AER_SIZEOF     0x48 /* through the TLP prefix log */
#define PCIE_SIZEOF_V2 0x3c /* the whole v2 capability, slot and root registers included */
#define CMD_FORWARDED                                                                              \
	(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |           \
	 PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)

static uint16_t rd16(const uint8_t *b, uint32_t off)
{
	return (uint16_t)(b[off] | b[off + 1] << 8);
}

static uint32_t rd32(const uint8_t *b, uint32_t off)
{
	return (uint32_t)rd16(b, off) | (uint32_t)rd16(b, off + 2) << 16;
}

static int cap_add_passthrough(struct vfio_pci *vp, const uint8_t *real, uint32_t doff,
			       uint32_t len, bool ext, uint16_t id, uint8_t ver)
{
	int off;

	if (vp->nr_caps == VFIO_MAX_CAPS)
		return -ENOSPC;
	off = ext ? pci_dev_add_ext_cap(&vp->pci, id, ver, real + doff + 4, len - 4)
		  : pci_dev_add_cap(&vp->pci, real + doff, len);
	if (off < 0)
		return off;
	vp->caps[vp->nr_caps++] = (struct vfio_cap_map){.goff = (uint16_t)off,
							.doff = (uint16_t)doff,
							.len = (uint16_t)len,
							.hdr = ext ? 4 : 2};
	return 0;
}

/* The emulated MSI capability: same shape as the device's (64-bit, vector count,
 * per-vector masking), disabled. */
static int cap_add_msi(struct vfio_pci *vp, const uint8_t *real, uint32_t p)
{
	uint16_t ctrl = rd16(real, p + PCI_MSI_FLAGS);
	uint8_t body[24] = {PCI_CAP_ID_MSI};
	struct pci_dev *dev = &vp->pci;
	struct vfio_msi *m = &vp->msi;
	uint32_t len, data_off, mask_off;
	int off;

	m->is64 = ctrl & PCI_MSI_FLAGS_64BIT;
	m->pvm = ctrl & PCI_MSI_FLAGS_MASKBIT;
	m->max = 1u << ((ctrl & PCI_MSI_FLAGS_QMASK) >> 1);
	if (m->max > VFIO_MSI_MAX)
		m->max = VFIO_MSI_MAX;
	data_off = m->is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32;
	mask_off = m->is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32;
	len = m->pvm ? mask_off + 8 : data_off + 2;
	ctrl &= PCI_MSI_FLAGS_QMASK | PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT;
	body[2] = (uint8_t)ctrl;
	body[3] = (uint8_t)(ctrl >> 8);
	off = pci_dev_add_cap(dev, body, len);
	if (off < 0)
		return off;
	m->cap = (uint32_t)off;
	dev->wmask[off + PCI_MSI_FLAGS] = PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE;
	memset(&dev->wmask[off + PCI_MSI_ADDRESS_LO], 0xff, 4);
	dev->wmask[off + PCI_MSI_ADDRESS_LO] = 0xfc;
	if (m->is64)
		memset(&dev->wmask[off + PCI_MSI_ADDRESS_HI], 0xff, 4);
	memset(&dev->wmask[off + data_off], 0xff, 2);
	if (m->pvm)
		for (unsigned int i = 0; i < m->max; i++)
			dev->wmask[off + mask_off + i / 8] |= (uint8_t)(1u << (i % 8));
	for (unsigned int i = 0; i < VFIO_MSI_MAX; i++)
		m->efd[i] = m->gsi[i] = -1;
	return 0;
}

static int cap_add_msix(struct vfio_pci *vp, const uint8_t *real, uint32_t p)
{
	uint16_t ctrl = rd16(real, p + PCI_MSIX_FLAGS);
	uint32_t table = rd32(real, p + PCI_MSIX_TABLE), pba = rd32(real, p + PCI_MSIX_PBA);
	int ret;

	if (vp->has_msix) { /* a second one would leak the first's vectors */
		log_warn("%s: second MSI-X capability at 0x%02x hidden from the guest", vp->name,
			 p);
		return 0;
	}
	if ((table & PCI_MSIX_TABLE_BIR) != (pba & PCI_MSIX_PBA_BIR)) {
		log_warn("%s: MSI-X table and PBA in different BARs; MSI-X hidden from the guest",
			 vp->name);
		return 0;
	}
	ret = msix_init(&vp->msix, &vp->pci, (ctrl & PCI_MSIX_FLAGS_QSIZE) + 1u,
			(int)(table & PCI_MSIX_TABLE_BIR), table & PCI_MSIX_TABLE_OFFSET,
			pba & PCI_MSIX_PBA_OFFSET);
	if (ret < 0)
		return ret;
	vp->has_msix = true;
	vp->msix.on_enable = vfio_irq_msix_enable;
	vp->msix.opaque = vp;
	return 0;
}

static uint32_t std_cap_len(const uint8_t *real, uint32_t p)
{
	switch (real[p]) {
	case PCI_CAP_ID_PM:
		return PCI_PM_SIZEOF;
	case PCI_CAP_ID_EXP:
		return (rd16(real, p + PCI_EXP_FLAGS) & PCI_EXP_FLAGS_VERS) == 1
			   ? PCI_CAP_EXP_ENDPOINT_SIZEOF_V1
			   : PCIE_SIZEOF_V2;
	case PCI_CAP_ID_VPD:
		return PCI_CAP_VPD_SIZEOF;
	case PCI_CAP_ID_AF:
		return PCI_CAP_AF_SIZEOF;
	case PCI_CAP_ID_VNDR:
		return real[p + 2] >= 3 ? real[p + 2] : 0;
	default:
		return 0; /* hidden */
	}
}

static uint32_t ext_cap_len(const uint8_t *real, uint32_t p)
{
	switch (rd32(real, p) & 0xffff) {
	case PCI_EXT_CAP_ID_ERR:
		return AER_SIZEOF;
	case PCI_EXT_CAP_ID_DSN:
		return PCI_EXT_CAP_DSN_SIZEOF;
	case PCI_EXT_CAP_ID_PWR:
		return PCI_EXT_CAP_PWR_SIZEOF;
	case PCI_EXT_CAP_ID_LTR:
		return PCI_EXT_CAP_LTR_SIZEOF;
	case PCI_EXT_CAP_ID_VNDR:
		return rd32(real, p + PCI_VNDR_HEADER) >> 20;
	default:
		return 0; /* hidden */
	}
}

static int build_std_caps(struct vfio_pci *vp, const uint8_t *real)
{
	uint32_t p = real[PCI_CAPABILITY_LIST] & ~3u;
	int ret = 0;

	if (!(rd16(real, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	/* At most 48 capabilities fit in 192 bytes: a longer chain is a loop. */
	for (int guard = 0; p >= 0x40 && p < CFG_STD_SIZE - 1 && guard < 48; guard++) {
		uint32_t len;

		switch (real[p]) {
		case PCI_CAP_ID_MSI:
			ret = cap_add_msi(vp, real, p);
			break;
		case PCI_CAP_ID_MSIX:
			ret = cap_add_msix(vp, real, p);
			break;
		default:
			len = std_cap_len(real, p);
			if (len > CFG_STD_SIZE - p)
				len = CFG_STD_SIZE - p;
			if (len)
				ret = cap_add_passthrough(vp, real, p, len, false, 0, 0);
			else
				log_info("%s: capability 0x%02x at 0x%02x hidden from the guest",
					 vp->name, real[p], p);
		}
		if (ret == -ENOSPC) {
			log_warn("%s: no room for capability 0x%02x; hidden", vp->name, real[p]);
			ret = 0;
		}
		if (ret < 0)
			return ret;
		p = real[p + 1] & ~3u;
	}
	return 0;
}

static void build_ext_caps(struct vfio_pci *vp, const uint8_t *real)
{
	uint32_t p = PCI_CFG_SPACE_SIZE;

	for (int guard = 0; p >= PCI_CFG_SPACE_SIZE && p <= PCI_CFG_SIZE - 4 && guard < 960;
	     guard++) {
		uint32_t hdr = rd32(real, p), next = PCI_EXT_CAP_NEXT(hdr), len;

		if (hdr == 0 || hdr == 0xffffffff)
			return;
		len = ext_cap_len(real, p);
		/* Never past the next capability or the end of config space. */
		if (next > p && len > next - p)
			len = next - p;
		if (len > PCI_CFG_SIZE - p)
			len = PCI_CFG_SIZE - p;
		if (len > 4) {
			if (cap_add_passthrough(vp, real, p, len, true, PCI_EXT_CAP_ID(hdr),
						(uint8_t)PCI_EXT_CAP_VER(hdr)) < 0)
				log_warn("%s: no room for extended capability 0x%04x; hidden",
					 vp->name, PCI_EXT_CAP_ID(hdr));
		} else {
			log_info("%s: extended capability 0x%04x at 0x%03x hidden from the guest",
				 vp->name, PCI_EXT_CAP_ID(hdr), p);
		}
		if (next <= p)
			return;
		p = next;
	}
}

int vfio_cfg_build(struct vfio_pci *vp)
{
	uint8_t real[PCI_CFG_SIZE];
	struct pci_dev *dev = &vp->pci;
	int ret;

	memset(real, 0, sizeof(real));
	ret = vp->cfg.rd(vp->cfg.opaque, 0, real, CFG_STD_SIZE);
	if (ret < 0)
		return ret;
	/* Extended space only where the device has it (PCI Express). */
	if (vp->cfg.rd(vp->cfg.opaque, PCI_CFG_SPACE_SIZE, real + PCI_CFG_SPACE_SIZE,
		       PCI_CFG_SIZE - PCI_CFG_SPACE_SIZE) < 0)
		memset(real + PCI_CFG_SPACE_SIZE, 0, PCI_CFG_SIZE - PCI_CFG_SPACE_SIZE);
	pci_dev_init(dev, rd16(real, PCI_VENDOR_ID), rd16(real, PCI_DEVICE_ID),
		     rd32(real, PCI_CLASS_REVISION) >> 8, real[PCI_REVISION_ID],
		     rd16(real, PCI_SUBSYSTEM_VENDOR_ID), rd16(real, PCI_SUBSYSTEM_ID));
	vp->pin = real[PCI_INTERRUPT_PIN] <= 4 ? real[PCI_INTERRUPT_PIN] : 0;
	dev->cfg[PCI_INTERRUPT_PIN] = vp->pin;
	ret = build_std_caps(vp, real);
	if (ret < 0)
		return ret;
	build_ext_caps(vp, real);
	return 0;
}

/* [a, b) intersected with [lo, hi); false if empty. */
static bool overlap(uint32_t a, uint32_t b, uint32_t lo, uint32_t hi, uint32_t *s, uint32_t *e)
{
	*s = a > lo ? a : lo;
	*e = b < hi ? b : hi;
	return *s < *e;
}

void vfio_cfg_read(struct pci_dev *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct vfio_pci *vp = dev->priv;
	uint32_t s, e;

	if (overlap(off, off + len, PCI_STATUS, PCI_STATUS + 2, &s, &e)) {
		uint8_t live[2];

		if (vp->cfg.rd(vp->cfg.opaque, PCI_STATUS, live, 2) == 0) {
			live[0] = (uint8_t)((live[0] & ~PCI_STATUS_CAP_LIST) |
					    (dev->cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST));
			memcpy(data + (s - off), live + (s - PCI_STATUS), e - s);
		}
	}
	for (int i = 0; i < vp->nr_caps; i++) {
		const struct vfio_cap_map *c = &vp->caps[i];

		if (overlap(off, off + len, c->goff + c->hdr, c->goff + c->len, &s, &e))
			vp->cfg.rd(vp->cfg.opaque, c->doff + (s - c->goff), data + (s - off),
				   e - s);
	}
}

/* The MSI capability changed: keep the vector count within what the device can do,
 * then let pci_irq.c act on it. */
static void msi_written(struct vfio_pci *vp)
{
	uint8_t *flags = &vp->pci.cfg[vp->msi.cap + PCI_MSI_FLAGS];
	unsigned int qsize = (*flags & PCI_MSI_FLAGS_QSIZE) >> 4;

	if ((1u << qsize) > vp->msi.max) {
		while ((1u << qsize) > vp->msi.max)
			qsize--;
		*flags = (uint8_t)((*flags & ~PCI_MSI_FLAGS_QSIZE) | qsize << 4);
	}
	vfio_irq_update(vp);
}

void vfio_cfg_write(struct pci_dev *dev, uint32_t off, const uint8_t *data, uint32_t len)
{
	struct vfio_pci *vp = dev->priv;
	uint32_t s, e;

	if (overlap(off, off + len, PCI_COMMAND, PCI_COMMAND + 2, &s, &e)) {
		/* The core's view of the register, which it keeps in dev->cfg. */
		uint16_t cmd = rd16(dev->cfg, PCI_COMMAND) & CMD_FORWARDED;

		vp->cfg.wr(vp->cfg.opaque, PCI_COMMAND, &cmd, 2);
	}
	if (overlap(off, off + len, PCI_STATUS, PCI_STATUS + 2, &s, &e))
		vp->cfg.wr(vp->cfg.opaque, s, data + (s - off), e - s);
	for (int i = 0; i < vp->nr_caps; i++) {
		const struct vfio_cap_map *c = &vp->caps[i];

		if (overlap(off, off + len, c->goff + c->hdr, c->goff + c->len, &s, &e))
			vp->cfg.wr(vp->cfg.opaque, c->doff + (s - c->goff), data + (s - off),
				   e - s);
	}
	if (vp->msi.cap && overlap(off, off + len, vp->msi.cap, vp->msi.cap + 24, &s, &e))
		msi_written(vp);
	if (vp->has_msix)
		msix_cfg_write(&vp->msix, off, len);
}
