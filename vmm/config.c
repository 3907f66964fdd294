/* The VM description: INI file (parsed by iniparser) plus --set overrides -> struct config.
 *
 * iniparser gives us values but no line numbers, and reports syntax errors only through
 * a process-wide callback. So we also scan the text ourselves: once up front to reject
 * anything iniparser would misread or complain about (then it never does), and again
 * whenever a message needs the line of a [section] or key. */
#include "vmm/config.h"
#include "vmm/config_devices.h"
#include "vmm/config_parse.h"

#include <ctype.h>
#include <errno.h>
#include <iniparser.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* iniparser 4.1 fgets() lines into 1024 bytes and fails on 1023 characters or more. */
#define INI_LINE_MAX 1022
/* A VM description is a handful of lines; this only stops us reading /dev/zero. */
#define INI_FILE_MAX (1 << 20)

/* Indexed by enum on_reboot, enum console_mode and enum console_device. */
static const char *const reboot_names[] = {"exit", "restart"};
static const char *const shared_names[] = {"auto", "off", "on"};
static const char *const mode_names[] = {"stdio", "file", "none"};
static const char *const device_names[] = {"serial", "virtio"};

/* [name] and [name.NAME]: the kind of each, or -1 where that form is not allowed. */
static const struct {
	const char *name;
	int plain, named;
	const char *example; /* a NAME for messages */
} sections[] = {
    {"vm", SEC_VM, -1, NULL},
    {"console", SEC_CONSOLE, -1, NULL},
    {"rng", SEC_RNG, -1, NULL},
    {"vfio", SEC_VFIO, SEC_VFIO_DEV, "gpu"},
    {"disk", -1, SEC_DISK, "root"},
    {"net", -1, SEC_NET, "eth0"},
    {"security", SEC_SECURITY, -1, NULL},
    {"api", SEC_API, -1, NULL},
    {"migration", SEC_MIGRATION, -1, NULL},
    {"fs", -1, SEC_FS, "share"},
};

static const struct {
	enum section sec;
	const char *key;
	enum key id;
} schema[] = {
    {SEC_VM, "name", K_NAME},
    {SEC_VM, "memory", K_MEMORY},
    {SEC_VM, "vcpus", K_VCPUS},
    {SEC_VM, "kernel", K_KERNEL},
    {SEC_VM, "initrd", K_INITRD},
    {SEC_VM, "cmdline", K_CMDLINE},
    {SEC_VM, "on_reboot", K_ON_REBOOT},
    {SEC_VM, "hugepages", K_HUGEPAGES},
    {SEC_VM, "cpu_pm", K_CPU_PM},
    {SEC_VM, "shared_memory", K_SHARED_MEMORY},
    {SEC_VM, "phys_bits", K_PHYS_BITS},
    {SEC_VM, "mmio64", K_MMIO64},
    {SEC_VM, "mmio64_hotplug", K_MMIO64_HOTPLUG},
    {SEC_CONSOLE, "mode", K_MODE},
    {SEC_CONSOLE, "path", K_PATH},
    {SEC_CONSOLE, "device", K_DEVICE},
    {SEC_CONSOLE, "slot", K_CONSOLE_SLOT},
    {SEC_RNG, "enabled", K_ENABLED},
    {SEC_RNG, "slot", K_RNG_SLOT},
    {SEC_VFIO, "backend", K_BACKEND},
    {SEC_SECURITY, "seccomp", K_SECCOMP},
    {SEC_SECURITY, "user", K_USER},
    {SEC_SECURITY, "chroot", K_CHROOT},
    {SEC_API, "socket", K_SOCKET},
    {SEC_MIGRATION, "downtime_ms", K_DOWNTIME},
    {SEC_MIGRATION, "max_rounds", K_ROUNDS},
    {SEC_MIGRATION, "timeout", K_TIMEOUT},
    {SEC_DISK, "path", K_DISK_PATH},
    {SEC_DISK, "readonly", K_READONLY},
    {SEC_DISK, "slot", K_DISK_SLOT},
    {SEC_NET, "tap", K_TAP},
    {SEC_NET, "mac", K_MAC},
    {SEC_NET, "queues", K_QUEUES},
    {SEC_NET, "slot", K_NET_SLOT},
    {SEC_VFIO_DEV, "host", K_HOST},
    {SEC_VFIO_DEV, "sysfs", K_SYSFS},
    {SEC_VFIO_DEV, "uuid", K_UUID},
    {SEC_VFIO_DEV, "bind", K_BIND},
    {SEC_VFIO_DEV, "slot", K_VFIO_SLOT},
    {SEC_FS, "socket", K_FS_SOCKET},
    {SEC_FS, "path", K_FS_PATH},
    {SEC_FS, "sandbox", K_FS_SANDBOX},
    {SEC_FS, "tag", K_FS_TAG},
    {SEC_FS, "slot", K_FS_SLOT},
    {SEC_DISK, "vhost_user", K_VHOST_USER},
    {SEC_NET, "passt", K_PASST},
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static int lookup(enum section sec, const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(schema); i++)
		if (schema[i].sec == sec && !strcmp(schema[i].key, key))
			return (int)i;
	return -1;
}

