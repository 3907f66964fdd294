/* Disk image locks that QEMU understands, and that understand QEMU's.
 *
 * QEMU's file driver (block/file-posix.c) takes one open-file-description (OFD) read
 * lock per byte: byte 100 + i for each permission i it holds, byte 200 + i for each
 * permission i it does not let others have, the permissions being QEMU's: consistent
 * read (0), write (1), write unchanged (2), resize (3). Before it uses an image it
 * tests, for each permission it wants, that nobody locks the "not shared" byte, and
 * for each it does not share, that nobody locks the "held" byte. qemu-img, qemu-io,
 * qemu-nbd and libvirt-run QEMUs all do this, so following the same scheme makes each
 * of them and minivmm refuse an image the other holds, where flock() is invisible to
 * them. minivmm takes what a QEMU guest disk takes: consistent read, plus write when
 * writable; it shares consistent read and write-unchanged, not write nor resize. */
#ifndef MINIVMM_DISK_LOCK_H
#define MINIVMM_DISK_LOCK_H

#include <stdbool.h>
#include <stddef.h>

/* Locks fd's image for a reader (writable false) or a writer. Returns 0, or -EBUSY
 * with what conflicts in why ("another process is writing it", ...), or another
 * -errno (F_OFD_SETLK unsupported) with why set too. The locks go with the last close
 * of fd, so a caller that fails only closes it. */
int disk_lock(int fd, bool writable, char *why, size_t len);

/* Gives up fd's locks (a migration source at the handover, after flushing). */
void disk_unlock(int fd);

#endif
