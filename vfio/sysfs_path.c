/* The two sysfs helpers that sysfs.c (PCI functions) and mdev.c (mediated devices) both
 * use: where a /sys path is under the root being read (a fake tree in tests), and the
 * name a sysfs symlink (driver, iommu_group, mdev_type) points at. Kept apart from both
 * so that sysfs.c may call mdev.c without mdev.c calling back (tests/include-cycles.sh). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vfio/internal.h"

int vfio_link_name(const char *path, char *buf, size_t len)
{
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	const char *slash;

	if (n < 0) {
		buf[0] = 0;
		return errno == ENOENT ? 0 : -errno;
	}
	target[n] = 0;
	slash = strrchr(target, '/');
	slash = slash ? slash + 1 : target;
	if (strlen(slash) >= len)
		return -ENAMETOOLONG;
	memcpy(buf, slash, strlen(slash) + 1);
	return 0;
}

void vfio_sys_path(const char *root, const char *sys, char *out, size_t len)
{
	if (strncmp(sys, "/sys/", 5) == 0)
		snprintf(out, len, "%s%s", root, sys + 4);
	else
		snprintf(out, len, "%s", sys);
}
