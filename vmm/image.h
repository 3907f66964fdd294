/* Kernel and initrd files: opened and mapped read-only before the VM exists, so that a
 * missing or unreadable file is a config error (exit 1) found before any KVM work. */
#ifndef MINIVMM_IMAGE_H
#define MINIVMM_IMAGE_H

#include <stddef.h>

#include "arch/arch.h"
#include "vmm/config.h"

/* Returns 0, or -errno with "PATH: what; what to do" in err. */
int boot_files_open(struct boot_files *bf, const struct config *cfg, char *err, size_t errlen);
void boot_files_close(struct boot_files *bf);
/* After a load: drops the files' pages from our memory (they come back from the page
 * cache if a reboot loads them again), so they do not count in the VMM's footprint. */
void boot_files_drop_pages(const struct boot_files *bf);

#endif
