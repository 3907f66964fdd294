/* The Linux arm64 Image header and boot placement (see image.h). */
#include "arch/arm64/image.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define IMAGE_FLAG_BE	 (1ULL << 0) /* kernel is big-endian */
#define IMAGE_PAGE_SHIFT 1	     /* bits 1-2: page size */
#define IMAGE_PAGE_MASK	 3ULL
#define IMAGE_PAGE	 4096ULL

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int arm64_image_parse(const uint8_t *k, size_t len, struct arm64_image *img, char *err,
		      size_t errlen)
{
	static const uint32_t page_kib[] = {0, 4, 16, 64};
	uint32_t magic;

	memset(img, 0, sizeof(*img));
	if (len < ARM64_IMAGE_HDR_SIZE) {
		snprintf(err, errlen, "%zu bytes: too short for an arm64 Image header (64 bytes)",
			 len);
		return -EINVAL;
	}
	magic = (uint32_t)le64(k + 56);
	if (magic != ARM64_IMAGE_MAGIC) {
		snprintf(err, errlen,
			 "not an arm64 Image: no \"ARM\\x64\" magic at offset 56 (give the "
			 "uncompressed arch/arm64/boot/Image, not vmlinuz/Image.gz or an ELF "
			 "vmlinux)");
		return -EINVAL;
	}
	img->text_offset = le64(k + 8);
	img->image_size = le64(k + 16);
	img->flags = le64(k + 24);
	if (img->image_size == 0) {
		/* booting.rst: before 3.17 image_size was 0 and text_offset 0x80000. */
		img->text_offset = ARM64_OLD_TEXT_OFFSET;
		img->image_size = len;
		return 0;
	}
	if (img->flags & IMAGE_FLAG_BE) {
		snprintf(err, errlen,
			 "a big-endian kernel (flags bit 0); minivmm runs "
			 "little-endian guests only");
		return -EINVAL;
	}
	img->page_kib = page_kib[(img->flags >> IMAGE_PAGE_SHIFT) & IMAGE_PAGE_MASK];
	if (img->image_size > ARM64_IMAGE_MAX || img->image_size < len) {
		snprintf(err, errlen,
			 "header's image_size %#llx is %s the file (%zu bytes): a damaged Image",
			 (unsigned long long)img->image_size,
			 img->image_size < len ? "smaller than" : "absurdly larger than", len);
		return -EINVAL;
	}
	if (img->text_offset >= ARM64_IMAGE_ALIGN || (img->text_offset & (IMAGE_PAGE - 1))) {
		snprintf(err, errlen,
			 "header's text_offset %#llx is not a page-aligned offset below 2 MiB",
			 (unsigned long long)img->text_offset);
		return -EINVAL;
	}
	return 0;
}

int arm64_image_place(const struct arm64_image *img, size_t file_len, uint64_t ram_base,
		      uint64_t ram_size, size_t initrd_len, struct arm64_boot_layout *l, char *err,
		      size_t errlen)
{
	uint64_t base = (ram_base + ARM64_IMAGE_ALIGN - 1) & ~(ARM64_IMAGE_ALIGN - 1);
	uint64_t end = ram_base + ram_size;

	memset(l, 0, sizeof(*l));
	if (end < ram_base || ram_size < 2 * ARM64_DTB_MAX || file_len > img->image_size) {
		snprintf(err, errlen, "RAM of %llu bytes is too small for any kernel",
			 (unsigned long long)ram_size);
		return -EINVAL;
	}
	l->kernel = base + img->text_offset;
	l->kernel_end = l->kernel + img->image_size;
	/* The last 2 MiB block of RAM: booting.rst wants the DTB in a 2 MiB region with no
	 * other attributes, and Linux maps it before it knows where RAM ends. */
	l->dtb = (end - ARM64_DTB_MAX) & ~(ARM64_IMAGE_ALIGN - 1);
	if (l->dtb < l->kernel_end) {
		snprintf(err, errlen,
			 "the kernel needs %llu MiB from the start of RAM plus 2 MiB for the "
			 "device tree; [vm] memory = %llu MiB is too small",
			 (unsigned long long)((l->kernel_end - ram_base + (1 << 20) - 1) >> 20),
			 (unsigned long long)(ram_size >> 20));
		return -EINVAL;
	}
	if (!initrd_len)
		return 0;
	if (initrd_len > l->dtb - l->kernel_end) {
		snprintf(err, errlen,
			 "the initrd (%zu bytes) does not fit between the kernel's end %#llx and "
			 "the device tree at %#llx; raise [vm] memory",
			 initrd_len, (unsigned long long)l->kernel_end, (unsigned long long)l->dtb);
		return -EINVAL;
	}
	l->initrd = (l->dtb - initrd_len) & ~(IMAGE_PAGE - 1);
	if (l->initrd < l->kernel_end) {
		snprintf(err, errlen, "the initrd (%zu bytes) does not fit below the device tree",
			 initrd_len);
		return -EINVAL;
	}
	return 0;
}
