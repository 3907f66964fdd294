/* The legacy VFIO IOMMU backend: one container (/dev/vfio/vfio) per VM with the type1v2
 * IOMMU, every IOMMU group of the VM's devices attached to it (see iommu.h).
 *
 * The kernel wants this order: open the group, check it is viable, put it in the
 * container, set the IOMMU type (once, after the first group), register the group with
 * KVM-VFIO, and only then ask the group for a device fd. Mappings are per container,
 * so every group shares the one copy of guest RAM at iova = gpa.
 *
 * Before the first mapping we read the container's valid IOVA ranges (the type1
 * VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE capability: the IOMMU's aperture minus every
 * attached group's reserved regions, e.g. the MSI window at 0xfee00000 on x86) and
 * refuse a RAM region outside them: mapping it would fail, or worse, succeed and let
 * DMA there go elsewhere. */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vfio/internal.h"
#include "vfio/iommu.h"
#include "vmm/log.h"

#define CONTAINER_MAX_RANGES 16

struct container_group {
	int id;	    /* IOMMU group number */
	int fd;	    /* /dev/vfio/ID */
	int kvm_fd; /* the KVM-VFIO device it is registered with, -1: not registered */
	int users;  /* devices attached through it */
};

struct vfio_iommu {
	int fd; /* the container */
	char dev_root[64];
	bool iommu_set;
	struct container_group groups[VFIO_MAX_DEVICES];
	int nr_groups;
	struct vfio_iova_range ranges[CONTAINER_MAX_RANGES];
	int nr_ranges; /* 0: the kernel did not say (older than 5.4): do not check */
};

static int container_open(struct vfio_iommu **out, const char *dev_root)
{
	struct vfio_iommu *io;
	char path[96];
	int ret;

	io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	snprintf(io->dev_root, sizeof(io->dev_root), "%s", dev_root);
	snprintf(path, sizeof(path), "%s/vfio/vfio", dev_root);
	io->fd = open(path, O_RDWR | O_CLOEXEC);
	if (io->fd < 0) {
		ret = -errno;
		log_err("cannot open %s: %s; %s", path, strerror(-ret),
			ret == -ENOENT
			    ? "this host's kernel has no VFIO (load it: modprobe vfio-pci)"
			    : "run minivmm as root");
		goto err;
	}
	ret = ioctl(io->fd, VFIO_GET_API_VERSION);
	if (ret != VFIO_API_VERSION) {
		log_err("%s speaks VFIO API %d, minivmm needs %d", path, ret, VFIO_API_VERSION);
		ret = -ENOTSUP;
		goto err_close;
	}
	if (ioctl(io->fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0) {
		log_err("this host's VFIO has no type1v2 IOMMU (needs Linux 3.18 or later with "
			"vfio_iommu_type1); use [vfio] backend = iommufd");
		ret = -ENOTSUP;
		goto err_close;
	}
	*out = io;
	return 0;
err_close:
	close(io->fd);
err:
	free(io);
	return ret;
}

/* Reads the valid IOVA ranges of the container (after VFIO_SET_IOMMU). */
static int container_read_ranges(struct vfio_iommu *io)
{
	struct vfio_iommu_type1_info probe = {.argsz = sizeof(probe)};
	struct vfio_iommu_type1_info *info;
	uint32_t off;
	int ret = 0;

	if (ioctl(io->fd, VFIO_IOMMU_GET_INFO, &probe) < 0)
		return -errno;
	if (!(probe.flags & VFIO_IOMMU_INFO_CAPS) || probe.argsz <= sizeof(probe))
		return 0;
	info = calloc(1, probe.argsz);
	if (!info)
		return -ENOMEM;
	info->argsz = probe.argsz;
	if (ioctl(io->fd, VFIO_IOMMU_GET_INFO, info) < 0) {
		ret = -errno;
		goto out;
	}
	/* Capability chain: offsets from the start of info, 0 ends it; each must lie
	 * inside what the kernel filled. */
	for (off = info->cap_offset;
	     off && off + sizeof(struct vfio_info_cap_header) <= info->argsz;) {
		const struct vfio_info_cap_header *h = (const void *)((const uint8_t *)info + off);

		if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE &&
		    off + sizeof(struct vfio_iommu_type1_info_cap_iova_range) <= info->argsz) {
			const struct vfio_iommu_type1_info_cap_iova_range *r = (const void *)h;
			uint32_t n = r->nr_iovas;

			if (off + sizeof(*r) + (uint64_t)n * sizeof(r->iova_ranges[0]) >
			    info->argsz)
				break;
			if (n > CONTAINER_MAX_RANGES)
				n = CONTAINER_MAX_RANGES;
			memcpy(io->ranges, r->iova_ranges, n * sizeof(r->iova_ranges[0]));
			io->nr_ranges = (int)n;
		}
		if (h->next <= off)
			break;
		off = h->next;
	}
out:
	free(info);
	return ret;
}

