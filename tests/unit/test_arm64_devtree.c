/* The arm64 guest's device tree (arch/arm64/devtree.c), on any host: every node the
 * guest's drivers read and its properties, the phandles, the PCI interrupt-map against
 * devices/pci.c's swizzle, the msi-map, fdt_check_full, and each refusal with its
 * message. */
#include "tests/unit/unit.h"
#include "arch/arm64/devtree.h"
#include "devices/pci.h"

#include <errno.h>
#include <libfdt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MIB	 (1ULL << 20)
#define GIB	 (1ULL << 30)
#define BUF_SIZE (64 * 1024)

/* A two-vCPU machine laid out as arch/arm64/layout.h lays it out. */
static struct arm64_machine good_machine(void)
{
	struct arm64_machine m = {
	    .nr_vcpus = 2,
	    .ram_base = 2 * GIB,
	    .ram_size = 256 * MIB,
	    .bootargs = "console=ttyS0 panic=-1",
	    .initrd_start = 2 * GIB + 200 * MIB,
	    .initrd_size = 3 * MIB + 17,
	    .gicd_base = 0x08000000,
	    .gicd_size = 0x10000,
	    .gicr_base = 0x080a0000,
	    .gicr_size = 2 * 0x20000,
	    .gicr_stride = 0x20000,
	    .its_base = 0x08080000,
	    .its_size = 0x20000,
	    .uart_base = 0x09000000,
	    .uart_size = 0x1000,
	    .uart_spi = 1,
	    .uart_clock = 1843200,
	    .pmu = true,
	    .ecam_base = 0x40000000,
	    .io_cpu = 0x3eff1000,
	    .io_pci = 0x1000,
	    .io_size = 0xf000,
	    .m32_base = 0x50000000,
	    .m32_size = 0x30000000,
	    .m64_base = 3 * GIB,
	    .m64_size = 32 * GIB,
	};

	for (unsigned int s = 0; s < 4; s++)
		for (unsigned int pin = 1; pin <= 4; pin++)
			m.intx_spi[s][pin - 1] = pci_intx_gsi((uint8_t)(s << 3), pin);
	return m;
}

static void *build_ok(const struct arm64_machine *m)
{
	void *buf = malloc(BUF_SIZE);
	char err[256] = "";
	int n;

	ck_assert_ptr_nonnull(buf);
	n = arm64_devtree_build(m, buf, BUF_SIZE, err, sizeof(err));
	ck_assert_msg(n > 0, "build failed: %d %s", n, err);
	ck_assert_int_eq(fdt_check_full(buf, (size_t)n), 0);
	ck_assert_int_eq((int)fdt_totalsize(buf), n);
	return buf;
}

static int node(const void *fdt, const char *path)
{
	int off = fdt_path_offset(fdt, path);

	ck_assert_msg(off >= 0, "no node %s", path);
	return off;
}

static const char *str(const void *fdt, const char *path, const char *prop)
{
	const char *s = fdt_getprop(fdt, node(fdt, path), prop, NULL);

	ck_assert_msg(s, "no %s in %s", prop, path);
	return s;
}

/* The property's cells in host order; n is checked. */
static void cells(const void *fdt, const char *path, const char *prop, uint32_t *out, int n)
{
	int len = 0;
	const fdt32_t *p = fdt_getprop(fdt, node(fdt, path), prop, &len);

	ck_assert_msg(p, "no %s in %s", prop, path);
	ck_assert_int_eq(len, n * 4);
	for (int i = 0; i < n; i++)
		out[i] = fdt32_to_cpu(p[i]);
}

static uint64_t u64_at(const uint32_t *c)
{
	return (uint64_t)c[0] << 32 | c[1];
}

START_TEST(root_chosen_memory)
{
	struct arm64_machine m = good_machine();
	void *fdt = build_ok(&m);
	uint32_t c[4];

	ck_assert_str_eq(str(fdt, "/", "compatible"), "linux,dummy-virt");
	cells(fdt, "/", "#address-cells", c, 1);
	ck_assert_uint_eq(c[0], 2);
	cells(fdt, "/", "interrupt-parent", c, 1);
	ck_assert_uint_eq(c[0], ARM64_DT_PHANDLE_GIC);
	ck_assert_str_eq(str(fdt, "/chosen", "bootargs"), "console=ttyS0 panic=-1");
	ck_assert_str_eq(str(fdt, "/chosen", "stdout-path"), "/uart@9000000");
	cells(fdt, "/chosen", "linux,initrd-start", c, 2);
	ck_assert_uint_eq(u64_at(c), m.initrd_start);
	cells(fdt, "/chosen", "linux,initrd-end", c, 2);
	ck_assert_uint_eq(u64_at(c), m.initrd_start + m.initrd_size);
	ck_assert_str_eq(str(fdt, "/memory@80000000", "device_type"), "memory");
	cells(fdt, "/memory@80000000", "reg", c, 4);
	ck_assert_uint_eq(u64_at(c), 2 * GIB);
	ck_assert_uint_eq(u64_at(c + 2), 256 * MIB);
	free(fdt);
}
END_TEST

