/* The AML byte emitter (arch/x86/aml.c): PkgLength encodings, names, integers,
 * resource descriptors, methods, If, regions and fields, byte for byte against the
 * ACPI 6.x grammar, and sticky errors. */
#include "tests/unit/unit.h"
#include "arch/x86/aml.h"
#include "arch/x86/layout.h"
#include "tests/unit/aml_decode.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

START_TEST(pkglen_encode_boundaries)
{
	static const struct {
		uint32_t len;
		int n;
		uint8_t enc[4];
	} cases[] = {
	    {0, 1, {0x00}},
	    {63, 1, {0x3f}},
	    {64, 2, {0x40, 0x04}},
	    {4095, 2, {0x4f, 0xff}},
	    {4096, 3, {0x80, 0x00, 0x01}},
	    {0xfffff, 3, {0x8f, 0xff, 0xff}},
	    {0x100000, 4, {0xc0, 0x00, 0x00, 0x01}},
	    {0xfffffff, 4, {0xcf, 0xff, 0xff, 0xff}},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t enc[4];
		int n = aml_pkglen_encode(cases[i].len, enc), dn;

		ck_assert_int_eq(n, cases[i].n);
		ck_assert_mem_eq(enc, cases[i].enc, (size_t)n);
		ck_assert_uint_eq(pkglen_decode(enc, &dn), cases[i].len);
		ck_assert_int_eq(dn, n);
	}
	for (uint32_t len = 0; len < 0x101000; len += len < 0x2000 ? 1 : 0x7f) {
		uint8_t enc[4];
		int n = aml_pkglen_encode(len, enc), dn;

		ck_assert_uint_eq(pkglen_decode(enc, &dn), len);
		ck_assert_int_eq(dn, n);
	}
	ck_assert_int_eq(aml_pkglen_encode(0x10000000, (uint8_t[4]){0}), 0);
}
END_TEST

START_TEST(pkglen_for_content)
{
	/* The value counts its own bytes: content + 1 up to 63, then content + 2, ... */
	ck_assert_uint_eq(aml_pkglen_for(0), 1);
	ck_assert_uint_eq(aml_pkglen_for(62), 63);
	ck_assert_uint_eq(aml_pkglen_for(63), 65);
	ck_assert_uint_eq(aml_pkglen_for(4093), 4095);
	ck_assert_uint_eq(aml_pkglen_for(4094), 4097);
	ck_assert_uint_eq(aml_pkglen_for(0xfffff - 3), 0xfffff);
	ck_assert_uint_eq(aml_pkglen_for(0xfffff - 2), 0x100001);
	ck_assert_uint_eq(aml_pkglen_for(AML_PKGLEN_MAX - 4), AML_PKGLEN_MAX);
	ck_assert_uint_eq(aml_pkglen_for(AML_PKGLEN_MAX - 3), 0);
}
END_TEST

/* Scope and Device contents around each form's boundary, nested, end exactly where the
 * PkgLength says. */
START_TEST(nested_pkg_lengths)
{
	static const size_t sizes[] = {0, 50, 56, 57, 58, 63, 4000, 4085, 4086, 4087, 70000};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct aml_buf b;
		size_t scope, dev;
		uint32_t slen, dlen;
		int sn, dn;

		aml_buf_init(&b, 1 << 20);
		scope = aml_scope_begin(&b, "\\_SB");
		dev = aml_device_begin(&b, "DEV0");
		for (size_t j = 0; j < sizes[i]; j++)
			aml_byte(&b, 0xa3); /* NoopOp */
		aml_pkg_end(&b, dev);
		aml_pkg_end(&b, scope);
		ck_assert_int_eq(b.err, 0);

		ck_assert_uint_eq(b.data[0], 0x10);
		slen = pkglen_decode(b.data + 1, &sn);
		ck_assert_uint_eq(1 + slen, b.len);
		ck_assert_mem_eq(b.data + 1 + sn, "\\_SB_", 5);
		ck_assert_mem_eq(b.data + 1 + sn + 5, "\x5b\x82", 2);
		dlen = pkglen_decode(b.data + 1 + sn + 7, &dn);
		ck_assert_uint_eq(1 + sn + 7 + dlen, b.len); /* device ends with the scope */
		ck_assert_uint_eq(dlen, dn + 4 + sizes[i]);
		ck_assert_mem_eq(b.data + 1 + sn + 7 + dn, "DEV0", 4);
		aml_buf_free(&b);
	}
}
END_TEST

