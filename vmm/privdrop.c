/* Privilege drop (see privdrop.h). */
#include "vmm/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int privdrop_prepare(struct privdrop *p, const struct config *cfg, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int ret;

	memset(p, 0, sizeof(*p));
	if (cfg->chroot[0]) {
		p->chroot = true;
		snprintf(p->dir, sizeof(p->dir), "%s", cfg->chroot);
	}
	if (!cfg->user[0])
		return 0;
	for (unsigned int i = 0; i < cfg->nr_vfio; i++) {
		if (cfg->vfio[i].bind_auto) {
			snprintf(err, errlen,
				 "[vfio.%s] bind = auto cannot give the device back once minivmm "
				 "runs as [security] user = %s; bind it to vfio-pci beforehand "
				 "and remove bind = auto",
				 cfg->vfio[i].name, cfg->user);
			return -EINVAL;
		}
	}
	ret = getpwnam_r(cfg->user, &pw, buf, sizeof(buf), &res);
	if (ret || !res) {
		snprintf(err, errlen, "[security] user = %s: no such user on this host%s%s",
			 cfg->user, ret ? ": " : "", ret ? strerror(ret) : "");
		return ret ? -ret : -ENOENT;
	}
	if (pw.pw_uid == 0) {
		snprintf(err, errlen, "[security] user = %s is root; name an unprivileged user",
			 cfg->user);
		return -EINVAL;
	}
	p->user = true;
	p->uid = pw.pw_uid;
	p->gid = pw.pw_gid;
	return 0;
}

int privdrop_apply(const struct privdrop *p, char *err, size_t errlen)
{
	if (p->chroot && (chroot(p->dir) < 0 || chdir("/") < 0)) {
		snprintf(err, errlen, "[security] chroot = %s: %s (it needs root)", p->dir,
			 strerror(errno));
		return -errno;
	}
	if (!p->user)
		return 0;
	/* Groups first: once the uid is gone, so is the right to change them. */
	if (setgroups(1, &p->gid) < 0 || setresgid(p->gid, p->gid, p->gid) < 0 ||
	    setresuid(p->uid, p->uid, p->uid) < 0) {
		snprintf(err, errlen, "[security] user: cannot switch to uid %u gid %u: %s",
			 (unsigned int)p->uid, (unsigned int)p->gid, strerror(errno));
		return -errno;
	}
	/* For good: getting root back must be impossible now. */
	if (setresuid(0, 0, 0) == 0) {
		snprintf(err, errlen, "[security] user: could regain root after the switch");
		return -EPERM;
	}
	return 0;
}
