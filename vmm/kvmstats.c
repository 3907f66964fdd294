/* KVM binary stats: a header, then descriptors (each followed by its name), then the
 * data block. See Documentation/virt/kvm/api.rst, "KVM_GET_STATS_FD". */
#include "vmm/kvmstats.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const char *const names[KVM_STAT_COUNT] = {
#define X(n) #n,
    KVM_STATS_NAMES
#undef X
};

/* Descriptors are read in one go; KVM has about 60 per vCPU, far below this. */
#define KVM_STATS_MAX_DESC_BYTES (64 << 10)

int kvm_stats_open(struct kvm_stats *s, int vcpu_fd)
{
	struct kvm_stats_header h;
	size_t dsize, total;
	uint8_t *descs = NULL;
	int ret;

	s->fd = -1;
	for (int i = 0; i < KVM_STAT_COUNT; i++)
		s->off[i] = -1;
	s->fd = ioctl(vcpu_fd, KVM_GET_STATS_FD, NULL);
	if (s->fd < 0) {
		ret = -errno;
		goto err;
	}
	if (pread(s->fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		ret = -EIO;
		goto err;
	}
	dsize = sizeof(struct kvm_stats_desc) + h.name_size;
	total = (size_t)h.num_desc * dsize;
	if (h.name_size == 0 || total > KVM_STATS_MAX_DESC_BYTES) {
		ret = -EINVAL;
		goto err;
	}
	descs = malloc(total);
	if (!descs) {
		ret = -ENOMEM;
		goto err;
	}
	if (pread(s->fd, descs, total, h.desc_offset) != (ssize_t)total) {
		ret = -EIO;
		goto err;
	}
	for (uint32_t d = 0; d < h.num_desc; d++) {
		const struct kvm_stats_desc *desc = (const void *)(descs + d * dsize);

		/* Only plain 64-bit counters: histograms have size > 1. */
		if (desc->size != 1 ||
		    (desc->flags & KVM_STATS_TYPE_MASK) != KVM_STATS_TYPE_CUMULATIVE)
			continue;
		for (int i = 0; i < KVM_STAT_COUNT; i++)
			if (strncmp(desc->name, names[i], h.name_size) == 0)
				s->off[i] = (int64_t)h.data_offset + desc->offset;
	}
	free(descs);
	return 0;
err:
	free(descs);
	kvm_stats_close(s);
	return ret;
}

void kvm_stats_close(struct kvm_stats *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

void kvm_stats_add(const struct kvm_stats *s, uint64_t *sum)
{
	for (int i = 0; i < KVM_STAT_COUNT; i++) {
		uint64_t v;

		if (s->fd >= 0 && s->off[i] >= 0 &&
		    pread(s->fd, &v, sizeof(v), s->off[i]) == (ssize_t)sizeof(v))
			sum[i] += v;
	}
}

const char *kvm_stats_format(const uint64_t *sum, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = 0;
	for (int i = 0; i < KVM_STAT_COUNT && used < size; i++) {
		int n = snprintf(buf + used, size - used, "%s%s=%llu", i ? " " : "", names[i],
				 (unsigned long long)sum[i]);

		if (n < 0)
			break;
		used += (size_t)n;
	}
	return buf;
}
