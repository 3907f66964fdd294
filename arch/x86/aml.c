/* Growable byte buffer and AML emitter (see aml.h). Encodings follow ACPI 6.x chapter 20,
 * "ACPI Machine Language (AML) Specification". */
#include "arch/x86/aml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* AML opcodes and prefixes used here. */
#define AML_ZERO_OP	  0x00
#define AML_ONE_OP	  0x01
#define AML_NAME_OP	  0x08
#define AML_BYTE_PREFIX	  0x0a
#define AML_WORD_PREFIX	  0x0b
#define AML_DWORD_PREFIX  0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX  0x0e
#define AML_SCOPE_OP	  0x10
#define AML_BUFFER_OP	  0x11
#define AML_PACKAGE_OP	  0x12
#define AML_METHOD_OP	  0x14
#define AML_DUAL_NAME	  0x2e
#define AML_MULTI_NAME	  0x2f
#define AML_EXT_OP	  0x5b
#define AML_OPREGION_OP	  0x80 /* after AML_EXT_OP */
#define AML_FIELD_OP	  0x81 /* after AML_EXT_OP */
#define AML_DEVICE_OP	  0x82 /* after AML_EXT_OP */
#define AML_IF_OP	  0xa0
#define AML_ONES_OP	  0xff

/* MethodFlags (20.2.5.2): bits 0-2 ArgCount, bit 3 SerializeFlag, bits 4-7 SyncLevel. */
#define AML_METHOD_MAX_ARGS   7
#define AML_METHOD_SERIALIZED 0x08

/* Small resource descriptor tags (ACPI 6.x 6.4.2): first byte = (type << 3) | length. */
#define RES_IRQ_NOFLAGS 0x22 /* IRQ, 2 bytes: no information byte */
#define RES_IO		0x47 /* I/O port, 7 bytes */
#define RES_END_TAG	0x79 /* end tag, 1 byte: checksum */

static void set_err(struct aml_buf *b, int err)
{
	if (!b->err)
		b->err = err;
}

void aml_buf_init(struct aml_buf *b, size_t limit)
{
	*b = (struct aml_buf){.limit = limit};
}

