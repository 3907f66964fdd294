/* The arm64 guest's device tree (see devtree.h), written with libfdt's sequential-write
 * calls: the nodes come out in the order written, and nothing is edited afterwards.
 *
 * What the guest's drivers need from each node, and only that: /cpus for PSCI CPU_ON,
 * the GICv3 with its ITS as the MSI controller, the architected timer's PPIs, a 16550
 * as the console, and a generic ECAM host bridge whose interrupt-map matches the INTx
 * swizzle of devices/pci.c and whose msi-map sends every requester ID to the ITS. */
#include "arch/arm64/devtree.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#define GIC_SPI		0
#define GIC_PPI		1
#define IRQ_LEVEL_HIGH	4
#define PCI_SPACE_IO	0x01000000u
#define PCI_SPACE_MEM32 0x02000000u
#define PCI_SPACE_MEM64 0x03000000u
#define ECAM_BUS_SIZE	(1ULL << 20)
#define INTX_MAP_CELLS	10 /* child addr 3 + pin 1, phandle 1, parent addr 2 + irq 3 */
#define FDT_NAME_MAX	64

static bool fdt_overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

static bool fdt_wraps(uint64_t base, uint64_t size)
{
	return base + size < base;
}

/* Refuses a description the guest could not use; names the first problem. */
static int fdt_validate(const struct arm64_machine *m, char *err, size_t errlen)
{
	const struct {
		const char *name;
		uint64_t base, size;
	} r[] = {
	    {"RAM", m->ram_base, m->ram_size},
	    {"GIC distributor", m->gicd_base, m->gicd_size},
	    {"GIC redistributors", m->gicr_base, m->gicr_size},
	    {"GIC ITS", m->its_base, m->its_size},
	    {"UART", m->uart_base, m->uart_size},
	    {"PCI ECAM", m->ecam_base, (uint64_t)(m->bus_last - m->bus_first + 1) * ECAM_BUS_SIZE},
	    {"PCI I/O window", m->io_cpu, m->io_size},
	    {"PCI 32-bit window", m->m32_base, m->m32_size},
	    {"PCI 64-bit window", m->m64_base, m->m64_size},
	};
	const size_t n = sizeof(r) / sizeof(r[0]);

	if (!m->nr_vcpus) {
		snprintf(err, errlen, "no vCPUs");
		return -EINVAL;
	}
	if (!m->gicr_stride || m->gicr_size / m->gicr_stride < m->nr_vcpus) {
		snprintf(err, errlen, "the GIC redistributor region holds fewer than %u vCPUs",
			 m->nr_vcpus);
		return -EINVAL;
	}
	if (!m->ram_size || !m->gicd_size || !m->uart_size || !m->m32_size) {
		snprintf(err, errlen,
			 "RAM, the GIC distributor, the UART and the PCI 32-bit "
			 "window must not be empty");
		return -EINVAL;
	}
	if (m->bus_last < m->bus_first || m->bus_last > 255) {
		snprintf(err, errlen, "bad PCI bus range %u-%u", m->bus_first, m->bus_last);
		return -EINVAL;
	}
	if (m->m32_base + m->m32_size > (1ULL << 32)) {
		snprintf(err, errlen, "the PCI 32-bit window ends above 4 GiB");
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (fdt_wraps(r[i].base, r[i].size)) {
			snprintf(err, errlen, "the %s wraps around the address space", r[i].name);
			return -EINVAL;
		}
		for (size_t j = i + 1; j < n; j++)
			if (fdt_overlaps(r[i].base, r[i].size, r[j].base, r[j].size)) {
				snprintf(err, errlen, "the %s [%#llx, %#llx) overlaps the %s",
					 r[i].name, (unsigned long long)r[i].base,
					 (unsigned long long)(r[i].base + r[i].size), r[j].name);
				return -EINVAL;
			}
	}
	if (m->initrd_size &&
	    (m->initrd_start < m->ram_base || fdt_wraps(m->initrd_start, m->initrd_size) ||
	     m->initrd_start + m->initrd_size > m->ram_base + m->ram_size)) {
		snprintf(err, errlen, "the initrd [%#llx, +%#llx) is not inside RAM",
			 (unsigned long long)m->initrd_start, (unsigned long long)m->initrd_size);
		return -EINVAL;
	}
	for (int s = 0; s < 4; s++)
		for (int p = 0; p < 4; p++)
			if (m->intx_spi[s][p] >= 988) { /* INTIDs 32..1019 are SPIs */
				snprintf(err, errlen, "INTx SPI %u is out of range",
					 m->intx_spi[s][p]);
				return -EINVAL;
			}
	if (m->uart_spi >= 988) {
		snprintf(err, errlen, "UART SPI %u is out of range", m->uart_spi);
		return -EINVAL;
	}
	return 0;
}

