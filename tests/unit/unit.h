/* Shared helpers for the Check unit tests. */
#ifndef MINIVMM_UNIT_H
#define MINIVMM_UNIT_H

#include <check.h>
#include <stdio.h>

/* Marks a test as skipped for a missing prerequisite: prints the reason and returns.
 * Check has no skip state, so the reason on stderr is what tells a skip from a pass. */
#define UNIT_SKIP(reason)                                                                          \
	do {                                                                                       \
		fprintf(stderr, "SKIP %s: %s\n", __func__, reason);                                \
		return;                                                                            \
	} while (0)

#endif