void aml_buf_free(struct aml_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Makes room for n more bytes; returns 0 or -errno (also recorded in b->err). */
static int grow(struct aml_buf *b, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (b->err)
		return b->err;
	if (n > b->limit - b->len) {
		set_err(b, -ENOSPC);
		return b->err;
	}
	if (b->len + n <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + n)
		cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
	p = realloc(b->data, cap);
	if (!p) {
		set_err(b, -ENOMEM);
		return b->err;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

size_t aml_append(struct aml_buf *b, const void *src, size_t n)
{
	size_t off = b->len;

	if (grow(b, n))
		return off;
	if (src)
		memcpy(b->data + off, src, n);
	else
		memset(b->data + off, 0, n);
	b->len += n;
	return off;
}

void aml_insert(struct aml_buf *b, size_t off, const void *src, size_t n)
{
	if (off > b->len) {
		set_err(b, -EINVAL);
		return;
	}
	if (grow(b, n))
		return;
	memmove(b->data + off + n, b->data + off, b->len - off);
	memcpy(b->data + off, src, n);
	b->len += n;
}

void aml_align(struct aml_buf *b, size_t align)
{
	aml_append(b, NULL, (align - (b->len & (align - 1))) & (align - 1));
}

void aml_byte(struct aml_buf *b, uint8_t v)
{
	aml_append(b, &v, 1);
}

/* PkgLength (20.2.4): the top two bits of the lead byte give the number of bytes that
 * follow (0..3). In the 1-byte form the lead byte holds 6 bits of length; otherwise it
 * holds only the low 4 bits and each following byte 8 more, so the forms top out at
 * 63, 2^12 - 1, 2^20 - 1 and 2^28 - 1. */
int aml_pkglen_encode(uint32_t len, uint8_t out[4])
{
	int n;

	if (len <= 0x3f) {
		out[0] = (uint8_t)len;
		return 1;
	}
	if (len <= 0xfff)
		n = 2;
	else if (len <= 0xfffff)
		n = 3;
	else if (len <= AML_PKGLEN_MAX)
		n = 4;
	else
		return 0;
	out[0] = (uint8_t)(((n - 1) << 6) | (len & 0xf));
	for (int i = 1; i < n; i++)
		out[i] = (uint8_t)(len >> (4 + 8 * (i - 1)));
	return n;
}

uint32_t aml_pkglen_for(size_t content)
{
	static const uint32_t form_max[] = {0x3f, 0xfff, 0xfffff, AML_PKGLEN_MAX};

	/* The value counts its own bytes, so pick the smallest form that still holds
	 * content plus itself (content 63 needs 2 bytes: 64 > 63 no longer fits in 1). */
	for (size_t n = 1; n <= 4; n++)
		if (content <= form_max[n - 1] - n)
			return (uint32_t)(content + n);
	return 0;
}

static int is_lead_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_name_char(char c)
{
	return is_lead_char(c) || (c >= '0' && c <= '9');
}

void aml_name_string(struct aml_buf *b, const char *name)
{
	const char *p = name;
	size_t nseg = 1;

	/* RootChar '\' or a run of ParentPrefixChar '^'. */
	if (*p == '\\')
		aml_byte(b, (uint8_t)*p++);
	else
		while (*p == '^')
			aml_byte(b, (uint8_t)*p++);
	if (!*p) {
		aml_byte(b, 0); /* NullName */
		return;
	}
	for (const char *q = p; *q; q++)
		nseg += *q == '.';
	if (nseg > 255) {
		set_err(b, -EINVAL);
		return;
	}
	if (nseg == 2) {
		aml_byte(b, AML_DUAL_NAME);
	} else if (nseg > 2) {
		aml_byte(b, AML_MULTI_NAME);
		aml_byte(b, (uint8_t)nseg);
	}
	while (nseg--) {
		char seg[4] = {'_', '_', '_', '_'};
		size_t i;

		for (i = 0; *p && *p != '.'; i++, p++) {
			if (i >= 4 || !(i ? is_name_char(*p) : is_lead_char(*p))) {
				set_err(b, -EINVAL);
				return;
			}
			seg[i] = *p;
		}
		if (i == 0) {
			set_err(b, -EINVAL); /* empty segment: "A..B", "A." */
			return;
		}
		aml_append(b, seg, 4);
		p += *p == '.';
	}
}

/* Shortest integer encoding; returns its size (1..9). */
static size_t integer_encode(uint64_t v, uint8_t out[9])
{
	size_t n;

	if (v == 0 || v == 1 || v == UINT64_MAX) {
		out[0] = v == 0 ? AML_ZERO_OP : v == 1 ? AML_ONE_OP : AML_ONES_OP;
		return 1;
	}
	if (v <= 0xff) {
		out[0] = AML_BYTE_PREFIX;
		n = 1;
	} else if (v <= 0xffff) {
		out[0] = AML_WORD_PREFIX;
		n = 2;
	} else if (v <= 0xffffffff) {
		out[0] = AML_DWORD_PREFIX;
		n = 4;
	} else {
		out[0] = AML_QWORD_PREFIX;
		n = 8;
	}
	for (size_t i = 0; i < n; i++)
		out[1 + i] = (uint8_t)(v >> (8 * i));
	return 1 + n;
}

void aml_integer(struct aml_buf *b, uint64_t v)
{
	uint8_t enc[9];

	aml_append(b, enc, integer_encode(v, enc));
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* EISA ID: three letters in 5 bits each ('A' = 1) and four hex digits, stored in that
 * (big-endian) order and emitted as a DWord, like ASL's EisaId(). */
void aml_eisaid(struct aml_buf *b, const char *id)
{
	uint8_t enc[5] = {AML_DWORD_PREFIX};
	uint32_t v = 0;

	if (strlen(id) != 7) {
		set_err(b, -EINVAL);
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			set_err(b, -EINVAL);
			return;
		}
		v = v << 5 | (uint32_t)(id[i] - 'A' + 1);
	}
	for (int i = 3; i < 7; i++) {
		int d = hex_digit(id[i]);

		if (d < 0) {
			set_err(b, -EINVAL);
			return;
		}
		v = v << 4 | (uint32_t)d;
	}
	for (int i = 0; i < 4; i++)
		enc[1 + i] = (uint8_t)(v >> (24 - 8 * i));
	aml_append(b, enc, sizeof(enc));
}

void aml_string(struct aml_buf *b, const char *s)
{
	aml_byte(b, AML_STRING_PREFIX);
	aml_append(b, s, strlen(s) + 1);
}

void aml_name(struct aml_buf *b, const char *name)
{
	aml_byte(b, AML_NAME_OP);
	aml_name_string(b, name);
}

void aml_name_integer(struct aml_buf *b, const char *name, uint64_t v)
{
	aml_name(b, name);
	aml_integer(b, v);
}

size_t aml_scope_begin(struct aml_buf *b, const char *name)
{
	size_t mark;

	aml_byte(b, AML_SCOPE_OP);
	mark = b->len;
	aml_name_string(b, name);
	return mark;
}

size_t aml_device_begin(struct aml_buf *b, const char *name)
{
	size_t mark;

	aml_byte(b, AML_EXT_OP);
	aml_byte(b, AML_DEVICE_OP);
	mark = b->len;
	aml_name_string(b, name);
	return mark;
}

size_t aml_package_begin(struct aml_buf *b, uint8_t nr_elements)
{
	size_t mark;

	aml_byte(b, AML_PACKAGE_OP);
	mark = b->len;
	aml_byte(b, nr_elements);
	return mark;
}

/* DefMethod := MethodOp PkgLength NameString MethodFlags TermList */
size_t aml_method_begin(struct aml_buf *b, const char *name, unsigned int nr_args, int serialized)
{
	size_t mark;

	if (nr_args > AML_METHOD_MAX_ARGS)
		set_err(b, -EINVAL);
	aml_byte(b, AML_METHOD_OP);
	mark = b->len;
	aml_name_string(b, name);
	aml_byte(b, (uint8_t)(nr_args | (serialized ? AML_METHOD_SERIALIZED : 0)));
	return mark;
}

/* DefIfElse := IfOp PkgLength Predicate TermList DefElse, DefElse being empty here. */
size_t aml_if_begin(struct aml_buf *b)
{
	aml_byte(b, AML_IF_OP);
	return b->len;
}

void aml_pkg_end(struct aml_buf *b, size_t mark)
{
	uint8_t enc[4];
	uint32_t len;

	if (b->err)
		return;
	if (mark > b->len) {
		set_err(b, -EINVAL);
		return;
	}
	len = aml_pkglen_for(b->len - mark);
	if (!len) {
		set_err(b, -EOVERFLOW);
		return;
	}
	aml_insert(b, mark, enc, (size_t)aml_pkglen_encode(len, enc));
}

/* DefOpRegion := OpRegionOp NameString RegionSpace RegionOffset RegionLen, the space a
 * byte, offset and length integer terms. */
void aml_opregion(struct aml_buf *b, const char *name, enum aml_region_space space, uint64_t offset,
		  uint64_t len)
{
	aml_byte(b, AML_EXT_OP);
	aml_byte(b, AML_OPREGION_OP);
	aml_name_string(b, name);
	aml_byte(b, (uint8_t)space);
	aml_integer(b, offset);
	aml_integer(b, len);
}

/* DefField := FieldOp PkgLength NameString FieldFlags FieldList. FieldFlags: bits 0-3
 * AccessType, bit 4 LockRule, bits 5-6 UpdateRule, bit 7 reserved (zero). */
size_t aml_field_begin(struct aml_buf *b, const char *region, uint8_t flags)
{
	size_t mark;

	if ((flags & 0x0f) > AML_FIELD_QWORD_ACC || (flags & 0x60) == 0x60 || (flags & 0x80))
		set_err(b, -EINVAL);
	aml_byte(b, AML_EXT_OP);
	aml_byte(b, AML_FIELD_OP);
	mark = b->len;
	aml_name_string(b, region);
	aml_byte(b, flags);
	return mark;
}

/* NamedField := NameSeg PkgLength, where the "PkgLength" is the field's width in bits
 * (it does not count its own bytes, unlike a package's). */
void aml_field_named(struct aml_buf *b, const char *name, uint32_t bits)
{
	uint8_t enc[4];
	int n = aml_pkglen_encode(bits, enc);

	if (!n || !bits || !*name || strpbrk(name, "\\^.")) {
		set_err(b, -EINVAL);
		return;
	}
	aml_name_string(b, name); /* one segment: exactly a NameSeg, or an error */
	aml_append(b, enc, (size_t)n);
}

size_t aml_restemplate_begin(struct aml_buf *b)
{
	aml_byte(b, AML_BUFFER_OP);
	return b->len;
}

void aml_restemplate_end(struct aml_buf *b, size_t mark)
{
	uint8_t enc[9];

	/* End tag checksum 0: "treated as if the checksum operation succeeded". */
	aml_byte(b, RES_END_TAG);
	aml_byte(b, 0);
	if (b->err || mark > b->len) {
		set_err(b, -EINVAL);
		return;
	}
	/* DefBuffer := BufferOp PkgLength BufferSize ByteList: the size goes first. */
	aml_insert(b, mark, enc, integer_encode(b->len - mark, enc));
	aml_pkg_end(b, mark);
}

void aml_res_io(struct aml_buf *b, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	const uint8_t d[8] = {
	    RES_IO,	  0x01 /* decodes 16 address bits */,
	    (uint8_t)min, (uint8_t)(min >> 8),
	    (uint8_t)max, (uint8_t)(max >> 8),
	    align,	  len,
	};

	aml_append(b, d, sizeof(d));
}

void aml_res_irq_noflags(struct aml_buf *b, unsigned int irq)
{
	uint8_t d[3] = {RES_IRQ_NOFLAGS};

	if (irq > 15) {
		set_err(b, -EINVAL);
		return;
	}
	d[1] = (uint8_t)((1U << irq) & 0xff);
	d[2] = (uint8_t)((1U << irq) >> 8);
	aml_append(b, d, sizeof(d));
}

/* Large resource descriptors: tag, 16-bit length, then the body. */
static void res_large(struct aml_buf *b, uint8_t tag, const uint8_t *body, uint16_t len)
{
	uint8_t h[3] = {tag, (uint8_t)len, (uint8_t)(len >> 8)};

	aml_append(b, h, sizeof(h));
	aml_append(b, body, len);
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Word/DWord/QWord address space descriptors (ACPI 6.4.3.5): a producer range with
 * fixed minimum and maximum and positive decode, as a host bridge's _CRS lists its
 * windows. width is 2, 4 or 8 bytes. */
void aml_res_addr(struct aml_buf *b, enum aml_space space, int width, uint64_t min, uint64_t max)
{
	static const uint8_t tags[9] = {[2] = 0x88, [4] = 0x87, [8] = 0x8a};
	uint8_t d[3 + 5 * 8] = {0};
	/* general flags: MIF | MAF (fixed), producer, positive decode */
	uint8_t type_flags = space == AML_SPACE_IO    ? 0x03 /* entire range */
			     : space == AML_SPACE_MEM ? 0x01 /* read-write */
						      : 0;

	if (width != 2 && width != 4 && width != 8) {
		set_err(b, -EINVAL);
		return;
	}
	d[0] = (uint8_t)space;
	d[1] = 0x0c;
	d[2] = type_flags;
	put_le(d + 3 + 1 * width, min, width);
	put_le(d + 3 + 2 * width, max, width);
	put_le(d + 3 + 4 * width, max - min + 1, width);
	res_large(b, tags[width], d, (uint16_t)(3 + 5 * width));
}

void aml_res_mem32_fixed(struct aml_buf *b, uint32_t base, uint32_t len)
{
	uint8_t d[9] = {0x01 /* read-write */};

	put_le(d + 1, base, 4);
	put_le(d + 5, len, 4);
	res_large(b, 0x86, d, sizeof(d));
}

/* Extended Interrupt descriptor (ACPI 6.x 6.4.3.6): large item 0x09, then the interrupt
 * vector flags, the interrupt table length (1 here) and the 32-bit interrupt numbers; the
 * optional resource source index and string are left out, so the body is 6 bytes. */
void aml_res_interrupt(struct aml_buf *b, uint8_t flags, uint32_t irq)
{
	uint8_t d[6] = {flags, 1};

	if (flags & ~(AML_IRQ_CONSUMER | AML_IRQ_EDGE | AML_IRQ_ACTIVE_LOW | AML_IRQ_SHARED |
		      AML_IRQ_WAKE)) {
		set_err(b, -EINVAL);
		return;
	}
	put_le(d + 2, irq, 4);
	res_large(b, 0x89, d, sizeof(d));
}