/* A property of big-endian 32-bit cells. */
static int fdt_cells(void *fdt, const char *name, const uint32_t *v, size_t n)
{
	fdt32_t be[16 * INTX_MAP_CELLS]; /* the longest: the interrupt-map */

	if (n > sizeof(be) / sizeof(be[0]))
		return -FDT_ERR_NOSPACE;
	for (size_t i = 0; i < n; i++)
		be[i] = cpu_to_fdt32(v[i]);
	return fdt_property(fdt, name, be, (int)(n * sizeof(be[0])));
}

/* reg = <base size> pairs, two cells each (the root's #address-cells and #size-cells). */
static int fdt_reg(void *fdt, const uint64_t *pairs, size_t n)
{
	fdt64_t be[8];

	for (size_t i = 0; i < 2 * n && i < 8; i++)
		be[i] = cpu_to_fdt64(pairs[i]);
	return fdt_property(fdt, "reg", be, (int)(2 * n * sizeof(be[0])));
}

static int fdt_node(void *fdt, const char *name, uint64_t unit)
{
	char buf[FDT_NAME_MAX];

	snprintf(buf, sizeof(buf), "%s@%llx", name, (unsigned long long)unit);
	return fdt_begin_node(fdt, buf);
}

static int fdt_root_chosen_memory(void *fdt, const struct arm64_machine *m)
{
	char path[FDT_NAME_MAX];
	int r = 0;

	r = r ?: fdt_property_string(fdt, "compatible", "linux,dummy-virt");
	r = r ?: fdt_property_string(fdt, "model", "minivmm");
	r = r ?: fdt_property_cell(fdt, "#address-cells", 2);
	r = r ?: fdt_property_cell(fdt, "#size-cells", 2);
	r = r ?: fdt_property_cell(fdt, "interrupt-parent", ARM64_DT_PHANDLE_GIC);
	r = r ?: fdt_begin_node(fdt, "chosen");
	if (!r && m->bootargs)
		r = fdt_property_string(fdt, "bootargs", m->bootargs);
	if (!r && m->initrd_size) {
		r = fdt_property_u64(fdt, "linux,initrd-start", m->initrd_start);
		r = r
			?: fdt_property_u64(fdt, "linux,initrd-end",
					    m->initrd_start + m->initrd_size);
	}
	snprintf(path, sizeof(path), "/uart@%llx", (unsigned long long)m->uart_base);
	r = r ?: fdt_property_string(fdt, "stdout-path", path);
	r = r ?: fdt_end_node(fdt);
	r = r ?: fdt_node(fdt, "memory", m->ram_base);
	r = r ?: fdt_property_string(fdt, "device_type", "memory");
	r = r ?: fdt_reg(fdt, (const uint64_t[]){m->ram_base, m->ram_size}, 1);
	return r ?: fdt_end_node(fdt);
}

static int fdt_cpus_psci(void *fdt, const struct arm64_machine *m)
{
	int r = fdt_begin_node(fdt, "cpus");

	r = r ?: fdt_property_cell(fdt, "#address-cells", 1);
	r = r ?: fdt_property_cell(fdt, "#size-cells", 0);
	for (unsigned int i = 0; !r && i < m->nr_vcpus; i++) {
		uint64_t mpidr = arm64_devtree_mpidr(i);

		r = fdt_node(fdt, "cpu", mpidr);
		r = r ?: fdt_property_string(fdt, "device_type", "cpu");
		r = r ?: fdt_property_string(fdt, "compatible", "arm,arm-v8");
		r = r ?: fdt_property_cell(fdt, "reg", (uint32_t)mpidr);
		/* KVM implements PSCI; secondaries start powered off until CPU_ON. */
		r = r ?: fdt_property_string(fdt, "enable-method", "psci");
		r = r ?: fdt_end_node(fdt);
	}
	r = r ?: fdt_end_node(fdt);
	r = r ?: fdt_begin_node(fdt, "psci");
	r = r ?: fdt_property_string(fdt, "compatible", "arm,psci-0.2");
	r = r ?: fdt_property_string(fdt, "method", "hvc");
	return r ?: fdt_end_node(fdt);
}