/* ---- The line locator: classifies lines the way iniparser 4.1 does. ---- */

enum line_kind { LINE_BLANK, LINE_SECTION, LINE_KEY, LINE_BAD, LINE_LONG, LINE_CONT };

struct span {
	const char *p;
	size_t n;
};

static struct span strip(const char *p, size_t n)
{
	while (n && isspace((unsigned char)*p))
		p++, n--;
	while (n && isspace((unsigned char)p[n - 1]))
		n--;
	return (struct span){p, n};
}

/* Sets *l to the next line of text at *pos (without its newline); false at the end. */
static bool next_line(const char **pos, struct span *l)
{
	const char *nl;

	if (!**pos)
		return false;
	nl = strchr(*pos, '\n');
	l->p = *pos;
	l->n = nl ? (size_t)(nl - *pos) : strlen(*pos);
	*pos += l->n + (nl != NULL);
	return true;
}

/* name gets the section or key name, stripped (iniparser also lowercases it). Stricter
 * than iniparser where it would silently misread: "[]", "[a]b]", "[a:b]" (':' is its
 * separator) and a trailing '\', which glues the next line on, even to a comment. */
static enum line_kind classify(struct span raw, struct span *name)
{
	struct span l = strip(raw.p, raw.n);
	const char *eq;

	if (raw.n > INI_LINE_MAX)
		return LINE_LONG;
	if (!l.n || l.p[0] == ';' || l.p[0] == '#')
		return l.n && l.p[l.n - 1] == '\\' ? LINE_CONT : LINE_BLANK;
	if (l.p[l.n - 1] == '\\')
		return LINE_CONT;
	if (l.p[0] == '[' && l.p[l.n - 1] == ']') {
		*name = strip(l.p + 1, l.n - 2);
		if (!name->n || memchr(name->p, '[', name->n) || memchr(name->p, ']', name->n) ||
		    memchr(name->p, ':', name->n))
			return LINE_BAD;
		return LINE_SECTION;
	}
	eq = memchr(l.p, '=', l.n);
	if (!eq || eq == l.p)
		return LINE_BAD;
	*name = strip(l.p, eq - l.p);
	return LINE_KEY;
}

static bool span_is(struct span s, const char *str)
{
	return s.n == strlen(str) && !strncasecmp(s.p, str, s.n);
}

/* Line of the first and of the last [section] (key NULL) or key in [section]; 0 if none.
 * iniparser keeps the last of duplicate keys; sections of the same name merge. */
