/* Snapshot and restore of a paused VM (the API's snapshot, minivmm --restore DIR).
 *
 * A snapshot is a directory:
 *   header      text: "minivmm-snapshot 1", the arch and its state version, vCPUs,
 *               guest memory bytes; a restore refuses any mismatch by name
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

#define SNAPSHOT_VERSION 1

enum snapshot_tag { SNAP_VM = 1, SNAP_VCPU = 2, SNAP_DEVICE = 3 };

/* Writes vm (paused by the caller) into the existing directory dir. Returns 0 or
 * -errno with one message in err. */
int snapshot_save(struct vm *vm, const struct config *cfg, const char *dir, char *err,
		  size_t errlen);
/* Loads dir into vm, made from dir/config.ini and not started yet. Returns 0 or -errno
 * with one message in err. */
int snapshot_load(struct vm *vm, const char *dir, char *err, size_t errlen);

/* The next record of a state file at *pos: 1 with its tag and payload, 0 at the end,
 * -EINVAL (and err) for a record that does not fit. Pure: for the fuzz target too. */
int snapshot_next(const uint8_t *data, size_t len, size_t *pos, uint32_t *tag,
		  const uint8_t **payload, uint32_t *plen, char *err, size_t errlen);

#endif
