/* Shared by the in-process virtio device tests (test_virtio_blk.c, test_virtio_net.c,
 * test_console.c): the PCI windows of a test VM made without KVM, and a driver's view of
 * a device, config space through the host bridge and BARs through the MMIO bus. */
#ifndef MINIVMM_TEST_VIRTIO_FIXTURE_H
#define MINIVMM_TEST_VIRTIO_FIXTURE_H

#include <stdint.h>

#include "devices/pci.h"
#include "devices/virtio_pci.h"
#include "tests/unit/unit.h"
#include "vmm/bus.h"
#include "vmm/machine.h"

static const struct pci_windows vt_windows = {.io_base = 0xc000,
					      .io_end = 0x10000,
					      .m32_base = 0xc0000000,
					      .m32_end = 0xe0000000,
					      .m64_base = 0x1000000000ULL,
					      .m64_end = 0x1800000000ULL,
					      .ecam_base = 0xe0000000};

static inline uint32_t vt_cfg_read(struct machine *vm, struct virtio_dev *vd, uint32_t off,
				   uint32_t len)
{
	uint32_t v = 0;

	pci_cfg_access(vm, vd->pci.devfn, off, (uint8_t *)&v, len, false);
	return v;
}

static inline void vt_cfg_write(struct machine *vm, struct virtio_dev *vd, uint32_t off, uint32_t v,
				uint32_t len)
{
	pci_cfg_access(vm, vd->pci.devfn, off, (uint8_t *)&v, len, true);
}

static inline uint64_t vt_rd(struct machine *vm, uint64_t addr, uint32_t len)
{
	uint64_t v = 0;

	ck_assert(bus_access(&vm->mmio, addr, (uint8_t *)&v, len, false));
	return v;
}

static inline void vt_wr(struct machine *vm, uint64_t addr, uint64_t v, uint32_t len)
{
	ck_assert(bus_access(&vm->mmio, addr, (uint8_t *)&v, len, true));
}

#endif