static void locate(const char *text, const char *section, const char *key, int *first, int *last)
{
	struct span l, name = {0}, sec = {0};
	int no = 0;

	*first = *last = 0;
	while (next_line(&text, &l)) {
		enum line_kind k = classify(l, &name);

		no++;
		if (k == LINE_SECTION)
			sec = name;
		if ((k == LINE_SECTION && !key && span_is(name, section)) ||
		    (k == LINE_KEY && key && span_is(sec, section) && span_is(name, key))) {
			if (!*first)
				*first = no;
			*last = no;
		}
	}
}

/* Rejects what iniparser would report on stderr or misread, before it sees the file. */
static int check_syntax(struct ctx *c)
{
	const char *pos = c->text;
	bool in_section = false;
	struct span l, name;

	for (c->line = 1; next_line(&pos, &l); c->line++) {
		switch (classify(l, &name)) {
		case LINE_BLANK:
			break;
		case LINE_SECTION:
			in_section = true;
			break;
		case LINE_KEY:
			if (!in_section)
				return config_fail(
				    c, -EINVAL,
				    "key '%.*s' is outside any section (put it under [vm] "
				    "or [console])",
				    (int)name.n, name.p);
			break;
		case LINE_BAD:
			l = strip(l.p, l.n);
			return config_fail(
			    c, -EINVAL,
			    "syntax error in '%.*s' (expected [section] or key = value)", (int)l.n,
			    l.p);
		case LINE_LONG:
			return config_fail(c, -EINVAL, "line is too long (at most %d characters)",
					   INI_LINE_MAX);
		case LINE_CONT:
			return config_fail(
			    c, -EINVAL,
			    "line ends with '\\' (continuation lines are not supported)");
		}
	}
	c->line = 0;
	return 0;
}

/* ---- Values ---- */

static const char units[] = "KMGT"; /* binary: K = 1 << 10 ... T = 1 << 40 */

int config_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	int shift = 0;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL; /* also rejects the signs and spaces strtoull() would take */
	for (; isdigit((unsigned char)*s); s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (*s) {
		const char *unit = strchr(units, toupper((unsigned char)*s));

		if (!unit || s[1])
			return -EINVAL;
		shift = 10 * (int)(unit - units + 1);
		if (v > UINT64_MAX >> shift)
			return -EINVAL;
	}
	*out = v << shift;
	return 0;
}

/* The largest binary unit that divides bytes exactly: 512M, 2G, 1T, 1536K. */
static const char *format_size(uint64_t bytes, char *buf, size_t len)
{
	int u;

	for (u = 4; u > 0; u--)
		if (bytes && !(bytes & ((1ULL << (10 * u)) - 1)))
			break;
	if (u)
		snprintf(buf, len, "%llu%c", (unsigned long long)(bytes >> (10 * u)), units[u - 1]);
	else
		snprintf(buf, len, "%llu", (unsigned long long)bytes);
	return buf;
}

/* mmio64 and mmio64_hotplug: whole GiB (the window is 1 GiB aligned), "auto" where
 * auto_ok (stored as 0). */
static int set_gib(struct ctx *c, const char *key, const char *v, bool auto_ok, uint64_t *out)
{
	uint64_t size;

	if (auto_ok && !strcasecmp(v, "auto")) {
		*out = 0;
		return 0;
	}
	if (config_parse_size(v, &size) || (size & ((1ULL << 30) - 1)) || size > (1ULL << 52))
		return config_fail(c, -EINVAL,
				   "%s '%s' is not a whole number of GiB up to 4096T "
				   "(use e.g. 64G%s)",
				   key, v, auto_ok ? " or auto" : "");
	if (auto_ok && !size)
		return config_fail(c, -EINVAL,
				   "%s '%s': use auto for a window sized from the "
				   "devices",
				   key, v);
	*out = size;
	return 0;
}

