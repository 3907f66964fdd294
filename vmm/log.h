/* Logging: one line per message on stderr, prefixed "minivmm: ".
 *
 * log_err() is for the VMM's own failures and the user's mistakes; log_guest() is for
 * guest misbehaviour and is rate-limited per call site (a guest must not be able to
 * flood the host's log). Neither exits: only main.c decides to stop. */
#ifndef MINIVMM_LOG_H
#define MINIVMM_LOG_H

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#define log_err(fmt, ...)  fprintf(stderr, "minivmm: " fmt "\n", ##__VA_ARGS__)
#define log_warn(fmt, ...) fprintf(stderr, "minivmm: warning: " fmt "\n", ##__VA_ARGS__)
#define log_info(fmt, ...) fprintf(stderr, "minivmm: " fmt "\n", ##__VA_ARGS__)

/* At most 10 messages per call site, then one per 1024 occurrences. The counter is
 * per call site (a function-local static), the only static state we allow: it holds
 * no VM state, only a count for the log. */
#define log_guest(fmt, ...)                                                                        \
	do {                                                                                       \
		static atomic_ulong log_guest_n_;                                                  \
		unsigned long n_ = atomic_fetch_add(&log_guest_n_, 1);                             \
		if (n_ < 10 || (n_ & 1023) == 0)                                                   \
			fprintf(stderr, "minivmm: guest: " fmt " (occurrence %lu)\n",              \
				##__VA_ARGS__, n_ + 1);                                            \
	} while (0)

#endif
