/* A passed-through PCI function as a struct pci_dev: regions, BARs and their mapping.
 *
 * Each BAR is cut into parts (vfio_bar_split): parts the device lets us mmap become
 * KVM memslots, so the guest reaches the registers with no exit; the pages holding the
 * MSI-X table and PBA are trapped (bus ranges), because the table the guest writes is
 * an emulated one (devices/msix.c) and the device's real table is programmed by the
 * host kernel through VFIO_DEVICE_SET_IRQS. Everything else in a trapped page, and
 * any BAR that cannot be mmap'd (I/O BARs, small BARs), is forwarded to the device
 * with pread/pwrite on its VFIO region. Nothing in a BAR is ever dropped: QEMU's NVMe
 * keeps its MSI-X table in BAR0 right after the doorbells, and a VMM that traps the
 * table without mapping or forwarding the rest of that BAR loses the controller.
 *
 * Guest BAR addresses are the PCI core's business (sizing, placement, guest moves);
 * it calls bar_map / bar_unmap and we install or remove the parts. The device's own
 * BARs keep whatever the host gave them.
 *
 * Lifetime: one instance of the device kind vfio_pci_device_ops (devices/device.h),
 * its only owner. Destroying it takes it off the PCI bus, then turns its interrupts off,
 * unmaps its BARs and resets the device; the device fd stays with the VM's vfio backend
 * instance (vfio.c), which attached it and detaches it, so the same function can be
 * added again while the VM runs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vfio/internal.h"
#include "vfio/iommu.h"
#include "vfio/vfio.h"
#include "vmm/bus.h"
#include "vmm/irq.h"
#include "vmm/log.h"
#include "vmm/machine.h"

#define VFIO_MAX_AREAS 16
#define ROM_MAX	       (16u << 20) /* kept in memory; real ROMs are 64 KiB to 1 MiB */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int vfio_bar_split(uint64_t size, const struct vfio_area *mm, int n_mm,
		   const struct vfio_area *trap, int n_trap, uint64_t page, struct vfio_piece *out,
		   int max)
{
	uint64_t cut[2 + 4 * VFIO_MAX_AREAS], mlo[VFIO_MAX_AREAS], mhi[VFIO_MAX_AREAS];
	uint64_t tlo[VFIO_MAX_AREAS], thi[VFIO_MAX_AREAS];
	int nc = 0, n = 0;

	if (n_mm > VFIO_MAX_AREAS || n_trap > VFIO_MAX_AREAS || size == 0)
		return size == 0 ? 0 : -E2BIG;
	cut[nc++] = 0;
	cut[nc++] = size;
	/* mmap'able areas shrink to whole pages; trapped ranges grow to whole pages. */
	for (int i = 0; i < n_mm; i++) {
		uint64_t end = mm[i].off + mm[i].len < size ? mm[i].off + mm[i].len : size;

		mlo[i] = (mm[i].off + page - 1) & ~(page - 1);
		mhi[i] = end & ~(page - 1);
		if (mlo[i] < mhi[i]) {
			cut[nc++] = mlo[i];
			cut[nc++] = mhi[i];
		}
	}
	for (int i = 0; i < n_trap; i++) {
		tlo[i] = trap[i].off & ~(page - 1);
		thi[i] = (trap[i].off + trap[i].len + page - 1) & ~(page - 1);
		if (thi[i] > size)
			thi[i] = size;
		if (tlo[i] < size) {
			cut[nc++] = tlo[i];
			cut[nc++] = thi[i];
		}
	}
	qsort(cut, (size_t)nc, sizeof(cut[0]), cmp_u64);
	/* Every interval boundary is a cut, so each segment lies wholly inside or outside
	 * each interval: testing its start is enough. */
	for (int i = 0; i + 1 < nc; i++) {
		uint64_t a = cut[i], b = cut[i + 1];
		bool map = false;

		if (a == b)
			continue;
		for (int j = 0; j < n_mm && !map; j++)
			map = a >= mlo[j] && a < mhi[j];
		for (int j = 0; j < n_trap && map; j++)
			map = !(a >= tlo[j] && a < thi[j]);
		if (n > 0 && out[n - 1].mmap == map && out[n - 1].off + out[n - 1].len == a) {
			out[n - 1].len += b - a;
			continue;
		}
		if (n == max)
			return -E2BIG;
		out[n++] = (struct vfio_piece){.off = a, .len = b - a, .mmap = map};
	}
	return n;
}

