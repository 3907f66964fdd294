/* Kernel and initrd files: read before the VM exists, so that a missing or unreadable
 * file is a config error (exit 1) found before any KVM work.
 *
 * They are read into anonymous memory, never mapped: a file mapping faults with SIGBUS
 * when someone truncates the file while we hold it (a kernel rebuilt or copied over
 * while the guest runs), and the loader reads it again at each guest reboot. The files
 * stay open, so that a reboot re-reads the very same files after a chroot or a
 * privilege drop, and their contents are checked against what was read at start: a
 * reboot boots the kernel as it was when minivmm started, or stops (exit 1) if the file
 * no longer holds it. The memory is dropped after each load (boot_files_drop_pages), so
 * it does not count in the VMM's footprint while the guest runs. */
#ifndef MINIVMM_IMAGE_H
#define MINIVMM_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"
#include "vmm/config.h"

struct boot_images {
	struct boot_files files;	 /* what the loader reads (arch/arch.h) */
	int kernel_fd, initrd_fd;	 /* -1 when not open */
	uint64_t kernel_sum, initrd_sum; /* of the contents read at start */
};

/* Opens and reads the files. Returns 0, or -errno with "WHERE: kernel PATH: what" in
 * err, WHERE being the key's line or --set argument (config_origin_prefix()). */
int boot_files_open(struct boot_images *bi, const struct config *cfg, char *err, size_t errlen);
/* Before a reboot's load: reads the files again into the same memory. Returns 0, or
 * -ESTALE (changed since start) or another -errno with one message in err. */
int boot_files_reload(struct boot_images *bi, const struct config *cfg, char *err, size_t errlen);
void boot_files_close(struct boot_images *bi);
/* After a load: frees the memory holding the files' contents (reloaded at a reboot),
 * so that it does not count in the VMM's footprint. */
void boot_files_drop_pages(const struct boot_files *bf);

#endif
