/* The vmlinux loader (arch/x86/pvh.c): x86_pvh_parse() on the input and, when it accepts
 * the file, x86_pvh_load() into anonymous guest memory (mem_init).
 *
 * The input is the ELF file followed by 4 parameter bytes (taken from its end, as in
 * fuzz_bzimage.c): memory layout (one of four: 32 MiB, 16 MiB plus 2 MiB at 4 GiB,
 * 2 MiB, 1 MiB), command-line length (its byte times 64, of 'a'), initrd length
 * (2 bytes, in 256-byte units, up to 16 MiB).
 *
 * Invariants: a parse that passes describes segments inside the file, disjoint, with
 * the entry in one's file bytes; a plan that passes never fails to write; then every
 * segment holds its file bytes and zeros after them, clear of the fixed areas, and the
 * start info says where the command line, the initrd and the memory map are, and they
 * are there: the initrd page aligned in low RAM above the kernel and below 2 GiB. */
#include <errno.h>
#include <sys/mman.h>

#include "arch/x86/boot.h"
#include "arch/x86/layout.h"
#include "arch/x86/pvh.h"
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
		fprintf(stderr, "fuzz_pvh: mem_init failed\n");
		exit(1);
	}
	initrd = mmap(NULL, INITRD_MAX, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (initrd == MAP_FAILED) {
		perror("fuzz_pvh: mmap");
		exit(1);
	}
}

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static void check_parsed(const struct x86_pvh *p, size_t size)
{
	int i, j, entry_in = 0;

	FUZZ_CHECK(p->nr_segs >= 1 && p->nr_segs <= X86_PVH_MAX_SEGS);
	for (i = 0; i < p->nr_segs; i++) {
		const struct x86_pvh_seg *s = &p->seg[i];

		FUZZ_CHECK(s->memsz > 0 && s->filesz <= s->memsz);
		FUZZ_CHECK(s->offset <= size && s->filesz <= size - s->offset);
		FUZZ_CHECK(s->paddr >= p->start && s->paddr + s->memsz <= p->end);
		for (j = i + 1; j < p->nr_segs; j++)
			FUZZ_CHECK(!overlaps(s->paddr, s->memsz, p->seg[j].paddr, p->seg[j].memsz));
		entry_in |= p->entry >= s->paddr && p->entry - s->paddr < s->filesz;
	}
	FUZZ_CHECK(entry_in);
}

static void check_loaded(const struct guest_mem *mem, const struct x86_pvh *p, const uint8_t *img,
			 size_t cmd_len, size_t initrd_len)
{
	uint64_t low_end = mem->regions[0].size, floor;
	struct hvm_start_info si;
	struct hvm_modlist_entry mod;
	const uint8_t *h;
	uint64_t k;
	int i;

	for (i = 0; i < p->nr_segs; i++) {
		const struct x86_pvh_seg *s = &p->seg[i];

		h = mem_gpa_to_hva(mem, s->paddr, s->memsz);
		FUZZ_CHECK(h && !memcmp(h, img + s->offset, s->filesz));
		for (k = s->filesz; k < s->memsz; k++)
			FUZZ_CHECK(h[k] == 0);
		FUZZ_CHECK(!overlaps(s->paddr, s->memsz, X86_PVH_START_INFO, 4096));
		FUZZ_CHECK(!overlaps(s->paddr, s->memsz, X86_CMDLINE, X86_CMDLINE_MAX));
		FUZZ_CHECK(!overlaps(s->paddr, s->memsz, X86_PAGE_TABLES, X86_PAGE_TABLES_SIZE));
		FUZZ_CHECK(!overlaps(s->paddr, s->memsz, X86_EBDA_START,
				     X86_KERNEL_LOAD - X86_EBDA_START));
	}
	FUZZ_CHECK(mem_read(mem, X86_PVH_START_INFO, &si, sizeof(si)) == 0);
	FUZZ_CHECK(si.magic == XEN_HVM_START_MAGIC_VALUE && si.version == 1);
	FUZZ_CHECK(si.cmdline_paddr == X86_CMDLINE);
	h = mem_gpa_to_hva(mem, X86_CMDLINE, cmd_len + 1);
	FUZZ_CHECK(h && h[cmd_len] == 0 && !memcmp(h, cmdline, cmd_len));
	FUZZ_CHECK(si.memmap_paddr == X86_PVH_MEMMAP);
	FUZZ_CHECK(si.memmap_entries >= 2 && si.memmap_entries <= X86_E820_MAX);
	if (!initrd_len) {
		FUZZ_CHECK(si.nr_modules == 0 && si.modlist_paddr == 0);
		return;
	}
	FUZZ_CHECK(si.nr_modules == 1 && si.modlist_paddr == X86_PVH_MODLIST);
	FUZZ_CHECK(mem_read(mem, X86_PVH_MODLIST, &mod, sizeof(mod)) == 0);
	FUZZ_CHECK(mod.size == initrd_len && mod.paddr % 4096 == 0);
	floor = p->end > X86_KERNEL_LOAD ? p->end : X86_KERNEL_LOAD;
	FUZZ_CHECK(mod.paddr >= floor && mod.paddr + mod.size <= low_end);
	FUZZ_CHECK(mod.paddr + mod.size - 1 <= X86_PVH_INITRD_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct guest_mem *mem;
	struct x86_pvh p;
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
	ret = x86_pvh_parse(data, size, &p, err, sizeof(err));
	FUZZ_CHECK(ret == 0 || ret == -EINVAL || ret == -ENOEXEC);
	FUZZ_CHECK((ret == -ENOEXEC) == !x86_elf_magic(data, size));
	if (ret)
		return 0;
	check_parsed(&p, size);
	memset(cmdline, 'a', cmd_len);
	cmdline[cmd_len] = 0;
	ret = x86_pvh_load(mem, &p, data, initrd, initrd_len, cmdline, X86_ACPI_BASE, err,
			   sizeof(err));
	FUZZ_CHECK(ret == 0 || ret == -E2BIG || ret == -ENOSPC || ret == -EINVAL);
	if (ret == 0)
		check_loaded(mem, &p, data, cmd_len, initrd_len);
	return 0;
}
