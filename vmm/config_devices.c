/* [rng], [vfio], [disk.NAME], [net.NAME] and [vfio.NAME]: their keys, what can only be
 * checked once the file and every --set are in (required keys, one owner per host
 * device), and their part of config_print(). Reading the file is config.c's business.
 *
 * A [disk.NAME] etc. is made when its section is first met: in the file (then its line
 * is the header's) or by --set (then line is 0 and messages name that argument). */
#include "vmm/config_devices.h"
#include "vmm/config_parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

const char *const config_fs_sandbox_names[3] = {"namespace", "chroot", "none"};

#define NET_QUEUES_MAX	8
#define IFNAME_MAX	15  /* IFNAMSIZ - 1 */
#define SOCKET_PATH_MAX 108 /* sizeof sockaddr_un.sun_path */
#define MDEV_DIR	"/sys/bus/mdev/devices/"

/* Odd index: true. */
/* Indexed by enum vfio_backend and by bind_auto. */
static const char *const backend_names[] = {"auto", "iommufd", "legacy"};
/* Indexed by enum seccomp_mode. */
static const char *const seccomp_names[] = {"on", "log", "off"};
static const char *const bind_names[] = {"manual", "auto"};

/* ---- Entries ---- */

/* A simple hash (32-bit FNV-1a) of the name gives the last three bytes after QEMU's
 * 52:54:00 (locally administered, unicast): the same name, the same MAC, every boot. */
static void default_mac(const char *name, uint8_t mac[6])
{
	uint32_t h = 2166136261u;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	mac[0] = 0x52, mac[1] = 0x54, mac[2] = 0x00;
	mac[3] = (uint8_t)(h >> 16), mac[4] = (uint8_t)(h >> 8), mac[5] = (uint8_t)h;
}

/* Index of the entry called name among the first n (name is each struct's first field). */
static unsigned int find(const void *base, size_t size, unsigned int n, const char *name)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!strcmp((const char *)base + i * size, name))
			break;
	return i;
}

_Static_assert(offsetof(struct config_disk, name) == 0, "find() needs the name first");
_Static_assert(offsetof(struct config_net, name) == 0, "find() needs the name first");
_Static_assert(offsetof(struct config_vfio, name) == 0, "find() needs the name first");

static int too_many(struct ctx *c, const char *kind, int max)
{
	return config_fail(c, -EINVAL, "too many [%s.*] sections (at most %d)", kind, max);
}

int config_enter_device(struct ctx *c, enum section sec, const char *name)
{
	struct config *cfg = c->cfg;
	int line = c->arg ? 0 : c->line;
	unsigned int i;

	switch (sec) {
	case SEC_RNG:
		cfg->rng = true; /* the section alone turns it on */
		return 0;
	case SEC_DISK:
		i = c->dev = find(cfg->disks, sizeof(cfg->disks[0]), cfg->nr_disks, name);
		if (i < cfg->nr_disks)
			return 0;
		if (i == CONFIG_MAX_DISKS)
			return too_many(c, "disk", CONFIG_MAX_DISKS);
		cfg->disks[i] = (struct config_disk){.line = line};
		strcpy(cfg->disks[i].name, name);
		c->disk_arg[i] = c->arg;
		cfg->nr_disks++;
		return 0;
	case SEC_NET:
		i = c->dev = find(cfg->nets, sizeof(cfg->nets[0]), cfg->nr_nets, name);
		if (i < cfg->nr_nets)
			return 0;
		if (i == CONFIG_MAX_NETS)
			return too_many(c, "net", CONFIG_MAX_NETS);
		cfg->nets[i] = (struct config_net){.queues = 1, .line = line};
		strcpy(cfg->nets[i].name, name);
		default_mac(name, cfg->nets[i].mac);
		c->net_arg[i] = c->arg;
		cfg->nr_nets++;
		return 0;
	case SEC_FS:
		i = c->dev = find(cfg->fs, sizeof(cfg->fs[0]), cfg->nr_fs, name);
		if (i < cfg->nr_fs)
			return 0;
		if (i == CONFIG_MAX_FS)
			return too_many(c, "fs", CONFIG_MAX_FS);
		cfg->fs[i] = (struct config_fs){.line = line};
		strcpy(cfg->fs[i].name, name);
		snprintf(cfg->fs[i].tag, sizeof(cfg->fs[i].tag), "%s", name);
		c->fs_arg[i] = c->arg;
		cfg->nr_fs++;
		return 0;
	case SEC_VFIO_DEV:
		i = c->dev = find(cfg->vfio, sizeof(cfg->vfio[0]), cfg->nr_vfio, name);
		if (i < cfg->nr_vfio)
			return 0;
		if (i == CONFIG_MAX_VFIO)
			return too_many(c, "vfio", CONFIG_MAX_VFIO);
		cfg->vfio[i] = (struct config_vfio){.line = line};
		strcpy(cfg->vfio[i].name, name);
		c->vfio_arg[i] = c->arg;
		cfg->nr_vfio++;
		return 0;
	default:
		return 0; /* [vfio]: nothing to make */
	}
}

