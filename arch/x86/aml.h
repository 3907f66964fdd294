/* A growable host byte buffer and a tiny AML (ACPI Machine Language) byte emitter.
 *
 * The ACPI tables are assembled in one aml_buf on the host and copied into the guest with
 * a single mem_write(), so nothing here knows about guest memory. Errors are sticky: the
 * first failure (allocation, or growing past the buffer's limit) is kept in b->err and
 * every later call is a no-op, so builders can emit a whole table and check once.
 *
 * AML objects that carry a PkgLength (Scope, Device, Package, Buffer, Method, If, Field)
 * are emitted as begin/end pairs: begin writes the opcode and returns a mark, end
 * measures what was emitted since and inserts the PkgLength at the mark in its 1..4 byte
 * form. Nesting is just nested pairs, so large contents (e.g. a PCI _PRT) need no
 * up-front size. */
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
/* Method (name, nr_args, NotSerialized or Serialized) { ... }: nr_args 0..7, sync level 0.
 * The body is a list of terms (e.g. the AML_OP_* expressions below, aml_if_begin()). */
size_t aml_method_begin(struct aml_buf *b, const char *name, unsigned int nr_args, int serialized);
/* If (predicate) { ... }: the caller emits the predicate (one integer expression, e.g.
 * AML_OP_AND ...), then the body, then aml_pkg_end(). No Else. */
size_t aml_if_begin(struct aml_buf *b);
void aml_pkg_end(struct aml_buf *b, size_t mark);

/* The few one-byte opcodes the DSDT's methods use, to be emitted with aml_byte(). AML is
 * prefix notation with a fixed operand count per opcode, so an expression is its opcode
 * followed by its operands in ASL order, each an integer (aml_integer), a name
 * (aml_name_string), a local or another expression:
 *   Store (src, dst)           AML_OP_STORE src dst
 *   And (a, b, target)         AML_OP_AND a b target; target AML_OP_ZERO: result unused
 *   Notify (object, value)     AML_OP_NOTIFY object value
 * A method call is the method's name followed by its arguments (none for a 0-arg method);
 * the method must be declared in the same table for a parser to know its argument count. */
enum aml_op {
	AML_OP_ZERO = 0x00,   /* Zero; as a Target, NullName: the result is discarded */
	AML_OP_LOCAL0 = 0x60, /* Local0..Local7 are 0x60..0x67 */
	AML_OP_LOCAL1 = 0x61,
	AML_OP_ARG0 = 0x68, /* Arg0..Arg6 are 0x68..0x6e */
	AML_OP_STORE = 0x70,
	AML_OP_AND = 0x7b,
	AML_OP_NOTIFY = 0x86,
};

/* OperationRegion (name, space, offset, len): offset and len are integers. */
enum aml_region_space { AML_REGION_MEM = 0, AML_REGION_IO = 1 };
void aml_opregion(struct aml_buf *b, const char *name, enum aml_region_space space, uint64_t offset,
		  uint64_t len);
/* Field (region, flags) { NAME, bits, ... }: aml_field_begin(), one aml_field_named() per
 * field unit (consecutive, from bit 0 of the region), aml_pkg_end(). flags is one access
 * type, one lock rule and one update rule or'ed together. */
#define AML_FIELD_ANY_ACC	 0x00
#define AML_FIELD_BYTE_ACC	 0x01
#define AML_FIELD_WORD_ACC	 0x02
#define AML_FIELD_DWORD_ACC	 0x03
#define AML_FIELD_QWORD_ACC	 0x04
#define AML_FIELD_NO_LOCK	 0x00
#define AML_FIELD_LOCK		 0x10
#define AML_FIELD_PRESERVE	 0x00
#define AML_FIELD_WRITE_AS_ONES	 0x20
#define AML_FIELD_WRITE_AS_ZEROS 0x40
size_t aml_field_begin(struct aml_buf *b, const char *region, uint8_t flags);
/* A NamedField: name is a single NameSeg (no prefix, no dots), bits 1..AML_PKGLEN_MAX. */
void aml_field_named(struct aml_buf *b, const char *name, uint32_t bits);

/* ResourceTemplate () { ... }: a Buffer whose size is only known at the end, closed with
 * an End Tag. Resource descriptors go in between. */
size_t aml_restemplate_begin(struct aml_buf *b);
void aml_restemplate_end(struct aml_buf *b, size_t mark);
/* IO (Decode16, min, max, align, len) */
void aml_res_io(struct aml_buf *b, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
/* IRQNoFlags () { irq }: ISA semantics (edge, active high), irq < 16. */
void aml_res_irq_noflags(struct aml_buf *b, unsigned int irq);
/* Interrupt (usage, mode, polarity, sharing) { irq }: the Extended Interrupt descriptor,
 * one 32-bit interrupt number (a GSI on x86), no resource source. flags or's together: */
#define AML_IRQ_CONSUMER   0x01 /* else ResourceProducer */
#define AML_IRQ_EDGE	   0x02 /* else Level */
#define AML_IRQ_ACTIVE_LOW 0x04 /* else ActiveHigh */
#define AML_IRQ_SHARED	   0x08 /* else Exclusive */
#define AML_IRQ_WAKE	   0x10 /* wake capable */
void aml_res_interrupt(struct aml_buf *b, uint8_t flags, uint32_t irq);

enum aml_space { AML_SPACE_MEM = 0, AML_SPACE_IO = 1, AML_SPACE_BUS = 2 };
/* A Word (width 2), DWord (4) or QWord (8) address space descriptor for [min, max]:
 * producer, fixed min and max, positive decode; memory read-write, I/O entire range. */
void aml_res_addr(struct aml_buf *b, enum aml_space space, int width, uint64_t min, uint64_t max);
/* Memory32Fixed(ReadWrite, base, len). */
void aml_res_mem32_fixed(struct aml_buf *b, uint32_t base, uint32_t len);

#endif