/* Checks that b holds exactly want[0..len) and empties it for the next case. */
static void expect(struct aml_buf *b, const void *want, size_t len)
{
	ck_assert_int_eq(b->err, 0);
	ck_assert_uint_eq(b->len, len);
	ck_assert_mem_eq(b->data, want, len);
	b->len = 0;
}

START_TEST(aml_encodings)
{
	static const char names[] = "_S5_"
				    "\\_SB_"
				    "\x2e_SB_PCI0"	     /* DualNamePrefix */
				    "\\\x2f\x03_SB_PCI0ISA_" /* MultiNamePrefix, 3 segments */
				    "^^FOO_"
				    "\\\x00"; /* root alone: NullName */
	static const char ints[] = "\x00"
				   "\x01"
				   "\x0a\x05"
				   "\x0b\xf8\x03"
				   "\x0c\x00\x00\xc0\xfe"
				   "\x0e\x00\x00\x00\x00\x01\x00\x00\x00"
				   "\xff";
	static const char com1[] = "\x0c\x41\xd0\x05\x01"	      /* EisaId ("PNP0501") */
				   "\x11\x10\x0a\x0d"		      /* Buffer (13) { */
				   "\x47\x01\xf8\x03\xf8\x03\x01\x08" /* IO */
				   "\x22\x10\x00"		      /* IRQNoFlags () {4} */
				   "\x79\x00";			      /* End tag } */
	struct aml_buf b;
	size_t m;

	aml_buf_init(&b, 4096);
	aml_name_string(&b, "_S5");
	aml_name_string(&b, "\\_SB");
	aml_name_string(&b, "_SB.PCI0");
	aml_name_string(&b, "\\_SB.PCI0.ISA");
	aml_name_string(&b, "^^FOO");
	aml_name_string(&b, "\\");
	expect(&b, names, sizeof(names) - 1);

	aml_integer(&b, 0);
	aml_integer(&b, 1);
	aml_integer(&b, 5);
	aml_integer(&b, 0x3f8);
	aml_integer(&b, 0xfec00000);
	aml_integer(&b, 0x100000000ULL);
	aml_integer(&b, UINT64_MAX);
	expect(&b, ints, sizeof(ints) - 1);

	aml_eisaid(&b, "PNP0501");
	m = aml_restemplate_begin(&b);
	aml_res_io(&b, 0x3f8, 0x3f8, 1, 8);
	aml_res_irq_noflags(&b, 4);
	aml_restemplate_end(&b, m);
	expect(&b, com1, sizeof(com1) - 1);
	aml_buf_free(&b);
}
END_TEST

