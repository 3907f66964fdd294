/* Power and reset, and the boot-time mark:
 *  - the ACPI hardware-reduced sleep control register (X86_PORT_SLEEP_CTL): writing
 *    SLP_EN with SLP_TYP = S5 powers off (what Linux's poweroff does through \_S5);
 *  - the ACPI reset register (X86_PORT_RESET) named in the FADT;
 *  - the i8042 "pulse reset line" command (0xfe to port 0x64), Linux's fallback;
 *  - X86_PORT_BOOT_MARK: the guest's init writes a byte there to say "userspace
 *    reached"; the VMM logs the time since its own start;
 *  - X86_PORT_STATS_MARK: with MINIVMM_STATS set, each byte written there logs the
 *    VMM's exit counters, numbered, so a benchmark in the guest can bracket a phase and
 *    count the exits it cost (tests/bench/nvme.sh).
 * Stateless: everything goes straight to machine_request_stop() or to the machine's stats. */
#include "devices/platform.h"

#include <stdlib.h>

#include "arch/x86/layout.h"
#include "vmm/kvmstats.h"
#include "vmm/log.h"
#include "vmm/machine.h"

#define I8042_DATA  0x60
#define I8042_CMD   0x64
#define I8042_RESET 0xfe
#define SLP_EN	    0x20
#define SLP_TYP(v)  (((v) >> 2) & 7)

static void acpi_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct machine *mach = opaque;

	if (!is_write) {
		data[0] = 0; /* sleep status: never "woken" */
		return;
	}
	if (len != 1)
		return;
	if (off == X86_PORT_SLEEP_CTL - X86_PORT_SLEEP_CTL && (data[0] & SLP_EN) &&
	    SLP_TYP(data[0]) == X86_SLP_TYP_S5)
		machine_request_stop(mach, VM_STOP_POWEROFF);
	else if (off == X86_PORT_RESET - X86_PORT_SLEEP_CTL && data[0] == X86_RESET_VALUE)
		machine_request_stop(mach, VM_STOP_RESET);
}

static void i8042_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct machine *mach = opaque;

	(void)len;
	if (!is_write) {
		data[0] = 0; /* status: output buffer empty, input buffer empty */
		return;
	}
	if (off == I8042_CMD - I8042_DATA && data[0] == I8042_RESET)
		machine_request_stop(mach, VM_STOP_RESET);
}

static void mark_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct machine *mach = opaque;
	const struct machine_stats *s = &mach->stats;

	(void)off, (void)data, (void)len;
	if (is_write && machine_mark(mach, MARK_USERSPACE))
		log_info("boot: first KVM_RUN %.1f ms, guest userspace %.1f ms after VMM start",
			 (s->mark_ns[MARK_FIRST_RUN] - s->t_start) / 1e6,
			 (s->mark_ns[MARK_USERSPACE] - s->t_start) / 1e6);
}

static void stats_mark_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct machine *mach = opaque;

	(void)off, (void)data, (void)len;
	/* Off by default: otherwise a guest could fill the VMM's log one exit per line. */
	if (!is_write || !mach->stats.log)
		return;
	/* Relaxed loads: this vCPU's own exit (the one that brought us here) is already
	 * counted; other vCPUs' exits in flight may or may not be, which a benchmark run
	 * with one vCPU never sees. KVM's counters are summed over all vCPUs. */
	uint64_t kvm[KVM_STAT_COUNT] = {0};
	char kbuf[512];

	if (mach->stats.kvm_sum)
		mach->stats.kvm_sum(mach, kvm);
	log_info(
	    "stats: mark %u: exits io=%llu mmio=%llu all=%llu kvm: %s",
	    atomic_fetch_add_explicit(&mach->stats.marks, 1, memory_order_relaxed) + 1,
	    (unsigned long long)atomic_load_explicit(&mach->stats.exits_io, memory_order_relaxed),
	    (unsigned long long)atomic_load_explicit(&mach->stats.exits_mmio, memory_order_relaxed),
	    (unsigned long long)atomic_load_explicit(&mach->stats.exits, memory_order_relaxed),
	    kvm_stats_format(kvm, kbuf, sizeof(kbuf)));
}

/* The state is only the machine the handlers act on; it is what destroy needs. */
static int power_create(struct machine *mach, const struct device_spec *spec, void **state)
{
	int ret;

	(void)spec;
	ret = bus_register(&mach->pio, X86_PORT_SLEEP_CTL, 3, acpi_io, mach);
	if (ret < 0)
		return ret;
	/* One range covering 0x60..0x64: port 0x61 inside it belongs to the in-kernel
	 * PIT (speaker), which KVM handles before we ever see it. */
	ret = bus_register(&mach->pio, I8042_DATA, 5, i8042_io, mach);
	if (ret < 0)
		goto err_acpi;
	ret = bus_register(&mach->pio, X86_PORT_BOOT_MARK, 1, mark_io, mach);
	if (ret < 0)
		goto err_i8042;
	mach->stats.log = getenv("MINIVMM_STATS") != NULL;
	ret = bus_register(&mach->pio, X86_PORT_STATS_MARK, 1, stats_mark_io, mach);
	if (ret < 0)
		goto err_mark;
	*state = mach;
	return 0;
err_mark:
	bus_unregister(&mach->pio, X86_PORT_BOOT_MARK);
err_i8042:
	bus_unregister(&mach->pio, I8042_DATA);
err_acpi:
	bus_unregister(&mach->pio, X86_PORT_SLEEP_CTL);
	return ret;
}

static void power_destroy(void *state)
{
	struct machine *mach = state;

	bus_unregister(&mach->pio, X86_PORT_STATS_MARK);
	bus_unregister(&mach->pio, X86_PORT_BOOT_MARK);
	bus_unregister(&mach->pio, I8042_DATA);
	bus_unregister(&mach->pio, X86_PORT_SLEEP_CTL);
}

/* Nothing to keep: the registers hold no state (the boot times are the VMM's). */
static int power_save(void *state, struct device_stream *out)
{
	(void)state, (void)out;
	return 0;
}

static int power_load(void *state, struct device_stream *in)
{
	(void)state, (void)in;
	return 0;
}

const struct device_ops power_device_ops = {.kind = "power",
					    .create = power_create,
					    .destroy = power_destroy,
					    .save = power_save,
					    .load = power_load};
