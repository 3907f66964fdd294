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
 *	[console]
 *	mode = stdio          ; stdio | file | none
 *	path = console.log    ; required with mode = file, accepted and ignored otherwise
 *
 * Section and key names are case-insensitive; unknown sections and keys, duplicate keys,
 * keys before any section and lines that are neither [section], key = value, blank nor a
 * ; or # comment are errors. Text after an unquoted ; or # is a comment: quote values
 * holding them ("..." or '...'). No continuation lines; at most 1022 characters a line.
 * Relative paths in the file resolve against the file's folder; relative paths given
 * with --set resolve against the current directory. Both become absolute. */
#ifndef MINIVMM_CONFIG_H
#define MINIVMM_CONFIG_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_NAME_MAX    64
#define CONFIG_CMDLINE_MAX 2048
#define CONFIG_VCPUS_MAX   64
#define CONFIG_MEM_MIN     (16ULL << 20)
#define CONFIG_MEM_MAX     (1ULL << 40)

enum console_mode { CONSOLE_STDIO, CONSOLE_FILE, CONSOLE_NONE };
enum on_reboot { ON_REBOOT_EXIT, ON_REBOOT_RESTART };

struct config {
	char file[PATH_MAX];      /* the INI file as given */
	char name[CONFIG_NAME_MAX];
	uint64_t memory;          /* bytes, multiple of 2 MiB */
	unsigned int vcpus;       /* 1..CONFIG_VCPUS_MAX */
	char kernel[PATH_MAX];    /* absolute (see above for the folder it resolves against) */
	char initrd[PATH_MAX];    /* absolute, or "" when absent */
	char cmdline[CONFIG_CMDLINE_MAX];
	enum on_reboot on_reboot;
	struct {
		enum console_mode mode;
		char path[PATH_MAX]; /* absolute or ""; used only with mode == CONSOLE_FILE */
	} console;
};

/* Loads path into cfg, then applies the overrides ("section.key=value", as given to
 * --set, in order). Defaults: name "minivmm", memory 512M, vcpus 1, cmdline
 * "console=ttyS0", on_reboot exit, console stdio. kernel is required.
 * Returns 0, or a negative errno (-ENOENT etc. when the file cannot be read, -EINVAL
 * for a mistake in it or in an override) with one message (no trailing newline) in err;
 * *cfg is then unspecified. err may be NULL. */
int config_load(struct config *cfg, const char *path, const char *const *overrides,
		int n_overrides, char *err, size_t errlen);

/* Prints the effective configuration as INI (what --dry-run shows): every key, resolved
 * paths, memory in the largest exact unit ("512M"). config_load() reads it back as is
 * (except a value holding both kinds of quotes, which INI cannot express). */
void config_print(const struct config *cfg, FILE *f);

/* Parses "512M", "2G", "1048576", "64K" (binary multiples; K, M, G, T in either case;
 * digits only, no sign or spaces). Returns 0 or -EINVAL (junk, overflow, empty); "0" is
 * 0. Exposed for tests. */
int config_parse_size(const char *s, uint64_t *out);

#endif
