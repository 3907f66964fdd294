/* The VM description: INI file -> struct config.
 *
 * Pure: no KVM calls, no device opens; only the INI file itself (and, for relative
 * paths, its folder) is read. Every error is one message naming FILE:LINE (or the
 * --set argument) and what to do; see tests/unit/test_config.c for the exact texts. */
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
	char kernel[PATH_MAX];    /* resolved against the INI file's folder */
	char initrd[PATH_MAX];    /* "" when absent */
	char cmdline[CONFIG_CMDLINE_MAX];
	enum on_reboot on_reboot;
	struct {
		enum console_mode mode;
		char path[PATH_MAX]; /* mode == CONSOLE_FILE */
	} console;
};

/* Loads path into cfg, then applies the overrides ("section.key=value", as given to
 * --set, in order). Defaults: name "minivmm", memory 512M, vcpus 1, cmdline
 * "console=ttyS0", on_reboot exit, console stdio. kernel is required.
 * Returns 0, or a negative errno with one message (no trailing newline) in err. */
int config_load(struct config *cfg, const char *path, const char *const *overrides,
		int n_overrides, char *err, size_t errlen);

/* Prints the effective configuration as INI (what --dry-run shows). */
void config_print(const struct config *cfg, FILE *f);

/* Parses "512M", "2G", "1048576", "64K" (binary multiples). Returns 0 or -EINVAL
 * (junk, overflow, empty). Exposed for tests. */
int config_parse_size(const char *s, uint64_t *out);

#endif
