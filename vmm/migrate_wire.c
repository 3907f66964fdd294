/* The live migration stream (see migrate_wire.h). */
#include "vmm/migrate_wire.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <zlib.h>

#include "vmm/config.h"
#include "vmm/migrate.h"
#include "vmm/snapshot.h"

#define SLICE_MS 200 /* how often a wait looks at the cancel flag */

int wire_init(struct wire *w, int fd, size_t cap, int timeout_ms, atomic_bool *cancel)
{
	*w = (struct wire){.fd = fd, .timeout_ms = timeout_ms, .cancel = cancel};
	if (cap) {
		w->out = malloc(cap);
		if (!w->out)
			return -ENOMEM;
		w->out_cap = cap;
	}
	return 0;
}

void wire_free(struct wire *w)
{
	free(w->out);
	w->out = NULL;
	w->out_cap = w->out_len = 0;
}

const char *wire_strerror(int err)
{
	switch (err) {
	case -EPIPE:
	case -ECONNRESET:
		return "the other side closed the connection";
	case -ETIMEDOUT:
		return "the other side stopped answering (timed out)";
	case -ECANCELED:
		return "cancelled";
	case -EREMOTEIO:
		return "the other side gave up";
	default:
		return strerror(-err);
	}
}

/* Waits until fd is ready for events: 0, or -ETIMEDOUT, -ECANCELED, -errno. */
static int wait_fd(struct wire *w, short events)
{
	int waited = 0;

	for (;;) {
		struct pollfd p = {.fd = w->fd, .events = events};
		int n;

		if (w->cancel && atomic_load(w->cancel))
			return -ECANCELED;
		if (w->timeout_ms >= 0 && waited >= w->timeout_ms)
			return -ETIMEDOUT;
		n = poll(&p, 1, SLICE_MS);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			return 0; /* ready, or an error that the call will return */
		waited += SLICE_MS;
	}
}

