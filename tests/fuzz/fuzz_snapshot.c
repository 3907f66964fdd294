/* The snapshot state file's record walker (vmm/snapshot.c's snapshot_next), which a
 * restore runs over a file that may be corrupted or hostile, then a device-state
 * reader (devices/stream.c) over each DEVICE payload after its name.
 *
 * Invariants: every record's payload lies inside the input; the position only grows
 * and ends exactly at the end, or the walk stops with -EINVAL and a message; reading a
 * payload's fields never goes past it (the stream reports -EINVAL instead). */
#include "devices/stream.h"
#include "tests/fuzz/fuzz.h"
#include "vmm/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 0, last = 0;
	const uint8_t *p;
	uint32_t tag, plen;
	char err[256];
	int ret;

	err[0] = 0;
	while ((ret = snapshot_next(data, size, &pos, &tag, &p, &plen, err, sizeof(err))) == 1) {
		FUZZ_CHECK(pos > last && pos <= size);
		FUZZ_CHECK(p >= data && p + plen <= data + size && p + plen == data + pos);
		last = pos;
		if (tag == SNAP_DEVICE) {
			const uint8_t *nul = memchr(p, 0, plen);
			struct device_stream in;
			uint8_t buf[64] = {0};

			if (!nul)
				continue;
			stream_reader(&in, nul + 1, plen - (size_t)(nul + 1 - p));
			while (!in.err)
				stream_get(&in, buf, (size_t)(buf[0] % sizeof(buf)) + 1);
			FUZZ_CHECK(in.pos <= in.len);
		}
	}
	if (ret == 0)
		FUZZ_CHECK(pos == size);
	else
		FUZZ_CHECK(ret == -22 && err[0] && memchr(err, 0, sizeof(err)));
	return 0;
}
