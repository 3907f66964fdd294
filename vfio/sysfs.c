/* Host PCI device discovery through sysfs, the checks made before anything on the host is
 * touched, and bind = auto (mediated devices: mdev.c).
 *
 * Every check answers with one message that names the device, what is wrong and the
 * exact commands that fix it, because a passthrough set-up fails on host state the
 * user has to change, not on anything minivmm can do. The sysfs root is a parameter so
 * that unit tests run these functions on a fake tree.
 *
 * Viability follows the rule the kernel applies to a group handed to userspace, made
 * slightly stricter: every other device in the group must be bound to vfio-pci (or a
 * vfio-pci variant driver) or to no driver at all; PCI bridges are ignored, their
 * driver (pcieport) does no DMA. The kernel also accepts pci-stub; we ask for vfio-pci
 * there too, so that the state we accept is the one we can explain. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "arch/arch.h"
#include "vfio/internal.h"
#include "vmm/log.h"

#define CAP_IPC_LOCK_BIT 14

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parses exactly n hex digits at s; returns the value or -1. */
static long hexn(const char *s, int n)
{
	long v = 0;

	for (int i = 0; i < n; i++) {
		int d = hexval(s[i]);

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

int vfio_bdf_normalize(const char *in, char out[VFIO_BDF_LEN])
{
	long dom = 0, bus, dev, fn;
	size_t len = strlen(in);

	if (len == 12 && in[4] == ':') {
		dom = hexn(in, 4);
		in += 5;
		len -= 5;
	}
	if (len != 7 || in[2] != ':' || in[5] != '.' || dom < 0)
		return -EINVAL;
	bus = hexn(in, 2);
	dev = hexn(in + 3, 2);
	fn = hexn(in + 6, 1);
	if (bus < 0 || dev < 0 || dev > 0x1f || fn < 0 || fn > 7)
		return -EINVAL;
	snprintf(out, VFIO_BDF_LEN, "%04x:%02x:%02x.%x", (unsigned int)dom & 0xffff,
		 (unsigned int)bus & 0xff, (unsigned int)dev & 0x1f, (unsigned int)fn & 7);
	return 0;
}

/* Reads a one-line sysfs file into buf without the newline; -errno. */
static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int ret = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f))
		ret = ferror(f) ? -EIO : -ENODATA;
	fclose(f);
	if (ret == 0)
		buf[strcspn(buf, "\n")] = 0;
	return ret;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC); /* as the shell's > does */
	ssize_t n;
	int ret = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != strlen(s))
		ret = -EIO;
	close(fd);
	return ret;
}

static int read_class(const char *root, const char *bdf, uint32_t *class)
{
	char path[PATH_MAX], line[32];
	int ret;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/class", root, bdf);
	ret = read_line(path, line, sizeof(line));
	if (ret == 0)
		*class = (uint32_t)strtoul(line, NULL, 16);
	return ret;
}

static int read_driver(const char *root, const char *bdf, char *drv, size_t len)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver", root, bdf);
	return vfio_link_name(path, drv, len);
}

static bool is_vfio_driver(const char *drv)
{
	size_t n = strlen(drv);

	return strcmp(drv, "vfio-pci") == 0 ||
	       (n > 9 && strcmp(drv + n - 9, "-vfio-pci") == 0); /* variant drivers */
}

/* The commands that hand bdf (bound to drv, "" for none) to vfio-pci. */
static void bind_commands(const char *bdf, const char *drv, char *buf, size_t len)
{
	int n = 0;

	if (drv[0])
		n = snprintf(buf, len, "echo %s > /sys/bus/pci/devices/%s/driver/unbind; ", bdf,
			     bdf);
	snprintf(buf + n, len - (size_t)n,
		 "echo vfio-pci > /sys/bus/pci/devices/%s/driver_override; "
		 "echo %s > /sys/bus/pci/drivers_probe",
		 bdf, bdf);
}