static int set_memory(struct ctx *c, const char *v)
{
	const uint64_t align = 2ULL << 20;
	char a[32], b[32];
	uint64_t size;

	if (config_parse_size(v, &size))
		return config_fail(c, -EINVAL, "memory '%s' is not a size (use e.g. 512M or 2G)",
				   v);
	if (size < CONFIG_MEM_MIN || size > CONFIG_MEM_MAX)
		return config_fail(c, -EINVAL, "memory '%s' is out of range (use %s to %s)", v,
				   format_size(CONFIG_MEM_MIN, a, sizeof(a)),
				   format_size(CONFIG_MEM_MAX, b, sizeof(b)));
	if (size % align) /* the range check keeps both neighbours in range */
		return config_fail(c, -EINVAL,
				   "memory '%s' is not a multiple of 2M (use e.g. %s or %s)", v,
				   format_size(size - size % align, a, sizeof(a)),
				   format_size(size - size % align + align, b, sizeof(b)));
	c->cfg->memory = size;
	return 0;
}

/* Names ([vm] name, the NAME of [disk.NAME] etc.) may end up in file and thread names:
 * keep them plain. */
#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

static bool name_ok(const char *v)
{
	return *v && strlen(v) < CONFIG_NAME_MAX && strspn(v, NAME_CHARS) == strlen(v);
}

/* Remembers where the key being applied comes from (see struct config_origin). */
static void note_origin(const struct ctx *c, struct config_origin *o)
{
	o->line = c->arg ? 0 : c->line;
	snprintf(o->arg, sizeof(o->arg), "%s", c->arg ? c->arg : "");
}

static int set_value(struct ctx *c, int idx, const char *v)
{
	struct config *cfg = c->cfg;
	const char *key = schema[idx].key;
	int i;

	switch (schema[idx].id) {
	case K_NAME:
		if (!name_ok(v))
			return config_fail(
			    c, -EINVAL,
			    "name '%s' is not valid (use 1 to %d letters, digits, '.', '_' or '-')",
			    v, CONFIG_NAME_MAX - 1);
		strcpy(cfg->name, v);
		return 0;
	case K_MEMORY:
		return set_memory(c, v);
	case K_VCPUS:
		return config_set_uint(c, key, v, 1, CONFIG_VCPUS_MAX, &cfg->vcpus);
	case K_KERNEL:
		note_origin(c, &cfg->kernel_at);
		return config_set_path(c, key, v, cfg->kernel);
	case K_INITRD:
		note_origin(c, &cfg->initrd_at);
		return config_set_path(c, key, v, cfg->initrd);
	case K_PATH:
		return config_set_path(c, key, v, cfg->console.path);
	case K_CMDLINE:
		if (strlen(v) >= CONFIG_CMDLINE_MAX)
			return config_fail(c, -EINVAL,
					   "cmdline is too long (at most %d characters)",
					   CONFIG_CMDLINE_MAX - 1);
		strcpy(cfg->cmdline, v);
		return 0;
	case K_ON_REBOOT:
		if ((i = config_pick(v, reboot_names, 2)) < 0)
			return config_fail(c, -EINVAL,
					   "on_reboot '%s' is not valid (use exit or restart)", v);
		cfg->on_reboot = (enum on_reboot)i;
		return 0;
	case K_HUGEPAGES:
		if ((i = config_pick(v, config_onoff_names, 8)) < 0)
			return config_fail(c, -EINVAL,
					   "hugepages '%s' is not valid (use on or off)", v);
		cfg->hugepages = i & 1;
		return 0;
	case K_PHYS_BITS:
		if (!strcasecmp(v, "host")) {
			cfg->phys_bits = 0;
			return 0;
		}
		return config_set_uint(c, key, v, 32, 52, &cfg->phys_bits);
	case K_MMIO64:
		return set_gib(c, key, v, true, &cfg->mmio64);
	case K_MMIO64_HOTPLUG:
		cfg->mmio64_hotplug_set = true;
		return set_gib(c, key, v, false, &cfg->mmio64_hotplug);
	case K_CPU_PM:
		if ((i = config_pick(v, config_onoff_names, 8)) < 0)
			return config_fail(c, -EINVAL, "cpu_pm '%s' is not valid (use on or off)",
					   v);
		cfg->cpu_pm = i & 1;
		return 0;
	case K_SHARED_MEMORY:
		if ((i = config_pick(v, shared_names, 3)) < 0)
			return config_fail(
			    c, -EINVAL, "shared_memory '%s' is not valid (use auto, on or off)", v);
		cfg->shared_memory = (enum shared_memory)i;
		return 0;
	case K_MODE:
		if ((i = config_pick(v, mode_names, 3)) < 0)
			return config_fail(c, -EINVAL,
					   "mode '%s' is not valid (use stdio, file or none)", v);
		cfg->console.mode = (enum console_mode)i;
		return 0;
	case K_DEVICE:
		if ((i = config_pick(v, device_names, 2)) < 0)
			return config_fail(c, -EINVAL,
					   "device '%s' is not valid (use serial or virtio)", v);
		cfg->console.device = (enum console_device)i;
		return 0;
	default:
		return config_set_device(c, schema[idx].id, key, v);
	}
}