/* VFIO_DEVICE_GET_REGION_INFO with its capability chain; free() the result. */
static struct vfio_region_info *region_info(int fd, uint32_t index)
{
	struct vfio_region_info *ri = calloc(1, sizeof(*ri)), *big;

	if (!ri)
		return NULL;
	ri->argsz = sizeof(*ri);
	ri->index = index;
	if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, ri) < 0)
		goto err;
	if (ri->argsz > sizeof(*ri)) {
		uint32_t argsz = ri->argsz;

		big = realloc(ri, argsz);
		if (!big)
			goto err;
		ri = big;
		memset(ri, 0, argsz);
		ri->argsz = argsz;
		ri->index = index;
		if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, ri) < 0)
			goto err;
	}
	return ri;
err:
	free(ri);
	return NULL;
}

/* The mmap'able areas of a region: its sparse-mmap capability if it has one, else the
 * whole region if it is mmap'able at all. */
static int region_mmap_areas(const struct vfio_region_info *ri, struct vfio_area *a, int max)
{
	uint32_t off;
	int n = 0;

	if (!(ri->flags & VFIO_REGION_INFO_FLAG_MMAP))
		return 0;
	if (ri->flags & VFIO_REGION_INFO_FLAG_CAPS) {
		for (off = ri->cap_offset;
		     off && off + sizeof(struct vfio_info_cap_header) <= ri->argsz;) {
			const struct vfio_info_cap_header *h =
			    (const void *)((const uint8_t *)ri + off);

			if (h->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
				const struct vfio_region_info_cap_sparse_mmap *s = (const void *)h;

				if (off + sizeof(*s) + (uint64_t)s->nr_areas * sizeof(s->areas[0]) >
				    ri->argsz)
					return 0;
				for (uint32_t i = 0; i < s->nr_areas && n < max; i++)
					if (s->areas[i].size)
						a[n++] = (struct vfio_area){s->areas[i].offset,
									    s->areas[i].size};
				return n;
			}
			if (h->next <= off)
				break;
			off = h->next;
		}
	}
	a[n++] = (struct vfio_area){0, ri->size};
	return n;
}

static uint64_t pow2_at_least(uint64_t v, uint64_t min)
{
	uint64_t p = min;

	while (p < v)
		p <<= 1;
	return p;
}

/* Forwards one access of a trapped part to the device's region; accesses beyond the
 * region read as all ones and are dropped. 8-byte accesses go as two 4-byte ones,
 * which every kernel's vfio-pci accepts. */
static void bar_forward(struct vfio_pci *vp, const struct vfio_bar *b, uint64_t off, uint8_t *data,
			uint32_t len, bool is_write)
{
	for (uint32_t done = 0; done < len;) {
		uint32_t n = len - done > 4 ? 4 : len - done;
		ssize_t r;

		if (off + done + n > b->region_size)
			return;
		r = is_write ? pwrite(vp->fd, data + done, n, (off_t)(b->region_off + off + done))
			     : pread(vp->fd, data + done, n, (off_t)(b->region_off + off + done));
		if (r != (ssize_t)n) {
			log_guest("%s: BAR access at 0x%llx failed: %m", vp->name,
				  (unsigned long long)off);
			return;
		}
		done += n;
	}
}

