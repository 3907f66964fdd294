/* The VM description: INI file -> struct config.
 *
 * Pure: no KVM calls, no device opens; only the INI file itself (and, for relative
 * paths, its folder) is read. Whether kernel, initrd or console path exist is the
 * loader's business, not checked here. Every error is one message naming FILE:LINE (or
 * the --set argument) and what to do; see tests/unit/test_config.c for the exact texts.
 *
 * The file:
 *	[vm]
 *	name = minivmm        ; 1..63 of [A-Za-z0-9._-]
 *	memory = 512M         ; K/M/G/T (binary), a multiple of 2M, 16M..1T
 *	vcpus = 1             ; 1..CONFIG_VCPUS_MAX
 *	kernel = bzImage      ; required
 *	initrd = initrd.cpio  ; optional
 *	cmdline = "console=ttyS0"
 *	on_reboot = exit      ; exit | restart
 *	hugepages = off       ; on: guest RAM in 2 MiB hugetlbfs pages (vm.nr_hugepages)
 *	cpu_pm = off          ; on: idle vCPUs halt in the guest (dedicated host CPUs)
 *	phys_bits = host      ; the guest's physical address width: host | 32..52
 *	mmio64_hotplug = 32G  ; room in the 64-bit PCI window for devices added later
 *	mmio64 = auto         ; the 64-bit PCI window's size: auto | SIZE (whole GiB)
 *	[console]
 *	mode = stdio          ; stdio | file | none
 *	path = console.log    ; required with mode = file, accepted and ignored otherwise
 *	device = serial       ; serial | virtio
 *	[rng]                 ; the section turns a virtio-rng on
 *	enabled = on          ; on | off (also true/false, yes/no, 1/0)
 *	[vfio]
 *	backend = auto        ; auto | iommufd | legacy
 *	[disk.root]           ; up to CONFIG_MAX_DISKS; NAME as for [vm] name
 *	path = root.img       ; required
 *	readonly = off        ; a boolean
 *	[net.eth0]            ; up to CONFIG_MAX_NETS
 *	tap = tap0            ; required: 1..15 characters, no '/', ':' or spaces
 *	mac = 52:54:00:12:34:56 ; unicast; default 52:54:00 and a hash of NAME
 *	queues = 1            ; 1..8
 *	[vfio.gpu]            ; up to CONFIG_MAX_VFIO; exactly one of host, sysfs, uuid
 *	host = 0000:00:04.0   ; or 00:04.0; no two [vfio.*] may name the same device
 *	sysfs = /sys/bus/mdev/devices/UUID ; any path under /sys/
 *	uuid = UUID           ; an mdev: the same as that sysfs
 *	bind = manual         ; manual | auto (rebind to vfio-pci)
 *
 * Section and key names are case-insensitive (NAME too: it is kept in lower case);
 * unknown sections and keys, duplicate keys, keys before any section and lines that are
 * neither [section], key = value, blank nor a ; or # comment are errors. Sections of the
 * same name merge ([disk.a] twice is one disk). Text after an unquoted ; or # is a
 * comment: quote values holding them ("..." or '...'). No continuation lines; at most
 * 1022 characters a line. Relative paths in the file resolve against the file's folder;
 * relative paths given with --set resolve against the current directory. Both become
 * absolute.
 *
 * --set reaches every key ("disk.root.readonly=on", "vfio.gpu.host=00:05.0") and may make
 * a new [disk.NAME] etc. (its line is then 0); required keys are checked after all of
 * them. A --set of host, sysfs or uuid replaces whichever of them the section had. */
#ifndef MINIVMM_CONFIG_H
#define MINIVMM_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_NAME_MAX	   64
#define CONFIG_CMDLINE_MAX 2048
#define CONFIG_VCPUS_MAX   64
#define CONFIG_MEM_MIN	   (16ULL << 20)
#define CONFIG_MEM_MAX	   (1ULL << 40)

enum console_mode { CONSOLE_STDIO, CONSOLE_FILE, CONSOLE_NONE };
enum on_reboot { ON_REBOOT_EXIT, ON_REBOOT_RESTART };
/* [vm] shared_memory: whether guest RAM is a memfd that back ends can map (vhost-user),
 * or private anonymous memory with transparent huge pages (vmm/vm.c says why). */
enum shared_memory { SHARED_MEMORY_AUTO, SHARED_MEMORY_OFF, SHARED_MEMORY_ON };

#define CONFIG_MAX_DISKS  8
#define CONFIG_MAX_NETS	  4
#define CONFIG_MAX_VFIO	  8
#define CONFIG_MAX_FS	  4
#define CONFIG_FS_TAG_MAX 36 /* virtio-fs: the tag's bytes in the device config */

