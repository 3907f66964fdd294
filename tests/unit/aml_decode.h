/* Shared by test_aml.c and test_acpi.c: reading AML back, independently of aml.c. */
#ifndef MINIVMM_TEST_AML_DECODE_H
#define MINIVMM_TEST_AML_DECODE_H

#include <stdint.h>

/* A PkgLength: returns the value and stores the encoding's size in *n. */
static inline uint32_t pkglen_decode(const uint8_t *p, int *n)
{
	uint32_t v;

	*n = 1 + (p[0] >> 6);
	if (*n == 1)
		return p[0] & 0x3f;
	v = p[0] & 0x0f;
	for (int i = 1; i < *n; i++)
		v |= (uint32_t)p[i] << (4 + 8 * (i - 1));
	return v;
}

#endif
