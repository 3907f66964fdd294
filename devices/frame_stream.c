/* Length-prefixed frames on a byte stream (see frame_stream.h). */
#include "devices/frame_stream.h"

#include <errno.h>
#include <string.h>

void frame_stream_put_len(uint8_t hdr[FRAME_STREAM_HDR], uint32_t len)
{
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
}

ssize_t frame_stream_next(const uint8_t *buf, size_t len, size_t *frame_len)
{
	uint32_t n;

	if (len < FRAME_STREAM_HDR)
		return 0;
	n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
	/* Refused on its header alone: waiting for 4 GiB that will never fit would hang. */
	if (n > FRAME_STREAM_MAX)
		return -EMSGSIZE;
	if (len - FRAME_STREAM_HDR < n)
		return 0;
	*frame_len = n;
	return FRAME_STREAM_HDR + (ssize_t)n;
}

uint8_t *frame_rx_space(struct frame_rx *r, size_t *room)
{
	/* Only when the bytes left cannot be a whole record, so each byte moves at most
	 * once per record (a read that brings many frames moves only the tail). */
	if (r->start && sizeof(r->buf) - r->end < FRAME_STREAM_HDR + FRAME_STREAM_MAX) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	*room = sizeof(r->buf) - r->end;
	return r->buf + r->end;
}

void frame_rx_fill(struct frame_rx *r, size_t n)
{
	r->end += n;
}

int frame_rx_peek(const struct frame_rx *r, const uint8_t **frame, size_t *len)
{
	ssize_t rec = frame_stream_next(r->buf + r->start, r->end - r->start, len);

	if (rec <= 0)
		return (int)rec;
	*frame = r->buf + r->start + FRAME_STREAM_HDR;
	return 1;
}

void frame_rx_consume(struct frame_rx *r)
{
	size_t len;
	ssize_t rec = frame_stream_next(r->buf + r->start, r->end - r->start, &len);

	if (rec > 0)
		r->start += (size_t)rec;
	if (r->start == r->end)
		r->start = r->end = 0;
}
