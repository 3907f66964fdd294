/* The virtio device types ("backends") as the rest of the VMM sees them: one constructor
 * per config section, and the console's input path. Callers get an opaque struct
 * virtio_dev; what a backend implements and calls inside is the transport contract in
 * virtio_pci.h, which callers of these functions do not need. */
#ifndef MINIVMM_VIRTIO_BACKENDS_H
#define MINIVMM_VIRTIO_BACKENDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct machine;
struct config_disk;
struct config_net;
struct virtio_dev;

/* Each constructor registers its device on the VM's PCI bus and stores it in *out, or
 * returns -errno after one message; virtio_dev_destroy() takes it off and frees it. */

/* [disk.NAME]: virtio-blk on a raw image (see virtio_blk.c). */
int virtio_blk_create(struct machine *mach, const struct config_disk *disk,
		      struct virtio_dev **out);
/* A migration's handover of the image: off flushes it and gives up its locks (the
 * source), on takes them (the destination, or a source whose handover failed); 0 or
 * -errno after one message. */
int virtio_blk_activate(struct virtio_dev *vd, bool on);
/* [net.NAME]: virtio-net on a host tap device (see virtio_net.c). */
int virtio_net_create(struct machine *mach, const struct config_net *net, struct virtio_dev **out);
/* [console] device = virtio: hvc0 on the VMM's console, writing to out_fd. */
int virtio_console_create(struct machine *mach, int out_fd, struct virtio_dev **out);
/* Console input, from the main thread: buffers up to len bytes for the guest and returns
 * how many it took (fewer when the guest is not reading; the rest is the caller's). */
size_t virtio_console_input(struct virtio_dev *vd, const uint8_t *buf, size_t len);
/* Bytes of the guest's console output dropped because the console was full. */
uint64_t virtio_console_output_dropped(struct virtio_dev *vd);
/* [rng]: virtio-rng fed by getrandom(). */
int virtio_rng_create(struct machine *mach, struct virtio_dev **out);
/* Stops its threads, takes it off the PCI bus and frees it (every kind). NULL is fine. */
void virtio_dev_destroy(struct virtio_dev *vd);

#endif