static int fdt_gic_timer_pmu(void *fdt, const struct arm64_machine *m)
{
	const uint32_t timer[] = {
	    GIC_PPI, ARM64_TIMER_PPI_SEC,  IRQ_LEVEL_HIGH,
	    GIC_PPI, ARM64_TIMER_PPI_PHYS, IRQ_LEVEL_HIGH,
	    GIC_PPI, ARM64_TIMER_PPI_VIRT, IRQ_LEVEL_HIGH,
	    GIC_PPI, ARM64_TIMER_PPI_HYP,  IRQ_LEVEL_HIGH,
	};
	int r = fdt_node(fdt, "intc", m->gicd_base);

	r = r ?: fdt_property_string(fdt, "compatible", "arm,gic-v3");
	r = r ?: fdt_property(fdt, "interrupt-controller", NULL, 0);
	r = r ?: fdt_property_cell(fdt, "#interrupt-cells", 3);
	r = r ?: fdt_property_cell(fdt, "#address-cells", 2);
	r = r ?: fdt_property_cell(fdt, "#size-cells", 2);
	r = r ?: fdt_property(fdt, "ranges", NULL, 0);
	r = r
		?: fdt_reg(
		       fdt,
		       (const uint64_t[]){m->gicd_base, m->gicd_size, m->gicr_base, m->gicr_size},
		       2);
	r = r ?: fdt_property_cell(fdt, "phandle", ARM64_DT_PHANDLE_GIC);
	if (!r && m->its_size) {
		r = fdt_node(fdt, "msi-controller", m->its_base);
		r = r ?: fdt_property_string(fdt, "compatible", "arm,gic-v3-its");
		r = r ?: fdt_property(fdt, "msi-controller", NULL, 0);
		r = r ?: fdt_property_cell(fdt, "#msi-cells", 1);
		r = r ?: fdt_reg(fdt, (const uint64_t[]){m->its_base, m->its_size}, 1);
		r = r ?: fdt_property_cell(fdt, "phandle", ARM64_DT_PHANDLE_ITS);
		r = r ?: fdt_end_node(fdt);
	}
	r = r ?: fdt_end_node(fdt);
	r = r ?: fdt_begin_node(fdt, "timer");
	r = r ?: fdt_property_string(fdt, "compatible", "arm,armv8-timer");
	r = r ?: fdt_cells(fdt, "interrupts", timer, sizeof(timer) / sizeof(timer[0]));
	r = r ?: fdt_property(fdt, "always-on", NULL, 0);
	r = r ?: fdt_end_node(fdt);
	if (!r && m->pmu) {
		r = fdt_begin_node(fdt, "pmu");
		r = r ?: fdt_property_string(fdt, "compatible", "arm,armv8-pmuv3");
		r = r
			?: fdt_cells(fdt, "interrupts",
				     (const uint32_t[]){GIC_PPI, ARM64_PMU_PPI, IRQ_LEVEL_HIGH}, 3);
		r = r ?: fdt_end_node(fdt);
	}
	return r;
}

static int fdt_uart(void *fdt, const struct arm64_machine *m)
{
	int r = fdt_node(fdt, "uart", m->uart_base);

	r = r ?: fdt_property_string(fdt, "compatible", "ns16550a");
	r = r ?: fdt_reg(fdt, (const uint64_t[]){m->uart_base, m->uart_size}, 1);
	r = r
		?: fdt_cells(fdt, "interrupts",
			     (const uint32_t[]){GIC_SPI, m->uart_spi, IRQ_LEVEL_HIGH}, 3);
	r = r ?: fdt_property_cell(fdt, "clock-frequency", m->uart_clock);
	return r ?: fdt_end_node(fdt);
}

/* One ranges entry: <space, pci address (2 cells), cpu address (2), size (2)>. */
static void fdt_range(uint32_t *c, uint32_t space, uint64_t pci, uint64_t cpu, uint64_t size)
{
	c[0] = space;
	c[1] = (uint32_t)(pci >> 32), c[2] = (uint32_t)pci;
	c[3] = (uint32_t)(cpu >> 32), c[4] = (uint32_t)cpu;
	c[5] = (uint32_t)(size >> 32), c[6] = (uint32_t)size;
}

