/* Guest-side I/O load for the benchmarks: randio DEVICE read|write SECONDS [BS]
 * Random BS-byte (default 4096) O_DIRECT reads or writes over the first 64 MiB of
 * DEVICE for SECONDS; prints "ops N seconds S iops X". Built statically and put into
 * the guest's initramfs by the benchmark scenario. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int write_mode, fd;
	size_t bs = 4096, span = 64 << 20;
	double secs, t0, t;
	unsigned long ops = 0, seed = 12345;
	void *buf;

	if (argc < 4) {
		fprintf(stderr, "usage: randio DEVICE read|write SECONDS [BS]\n");
		return 2;
	}
	write_mode = !strcmp(argv[2], "write");
	secs = atof(argv[3]);
	if (argc > 4)
		bs = strtoul(argv[4], NULL, 0);
	fd = open(argv[1], (write_mode ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (fd < 0 || posix_memalign(&buf, 4096, bs)) {
		perror(argv[1]);
		return 1;
	}
	memset(buf, 0x5a, bs);
	t0 = now();
	do {
		off_t off;

		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
		off = (off_t)((seed >> 16) % (span / bs)) * (off_t)bs;
		if ((write_mode ? pwrite(fd, buf, bs, off) : pread(fd, buf, bs, off)) !=
		    (ssize_t)bs) {
			perror("io");
			return 1;
		}
		ops++;
		t = now();
	} while (t - t0 < secs);
	printf("ops %lu seconds %.2f iops %.0f\n", ops, t - t0, ops / (t - t0));
	return 0;
}
