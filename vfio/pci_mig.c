/* The vfio-pci device kind (pci.c builds the function) and its migration (VFIO
 * migration v2): its state machine, its
 * data, its DMA log, and the guest-visible state around it (config space, MSI-X).
 *
 * The host driver (mlx5 and other VF variants, mtty) moves the device's own state
 * through a data fd in the states of enum vfio_device_mig_state; every SET may be a
 * combination the driver walks step by step. What minivmm asks for:
 *   source       RUNNING -> PRE_COPY (early data read each round, when offered)
 *                -> PRE_COPY_P2P / RUNNING_P2P at the switchover, for every device
 *                before any goes on (no device DMAs into one that stopped)
 *                -> STOP_COPY (the rest read to end of file); back to RUNNING when
 *                the migration fails or a snapshot was taken
 *   destination  -> RESUMING (early data, then the rest, written in order)
 *                -> RUNNING_P2P (or STOP without P2P), then RUNNING once every device
 *                is loaded (activate)
 * The data is opaque to us and checked by the host driver, which refuses data for
 * another device type; a refusal is the destination's reason to refuse the guest.
 * Around it we save the guest's view of the function (pci_save: config space, BARs
 * where the guest put them) and its MSI-X table, and re-arm its interrupts after the
 * load. DMA the device makes during pre-copy is logged where the device can
 * (VFIO_DEVICE_FEATURE_DMA_LOGGING_*), else recorded by the IOMMU where the backend
 * attached it to a dirty-tracking page table (iommufd, vfio/iommufd_hwpt.h); else the
 * migration is told nothing tracks it. The device's own log comes first: its driver
 * knows what it wrote, and an IOMMU page table shared with other devices would add
 * their pages too. */
#include <errno.h>
#include <fcntl.h>
#include <linux/pci_regs.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/stream.h"
#include "vfio/internal.h"
#include "vfio/iommu.h"
#include "vfio/uapi_compat.h"
#include "vfio/vfio.h"
#include "vmm/log.h"
#include "vmm/machine.h"

#define MIG_STATE_VERSION 1
#define MIG_DATA_MAX	  (256u << 20) /* one device's data: far above today's drivers */

static const char *const state_names[] = {"ERROR",    "STOP",	     "RUNNING",	 "STOP_COPY",
					  "RESUMING", "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P"};