/* What every value must satisfy; then the key's own rules. File values come as
 * iniparser returns them: it has stripped spaces and one pair of quotes already. */
static int set_key(struct ctx *c, int idx, const char *v)
{
	for (const char *p = v; *p; p++)
		if (iscntrl((unsigned char)*p) && *p != '\t') /* a newline breaks config_print */
			return config_fail(c, -EINVAL,
					   "%s contains a control character (use plain text)",
					   schema[idx].key);
	return set_value(c, idx, v);
}

/* ---- Loading ---- */

/* iniparser 4.1 can only load by name, so the file is read twice: here and by
 * apply_file(). Hence regular files only: a pipe would be empty the second time. */
static int read_text(struct ctx *c, char **text)
{
	FILE *f = fopen(c->cfg->file, "re");
	char *buf = NULL;
	struct stat st;
	size_t len = 0;
	int ret = 0;

	if (!f)
		return config_fail(c, -errno, "cannot read: %s", strerror(errno));
	if (fstat(fileno(f), &st))
		ret = config_fail(c, -errno, "cannot read: %s", strerror(errno));
	else if (S_ISDIR(st.st_mode))
		ret = config_fail(c, -EISDIR, "cannot read: %s", strerror(EISDIR));
	else if (!S_ISREG(st.st_mode))
		ret = config_fail(c, -EINVAL,
				  "is not a regular file (save the configuration to one first)");
	else if (st.st_size > INI_FILE_MAX)
		ret = config_fail(c, -EFBIG, "file is too large (at most %d bytes)", INI_FILE_MAX);
	else if (!(buf = malloc(st.st_size + 1)))
		ret = config_fail(c, -ENOMEM, "out of memory");
	else if ((len = fread(buf, 1, st.st_size, f)) < (size_t)st.st_size && ferror(f))
		ret = config_fail(c, -errno, "cannot read: %s", strerror(errno));
	else if (memchr(buf, '\0', len))
		ret = config_fail(c, -EINVAL, "contains a NUL byte (not a text file?)");
	fclose(f);
	if (ret) {
		free(buf);
		return ret;
	}
	buf[len] = '\0';
	*text = buf;
	return 0;
}

/* Relative paths in the file are meant relative to the file, wherever minivmm runs. */
static int file_base(struct ctx *c)
{
	char dir[PATH_MAX];
	char *slash;

	strcpy(dir, c->cfg->file);
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else
		slash[slash == dir] = '\0'; /* "/vm.ini" -> "/" */
	if (!realpath(dir, c->base))
		return config_fail(c, -errno, "cannot resolve its folder: %s", strerror(errno));
	return 0;
}

/* "disk.root" -> SEC_DISK and "root"; "vm" -> SEC_VM and "". The name is what follows
 * the first dot: it may hold dots itself. */
