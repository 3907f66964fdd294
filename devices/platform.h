/* Platform devices with no guest-visible state worth a file of their own, and the
 * device_ops table every built-in device provides. */
#ifndef MINIVMM_PLATFORM_H
#define MINIVMM_PLATFORM_H

#include <errno.h>

struct vm;

struct device_ops {
	const char *name;
	/* Registers the device on vm's buses; returns 0 or -errno. */
	int (*init)(struct vm *vm, void **state);
	/* Unregisters and frees; only called after every vCPU thread has been joined. */
	void (*exit)(struct vm *vm, void *state);
};

extern const struct device_ops rtc_ops;
extern const struct device_ops power_ops;

#endif
