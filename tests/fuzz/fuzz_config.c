/* The config parser (vmm/config.c, vmm/config_devices.c; iniparser underneath): the
 * input up to its first NUL byte is written to a temporary vm.ini and loaded; after
 * that NUL, up to four more NUL-terminated strings are --set overrides.
 *
 * Invariants: config_load returns 0 or a negative errno with a one-line message naming
 * the file (or the --set argument); on success the result is sane (ranges, NUL-terminated
 * names, absolute paths) and config_print's output loads back to the same config, as
 * config.h promises (except what INI cannot say: a value with both kinds of quotes, or a
 * line longer than a file line may be, both reachable only through --set). */
#include <errno.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/fuzz/fuzz.h"
#include "vmm/config.h"

static char dir[] = "/tmp/minivmm-fuzz-config-XXXXXX";
static char ini[sizeof(dir) + 16], ini2[sizeof(dir) + 16];
static struct config cfg, cfg2;
static char err[1024];

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	FUZZ_CHECK(f);
	FUZZ_CHECK(fwrite(data, 1, len, f) == len || len == 0);
	FUZZ_CHECK(fclose(f) == 0);
}

static void check_sane(const struct config *c)
{
	FUZZ_CHECK(memchr(c->name, 0, sizeof(c->name)) && c->name[0]);
	FUZZ_CHECK(c->memory >= CONFIG_MEM_MIN && c->memory <= CONFIG_MEM_MAX &&
		   c->memory % (2 << 20) == 0);
	FUZZ_CHECK(c->vcpus >= 1 && c->vcpus <= CONFIG_VCPUS_MAX);
	FUZZ_CHECK(c->kernel[0] == '/');
	FUZZ_CHECK(memchr(c->cmdline, 0, sizeof(c->cmdline)));
	FUZZ_CHECK(c->nr_disks <= CONFIG_MAX_DISKS && c->nr_nets <= CONFIG_MAX_NETS &&
		   c->nr_vfio <= CONFIG_MAX_VFIO);
	for (unsigned int i = 0; i < c->nr_disks; i++) /* an image, or a vhost-user socket */
		FUZZ_CHECK(c->disks[i].name[0] &&
			   !c->disks[i].path[0] != !c->disks[i].vhost_user[0] &&
			   (c->disks[i].path[0] == '/' ||
			    (c->disks[i].vhost_user[0] == '/' &&
			     strlen(c->disks[i].vhost_user) <
				 sizeof(((struct sockaddr_un *)0)->sun_path))));
	for (unsigned int i = 0; i < c->nr_fs; i++)
		FUZZ_CHECK(c->fs[i].name[0] && c->fs[i].socket[0] == '/' && c->fs[i].tag[0] &&
			   memchr(c->fs[i].tag, 0, sizeof(c->fs[i].tag)));
	FUZZ_CHECK(c->nr_fs <= CONFIG_MAX_FS);
	for (unsigned int i = 0; i < c->nr_nets; i++)
		FUZZ_CHECK(!c->nets[i].tap[0] != !c->nets[i].passt[0] && c->nets[i].queues >= 1 &&
			   !(c->nets[i].mac[0] & 1));
	for (unsigned int i = 0; i < c->nr_vfio; i++)
		FUZZ_CHECK(!!c->vfio[i].host[0] + !!c->vfio[i].sysfs[0] == 1);
}

/* Whether text can be read back: no line longer than a file's, and no value with both
 * kinds of quotes. */
static bool printable(const char *text)
{
	const char *line = text;

	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);

		if (n > 1022 || (memchr(line, '"', n) && memchr(line, '\'', n)))
			return false;
		line += n + (nl != NULL);
	}
	return true;
}

static void round_trip(void)
{
	char *text = NULL, *text2 = NULL;
	size_t len = 0, len2 = 0;
	FILE *f = open_memstream(&text, &len);
	int ret;

	FUZZ_CHECK(f);
	config_print(&cfg, f);
	FUZZ_CHECK(fclose(f) == 0);
	if (printable(text)) {
		write_file(ini2, text, len);
		ret = config_load(&cfg2, ini2, NULL, 0, err, sizeof(err));
		if (ret)
			fprintf(stderr, "reload of\n%s\nfailed: %s\n", text, err);
		FUZZ_CHECK(ret == 0);
		f = open_memstream(&text2, &len2);
		FUZZ_CHECK(f);
		config_print(&cfg2, f);
		FUZZ_CHECK(fclose(f) == 0);
		if (strcmp(text, text2))
			fprintf(stderr, "printed\n%s\nreloaded as\n%s\n", text, text2);
		FUZZ_CHECK(!strcmp(text, text2));
	}
	free(text);
	free(text2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *sets[4];
	char *copy;
	size_t file_len;
	bool newline = false; /* in an override, which messages quote as given */
	int n = 0, ret;

	if (!ini[0]) {
		FUZZ_CHECK(mkdtemp(dir));
		snprintf(ini, sizeof(ini), "%s/vm.ini", dir);
		snprintf(ini2, sizeof(ini2), "%s/printed.ini", dir);
	}
	/* NUL-terminated pieces: the file, then the overrides. */
	copy = malloc(size + 1);
	FUZZ_CHECK(copy);
	memcpy(copy, data, size);
	copy[size] = 0;
	file_len = strlen(copy);
	write_file(ini, copy, file_len);
	for (size_t off = file_len + 1; off < size && n < 4; off += strlen(copy + off) + 1)
		newline |= strchr(sets[n++] = copy + off, '\n') != NULL;

	ret = config_load(&cfg, ini, sets, n, err, sizeof(err));
	FUZZ_CHECK(ret <= 0);
	if (ret) {
		FUZZ_CHECK(err[0] && (newline || !strchr(err, '\n')));
		FUZZ_CHECK(!strncmp(err, ini, strlen(ini)) || !strncmp(err, "--set ", 6));
	} else {
		check_sane(&cfg);
		round_trip();
	}
	free(copy);
	return 0;
}