enum console_device { CONSOLE_DEV_SERIAL, CONSOLE_DEV_VIRTIO };
enum vfio_backend { VFIO_BACKEND_AUTO, VFIO_BACKEND_IOMMUFD, VFIO_BACKEND_LEGACY };
/* [security] seccomp: on (default) kills the VMM on a system call outside a thread's
 * list; log lets it through and has the kernel log it; off installs no filter. */
enum seccomp_mode { SECCOMP_ON, SECCOMP_LOG, SECCOMP_OFF };

/* [disk.NAME] */
struct config_disk {
	char name[CONFIG_NAME_MAX];
	char path[PATH_MAX];	   /* required; absolute (resolved like kernel) */
	bool readonly;		   /* readonly = on|off|true|false|yes|no|1|0; default off */
	char vhost_user[PATH_MAX]; /* vhost_user = SOCKET: served by a vhost-user-blk back
				    * end instead of path (qemu-storage-daemon); or "" */
	unsigned int slot;	   /* the guest PCI slot, 1..31; 0: the first free one */
	int line;		   /* line of the section header, for messages */
	bool unplugged;		   /* removed through the control API: not made at a reboot */
};

/* [net.NAME] */
struct config_net {
	char name[CONFIG_NAME_MAX];
	char tap[16];	/* required: host tap interface name (< IFNAMSIZ) */
	uint8_t mac[6]; /* mac = 52:54:00:12:34:56; default derived from name */
	bool mac_set;
	unsigned int queues;  /* queue pairs, 1..8; default 1 */
	char passt[PATH_MAX]; /* passt = SOCKET: user-mode networking by passt (a stream of
			       * length-prefixed frames) instead of a tap; or "" */
	unsigned int slot;    /* as for disks */
	int line;
};

enum config_fs_sandbox { FS_SANDBOX_NAMESPACE, FS_SANDBOX_CHROOT, FS_SANDBOX_NONE };

extern const char *const config_fs_sandbox_names[3];

/* [fs.NAME]: a host folder shared by virtiofsd (vhost-user-fs) */
struct config_fs {
	char name[CONFIG_NAME_MAX];
	char socket[PATH_MAX];		 /* virtiofsd's --socket-path; or, with path, the socket
					  * minivmm's own virtiofsd listens on (vmm/virtiofsd.c) */
	char path[PATH_MAX];		 /* the folder, for a virtiofsd minivmm runs; or "" */
	enum config_fs_sandbox sandbox;	 /* that virtiofsd's --sandbox */
	char tag[CONFIG_FS_TAG_MAX + 1]; /* what the guest mounts (mount -t virtiofs TAG);
					  * default NAME */
	unsigned int slot;		 /* as for disks */
	int line;
};

/* [vfio.NAME] */
struct config_vfio {
	char name[CONFIG_NAME_MAX];
	char host[16];	      /* PCI address, normalized to "0000:00:04.0"; or "" */
	char sysfs[PATH_MAX]; /* sysfs = /sys/bus/mdev/devices/UUID (mdev); or "" */
	bool bind_auto;	      /* bind = auto (rebind to vfio-pci, restore at exit) */
	unsigned int slot;    /* as for disks */
	int line;
	bool unplugged; /* removed through the control API: not made at a reboot */
};

/* Where a key got its value, for messages about it made after config_load(): the kernel
 * and initrd files are only read later, and their errors must point at the key too. */
struct config_origin {
	int line;		 /* its line in the file; 0 when --set gave it (or nothing did) */
	char arg[PATH_MAX + 16]; /* the --set argument that gave it, or "" */
};

#define CONFIG_MIGRATE_DOWNTIME_MS 300
#define CONFIG_MIGRATE_ROUNDS	   30
#define CONFIG_MIGRATE_TIMEOUT_S   30

#define CONFIG_PCI_SLOTS      32 /* slot 0 is the host bridge's */
#define CONFIG_MMIO64_HOTPLUG (32ULL << 30)

