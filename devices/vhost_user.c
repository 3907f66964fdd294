/* The vhost-user front end (see vhost_user.h). */
#include "devices/vhost_user.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/mem.h"

enum {
	GET_FEATURES = 1,
	SET_FEATURES = 2,
	SET_OWNER = 3,
	SET_MEM_TABLE = 5,
	SET_VRING_NUM = 8,
	SET_VRING_ADDR = 9,
	SET_VRING_BASE = 10,
	GET_VRING_BASE = 11,
	SET_VRING_KICK = 12,
	SET_VRING_CALL = 13,
	GET_PROTOCOL_FEATURES = 15,
	SET_PROTOCOL_FEATURES = 16,
	GET_QUEUE_NUM = 17,
	SET_VRING_ENABLE = 18,
	GET_CONFIG = 24,
};

#define F_PROTOCOL_FEATURES 30 /* a virtio feature bit that only vhost-user knows */
#define P_MQ		    0
#define P_REPLY_ACK	    3
#define P_CONFIG	    9
#define OURS		    (1ULL << P_MQ | 1ULL << P_REPLY_ACK | 1ULL << P_CONFIG)

#define VERSION	   1u
#define FLAG_REPLY (1u << 2)
#define FLAG_NEED  (1u << 3)
#define MAX_FDS	   8
#define REPLY_MS   10000 /* a back end that does not answer in this is taken as gone */

struct hdr {
	uint32_t request, flags, size;
};

struct msg {
	struct hdr h;
	union {
		uint64_t u64;
		struct {
			uint32_t index, num;
		} state;
		struct {
			uint32_t index, flags;
			uint64_t desc, used, avail, log;
		} addr;
		struct {
			uint32_t nregions, padding;
			struct {
				uint64_t gpa, size, uaddr, offset;
			} r[MAX_FDS];
		} mem;
		struct {
			uint32_t offset, size, flags;
			uint8_t data[256];
		} config;
	} u;
};

static int gone(struct vhost_user *vu, const char *what, int err)
{
	log_err("%s: vhost-user back end %s: %s %s; the device's requests fail until a back "
		"end is there again (minivmm reconnects to the socket)",
		vu->name, vu->path, what,
		err == EPIPE || err == 0 ? "lost the connection" : strerror(err));
	if (vu->fd >= 0)
		close(vu->fd);
	vu->fd = -1;
	return -(err ? err : EPIPE);
}

static int send_msg(struct vhost_user *vu, struct msg *m, const int *fds, int nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * MAX_FDS)] = {0};
	/* Two pieces: the payload union is 8-byte aligned, the header 12 bytes long. */
	struct iovec iov[2] = {{.iov_base = &m->h, .iov_len = sizeof(m->h)},
			       {.iov_base = &m->u, .iov_len = m->h.size}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = m->h.size ? 2 : 1};

	if (vu->fd < 0)
		return -EPIPE;
	m->h.flags |= VERSION;
	if (nfds) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	if (sendmsg(vu->fd, &mh, MSG_NOSIGNAL) != (ssize_t)(sizeof(m->h) + m->h.size))
		return gone(vu, "sending", errno);
	return 0;
}

/* Reads the reply to request into m (payload at most want bytes, exactly want when
 * exact); fds are not expected from back ends and are closed. */
static int recv_reply(struct vhost_user *vu, uint32_t request, struct msg *m, uint32_t want,
		      bool exact)
{
	char cbuf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
	struct iovec iov = {.iov_base = &m->h, .iov_len = sizeof(m->h)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct pollfd p = {.fd = vu->fd, .events = POLLIN};
	ssize_t n;

	if (vu->fd < 0)
		return -EPIPE;
	if (poll(&p, 1, REPLY_MS) != 1)
		return gone(vu, "answering", ETIMEDOUT);
	n = recvmsg(vu->fd, &mh, MSG_CMSG_CLOEXEC);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); n > 0 && c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
				close(((int *)CMSG_DATA(c))[i]);
	if (n != (ssize_t)sizeof(m->h))
		return gone(vu, "answering", n < 0 ? errno : EPIPE);
	if (m->h.request != request || !(m->h.flags & FLAG_REPLY) || m->h.size > want ||
	    (exact && m->h.size != want)) {
		log_err("%s: vhost-user back end %s: a reply that does not fit request %u "
			"(request %u, %u bytes); closing the connection",
			vu->name, vu->path, request, m->h.request, m->h.size);
		return gone(vu, "answering", EPROTO);
	}
	/* recvmsg, not recv: the device threads' filter has only the msg calls. */
	iov = (struct iovec){.iov_base = &m->u, .iov_len = m->h.size};
	mh = (struct msghdr){.msg_iov = &iov, .msg_iovlen = 1};
	if (m->h.size && recvmsg(vu->fd, &mh, MSG_WAITALL) != (ssize_t)m->h.size)
		return gone(vu, "answering", errno);
	return 0;
}

