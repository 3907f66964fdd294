/* Privilege drop ([security] user, chroot): once every device and file of the VM is
 * open, the VMM confines itself to a folder and becomes an unprivileged user, so that
 * a guest that took over a VMM thread holds as little as possible.
 *
 * Two steps because the user is looked up (NSS: files, maybe a socket to nscd) before
 * the seccomp filters exist, and applied after the VM is built. */
#ifndef MINIVMM_PRIVDROP_H
#define MINIVMM_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "vmm/config.h"

struct privdrop {
	bool user, chroot;
	uid_t uid;
	gid_t gid;
	char dir[4096];
};

/* Resolves cfg's user; returns 0 or -errno with a message in err. */
int privdrop_prepare(struct privdrop *p, const struct config *cfg, char *err, size_t errlen);
/* chroot (if asked), then drop groups, gid and uid for good (if asked). Returns 0 or
 * -errno with a message in err. Main thread only, before the vCPUs start (the ids are
 * per thread in the kernel; glibc spreads them, but there is nothing to spread yet). */
int privdrop_apply(const struct privdrop *p, char *err, size_t errlen);

#endif