START_TEST(cpus_psci_timer_pmu)
{
	struct arm64_machine m = good_machine();
	void *fdt = build_ok(&m);
	uint32_t c[12];

	ck_assert_str_eq(str(fdt, "/cpus/cpu@0", "enable-method"), "psci");
	ck_assert_str_eq(str(fdt, "/cpus/cpu@1", "device_type"), "cpu");
	cells(fdt, "/cpus/cpu@1", "reg", c, 1);
	ck_assert_uint_eq(c[0], 1);
	ck_assert_int_lt(fdt_path_offset(fdt, "/cpus/cpu@2"), 0);
	ck_assert_str_eq(str(fdt, "/psci", "compatible"), "arm,psci-0.2");
	ck_assert_str_eq(str(fdt, "/psci", "method"), "hvc");
	ck_assert_str_eq(str(fdt, "/timer", "compatible"), "arm,armv8-timer");
	cells(fdt, "/timer", "interrupts", c, 12);
	ck_assert_uint_eq(c[0], 1); /* PPIs */
	ck_assert_uint_eq(c[1], ARM64_TIMER_PPI_SEC);
	ck_assert_uint_eq(c[4], ARM64_TIMER_PPI_PHYS);
	ck_assert_uint_eq(c[7], ARM64_TIMER_PPI_VIRT);
	ck_assert_uint_eq(c[10], ARM64_TIMER_PPI_HYP);
	cells(fdt, "/pmu", "interrupts", c, 3);
	ck_assert_uint_eq(c[1], ARM64_PMU_PPI);
	free(fdt);
	m.pmu = false;
	fdt = build_ok(&m);
	ck_assert_int_lt(fdt_path_offset(fdt, "/pmu"), 0);
	free(fdt);
}
END_TEST

START_TEST(mpidr_affinity)
{
	ck_assert_uint_eq(arm64_devtree_mpidr(0), 0);
	ck_assert_uint_eq(arm64_devtree_mpidr(15), 15);
	ck_assert_uint_eq(arm64_devtree_mpidr(17), 0x101);
	ck_assert_uint_eq(arm64_devtree_mpidr(122), 0x70a);
}
END_TEST

START_TEST(gic_its_uart_phandles)
{
	struct arm64_machine m = good_machine();
	void *fdt = build_ok(&m);
	uint32_t c[8];

	ck_assert_str_eq(str(fdt, "/intc@8000000", "compatible"), "arm,gic-v3");
	ck_assert_ptr_nonnull(
	    fdt_getprop(fdt, node(fdt, "/intc@8000000"), "interrupt-controller", NULL));
	cells(fdt, "/intc@8000000", "#interrupt-cells", c, 1);
	ck_assert_uint_eq(c[0], 3);
	cells(fdt, "/intc@8000000", "reg", c, 8);
	ck_assert_uint_eq(u64_at(c), 0x08000000);
	ck_assert_uint_eq(u64_at(c + 4), 0x080a0000);
	ck_assert_uint_eq(u64_at(c + 6), 2 * 0x20000);
	ck_assert_str_eq(str(fdt, "/intc@8000000/msi-controller@8080000", "compatible"),
			 "arm,gic-v3-its");
	ck_assert_ptr_nonnull(fdt_getprop(fdt, node(fdt, "/intc@8000000/msi-controller@8080000"),
					  "msi-controller", NULL));
	ck_assert_int_eq(fdt_node_offset_by_phandle(fdt, ARM64_DT_PHANDLE_GIC),
			 node(fdt, "/intc@8000000"));
	ck_assert_int_eq(fdt_node_offset_by_phandle(fdt, ARM64_DT_PHANDLE_ITS),
			 node(fdt, "/intc@8000000/msi-controller@8080000"));
	ck_assert_str_eq(str(fdt, "/uart@9000000", "compatible"), "ns16550a");
	cells(fdt, "/uart@9000000", "interrupts", c, 3);
	ck_assert_uint_eq(c[0], 0); /* SPI */
	ck_assert_uint_eq(c[1], 1);
	ck_assert_uint_eq(c[2], 4); /* level, active high */
	free(fdt);
}
END_TEST