static void bar_trap(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct vfio_bar_part *p = opaque;
	struct vfio_pci *vp = p->vp;
	uint64_t off = p->off + offset;

	if (p->bar == PCI_ROM_BAR) {
		/* Past the ROM's bytes, up to the BAR's power-of-two size: all ones. */
		if (!is_write)
			for (uint32_t i = 0; i < len; i++)
				data[i] = off + i < vp->rom_size ? vp->rom[off + i] : 0xff;
		return;
	}
	if (vp->has_msix && p->bar == vp->msix.bar) {
		uint64_t t = vp->msix.table_off, ts = msix_table_size(&vp->msix);
		uint64_t q = vp->msix.pba_off, qs = msix_pba_size(&vp->msix);

		if (off >= t && off + len <= t + ts) {
			msix_table_access(&vp->msix, off - t, data, len, is_write);
			return;
		}
		if (off >= q && off + len <= q + qs) {
			msix_pba_access(&vp->msix, off - q, data, len, is_write);
			return;
		}
	}
	bar_forward(vp, &vp->bars[p->bar], off, data, len, is_write);
}

static void bar_unmap(struct pci_dev *dev, int bar, uint64_t addr)
{
	struct vfio_pci *vp = dev->priv;
	struct vfio_bar *b = &vp->bars[bar];

	(void)addr;
	for (int i = 0; i < b->nr_parts; i++) {
		struct vfio_bar_part *p = &b->parts[i];

		if (!p->mapped)
			continue;
		if (p->slot >= 0)
			machine_memslot_remove(vp->mach, p->slot);
		else
			bus_unregister(b->io ? &vp->mach->pio : &vp->mach->mmio, p->gpa);
		p->slot = -1;
		p->mapped = false;
	}
}

/* The guest turned decoding on: the device must decode too, or the mmap'd parts
 * fault. (The command register write that did it is forwarded as well; this covers a
 * core that maps BARs without one.) */
static void bar_enable_decode(struct vfio_pci *vp, bool io)
{
	uint16_t cmd, bit = io ? 0x1 : 0x2;

	if (vp->cfg.rd(vp->cfg.opaque, 0x04, &cmd, 2) == 0 && !(cmd & bit)) {
		cmd |= bit;
		vp->cfg.wr(vp->cfg.opaque, 0x04, &cmd, 2);
	}
}

static int bar_map(struct pci_dev *dev, int bar, uint64_t addr)
{
	struct vfio_pci *vp = dev->priv;
	struct vfio_bar *b = &vp->bars[bar];
	int ret = 0;

	if (!vp->vv)
		return -ENODEV;
	bar_enable_decode(vp, b->io);
	for (int i = 0; i < b->nr_parts; i++) {
		struct vfio_bar_part *p = &b->parts[i];

		p->gpa = addr + p->off;
		if (p->hva) {
			ret = machine_memslot_add(vp->mach, p->gpa, p->len, p->hva);
			p->slot = ret;
		} else {
			ret = bus_register(b->io ? &vp->mach->pio : &vp->mach->mmio, p->gpa, p->len,
					   bar_trap, p);
			p->slot = -1;
		}
		if (ret < 0) {
			/* The guest chose the address (e.g. a BAR moved onto RAM: EEXIST) and
			 * does so again at each config write: rate-limited as its mistake. */
			log_guest("%s: cannot map BAR%d part [0x%llx, +0x%llx) at 0x%llx: %s",
				  vp->name, bar, (unsigned long long)p->off,
				  (unsigned long long)p->len, (unsigned long long)p->gpa,
				  strerror(-ret));
			p->slot = -1;
			bar_unmap(dev, bar, addr);
			return ret;
		}
		p->mapped = true;
	}
	return 0;
}

