/* Disk image locks in QEMU's scheme (see disk_lock.h). */
#include "devices/disk_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#define LOCK_PERM_BASE	 100 /* byte 100 + i: permission i is held */
#define LOCK_SHARED_BASE 200 /* byte 200 + i: permission i is not shared */
#define NR_PERMS	 4

enum { PERM_READ, PERM_WRITE, PERM_WRITE_UNCHANGED, PERM_RESIZE };

static const char *const perm_names[NR_PERMS] = {"reading", "writing", "writing unchanged",
						 "resizing"};

static int lock_byte(int fd, int off)
{
	struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = off, .l_len = 1};

	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

/* 1 if another open file description locks byte off, 0 if none, or -errno. */
static int byte_taken(int fd, int off)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = off, .l_len = 1};

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	return fl.l_type != F_UNLCK;
}

int disk_lock(int fd, bool writable, char *why, size_t len)
{
	unsigned int held = 1u << PERM_READ | (writable ? 1u << PERM_WRITE : 0);
	unsigned int unshared = 1u << PERM_WRITE | 1u << PERM_RESIZE;
	int ret;

	/* Ours first, then look at the others': QEMU's order, so that two starting at
	 * once cannot both miss each other. Read locks on single bytes never conflict
	 * with QEMU's (it takes read locks only); EAGAIN means some other tool holds a
	 * write lock there, which is a conflict too. */
	for (int i = 0; i < NR_PERMS; i++) {
		ret = 0;
		if (held & (1u << i))
			ret = lock_byte(fd, LOCK_PERM_BASE + i);
		if (ret == 0 && (unshared & (1u << i)))
			ret = lock_byte(fd, LOCK_SHARED_BASE + i);
		if (ret < 0)
			goto failed;
	}
	for (int i = 0; i < NR_PERMS; i++) {
		if (held & (1u << i)) {
			ret = byte_taken(fd, LOCK_SHARED_BASE + i);
			if (ret > 0) {
				snprintf(why, len, "another process has it open and allows no %s",
					 perm_names[i]);
				return -EBUSY;
			}
			if (ret < 0)
				goto failed;
		}
		if (unshared & (1u << i)) {
			ret = byte_taken(fd, LOCK_PERM_BASE + i);
			if (ret > 0) {
				snprintf(why, len, "another process has it open for %s",
					 perm_names[i]);
				return -EBUSY;
			}
			if (ret < 0)
				goto failed;
		}
	}
	return 0;
failed:
	if (ret == -EAGAIN || ret == -EACCES) {
		snprintf(why, len, "another process holds a lock on it");
		return -EBUSY;
	}
	snprintf(why, len, "cannot lock it: %s", strerror(-ret));
	return ret;
}

void disk_unlock(int fd)
{
	struct flock fl = {.l_type = F_UNLCK,
			   .l_whence = SEEK_SET,
			   .l_start = LOCK_PERM_BASE,
			   .l_len = LOCK_SHARED_BASE + NR_PERMS - LOCK_PERM_BASE};

	fcntl(fd, F_OFD_SETLK, &fl);
}
