/* A vhost-user front end (the protocol of QEMU's docs/interop/vhost-user.rst): a
 * device whose virtqueues a separate process serves (virtiofsd, qemu-storage-daemon),
 * sharing guest memory by fd, with the guest's notifications and interrupts going
 * straight between KVM and that process through eventfds (no minivmm thread on the
 * data path).
 *
 * Messages are a 12-byte header {u32 request, u32 flags (version 1, reply bit), u32
 * size} and a payload, file descriptors riding along as SCM_RIGHTS. Everything the
 * back end sends is checked (reply request code, size, the reply bit) before use: a
 * back end is another process, trusted with guest memory but not with minivmm's. */
#ifndef MINIVMM_VHOST_USER_H
#define MINIVMM_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guest_mem;

#define VHOST_USER_MAX_QUEUES 8

struct vhost_user {
	int fd; /* the connection, -1 once the back end is gone */
	char path[108];
	char name[80];		 /* the device, for messages */
	uint64_t features;	 /* the back end's virtio features */
	uint64_t protocol;	 /* protocol features both sides have */
	unsigned int max_queues; /* the back end's (GET_QUEUE_NUM), else 0 */
};

/* The ring of one queue as the driver set it up, in guest terms. */
struct vhost_user_ring {
	unsigned int index;
	uint16_t size, last_avail;
	uint64_t desc, avail, used; /* guest physical */
	int kick_fd, call_fd;
};

/* Connects to the back end's socket at path and negotiates: owner, its features, the
 * protocol features (reply-ack, config, mq where offered), its queue count. 0 or
 * -errno with one message in err naming path and the fix. */
int vhost_user_connect(struct vhost_user *vu, const char *path, const char *name, char *err,
		       size_t errlen);
void vhost_user_close(struct vhost_user *vu);

/* Device config from the back end (protocol feature CONFIG): len bytes at offset 0. */
int vhost_user_get_config(struct vhost_user *vu, void *buf, uint32_t len);

/* The driver accepted features (DRIVER_OK): sends them with guest memory (every RAM
 * region by its memfd) and starts each ring. 0 or -errno (logged). */
int vhost_user_start(struct vhost_user *vu, uint64_t features, const struct guest_mem *mem,
		     const struct vhost_user_ring *rings, unsigned int n);
/* Device reset: stops each started ring (GET_VRING_BASE); last_avail of each comes
 * back. 0 or -errno. */
int vhost_user_stop(struct vhost_user *vu, struct vhost_user_ring *rings, unsigned int n);

#endif