/* Reads BAR i's region and type, cuts it into parts and declares it to the core. */
static int bar_setup(struct vfio_pci *vp, int i, int *skip_next, char *desc, size_t dlen)
{
	struct vfio_region_info *ri = region_info(vp->fd, (uint32_t)i);
	struct vfio_area mm[VFIO_MAX_AREAS], trap[2];
	struct vfio_piece pieces[VFIO_MAX_PARTS];
	struct vfio_bar *b = &vp->bars[i];
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), size, mapped = 0;
	enum pci_bar_type type;
	int n_mm, n_trap = 0, n, ret = 0;
	uint32_t reg = 0;

	if (!ri)
		return -errno;
	if (ri->size == 0)
		goto out;
	if (vp->cfg.rd(vp->cfg.opaque, 0x10 + 4 * (uint32_t)i, &reg, 4) < 0) {
		ret = -EIO;
		goto out;
	}
	b->region_off = ri->offset;
	b->region_size = ri->size;
	b->flags = ri->flags;
	b->io = reg & 1;
	type = b->io ? PCI_BAR_IO : ((reg >> 1) & 3) == 2 ? PCI_BAR_MEM64 : PCI_BAR_MEM32;
	size = pow2_at_least(ri->size, b->io ? 4 : 4096);
	n_mm = b->io ? 0 : region_mmap_areas(ri, mm, VFIO_MAX_AREAS);
	if (vp->has_msix && vp->msix.bar == i) {
		trap[n_trap++] = (struct vfio_area){vp->msix.table_off, msix_table_size(&vp->msix)};
		trap[n_trap++] = (struct vfio_area){vp->msix.pba_off, msix_pba_size(&vp->msix)};
	}
	n = vfio_bar_split(size, mm, n_mm, trap, n_trap, page, pieces, VFIO_MAX_PARTS);
	if (n < 0) {
		ret = n;
		goto out;
	}
	for (int k = 0; k < n; k++) {
		struct vfio_bar_part *p = &b->parts[k];

		*p = (struct vfio_bar_part){
		    .vp = vp, .bar = i, .off = pieces[k].off, .len = pieces[k].len, .slot = -1};
		if (pieces[k].mmap) {
			void *hva = mmap(NULL, p->len, PROT_READ | PROT_WRITE, MAP_SHARED, vp->fd,
					 (off_t)(b->region_off + p->off));

			/* Not fatal: the part is forwarded instead, only slower. */
			if (hva == MAP_FAILED)
				log_warn(
				    "%s: cannot mmap BAR%d [0x%llx, +0x%llx): %m; forwarding it",
				    vp->name, i, (unsigned long long)p->off,
				    (unsigned long long)p->len);
			else {
				p->hva = hva;
				mapped += p->len;
			}
		}
		b->nr_parts = k + 1;
	}
	ret = pci_dev_add_bar(&vp->pci, i, type, size, !b->io && (reg & 0x8));
	if (ret < 0)
		goto out;
	*skip_next = type == PCI_BAR_MEM64;
	snprintf(desc + strlen(desc), dlen - strlen(desc), "; BAR%d %s%s %llu %s", i,
		 b->io			 ? "io"
		 : type == PCI_BAR_MEM64 ? "mem64"
					 : "mem32",
		 !b->io && (reg & 0x8) ? " pref" : "",
		 (unsigned long long)(size >= 1024 ? size >> 10 : size),
		 size >= 1024 ? "KiB" : "B");
	if (!b->io)
		snprintf(desc + strlen(desc), dlen - strlen(desc), " (%llu KiB mapped)",
			 (unsigned long long)(mapped >> 10));
out:
	free(ri);
	return ret;
}

/* The expansion ROM: VFIO reports its ROM region only when the host found a valid ROM
 * image (else size 0: the guest's ROM register then reads 0, no ROM). Read whole, once;
 * a read that fails leaves the device without one, with a warning. */
static int rom_setup(struct vfio_pci *vp, char *desc, size_t dlen)
{
	struct vfio_region_info *ri = region_info(vp->fd, VFIO_PCI_ROM_REGION_INDEX);
	struct vfio_bar *b = &vp->bars[PCI_ROM_BAR];
	uint64_t size;
	ssize_t n;
	int ret;

	if (!ri || ri->size == 0 || !(ri->flags & VFIO_REGION_INFO_FLAG_READ))
		goto none;
	if (ri->size > ROM_MAX) {
		log_warn("%s: its expansion ROM region (%llu KiB) is larger than a ROM BAR can "
			 "be; hidden from the guest",
			 vp->name, (unsigned long long)(ri->size >> 10));
		goto none;
	}
	vp->rom = malloc(ri->size);
	if (!vp->rom) {
		free(ri);
		return -ENOMEM;
	}
	n = pread(vp->fd, vp->rom, ri->size, (off_t)ri->offset);
	if (n != (ssize_t)ri->size) {
		log_warn("%s: cannot read its expansion ROM (%s); hidden from the guest", vp->name,
			 n < 0 ? strerror(errno) : "it read short");
		free(vp->rom);
		vp->rom = NULL;
		goto none;
	}
	vp->rom_size = ri->size;
	size = pow2_at_least(ri->size, 2048);
	b->region_off = ri->offset;
	b->region_size = ri->size;
	b->flags = ri->flags;
	b->parts[0] = (struct vfio_bar_part){.vp = vp, .bar = PCI_ROM_BAR, .len = size, .slot = -1};
	b->nr_parts = 1;
	free(ri);
	ret = pci_dev_add_bar(&vp->pci, PCI_ROM_BAR, PCI_BAR_MEM32, size, false);
	if (ret == 0)
		snprintf(desc + strlen(desc), dlen - strlen(desc), "; ROM %llu KiB",
			 (unsigned long long)(vp->rom_size >> 10));
	return ret;
none:
	free(ri);
	return 0;
}

