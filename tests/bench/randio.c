/* Guest-side I/O load for the benchmarks:
 *   randio DEVICE read|write SECONDS [BS [JOBS [poll]]]
 * Random BS-byte (default 4096) O_DIRECT reads or writes over the first 64 MiB of
 * DEVICE for SECONDS from JOBS threads (default 1) of synchronous I/O each, so JOBS
 * requests are in flight: JOBS 1 measures latency, more measure throughput. With
 * "poll", each request goes through an io_uring set up with IORING_SETUP_IOPOLL, whose
 * completion the thread polls for instead of sleeping until the device's interrupt (the
 * block device needs poll queues: nvme.poll_queues). Prints "ops N seconds S iops X".
 * Built statically and put into the guest's initramfs by the benchmark scenarios. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_JOBS 64

struct job {
	const char *dev;
	int write_mode, poll;
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

/* One polled io_uring with a single request in flight: only what randio needs. */
struct ring {
	int fd;
	struct io_uring_sqe *sqes;
	unsigned int *sq_tail, *sq_array, *cq_head, *cq_tail, cq_mask;
	struct io_uring_cqe *cqes;
};

static int ring_init(struct ring *r)
{
	struct io_uring_params p = {.flags = IORING_SETUP_IOPOLL};
	uint8_t *sq, *cq;

	r->fd = (int)syscall(__NR_io_uring_setup, 1, &p);
	if (r->fd < 0)
		return -1;
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned int),
		  PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, IORING_OFF_CQ_RING);
	r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		       MAP_SHARED, r->fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || r->sqes == MAP_FAILED)
		return -1;
	r->sq_tail = (unsigned int *)(sq + p.sq_off.tail);
	r->sq_array = (unsigned int *)(sq + p.sq_off.array);
	r->cq_head = (unsigned int *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned int *)(cq + p.cq_off.tail);
	r->cq_mask = *(unsigned int *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

/* Submits one read or write and polls for its completion; returns its result. */
static ssize_t ring_rw(struct ring *r, int fd, int write_mode, void *buf, size_t len, off_t off)
{
	unsigned int tail = *r->sq_tail, head;
	struct io_uring_cqe *cqe;

	memset(&r->sqes[0], 0, sizeof(r->sqes[0]));
	r->sqes[0].opcode = write_mode ? IORING_OP_WRITE : IORING_OP_READ;
	r->sqes[0].fd = fd;
	r->sqes[0].addr = (unsigned long)buf;
	r->sqes[0].len = (unsigned int)len;
	r->sqes[0].off = (unsigned long long)off;
	r->sq_array[0] = 0;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -1;
	/* IOPOLL: GETEVENTS returns once at least one completion was reaped. */
	while ((head = *r->cq_head) == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
		if (syscall(__NR_io_uring_enter, r->fd, 0, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
			return -1;
	cqe = &r->cqes[head & r->cq_mask];
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return cqe->res;
}

static void *run(void *arg)
{
	struct job *j = arg;
	const size_t span = 64 << 20;
	double t0 = now();
	struct ring ring = {0};
	ssize_t done;
	void *buf;
	int fd = open(j->dev, (j->write_mode ? O_WRONLY : O_RDONLY) | O_DIRECT);

	if (fd < 0 || posix_memalign(&buf, 4096, j->bs)) {
		perror(j->dev);
		j->err = 1;
		return NULL;
	}
	memset(buf, 0x5a, j->bs);
	if (j->poll && ring_init(&ring) < 0) {
		perror("io_uring (IOPOLL)");
		j->err = 1;
		return NULL;
	}
	do {
		off_t off;

		j->seed = j->seed * 6364136223846793005UL + 1442695040888963407UL;
		off = (off_t)((j->seed >> 16) % (span / j->bs)) * (off_t)j->bs;
		if (j->poll)
			done = ring_rw(&ring, fd, j->write_mode, buf, j->bs, off);
		else if (j->write_mode)
			done = pwrite(fd, buf, j->bs, off);
		else
			done = pread(fd, buf, j->bs, off);
		if (done != (ssize_t)j->bs) {
			/* io_uring gives -errno in the completion, the others set errno. */
			fprintf(stderr, "randio: %s: %s\n", j->dev,
				done >= 0 ? "short transfer"
					  : strerror(j->poll ? (int)-done : errno));
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
		fprintf(stderr, "usage: randio DEVICE read|write SECONDS [BS [JOBS [poll]]]\n");
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
		jobs[i].poll = argc > 6 && !strcmp(argv[6], "poll");
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
