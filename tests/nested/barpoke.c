/* barpoke FILE OFFSET [VALUE]: reads (prints as 0x%016llx) or writes one 64-bit word at
 * OFFSET of FILE through mmap, as /sys/bus/pci/devices/X/resourceN wants (those files
 * take no read() or write()). Built static for the nested guests. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned long long off, page = (unsigned long long)sysconf(_SC_PAGESIZE);
	volatile uint64_t *p;
	void *m;
	int fd;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: barpoke FILE OFFSET [VALUE]\n");
		return 2;
	}
	off = strtoull(argv[2], NULL, 0);
	fd = open(argv[1], argc == 4 ? O_RDWR : O_RDONLY);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	m = mmap(NULL, page, argc == 4 ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd,
		 (off_t)(off & ~(page - 1)));
	if (m == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	p = (volatile uint64_t *)((char *)m + (off & (page - 1)));
	if (argc == 4)
		*p = strtoull(argv[3], NULL, 0);
	else
		printf("0x%016llx\n", (unsigned long long)*p);
	munmap(m, page);
	close(fd);
	return 0;
}