/* ---- Values ---- */

/* v has the shape of pattern: 'x' stands for a hex digit, anything else for itself. */
static bool match(const char *v, const char *pattern)
{
	for (; *pattern; v++, pattern++)
		if (*pattern == 'x' ? !isxdigit((unsigned char)*v) : *v != *pattern)
			return false;
	return !*v;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int set_bool(struct ctx *c, const char *key, const char *v, bool *out)
{
	int i = config_pick(v, config_onoff_names,
			    sizeof(config_onoff_names) / sizeof(config_onoff_names[0]));

	if (i < 0)
		return config_fail(c, -EINVAL, "%s '%s' is not valid (use on or off)", key, v);
	*out = i & 1;
	return 0;
}

/* What the kernel takes as an interface name (dev_valid_name()). */
/* A Unix socket's path: resolved like any path, and short enough for sun_path. */
static int set_socket(struct ctx *c, const char *key, const char *v, char *dst)
{
	int ret = config_set_path(c, key, v, dst);

	if (ret == 0 && strlen(dst) >= SOCKET_PATH_MAX)
		return config_fail(c, -EINVAL, "%s %s is longer than a socket path may be (%d)",
				   key, dst, SOCKET_PATH_MAX - 1);
	return ret;
}

/* The folder a virtiofsd of minivmm's shares: it must be one now (virtiofsd would
 * only say so once the guest is running). */
static int set_fs_path(struct ctx *c, const char *v, char *dst)
{
	struct stat st;
	int ret = config_set_path(c, "path", v, dst);

	if (ret < 0)
		return ret;
	if (stat(dst, &st) < 0)
		return config_fail(c, -EINVAL, "path %s: %s (the folder to share)", dst,
				   strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return config_fail(c, -EINVAL, "path %s is not a folder", dst);
	return 0;
}

static int set_tap(struct ctx *c, const char *v, char *dst)
{
	bool ok = *v && strlen(v) <= IFNAME_MAX && strcmp(v, ".") && strcmp(v, "..");

	for (const char *p = v; ok && *p; p++)
		ok = *p != '/' && *p != ':' && !isspace((unsigned char)*p);
	if (!ok)
		return config_fail(c, -EINVAL,
				   "tap '%s' is not an interface name (use 1 to %d characters, no "
				   "'/', ':' or spaces)",
				   v, IFNAME_MAX);
	strcpy(dst, v);
	return 0;
}

static int set_mac(struct ctx *c, const char *v, struct config_net *net)
{
	static const uint8_t zero[6];
	uint8_t mac[6];

	if (!match(v, "xx:xx:xx:xx:xx:xx") ||
	    sscanf(v, "%2hhx:%2hhx:%2hhx:%2hhx:%2hhx:%2hhx", &mac[0], &mac[1], &mac[2], &mac[3],
		   &mac[4], &mac[5]) != 6)
		return config_fail(c, -EINVAL,
				   "mac '%s' is not a MAC address (use e.g. 52:54:00:12:34:56)", v);
	if (mac[0] & 1)
		return config_fail(c, -EINVAL,
				   "mac '%s' is a multicast address (the first byte must be even, "
				   "e.g. 52:54:00:12:34:56)",
				   v);
	if (!memcmp(mac, zero, sizeof(mac)))
		return config_fail(c, -EINVAL, "mac '%s' is all zeros (use e.g. 52:54:00:12:34:56)",
				   v);
	memcpy(net->mac, mac, sizeof(mac));
	net->mac_set = true;
	return 0;
}

/* "0000:00:04.0" or "00:04.0" (domain 0), hex in either case -> "0000:00:04.0". */
static int parse_host(struct ctx *c, const char *v, char out[16])
{
	unsigned int dom = 0, bus, dev, fn;
	int n = 0;

	if (match(v, "xxxx:xx:xx.x"))
		n = sscanf(v, "%4x:%2x:%2x.%1x", &dom, &bus, &dev, &fn) == 4;
	else if (match(v, "xx:xx.x"))
		n = sscanf(v, "%2x:%2x.%1x", &bus, &dev, &fn) == 3;
	if (!n)
		return config_fail(c, -EINVAL,
				   "host '%s' is not a PCI address (use e.g. 0000:00:04.0)", v);
	if (dev > 0x1f)
		return config_fail(c, -EINVAL,
				   "host '%s' is not a PCI address (the device is at most 1f)", v);
	if (fn > 7)
		return config_fail(c, -EINVAL,
				   "host '%s' is not a PCI address (the function is at most 7)", v);
	snprintf(out, 16, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return 0;
}

static int parse_sysfs(struct ctx *c, const char *v, char *out)
{
	if (strncmp(v, "/sys/", 5) || !v[5])
		return config_fail(c, -EINVAL,
				   "sysfs '%s' is not under /sys/ (use e.g. " MDEV_DIR "UUID)", v);
	if (strlen(v) >= PATH_MAX)
		return config_fail(c, -ENAMETOOLONG,
				   "sysfs path is too long (at most %d characters)", PATH_MAX - 1);
	strcpy(out, v);
	return 0;
}

/* An mdev: its folder under MDEV_DIR. */
static int parse_uuid(struct ctx *c, const char *v, char *out)
{
	if (!match(v, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"))
		return config_fail(c, -EINVAL,
				   "uuid '%s' is not a UUID (use e.g. "
				   "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001)",
				   v);
	snprintf(out, PATH_MAX, MDEV_DIR "%s", v);
	lower(out + strlen(MDEV_DIR));
	return 0;
}

/* host, sysfs or uuid: the file may give one of them; --set replaces whichever it gave. */
static int set_address(struct ctx *c, enum key id, const char *key, const char *v)
{
	struct config_vfio *dev = &c->cfg->vfio[c->dev];
	char host[sizeof(dev->host)] = "", sysfs[PATH_MAX] = "";
	const char *seen = c->vfio_key[c->dev];
	int ret;

	if (id == K_HOST)
		ret = parse_host(c, v, host);
	else if (id == K_SYSFS)
		ret = parse_sysfs(c, v, sysfs);
	else
		ret = parse_uuid(c, v, sysfs);
	if (ret)
		return ret;
	if (c->arg) {
		c->vfio_addr_arg[c->dev] = c->arg;
	} else if (seen) {
		c->line = dev->line;
		return config_fail(c, -EINVAL,
				   "[vfio.%s] has both %s and %s (give one of host, sysfs or uuid)",
				   dev->name, seen, key);
	} else {
		c->vfio_key[c->dev] = key;
	}
	strcpy(dev->host, host);
	strcpy(dev->sysfs, sysfs);
	return 0;
}

int config_set_device(struct ctx *c, enum key id, const char *key, const char *v)
{
	struct config *cfg = c->cfg;
	int i;

	switch (id) {
	case K_ENABLED:
		return set_bool(c, key, v, &cfg->rng);
	case K_RNG_SLOT:
		return config_set_uint(c, key, v, 1, CONFIG_PCI_SLOTS - 1, &cfg->rng_slot);
	case K_CONSOLE_SLOT:
		return config_set_uint(c, key, v, 1, CONFIG_PCI_SLOTS - 1, &cfg->console.slot);
	case K_DISK_SLOT:
		return config_set_uint(c, key, v, 1, CONFIG_PCI_SLOTS - 1,
				       &cfg->disks[c->dev].slot);
	case K_NET_SLOT:
		return config_set_uint(c, key, v, 1, CONFIG_PCI_SLOTS - 1, &cfg->nets[c->dev].slot);
	case K_FS_SLOT:
		return config_set_uint(c, key, v, 1, CONFIG_PCI_SLOTS - 1, &cfg->fs[c->dev].slot);
	case K_FS_TAG:
		if (!*v || strlen(v) > CONFIG_FS_TAG_MAX)
			return config_fail(c, -EINVAL, "tag '%s' is not 1 to %d bytes", v,
					   CONFIG_FS_TAG_MAX);
		strcpy(cfg->fs[c->dev].tag, v);
		return 0;
	case K_FS_SOCKET:
		return set_socket(c, key, v, cfg->fs[c->dev].socket);
	case K_FS_PATH:
		return set_fs_path(c, v, cfg->fs[c->dev].path);
	case K_FS_SANDBOX: {
		int i = config_pick(v, config_fs_sandbox_names, 3);

		if (i < 0)
			return config_fail(c, -EINVAL,
					   "sandbox '%s' is not valid (use namespace, chroot or "
					   "none: virtiofsd's --sandbox)",
					   v);
		cfg->fs[c->dev].sandbox = (enum config_fs_sandbox)i;
		return 0;
	}
	case K_VHOST_USER:
		return set_socket(c, key, v, cfg->disks[c->dev].vhost_user);
	case K_PASST:
		return set_socket(c, key, v, cfg->nets[c->dev].passt);
	case K_VFIO_SLOT:
		return config_set_uint(c, key, v, 1, CONFIG_PCI_SLOTS - 1, &cfg->vfio[c->dev].slot);
	case K_BACKEND:
		if ((i = config_pick(v, backend_names, 3)) < 0)
			return config_fail(
			    c, -EINVAL, "backend '%s' is not valid (use auto, iommufd or legacy)",
			    v);
		cfg->vfio_backend = (enum vfio_backend)i;
		return 0;
	case K_SECCOMP:
		if ((i = config_pick(v, seccomp_names, 3)) < 0)
			return config_fail(c, -EINVAL,
					   "seccomp '%s' is not valid (use on, log or off)", v);
		cfg->seccomp = (enum seccomp_mode)i;
		return 0;
	case K_USER:
		/* Looked up when it is used, not here: config stays pure. */
		if (!*v || strlen(v) >= sizeof(cfg->user) || strpbrk(v, ": \t/"))
			return config_fail(c, -EINVAL, "user '%s' is not a user name", v);
		strcpy(cfg->user, v);
		return 0;
	case K_CHROOT:
		return config_set_path(c, "chroot", v, cfg->chroot);
	case K_SOCKET:
		return config_set_path(c, "socket", v, cfg->api_socket);
	case K_DOWNTIME:
		return config_set_uint(c, key, v, 1, 60000, &cfg->migration.downtime_ms);
	case K_ROUNDS:
		return config_set_uint(c, key, v, 1, 1000, &cfg->migration.max_rounds);
	case K_TIMEOUT:
		return config_set_uint(c, key, v, 1, 3600, &cfg->migration.timeout_s);
	case K_DISK_PATH:
		return config_set_path(c, "disk", v, cfg->disks[c->dev].path);
	case K_READONLY:
		return set_bool(c, key, v, &cfg->disks[c->dev].readonly);
	case K_TAP:
		return set_tap(c, v, cfg->nets[c->dev].tap);
	case K_MAC:
		return set_mac(c, v, &cfg->nets[c->dev]);
	case K_QUEUES:
		return config_set_uint(c, key, v, 1, NET_QUEUES_MAX, &cfg->nets[c->dev].queues);
	case K_HOST:
	case K_SYSFS:
	case K_UUID:
		return set_address(c, id, key, v);
	case K_BIND:
		if ((i = config_pick(v, bind_names, 2)) < 0)
			return config_fail(c, -EINVAL,
					   "bind '%s' is not valid (use auto or manual)", v);
		cfg->vfio[c->dev].bind_auto = i;
		return 0;
	default:
		return -EINVAL; /* config.c's keys */
	}
}

/* ---- Whole-configuration checks ---- */

/* Points the next message at the file's line, or at arg when given. */
static void at(struct ctx *c, int line, const char *arg)
{
	c->line = line;
	c->arg = arg;
}

/* [vfio.a] and [vfio.b] pass the same device: name b where its address came from, and a. */
static int same_device(struct ctx *c, unsigned int a, unsigned int b)
{
	const struct config_vfio *va = &c->cfg->vfio[a], *vb = &c->cfg->vfio[b];
	const char *what = vb->host[0] ? "host" : "sysfs",
		   *addr = vb->host[0] ? vb->host : vb->sysfs;
	const char *arg = c->vfio_addr_arg[b] ? c->vfio_addr_arg[b] : c->vfio_arg[b];

	at(c, vb->line, arg);
	if (c->vfio_addr_arg[a]) /* always so when --set made [vfio.a] */
		return config_fail(c, -EINVAL,
				   "[vfio.%s] %s %s is already given to [vfio.%s] (--set %s)",
				   vb->name, what, addr, va->name, c->vfio_addr_arg[a]);
	return config_fail(c, -EINVAL, "[vfio.%s] %s %s is already given to [vfio.%s] (line %d)",
			   vb->name, what, addr, va->name, va->line);
}

/* Two devices given the same PCI slot: the later one names the earlier one, at its
 * own section's line (or --set). */
struct slot_use {
	unsigned int slot;
	const char *kind, *name;
	int line;
	const char *arg;
};

static int check_slots(struct ctx *c)
{
	const struct config *cfg = c->cfg;
	struct slot_use s[2 + CONFIG_MAX_DISKS + CONFIG_MAX_NETS + CONFIG_MAX_VFIO + CONFIG_MAX_FS];
	const struct slot_use *owner[CONFIG_PCI_SLOTS] = {0};
	size_t n = 0;

	if (cfg->console.device == CONSOLE_DEV_VIRTIO)
		s[n++] = (struct slot_use){cfg->console.slot, "console", "", 0, NULL};
	if (cfg->rng)
		s[n++] = (struct slot_use){cfg->rng_slot, "rng", "", 0, NULL};
	for (unsigned int i = 0; i < cfg->nr_disks; i++)
		if (!cfg->disks[i].unplugged)
			s[n++] = (struct slot_use){cfg->disks[i].slot, "disk.", cfg->disks[i].name,
						   cfg->disks[i].line, c->disk_arg[i]};
	for (unsigned int i = 0; i < cfg->nr_nets; i++)
		s[n++] = (struct slot_use){cfg->nets[i].slot, "net.", cfg->nets[i].name,
					   cfg->nets[i].line, c->net_arg[i]};
	for (unsigned int i = 0; i < cfg->nr_vfio; i++)
		if (!cfg->vfio[i].unplugged)
			s[n++] = (struct slot_use){cfg->vfio[i].slot, "vfio.", cfg->vfio[i].name,
						   cfg->vfio[i].line, c->vfio_arg[i]};
	for (unsigned int i = 0; i < cfg->nr_fs; i++)
		s[n++] = (struct slot_use){cfg->fs[i].slot, "fs.", cfg->fs[i].name, cfg->fs[i].line,
					   c->fs_arg[i]};
	for (size_t i = 0; i < n; i++) {
		const struct slot_use *o = s[i].slot ? owner[s[i].slot] : NULL;

		if (o) {
			at(c, s[i].line, s[i].arg);
			return config_fail(
			    c, -EINVAL,
			    "[%s%s] slot %u is [%s%s]'s already; give each device its "
			    "own",
			    s[i].kind, s[i].name, s[i].slot, o->kind, o->name);
		}
		if (s[i].slot)
			owner[s[i].slot] = &s[i];
	}
	return 0;
}

int config_check_devices(struct ctx *c)
{
	const struct config *cfg = c->cfg;
	int ret = check_slots(c);

	if (ret)
		return ret;
	for (unsigned int i = 0; i < cfg->nr_disks; i++) {
		const struct config_disk *d = &cfg->disks[i];

		at(c, d->line, c->disk_arg[i]);
		if (!d->path[0] == !d->vhost_user[0])
			return config_fail(
			    c, -EINVAL,
			    "[disk.%s] needs one of path (an image) or vhost_user (a "
			    "back end's socket)",
			    d->name);
		if (d->vhost_user[0] && d->readonly)
			return config_fail(c, -EINVAL,
					   "[disk.%s] readonly is the vhost-user back end's to say "
					   "(qemu-storage-daemon: writable=off)",
					   d->name);
	}
	for (unsigned int i = 0; i < cfg->nr_nets; i++) {
		at(c, cfg->nets[i].line, c->net_arg[i]);
		if (!cfg->nets[i].tap[0] == !cfg->nets[i].passt[0])
			return config_fail(c, -EINVAL,
					   "[net.%s] needs one of tap (a host tap device) or passt "
					   "(passt's socket)",
					   cfg->nets[i].name);
	}
	for (unsigned int i = 0; i < cfg->nr_fs; i++) {
		at(c, cfg->fs[i].line, c->fs_arg[i]);
		if (!cfg->fs[i].socket[0] == !cfg->fs[i].path[0])
			return config_fail(
			    c, -EINVAL,
			    "[fs.%s] needs one of socket (a virtiofsd you run: its "
			    "--socket-path) or path (a folder: minivmm runs virtiofsd)",
			    cfg->fs[i].name);
	}
	for (unsigned int i = 0; i < cfg->nr_vfio; i++) {
		const struct config_vfio *v = &cfg->vfio[i];

		at(c, v->line, c->vfio_arg[i]);
		if (!v->host[0] && !v->sysfs[0])
			return config_fail(c, -EINVAL, "[vfio.%s] needs one of host, sysfs or uuid",
					   v->name);
		/* bind = auto gives the device back at exit through sysfs, which is not there
		 * inside the chroot, and the device is in use until then, so it cannot be
		 * given back earlier either. (With user, privdrop_prepare() refuses it for
		 * the lost root rights.) */
		if (v->bind_auto && cfg->chroot[0] && !cfg->user[0])
			return config_fail(
			    c, -EINVAL,
			    "[vfio.%s] bind = auto cannot give the device back at exit "
			    "from inside [security] chroot = %s (no sysfs there); bind "
			    "it to vfio-pci beforehand and remove bind = auto, or remove "
			    "chroot",
			    v->name, cfg->chroot);
		for (unsigned int j = 0; j < i; j++)
			if ((v->host[0] && !strcmp(v->host, cfg->vfio[j].host)) ||
			    (v->sysfs[0] && !strcmp(v->sysfs, cfg->vfio[j].sysfs)))
				return same_device(c, j, i);
	}
	at(c, 0, NULL);
	return 0;
}

/* ---- Printing ---- */

void print_slot(FILE *f, unsigned int slot)
{
	if (slot)
		fprintf(f, "slot = %u\n", slot);
}

void config_print_devices(const struct config *cfg, FILE *f)
{
	fprintf(f, "\n[rng]\nenabled = %s\n", cfg->rng ? "on" : "off");
	print_slot(f, cfg->rng_slot);
	fprintf(f, "\n[vfio]\nbackend = %s\n", backend_names[cfg->vfio_backend]);
	fprintf(f, "\n[security]\nseccomp = %s\n", seccomp_names[cfg->seccomp]);
	if (cfg->user[0])
		config_print_kv(f, "user", cfg->user);
	if (cfg->chroot[0])
		config_print_kv(f, "chroot", cfg->chroot);
	if (cfg->api_socket[0]) {
		fprintf(f, "\n[api]\n");
		config_print_kv(f, "socket", cfg->api_socket);
	}
	fprintf(f, "\n[migration]\ndowntime_ms = %u\nmax_rounds = %u\ntimeout = %u\n",
		cfg->migration.downtime_ms, cfg->migration.max_rounds, cfg->migration.timeout_s);
	/* A device removed through the API is not on the machine: a snapshot's or a
	 * migration's config must not make it again (add-device puts it back). */
	for (unsigned int i = 0; i < cfg->nr_disks; i++) {
		if (cfg->disks[i].unplugged)
			continue;
		fprintf(f, "\n[disk.%s]\n", cfg->disks[i].name);
		if (cfg->disks[i].vhost_user[0])
			config_print_kv(f, "vhost_user", cfg->disks[i].vhost_user);
		else
			config_print_kv(f, "path", cfg->disks[i].path);
		fprintf(f, "readonly = %s\n", cfg->disks[i].readonly ? "on" : "off");
		print_slot(f, cfg->disks[i].slot);
	}
	for (unsigned int i = 0; i < cfg->nr_nets; i++) {
		const struct config_net *n = &cfg->nets[i];

		fprintf(f, "\n[net.%s]\n", n->name);
		if (n->passt[0])
			config_print_kv(f, "passt", n->passt);
		else
			config_print_kv(f, "tap", n->tap);
		/* A derived MAC stays a comment, so that it is derived again (mac_set). */
		fprintf(f, "%smac = %02x:%02x:%02x:%02x:%02x:%02x%s\n", n->mac_set ? "" : "; ",
			n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5],
			n->mac_set ? "" : " (derived from the name)");
		fprintf(f, "queues = %u\n", n->queues);
		print_slot(f, n->slot);
	}
	for (unsigned int i = 0; i < cfg->nr_vfio; i++) {
		const struct config_vfio *v = &cfg->vfio[i];

		if (v->unplugged)
			continue;
		fprintf(f, "\n[vfio.%s]\n", v->name);
		if (v->host[0])
			fprintf(f, "host = %s\n", v->host);
		else
			config_print_kv(f, "sysfs", v->sysfs);
		fprintf(f, "bind = %s\n", bind_names[v->bind_auto]);
		print_slot(f, v->slot);
	}
	for (unsigned int i = 0; i < cfg->nr_fs; i++) {
		fprintf(f, "\n[fs.%s]\n", cfg->fs[i].name);
		if (cfg->fs[i].path[0]) {
			config_print_kv(f, "path", cfg->fs[i].path);
			fprintf(f, "sandbox = %s\n", config_fs_sandbox_names[cfg->fs[i].sandbox]);
		} else {
			config_print_kv(f, "socket", cfg->fs[i].socket);
		}
		config_print_kv(f, "tag", cfg->fs[i].tag);
		print_slot(f, cfg->fs[i].slot);
	}
}