int vfio_host_probe(const char *root, const struct config_vfio *c, struct vfio_host *h, char *err,
		    size_t errlen)
{
	char path[PATH_MAX], name[32];
	const char *addr;
	int ret;

	memset(h, 0, sizeof(*h));
	h->cfg = c;
	h->group = -1;
	h->device_fd = -1;
	/* sysfs = names a PCI function by its device folder, or a mediated device. */
	if (!c->host[0]) {
		addr = strrchr(c->sysfs, '/') ? strrchr(c->sysfs, '/') + 1 : c->sysfs;
		if (vfio_is_uuid(addr))
			return vfio_mdev_probe(root, c, h, err, errlen);
		if (vfio_bdf_normalize(addr, h->addr) < 0) {
			snprintf(err, errlen,
				 "[vfio.%s] %s is neither a PCI function nor a mediated device "
				 "(its last component is not a PCI address or a UUID)",
				 c->name, c->sysfs);
			return -EINVAL;
		}
	} else if (vfio_bdf_normalize(c->host, h->addr) < 0) {
		snprintf(err, errlen,
			 "[vfio.%s] host = '%s' is not a PCI address (use e.g. "
			 "0000:00:04.0)",
			 c->name, c->host);
		return -EINVAL;
	}
	snprintf(h->sysdev, sizeof(h->sysdev), "/sys/bus/pci/devices/%s", h->addr);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", root, h->addr);
	if (access(path, F_OK) < 0) {
		snprintf(err, errlen,
			 "[vfio.%s] no PCI device %s on this host (/sys/bus/pci/devices/%s does "
			 "not exist); lspci -D lists the host's devices",
			 c->name, h->addr, h->addr);
		return -ENODEV;
	}
	ret = read_class(root, h->addr, &h->class);
	if (ret == 0)
		ret = read_driver(root, h->addr, h->driver, sizeof(h->driver));
	if (ret < 0) {
		snprintf(err, errlen, "[vfio.%s] cannot read %s in sysfs: %s", c->name, h->addr,
			 strerror(-ret));
		return ret;
	}
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver_override", root, h->addr);
	if (read_line(path, h->override, sizeof(h->override)) < 0 ||
	    strcmp(h->override, "(null)") == 0)
		h->override[0] = 0;
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/iommu_group", root, h->addr);
	ret = vfio_link_name(path, name, sizeof(name));
	if (ret < 0 || !name[0]) {
		snprintf(err, errlen, "[vfio.%s] %s has no IOMMU group: %s", c->name, h->addr,
			 arch_platform()->iommu_hint);
		return -ENODEV;
	}
	h->group = atoi(name);
	/* Not on vfio-pci yet (bind = auto): it has no cdev until it is. */
	if (is_vfio_driver(h->driver))
		vfio_host_find_cdev(root, h);
	return 0;
}

int vfio_host_check_driver(const struct vfio_host *h, char *err, size_t errlen)
{
	char cmds[512];

	/* An mdev is on its vendor driver by construction (vfio_mdev_probe checked). */
	if (h->mdev || is_vfio_driver(h->driver) || h->cfg->bind_auto)
		return 0;
	bind_commands(h->addr, h->driver, cmds, sizeof(cmds));
	snprintf(err, errlen,
		 "[vfio.%s] %s is bound to %s, not vfio-pci; hand it over with: %s "
		 "(or set bind = auto in [vfio.%s])",
		 h->cfg->name, h->addr, h->driver[0] ? h->driver : "no driver", cmds, h->cfg->name);
	return -EBUSY;
}

/* Whether bdf is one of the n devices of this VM that bind = auto moves to vfio-pci. */
static bool moved_by_us(const char *bdf, const struct vfio_host *vm_hosts, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (vm_hosts[i].cfg->bind_auto && strcmp(vm_hosts[i].addr, bdf) == 0)
			return true;
	return false;
}

int vfio_group_check(const char *root, const struct vfio_host *h, const struct vfio_host *vm_hosts,
		     unsigned int n, char *err, size_t errlen)
{
	char path[PATH_MAX], drv[VFIO_DRV_LEN], cmds[512];
	struct dirent *de;
	DIR *d;
	int ret = 0;

	/* A mediated device's group is its own, made by VFIO for it alone. */
	if (h->mdev)
		return 0;
	snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%d/devices", root, h->group);
	d = opendir(path);
	if (!d) {
		ret = -errno;
		snprintf(err, errlen, "[vfio.%s] cannot list IOMMU group %d of %s: %s",
			 h->cfg->name, h->group, h->addr, strerror(-ret));
		return ret;
	}
	while ((de = readdir(d))) {
		uint32_t class = 0;

		if (de->d_name[0] == '.' || strcmp(de->d_name, h->addr) == 0)
			continue;
		if (read_driver(root, de->d_name, drv, sizeof(drv)) < 0)
			continue;
		read_class(root, de->d_name, &class);
		if (!drv[0] || is_vfio_driver(drv) || moved_by_us(de->d_name, vm_hosts, n))
			continue;
		/* PCI-to-PCI bridges: their port driver claims no DMA. */
		if ((class >> 8) == 0x0604 && strcmp(drv, "pcieport") == 0)
			continue;
		bind_commands(de->d_name, drv, cmds, sizeof(cmds));
		snprintf(err, errlen,
			 "[vfio.%s] IOMMU group %d of %s is not viable: %s in the same group is "
			 "bound to %s; a group is passed through whole, so give %s to vfio-pci "
			 "too: %s",
			 h->cfg->name, h->group, h->addr, de->d_name, drv, de->d_name, cmds);
		ret = -EBUSY;
		break;
	}
	closedir(d);
	return ret;
}

int vfio_group_reserved(const char *root, int group, struct vfio_resv *r, int max)
{
	char path[PATH_MAX], line[128];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%d/reserved_regions", root, group);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno; /* older kernels: nothing to check */
	while (n < max && fgets(line, sizeof(line), f)) {
		unsigned long long s, e;

		if (sscanf(line, "%llx %llx %23s", &s, &e, r[n].type) != 3)
			continue;
		r[n].start = s;
		r[n].end = e;
		n++;
	}
	fclose(f);
	return n;
}