static const char *state_name(uint32_t s)
{
	return s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

/* VFIO_DEVICE_FEATURE with a payload of len bytes. */
static int feature(int fd, uint32_t flags, void *payload, size_t len)
{
	uint64_t buf[(sizeof(struct vfio_device_feature) + 64) / 8] = {0};
	struct vfio_device_feature *f = (struct vfio_device_feature *)buf;

	if (len > 64)
		return -EINVAL;
	f->argsz = (uint32_t)(sizeof(*f) + len);
	f->flags = flags;
	if (len)
		memcpy(f->data, payload, len);
	if (ioctl(fd, VFIO_DEVICE_FEATURE, f) < 0)
		return -errno;
	if (len)
		memcpy(payload, f->data, len);
	return 0;
}

/* Moves the device to state; a data fd the driver returns replaces mig.data_fd. */
static int set_state(struct vfio_pci *vp, uint32_t state)
{
	struct vfio_device_feature_mig_state ms = {.device_state = state, .data_fd = -1};
	int ret = feature(vp->fd, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			  &ms, sizeof(ms));

	if (ret < 0) {
		snprintf(vp->mig.why, sizeof(vp->mig.why), "%s -> %s: %s",
			 state_name(vp->mig.state), state_name(state), strerror(-ret));
		return ret;
	}
	vp->mig.state = state;
	if (ms.data_fd >= 0) {
		if (vp->mig.data_fd >= 0)
			close(vp->mig.data_fd);
		vp->mig.data_fd = ms.data_fd;
	}
	return 0;
}

static void close_data(struct vfio_pci *vp)
{
	if (vp->mig.data_fd >= 0)
		close(vp->mig.data_fd);
	vp->mig.data_fd = -1;
}

static void vfio_mig_probe(struct vfio_pci *vp)
{
	struct vfio_device_feature_migration m = {0};
	uint64_t none = 0;

	vp->mig.data_fd = -1;
	vp->mig.state = VFIO_DEVICE_STATE_RUNNING;
	if (vp->fd < 0 ||
	    feature(vp->fd, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, &m,
		    sizeof(m)) < 0 ||
	    !(m.flags & VFIO_MIGRATION_STOP_COPY)) {
		vp->mig.flags = 0;
		return;
	}
	vp->mig.flags = m.flags;
	vp->mig.logging = feature(vp->fd,
				  VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
				      VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
				  &none, 0) == 0;
	log_info("%s: VFIO migration: stop-copy%s%s; DMA logging %s", vp->name,
		 m.flags & VFIO_MIGRATION_P2P ? ", p2p" : "",
		 m.flags & VFIO_MIGRATION_PRE_COPY ? ", pre-copy" : "",
		 vp->mig.logging ? "yes" : "no");
}

/* Which page table of the backend records the device's DMA writes, if any: asked once,
 * when the device is made, and logged with what covers its DMA in a migration. */
static void vfio_dma_tracker_probe(struct vfio_pci *vp)
{
	const struct vfio_iommu_ops *ops = vp->vv ? vp->vv->iommu_ops : NULL;
	char buf[sizeof(vp->mig.untracked) + 96];

	vp->mig.hwpt = 0;
	if (!ops)
		snprintf(vp->mig.untracked, sizeof(vp->mig.untracked), "no IOMMU backend");
	else if (!ops->dirty_hwpt)
		snprintf(vp->mig.untracked, sizeof(vp->mig.untracked),
			 "the %s backend does not use the IOMMU's dirty tracking", ops->name);
	else
		vp->mig.hwpt = ops->dirty_hwpt(vp->vv->iommu, vp->fd, vp->mig.untracked,
					       sizeof(vp->mig.untracked));
	if (vp->fd < 0)
		return;
	log_info("%s: DMA dirty tracking: %s%s", vp->name,
		 vfio_pci_dma_tracker(vp, buf, sizeof(buf)),
		 vp->mig.logging || vp->mig.hwpt || !vp->mig.flags
		     ? ""
		     : "; a live migration sends all of guest RAM again at the switchover");
}

const char *vfio_pci_dma_tracker(void *state, char *buf, size_t len)
{
	struct vfio_pci *vp = state;

	if (vp->mig.logging)
		snprintf(buf, len, "the device's DMA logging");
	else if (vp->mig.hwpt)
		snprintf(buf, len, "the IOMMU (iommufd HWPT %u)", vp->mig.hwpt);
	else
		snprintf(buf, len, "none (%s%s)", vp->mig.flags ? "no device DMA logging; " : "",
			 vp->mig.untracked);
	return buf;
}

const char *vfio_pci_migration(void *state, char *buf, size_t len)
{
	struct vfio_pci *vp = state;

	if (!vp->mig.flags)
		return NULL;
	snprintf(buf, len, "stop-copy%s%s; DMA logging %s",
		 vp->mig.flags & VFIO_MIGRATION_P2P ? ", p2p" : "",
		 vp->mig.flags & VFIO_MIGRATION_PRE_COPY ? ", pre-copy" : "",
		 vp->mig.logging ? "yes" : "no");
	return buf;
}

static void vfio_mig_close(struct vfio_pci *vp)
{
	close_data(vp);
}

static const char *mig_unmigratable(void *state)
{
	struct vfio_pci *vp = state;

	return vp->mig.flags ? NULL : "its host driver has no VFIO migration support";
}

/* Reads the data fd into out: until end of file, or (pre-copy) until the driver has
 * nothing more for now (ENOMSG, or nothing readable). */
static int read_data(struct vfio_pci *vp, struct device_stream *out, bool precopy)
{
	uint8_t buf[16384];

	for (;;) {
		ssize_t n;

		if (precopy) {
			struct pollfd p = {.fd = vp->mig.data_fd, .events = POLLIN};

			if (poll(&p, 1, 0) != 1)
				return 0;
		}
		n = read(vp->mig.data_fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && precopy && (errno == ENOMSG || errno == EAGAIN)))
			return 0;
		if (n < 0) {
			snprintf(vp->mig.why, sizeof(vp->mig.why), "reading its data: %m");
			return -errno;
		}
		if (out->len + (size_t)n > MIG_DATA_MAX) {
			snprintf(vp->mig.why, sizeof(vp->mig.why), "more than %u MiB of data",
				 MIG_DATA_MAX >> 20);
			return -E2BIG;
		}
		stream_put(out, buf, (size_t)n);
		vp->mig.bytes += (uint64_t)n;
	}
}

