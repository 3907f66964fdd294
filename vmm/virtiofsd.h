/* [fs.NAME] path = DIR: minivmm runs virtiofsd for the folder itself, as a convenience,
 * and stops it when it exits.
 *
 * A supervisor process, forked before any thread or seccomp filter exists, holds one
 * listening socket per folder (in a private folder under /tmp) and runs virtiofsd on
 * it (--fd), starting it again whenever it exits: QEMU 7.2's virtiofsd serves one
 * connection and exits when it closes, which every reboot of the guest does, and a
 * virtiofsd that crashed comes back for the device to reconnect to. One that exits
 * three times within two seconds of its start is given up (its socket closed, so that
 * the device's connection fails at once instead of waiting). The supervisor ends, and
 * stops its virtiofsd, when minivmm's end of a pipe closes: at exit, however minivmm
 * ends. */
#ifndef MINIVMM_VIRTIOFSD_H
#define MINIVMM_VIRTIOFSD_H

#include <stddef.h>
#include <sys/types.h>

#include "vmm/config.h"

struct virtiofsd {
	pid_t pid; /* the supervisor, or 0: none */
	int keep;  /* minivmm's end of the pipe that keeps the supervisor going, or -1 */
};

/* Starts the supervisor if any [fs.NAME] has a path, and points each such fs's socket
 * at its listening socket. uid/gid: the user minivmm drops to later ((uid_t)-1: none),
 * who must still reach the sockets to reconnect. Before any thread is started.
 * 0 or -errno with one message in err. */
int virtiofsd_start(struct virtiofsd *v, struct config *cfg, uid_t uid, gid_t gid, char *err,
		    size_t errlen);
/* Stops the supervisor and its virtiofsd, and waits for it. */
void virtiofsd_stop(struct virtiofsd *v);

#endif