/* The group's entry, opened and attached on first use; NULL with errno after one
 * message naming addr (the device that needs it). */
static struct container_group *container_group_get(struct vfio_iommu *io, int id, int kvm_fd,
						   const char *addr)
{
	struct container_group *g;
	struct vfio_group_status st = {.argsz = sizeof(st)};
	char path[96];
	int fd, err;

	for (int i = 0; i < io->nr_groups; i++)
		if (io->groups[i].id == id)
			return &io->groups[i];
	if (io->nr_groups == VFIO_MAX_DEVICES) {
		errno = ENOSPC;
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/vfio/%d", io->dev_root, id);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		log_err("cannot open IOMMU group %d (%s) of %s: %s; %s", id, path, addr,
			strerror(err),
			err == EBUSY	? "another process (another VM?) is using it"
			: err == ENOENT ? "no device of the group is bound to vfio-pci"
					: "run minivmm as root, or give yourself the group node");
		errno = err;
		return NULL;
	}
	if (ioctl(fd, VFIO_GROUP_GET_STATUS, &st) < 0) {
		err = errno;
		log_err("VFIO_GROUP_GET_STATUS on %s (%s) failed: %s", path, addr, strerror(err));
		goto err_close;
	}
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		log_err("IOMMU group %d of %s is not viable: every device in "
			"/sys/kernel/iommu_groups/%d/devices must be bound to vfio-pci or to no "
			"driver",
			id, addr, id);
		err = EBUSY;
		goto err_close;
	}
	if (ioctl(fd, VFIO_GROUP_SET_CONTAINER, &io->fd) < 0) {
		err = errno;
		log_err("cannot put IOMMU group %d of %s in the VM's VFIO container: %s", id, addr,
			strerror(err));
		goto err_close;
	}
	if (!io->iommu_set) {
		if (ioctl(io->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) {
			err = errno;
			log_err("VFIO_SET_IOMMU (type1v2) failed: %s", strerror(err));
			goto err_unset;
		}
		io->iommu_set = true;
		err = -container_read_ranges(io);
		if (err)
			log_warn("cannot read the container's IOVA ranges (%s); not checking them",
				 strerror(err));
	}
	g = &io->groups[io->nr_groups];
	*g = (struct container_group){.id = id, .fd = fd, .kvm_fd = -1};
	if (kvm_fd >= 0) {
		err = -vfio_kvm_file(kvm_fd, fd, true);
		if (err) {
			log_err("cannot register IOMMU group %d of %s with the KVM-VFIO device: %s",
				id, addr, strerror(err));
			goto err_unset;
		}
		g->kvm_fd = kvm_fd;
	}
	io->nr_groups++;
	return g;
err_unset:
	ioctl(fd, VFIO_GROUP_UNSET_CONTAINER);
err_close:
	close(fd);
	errno = err;
	return NULL;
}

static void container_group_put(struct vfio_iommu *io, struct container_group *g)
{
	if (--g->users > 0)
		return;
	if (g->kvm_fd >= 0)
		vfio_kvm_file(g->kvm_fd, g->fd, false);
	ioctl(g->fd, VFIO_GROUP_UNSET_CONTAINER);
	close(g->fd);
	*g = io->groups[--io->nr_groups];
}

