/* The kernel-image loader (arch/x86/boot.c): x86_bzimage_parse() on the input and, when
 * it accepts the image, x86_boot_load() into anonymous guest memory (mem_init) and the
 * boot page tables. The only kernel format minivmm accepts is the bzImage.
 *
 * The input is the image followed by 4 parameter bytes (taken from its end, so a real
 * kernel prefix with 4 bytes appended is a good seed): memory layout (one of four: 32
 * MiB, 16 MiB plus 2 MiB at 4 GiB, 2 MiB, 1 MiB), command-line length (its byte times
 * 64, of 'a'), initrd length (2 bytes, in 256-byte units, up to 16 MiB).
 *
 * Invariants: a plan that passes never fails to write (everything lands in RAM);
 * boot_params in guest memory says where the kernel, command line and initrd are, and
 * they are where it says, inside low RAM, the initrd above the kernel and below its
 * initrd_addr_max. */
#include <errno.h>
#include <sys/mman.h>

#include "arch/x86/boot.h"
#include "arch/x86/layout.h"
#include "tests/fuzz/fuzz.h"

#define MIB	   (1ULL << 20)
#define INITRD_MAX (16 * MIB)

static struct guest_mem mems[4];
static char cmdline[256 * 64 + 1];
static uint8_t *initrd;

static void init(void)
{
	static const gpa_t g0[] = {0}, g1[] = {0, X86_HIGH_RAM};
	static const uint64_t s0[] = {32 * MIB}, s1[] = {16 * MIB, 2 * MIB}, s2[] = {2 * MIB},
			      s3[] = {1 * MIB};

	if (mem_init(&mems[0], g0, s0, 1, 0) || mem_init(&mems[1], g1, s1, 2, 0) ||
	    mem_init(&mems[2], g0, s2, 1, 0) || mem_init(&mems[3], g0, s3, 1, 0)) {
		fprintf(stderr, "fuzz_bzimage: mem_init failed\n");
		exit(1);
	}
	initrd = mmap(NULL, INITRD_MAX, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (initrd == MAP_FAILED) {
		perror("fuzz_bzimage: mmap");
		exit(1);
	}
}

static void check_loaded(const struct guest_mem *mem, const struct x86_bzimage *bz,
			 const uint8_t *img, size_t cmd_len, size_t initrd_len)
{
	uint64_t low_end = mem->regions[0].size, rd, kend;
	struct boot_params bp;
	const uint8_t *p;

	FUZZ_CHECK(mem_read(mem, X86_BOOT_PARAMS, &bp, sizeof(bp)) == 0);
	FUZZ_CHECK(bp.hdr.code32_start == X86_KERNEL_LOAD);
	FUZZ_CHECK(bp.hdr.cmd_line_ptr == X86_CMDLINE && bp.ext_cmd_line_ptr == 0);
	FUZZ_CHECK(bp.hdr.setup_data == 0);
	FUZZ_CHECK(bp.e820_entries >= 2 && bp.e820_entries <= X86_E820_MAX);
	p = mem_gpa_to_hva(mem, X86_KERNEL_LOAD, bz->payload_size);
	FUZZ_CHECK(p && !memcmp(p, img + bz->payload_offset, bz->payload_size));
	p = mem_gpa_to_hva(mem, X86_CMDLINE, cmd_len + 1);
	FUZZ_CHECK(p && p[cmd_len] == 0 && !memcmp(p, cmdline, cmd_len));
	kend = X86_KERNEL_LOAD + bz->payload_size;
	rd = bp.hdr.ramdisk_image | (uint64_t)bp.ext_ramdisk_image << 32;
	FUZZ_CHECK((bp.hdr.ramdisk_size | (uint64_t)bp.ext_ramdisk_size << 32) == initrd_len);
	if (initrd_len) {
		FUZZ_CHECK(rd >= kend && rd % 4096 == 0);
		FUZZ_CHECK(rd + initrd_len <= low_end);
		FUZZ_CHECK(rd + initrd_len - 1 <= bz->initrd_addr_max);
	} else {
		FUZZ_CHECK(rd == 0);
	}
	FUZZ_CHECK(x86_boot_page_tables(mem) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct guest_mem *mem;
	struct x86_bzimage bz;
	size_t cmd_len, initrd_len;
	char err[256];
	int ret;

	if (!initrd)
		init();
	if (size < 4)
		return 0;
	size -= 4;
	mem = &mems[data[size] % 4];
	cmd_len = (size_t)data[size + 1] * 64;
	initrd_len = (size_t)(data[size + 2] | data[size + 3] << 8) * 256;
	ret = x86_bzimage_parse(data, size, &bz, err, sizeof(err));
	FUZZ_CHECK(ret == 0 || ret == -EINVAL || ret == -ENOEXEC);
	if (ret)
		return 0;
	FUZZ_CHECK(bz.payload_offset + bz.payload_size == size && bz.payload_size > 0);
	memset(cmdline, 'a', cmd_len);
	cmdline[cmd_len] = 0;
	ret = x86_boot_load(mem, &bz, data, initrd, initrd_len, cmdline, 0, err, sizeof(err));
	FUZZ_CHECK(ret == 0 || ret == -E2BIG || ret == -ENOSPC || ret == -EINVAL);
	if (ret == 0)
		check_loaded(mem, &bz, data, cmd_len, initrd_len);
	return 0;
}