static int parse_section(struct ctx *c, const char *sec, enum section *kind, const char **name)
{
	const char *dot = strchr(sec, '.');
	size_t n = dot ? (size_t)(dot - sec) : strlen(sec);

	for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
		if (strlen(sections[i].name) != n || strncmp(sections[i].name, sec, n))
			continue;
		if (!dot && sections[i].plain < 0)
			return config_fail(c, -EINVAL, "[%s] needs a name (use e.g. [%s.%s])", sec,
					   sec, sections[i].example);
		if (dot && sections[i].named < 0)
			break;
		if (dot && !name_ok(dot + 1))
			return config_fail(
			    c, -EINVAL,
			    "%s name '%s' is not valid (use 1 to %d letters, digits, "
			    "'.', '_' or '-')",
			    sections[i].name, dot + 1, CONFIG_NAME_MAX - 1);
		*kind = (enum section)(dot ? sections[i].named : sections[i].plain);
		*name = dot ? dot + 1 : "";
		return 0;
	}
	return config_fail(c, -EINVAL, "unknown section [%s]", sec);
}

/* Makes the section the one that keys go to (see config_enter_device()). */
static int enter(struct ctx *c, enum section kind, const char *name)
{
	return kind == SEC_VM || kind == SEC_CONSOLE ? 0 : config_enter_device(c, kind, name);
}

/* Known sections and keys are applied in file order; the first problem ends the load.
 * Sections of the same name merge (iniparser does that), so their header line is the
 * first one. */
static int apply_section(struct ctx *c, dictionary *d, const char *sec)
{
	int nkeys = iniparser_getsecnkeys(d, sec), first, last, ret;
	const char **keys, *name;
	enum section kind;

	locate(c->text, sec, NULL, &c->line, &last);
	ret = parse_section(c, sec, &kind, &name);
	if (!ret)
		ret = enter(c, kind, name);
	if (ret)
		return ret;
	keys = calloc(nkeys > 0 ? nkeys : 1, sizeof(*keys));
	if (!keys)
		return config_fail(c, -ENOMEM, "out of memory");
	if (nkeys > 0 && !iniparser_getseckeys(d, sec, keys))
		nkeys = 0;
	for (int i = 0; i < nkeys && !ret; i++) {
		const char *key = keys[i] + strlen(sec) + 1; /* keys[i] is "section:key" */
		int idx = lookup(kind, key);

		locate(c->text, sec, key, &first, &c->line);
		if (first != c->line)
			ret =
			    config_fail(c, -EINVAL, "duplicate key '%s' in [%s] (first on line %d)",
					key, sec, first);
		else if (idx < 0)
			ret = config_fail(c, -EINVAL, "unknown key '%s' in [%s]", key, sec);
		else
			ret = set_key(c, idx, iniparser_getstring(d, keys[i], ""));
	}
	free(keys);
	return ret;
}

static int apply_file(struct ctx *c)
{
	dictionary *d;
	int nsec, ret = 0;

	/* check_syntax() accepted the text, so iniparser has nothing to print about it
	 * (unless the file changed since read_text(); then at worst a line is off). */
	errno = 0;
	d = iniparser_load(c->cfg->file);
	if (!d)
		return config_fail(c, errno ? -errno : -EIO, "cannot read: %s",
				   strerror(errno ? errno : EIO));
	nsec = iniparser_getnsec(d);
	for (int i = 0; i < nsec && !ret; i++)
		ret = apply_section(c, d, iniparser_getsecname(d, i));
	iniparser_freedict(d);
	c->line = 0;
	return ret;
}

