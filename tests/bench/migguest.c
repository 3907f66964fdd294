/* The guest side of tests/bench/migrate-bench.sh, built static and put into the guest's
 * initramfs as /scenario:
 *   - brings eth0 up (so that the virtio-net queues are live) and prints "GUEST ready";
 *   - prints "T N P" every TICK_MS (argv[1], default 20) milliseconds of its own clock,
 *     N counting ticks, P the writer's passes so far: the emulated host stamps these
 *     lines as they arrive, which shows when the guest ran (restore, migration gap);
 *   - every 500 ms reads the first sector of /dev/vda (O_DIRECT, so each read reaches the
 *     VMM): "DIRTY MIB" there starts the writer, "DIRTY 0" stops it; and writes "ALIVE K"
 *     at byte 4096 (K counting), a sign of life that does not need the console;
 *   - the writer: one 64-bit store into every 4 KiB page of a MIB MiB buffer, a pass
 *     every 20 ms (or back to back when a pass takes longer). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PASS_MS 20 /* the writer's pace: one pass over its buffer at most every 20 ms */

static atomic_int want_mib;
static atomic_ulong passes;

static void *writer(void *arg)
{
	uint8_t *buf = NULL;
	size_t have = 0;
	uint64_t n = 0;
	struct timespec t0;

	(void)arg;
	for (;;) {
		size_t len = (size_t)atomic_load(&want_mib) << 20;

		if (!len) {
			usleep(100000);
			continue;
		}
		if (len > have) {
			if (buf)
				munmap(buf, have);
			buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				   -1, 0);
			if (buf == MAP_FAILED) {
				dprintf(1, "GUEST writer: cannot map %zu MiB\n", len >> 20);
				buf = NULL;
				have = 0;
				atomic_store(&want_mib, 0);
				continue;
			}
			have = len;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (size_t off = 0; off < len; off += 4096)
			*(volatile uint64_t *)(buf + off) = ++n;
		atomic_fetch_add(&passes, 1);
		/* At most one pass per PASS_MS: the whole buffer is written again well within
		 * any migration round, and the vCPU idles (exits) between passes. */
		t0.tv_nsec += PASS_MS * 1000000L;
		if (t0.tv_nsec >= 1000000000L) {
			t0.tv_nsec -= 1000000000L;
			t0.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t0, NULL);
	}
	return NULL;
}

static void *control(void *arg)
{
	char *sec;
	int fd, mib = 0;

	(void)arg;
	if (posix_memalign((void **)&sec, 4096, 4096))
		return NULL;
	fd = open("/dev/vda", O_RDWR | O_DIRECT);
	if (fd < 0) {
		dprintf(1, "GUEST no /dev/vda: the writer cannot be started\n");
		return NULL;
	}
	for (unsigned long k = 1;; k++) {
		/* A sign of life that does not go through the console: "ALIVE K" at byte
		 * 4096 of the disk (the driver reads it when the console stays silent). */
		memset(sec, 0, 512);
		snprintf(sec, 512, "ALIVE %lu\n", k);
		if (pwrite(fd, sec, 512, 4096) != 512)
			dprintf(1, "GUEST cannot write the disk\n");
		if (pread(fd, sec, 512, 0) == 512) {
			int m = 0;

			sec[511] = 0;
			if (sscanf(sec, "DIRTY %d", &m) != 1 || m < 0 || m > 4096)
				m = 0;
			if (m != mib) {
				mib = m;
				atomic_store(&want_mib, m);
				dprintf(1, "GUEST writer %d MiB\n", m);
			}
		}
		usleep(500000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long tick_ms = argc > 1 ? atol(argv[1]) : 20;
	struct timespec next, now;
	pthread_t t;
	unsigned long n = 0;

	if (system("ip link set eth0 up && ip addr add 192.0.2.2/24 dev eth0") != 0)
		dprintf(1, "GUEST eth0 could not be set up\n");
	if (pthread_create(&t, NULL, writer, NULL) || pthread_create(&t, NULL, control, NULL)) {
		dprintf(1, "GUEST cannot start threads\n");
		return 1;
	}
	dprintf(1, "GUEST ready\n");
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		next.tv_nsec += tick_ms * 1000000;
		while (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		/* Late by more than a tick (the VM was stopped and its clock jumped): go on
		 * from now rather than print the missed ticks in a burst. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - next.tv_sec) * 1000000000L + now.tv_nsec - next.tv_nsec >
		    tick_ms * 1000000)
			next = now;
		dprintf(1, "T %lu %lu\n", ++n, atomic_load(&passes));
	}
}
