/* Mediated devices, VFIO device cdevs, and the choice of IOMMU backend.
 *
 * A mediated device (mdev) is a VFIO device that a vendor driver carves out of a parent
 * device (a vGPU, an s390 crypto queue, the mtty sample's serial ports). It lives at
 * /sys/bus/mdev/devices/UUID once someone has written UUID to a type's `create` file.
 * It has no PCI address and no host driver to change, but VFIO gives it an IOMMU group
 * of its own (legacy backend: VFIO_GROUP_GET_DEVICE_FD takes the UUID) and a device cdev
 * like any VFIO device (iommufd backend); once its fd is open it is a VFIO PCI device
 * and pci.c handles it like the real ones.
 *
 * The device cdev: <device>/vfio-dev/vfioN, with a dev attribute when the kernel has
 * CONFIG_VFIO_DEVICE_CDEV (Linux 6.6+); /dev/vfio/devices/vfioN is the node. Whether
 * every device has one decides what [vfio] backend = auto picks, and is the reason
 * given when backend = iommufd cannot be had. As in sysfs.c, messages name the /sys
 * path the user knows while reads go to root, so that tests use a fake tree. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vfio/internal.h"
#include "vfio/iommu.h"

#define MDEV_MAX_TYPES 8 /* listed in the "create it with" message */

bool vfio_is_uuid(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == '-'
			? s[i] != '-'
			: !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
			    (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* "PARENT/TYPE" for every type offered under root/class/mdev_bus, sorted; how many. */
static int mdev_types(const char *root, char types[][2 * NAME_MAX + 2], int max)
{
	char path[PATH_MAX];
	struct dirent *p, *t;
	DIR *bus, *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/class/mdev_bus", root);
	bus = opendir(path);
	if (!bus)
		return 0;
	while (n < max && (p = readdir(bus))) {
		if (p->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/class/mdev_bus/%s/mdev_supported_types", root,
			 p->d_name);
		d = opendir(path);
		if (!d)
			continue;
		while (n < max && (t = readdir(d)))
			if (t->d_name[0] != '.')
				snprintf(types[n++], sizeof(types[0]), "%s/%s", p->d_name,
					 t->d_name);
		closedir(d);
	}
	closedir(bus);
	qsort(types, (size_t)n, sizeof(types[0]), cmp_str);
	return n;
}

/* The message for an mdev that does not exist: how to create it, with what this host
 * offers. */
static void mdev_missing(const char *root, const struct config_vfio *c, const char *uuid, char *err,
			 size_t errlen)
{
	char types[MDEV_MAX_TYPES][2 * NAME_MAX + 2];
	int n = mdev_types(root, types, MDEV_MAX_TYPES), len;
	char *slash;

	len = snprintf(err, errlen,
		       "[vfio.%s] no mediated device %s on this host (%s does not exist)", c->name,
		       uuid, c->sysfs);
	if (len < 0 || (size_t)len >= errlen)
		return;
	if (n == 0) {
		snprintf(err + len, errlen - (size_t)len,
			 "; no device here offers mediated devices (/sys/class/mdev_bus is empty): "
			 "load the driver of the parent device, then create it with: echo %s > "
			 "/sys/class/mdev_bus/PARENT/mdev_supported_types/TYPE/create",
			 uuid);
		return;
	}
	if (n == 1) {
		slash = strchr(types[0], '/');
		*slash = 0;
		snprintf(err + len, errlen - (size_t)len,
			 "; create it with: echo %s > "
			 "/sys/class/mdev_bus/%s/mdev_supported_types/%s/create",
			 uuid, types[0], slash + 1);
		return;
	}
	len += snprintf(err + len, errlen - (size_t)len,
			"; create it with: echo %s > "
			"/sys/class/mdev_bus/PARENT/mdev_supported_types/TYPE/create, PARENT/TYPE "
			"being one of",
			uuid);
	for (int i = 0; i < n && (size_t)len < errlen; i++)
		len += snprintf(err + len, errlen - (size_t)len, "%s %s", i ? "," : "", types[i]);
}

int vfio_mdev_probe(const char *root, const struct config_vfio *c, struct vfio_host *h, char *err,
		    size_t errlen)
{
	char dev[PATH_MAX], path[PATH_MAX + 16], name[32];
	const char *uuid = strrchr(c->sysfs, '/') ? strrchr(c->sysfs, '/') + 1 : c->sysfs;
	int ret;

	h->mdev = true;
	snprintf(h->addr, sizeof(h->addr), "%.36s", uuid); /* a UUID: the caller checked */
	snprintf(h->sysdev, sizeof(h->sysdev), "%s", c->sysfs);
	vfio_sys_path(root, c->sysfs, dev, sizeof(dev));
	if (access(dev, F_OK) < 0) {
		mdev_missing(root, c, uuid, err, errlen);
		return -ENODEV;
	}
	if (c->bind_auto) {
		snprintf(err, errlen,
			 "[vfio.%s] bind = auto is for PCI functions; the mediated device %s "
			 "stays on its vendor driver: remove bind = auto from [vfio.%s]",
			 c->name, uuid, c->name);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/mdev_type", dev);
	if (vfio_link_name(path, h->mdev_type, sizeof(h->mdev_type)) < 0)
		h->mdev_type[0] = 0;
	snprintf(path, sizeof(path), "%s/driver", dev);
	if (vfio_link_name(path, h->driver, sizeof(h->driver)) < 0)
		h->driver[0] = 0;
	/* VFIO gives the mdev its group when the vendor driver registers it. */
	snprintf(path, sizeof(path), "%s/iommu_group", dev);
	ret = vfio_link_name(path, name, sizeof(name));
	if (ret < 0 || !name[0]) {
		snprintf(err, errlen,
			 "[vfio.%s] the mediated device %s is not a VFIO device (%s/iommu_group "
			 "is missing): its vendor driver did not register it with VFIO; see "
			 "%s/driver",
			 c->name, uuid, c->sysfs, c->sysfs);
		return -ENODEV;
	}
	h->group = atoi(name);
	vfio_host_find_cdev(root, h);
	return 0;
}

void vfio_host_find_cdev(const char *root, struct vfio_host *h)
{
	char sys[PATH_MAX], dir[PATH_MAX + 16], path[PATH_MAX + 16 + NAME_MAX + 8];
	struct dirent *de;
	DIR *d;

	h->cdev[0] = 0;
	vfio_sys_path(root, h->sysdev, sys, sizeof(sys));
	snprintf(dir, sizeof(dir), "%s/vfio-dev", sys);
	d = opendir(dir);
	if (!d) {
		h->cdev_state = VFIO_CDEV_NO_DIR;
		return;
	}
	h->cdev_state = VFIO_CDEV_EMPTY;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "vfio", 4) || !de->d_name[4] ||
		    strspn(de->d_name + 4, "0123456789") != strlen(de->d_name + 4) ||
		    strlen(de->d_name) >= sizeof(h->cdev))
			continue;
		snprintf(h->cdev, sizeof(h->cdev), "%s", de->d_name);
		/* Without CONFIG_VFIO_DEVICE_CDEV the folder is there but has no node. */
		snprintf(path, sizeof(path), "%s/%s/dev", dir, de->d_name);
		h->cdev_state = access(path, F_OK) == 0 ? VFIO_CDEV_OK : VFIO_CDEV_NO_NODE;
		break;
	}
	closedir(d);
}