START_TEST(pci_host_ranges)
{
	struct arm64_machine m = good_machine();
	void *fdt = build_ok(&m);
	const char *pcie = "/pcie@40000000";
	uint32_t c[21];

	ck_assert_str_eq(str(fdt, pcie, "compatible"), "pci-host-ecam-generic");
	ck_assert_str_eq(str(fdt, pcie, "device_type"), "pci");
	cells(fdt, pcie, "bus-range", c, 2);
	ck_assert_uint_eq(c[0], 0);
	ck_assert_uint_eq(c[1], 0);
	cells(fdt, pcie, "reg", c, 4);
	ck_assert_uint_eq(u64_at(c), 0x40000000);
	ck_assert_uint_eq(u64_at(c + 2), MIB); /* one bus */
	cells(fdt, pcie, "ranges", c, 21);
	/* I/O: PCI ports 0x1000.. at CPU 0x3eff1000 */
	ck_assert_uint_eq(c[0], 0x01000000);
	ck_assert_uint_eq(u64_at(c + 1), 0x1000);
	ck_assert_uint_eq(u64_at(c + 3), 0x3eff1000);
	ck_assert_uint_eq(u64_at(c + 5), 0xf000);
	/* 32-bit and 64-bit memory, identity-mapped */
	ck_assert_uint_eq(c[7], 0x02000000);
	ck_assert_uint_eq(u64_at(c + 8), 0x50000000);
	ck_assert_uint_eq(u64_at(c + 10), 0x50000000);
	ck_assert_uint_eq(u64_at(c + 12), 0x30000000);
	ck_assert_uint_eq(c[14], 0x03000000);
	ck_assert_uint_eq(u64_at(c + 15), 3 * GIB);
	ck_assert_uint_eq(u64_at(c + 17), 3 * GIB);
	ck_assert_uint_eq(u64_at(c + 19), 32 * GIB);
	free(fdt);
	m.m64_size = 0; /* no 64-bit window: two ranges */
	m.io_size = 0;
	fdt = build_ok(&m);
	cells(fdt, pcie, "ranges", c, 7);
	ck_assert_uint_eq(c[0], 0x02000000);
	free(fdt);
}
END_TEST

/* Every slot and pin maps to the SPI the PCI core's swizzle wires it to. */
START_TEST(pci_interrupt_map)
{
	struct arm64_machine m = good_machine();
	void *fdt = build_ok(&m);
	const char *pcie = "/pcie@40000000";
	uint32_t mask[4], map[160];

	cells(fdt, pcie, "interrupt-map-mask", mask, 4);
	ck_assert_uint_eq(mask[0], 0x1800);
	ck_assert_uint_eq(mask[3], 7);
	cells(fdt, pcie, "interrupt-map", map, 160);
	for (unsigned int slot = 0; slot < 32; slot++)
		for (unsigned int pin = 1; pin <= 4; pin++) {
			uint32_t key = (slot << 11) & mask[0];
			bool found = false;

			for (int e = 0; e < 16; e++) {
				const uint32_t *r = &map[e * 10];

				if (r[0] != key || r[3] != pin)
					continue;
				ck_assert(!found);
				found = true;
				ck_assert_uint_eq(r[4], ARM64_DT_PHANDLE_GIC);
				ck_assert_uint_eq(r[7], 0); /* SPI */
				ck_assert_uint_eq(r[8], pci_intx_gsi((uint8_t)(slot << 3), pin));
				ck_assert_uint_eq(r[9], 4);
			}
			ck_assert_msg(found, "slot %u pin %u not mapped", slot, pin);
		}
	free(fdt);
}
END_TEST

