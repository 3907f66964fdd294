/* What config.c (the INI file, --set, [vm], [console]) and config_devices.c ([rng],
 * [vfio], [security], [disk.NAME], [net.NAME], [vfio.NAME]) share while they apply a
 * configuration: its sections and keys, the load context, messages that point at a line
 * or a --set argument, and the value parsers several keys use. config_parse.c implements
 * it and calls neither of them, so that both depend on it and not on each other
 * (tests/include-cycles.sh). Nothing else includes this: the interface is vmm/config.h. */
#ifndef MINIVMM_CONFIG_PARSE_H
#define MINIVMM_CONFIG_PARSE_H

#include "vmm/config.h"

#include <stddef.h>

/* What a [section] is: [vfio] and [vfio.NAME] are different kinds. */
enum section {
	SEC_VM,
	SEC_CONSOLE,
	SEC_RNG,
	SEC_VFIO,
	SEC_DISK,
	SEC_NET,
	SEC_VFIO_DEV,
	SEC_SECURITY,
	SEC_API,
	SEC_MIGRATION,
	SEC_FS
};

enum key {
	/* [vm] */
	K_NAME,
	K_MEMORY,
	K_VCPUS,
	K_KERNEL,
	K_INITRD,
	K_CMDLINE,
	K_ON_REBOOT,
	K_HUGEPAGES,
	K_CPU_PM,
	K_SHARED_MEMORY,
	K_PHYS_BITS,
	K_MMIO64,
	K_MMIO64_HOTPLUG,
	/* [console] */
	K_MODE,
	K_PATH,
	K_DEVICE,
	K_CONSOLE_SLOT,
	/* [rng] */
	K_ENABLED,
	K_RNG_SLOT,
	/* [vfio] */
	K_BACKEND,
	/* [security] */
	K_SECCOMP,
	K_USER,
	K_CHROOT,
	/* [api] */
	K_SOCKET,
	/* [migration] */
	K_DOWNTIME,
	K_ROUNDS,
	K_TIMEOUT,
	/* [disk.NAME] */
	K_DISK_PATH,
	K_READONLY,
	K_DISK_SLOT,
	/* [net.NAME] */
	K_TAP,
	K_MAC,
	K_QUEUES,
	K_NET_SLOT,
	/* [vfio.NAME] */
	K_HOST,
	K_SYSFS,
	K_UUID,
	K_BIND,
	K_VFIO_SLOT,
	/* [fs.NAME], and the back ends of [disk.NAME] and [net.NAME] */
	K_FS_SOCKET,
	K_FS_PATH,
	K_FS_SANDBOX,
	K_FS_TAG,
	K_FS_SLOT,
	K_VHOST_USER,
	K_PASST,
};

struct ctx {
	struct config *cfg;
	const char *text;    /* the INI file's contents, for line numbers */
	char base[PATH_MAX]; /* folder that relative paths resolve against */
	const char *arg;     /* the --set argument being applied, or NULL */
	int line;	     /* the line being applied, or 0 */
	char *err;
	size_t errlen;

	unsigned int dev; /* the [disk.NAME] etc. being applied: its index in cfg->disks etc. */
	/* Where each [disk.NAME] etc. was made: the --set argument (line is 0 then) or NULL. */
	const char *disk_arg[CONFIG_MAX_DISKS], *net_arg[CONFIG_MAX_NETS];
	const char *vfio_arg[CONFIG_MAX_VFIO];
	const char *fs_arg[CONFIG_MAX_FS];
	/* [vfio.NAME]: the first of host, sysfs, uuid given in the file (to reject a second),
	 * and the --set argument that last gave one, if any (for messages). */
	const char *vfio_key[CONFIG_MAX_VFIO], *vfio_addr_arg[CONFIG_MAX_VFIO];
};

/* Writes "FILE:LINE: ", "FILE: " or "--set ARG: " and the message; returns ret. */
__attribute__((format(printf, 3, 4))) int config_fail(const struct ctx *c, int ret, const char *fmt,
						      ...);

/* Index of v (case-insensitive) in names[0..n), or -1. */
int config_pick(const char *v, const char *const *names, int n);

/* on/off, false/true, no/yes, 0/1: a name's index & 1 is its value. */
extern const char *const config_onoff_names[8];

/* Decimal min..max into *out; messages name key. */
int config_set_uint(struct ctx *c, const char *key, const char *v, unsigned int min,
		    unsigned int max, unsigned int *out);

/* "" stays "" (absent); anything else becomes an absolute path under c->base. */
int config_set_path(struct ctx *c, const char *key, const char *v, char *dst);

/* Prints "key = v", quoted when iniparser would otherwise change v. */
void config_print_kv(FILE *f, const char *key, const char *v);

/* "slot = N" when a device's PCI slot is pinned (config_devices.c). */
void print_slot(FILE *f, unsigned int slot);

#endif
