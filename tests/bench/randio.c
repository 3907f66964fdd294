/* Guest-side I/O load for the benchmarks: randio DEVICE read|write SECONDS [BS [JOBS]]
 * Random BS-byte (default 4096) O_DIRECT reads or writes over the first 64 MiB of
 * DEVICE for SECONDS from JOBS threads (default 1) of synchronous I/O each, so JOBS
 * requests are in flight: JOBS 1 measures latency, more measure throughput. Prints
 * "ops N seconds S iops X". Built statically and put into the guest's initramfs by the
 * benchmark scenarios. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_JOBS 64

struct job {
	const char *dev;
	int write_mode;
	size_t bs;
	double secs;
	unsigned long seed, ops;
	int err;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
	struct job *j = arg;
	const size_t span = 64 << 20;
	double t0 = now();
	void *buf;
	int fd = open(j->dev, (j->write_mode ? O_WRONLY : O_RDONLY) | O_DIRECT);

	if (fd < 0 || posix_memalign(&buf, 4096, j->bs)) {
		perror(j->dev);
		j->err = 1;
		return NULL;
	}
	memset(buf, 0x5a, j->bs);
	do {
		off_t off;

		j->seed = j->seed * 6364136223846793005UL + 1442695040888963407UL;
		off = (off_t)((j->seed >> 16) % (span / j->bs)) * (off_t)j->bs;
		if ((j->write_mode ? pwrite(fd, buf, j->bs, off) : pread(fd, buf, j->bs, off)) !=
		    (ssize_t)j->bs) {
			perror("io");
			j->err = 1;
			break;
		}
		j->ops++;
	} while (now() - t0 < j->secs);
	close(fd);
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	struct job jobs[MAX_JOBS];
	pthread_t tids[MAX_JOBS];
	unsigned long ops = 0;
	int n = 1, err = 0;
	double t0, t;

	if (argc < 4) {
		fprintf(stderr, "usage: randio DEVICE read|write SECONDS [BS [JOBS]]\n");
		return 2;
	}
	if (argc > 5)
		n = atoi(argv[5]);
	if (n < 1 || n > MAX_JOBS) {
		fprintf(stderr, "randio: JOBS must be 1..%d\n", MAX_JOBS);
		return 2;
	}
	for (int i = 0; i < n; i++)
		jobs[i] = (struct job){.dev = argv[1],
				       .write_mode = !strcmp(argv[2], "write"),
				       .bs = argc > 4 ? strtoul(argv[4], NULL, 0) : 4096,
				       .secs = atof(argv[3]),
				       .seed = 12345 + 7919UL * (unsigned long)i};
	t0 = now();
	for (int i = 0; i < n; i++)
		if (pthread_create(&tids[i], NULL, run, &jobs[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	for (int i = 0; i < n; i++) {
		pthread_join(tids[i], NULL);
		ops += jobs[i].ops;
		err |= jobs[i].err;
	}
	t = now();
	if (err)
		return 1;
	printf("ops %lu seconds %.2f iops %.0f\n", ops, t - t0, ops / (t - t0));
	return 0;
}
