/* ACPI tables for x86 guests: RSDP, XSDT, FADT, MADT and a DSDT.
 *
 * The platform is described as "hardware-reduced" ACPI (see acpi.c): no PM1/GPE register
 * blocks or SCI, only a reset register and the sleep control/status registers at the I/O
 * ports in layout.h, which devices/acpi_pm.c implements. */
#ifndef MINIVMM_X86_ACPI_H
#define MINIVMM_X86_ACPI_H

#include <stdint.h>

#include "vmm/mem.h"

/* Largest vCPU count the tables describe: xAPIC IDs are 8 bits, 0xff is the broadcast
 * ID, and the I/O APIC takes the ID after the last vCPU. */
#define ACPI_MAX_VCPUS 254

struct acpi_config {
	unsigned int nr_vcpus; /* 1..ACPI_MAX_VCPUS; APIC ID = ACPI processor UID = index */
	/* The PCI host bridge: ECAM for bus 0 (MCFG, reserved through a PNP0C02 device)
	 * and the windows its _CRS hands out; no PCI0 at all when ecam_base is 0. */
	uint64_t ecam_base;
	uint64_t io_base, io_end, m32_base, m32_end, m64_base, m64_end; /* [base, end) */
	uint64_t io_min; /* _CRS offers I/O ports [io_min, io_end); no 64-bit window if empty */
};

/* Builds all tables into guest memory at base (X86_ACPI_BASE), using at most max bytes
 * (X86_ACPI_MAX): the RSDP first, at base, which must be 16-byte aligned. On success
 * stores the RSDP's address in *rsdp_out (may be NULL) and returns 0. Returns -EINVAL for
 * bad arguments, -ENOSPC if the tables need more than max bytes, -EFAULT if they do not
 * fit into guest RAM at base, -ENOMEM. Guest memory is written only on success. */
int acpi_build(struct guest_mem *mem, gpa_t base, uint64_t max, const struct acpi_config *cfg,
	       gpa_t *rsdp_out);

#endif