/* A request with a payload of size bytes (and fds); with reply-ack negotiated, waits
 * for the back end's verdict. */
static int request(struct vhost_user *vu, uint32_t req, struct msg *m, uint32_t size,
		   const int *fds, int nfds)
{
	bool ack = vu->protocol & (1ULL << P_REPLY_ACK);
	int ret;

	m->h = (struct hdr){.request = req, .flags = ack ? FLAG_NEED : 0, .size = size};
	ret = send_msg(vu, m, fds, nfds);
	if (ret < 0 || !ack)
		return ret;
	ret = recv_reply(vu, req, m, 8, true);
	if (ret == 0 && m->u.u64) {
		log_err("%s: vhost-user back end %s refused request %u", vu->name, vu->path, req);
		return -EIO;
	}
	return ret;
}

static int get_u64(struct vhost_user *vu, uint32_t req, uint64_t *v)
{
	struct msg m = {.h = {.request = req}};
	int ret = send_msg(vu, &m, NULL, 0);

	if (ret == 0)
		ret = recv_reply(vu, req, &m, 8, true);
	if (ret == 0)
		*v = m.u.u64;
	return ret;
}

int vhost_user_connect(struct vhost_user *vu, const char *path, const char *name, char *err,
		       size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct msg m;
	uint64_t proto = 0, nq = 0;
	int ret;

	memset(vu, 0, sizeof(*vu));
	vu->fd = -1;
	snprintf(vu->name, sizeof(vu->name), "%s", name);
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: vhost-user socket %s: the path is too long", name, path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	strcpy(vu->path, path);
	vu->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (vu->fd < 0 || connect(vu->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		snprintf(err, errlen,
			 "%s: cannot connect to the vhost-user back end at %s: %s (start it "
			 "first, e.g. virtiofsd --socket-path=%s or qemu-storage-daemon --export "
			 "type=vhost-user-blk,addr.type=unix,addr.path=%s,...)",
			 name, path, strerror(-ret), path, path);
		vhost_user_close(vu);
		return ret;
	}
	m = (struct msg){.h = {.request = SET_OWNER}};
	ret = send_msg(vu, &m, NULL, 0);
	if (ret == 0)
		ret = get_u64(vu, GET_FEATURES, &vu->features);
	if (ret == 0 && (vu->features & (1ULL << F_PROTOCOL_FEATURES)))
		ret = get_u64(vu, GET_PROTOCOL_FEATURES, &proto);
	if (ret == 0 && (vu->features & (1ULL << F_PROTOCOL_FEATURES))) {
		vu->protocol = proto & OURS;
		m.u.u64 = vu->protocol;
		m.h = (struct hdr){.request = SET_PROTOCOL_FEATURES, .size = 8};
		ret = send_msg(vu, &m, NULL, 0);
	}
	if (ret == 0 && (vu->protocol & (1ULL << P_MQ)))
		ret = get_u64(vu, GET_QUEUE_NUM, &nq);
	vu->max_queues = nq > VHOST_USER_MAX_QUEUES ? VHOST_USER_MAX_QUEUES : (unsigned int)nq;
	if (ret < 0) {
		snprintf(err, errlen, "%s: the vhost-user back end at %s failed the handshake: %s",
			 name, path, strerror(-ret));
		vhost_user_close(vu);
		return ret;
	}
	log_info("%s: vhost-user back end %s: features %#llx, protocol %#llx", name, path,
		 (unsigned long long)vu->features, (unsigned long long)vu->protocol);
	return 0;
}

void vhost_user_close(struct vhost_user *vu)
{
	if (vu->fd >= 0)
		close(vu->fd);
	vu->fd = -1;
}

int vhost_user_get_config(struct vhost_user *vu, void *buf, uint32_t len)
{
	struct msg m = {.h = {.request = GET_CONFIG}};
	int ret;

	if (!(vu->protocol & (1ULL << P_CONFIG)) || len > sizeof(m.u.config.data))
		return -ENOTSUP;
	m.h.size = 12 + len;
	m.u.config.size = len;
	ret = send_msg(vu, &m, NULL, 0);
	if (ret == 0)
		ret = recv_reply(vu, GET_CONFIG, &m, 12 + len, true);
	if (ret == 0 && m.u.config.size != len)
		ret = -EPROTO;
	if (ret == 0)
		memcpy(buf, m.u.config.data, len);
	return ret;
}

static int send_mem(struct vhost_user *vu, const struct guest_mem *mem)
{
	struct msg m = {0};
	int fds[MAX_FDS];
	uint64_t off = 0;

	m.u.mem.nregions = (uint32_t)mem->nr_regions;
	for (int i = 0; i < mem->nr_regions; i++) {
		m.u.mem.r[i].gpa = mem->regions[i].gpa;
		m.u.mem.r[i].size = mem->regions[i].size;
		m.u.mem.r[i].uaddr = (uintptr_t)mem->regions[i].hva;
		m.u.mem.r[i].offset = off;
		fds[i] = mem->memfd;
		off += mem->regions[i].size;
	}
	return request(vu, SET_MEM_TABLE, &m, 8 + 32 * (uint32_t)mem->nr_regions, fds,
		       mem->nr_regions);
}

static int start_ring(struct vhost_user *vu, const struct guest_mem *mem,
		      const struct vhost_user_ring *r)
{
	uint8_t *desc = mem_gpa_to_hva(mem, r->desc, 16ULL * r->size);
	uint8_t *avail = mem_gpa_to_hva(mem, r->avail, 6 + 2ULL * r->size);
	uint8_t *used = mem_gpa_to_hva(mem, r->used, 6 + 8ULL * r->size);
	struct msg m = {0};
	int ret;

	if (!desc || !avail || !used)
		return -EFAULT;
	m.u.state.index = r->index;
	m.u.state.num = r->size;
	ret = request(vu, SET_VRING_NUM, &m, 8, NULL, 0);
	if (ret == 0) {
		m.u.addr.index = r->index;
		m.u.addr.flags = 0;
		m.u.addr.desc = (uintptr_t)desc;
		m.u.addr.used = (uintptr_t)used;
		m.u.addr.avail = (uintptr_t)avail;
		m.u.addr.log = 0;
		ret = request(vu, SET_VRING_ADDR, &m, 40, NULL, 0);
	}
	if (ret == 0) {
		m.u.state.index = r->index;
		m.u.state.num = r->last_avail;
		ret = request(vu, SET_VRING_BASE, &m, 8, NULL, 0);
	}
	if (ret == 0) {
		m.u.u64 = r->index;
		ret = request(vu, SET_VRING_KICK, &m, 8, &r->kick_fd, 1);
	}
	if (ret == 0) {
		m.u.u64 = r->index;
		ret = request(vu, SET_VRING_CALL, &m, 8, &r->call_fd, 1);
	}
	/* With protocol features, rings start disabled until enabled. */
	if (ret == 0 && (vu->features & (1ULL << F_PROTOCOL_FEATURES))) {
		m.u.state.index = r->index;
		m.u.state.num = 1;
		ret = request(vu, SET_VRING_ENABLE, &m, 8, NULL, 0);
	}
	return ret;
}

int vhost_user_start(struct vhost_user *vu, uint64_t features, const struct guest_mem *mem,
		     const struct vhost_user_ring *rings, unsigned int n)
{
	struct msg m = {0};
	int ret;

	m.u.u64 = features | (vu->features & (1ULL << F_PROTOCOL_FEATURES));
	ret = request(vu, SET_FEATURES, &m, 8, NULL, 0);
	if (ret == 0)
		ret = send_mem(vu, mem);
	for (unsigned int i = 0; ret == 0 && i < n; i++)
		ret = start_ring(vu, mem, &rings[i]);
	if (ret < 0)
		log_err("%s: cannot start the vhost-user back end %s: %s", vu->name, vu->path,
			strerror(-ret));
	return ret;
}

int vhost_user_stop(struct vhost_user *vu, struct vhost_user_ring *rings, unsigned int n)
{
	int ret = 0;

	for (unsigned int i = 0; ret == 0 && i < n; i++) {
		struct msg m = {.h = {.request = GET_VRING_BASE, .size = 8}};

		m.u.state.index = rings[i].index;
		ret = send_msg(vu, &m, NULL, 0);
		if (ret == 0)
			ret = recv_reply(vu, GET_VRING_BASE, &m, 8, true);
		if (ret == 0)
			rings[i].last_avail = (uint16_t)m.u.state.num;
	}
	return ret;
}
