/* A device's saved state: a growable byte buffer written by save and read back by load,
 * every read bounds-checked (a snapshot or migration stream is untrusted input). */
#ifndef MINIVMM_STREAM_H
#define MINIVMM_STREAM_H

#include <stddef.h>
#include <stdint.h>

struct device_stream {
	uint8_t *data;
	size_t len, cap; /* writer: bytes held; reader: len is the end */
	size_t pos;	 /* reader: next byte */
	int err;	 /* first error (-ENOMEM writing, -EINVAL reading past the end) */
};

/* Appends n bytes. Errors are sticky, so a writer checks s->err once at the end. */
void stream_put(struct device_stream *s, const void *p, size_t n);
/* Reads n bytes into p; past the end: zeros, and s->err = -EINVAL. */
void stream_get(struct device_stream *s, void *p, size_t n);
/* A reader over [data, data + len) (not copied). */
void stream_reader(struct device_stream *s, const void *data, size_t len);
void stream_free(struct device_stream *s);

#endif