/* Method, If, the expression opcodes and the PkgLengths around them. */
START_TEST(aml_method_and_if)
{
	/* Method (_EJ0, 1, NotSerialized) { Store (One, \_SB.EJCT) } */
	static const char ej0[] = "\x14\x12_EJ0\x01"
				  "\x70\x01\\\x2e_SB_EJCT";
	/* If (And (Local0, 0x04, Zero)) { Notify (\_SB.PWRB, 0x80) } */
	static const char ifn[] = "\xa0\x13\x7b\x60\x0a\x04\x00"
				  "\x86\\\x2e_SB_PWRB\x0a\x80";
	/* Method (PCNT, 0, Serialized) { Local1 = Arg0 }; Method (MAXA, 7, Serialized) {} */
	static const char pcnt[] = "\x14\x09PCNT\x08\x70\x68\x61"
				   "\x14\x06MAXA\x0f";
	struct aml_buf b;
	size_t m, i;

	aml_buf_init(&b, 4096);
	m = aml_method_begin(&b, "_EJ0", 1, 0);
	aml_byte(&b, AML_OP_STORE);
	aml_integer(&b, 1);
	aml_name_string(&b, "\\_SB.EJCT");
	aml_pkg_end(&b, m);
	expect(&b, ej0, sizeof(ej0) - 1);

	i = aml_if_begin(&b);
	aml_byte(&b, AML_OP_AND);
	aml_byte(&b, AML_OP_LOCAL0);
	aml_integer(&b, 4);
	aml_byte(&b, AML_OP_ZERO);
	aml_byte(&b, AML_OP_NOTIFY);
	aml_name_string(&b, "\\_SB.PWRB");
	aml_integer(&b, 0x80);
	aml_pkg_end(&b, i);
	expect(&b, ifn, sizeof(ifn) - 1);

	m = aml_method_begin(&b, "PCNT", 0, 1);
	aml_byte(&b, AML_OP_STORE);
	aml_byte(&b, AML_OP_ARG0);
	aml_byte(&b, AML_OP_LOCAL1);
	aml_pkg_end(&b, m);
	aml_pkg_end(&b, aml_method_begin(&b, "MAXA", 7, 1));
	expect(&b, pcnt, sizeof(pcnt) - 1);

	/* A Method holding an If whose body crosses into the 2-byte PkgLength form: 70
	 * NoopOps make the If's PkgLength 72 (0x48 0x04), the Method's 80 (0x40 0x05). */
	m = aml_method_begin(&b, "LONG", 0, 0);
	i = aml_if_begin(&b);
	for (int j = 0; j < 70; j++)
		aml_byte(&b, 0xa3);
	aml_pkg_end(&b, i);
	aml_pkg_end(&b, m);
	ck_assert_int_eq(b.err, 0);
	ck_assert_uint_eq(b.len, 1 + 2 + 4 + 1 + 1 + 2 + 70);
	ck_assert_mem_eq(b.data, "\x14\x40\x05LONG\x00\xa0\x48\x04\xa3", 12);
	b.len = 0;

	aml_method_begin(&b, "ARGS", 8, 0); /* at most 7 arguments */
	ck_assert_int_eq(b.err, -EINVAL);
	aml_buf_free(&b);
}
END_TEST

