/* Ethernet frames over a byte stream in QEMU's "socket stream" format, which passt
 * speaks on its Unix socket (QEMU: -netdev stream): each frame is preceded by its
 * length as a 4-byte big-endian integer, and nothing else (no virtio-net header).
 *
 * Pure functions on caller-owned memory, no I/O: the receive side is a buffer the
 * caller reads the socket into (frame_rx_space, frame_rx_fill), from which whole frames
 * are taken one at a time (frame_rx_peek, frame_rx_consume). Bytes of a frame that has
 * not fully arrived stay buffered until the rest comes, so a read may end anywhere. */
#ifndef MINIVMM_FRAME_STREAM_H
#define MINIVMM_FRAME_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FRAME_STREAM_HDR 4
/* The largest frame: an IP packet of 64 KiB - 1 behind a 14-byte Ethernet header. A
 * longer length means the stream is out of step (or not passt's): nothing after it
 * can be trusted. */
#define FRAME_STREAM_MAX (65535 + 14)
/* Room for one largest record and then some, so that one read can bring many small
 * frames and never has to stop short of a whole one. */
#define FRAME_RX_BUF (2 * (FRAME_STREAM_HDR + FRAME_STREAM_MAX))

/* The record header of a frame of len bytes (len <= FRAME_STREAM_MAX). */
void frame_stream_put_len(uint8_t hdr[FRAME_STREAM_HDR], uint32_t len);

/* The first record in buf[0, len): returns its size (header and frame) and sets
 * *frame_len; 0 if buf does not hold all of it yet; -EMSGSIZE if its header announces
 * more than FRAME_STREAM_MAX bytes. */
ssize_t frame_stream_next(const uint8_t *buf, size_t len, size_t *frame_len);

/* Received bytes not taken yet: buf[start, end). */
struct frame_rx {
	size_t start, end;
	uint8_t buf[FRAME_RX_BUF];
};

/* Where the next read goes, and *room, how much fits there: never 0 while no whole
 * record is held (the bytes held move to the front first when the rest of a largest
 * record might not fit behind them). Read only when frame_rx_peek found none. */
uint8_t *frame_rx_space(struct frame_rx *r, size_t *room);
/* n bytes were read into the space frame_rx_space gave. */
void frame_rx_fill(struct frame_rx *r, size_t n);
/* The first whole frame held: returns 1 with *frame and *len set to it; 0 if none is
 * held whole yet; -EMSGSIZE as frame_stream_next (the bytes stay: the stream cannot go
 * on). The same frame again until frame_rx_consume. */
int frame_rx_peek(const struct frame_rx *r, const uint8_t **frame, size_t *len);
/* Drops the frame frame_rx_peek returned (a no-op when there is none). */
void frame_rx_consume(struct frame_rx *r);

#endif