int vfio_ram_check_reserved(const struct vfio_resv *r, int n, const struct guest_mem *mem,
			    const struct vfio_host *h, char *err, size_t errlen)
{
	for (int i = 0; i < mem->nr_regions; i++) {
		uint64_t first = mem->regions[i].gpa;
		uint64_t last = first + mem->regions[i].size - 1;

		for (int j = 0; j < n; j++) {
			/* VFIO ignores direct-relaxable ranges (USB/GPU RMRRs): the device
			 * only needs them before a driver takes it. */
			if (strcmp(r[j].type, "direct-relaxable") == 0)
				continue;
			if (first > r[j].end || r[j].start > last)
				continue;
			snprintf(err, errlen,
				 "[vfio.%s] guest RAM [0x%" PRIx64 "-0x%" PRIx64 "] overlaps the "
				 "reserved region 0x%" PRIx64 "-0x%" PRIx64
				 " (%s) of IOMMU group %d "
				 "(%s): the device could not DMA there; give the VM less memory so "
				 "that RAM stays clear of it",
				 h->cfg->name, first, last, r[j].start, r[j].end, r[j].type,
				 h->group, h->addr);
			return -ERANGE;
		}
	}
	return 0;
}

int vfio_memlock_check(uint64_t ram, uint64_t memlock_cur, bool cap_ipc_lock, char *err,
		       size_t errlen)
{
	if (cap_ipc_lock || memlock_cur == (uint64_t)RLIM_INFINITY || memlock_cur >= ram)
		return 0;
	snprintf(err, errlen,
		 "guest RAM (%" PRIu64 " MiB) must be pinned for device DMA, but "
		 "RLIMIT_MEMLOCK is %" PRIu64 " KiB; raise it (ulimit -l unlimited, or "
		 "LimitMEMLOCK=infinity for a service) or run minivmm as root",
		 ram >> 20, memlock_cur >> 10);
	return -ENOMEM;
}

bool vfio_have_cap_ipc_lock(void)
{
	char line[256];
	unsigned long long eff = 0;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return (eff >> CAP_IPC_LOCK_BIT) & 1;
}

int vfio_host_bind(const char *root, struct vfio_host *h, char *err, size_t errlen)
{
	char path[PATH_MAX], now[VFIO_DRV_LEN];
	int ret;

	if (h->mdev || is_vfio_driver(h->driver))
		return 0;
	h->rebound = true; /* from here on, restore undoes whatever part was done */
	if (h->driver[0]) {
		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver/unbind", root, h->addr);
		ret = write_str(path, h->addr);
		if (ret < 0)
			goto fail;
	}
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver_override", root, h->addr);
	ret = write_str(path, "vfio-pci");
	if (ret < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/bus/pci/drivers_probe", root);
	ret = write_str(path, h->addr);
	if (ret < 0)
		goto fail;
	ret = read_driver(root, h->addr, now, sizeof(now));
	if (ret == 0 && strcmp(now, "vfio-pci") != 0)
		ret = -ENODEV;
	if (ret < 0)
		goto fail;
	log_info("vfio.%s: %s moved from %s to vfio-pci (bind = auto)", h->cfg->name, h->addr,
		 h->driver[0] ? h->driver : "no driver");
	vfio_host_find_cdev(root, h); /* it has one only now */
	return 0;
fail:
	snprintf(err, errlen,
		 "[vfio.%s] bind = auto could not move %s from %s to vfio-pci: %s (is "
		 "vfio-pci loaded? modprobe vfio-pci)",
		 h->cfg->name, h->addr, h->driver[0] ? h->driver : "no driver", strerror(-ret));
	vfio_host_restore(root, h);
	return ret;
}

void vfio_host_restore(const char *root, struct vfio_host *h)
{
	char path[PATH_MAX], now[VFIO_DRV_LEN];
	int ret = 0;

	if (!h->rebound)
		return;
	h->rebound = false;
	if (read_driver(root, h->addr, now, sizeof(now)) == 0 && now[0]) {
		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver/unbind", root, h->addr);
		write_str(path, h->addr);
	}
	/* An empty line clears driver_override. */
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver_override", root, h->addr);
	write_str(path, h->override[0] ? h->override : "\n");
	if (h->driver[0]) {
		snprintf(path, sizeof(path), "%s/bus/pci/drivers/%s/bind", root, h->driver);
		ret = write_str(path, h->addr);
		if (ret < 0) {
			snprintf(path, sizeof(path), "%s/bus/pci/drivers_probe", root);
			ret = write_str(path, h->addr);
		}
	}
	if (ret < 0)
		log_warn("vfio.%s: could not give %s back to %s: %s; do it with: echo %s > "
			 "/sys/bus/pci/drivers/%s/bind",
			 h->cfg->name, h->addr, h->driver, strerror(-ret), h->addr, h->driver);
	else if (h->driver[0])
		log_info("vfio.%s: %s given back to %s", h->cfg->name, h->addr, h->driver);
}
