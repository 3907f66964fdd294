/* The vhost-user front end (devices/vhost_user.c) against a hostile back end: the
 * input is everything the back end sends, written by a thread on the other end of a
 * real Unix socket (then its write side is shut: the back end "goes"). The front end
 * connects and negotiates, reads the device config, starts one ring over 1 MiB of
 * guest RAM in a memfd, and stops it, as a virtio-fs or vhost-user-blk device does.
 *
 * Invariants: every call returns 0 or -errno, never hangs (a short input is a back end
 * that left) and never trusts a reply that does not fit its request; after a failure
 * the connection is closed (fd -1) and later calls fail at once; the queue count taken
 * from the back end is capped; the fds the front end sends are the ones it owns. */
#include <errno.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/vhost_user.h"
#include "tests/fuzz/fuzz.h"
#include "vmm/mem.h"

static struct guest_mem mem;
static int listen_fd = -1;
static char sock_path[108];

struct backend {
	const uint8_t *data;
	size_t size;
};

/* The back end: accepts, sends the input, shuts its write side, then reads (and
 * closes the fds in) what the front end sends until it hangs up. */
static void *backend(void *arg)
{
	const struct backend *b = arg;
	char buf[4096], cbuf[CMSG_SPACE(sizeof(int) * 8)];
	int fd = accept(listen_fd, NULL, NULL);

	if (fd < 0)
		return NULL;
	if (b->size)
		(void)!send(fd, b->data, b->size, MSG_NOSIGNAL);
	shutdown(fd, SHUT_WR);
	for (;;) {
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf)};
		ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);

		if (n <= 0)
			break;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
				for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				     i++)
					close(((int *)CMSG_DATA(c))[i]);
	}
	close(fd);
	return NULL;
}

static void remove_socket(void)
{
	unlink(sock_path);
}

static void setup(void)
{
	const gpa_t gpa = 0;
	const uint64_t size = 1 << 20;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	FUZZ_CHECK(mem_init(&mem, &gpa, &size, 1, MEM_MEMFD) == 0);
	snprintf(sock_path, sizeof(sock_path), "/tmp/fuzz-vhost-user-%d.sock", (int)getpid());
	unlink(sock_path);
	strcpy(sa.sun_path, sock_path);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FUZZ_CHECK(listen_fd >= 0 && bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		   listen(listen_fd, 4) == 0);
	atexit(remove_socket);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct backend b = {.data = data, .size = size > 65536 ? 65536 : size};
	struct vhost_user_ring ring = {
	    .index = 0, .size = 16, .desc = 0x1000, .avail = 0x2000, .used = 0x3000};
	struct vhost_user vu;
	uint8_t config[40];
	char err[512] = "";
	pthread_t t;
	int ret;

	if (listen_fd < 0)
		setup();
	ring.kick_fd = eventfd(0, EFD_CLOEXEC);
	ring.call_fd = eventfd(0, EFD_CLOEXEC);
	FUZZ_CHECK(ring.kick_fd >= 0 && ring.call_fd >= 0);
	FUZZ_CHECK(pthread_create(&t, NULL, backend, &b) == 0);

	ret = vhost_user_connect(&vu, sock_path, "fuzz", err, sizeof(err));
	if (ret < 0) {
		FUZZ_CHECK(vu.fd == -1 && err[0] && memchr(err, 0, sizeof(err)));
	} else {
		FUZZ_CHECK(vu.fd >= 0 && vu.max_queues <= VHOST_USER_MAX_QUEUES);
		ret = vhost_user_get_config(&vu, config, sizeof(config));
		FUZZ_CHECK(ret == 0 || ret == -ENOTSUP || ret == -EPROTO ||
			   (ret < 0 && vu.fd == -1));
		ret = vhost_user_start(&vu, 1ULL << 32, &mem, &ring, 1);
		FUZZ_CHECK(ret <= 0);
		if (ret == 0)
			ret = vhost_user_stop(&vu, &ring, 1);
		FUZZ_CHECK(ret <= 0);
		if (ret < 0 && ret != -EIO && ret != -EFAULT)
			FUZZ_CHECK(vu.fd == -1); /* the back end is gone: nothing more is sent */
		vhost_user_close(&vu);
	}
	pthread_join(t, NULL);
	close(ring.kick_fd);
	close(ring.call_fd);
	return 0;
}
