/* Kernel and initrd files (see image.h). */
#include "vmm/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Maps a whole regular file read-only. The loader copies it into guest memory at each
 * (re)boot; the guest never sees this mapping. */
static int map_file(const char *what, const char *path, const uint8_t **data, size_t *len,
		    char *err, size_t errlen)
{
	struct stat st;
	void *p;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s %s: %s; check [vm] %s in the config", what, path,
			 strerror(-ret), what);
		return ret;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		ret = -EINVAL;
		snprintf(err, errlen, "%s %s: not a regular, non-empty file", what, path);
		goto out;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		snprintf(err, errlen, "%s %s: cannot map: %s", what, path, strerror(-ret));
		goto out;
	}
	*data = p;
	*len = (size_t)st.st_size;
	ret = 0;
out:
	close(fd);
	return ret;
}

int boot_files_open(struct boot_files *bf, const struct config *cfg, char *err, size_t errlen)
{
	int ret;

	memset(bf, 0, sizeof(*bf));
	ret = map_file("kernel", cfg->kernel, &bf->kernel, &bf->kernel_len, err, errlen);
	if (ret < 0)
		return ret;
	if (cfg->initrd[0]) {
		ret = map_file("initrd", cfg->initrd, &bf->initrd, &bf->initrd_len, err, errlen);
		if (ret < 0) {
			boot_files_close(bf);
			return ret;
		}
	}
	return 0;
}

void boot_files_close(struct boot_files *bf)
{
	if (bf->kernel)
		munmap((void *)bf->kernel, bf->kernel_len);
	if (bf->initrd)
		munmap((void *)bf->initrd, bf->initrd_len);
	memset(bf, 0, sizeof(*bf));
}

void boot_files_drop_pages(const struct boot_files *bf)
{
	/* Read-only private file mappings: MADV_DONTNEED only forgets our page table
	 * entries; the data is still the file's. */
	if (bf->kernel)
		madvise((void *)bf->kernel, bf->kernel_len, MADV_DONTNEED);
	if (bf->initrd)
		madvise((void *)bf->initrd, bf->initrd_len, MADV_DONTNEED);
}
