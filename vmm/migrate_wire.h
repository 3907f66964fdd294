/* The live migration stream: its format, and reading and writing it on a socket.
 *
 * Source -> destination, after connecting:
 *   hello    8 bytes "MVMMIGR1", u32 length + the snapshot header text (version, arch
 *            and its state version, vCPUs, memory), u32 length + the source's
 *            effective config (INI)
 *   records  each 16 bytes {u32 tag, u32 count, u64 arg}, then its payload:
 *              PAGES  count pages (1..MIG_MAX_RUN) of guest RAM from RAM offset arg
 *                     (the regions back to back, as in a snapshot's memory file)
 *              ZEROS  count pages from offset arg are zero now; no payload
 *              STATE  arg bytes of state records (vmm/snapshot.h), once, after the
 *                     last pages, then their u32 CRC-32 (zlib's)
 *              DEVDATA  a device's pre-copy data (VFIO): count bytes of its name,
 *                     then arg bytes of data, in the order the device gave them,
 *                     then the u32 CRC-32 of name and data
 *            (the CRCs keep a corrupted device or VM state from reaching the device
 *            or KVM; guest pages carry none: a page is only guest data)
 *              END    the stream is complete
 *              GO     (after the destination's READY) the source has stopped and let
 *                     go of its disks: the guest is the destination's now
 * Destination -> source, replies of 8 bytes {u32 code, u32 length} + a message:
 *   READY after END, everything loaded; ACK after GO, the guest about to run; ERROR with
 *   why, after which the destination exits (and the source resumes, before GO).
 * Integers are host order: a stream only goes to the same architecture, which the
 * header checks. Everything the destination reads is untrusted: every count, offset
 * and length is checked before use (migrate_recv_records, fuzzed by
 * tests/fuzz/fuzz_migrate.c). */
#ifndef MINIVMM_MIGRATE_WIRE_H
#define MINIVMM_MIGRATE_WIRE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/mem.h"

#define MIG_MAGIC      "MVMMIGR1"
#define MIG_PAGE       4096u
#define MIG_MAX_RUN    256u	   /* pages in one PAGES record: 1 MiB */
#define MIG_MAX_HEADER 4096u	   /* a hello's header */
#define MIG_MAX_TEXT   (1u << 20)  /* a hello's config */
#define MIG_MAX_STATE  (64u << 20) /* as a snapshot's state file */
#define MIG_MAX_MSG    512u	   /* a reply's message */

enum mig_tag {
	MIG_PAGES = 1,
	MIG_ZEROS = 2,
	MIG_STATE = 3,
	MIG_END = 4,
	MIG_GO = 5,
	MIG_DEVDATA = 6,
};
enum mig_reply { MIG_READY = 1, MIG_ACK = 2, MIG_ERROR = 3 };

struct mig_rec {
	uint32_t tag, count;
	uint64_t arg;
};

/* One end of the stream: a connected socket with a buffer for writes, or (fd -1) a
 * byte buffer to read from (unit tests, the fuzz target). Every wait is bounded by
 * timeout_ms and ends early when *cancel becomes true. */
struct wire {
	int fd;
	const uint8_t *in;
	size_t in_len, in_pos;
	int timeout_ms;
	atomic_bool *cancel; /* or NULL */
	uint64_t bytes;	     /* moved so far, either way */
	bool peer_quiet;     /* a sender: input from the peer means it gave up (-EREMOTEIO) */
	uint8_t *out;
	size_t out_len, out_cap;
};

/* A wire on fd (not owned) with a write buffer of cap bytes; 0 or -ENOMEM. */
int wire_init(struct wire *w, int fd, size_t cap, int timeout_ms, atomic_bool *cancel);
void wire_free(struct wire *w);
/* Exactly n bytes, or -EPIPE (the peer closed), -ETIMEDOUT, -ECANCELED, -errno.
 * wire_flush (and wire_write when it flushes) also returns -EREMOTEIO on a
 * peer_quiet wire when the peer sent something: its reply says why it gave up. */
int wire_read(struct wire *w, void *p, size_t n);
/* Buffered; flushes when the buffer fills. 0 or as wire_read. */
int wire_write(struct wire *w, const void *p, size_t n);
int wire_flush(struct wire *w);
/* A record, and a reply (code, message) then a flush. */
int wire_rec(struct wire *w, uint32_t tag, uint32_t count, uint64_t arg);
int wire_reply(struct wire *w, uint32_t code, const char *msg);
/* After an ERROR reply: ends our sending and reads and drops what still comes (2 s at
 * most), so that the peer can read the reply before the connection goes (a TCP close
 * with unread data resets it, and the reply with it). */
void wire_linger(struct wire *w);
/* Reads a reply: its code, and its message into msg. */
int wire_read_reply(struct wire *w, uint32_t *code, char *msg, size_t len);

/* Describes a wire error for a message ("the peer closed the connection", ...). */
const char *wire_strerror(int err);

/* The destination's reading of the hello: magic, header (checked: version, arch; into
 * header, hlen bytes) and config (a new string in *cfgtext). 0 or -errno with one
 * message in err. */
int migrate_read_hello(struct wire *w, char **cfgtext, char *header, size_t hlen, char *err,
		       size_t errlen);

/* What the records after the hello are handed to: the STATE payload (once), and each
 * DEVDATA record's device name (NUL-terminated) and data. Each returns 0 or -errno
 * with a message in err. */
struct mig_sink {
	int (*state)(void *ctx, const uint8_t *data, size_t len, char *err, size_t errlen);
	int (*devdata)(void *ctx, const char *name, const uint8_t *data, size_t len, char *err,
		       size_t errlen);
	void *ctx;
};

/* The destination's reading of the records after the hello, into mem, up to END (END
 * before STATE is refused). Returns 0 at END, or -errno with one message in err naming
 * the record and its byte offset. A stream that is refused leaves mem partly written
 * and nothing else changed (devices that took pre-copy data are reset when the VM that
 * was to run them goes). */
int migrate_recv_records(struct wire *w, struct guest_mem *mem, const struct mig_sink *sink,
			 uint64_t *pages, char *err, size_t errlen);

#endif
