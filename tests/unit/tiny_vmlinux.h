/* A synthetic vmlinux for the PVH tests (test_pvh.c, test_vmm.c): an x86-64 ELF
 * executable with the given loadable segments and a PVH entry note, laid out as
 *   ELF header | program headers (PT_LOAD per segment, then PT_NOTE) | note | segments
 * Tests edit the bytes afterwards to break one thing at a time. */
#ifndef MINIVMM_TEST_TINY_VMLINUX_H
#define MINIVMM_TEST_TINY_VMLINUX_H

#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct tv_seg {
	uint64_t paddr;
	uint64_t memsz;	     /* >= filesz */
	const uint8_t *data; /* filesz bytes */
	size_t filesz;
};

/* Where things are in the built file. */
struct tv_layout {
	size_t phoff;	   /* program headers (nr_segs PT_LOAD, then the PT_NOTE) */
	size_t note_off;   /* the note's Elf64_Nhdr */
	size_t seg_off[8]; /* each segment's file bytes */
};

#define TV_NOTE_SIZE(descsz) (sizeof(Elf64_Nhdr) + 4 + (descsz))

/* Builds the file; note_descsz 4 or 8 (the note's entry field), or 0 for no PT_NOTE at
 * all. Returns a malloc'd buffer (NULL on bad arguments) and its length in *len. */
static inline uint8_t *tv_build(const struct tv_seg *segs, int nr, uint32_t entry,
				unsigned int note_descsz, size_t *len, struct tv_layout *lay)
{
	int nph = nr + (note_descsz ? 1 : 0), i;
	size_t off, total;
	struct tv_layout l = {.phoff = sizeof(Elf64_Ehdr)};
	Elf64_Ehdr eh = {0};
	Elf64_Nhdr nh = {.n_namesz = 4, .n_descsz = note_descsz, .n_type = 18};
	uint64_t desc = entry;
	uint8_t *img;

	if (nr < 0 || nr > 8)
		return NULL;
	l.note_off = l.phoff + (size_t)nph * sizeof(Elf64_Phdr);
	off = (l.note_off + (note_descsz ? TV_NOTE_SIZE(note_descsz) : 0) + 15) & ~(size_t)15;
	for (i = 0; i < nr; i++) {
		l.seg_off[i] = off;
		off = (off + segs[i].filesz + 15) & ~(size_t)15;
	}
	total = off;
	img = calloc(1, total);
	if (!img)
		return NULL;
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = 0xffffffff81000000ULL; /* the 64-bit virtual entry: not used */
	eh.e_phoff = l.phoff;
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = (Elf64_Half)nph;
	memcpy(img, &eh, sizeof(eh));
	for (i = 0; i < nr; i++) {
		Elf64_Phdr ph = {.p_type = PT_LOAD,
				 .p_flags = PF_R | PF_W | PF_X,
				 .p_offset = l.seg_off[i],
				 .p_vaddr = 0xffffffff80000000ULL + segs[i].paddr,
				 .p_paddr = segs[i].paddr,
				 .p_filesz = segs[i].filesz,
				 .p_memsz = segs[i].memsz,
				 .p_align = 0x1000};

		memcpy(img + l.phoff + (size_t)i * sizeof(ph), &ph, sizeof(ph));
		if (segs[i].filesz)
			memcpy(img + l.seg_off[i], segs[i].data, segs[i].filesz);
	}
	if (note_descsz) {
		Elf64_Phdr ph = {.p_type = PT_NOTE,
				 .p_offset = l.note_off,
				 .p_filesz = TV_NOTE_SIZE(note_descsz),
				 .p_memsz = TV_NOTE_SIZE(note_descsz),
				 .p_align = 4};

		memcpy(img + l.phoff + (size_t)nr * sizeof(ph), &ph, sizeof(ph));
		memcpy(img + l.note_off, &nh, sizeof(nh));
		memcpy(img + l.note_off + sizeof(nh), "Xen", 4);
		memcpy(img + l.note_off + sizeof(nh) + 4, &desc, note_descsz);
	}
	*len = total;
	if (lay)
		*lay = l;
	return img;
}

#endif
