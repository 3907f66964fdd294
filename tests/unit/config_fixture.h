/* Shared by the config unit tests: a temporary folder with INI files in it, and
 * expect_load() to load one and check the result or the exact message. */
#ifndef MINIVMM_CONFIG_FIXTURE_H
#define MINIVMM_CONFIG_FIXTURE_H

#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "vmm/config.h"

#define K "[vm]\nkernel = /k\n"

/* Short enough that test file names built from them always fit in PATH_MAX. */
#define TMPDIR_MAX 1024

struct tmp {
	char dir[TMPDIR_MAX];  /* as created */
	char real[TMPDIR_MAX]; /* realpath(dir): what resolved paths start with */
};

static inline void tmp_make(struct tmp *t)
{
	const char *base = getenv("TMPDIR");

	if (!base || strlen(base) > 512)
		base = "/tmp";
	snprintf(t->dir, sizeof(t->dir), "%s/minivmm-config-XXXXXX", *base ? base : "/tmp");
	char *real;

	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	real = realpath(t->dir, NULL);
	ck_assert_ptr_nonnull(real);
	ck_assert_uint_lt(strlen(real), sizeof(t->real));
	strcpy(t->real, real);
	free(real);
}

static inline int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static inline void tmp_remove(struct tmp *t)
{
	ck_assert_int_eq(nftw(t->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
}

/* Writes len bytes of text to DIR/name (creating one level of folder) into path. */
static inline void tmp_write_n(struct tmp *t, const char *name, const char *text, size_t len,
			       char *path)
{
	const char *slash = strchr(name, '/');
	FILE *f;

	if (slash) {
		snprintf(path, PATH_MAX, "%s/%.*s", t->dir, (int)(slash - name), name);
		ck_assert(mkdir(path, 0700) == 0 || errno == EEXIST);
	}
	snprintf(path, PATH_MAX, "%s/%s", t->dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static inline void tmp_write(struct tmp *t, const char *name, const char *text, char *path)
{
	tmp_write_n(t, name, text, strlen(text), path);
}

/* Writes text to DIR/vm.ini, loads it with the overrides and checks the result and the
 * message ("" for success; a leading "vm.ini" stands for the file's full name). */
static inline void expect_load(struct config *cfg, const char *text, const char *const *ov, int n,
			       int ret, const char *msg)
{
	char path[PATH_MAX], want[PATH_MAX + 256], err[512];
	struct tmp t;

	tmp_make(&t);
	tmp_write(&t, "vm.ini", text, path);
	if (!strncmp(msg, "vm.ini", 6))
		snprintf(want, sizeof(want), "%s/%s", t.dir, msg);
	else
		snprintf(want, sizeof(want), "%s", msg);
	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(config_load(cfg, path, ov, n, err, sizeof(err)), ret);
	ck_assert_str_eq(err, want);
	tmp_remove(&t);
}

#endif
