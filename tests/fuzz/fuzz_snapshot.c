/* A snapshot's state file as a restore reads it (untrusted: the file may be corrupted
 * or hostile): the record walker (vmm/snapshot.c's snapshot_next), and each DEVICE
 * record's payload fed to the load op of the real device of that name (serial, rtc,
 * hotplug, rng: a virtio-rng, whose load covers the virtio transport, the PCI config
 * space and the MSI-X table), on a machine without KVM (every ioctl fails) with 1 MiB
 * of guest RAM, made once.
 *
 * Invariants: every record's payload lies inside the input; the position only grows and
 * ends exactly at the end, or the walk stops with -EINVAL and a message; a load returns
 * 0 or -errno and leaves nothing a later load trips over (sanitizers watch the rest). */
#include <errno.h>

#include "devices/hotplug.h"
#include "devices/pci.h"
#include "devices/platform.h"
#include "devices/serial.h"
#include "devices/stream.h"
#include "devices/virtio_devices.h"
#include "tests/fuzz/fuzz.h"
#include "vmm/machine.h"
#include "vmm/snapshot.h"

static const struct pci_windows windows = {.io_base = 0xc000,
					   .io_end = 0x10000,
					   .m32_base = 0xc0000000,
					   .m32_end = 0xe0000000,
					   .m64_base = 0x1000000000ULL,
					   .m64_end = 0x1800000000ULL,
					   .ecam_base = 0xe0000000};

static struct machine mach;
static struct device devs[4] = {
    {.spec = {.ops = &serial_device_ops, .name = "serial", .fd = -1}},
    {.spec = {.ops = &rtc_device_ops, .name = "rtc", .fd = -1}},
    {.spec = {.ops = &hotplug_device_ops, .name = "hotplug", .fd = -1}},
    {.spec = {.ops = &virtio_rng_device_ops, .name = "rng", .fd = -1}},
};

static void setup(void)
{
	const gpa_t gpa = 0;
	const uint64_t size = 1 << 20;

	FUZZ_CHECK(machine_init(&mach) == 0);
	FUZZ_CHECK(mem_init(&mach.mem, &gpa, &size, 1, 0) == 0);
	(void)irq_init(&mach); /* the table is made; committing it to KVM fails */
	FUZZ_CHECK(pci_init(&mach, &windows) == 0);
	for (int i = 0; i < 4; i++)
		FUZZ_CHECK(devs[i].spec.ops->create(&mach, &devs[i].spec, &devs[i].state) == 0);
}

static void load(const uint8_t *p, uint32_t plen)
{
	const uint8_t *nul = memchr(p, 0, plen);
	struct device_stream in;

	if (!nul)
		return;
	for (int i = 0; i < 4; i++) {
		if (strcmp(devs[i].spec.name, (const char *)p))
			continue;
		stream_reader(&in, nul + 1, plen - (size_t)(nul + 1 - p));
		int ret = devs[i].spec.ops->load(devs[i].state, &in);

		FUZZ_CHECK(ret <= 0 && in.pos <= in.len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 0, last = 0;
	const uint8_t *p;
	uint32_t tag, plen;
	char err[256];
	int ret;

	if (!mach.pci)
		setup();
	err[0] = 0;
	while ((ret = snapshot_next(data, size, &pos, &tag, &p, &plen, err, sizeof(err))) == 1) {
		FUZZ_CHECK(pos > last && pos <= size);
		FUZZ_CHECK(p >= data && p + plen <= data + size && p + plen == data + pos);
		last = pos;
		if (tag == SNAP_DEVICE)
			load(p, plen);
	}
	if (ret == 0)
		FUZZ_CHECK(pos == size);
	else
		FUZZ_CHECK(ret == -22 && err[0] && memchr(err, 0, sizeof(err)));
	return 0;
}