struct config {
	char file[PATH_MAX]; /* the INI file as given */
	char name[CONFIG_NAME_MAX];
	uint64_t memory;       /* bytes, multiple of 2 MiB */
	unsigned int vcpus;    /* 1..CONFIG_VCPUS_MAX */
	char kernel[PATH_MAX]; /* absolute (see above for the folder it resolves against) */
	char initrd[PATH_MAX]; /* absolute, or "" when absent */
	struct config_origin kernel_at, initrd_at;
	char cmdline[CONFIG_CMDLINE_MAX];
	enum on_reboot on_reboot;
	bool hugepages;			  /* [vm] hugepages = on|off; default off */
	bool cpu_pm;			  /* [vm] cpu_pm = on|off; default off */
	enum shared_memory shared_memory; /* [vm] shared_memory = auto|on|off; default auto */
	/* The guest's physical address space (vmm/vm.c sizes the 64-bit PCI window):
	 * phys_bits 0 is the host's width, as KVM reports it; mmio64 0 (auto) is the boot
	 * devices' large BARs plus mmio64_hotplug, which shrinks to what fits unless it was
	 * given (mmio64_hotplug_set). Snapshots and migrations pin both numbers. */
	unsigned int phys_bits;
	uint64_t mmio64, mmio64_hotplug;
	bool mmio64_hotplug_set;
	struct {
		enum console_mode mode;
		char path[PATH_MAX]; /* absolute or ""; used only with mode == CONSOLE_FILE */
		enum console_device device; /* device = serial | virtio; default serial */
		unsigned int slot;	    /* the virtio console's PCI slot, as for disks */
	} console;
	bool rng;			  /* [rng] section present (enabled = on by default) */
	unsigned int rng_slot;		  /* [rng] slot, as for disks */
	enum vfio_backend vfio_backend;	  /* [vfio] backend = auto | iommufd | legacy */
	enum seccomp_mode seccomp;	  /* [security] seccomp = on | log | off */
	char user[64];			  /* [security] user: drop to it once set up; or "" */
	char chroot[PATH_MAX];		  /* [security] chroot: a folder to confine to; or "" */
	char api_socket[PATH_MAX];	  /* [api] socket: the control socket (absolute); or "" */
	struct {			  /* [migration]: the limits of a live migration */
		unsigned int downtime_ms; /* the pause the last round may take; default 300 */
		unsigned int max_rounds;  /* pre-copy rounds at most; default 30 */
		unsigned int timeout_s;	  /* the longest wait on the other side; default 30 */
	} migration;
	struct config_disk disks[CONFIG_MAX_DISKS];
	unsigned int nr_disks;
	struct config_net nets[CONFIG_MAX_NETS];
	unsigned int nr_nets;
	struct config_vfio vfio[CONFIG_MAX_VFIO];
	unsigned int nr_vfio;
	struct config_fs fs[CONFIG_MAX_FS];
	unsigned int nr_fs;
};

/* Loads path into cfg, then applies the overrides ("section.key=value", as given to
 * --set, in order). Defaults: name "minivmm", memory 512M, vcpus 1, cmdline
 * "console=ttyS0", on_reboot exit, console stdio on serial, no rng, vfio backend auto, no
 * devices. kernel is required. Disks, nets and vfio devices keep the order in which
 * their sections first appear (file first, then --set).
 * Returns 0, or a negative errno (-ENOENT etc. when the file cannot be read, -EINVAL
 * for a mistake in it or in an override) with one message (no trailing newline) in err;
 * *cfg is then unspecified. err may be NULL. */
int config_load(struct config *cfg, const char *path, const char *const *overrides, int n_overrides,
		char *err, size_t errlen);

/* Applies more "section.key=value" overrides to a loaded cfg and checks its devices
 * again, as config_load does with --set (the control API's add-device builds its
 * device this way). Returns 0 or -errno with one message in err; cfg is then
 * unspecified, so callers amend a copy. */
int config_amend(struct config *cfg, const char *const *overrides, int n, char *err, size_t errlen);

/* Prints the effective configuration as INI (what --dry-run shows): every section and
 * key ([vm], [console], [rng], [vfio], [security], [disk.*], [net.*], [vfio.*]), resolved paths,
 * memory in the largest exact unit ("512M"), a MAC derived from the name as a comment.
 * config_load() reads it back as is (except a value holding both kinds of quotes, which
 * INI cannot express; a line over 1022 characters, iniparser's limit, which only a long
 * cmdline or path given with --set can make; and a uuid comes back as its sysfs). */
void config_print(const struct config *cfg, FILE *f);
/* The section of the first device whose back end maps guest RAM (a vhost-user disk,
 * "disk.NAME", or a virtio-fs share, "fs.NAME") into buf; NULL if there is none. */
const char *config_vhost_user_device(const struct config *cfg, char *buf, size_t size);

/* Writes the prefix of a message about a key whose origin is o into buf: "FILE:LINE: ",
 * "--set ARG: " or "FILE: ", as config_load()'s own messages begin. Returns buf. */
const char *config_origin_prefix(const struct config *cfg, const struct config_origin *o, char *buf,
				 size_t len);

/* Parses "512M", "2G", "1048576", "64K" (binary multiples; K, M, G, T in either case;
 * digits only, no sign or spaces). Returns 0 or -EINVAL (junk, overflow, empty); "0" is
 * 0. Exposed for tests. */
int config_parse_size(const char *s, uint64_t *out);

#endif
