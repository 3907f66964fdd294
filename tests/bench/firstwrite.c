/* First and second writes of 9 MiB (the test-bed kernel's text segment) into fresh
 * anonymous memory, with and without huge pages, timed: tests/bench/first-write.sh
 * runs it in the emulated host before and after guests ran, to tell the emulator's
 * cost of writing on pages a guest just used from minivmm's own. Prints one line per
 * measurement: "FW WHEN PAGES WHAT ms". */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define SIZE   (9u << 20)
#define REGION (64u << 20)

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static char *fresh(int huge)
{
	char *p = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, REGION, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	return p;
}

static void timed(const char *when, int huge, const char *what, char *dst, const char *src)
{
	double t = now_ms();

	if (src)
		memcpy(dst, src, SIZE);
	else
		memset(dst, 1, SIZE);
	printf("FW %s %s %s %.1f\n", when, huge ? "2M" : "4K", what, now_ms() - t);
}

int main(int argc, char **argv)
{
	static char src[SIZE];
	const char *when = argc > 1 ? argv[1] : "now";

	memset(src, 0x5a, SIZE);
	for (int huge = 1; huge >= 0; huge--) {
		char *a = fresh(huge), *b = fresh(huge);

		if (!a || !b)
			return 1;
		timed(when, huge, "memset-first", a, NULL);
		timed(when, huge, "memcpy-second", a, src);
		timed(when, huge, "memcpy-first", b, src);
		timed(when, huge, "memcpy-second", b, src);
	}
	return 0;
}