int wire_read(struct wire *w, void *p, size_t n)
{
	uint8_t *d = p;

	if (w->fd < 0) {
		if (n > w->in_len - w->in_pos)
			return -EPIPE;
		memcpy(d, w->in + w->in_pos, n);
		w->in_pos += n;
		w->bytes += n;
		return 0;
	}
	while (n) {
		ssize_t r = recv(w->fd, d, n, MSG_DONTWAIT);
		int ret;

		if (r > 0) {
			d += r;
			n -= (size_t)r;
			w->bytes += (uint64_t)r;
			continue;
		}
		if (r == 0)
			return -EPIPE;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		ret = wait_fd(w, POLLIN);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int send_all(struct wire *w, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = send(w->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		int ret;

		if (r > 0) {
			p += r;
			n -= (size_t)r;
			w->bytes += (uint64_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno != EAGAIN)
			return -errno;
		ret = wait_fd(w, POLLOUT);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int wire_flush(struct wire *w)
{
	struct pollfd p = {.fd = w->fd, .events = POLLIN};
	int ret;

	/* The receiver only ever speaks when the sender waits for it, or to say why it
	 * gives up: then stop sending and read that. */
	if (w->peer_quiet && poll(&p, 1, 0) == 1)
		return -EREMOTEIO;
	ret = send_all(w, w->out, w->out_len);

	w->out_len = 0;
	return ret;
}

int wire_write(struct wire *w, const void *p, size_t n)
{
	int ret;

	if (w->out_len + n > w->out_cap) {
		ret = wire_flush(w);
		if (ret < 0)
			return ret;
		if (n > w->out_cap)
			return send_all(w, p, n);
	}
	memcpy(w->out + w->out_len, p, n);
	w->out_len += n;
	return 0;
}

int wire_rec(struct wire *w, uint32_t tag, uint32_t count, uint64_t arg)
{
	struct mig_rec r = {.tag = tag, .count = count, .arg = arg};

	return wire_write(w, &r, sizeof(r));
}

void wire_linger(struct wire *w)
{
	uint8_t sink[4096];
	int tmo = w->timeout_ms;

	shutdown(w->fd, SHUT_WR);
	w->timeout_ms = 2000;
	while (wire_read(w, sink, 1) == 0 && recv(w->fd, sink, sizeof(sink), MSG_DONTWAIT) != 0)
		;
	w->timeout_ms = tmo;
}

int wire_reply(struct wire *w, uint32_t code, const char *msg)
{
	uint32_t hdr[2] = {code, msg ? (uint32_t)strnlen(msg, MIG_MAX_MSG) : 0};
	int ret = wire_write(w, hdr, sizeof(hdr));

	if (ret == 0 && hdr[1])
		ret = wire_write(w, msg, hdr[1]);
	return ret ? ret : wire_flush(w);
}

int wire_read_reply(struct wire *w, uint32_t *code, char *msg, size_t len)
{
	uint32_t hdr[2];
	char text[MIG_MAX_MSG + 1];
	int ret = wire_read(w, hdr, sizeof(hdr));

	if (ret == 0 && hdr[1] > MIG_MAX_MSG)
		ret = -EPROTO;
	if (ret == 0)
		ret = wire_read(w, text, hdr[1]);
	else if (ret == -EPROTO)
		return ret;
	if (ret < 0)
		return ret;
	text[hdr[1]] = 0;
	for (uint32_t i = 0; i < hdr[1]; i++) /* the peer's text goes into our log */
		if (text[i] < 0x20 || text[i] == 0x7f)
			text[i] = '?';
	*code = hdr[0];
	snprintf(msg, len, "%s", text);
	return 0;
}

/* The CRC-32 that follows a STATE (device NULL) or DEVDATA payload, against the
 * payload's (mine): a link that corrupts data must not reach KVM or a device. */
static int check_crc(struct wire *w, unsigned long mine, const char *device, char *err,
		     size_t errlen)
{
	uint32_t sent;
	int ret = wire_read(w, &sent, sizeof(sent));

	if (ret < 0 || sent == (uint32_t)mine)
		return ret;
	snprintf(err, errlen,
		 "%s%.64s arrived damaged (CRC-32 %08x, sent as %08x): the link between the "
		 "hosts corrupts data",
		 device ? "the pre-copy data of " : "the VM's state", device ? device : "",
		 (uint32_t)mine, sent);
	return -EBADMSG;
}

int migrate_recv_records(struct wire *w, struct guest_mem *mem, const struct mig_sink *sink,
			 uint64_t *pages, char *err, size_t errlen)
{
	char name[CONFIG_NAME_MAX + 16];
	bool have_state = false;
	struct mig_rec r;
	uint8_t *buf;
	uint64_t at;
	int ret;

	for (;;) {
		at = w->bytes;
		ret = wire_read(w, &r, sizeof(r));
		if (ret < 0) {
			snprintf(err, errlen, "the stream ended at byte %llu: %s",
				 (unsigned long long)at, wire_strerror(ret));
			return ret;
		}
		switch (r.tag) {
		case MIG_PAGES:
		case MIG_ZEROS:
			/* count x 4 KiB cannot overflow: count is 32-bit. */
			buf = r.count && (r.tag == MIG_ZEROS || r.count <= MIG_MAX_RUN) &&
				      !(r.arg % MIG_PAGE)
				  ? mem_off_to_hva(mem, r.arg, (uint64_t)r.count * MIG_PAGE)
				  : NULL;
			if (!buf || have_state)
				goto bad;
			if (r.tag == MIG_ZEROS)
				memset(buf, 0, (size_t)r.count * MIG_PAGE);
			else if ((ret = wire_read(w, buf, (size_t)r.count * MIG_PAGE)) < 0)
				goto cut;
			*pages += r.count;
			break;
		case MIG_STATE:
			if (have_state || r.count || r.arg > MIG_MAX_STATE)
				goto bad;
			buf = malloc(r.arg ? r.arg : 1);
			if (!buf)
				return -ENOMEM;
			ret = wire_read(w, buf, r.arg);
			if (ret == 0)
				ret = check_crc(w, crc32(0, buf, (uInt)r.arg), NULL, err, errlen);
			if (ret == 0)
				ret = sink->state(sink->ctx, buf, r.arg, err, errlen);
			free(buf);
			if (ret == -EPIPE || ret == -ETIMEDOUT || ret == -ECANCELED)
				goto cut;
			if (ret < 0)
				return ret;
			have_state = true;
			break;
		case MIG_DEVDATA:
			if (have_state || !r.count || r.count >= sizeof(name) ||
			    r.arg > MIG_MAX_STATE)
				goto bad;
			ret = wire_read(w, name, r.count);
			name[r.count] = 0;
			buf = ret == 0 ? malloc(r.arg ? r.arg : 1) : NULL;
			if (ret == 0 && !buf)
				return -ENOMEM;
			if (ret == 0)
				ret = wire_read(w, buf, r.arg);
			if (ret == 0)
				ret = check_crc(
				    w,
				    crc32(crc32(0, (const Bytef *)name, r.count), buf, (uInt)r.arg),
				    name, err, errlen);
			if (ret == 0)
				ret = sink->devdata(sink->ctx, name, buf, r.arg, err, errlen);
			free(buf);
			if (ret == -EPIPE || ret == -ETIMEDOUT || ret == -ECANCELED)
				goto cut;
			if (ret < 0)
				return ret;
			break;
		case MIG_END:
			if (!have_state || r.count || r.arg)
				goto bad;
			return 0;
		default:
			goto bad;
		}
	}
bad:
	snprintf(err, errlen,
		 "a bad record at byte %llu (tag %u, count %u, arg %#llx): not a minivmm "
		 "migration stream, or a corrupted one",
		 (unsigned long long)at, r.tag, r.count, (unsigned long long)r.arg);
	return -EPROTO;
cut:
	snprintf(err, errlen, "the stream ended inside the record at byte %llu: %s",
		 (unsigned long long)at, wire_strerror(ret));
	return ret;
}

/* Reads a u32 length then that many bytes (at most max, no NUL) into a new string. */
static int read_text(struct wire *w, uint32_t max, char **out)
{
	uint32_t len;
	int ret = wire_read(w, &len, sizeof(len));

	if (ret < 0)
		return ret;
	if (len > max)
		return -EPROTO;
	*out = malloc((size_t)len + 1);
	if (!*out)
		return -ENOMEM;
	ret = wire_read(w, *out, len);
	(*out)[len] = 0;
	if (ret == 0 && strlen(*out) != len)
		ret = -EPROTO;
	if (ret < 0) {
		free(*out);
		*out = NULL;
	}
	return ret;
}

int migrate_read_hello(struct wire *w, char **cfgtext, char *header, size_t hlen, char *err,
		       size_t errlen)
{
	char magic[8], *head = NULL;
	int ret = wire_read(w, magic, sizeof(magic));

	*cfgtext = NULL;
	if (ret == 0 && memcmp(magic, MIG_MAGIC, sizeof(magic)))
		ret = -EPROTO;
	if (ret == 0)
		ret = read_text(w, MIG_MAX_HEADER, &head);
	if (ret < 0) {
		snprintf(err, errlen, "the peer did not send a minivmm migration (%s)",
			 ret == -EPROTO ? "bad hello" : wire_strerror(ret));
		return ret;
	}
	ret = snapshot_header_check(NULL, head, "the migration stream", err, errlen);
	if (ret == 0 && strlen(head) >= hlen) {
		snprintf(err, errlen, "the migration stream: a header of %zu bytes", strlen(head));
		ret = -EPROTO;
	}
	if (ret == 0)
		strcpy(header, head);
	free(head);
	if (ret == 0) {
		ret = read_text(w, MIG_MAX_TEXT, cfgtext);
		if (ret < 0)
			snprintf(err, errlen, "the source's config did not arrive: %s",
				 ret == -EPROTO ? "too long or not text" : wire_strerror(ret));
	}
	return ret;
}

int migrate_parse_addr(const char *s, struct sockaddr_storage *sa, socklen_t *len, char *err,
		       size_t errlen)
{
	char host[64];
	const char *port;
	unsigned long pn;
	char *end;

	memset(sa, 0, sizeof(*sa));
	if (s[0] == '/' || !strncmp(s, "unix:", 5)) {
		struct sockaddr_un *un = (struct sockaddr_un *)sa;
		const char *path = s[0] == '/' ? s : s + 5;

		if (!*path || strlen(path) >= sizeof(un->sun_path)) {
			snprintf(err, errlen, "'%s': a socket path of 1 to %zu bytes is needed", s,
				 sizeof(un->sun_path) - 1);
			return -EINVAL;
		}
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, path);
		*len = sizeof(*un);
		return 0;
	}
	if (strncmp(s, "tcp:", 4) || !(port = strrchr(s + 4, ':')) ||
	    (size_t)(port - s - 4) >= sizeof(host))
		goto bad;
	memcpy(host, s + 4, (size_t)(port - s - 4));
	host[port - s - 4] = 0;
	errno = 0;
	pn = strtoul(port + 1, &end, 10);
	if (errno || *end || !port[1] || pn == 0 || pn > 65535)
		goto bad;
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;

		host[strlen(host) - 1] = 0;
		if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
			goto bad;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)pn);
		*len = sizeof(*in6);
		return 0;
	}
	struct sockaddr_in *in = (struct sockaddr_in *)sa;

	if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
		goto bad;
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)pn);
	*len = sizeof(*in);
	return 0;
bad:
	snprintf(err, errlen,
		 "'%s' is not a migration address: unix:PATH, tcp:IP:PORT or tcp:[IPv6]:PORT "
		 "(numeric addresses only)",
		 s);
	return -EINVAL;
}