/* Why h has no usable cdev, for messages: "(PATH is missing: ...)". */
static void cdev_reason(const struct vfio_host *h, char *buf, size_t len)
{
	switch (h->cdev_state) {
	case VFIO_CDEV_EMPTY:
		snprintf(buf, len, "%s/vfio-dev is empty", h->sysdev);
		break;
	case VFIO_CDEV_NO_NODE:
		snprintf(buf, len,
			 "%s/vfio-dev/%s has no dev: the kernel lacks CONFIG_VFIO_DEVICE_CDEV",
			 h->sysdev, h->cdev);
		break;
	default:
		snprintf(buf, len,
			 "%s/vfio-dev is missing: the kernel lacks CONFIG_VFIO_DEVICE_CDEV",
			 h->sysdev);
	}
}

int vfio_backend_pick(enum vfio_backend want, bool have_iommufd, const struct vfio_host *hosts,
		      unsigned int n, bool final, const struct vfio_iommu_ops **ops, char *why,
		      size_t whylen, char *err, size_t errlen)
{
	const struct vfio_host *lacking = NULL;
	char reason[PATH_MAX + 96];

	for (unsigned int i = 0; i < n && !lacking; i++)
		if (hosts[i].cdev_state != VFIO_CDEV_OK &&
		    (final || hosts[i].cdev_state != VFIO_CDEV_UNKNOWN))
			lacking = &hosts[i];
	switch (want) {
	case VFIO_BACKEND_LEGACY:
		*ops = &vfio_container_ops;
		snprintf(why, whylen, "as configured");
		return 0;
	case VFIO_BACKEND_IOMMUFD:
		if (!have_iommufd) {
			snprintf(err, errlen,
				 "[vfio] backend = iommufd, but /dev/iommu does not exist (the "
				 "kernel lacks CONFIG_IOMMUFD); use backend = legacy");
			return -ENODEV;
		}
		if (lacking) {
			cdev_reason(lacking, reason, sizeof(reason));
			snprintf(err, errlen,
				 "[vfio] backend = iommufd, but %s%s has no VFIO device node (%s); "
				 "use backend = legacy",
				 lacking->mdev ? "the mediated device " : "", lacking->addr,
				 reason);
			return -ENODEV;
		}
		*ops = &vfio_iommufd_ops;
		snprintf(why, whylen, "as configured");
		return 0;
	case VFIO_BACKEND_AUTO:
		break;
	}
	if (!have_iommufd) {
		*ops = &vfio_container_ops;
		snprintf(why, whylen, "auto: no /dev/iommu");
	} else if (lacking) {
		*ops = &vfio_container_ops;
		snprintf(why, whylen, "auto: %s has no VFIO device cdev", lacking->addr);
	} else {
		*ops = &vfio_iommufd_ops;
		snprintf(why, whylen, "auto: /dev/iommu and a VFIO device cdev for every device");
	}
	return 0;
}