START_TEST(pci_msi_map)
{
	struct arm64_machine m = good_machine();
	void *fdt = build_ok(&m);
	uint32_t c[4];

	cells(fdt, "/pcie@40000000", "msi-map", c, 4);
	ck_assert_uint_eq(c[0], 0);
	ck_assert_uint_eq(c[1], ARM64_DT_PHANDLE_ITS);
	ck_assert_uint_eq(c[2], 0);
	ck_assert_uint_eq(c[3], 0x10000);
	free(fdt);
	/* Without an ITS: no MSI controller and no msi-map, INTx only. */
	m.its_size = 0;
	fdt = build_ok(&m);
	ck_assert_ptr_null(fdt_getprop(fdt, node(fdt, "/pcie@40000000"), "msi-map", NULL));
	ck_assert_int_lt(fdt_node_offset_by_phandle(fdt, ARM64_DT_PHANDLE_ITS), 0);
	ck_assert_int_lt(fdt_path_offset(fdt, "/intc@8000000/msi-controller@8080000"), 0);
	free(fdt);
}
END_TEST

START_TEST(no_initrd_no_bootargs)
{
	struct arm64_machine m = good_machine();
	void *fdt;

	m.initrd_size = 0;
	m.bootargs = NULL;
	fdt = build_ok(&m);
	ck_assert_ptr_null(fdt_getprop(fdt, node(fdt, "/chosen"), "linux,initrd-start", NULL));
	ck_assert_ptr_null(fdt_getprop(fdt, node(fdt, "/chosen"), "bootargs", NULL));
	free(fdt);
}
END_TEST

/* Runs one bad description; the build must refuse it with want in the message. */
static void refused(const struct arm64_machine *m, size_t size, int code, const char *want)
{
	uint8_t *buf = malloc(BUF_SIZE);
	char err[256] = "";
	int n;

	ck_assert_ptr_nonnull(buf);
	n = arm64_devtree_build(m, buf, size, err, sizeof(err));
	ck_assert_msg(n == code, "want %d, got %d (%s)", code, n, err);
	ck_assert_msg(strstr(err, want), "message \"%s\" lacks \"%s\"", err, want);
	free(buf);
}

START_TEST(bad_inputs_refused)
{
	struct arm64_machine m;

	m = good_machine(), m.nr_vcpus = 0;
	refused(&m, BUF_SIZE, -EINVAL, "no vCPUs");
	m = good_machine(), m.nr_vcpus = 3;
	refused(&m, BUF_SIZE, -EINVAL, "redistributor region holds fewer than 3 vCPUs");
	m = good_machine(), m.initrd_start = m.ram_base + m.ram_size - 4096;
	refused(&m, BUF_SIZE, -EINVAL, "is not inside RAM");
	m = good_machine(), m.initrd_start = 0x1000;
	refused(&m, BUF_SIZE, -EINVAL, "is not inside RAM");
	m = good_machine(), m.m32_size = 0x40000000;
	refused(&m, BUF_SIZE, -EINVAL,
		"the RAM [0x80000000, 0x90000000) overlaps the PCI 32-bit window");
	m = good_machine(), m.uart_base = m.gicd_base + 0x1000;
	refused(&m, BUF_SIZE, -EINVAL, "GIC distributor");
	m = good_machine(), m.m32_base = 0xf0000000;
	refused(&m, BUF_SIZE, -EINVAL, "ends above 4 GiB");
	m = good_machine(), m.m64_base = UINT64_MAX - GIB;
	refused(&m, BUF_SIZE, -EINVAL, "wraps around");
	m = good_machine(), m.bus_first = 2, m.bus_last = 1;
	refused(&m, BUF_SIZE, -EINVAL, "bad PCI bus range 2-1");
	m = good_machine(), m.intx_spi[1][2] = 5000;
	refused(&m, BUF_SIZE, -EINVAL, "INTx SPI 5000");
	m = good_machine(), m.ram_size = 0;
	refused(&m, BUF_SIZE, -EINVAL, "must not be empty");
	m = good_machine();
	refused(&m, 256, -ENOSPC, "does not fit 256 bytes");
}
END_TEST

Suite *arm64_devtree_suite(void)
{
	Suite *s = suite_create("arm64_devtree");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, root_chosen_memory);
	tcase_add_test(tc, cpus_psci_timer_pmu);
	tcase_add_test(tc, mpidr_affinity);
	tcase_add_test(tc, gic_its_uart_phandles);
	tcase_add_test(tc, pci_host_ranges);
	tcase_add_test(tc, pci_interrupt_map);
	tcase_add_test(tc, pci_msi_map);
	tcase_add_test(tc, no_initrd_no_bootargs);
	tcase_add_test(tc, bad_inputs_refused);
	suite_add_tcase(s, tc);
	return s;
}
