/* A live migration stream as the destination reads it (untrusted: whatever connects to
 * minivmm --incoming): the hello (vmm/migrate_wire.c's migrate_read_hello), then the
 * records (migrate_recv_records) into 1 MiB of guest RAM in two regions, with the
 * STATE payload handed to the snapshot record walker. The first input byte picks where
 * to start (hello then records, or records alone) so that both get explored.
 *
 * Invariants: a hello that passes has a NUL-terminated header that fits and a config
 * without NULs; the reader never reads past the input; every result is 0 or -errno
 * with a message; pages land only inside guest RAM (sanitizers watch the writes). */
#include <errno.h>

#include "tests/fuzz/fuzz.h"
#include "vmm/config.h"
#include "vmm/mem.h"
#include "vmm/migrate_wire.h"
#include "vmm/snapshot.h"

static struct guest_mem mem;

static int walk_state(void *ctx, const uint8_t *data, size_t len, char *err, size_t errlen)
{
	size_t pos = 0;
	const uint8_t *p;
	uint32_t tag, plen;
	int ret;

	(void)ctx;
	while ((ret = snapshot_next(data, len, &pos, &tag, &p, &plen, err, errlen)) == 1)
		FUZZ_CHECK(p + plen <= data + len);
	return ret;
}

static int take_devdata(void *ctx, const char *name, const uint8_t *data, size_t len, char *err,
			size_t errlen)
{
	(void)ctx, (void)data, (void)len;
	FUZZ_CHECK(strlen(name) < CONFIG_NAME_MAX + 16);
	if (name[0] == 'x') {
		snprintf(err, errlen, "refused");
		return -EINVAL;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512], header[SNAPSHOT_HEADER_MAX], *cfg = NULL;
	uint64_t pages = 0;
	struct wire w;
	int ret = 0;

	if (!mem.nr_regions) {
		const gpa_t gpas[2] = {0, 1ULL << 32};
		const uint64_t sizes[2] = {512 << 10, 512 << 10};

		FUZZ_CHECK(mem_init(&mem, gpas, sizes, 2, 0) == 0);
	}
	if (size < 1)
		return 0;
	wire_init(&w, -1, 0, 0, NULL);
	w.in = data + 1;
	w.in_len = size - 1;
	err[0] = 0;
	if (data[0] & 1) {
		ret = migrate_read_hello(&w, &cfg, header, sizeof(header), err, sizeof(err));
		if (ret == 0)
			FUZZ_CHECK(memchr(header, 0, sizeof(header)) && cfg);
		else
			FUZZ_CHECK(ret < 0 && err[0] && !cfg);
		free(cfg);
	}
	if (ret == 0) {
		ret = migrate_recv_records(
		    &w, &mem, &(struct mig_sink){.state = walk_state, .devdata = take_devdata},
		    &pages, err, sizeof(err));
		FUZZ_CHECK(ret == 0 || (ret < 0 && err[0] && memchr(err, 0, sizeof(err))));
	}
	FUZZ_CHECK(w.in_pos <= w.in_len);
	return 0;
}
