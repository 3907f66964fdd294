/* The length-prefixed frame stream that passt speaks (devices/frame_stream.c): the
 * header's byte order, frames split across reads, several frames in one read, and
 * lengths that cannot be a frame. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "devices/frame_stream.h"

/* Appends one record (header and frame of len bytes, each byte its index + seed) at p;
 * returns its size. */
static size_t record(uint8_t *p, size_t len, uint8_t seed)
{
	frame_stream_put_len(p, (uint32_t)len);
	for (size_t i = 0; i < len; i++)
		p[FRAME_STREAM_HDR + i] = (uint8_t)(i + seed);
	return FRAME_STREAM_HDR + len;
}

static bool frame_ok(const uint8_t *f, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		if (f[i] != (uint8_t)(i + seed))
			return false;
	return true;
}

/* Feeds n bytes to r as a read would (they must fit). */
static void feed(struct frame_rx *r, const uint8_t *p, size_t n)
{
	size_t room;
	uint8_t *space = frame_rx_space(r, &room);

	ck_assert_uint_ge(room, n);
	memcpy(space, p, n);
	frame_rx_fill(r, n);
}

START_TEST(header_big_endian)
{
	uint8_t h[FRAME_STREAM_HDR];
	size_t len = 0;

	frame_stream_put_len(h, 0x0102a0b0);
	ck_assert_mem_eq(h, "\x01\x02\xa0\xb0", 4);
	frame_stream_put_len(h, 60);
	ck_assert_mem_eq(h, "\x00\x00\x00\x3c", 4);
	/* As QEMU's -netdev stream writes a 1514-byte frame: 00 00 05 ea. */
	ck_assert_int_eq(frame_stream_next((const uint8_t *)"\x00\x00\x05\xea", 4, &len), 0);
	{
		uint8_t buf[FRAME_STREAM_HDR + 1514] = {0x00, 0x00, 0x05, 0xea};

		ck_assert_int_eq(frame_stream_next(buf, sizeof(buf), &len), sizeof(buf));
		ck_assert_uint_eq(len, 1514);
	}
}
END_TEST

START_TEST(partial_frame)
{
	static struct frame_rx r;
	uint8_t rec[FRAME_STREAM_HDR + 1514];
	size_t n = record(rec, 1514, 7), len;
	const uint8_t *f;

	memset(&r, 0, sizeof(r));
	/* Nothing, then a header cut short, then a frame cut short: none whole yet. */
	ck_assert_int_eq(frame_rx_peek(&r, &f, &len), 0);
	feed(&r, rec, 3);
	ck_assert_int_eq(frame_rx_peek(&r, &f, &len), 0);
	feed(&r, rec + 3, 2);
	ck_assert_int_eq(frame_rx_peek(&r, &f, &len), 0);
	feed(&r, rec + 5, n - 6);
	ck_assert_int_eq(frame_rx_peek(&r, &f, &len), 0);
	/* The last byte makes it whole. */
	feed(&r, rec + n - 1, 1);
	ck_assert_int_eq(frame_rx_peek(&r, &f, &len), 1);
	ck_assert_uint_eq(len, 1514);
	ck_assert(frame_ok(f, len, 7));
	/* Peeking again gives the same frame until it is consumed. */
	ck_assert_int_eq(frame_rx_peek(&r, &f, &len), 1);
	frame_rx_consume(&r);
	ck_assert_int_eq(frame_rx_peek(&r, &f, &len), 0);
	ck_assert_uint_eq(r.start, 0);
	ck_assert_uint_eq(r.end, 0);
}
END_TEST

