/* Device state streams (see stream.h). */
#include "devices/stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void stream_put(struct device_stream *s, const void *p, size_t n)
{
	if (s->err)
		return;
	if (s->len + n > s->cap) {
		size_t cap = (s->len + n) * 2 + 64;
		uint8_t *d = realloc(s->data, cap);

		if (!d) {
			s->err = -ENOMEM;
			return;
		}
		s->data = d;
		s->cap = cap;
	}
	memcpy(s->data + s->len, p, n);
	s->len += n;
}

void stream_get(struct device_stream *s, void *p, size_t n)
{
	if (s->err || n > s->len - s->pos) {
		memset(p, 0, n);
		s->err = -EINVAL;
		return;
	}
	memcpy(p, s->data + s->pos, n);
	s->pos += n;
}

void stream_reader(struct device_stream *s, const void *data, size_t len)
{
	memset(s, 0, sizeof(*s));
	s->data = (uint8_t *)data;
	s->len = len;
}

void stream_free(struct device_stream *s)
{
	free(s->data);
	memset(s, 0, sizeof(*s));
}