/* OperationRegion, Field and its NamedFields, the Extended Interrupt descriptor. */
START_TEST(aml_region_field_interrupt)
{
	static const char region[] = "\x5b\x80HPRG\x01\x0b\x10\x06\x0a\x10";
	/* Field (HPRG, DWordAcc, NoLock, WriteAsZeros) { GEVT, 32, ... EJCT, 32 } */
	static const char field[] = "\x5b\x81\x1aHPRG\x43"
				    "GEVT\x20PCIU\x20PCID\x20"
				    "EJCT\x20";
	/* Field (MEMR, ByteAcc, Lock, WriteAsOnes) { BIG, 256, A, 1 }: 2-byte bit count */
	static const char field2[] = "\x5b\x81\x11MEMR\x31"
				     "BIG_\x40\x10"
				     "A___\x01";
	/* ResourceTemplate () { Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive)
	 * {5} }, and one with all flags (level, active low, shared, wake) and a large GSI */
	static const char irq[] = "\x11\x0e\x0a\x0b"
				  "\x89\x06\x00\x03\x01\x05\x00\x00\x00"
				  "\x79\x00"
				  "\x89\x06\x00\x1c\x01\x78\x56\x34\x12";
	static const char *const bad_fields[] = {"\\GEVT", "^GEV", "A.B", "", "TOOLONG"};
	struct aml_buf b;
	size_t m;

	aml_buf_init(&b, 4096);
	aml_opregion(&b, "HPRG", AML_REGION_IO, X86_PORT_HOTPLUG, X86_PORT_HOTPLUG_LEN);
	expect(&b, region, sizeof(region) - 1);

	m = aml_field_begin(&b, "HPRG",
			    AML_FIELD_DWORD_ACC | AML_FIELD_NO_LOCK | AML_FIELD_WRITE_AS_ZEROS);
	aml_field_named(&b, "GEVT", 32);
	aml_field_named(&b, "PCIU", 32);
	aml_field_named(&b, "PCID", 32);
	aml_field_named(&b, "EJCT", 32);
	aml_pkg_end(&b, m);
	expect(&b, field, sizeof(field) - 1);

	m = aml_field_begin(&b, "MEMR",
			    AML_FIELD_BYTE_ACC | AML_FIELD_LOCK | AML_FIELD_WRITE_AS_ONES);
	aml_field_named(&b, "BIG", 256);
	aml_field_named(&b, "A", 1);
	aml_pkg_end(&b, m);
	expect(&b, field2, sizeof(field2) - 1);

	m = aml_restemplate_begin(&b);
	aml_res_interrupt(&b, AML_IRQ_CONSUMER | AML_IRQ_EDGE, 5);
	aml_restemplate_end(&b, m);
	aml_res_interrupt(&b, AML_IRQ_ACTIVE_LOW | AML_IRQ_SHARED | AML_IRQ_WAKE, 0x12345678);
	expect(&b, irq, sizeof(irq) - 1);

	/* Bad arguments: each sets -EINVAL. */
	aml_field_begin(&b, "HPRG", 0x60); /* update rule 3 is reserved */
	ck_assert_int_eq(b.err, -EINVAL);
	b.err = 0;
	aml_field_begin(&b, "HPRG", 0x06); /* access type 6 */
	ck_assert_int_eq(b.err, -EINVAL);
	b.err = 0;
	aml_res_interrupt(&b, 0x20, 5);
	ck_assert_int_eq(b.err, -EINVAL);
	b.len = 0;
	b.err = 0;
	for (size_t j = 0; j < sizeof(bad_fields) / sizeof(bad_fields[0]); j++) {
		aml_field_named(&b, bad_fields[j], 32);
		ck_assert_msg(b.err == -EINVAL, "field name \"%s\"", bad_fields[j]);
		b.err = 0;
	}
	aml_field_named(&b, "ZERO", 0);
	ck_assert_int_eq(b.err, -EINVAL);
	b.err = 0;
	aml_field_named(&b, "HUGE", AML_PKGLEN_MAX + 1);
	ck_assert_int_eq(b.err, -EINVAL);
	aml_buf_free(&b);
}
END_TEST

START_TEST(aml_errors_are_sticky)
{
	struct aml_buf b;

	aml_buf_init(&b, 8);
	aml_name_string(&b, "abc"); /* lower case */
	ck_assert_int_eq(b.err, -EINVAL);
	b.err = 0;
	aml_name_string(&b, "TOOLONG");
	ck_assert_int_eq(b.err, -EINVAL);
	b.err = 0;
	b.len = 0;
	aml_append(&b, NULL, 8);
	ck_assert_int_eq(b.err, 0);
	aml_byte(&b, 1); /* over the limit */
	ck_assert_int_eq(b.err, -ENOSPC);
	aml_eisaid(&b, "bad");
	ck_assert_int_eq(b.err, -ENOSPC); /* the first error stays */
	ck_assert_uint_eq(b.len, 8);
	aml_buf_free(&b);
}
END_TEST

Suite *aml_suite(void)
{
	Suite *s = suite_create("aml");
	TCase *aml = tcase_create("aml");

	tcase_add_test(aml, pkglen_encode_boundaries);
	tcase_add_test(aml, pkglen_for_content);
	tcase_add_test(aml, nested_pkg_lengths);
	tcase_add_test(aml, aml_encodings);
	tcase_add_test(aml, aml_method_and_if);
	tcase_add_test(aml, aml_region_field_interrupt);
	tcase_add_test(aml, aml_errors_are_sticky);
	suite_add_tcase(s, aml);
	return s;
}
