/* A growable host byte buffer and a tiny AML (ACPI Machine Language) byte emitter.
 *
 * The ACPI tables are assembled in one aml_buf on the host and copied into the guest with
 * a single mem_write(), so nothing here knows about guest memory. Errors are sticky: the
 * first failure (allocation, or growing past the buffer's limit) is kept in b->err and
 * every later call is a no-op, so builders can emit a whole table and check once.
 *
 * AML objects that carry a PkgLength (Scope, Device, Package, Buffer) are emitted
 * as begin/end pairs: begin writes the opcode and returns a mark, end measures what was
 * emitted since and inserts the PkgLength at the mark in its 1..4 byte form. Nesting is
 * just nested pairs, so large contents (e.g. a PCI _PRT) need no up-front size. */
#ifndef MINIVMM_X86_AML_H
#define MINIVMM_X86_AML_H

#include <stddef.h>
#include <stdint.h>

struct aml_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t limit; /* growing past this many bytes fails with -ENOSPC */
	int err;      /* 0 or the first -errno */
};

/* Largest PkgLength value that can be encoded (4-byte form, 28 bits). */
#define AML_PKGLEN_MAX 0x0fffffffU

void aml_buf_init(struct aml_buf *b, size_t limit);
void aml_buf_free(struct aml_buf *b);
/* Appends n bytes (src NULL: zeros); returns the offset where they start. */
size_t aml_append(struct aml_buf *b, const void *src, size_t n);
/* Inserts n bytes at offset off (<= b->len), moving what follows. */
void aml_insert(struct aml_buf *b, size_t off, const void *src, size_t n);
/* Appends zeros until b->len is a multiple of align (a power of two). */
void aml_align(struct aml_buf *b, size_t align);
void aml_byte(struct aml_buf *b, uint8_t v);

/* Encodes a PkgLength value (which counts its own bytes) into out; returns the number of
 * bytes used (1..4), or 0 if len exceeds AML_PKGLEN_MAX. */
int aml_pkglen_encode(uint32_t len, uint8_t out[4]);
/* PkgLength value for content bytes following it: content plus the encoding's own size.
 * Returns 0 if that does not fit. */
uint32_t aml_pkglen_for(size_t content);

/* NameString: optional '\' or '^' prefixes, then dot-separated segments of at most four
 * characters (padded with '_'), e.g. "_S5", "\\_SB", "_SB.PCI0". */
void aml_name_string(struct aml_buf *b, const char *name);
/* Integer in its shortest encoding (ZeroOp, OneOp, Byte/Word/DWord/QWordPrefix). */
void aml_integer(struct aml_buf *b, uint64_t v);
/* A compressed EISA ID such as "PNP0501" as a DWord integer (_HID, _CID). */
void aml_eisaid(struct aml_buf *b, const char *id);
/* A null-terminated string constant. */
void aml_string(struct aml_buf *b, const char *s);

/* Name (name, value): the caller emits the value object right after this. */
void aml_name(struct aml_buf *b, const char *name);
/* Name (name, integer) in one call. */
void aml_name_integer(struct aml_buf *b, const char *name, uint64_t v);

/* Begin/end pairs; each begin returns the mark to pass to aml_pkg_end(). */
size_t aml_scope_begin(struct aml_buf *b, const char *name);
size_t aml_device_begin(struct aml_buf *b, const char *name);
size_t aml_package_begin(struct aml_buf *b, uint8_t nr_elements);
void aml_pkg_end(struct aml_buf *b, size_t mark);

/* ResourceTemplate () { ... }: a Buffer whose size is only known at the end, closed with
 * an End Tag. Resource descriptors go in between. */
size_t aml_restemplate_begin(struct aml_buf *b);
void aml_restemplate_end(struct aml_buf *b, size_t mark);
/* IO (Decode16, min, max, align, len) */
void aml_res_io(struct aml_buf *b, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
/* IRQNoFlags () { irq }: ISA semantics (edge, active high), irq < 16. */
void aml_res_irq_noflags(struct aml_buf *b, unsigned int irq);

enum aml_space { AML_SPACE_MEM = 0, AML_SPACE_IO = 1, AML_SPACE_BUS = 2 };
/* A Word (width 2), DWord (4) or QWord (8) address space descriptor for [min, max]:
 * producer, fixed min and max, positive decode; memory read-write, I/O entire range. */
void aml_res_addr(struct aml_buf *b, enum aml_space space, int width, uint64_t min, uint64_t max);
/* Memory32Fixed(ReadWrite, base, len). */
void aml_res_mem32_fixed(struct aml_buf *b, uint32_t base, uint32_t len);

#endif