START_TEST(two_frames_one_read)
{
	static struct frame_rx r;
	uint8_t buf[3 * FRAME_STREAM_HDR + 60 + 90 + 100];
	size_t n = record(buf, 60, 1), len;
	const uint8_t *f;

	n += record(buf + n, 90, 2);
	/* And the first 10 bytes of a third. */
	record(buf + n, 100, 3);
	memset(&r, 0, sizeof(r));
	feed(&r, buf, n + 10);
	ck_assert_int_eq(frame_rx_peek(&r, &f, &len), 1);
	ck_assert_uint_eq(len, 60);
	ck_assert(frame_ok(f, len, 1));
	frame_rx_consume(&r);
	ck_assert_int_eq(frame_rx_peek(&r, &f, &len), 1);
	ck_assert_uint_eq(len, 90);
	ck_assert(frame_ok(f, len, 2));
	frame_rx_consume(&r);
	ck_assert_int_eq(frame_rx_peek(&r, &f, &len), 0);
	{
		uint8_t rest[FRAME_STREAM_HDR + 100];

		record(rest, 100, 3);
		feed(&r, rest + 10, sizeof(rest) - 10);
	}
	ck_assert_int_eq(frame_rx_peek(&r, &f, &len), 1);
	ck_assert_uint_eq(len, 100);
	ck_assert(frame_ok(f, len, 3));
	/* A zero-length frame is a frame (the device hands the guest an empty one). */
	frame_rx_consume(&r);
	feed(&r, (const uint8_t *)"\0\0\0\0", 4);
	ck_assert_int_eq(frame_rx_peek(&r, &f, &len), 1);
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(oversize_refused)
{
	static struct frame_rx r;
	uint8_t *big = malloc(FRAME_STREAM_HDR + FRAME_STREAM_MAX);
	uint8_t h[FRAME_STREAM_HDR];
	size_t len = 0;
	const uint8_t *f;

	ck_assert_ptr_nonnull(big);
	/* The largest frame passes, one byte more is refused on the header alone. */
	record(big, FRAME_STREAM_MAX, 5);
	ck_assert_int_eq(frame_stream_next(big, FRAME_STREAM_HDR + FRAME_STREAM_MAX, &len),
			 FRAME_STREAM_HDR + FRAME_STREAM_MAX);
	ck_assert_uint_eq(len, FRAME_STREAM_MAX);
	frame_stream_put_len(h, FRAME_STREAM_MAX + 1);
	ck_assert_int_eq(frame_stream_next(h, sizeof(h), &len), -EMSGSIZE);
	ck_assert_int_eq(frame_stream_next((const uint8_t *)"\xff\xff\xff\xff", 4, &len),
			 -EMSGSIZE);
	/* In the receive buffer: after a good frame, the bad header stops the stream
	 * (and stays refused: nothing after it is read as a frame). */
	memset(&r, 0, sizeof(r));
	feed(&r, big, FRAME_STREAM_HDR + FRAME_STREAM_MAX);
	feed(&r, (const uint8_t *)"\x00\x01\x00\x0e", 4); /* 65550: one over */
	ck_assert_int_eq(frame_rx_peek(&r, &f, &len), 1);
	ck_assert(frame_ok(f, len, 5));
	frame_rx_consume(&r);
	ck_assert_int_eq(frame_rx_peek(&r, &f, &len), -EMSGSIZE);
	frame_rx_consume(&r);
	ck_assert_int_eq(frame_rx_peek(&r, &f, &len), -EMSGSIZE);
	free(big);
}
END_TEST

/* A long stream of frames of many sizes, read in pieces of awkward sizes: every frame
 * comes out whole and in order, and the buffer always has room for the next read. */
START_TEST(stream_in_pieces)
{
	static struct frame_rx r;
	static const size_t sizes[] = {60, 1514, 65549, 14, 9000, 1, 65549, 300, 4000};
	static const size_t pieces[] = {1, 3, 4, 5, 1000, 4096, 65536, 7, 131072};
	size_t total = 0, off = 0, nf = 0, got = 0, len;
	uint8_t *s;
	const uint8_t *f;

	for (int rep = 0; rep < 8; rep++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			total += FRAME_STREAM_HDR + sizes[i];
	s = malloc(total);
	ck_assert_ptr_nonnull(s);
	for (int rep = 0; rep < 8; rep++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++, nf++)
			off += record(s + off, sizes[i], (uint8_t)nf);
	memset(&r, 0, sizeof(r));
	off = 0;
	for (size_t k = 0; got < nf; k++) {
		size_t room, want = pieces[k % (sizeof(pieces) / sizeof(pieces[0]))];
		uint8_t *space;

		/* Take every whole frame first, as the device does before reading. */
		while (frame_rx_peek(&r, &f, &len) == 1) {
			ck_assert_uint_eq(len, sizes[got % (sizeof(sizes) / sizeof(sizes[0]))]);
			ck_assert_msg(frame_ok(f, len, (uint8_t)got), "frame %zu corrupted", got);
			frame_rx_consume(&r);
			got++;
		}
		if (got == nf)
			break;
		space = frame_rx_space(&r, &room);
		ck_assert_uint_gt(room, 0);
		want = want < room ? want : room;
		want = want < total - off ? want : total - off;
		memcpy(space, s + off, want);
		frame_rx_fill(&r, want);
		off += want;
	}
	ck_assert_uint_eq(off, total);
	free(s);
}
END_TEST

Suite *frame_stream_suite(void)
{
	Suite *s = suite_create("frame_stream");
	TCase *tc = tcase_create("frame_stream");

	tcase_add_test(tc, header_big_endian);
	tcase_add_test(tc, partial_frame);
	tcase_add_test(tc, two_frames_one_read);
	tcase_add_test(tc, oversize_refused);
	tcase_add_test(tc, stream_in_pieces);
	suite_add_tcase(s, tc);
	return s;
}