static int fdt_pci(void *fdt, const struct arm64_machine *m)
{
	uint32_t ranges[21], map[16 * INTX_MAP_CELLS];
	size_t nr = 0, nm = 0;
	uint64_t ecam_size = (uint64_t)(m->bus_last - m->bus_first + 1) * ECAM_BUS_SIZE;
	int r;

	if (m->io_size)
		fdt_range(&ranges[7 * nr++], PCI_SPACE_IO, m->io_pci, m->io_cpu, m->io_size);
	fdt_range(&ranges[7 * nr++], PCI_SPACE_MEM32, m->m32_base, m->m32_base, m->m32_size);
	if (m->m64_size)
		fdt_range(&ranges[7 * nr++], PCI_SPACE_MEM64, m->m64_base, m->m64_base,
			  m->m64_size);
	/* phys.hi of the child address carries the device number in bits 11-15; the mask
	 * keeps its two low bits, as the swizzle repeats every four slots. */
	for (uint32_t s = 0; s < 4; s++)
		for (uint32_t pin = 1; pin <= 4; pin++) {
			const uint32_t e[INTX_MAP_CELLS] = {s << 11,
							    0,
							    0,
							    pin,
							    ARM64_DT_PHANDLE_GIC,
							    0,
							    0,
							    GIC_SPI,
							    m->intx_spi[s][pin - 1],
							    IRQ_LEVEL_HIGH};

			memcpy(&map[nm], e, sizeof(e));
			nm += INTX_MAP_CELLS;
		}
	r = fdt_node(fdt, "pcie", m->ecam_base);
	r = r ?: fdt_property_string(fdt, "compatible", "pci-host-ecam-generic");
	r = r ?: fdt_property_string(fdt, "device_type", "pci");
	r = r ?: fdt_property_cell(fdt, "#address-cells", 3);
	r = r ?: fdt_property_cell(fdt, "#size-cells", 2);
	r = r ?: fdt_property_cell(fdt, "#interrupt-cells", 1);
	r = r ?: fdt_cells(fdt, "bus-range", (const uint32_t[]){m->bus_first, m->bus_last}, 2);
	r = r ?: fdt_property_cell(fdt, "linux,pci-domain", 0);
	r = r ?: fdt_reg(fdt, (const uint64_t[]){m->ecam_base, ecam_size}, 1);
	r = r ?: fdt_property(fdt, "dma-coherent", NULL, 0);
	r = r ?: fdt_cells(fdt, "ranges", ranges, 7 * nr);
	r = r ?: fdt_cells(fdt, "interrupt-map-mask", (const uint32_t[]){3 << 11, 0, 0, 7}, 4);
	r = r ?: fdt_cells(fdt, "interrupt-map", map, nm);
	if (!r && m->its_size)
		r = fdt_cells(fdt, "msi-map",
			      (const uint32_t[]){0, ARM64_DT_PHANDLE_ITS, m->msi_base, 0x10000}, 4);
	return r ?: fdt_end_node(fdt);
}

uint64_t arm64_devtree_mpidr(unsigned int id)
{
	return (id & 0xfu) | ((uint64_t)((id >> 4) & 0xff) << 8) |
	       ((uint64_t)((id >> 12) & 0xff) << 16);
}

int arm64_devtree_build(const struct arm64_machine *m, void *buf, size_t size, char *err,
			size_t errlen)
{
	int r, ret;

	ret = fdt_validate(m, err, errlen);
	if (ret < 0)
		return ret;
	if (size > INT32_MAX)
		size = INT32_MAX;
	r = fdt_create(buf, (int)size);
	r = r ?: fdt_finish_reservemap(buf);
	r = r ?: fdt_begin_node(buf, "");
	r = r ?: fdt_root_chosen_memory(buf, m);
	r = r ?: fdt_cpus_psci(buf, m);
	r = r ?: fdt_gic_timer_pmu(buf, m);
	r = r ?: fdt_uart(buf, m);
	r = r ?: fdt_pci(buf, m);
	r = r ?: fdt_end_node(buf);
	r = r ?: fdt_finish(buf);
	if (r == -FDT_ERR_NOSPACE) {
		snprintf(err, errlen, "the device tree does not fit %zu bytes", size);
		return -ENOSPC;
	}
	if (!r)
		r = fdt_check_full(buf, size);
	if (r) {
		snprintf(err, errlen, "libfdt: %s", fdt_strerror(r));
		return -EINVAL;
	}
	return (int)fdt_totalsize(buf);
}