/* Config space accesses stay inside the device's config region: some devices' is
 * smaller than 256 bytes (mtty's has 255) and their drivers do not check bounds.
 * Bytes past its end read as zero and are not written. */
static uint32_t cfg_clamp(const struct vfio_pci *vp, uint32_t off, uint32_t len)
{
	if (off >= vp->cfg_region_size)
		return 0;
	return vp->cfg_region_size - off < len ? (uint32_t)(vp->cfg_region_size - off) : len;
}

static int cfg_pread(void *opaque, uint32_t off, void *buf, uint32_t len)
{
	struct vfio_pci *vp = opaque;
	uint32_t n = cfg_clamp(vp, off, len);

	if (n == 0)
		return -EIO;
	memset((uint8_t *)buf + n, 0, len - n);
	return pread(vp->fd, buf, n, (off_t)(vp->cfg_region_off + off)) == (ssize_t)n ? 0 : -EIO;
}

static int cfg_pwrite(void *opaque, uint32_t off, const void *buf, uint32_t len)
{
	struct vfio_pci *vp = opaque;
	uint32_t n = cfg_clamp(vp, off, len);

	if (n == 0)
		return -EIO;
	return pwrite(vp->fd, buf, n, (off_t)(vp->cfg_region_off + off)) == (ssize_t)n ? 0 : -EIO;
}

void vfio_pci_teardown(struct vfio_pci *vp)
{
	vfio_irq_watch_stop(vp);
	vfio_irq_teardown(vp);
	for (int i = 0; i < PCI_NR_BARS; i++) {
		struct vfio_bar *b = &vp->bars[i];

		bar_unmap(&vp->pci, i, 0);
		for (int k = 0; k < b->nr_parts; k++)
			if (b->parts[k].hva)
				munmap(b->parts[k].hva, b->parts[k].len);
		b->nr_parts = 0;
	}
	if (vp->has_msix)
		msix_destroy(&vp->msix);
	vp->has_msix = false;
	free(vp->rom);
	vp->rom = NULL;
	vp->rom_size = 0;
	/* Leave the device as we found it for the next VM or the host driver. */
	if (vp->fd >= 0 && (vp->info.flags & VFIO_DEVICE_FLAGS_RESET) &&
	    ioctl(vp->fd, VFIO_DEVICE_RESET) < 0)
		log_warn("%s: VFIO_DEVICE_RESET at teardown failed: %m", vp->name);
	vp->fd = -1;
}

/* Not static: tests/unit/test_vfio_cfg.c maps BARs through it without a VFIO device. */
const struct pci_dev_ops vfio_pci_ops = {
    .cfg_read = vfio_cfg_read,
    .cfg_write = vfio_cfg_write,
    .bar_map = bar_map,
    .bar_unmap = bar_unmap,
};

