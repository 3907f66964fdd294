/* The virtio device kinds of the device model (devices/device.h): what the catalog
 * lists, so that it needs neither the backends nor the transport. Each instance's state
 * is its struct virtio_dev (virtio_backends.h has what callers may do with one). */
#ifndef MINIVMM_VIRTIO_DEVICES_H
#define MINIVMM_VIRTIO_DEVICES_H

#include "devices/device.h"

extern const struct device_ops virtio_console_device_ops; /* spec->fd: console output */
extern const struct device_ops virtio_blk_device_ops;	  /* spec->conf: config_disk */
extern const struct device_ops virtio_net_device_ops;	  /* spec->conf: config_net */
extern const struct device_ops virtio_rng_device_ops;	  /* no spec fields */
/* Served by vhost-user back ends (vhost_user_dev.c): [fs.NAME] and a [disk.NAME]
 * with vhost_user = SOCKET. */
extern const struct device_ops vhost_user_fs_device_ops;
extern const struct device_ops vhost_user_blk_device_ops;

#endif
