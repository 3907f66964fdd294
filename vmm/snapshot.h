/* Snapshot and restore of a paused VM (the API's snapshot, minivmm --restore DIR).
 *
 * A snapshot is a directory:
 *   header      text lines: "minivmm-snapshot 2", "arch NAME VERSION" (its state
 *               layout), "vcpus N", "memory BYTES", "cpu WORDS" (the CPU features the
 *               guest saw, arch/ARCH/cpufeat.c), "state BYTES CRC32" (of the state
 *               file); a restore refuses any mismatch, naming it, before it changes
 *               anything
 *   config.ini  the effective config (what --restore builds the VM from)
 *   state       records, each u32 tag, u32 length, then the payload:
 *                 1 VM:     the arch VM state (irqchip, PIT, clock)
 *                 2 VCPU:   u32 id, then the arch vCPU state
 *                 3 DEVICE: the device's name, NUL, then what its save op wrote
 *               in that order (the VM's state is restored before any vCPU's)
 *   memory      guest RAM, the regions back to back; pages of zeros are holes
 * Every device must have a save op, or the snapshot is refused naming it. The state
 * file is untrusted input when restored: every length is checked (fuzzed by
 * tests/fuzz/fuzz_snapshot.c), and a bad snapshot changes nothing outside the new VM. */
#ifndef MINIVMM_SNAPSHOT_H
#define MINIVMM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct config;
struct device_stream;

#define SNAPSHOT_VERSION    2 /* 2: the cpu and state lines, x86 state 2 */
#define SNAPSHOT_HEADER_MAX 1024

enum snapshot_tag { SNAP_VM = 1, SNAP_VCPU = 2, SNAP_DEVICE = 3 };

/* Writes vm (paused by the caller) into the existing directory dir. Returns 0 or
 * -errno with one message in err. */
int snapshot_save(struct vm *vm, const struct config *cfg, const char *dir, char *err,
		  size_t errlen);
/* Before anything is opened or created for the VM: checks dir's header against this
 * host and the config's vcpus and memory (bytes), the state's length and CRC-32 and the
 * memory file's size. 0 or -EINVAL with one message in err. */
int snapshot_precheck(const char *dir, unsigned int vcpus, uint64_t memory, char *err,
		      size_t errlen);
/* Loads dir into vm, made from dir/config.ini and not started yet. Returns 0 or -errno
 * with one message in err. */
int snapshot_load(struct vm *vm, const char *dir, char *err, size_t errlen);

/* The pieces that live migration (vmm/migrate.c) shares with snapshots. */

/* 0, or -ENOTSUP with a message naming a device that has no save op and the fix. */
int snapshot_check_savable(const struct vm *vm, char *err, size_t errlen);
/* A header's CPU features against this host's (opening /dev/kvm): 0, or -EINVAL with a
 * message naming the features this host lacks. */
int snapshot_cpu_check(const char *header, const char *what, char *err, size_t errlen);
/* The header text of vm ("minivmm-snapshot 2\narch ...\ncpu ...\n"), at most
 * SNAPSHOT_HEADER_MAX bytes. */
void snapshot_header(const struct vm *vm, char *buf, size_t len);
/* Checks a header's version and arch, and with vm its vCPUs, memory and CPU features
 * (without vm: pure, that it has a cpu line); what names the
 * source in the message ("snapshot DIR", "migration stream"). 0 or -EINVAL. */
int snapshot_header_check(const struct vm *vm, const char *text, const char *what, char *err,
			  size_t errlen);
/* Appends the state records of vm (paused) to st: VM, vCPUs, devices. The devices are
 * quiesced and saved (which freezes them: they stop touching guest memory and raising
 * interrupts) before KVM's state is read, and stay frozen until snapshot_thaw, also
 * after a failure. 0 or -errno with a message. */
int snapshot_state(struct vm *vm, struct device_stream *st, char *err, size_t errlen);
void snapshot_thaw(struct vm *vm);
/* Loads state records into vm (created from the same config, not started): the VM's,
 * each vCPU's, each device's exactly once. Untrusted input. 0 or -errno with a
 * message. */
int snapshot_state_load(struct vm *vm, const uint8_t *data, size_t len, char *err, size_t errlen);

/* The next record of a state file at *pos: 1 with its tag and payload, 0 at the end,
 * -EINVAL (and err) for a record that does not fit. Pure: for the fuzz target too. */
int snapshot_next(const uint8_t *data, size_t len, size_t *pos, uint32_t *tag,
		  const uint8_t **payload, uint32_t *plen, char *err, size_t errlen);

#endif