/* Device info, reset, config region: what the rest is built on. */
static int vfio_pci_open(struct vfio_pci *vp)
{
	struct vfio_region_info *ri;

	vp->info.argsz = sizeof(vp->info);
	if (ioctl(vp->fd, VFIO_DEVICE_GET_INFO, &vp->info) < 0) {
		log_err("%s: VFIO_DEVICE_GET_INFO failed: %m", vp->name);
		return -errno;
	}
	if (!(vp->info.flags & VFIO_DEVICE_FLAGS_PCI) ||
	    vp->info.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX) {
		log_err("%s: VFIO does not present it as a PCI device", vp->name);
		return -ENODEV;
	}
	if (!(vp->info.flags & VFIO_DEVICE_FLAGS_RESET))
		log_warn("%s: the device has no reset; the guest gets it in the state the host "
			 "left it",
			 vp->name);
	else if (ioctl(vp->fd, VFIO_DEVICE_RESET) < 0)
		log_warn("%s: VFIO_DEVICE_RESET failed: %m; continuing without reset", vp->name);
	ri = region_info(vp->fd, VFIO_PCI_CONFIG_REGION_INDEX);
	/* The type 0 header at least (mediated devices may offer less than 256 bytes). */
	if (!ri || ri->size < 64) {
		log_err("%s: cannot read its config space region", vp->name);
		free(ri);
		return -EIO;
	}
	vp->cfg_region_off = ri->offset;
	vp->cfg_region_size = ri->size;
	free(ri);
	vp->cfg = (struct vfio_cfg_io){.rd = cfg_pread, .wr = cfg_pwrite, .opaque = vp};
	return 0;
}

int vfio_pci_create(struct vfio_vm *vv, struct vfio_host *h, struct vfio_pci **out)
{
	struct vfio_pci *vp = calloc(1, sizeof(*vp));
	char desc[512] = "";
	int ret, skip = 0;

	if (!vp)
		return -ENOMEM;
	vp->vv = vv;
	vp->host = h;
	vp->mach = vv->mach;
	vp->fd = h->device_fd;
	vp->intx_efd = vp->intx_resample = vp->intx_stop = -1;
	vp->mig.data_fd = -1;
	vp->watch_efd[0] = vp->watch_efd[1] = -1;
	pthread_mutex_init(&vp->irq_lock, NULL);
	snprintf(vp->name, sizeof(vp->name), "vfio.%s (%s)", h->cfg->name, h->addr);
	ret = vfio_pci_open(vp);
	if (ret < 0)
		goto err;
	ret = vfio_cfg_build(vp);
	if (ret < 0) {
		log_err("%s: cannot build its config space: %s", vp->name, strerror(-ret));
		goto err;
	}
	for (int i = 0; i < PCI_ROM_BAR; i++) {
		if (skip) {
			skip = 0;
			continue;
		}
		ret = bar_setup(vp, i, &skip, desc, sizeof(desc));
		if (ret < 0) {
			log_err("%s: cannot set up BAR%d: %s", vp->name, i, strerror(-ret));
			goto err;
		}
	}
	ret = vp->fd >= 0 ? rom_setup(vp, desc, sizeof(desc)) : 0;
	if (ret < 0) {
		log_err("%s: cannot set up its expansion ROM: %s", vp->name, strerror(-ret));
		goto err;
	}
	vp->pci.mach = vv->mach;
	vp->pci.ops = &vfio_pci_ops;
	vp->pci.priv = vp;
	vp->pci.name = vp->name;
	ret = pci_register(vv->mach, &vp->pci, -1, 0);
	if (ret < 0) {
		log_err("%s: cannot place it on the guest's PCI bus: %s", vp->name, strerror(-ret));
		goto err;
	}
	if (vp->pin)
		vp->intx_gsi = pci_intx_gsi(vp->pci.devfn, vp->pin);
	log_info("%s: guest 00:%02x.%x%s; MSI-X %u, MSI %u, INTx %s", vp->name, vp->pci.devfn >> 3,
		 vp->pci.devfn & 7, desc, vp->has_msix ? vp->msix.nr : 0,
		 vp->msi.cap ? vp->msi.max : 0, vp->pin ? "yes" : "no");
	vfio_irq_update(vp); /* INTx until the guest enables MSI or MSI-X */
	if (vp->fd >= 0)
		vfio_irq_watch_start(vp);
	*out = vp;
	return 0;
err:
	vfio_pci_teardown(vp);
	pthread_mutex_destroy(&vp->irq_lock);
	free(vp);
	return ret;
}
