/* Platform devices with no guest-visible state worth a header of their own: the CMOS
 * clock (rtc.c) and power, reset and the boot marks (power.c). */
#ifndef MINIVMM_PLATFORM_H
#define MINIVMM_PLATFORM_H

#include "devices/device.h"

extern const struct device_ops rtc_device_ops;
extern const struct device_ops power_device_ops;

#endif