static int write_data(struct vfio_pci *vp, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(vp->mig.data_fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(vp->mig.why, sizeof(vp->mig.why),
				 "the device refused its migrated state (%s): data for another "
				 "device type, or corrupted",
				 n < 0 ? strerror(errno) : "short write");
			return n < 0 ? -errno : -EIO;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The guest RAM regions as DMA logging ranges (iova = guest physical address). */
static int mig_start(void *state, bool *dma_tracked)
{
	struct vfio_pci *vp = state;
	const struct guest_mem *mem = &vp->mach->mem;
	struct vfio_device_feature_dma_logging_range r[MEM_MAX_REGIONS];
	struct vfio_device_feature_dma_logging_control c = {
	    .page_size = 4096, .num_ranges = (uint32_t)mem->nr_regions, .ranges = (uintptr_t)r};
	int ret = 0;

	for (int i = 0; i < mem->nr_regions; i++)
		r[i] = (struct vfio_device_feature_dma_logging_range){mem->regions[i].gpa,
								      mem->regions[i].size};
	vp->mig.bytes = 0;
	vp->mig.info_logged = false;
	vp->mig.logging_on =
	    vp->mig.logging &&
	    feature(vp->fd, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START, &c,
		    sizeof(c)) == 0;
	/* The IOMMU where the device does not log (or its log would not start); on now,
	 * before round 0 reads guest RAM, so that no write after that read is missed. */
	vp->mig.hwpt_on = false;
	if (!vp->mig.logging_on && vp->mig.hwpt) {
		ret = vp->vv->iommu_ops->dirty_track(vp->vv->iommu, vp->fd, true);
		if (ret < 0)
			log_warn("%s: cannot start the IOMMU's dirty tracking "
				 "(IOMMU_HWPT_SET_DIRTY_TRACKING on HWPT %u: %s)",
				 vp->name, vp->mig.hwpt, strerror(-ret));
		vp->mig.hwpt_on = ret == 0;
		ret = 0;
	}
	*dma_tracked = vp->mig.logging_on || vp->mig.hwpt_on;
	if (vp->mig.flags & VFIO_MIGRATION_PRE_COPY)
		ret = set_state(vp, VFIO_DEVICE_STATE_PRE_COPY);
	if (ret < 0)
		log_warn("%s: cannot start pre-copy (%s); its data goes at the switchover",
			 vp->name, vp->mig.why);
	return 0;
}

/* Each pre-copy round: what the driver says it has (VFIO_MIG_GET_PRECOPY_INFO: the
 * initial data, which the destination wants before the switchover, and data dirtied
 * since); nothing is read when it has none, else the data fd is read until it has
 * nothing more for now. The first answer is logged: how much the device sends early. */
static int mig_precopy(void *state, struct device_stream *out)
{
	struct vfio_pci *vp = state;
	struct vfio_precopy_info info = {.argsz = sizeof(info)};

	if (vp->mig.state != VFIO_DEVICE_STATE_PRE_COPY || vp->mig.data_fd < 0)
		return 0;
	if (ioctl(vp->mig.data_fd, VFIO_MIG_GET_PRECOPY_INFO, &info) == 0) {
		if (!vp->mig.info_logged)
			log_info("%s: pre-copy: %llu bytes of initial data, %llu dirty", vp->name,
				 (unsigned long long)info.initial_bytes,
				 (unsigned long long)info.dirty_bytes);
		vp->mig.info_logged = true;
		if (!info.initial_bytes && !info.dirty_bytes)
			return 0;
	}
	return read_data(vp, out, true);
}

/* The device's own log of its DMA writes, per RAM region, into the bitmaps; or what its
 * IOMMU page table recorded. */
static int mig_dirty(void *state, const struct guest_mem *mem, uint64_t **bitmaps)
{
	struct vfio_pci *vp = state;

	if (vp->mig.hwpt_on)
		return vp->vv->iommu_ops->dirty_read(vp->vv->iommu, vp->fd, mem, bitmaps);
	for (int i = 0; vp->mig.logging_on && i < mem->nr_regions; i++) {
		uint64_t pages = mem->regions[i].size / 4096;
		uint64_t *bm = calloc(pages / 64 + 1, 8);
		struct vfio_device_feature_dma_logging_report rep = {.iova = mem->regions[i].gpa,
								     .length = mem->regions[i].size,
								     .page_size = 4096,
								     .bitmap = (uintptr_t)bm};
		int ret =
		    bm ? feature(vp->fd,
				 VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
				 &rep, sizeof(rep))
		       : -ENOMEM;

		for (uint64_t w = 0; ret == 0 && w < pages / 64 + 1; w++)
			bitmaps[i][w] |= bm[w];
		free(bm);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int mig_quiesce(void *state)
{
	struct vfio_pci *vp = state;

	if (!vp->mig.flags || !(vp->mig.flags & VFIO_MIGRATION_P2P))
		return 0;
	return set_state(vp, vp->mig.state == VFIO_DEVICE_STATE_PRE_COPY
				 ? VFIO_DEVICE_STATE_PRE_COPY_P2P
				 : VFIO_DEVICE_STATE_RUNNING_P2P);
}

static void mig_end(void *state)
{
	struct vfio_pci *vp = state;

	if (vp->mig.logging_on)
		feature(vp->fd, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
			NULL, 0);
	vp->mig.logging_on = false;
	if (vp->mig.hwpt_on)
		vp->vv->iommu_ops->dirty_track(vp->vv->iommu, vp->fd, false);
	vp->mig.hwpt_on = false;
	if (vp->mig.state == VFIO_DEVICE_STATE_PRE_COPY ||
	    vp->mig.state == VFIO_DEVICE_STATE_PRE_COPY_P2P) {
		set_state(vp, VFIO_DEVICE_STATE_RUNNING);
		close_data(vp);
	}
}

/* The device to STOP_COPY (from pre-copy the same data fd goes on) and everything it
 * still has; then the guest's view of it. */
static int mig_save(void *state, struct device_stream *out)
{
	struct vfio_pci *vp = state;
	struct device_stream data = {0};
	uint32_t version = MIG_STATE_VERSION, len;
	int ret;

	ret = set_state(vp, VFIO_DEVICE_STATE_STOP_COPY);
	if (ret == 0 && vp->mig.data_fd < 0)
		ret = -EIO;
	if (ret == 0)
		ret = read_data(vp, &data, false);
	if (ret < 0) {
		log_err("%s: cannot save its state: %s", vp->name, vp->mig.why);
		stream_free(&data);
		return ret;
	}
	len = (uint32_t)data.len;
	stream_put(out, &version, sizeof(version));
	stream_put(out, vp->host->mdev_type, sizeof(vp->host->mdev_type));
	stream_put(out, &len, sizeof(len));
	stream_put(out, data.data, data.len);
	pci_save(&vp->pci, out);
	if (vp->has_msix)
		msix_save(&vp->msix, out);
	log_info("%s: state saved (%llu bytes of device data in all)", vp->name,
		 (unsigned long long)vp->mig.bytes);
	stream_free(&data);
	return out->err;
}

/* A saved or failed migration: the device runs again where it was. */
static void mig_thaw(void *state)
{
	struct vfio_pci *vp = state;

	if (vp->mig.state != VFIO_DEVICE_STATE_RUNNING && vp->fd >= 0 &&
	    set_state(vp, VFIO_DEVICE_STATE_RUNNING) < 0)
		log_err("%s: cannot run again: %s", vp->name, vp->mig.why);
	close_data(vp);
}

static int to_resuming(struct vfio_pci *vp)
{
	if (vp->mig.state == VFIO_DEVICE_STATE_RESUMING)
		return 0;
	if (!vp->mig.flags) {
		snprintf(vp->mig.why, sizeof(vp->mig.why),
			 "its host driver here has no VFIO migration support");
		return -ENOTSUP;
	}
	return set_state(vp, VFIO_DEVICE_STATE_RESUMING);
}

static int mig_load_early(void *state, const uint8_t *data, size_t len)
{
	struct vfio_pci *vp = state;
	int ret = to_resuming(vp);

	if (ret == 0)
		ret = write_data(vp, data, len);
	if (ret < 0)
		machine_error(vp->mach, "%s: %s", vp->name, vp->mig.why);
	return ret;
}

static int mig_load(void *state, struct device_stream *in)
{
	struct vfio_pci *vp = state;
	char type[sizeof(vp->host->mdev_type)];
	uint32_t version = 0, len = 0;
	int ret;

	stream_get(in, &version, sizeof(version));
	stream_get(in, type, sizeof(type));
	stream_get(in, &len, sizeof(len));
	if (in->err || version != MIG_STATE_VERSION || len > in->len - in->pos)
		return -EINVAL;
	type[sizeof(type) - 1] = 0;
	if (strcmp(type, vp->host->mdev_type)) {
		machine_error(
		    vp->mach,
		    "%s: saved from a device of type '%s', this one is of type '%s'; give "
		    "the destination a device of the same type",
		    vp->name, type[0] ? type : "(a PCI function)",
		    vp->host->mdev_type[0] ? vp->host->mdev_type : "(a PCI function)");
		return -EINVAL;
	}
	ret = to_resuming(vp);
	if (ret == 0)
		ret = write_data(vp, in->data + in->pos, len);
	in->pos += len;
	/* RESUMING -> STOP makes the driver load what it was given. */
	if (ret == 0)
		ret =
		    set_state(vp, vp->mig.flags & VFIO_MIGRATION_P2P ? VFIO_DEVICE_STATE_RUNNING_P2P
								     : VFIO_DEVICE_STATE_STOP);
	if (ret < 0) {
		machine_error(vp->mach, "%s: %s", vp->name, vp->mig.why);
		return ret;
	}
	close_data(vp);
	ret = pci_load(&vp->pci, in);
	if (ret == 0 && vp->has_msix)
		ret = msix_load(&vp->msix, in);
	if (ret < 0)
		return ret;
	/* The command register and the interrupts as the guest had them. */
	vfio_cfg_write(&vp->pci, PCI_COMMAND, vp->pci.cfg + PCI_COMMAND, 2);
	if (vp->msi.cap)
		vfio_cfg_write(&vp->pci, vp->msi.cap, vp->pci.cfg + vp->msi.cap, 4);
	vfio_irq_update(vp);
	vp->mig.loaded = true;
	return 0;
}

/* The destination's go (or a restore's): the loaded device runs. */
static int mig_activate(void *state, bool on)
{
	struct vfio_pci *vp = state;

	if (!on || !vp->mig.loaded)
		return 0;
	if (set_state(vp, VFIO_DEVICE_STATE_RUNNING) < 0) {
		machine_error(vp->mach, "%s: cannot run: %s", vp->name, vp->mig.why);
		return -EIO;
	}
	vp->mig.loaded = false;
	vfio_irq_kick(vp);
	return 0;
}

/* The device kind: spec->parent is the VM's vfio backend instance, spec->index the
 * [vfio.NAME] it attached. */
static int vfio_pci_dev_create(struct machine *mach, const struct device_spec *spec, void **state)
{
	struct vfio_vm *vv = spec->parent ? spec->parent->state : NULL;
	struct vfio_host *h;
	int ret;

	/* Private guest RAM (shared_memory = off) is not for device DMA (vmm/vm.c says
	 * why); only a hot-add can get here with it. */
	if (mach->mem.memfd < 0) {
		machine_error(mach,
			      "%s: passthrough needs guest RAM that stays put for device DMA, and "
			      "this VM's is private (shared_memory = off); start it with [vm] "
			      "shared_memory = auto or on",
			      spec->name);
		return -EINVAL;
	}
	if (!vv || spec->index >= vv->nr_hosts || vv->hosts[spec->index].device_fd < 0) {
		log_err("%s: its VFIO backend has not attached it", spec->name);
		return -ENODEV;
	}
	h = &vv->hosts[spec->index];
	ret = vfio_pci_create(vv, h, (struct vfio_pci **)state);
	if (ret == 0) {
		vfio_mig_probe(*state);
		vfio_dma_tracker_probe(*state);
	}
	return ret;
}

/* Off the bus first, so no guest access reaches what teardown releases. */
static void vfio_pci_dev_destroy(void *state)
{
	struct vfio_pci *vp = state;

	pci_unregister(&vp->pci);
	vfio_mig_close(vp);
	vfio_pci_teardown(vp);
	pthread_mutex_destroy(&vp->irq_lock);
	free(vp);
}

static struct pci_dev *vfio_pci_dev_pci(void *state)
{
	return &((struct vfio_pci *)state)->pci;
}

/* The device kind: pci.c builds the function, this file makes it a device of the
 * model and migrates it. */
const struct device_ops vfio_pci_device_ops = {
    .kind = "vfio-pci",
    .pci = true,
    .hotplug = true,
    .create = vfio_pci_dev_create,
    .destroy = vfio_pci_dev_destroy,
    .pci_dev = vfio_pci_dev_pci,
    .unmigratable = mig_unmigratable,
    .mig_start = mig_start,
    .mig_precopy = mig_precopy,
    .mig_dirty = mig_dirty,
    .quiesce = mig_quiesce,
    .mig_end = mig_end,
    .save = mig_save,
    .thaw = mig_thaw,
    .load_early = mig_load_early,
    .load = mig_load,
    .activate = mig_activate,
};
