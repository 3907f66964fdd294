/* Kernel and initrd files (see image.h). */
#include "vmm/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* FNV-1a over 8-byte words: only tells a changed file from the one read at start (the
 * files are trusted, see README's threat model), and must be quick on a large initrd. */
static uint64_t checksum(const uint8_t *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ len, w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x100000001b3ULL;
	}
	for (; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* Reads exactly len bytes at offset 0 of fd into buf; -EIO if the file is shorter. */
static int read_all(int fd, uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* Opens a whole regular file and reads it into anonymous memory (why not a mapping:
 * image.h). */
static int read_file(const char *what, const char *path, const char *where, int *fdp,
		     const uint8_t **data, size_t *len, uint64_t *sum, char *err, size_t errlen)
{
	struct stat st;
	void *p;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s%s %s: %s", where, what, path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		ret = -EINVAL;
		snprintf(err, errlen, "%s%s %s: not a regular, non-empty file", where, what, path);
		goto err_close;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		snprintf(err, errlen, "%s%s %s: cannot allocate %lld bytes for it: %s", where, what,
			 path, (long long)st.st_size, strerror(-ret));
		goto err_close;
	}
	ret = read_all(fd, p, (size_t)st.st_size);
	if (ret < 0) {
		snprintf(err, errlen, "%s%s %s: cannot read it: %s", where, what, path,
			 ret == -EIO ? "it shrank while being read" : strerror(-ret));
		munmap(p, (size_t)st.st_size);
		goto err_close;
	}
	*fdp = fd;
	*data = p;
	*len = (size_t)st.st_size;
	*sum = checksum(p, *len);
	return 0;
err_close:
	close(fd);
	return ret;
}

int boot_files_open(struct boot_images *bi, const struct config *cfg, char *err, size_t errlen)
{
	char where[PATH_MAX + 64];
	int ret;

	memset(bi, 0, sizeof(*bi));
	bi->kernel_fd = bi->initrd_fd = -1;
	config_origin_prefix(cfg, &cfg->kernel_at, where, sizeof(where));
	ret = read_file("kernel", cfg->kernel, where, &bi->kernel_fd, &bi->files.kernel,
			&bi->files.kernel_len, &bi->kernel_sum, err, errlen);
	if (ret < 0)
		return ret;
	if (cfg->initrd[0]) {
		config_origin_prefix(cfg, &cfg->initrd_at, where, sizeof(where));
		ret = read_file("initrd", cfg->initrd, where, &bi->initrd_fd, &bi->files.initrd,
				&bi->files.initrd_len, &bi->initrd_sum, err, errlen);
		if (ret < 0) {
			boot_files_close(bi);
			return ret;
		}
	}
	return 0;
}

/* Reads fd again into data (len bytes, the size at start) and checks that it is still
 * what was read then. */
static int reread(const char *what, const char *path, int fd, const uint8_t *data, size_t len,
		  uint64_t sum, char *err, size_t errlen)
{
	struct stat st;
	int ret;

	if (fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s %s: cannot read it again for the reboot: %s", what, path,
			 strerror(-ret));
		return ret;
	}
	if ((uint64_t)st.st_size == len) {
		ret = read_all(fd, (uint8_t *)data, len);
		if (ret < 0 && ret != -EIO) {
			snprintf(err, errlen, "%s %s: cannot read it again for the reboot: %s",
				 what, path, strerror(-ret));
			return ret;
		}
		if (ret == 0 && checksum(data, len) == sum)
			return 0;
	}
	snprintf(err, errlen,
		 "%s %s changed since minivmm started (it is read again at each guest reboot); "
		 "not booting the guest from a different or half-written file: start minivmm "
		 "again to boot the new one",
		 what, path);
	return -ESTALE;
}

int boot_files_reload(struct boot_images *bi, const struct config *cfg, char *err, size_t errlen)
{
	int ret;

	ret = reread("kernel", cfg->kernel, bi->kernel_fd, bi->files.kernel, bi->files.kernel_len,
		     bi->kernel_sum, err, errlen);
	if (ret == 0 && bi->files.initrd)
		ret = reread("initrd", cfg->initrd, bi->initrd_fd, bi->files.initrd,
			     bi->files.initrd_len, bi->initrd_sum, err, errlen);
	return ret;
}

void boot_files_close(struct boot_images *bi)
{
	if (bi->files.kernel)
		munmap((void *)bi->files.kernel, bi->files.kernel_len);
	if (bi->files.initrd)
		munmap((void *)bi->files.initrd, bi->files.initrd_len);
	if (bi->kernel_fd >= 0)
		close(bi->kernel_fd);
	if (bi->initrd_fd >= 0)
		close(bi->initrd_fd);
	memset(bi, 0, sizeof(*bi));
	bi->kernel_fd = bi->initrd_fd = -1;
}

void boot_files_drop_pages(const struct boot_files *bf)
{
	/* Private anonymous memory: MADV_DONTNEED frees the pages (they read as zeros
	 * afterwards); boot_files_reload() fills them again before the next load. */
	if (bf->kernel)
		madvise((void *)bf->kernel, bf->kernel_len, MADV_DONTNEED);
	if (bf->initrd)
		madvise((void *)bf->initrd, bf->initrd_len, MADV_DONTNEED);
}