static int container_attach(struct vfio_iommu *io, const struct vfio_host *h, int kvm_vfio_fd,
			    int *device_fd)
{
	struct container_group *g = container_group_get(io, h->group, kvm_vfio_fd, h->addr);
	int fd, ret;

	if (!g)
		return -errno;
	g->users++;
	/* A PCI function by its address, a mediated device by its UUID. */
	fd = ioctl(g->fd, VFIO_GROUP_GET_DEVICE_FD, h->addr);
	if (fd < 0) {
		ret = -errno;
		log_err("cannot get %s from IOMMU group %d: %s%s", h->addr, h->group,
			strerror(-ret), ret == -EBUSY ? " (already open elsewhere?)" : "");
		container_group_put(io, g);
		return ret;
	}
	*device_fd = fd;
	return 0;
}

static void container_detach(struct vfio_iommu *io, const struct vfio_host *h, int device_fd)
{
	if (device_fd >= 0)
		close(device_fd);
	for (int i = 0; i < io->nr_groups; i++)
		if (io->groups[i].id == h->group) {
			container_group_put(io, &io->groups[i]);
			return;
		}
}

static int container_map(struct vfio_iommu *io, uint64_t iova, uint64_t size, void *hva)
{
	struct vfio_iommu_type1_dma_map map = {
	    .argsz = sizeof(map),
	    .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
	    .vaddr = (uintptr_t)hva,
	    .iova = iova,
	    .size = size,
	};
	int ret;

	ret = vfio_map_check(io->ranges, io->nr_ranges, iova, size);
	if (ret < 0)
		return ret;
	if (ioctl(io->fd, VFIO_IOMMU_MAP_DMA, &map) < 0) {
		ret = -errno;
		vfio_map_failed("VFIO_IOMMU_MAP_DMA", iova, size, ret);
		return ret;
	}
	return 0;
}

static int container_unmap(struct vfio_iommu *io, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
	    .argsz = sizeof(unmap),
	    .iova = iova,
	    .size = size,
	};

	return ioctl(io->fd, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0 ? -errno : 0;
}

static void container_close(struct vfio_iommu *io)
{
	if (!io)
		return;
	/* Normally every device was detached already; drop leftovers so the groups are
	 * free for the next VM. */
	while (io->nr_groups > 0) {
		io->groups[0].users = 1;
		container_group_put(io, &io->groups[0]);
	}
	close(io->fd); /* unmaps and unpins everything */
	free(io);
}

int vfio_map_check(const struct vfio_iova_range *r, int n, uint64_t iova, uint64_t size)
{
	int ret = vfio_iova_check(r, n, iova, size);

	if (ret < 0)
		log_err("guest RAM [0x%llx, 0x%llx) is not DMA-able through this IOMMU (its "
			"valid ranges exclude part of it, e.g. a reserved region of a device's "
			"IOMMU group); give the VM less memory",
			(unsigned long long)iova, (unsigned long long)(iova + size));
	return ret;
}

void vfio_map_failed(const char *op, uint64_t iova, uint64_t size, int ret)
{
	log_err("%s of guest RAM [0x%llx, 0x%llx) failed: %s%s", op, (unsigned long long)iova,
		(unsigned long long)(iova + size), strerror(-ret),
		ret == -ENOMEM ? " (RLIMIT_MEMLOCK too low for the guest's RAM? raise it with: "
				 "ulimit -l unlimited)"
			       : "");
}

int vfio_iova_check(const struct vfio_iova_range *r, int n, uint64_t iova, uint64_t size)
{
	uint64_t last = iova + size - 1;

	if (n == 0 || size == 0)
		return 0;
	for (int i = 0; i < n; i++)
		if (iova >= r[i].start && last <= r[i].end)
			return 0;
	return -ERANGE;
}

const struct vfio_iommu_ops vfio_container_ops = {
    .name = "legacy",
    .open = container_open,
    .attach = container_attach,
    .detach = container_detach,
    .map = container_map,
    .unmap = container_unmap,
    .close = container_close,
};