/* Strips [s, end) of surrounding spaces in place; returns the NUL-terminated rest. */
static char *trim(char *s, char *end)
{
	while (s < end && isspace((unsigned char)*s))
		s++;
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

/* An unknown key does not make a new [disk.NAME] etc.; any other key does. */
static int set_override(struct ctx *c, const char *sec, const char *key, const char *val)
{
	enum section kind;
	const char *name;
	int idx, ret;

	ret = parse_section(c, sec, &kind, &name);
	if (ret)
		return ret;
	idx = lookup(kind, key);
	if (idx < 0)
		return config_fail(c, -EINVAL, "unknown key '%s' in [%s]", key, sec);
	ret = enter(c, kind, name);
	return ret ? ret : set_key(c, idx, val);
}

/* "section.key=value", read like a line of the file: names are case-insensitive, spaces
 * and one pair of quotes around the value go (the shell usually took the quotes, but
 * not in "--set 'vm.cmdline=\"a b\"'"). Relative paths are relative to the current
 * directory, as for any other command-line argument. */
static int apply_override(struct ctx *c, const char *arg)
{
	char *s = strdup(arg), *eq, *dot, *sec, *key, *val;
	int ret;
	size_t n;

	c->arg = arg;
	if (!s)
		return config_fail(c, -ENOMEM, "out of memory");
	eq = strchr(s, '=');
	dot = eq ? memrchr(s, '.', eq - s) : NULL; /* "disk.a.b.path": section "disk.a.b" */
	if (!dot) {
		free(s);
		return config_fail(c, -EINVAL, "expected section.key=value (e.g. vm.memory=1G)");
	}
	val = trim(eq + 1, eq + 1 + strlen(eq + 1));
	sec = trim(s, dot);
	key = trim(dot + 1, eq);
	for (char *p = s; p < eq; p++)
		*p = (char)tolower((unsigned char)*p);
	n = strlen(val);
	if (n >= 2 && (val[0] == '"' || val[0] == '\'') && val[n - 1] == val[0])
		val[n - 1] = '\0', val++;
	if (!*sec || !*key)
		ret = config_fail(c, -EINVAL, "expected section.key=value (e.g. vm.memory=1G)");
	else
		ret = set_override(c, sec, key, val);
	free(s);
	return ret;
}

static int apply_overrides(struct ctx *c, const char *const *overrides, int n)
{
	int ret;

	if (n > 0 && !getcwd(c->base, sizeof(c->base)))
		return config_fail(c, -errno, "cannot get the current directory: %s",
				   strerror(errno));
	for (int i = 0; i < n; i++) {
		ret = apply_override(c, overrides[i]);
		if (ret)
			return ret;
	}
	c->arg = NULL;
	return 0;
}

int config_load(struct config *cfg, const char *path, const char *const *overrides, int n_overrides,
		char *err, size_t errlen)
{
	struct ctx c = {.cfg = cfg, .err = err, .errlen = errlen};
	char *text = NULL, sec[CONFIG_NAME_MAX + 8];
	int ret;

	*cfg = (struct config){
	    .name = "minivmm",
	    .memory = 512ULL << 20,
	    .vcpus = 1,
	    .cmdline = "console=ttyS0",
	    .on_reboot = ON_REBOOT_EXIT,
	    .console.mode = CONSOLE_STDIO,
	    .migration = {CONFIG_MIGRATE_DOWNTIME_MS, CONFIG_MIGRATE_ROUNDS,
			  CONFIG_MIGRATE_TIMEOUT_S},
	    .mmio64_hotplug = CONFIG_MMIO64_HOTPLUG,
	};
	if (err && errlen)
		err[0] = '\0';
	if (!path || !*path || strlen(path) >= sizeof(cfg->file)) {
		snprintf(cfg->file, sizeof(cfg->file), "%s", "config");
		return config_fail(&c, -EINVAL, "the INI file name is empty or too long");
	}
	strcpy(cfg->file, path);

	ret = read_text(&c, &text);
	if (ret)
		return ret;
	c.text = text;
	ret = check_syntax(&c);
	if (!ret)
		ret = file_base(&c);
	if (!ret)
		ret = apply_file(&c);
	if (!ret)
		ret = apply_overrides(&c, overrides, n_overrides);
	/* Only now: --set may supply what the file lacks. */
	if (!ret && !cfg->kernel[0])
		ret = config_fail(&c, -EINVAL, "[vm] kernel is required");
	if (!ret && cfg->console.mode == CONSOLE_FILE && !cfg->console.path[0])
		ret = config_fail(&c, -EINVAL, "[console] path is required with mode = file");
	if (!ret)
		ret = config_check_devices(&c);
	if (!ret && cfg->shared_memory == SHARED_MEMORY_OFF &&
	    config_vhost_user_device(cfg, sec, sizeof(sec)))
		ret = config_fail(&c, -EINVAL,
				  "[vm] shared_memory = off, but [%s] has a vhost-user back end, "
				  "which maps guest RAM; set shared_memory = auto or on",
				  sec);
	if (!ret && cfg->shared_memory == SHARED_MEMORY_OFF && cfg->nr_vfio)
		ret =
		    config_fail(&c, -EINVAL,
				"[vm] shared_memory = off, but [vfio.%s] passes a device through, "
				"whose DMA needs guest RAM that stays put; set shared_memory = "
				"auto or on",
				cfg->vfio[0].name);
	free(text);
	return ret;
}

const char *config_vhost_user_device(const struct config *cfg, char *buf, size_t size)
{
	for (unsigned int i = 0; i < cfg->nr_disks; i++)
		if (cfg->disks[i].vhost_user[0]) {
			snprintf(buf, size, "disk.%s", cfg->disks[i].name);
			return buf;
		}
	if (!cfg->nr_fs)
		return NULL;
	snprintf(buf, size, "fs.%s", cfg->fs[0].name);
	return buf;
}

int config_amend(struct config *cfg, const char *const *overrides, int n, char *err, size_t errlen)
{
	struct ctx c = {.cfg = cfg, .err = err, .errlen = errlen};
	int ret;

	if (err && errlen)
		err[0] = '\0';
	ret = apply_overrides(&c, overrides, n);
	return ret ? ret : config_check_devices(&c);
}

const char *config_origin_prefix(const struct config *cfg, const struct config_origin *o, char *buf,
				 size_t len)
{
	if (o->arg[0])
		snprintf(buf, len, "--set %s: ", o->arg);
	else if (o->line)
		snprintf(buf, len, "%s:%d: ", cfg->file, o->line);
	else
		snprintf(buf, len, "%s: ", cfg->file);
	return buf;
}

void config_print(const struct config *cfg, FILE *f)
{
	char mem[32];

	fprintf(f, "[vm]\n");
	config_print_kv(f, "name", cfg->name);
	fprintf(f, "memory = %s\n", format_size(cfg->memory, mem, sizeof(mem)));
	fprintf(f, "vcpus = %u\n", cfg->vcpus);
	config_print_kv(f, "kernel", cfg->kernel);
	config_print_kv(f, "initrd", cfg->initrd);
	config_print_kv(f, "cmdline", cfg->cmdline);
	fprintf(f, "on_reboot = %s\n", reboot_names[cfg->on_reboot]);
	fprintf(f, "hugepages = %s\n", cfg->hugepages ? "on" : "off");
	fprintf(f, "cpu_pm = %s\n", cfg->cpu_pm ? "on" : "off");
	fprintf(f, "shared_memory = %s\n", shared_names[cfg->shared_memory]);
	if (cfg->phys_bits)
		fprintf(f, "phys_bits = %u\n", cfg->phys_bits);
	else
		fprintf(f, "phys_bits = host\n");
	fprintf(f, "mmio64 = %s\n",
		cfg->mmio64 ? format_size(cfg->mmio64, mem, sizeof(mem)) : "auto");
	if (cfg->mmio64_hotplug_set)
		fprintf(f, "mmio64_hotplug = %s\n",
			format_size(cfg->mmio64_hotplug, mem, sizeof(mem)));
	fprintf(f, "\n[console]\n");
	fprintf(f, "mode = %s\n", mode_names[cfg->console.mode]);
	config_print_kv(f, "path", cfg->console.path);
	fprintf(f, "device = %s\n", device_names[cfg->console.device]);
	print_slot(f, cfg->console.slot);
	config_print_devices(cfg, f);
}
