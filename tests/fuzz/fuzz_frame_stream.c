/* passt's side of user-mode networking (devices/frame_stream.c): the byte stream of
 * length-prefixed Ethernet frames that whatever listens on the passt socket sends. The
 * input is cut into reads (each read's size is the next input byte, then that many
 * bytes), fed through frame_rx_space and frame_rx_fill the way virtio-net's receive
 * thread reads the socket, every whole frame taken after each read.
 *
 * Invariants: a read always has room while no whole frame is held; every frame lies
 * inside the buffer and is at most FRAME_STREAM_MAX bytes; the frames and the bytes
 * still held add up to what was read, record headers included; a length over the
 * maximum stops the stream (-EMSGSIZE) and nothing is taken after it. */
#include <errno.h>
#include <stdbool.h>

#include "devices/frame_stream.h"
#include "tests/fuzz/fuzz.h"

static struct frame_rx rx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	uint64_t fed = 0, taken = 0;
	bool broken = false;

	rx.start = rx.end = 0;
	while (f.n && !broken) {
		size_t want = (size_t)fz_u8(&f) * 37 + 1, room, n;
		uint8_t *p = frame_rx_space(&rx, &room);
		const uint8_t *frame;
		size_t len;
		int got;

		FUZZ_CHECK(room > 0 && p >= rx.buf && p + room <= rx.buf + sizeof(rx.buf));
		n = want < room ? want : room;
		n = n < f.n ? n : f.n;
		fz_take(&f, p, n);
		frame_rx_fill(&rx, n);
		fed += n;
		while ((got = frame_rx_peek(&rx, &frame, &len)) == 1) {
			FUZZ_CHECK(len <= FRAME_STREAM_MAX && frame >= rx.buf &&
				   frame + len <= rx.buf + sizeof(rx.buf));
			taken += FRAME_STREAM_HDR + len;
			frame_rx_consume(&rx);
		}
		FUZZ_CHECK(got == 0 || got == -EMSGSIZE);
		broken = got == -EMSGSIZE;
		FUZZ_CHECK(rx.start <= rx.end && rx.end <= sizeof(rx.buf));
		FUZZ_CHECK(taken + (rx.end - rx.start) == fed);
	}
	return 0;
}
