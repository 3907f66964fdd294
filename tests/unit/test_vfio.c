/* VFIO passthrough without VFIO: PCI address parsing, the checks made on a fake sysfs
 * tree (each message exact), bind = auto's undo on that tree, reserved regions and
 * memlock, IOVA ranges, MSI vector data, and the cutting of BARs into mmap'd and
 * trapped parts around the MSI-X table. */
#include "tests/unit/unit.h"
#include "vfio/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096ULL

/* ---- a fake sysfs ---- */

struct fake_sys {
	char root[64];
};

static void put(const struct fake_sys *f, const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", f->root, rel);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
}

static char *get(const struct fake_sys *f, const char *rel, char *buf, size_t len)
{
	char path[PATH_MAX];
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", f->root, rel);
	fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	n = fread(buf, 1, len - 1, fp);
	buf[n] = 0;
	fclose(fp);
	return buf;
}

static void dir(const struct fake_sys *f, const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", f->root, rel);
	ck_assert_int_eq(mkdir(path, 0755), 0);
}

static void unlink_rel(const struct fake_sys *f, const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", f->root, rel);
	ck_assert_int_eq(unlink(path), 0);
}

static void link_to(const struct fake_sys *f, const char *rel, const char *target)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", f->root, rel);
	ck_assert_int_eq(symlink(target, path), 0);
}

/* A PCI function bdf with class, in group, bound to drv ("" for none). */
static void fake_dev(const struct fake_sys *f, const char *bdf, const char *class, int group,
		     const char *drv)
{
	char rel[256], target[PATH_MAX];

	snprintf(rel, sizeof(rel), "bus/pci/devices/%s", bdf);
	dir(f, rel);
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/class", bdf);
	put(f, rel, class);
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/driver_override", bdf);
	put(f, rel, "(null)\n");
	if (drv[0]) {
		snprintf(target, sizeof(target), "%s/bus/pci/drivers/%s", f->root, drv);
		mkdir(target, 0755); /* shared by the devices on that driver: may exist */
		snprintf(rel, sizeof(rel), "bus/pci/drivers/%s/unbind", drv);
		put(f, rel, "");
		snprintf(rel, sizeof(rel), "bus/pci/drivers/%s/bind", drv);
		put(f, rel, "");
		snprintf(rel, sizeof(rel), "bus/pci/devices/%s/driver", bdf);
		snprintf(target, sizeof(target), "../../../../bus/pci/drivers/%s", drv);
		link_to(f, rel, target);
	}
	if (group < 0)
		return;
	snprintf(rel, sizeof(rel), "kernel/iommu_groups/%d", group);
	snprintf(target, sizeof(target), "%s/%s", f->root, rel);
	if (access(target, F_OK) != 0) {
		dir(f, rel);
		snprintf(rel, sizeof(rel), "kernel/iommu_groups/%d/devices", group);
		dir(f, rel);
	}
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/iommu_group", bdf);
	snprintf(target, sizeof(target), "../../../../kernel/iommu_groups/%d", group);
	link_to(f, rel, target);
	snprintf(rel, sizeof(rel), "kernel/iommu_groups/%d/devices/%s", group, bdf);
	snprintf(target, sizeof(target), "../../../../bus/pci/devices/%s", bdf);
	link_to(f, rel, target);
}

/* The emulated host of the nested test bed, in miniature. */
static void fake_sys_create(struct fake_sys *f)
{
	snprintf(f->root, sizeof(f->root), "/tmp/minivmm-vfio-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->root));
	dir(f, "bus");
	dir(f, "bus/pci");
	dir(f, "bus/pci/devices");
	dir(f, "bus/pci/drivers");
	dir(f, "kernel");
	dir(f, "kernel/iommu_groups");
	put(f, "bus/pci/drivers_probe", "");
	fake_dev(f, "0000:00:04.0", "0x010802\n", 3, "nvme");
	fake_dev(f, "0000:00:05.0", "0x020000\n", 4, "vfio-pci");
	fake_dev(f, "0000:00:06.0", "0x060400\n", 5, "");
	fake_dev(f, "0000:01:01.0", "0x00ff00\n", 5, "vfio-pci");
	fake_dev(f, "0000:01:02.0", "0x00ff00\n", 5, "pci-stub");
	fake_dev(f, "0000:00:07.0", "0x020000\n", -1, "");
	put(f, "kernel/iommu_groups/3/reserved_regions",
	    "0x00000000fee00000 0x00000000feefffff msi\n");
}

static void fake_sys_remove(struct fake_sys *f)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	ck_assert_int_eq(system(cmd), 0);
}

static struct config_vfio vcfg(const char *name, const char *host, bool bind_auto)
{
	struct config_vfio c = {.bind_auto = bind_auto};

	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.host, sizeof(c.host), "%s", host);
	return c;
}

START_TEST(bdf_normalize)
{
	char out[VFIO_BDF_LEN];

	ck_assert_int_eq(vfio_bdf_normalize("0000:00:04.0", out), 0);
	ck_assert_str_eq(out, "0000:00:04.0");
	ck_assert_int_eq(vfio_bdf_normalize("3A:1f.7", out), 0);
	ck_assert_str_eq(out, "0000:3a:1f.7");
	ck_assert_int_eq(vfio_bdf_normalize("ABCD:00:00.1", out), 0);
	ck_assert_str_eq(out, "abcd:00:00.1");
	ck_assert_int_eq(vfio_bdf_normalize("00:4", out), -EINVAL);
	ck_assert_int_eq(vfio_bdf_normalize("00:20.0", out), -EINVAL); /* device > 1f */
	ck_assert_int_eq(vfio_bdf_normalize("00:04.8", out), -EINVAL);
	ck_assert_int_eq(vfio_bdf_normalize("0000:00:04.0 ", out), -EINVAL);
	ck_assert_int_eq(vfio_bdf_normalize("g000:00:04.0", out), -EINVAL);
	ck_assert_int_eq(vfio_bdf_normalize("", out), -EINVAL);
}
END_TEST

START_TEST(probe_and_driver)
{
	struct fake_sys f;
	struct config_vfio nvme = vcfg("nvme", "0000:00:04.0", false);
	struct config_vfio nic = vcfg("nic", "00:05.0", false);
	struct vfio_host h;
	char err[1024];

	fake_sys_create(&f);
	ck_assert_int_eq(vfio_host_probe(f.root, &nvme, &h, err, sizeof(err)), 0);
	ck_assert_str_eq(h.addr, "0000:00:04.0");
	ck_assert_int_eq(h.group, 3);
	ck_assert_uint_eq(h.class, 0x010802);
	ck_assert_str_eq(h.driver, "nvme");
	ck_assert_str_eq(h.override, "");
	ck_assert_int_eq(h.device_fd, -1);
	ck_assert_int_eq(vfio_host_check_driver(&h, err, sizeof(err)), -EBUSY);
	ck_assert_str_eq(err, "[vfio.nvme] 0000:00:04.0 is bound to nvme, not vfio-pci; hand it "
			      "over with: echo 0000:00:04.0 > "
			      "/sys/bus/pci/devices/0000:00:04.0/driver/unbind; echo vfio-pci > "
			      "/sys/bus/pci/devices/0000:00:04.0/driver_override; echo "
			      "0000:00:04.0 > /sys/bus/pci/drivers_probe (or set bind = auto in "
			      "[vfio.nvme])");
	nvme.bind_auto = true; /* then the driver is ours to change */
	ck_assert_int_eq(vfio_host_check_driver(&h, err, sizeof(err)), 0);

	ck_assert_int_eq(vfio_host_probe(f.root, &nic, &h, err, sizeof(err)), 0);
	ck_assert_str_eq(h.addr, "0000:00:05.0");
	ck_assert_int_eq(vfio_host_check_driver(&h, err, sizeof(err)), 0);
	fake_sys_remove(&f);
}
END_TEST

START_TEST(probe_errors)
{
	struct fake_sys f;
	struct config_vfio ghost = vcfg("ghost", "0000:00:09.0", false);
	struct config_vfio nogroup = vcfg("x", "0000:00:07.0", false);
	struct config_vfio mdev = {.name = "m", .sysfs = "/sys/bus/mdev/devices/83b8f4f2-509f"};
	struct config_vfio bypath = {.name = "p", .sysfs = "/sys/devices/pci0000:00/0000:00:05.0"};
	struct vfio_host h;
	char err[1024];

	fake_sys_create(&f);
	ck_assert_int_eq(vfio_host_probe(f.root, &ghost, &h, err, sizeof(err)), -ENODEV);
	ck_assert_str_eq(err, "[vfio.ghost] no PCI device 0000:00:09.0 on this host "
			      "(/sys/bus/pci/devices/0000:00:09.0 does not exist); lspci -D lists "
			      "the host's devices");
	ck_assert_int_eq(vfio_host_probe(f.root, &nogroup, &h, err, sizeof(err)), -ENODEV);
	ck_assert_str_eq(err, "[vfio.x] 0000:00:07.0 has no IOMMU group: the host's IOMMU is off; "
			      "enable VT-d / AMD-Vi in the firmware and boot the host with "
			      "intel_iommu=on (or amd_iommu=on)");
	/* Neither a BDF nor a UUID (mediated devices: test_iommufd.c). */
	ck_assert_int_eq(vfio_host_probe(f.root, &mdev, &h, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "[vfio.m] /sys/bus/mdev/devices/83b8f4f2-509f is neither a PCI "
			      "function nor a mediated device (its last component is not a PCI "
			      "address or a UUID)");
	ck_assert_int_eq(vfio_host_probe(f.root, &bypath, &h, err, sizeof(err)), 0);
	ck_assert_str_eq(h.addr, "0000:00:05.0");
	fake_sys_remove(&f);
}
END_TEST

START_TEST(group_viability)
{
	struct fake_sys f;
	struct config_vfio edu = vcfg("edu", "0000:01:01.0", false), mate;
	struct vfio_host h, both[2];
	char err[1024];

	fake_sys_create(&f);
	ck_assert_int_eq(vfio_host_probe(f.root, &edu, &h, err, sizeof(err)), 0);
	ck_assert_int_eq(h.group, 5);
	/* 01:02.0 on pci-stub (the bridge 00:06.0, on no driver, does not count). */
	ck_assert_int_eq(vfio_group_check(f.root, &h, &h, 1, err, sizeof(err)), -EBUSY);
	ck_assert_str_eq(err, "[vfio.edu] IOMMU group 5 of 0000:01:01.0 is not viable: "
			      "0000:01:02.0 in the same group is bound to pci-stub; a group is "
			      "passed through whole, so give 0000:01:02.0 to vfio-pci too: echo "
			      "0000:01:02.0 > /sys/bus/pci/devices/0000:01:02.0/driver/unbind; "
			      "echo vfio-pci > /sys/bus/pci/devices/0000:01:02.0/driver_override; "
			      "echo 0000:01:02.0 > /sys/bus/pci/drivers_probe");
	/* Fine if this VM moves it to vfio-pci with bind = auto. */
	mate = vcfg("edu2", "0000:01:02.0", true);
	ck_assert_int_eq(vfio_host_probe(f.root, &mate, &both[1], err, sizeof(err)), 0);
	both[0] = h;
	ck_assert_int_eq(vfio_group_check(f.root, &h, both, 2, err, sizeof(err)), 0);
	mate.bind_auto = false;
	ck_assert_int_eq(vfio_group_check(f.root, &h, both, 2, err, sizeof(err)), -EBUSY);
	/* On no driver it is fine; so is a bridge on pcieport. */
	unlink_rel(&f, "bus/pci/devices/0000:01:02.0/driver");
	fake_dev(&f, "0000:00:06.1", "0x060400\n", 5, "pcieport");
	ck_assert_int_eq(vfio_group_check(f.root, &h, &h, 1, err, sizeof(err)), 0);
	/* A bridge on any other driver is not. */
	fake_dev(&f, "0000:00:06.2", "0x060400\n", 5, "shpchp");
	ck_assert_int_eq(vfio_group_check(f.root, &h, &h, 1, err, sizeof(err)), -EBUSY);
	ck_assert_ptr_nonnull(strstr(err, "0000:00:06.2 in the same group is bound to shpchp"));
	fake_sys_remove(&f);
}
END_TEST

START_TEST(reserved_regions)
{
	struct fake_sys f;
	struct config_vfio nvme = vcfg("nvme", "0000:00:04.0", false);
	struct guest_mem mem = {
	    .nr_regions = 2,
	    .regions = {{.gpa = 0, .size = 3ULL << 30}, {.gpa = 4ULL << 30, .size = 1ULL << 30}}};
	struct vfio_resv r[4];
	struct vfio_host h;
	char err[1024];
	int n;

	fake_sys_create(&f);
	ck_assert_int_eq(vfio_host_probe(f.root, &nvme, &h, err, sizeof(err)), 0);
	n = vfio_group_reserved(f.root, 3, r, 4);
	ck_assert_int_eq(n, 1);
	ck_assert_uint_eq(r[0].start, 0xfee00000);
	ck_assert_uint_eq(r[0].end, 0xfeefffff);
	ck_assert_str_eq(r[0].type, "msi");
	ck_assert_int_eq(vfio_ram_check_reserved(r, n, &mem, &h, err, sizeof(err)), 0);
	/* No file (older kernels): nothing to check. */
	ck_assert_int_eq(vfio_group_reserved(f.root, 4, r, 4), 0);

	put(&f, "kernel/iommu_groups/3/reserved_regions",
	    "0x0000000000000000 0x0000000000ffffff direct-relaxable\n"
	    "0x00000000fee00000 0x00000000feefffff msi\n"
	    "0x0000000100000000 0x00000001000fffff direct\n");
	n = vfio_group_reserved(f.root, 3, r, 4);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(vfio_ram_check_reserved(r, n, &mem, &h, err, sizeof(err)), -ERANGE);
	ck_assert_str_eq(err, "[vfio.nvme] guest RAM [0x100000000-0x13fffffff] overlaps the "
			      "reserved region 0x100000000-0x1000fffff (direct) of IOMMU group 3 "
			      "(0000:00:04.0): the device could not DMA there; give the VM less "
			      "memory so that RAM stays clear of it");
	fake_sys_remove(&f);
}
END_TEST

START_TEST(memlock)
{
	char err[512];

	ck_assert_int_eq(vfio_memlock_check(256 << 20, 8 << 20, true, err, sizeof(err)), 0);
	ck_assert_int_eq(vfio_memlock_check(256 << 20, RLIM_INFINITY, false, err, sizeof(err)), 0);
	ck_assert_int_eq(vfio_memlock_check(256 << 20, 256 << 20, false, err, sizeof(err)), 0);
	ck_assert_int_eq(vfio_memlock_check(256 << 20, 8 << 20, false, err, sizeof(err)), -ENOMEM);
	ck_assert_str_eq(err, "guest RAM (256 MiB) must be pinned for device DMA, but "
			      "RLIMIT_MEMLOCK is 8192 KiB; raise it (ulimit -l unlimited, or "
			      "LimitMEMLOCK=infinity for a service) or run minivmm as root");
}
END_TEST

/* bind = auto on a fake tree: the kernel never moves the device, so the bind fails and
 * must be undone: unbound from where it was, override cleared, original driver bound. */
START_TEST(bind_auto_undone)
{
	struct fake_sys f;
	struct config_vfio nvme = vcfg("nvme", "0000:00:04.0", true);
	struct vfio_host h;
	char err[1024], buf[64];

	fake_sys_create(&f);
	ck_assert_int_eq(vfio_host_probe(f.root, &nvme, &h, err, sizeof(err)), 0);
	ck_assert_int_eq(vfio_host_bind(f.root, &h, err, sizeof(err)), -ENODEV);
	ck_assert_str_eq(err, "[vfio.nvme] bind = auto could not move 0000:00:04.0 from nvme to "
			      "vfio-pci: No such device (is vfio-pci loaded? modprobe vfio-pci)");
	ck_assert(!h.rebound);
	ck_assert_str_eq(get(&f, "bus/pci/drivers_probe", buf, sizeof(buf)), "0000:00:04.0");
	ck_assert_str_eq(get(&f, "bus/pci/drivers/nvme/unbind", buf, sizeof(buf)), "0000:00:04.0");
	ck_assert_str_eq(get(&f, "bus/pci/devices/0000:00:04.0/driver_override", buf, sizeof(buf)),
			 "\n");
	ck_assert_str_eq(get(&f, "bus/pci/drivers/nvme/bind", buf, sizeof(buf)), "0000:00:04.0");
	/* Already on vfio-pci: nothing to do, nothing to undo. */
	strcpy(h.driver, "vfio-pci");
	put(&f, "bus/pci/drivers_probe", "");
	ck_assert_int_eq(vfio_host_bind(f.root, &h, err, sizeof(err)), 0);
	ck_assert(!h.rebound);
	ck_assert_str_eq(get(&f, "bus/pci/drivers_probe", buf, sizeof(buf)), "");
	fake_sys_remove(&f);
}
END_TEST

START_TEST(iova_ranges)
{
	const struct vfio_iova_range r[] = {{0, 0xfedfffff}, {0xfef00000, (1ULL << 39) - 1}};

	ck_assert_int_eq(vfio_iova_check(r, 2, 0, 3ULL << 30), 0);
	ck_assert_int_eq(vfio_iova_check(r, 2, 4ULL << 30, 1ULL << 30), 0);
	ck_assert_int_eq(vfio_iova_check(r, 2, 0xfe000000, 0x2000000), -ERANGE);
	ck_assert_int_eq(vfio_iova_check(r, 2, 1ULL << 39, 4096), -ERANGE);
	ck_assert_int_eq(vfio_iova_check(r, 0, 0xfee00000, 4096), 0); /* unknown: accepted */
}
END_TEST

START_TEST(msi_vector_data)
{
	ck_assert_uint_eq(vfio_msi_data(0x4020, 1, 0), 0x4020);
	ck_assert_uint_eq(vfio_msi_data(0x4020, 4, 3), 0x4023);
	ck_assert_uint_eq(vfio_msi_data(0x4023, 4, 1), 0x4021);
	ck_assert_uint_eq(vfio_msi_data(0x41, 2, 0), 0x40);
	ck_assert_uint_eq(vfio_msi_data(0x40, 32, 31), 0x5f);
}
END_TEST

/* ---- BAR splitting ---- */

static void expect_pieces(const struct vfio_piece *got, int n, const struct vfio_piece *want,
			  int nwant)
{
	ck_assert_int_eq(n, nwant);
	for (int i = 0; i < n; i++) {
		ck_assert_uint_eq(got[i].off, want[i].off);
		ck_assert_uint_eq(got[i].len, want[i].len);
		ck_assert_int_eq(got[i].mmap, want[i].mmap);
	}
}

START_TEST(split_nvme_bar0)
{
	/* QEMU NVMe: 16 KiB BAR0, registers and doorbells, table at 0x2000 (65 vectors),
	 * PBA at 0x3000: everything before the table stays mapped. */
	const struct vfio_area mm[] = {{0, 0x4000}};
	const struct vfio_area trap[] = {{0x2000, 65 * 16}, {0x3000, 16}};
	const struct vfio_piece want[] = {{0, 0x2000, true}, {0x2000, 0x2000, false}};
	struct vfio_piece p[8];

	expect_pieces(p, vfio_bar_split(0x4000, mm, 1, trap, 2, PAGE, p, 8), want, 2);
}
END_TEST

START_TEST(split_e1000e_bar3)
{
	const struct vfio_area mm[] = {{0, 0x4000}};
	const struct vfio_area trap[] = {{0, 5 * 16}, {0x2000, 8}};
	const struct vfio_piece want[] = {{0, 0x1000, false},
					  {0x1000, 0x1000, true},
					  {0x2000, 0x1000, false},
					  {0x3000, 0x1000, true}};
	struct vfio_piece p[8];

	expect_pieces(p, vfio_bar_split(0x4000, mm, 1, trap, 2, PAGE, p, 8), want, 4);
}
END_TEST

START_TEST(split_unaligned_table)
{
	/* A table sharing its page with registers: the whole page is trapped (the
	 * registers in it are forwarded), the table's tail page too. */
	const struct vfio_area mm[] = {{0, 0x10000}};
	const struct vfio_area trap[] = {{0x1800, 0x1000}, {0x2800, 8}};
	const struct vfio_piece want[] = {
	    {0, 0x1000, true}, {0x1000, 0x2000, false}, {0x3000, 0xd000, true}};
	struct vfio_piece p[8];

	expect_pieces(p, vfio_bar_split(0x10000, mm, 1, trap, 2, PAGE, p, 8), want, 3);
}
END_TEST

/* A GPU-sized BAR with its MSI-X table and PBA in the middle (as some GPUs and NICs
 * place them in a large BAR): two mmap'd pieces of about 32 GiB around the two trapped
 * pages, offsets above 4 GiB kept exact. */
START_TEST(split_msix_in_a_64g_bar)
{
	const uint64_t g = 1ULL << 30;
	const struct vfio_area mm[] = {{0, 64 * g}};
	const struct vfio_area trap[] = {{32 * g, 0x800}, {32 * g + 0x1000, 8}};
	const struct vfio_piece want[] = {
	    {0, 32 * g, true}, {32 * g, 0x2000, false}, {32 * g + 0x2000, 32 * g - 0x2000, true}};
	struct vfio_piece p[8];

	expect_pieces(p, vfio_bar_split(64 * g, mm, 1, trap, 2, PAGE, p, 8), want, 3);
}
END_TEST

START_TEST(split_sparse_and_small)
{
	const struct vfio_area sparse[] = {{0, 0x1000}, {0x3000, 0x1000}};
	const struct vfio_piece want_sparse[] = {
	    {0, 0x1000, true}, {0x1000, 0x2000, false}, {0x3000, 0x1000, true}};
	/* A region of 6 KiB in an 8 KiB guest BAR: the partial page and the tail trap. */
	const struct vfio_area small[] = {{0, 0x1800}};
	const struct vfio_piece want_small[] = {{0, 0x1000, true}, {0x1000, 0x1000, false}};
	/* Unaligned sparse areas shrink to whole pages. */
	const struct vfio_area odd[] = {{0x800, 0x2000}};
	const struct vfio_piece want_odd[] = {
	    {0, 0x1000, false}, {0x1000, 0x1000, true}, {0x2000, 0x2000, false}};
	const struct vfio_piece want_none[] = {{0, 0x4000, false}};
	struct vfio_piece p[8];

	expect_pieces(p, vfio_bar_split(0x4000, sparse, 2, NULL, 0, PAGE, p, 8), want_sparse, 3);
	expect_pieces(p, vfio_bar_split(0x2000, small, 1, NULL, 0, PAGE, p, 8), want_small, 2);
	expect_pieces(p, vfio_bar_split(0x4000, odd, 1, NULL, 0, PAGE, p, 8), want_odd, 3);
	expect_pieces(p, vfio_bar_split(0x4000, NULL, 0, NULL, 0, PAGE, p, 8), want_none, 1);
	ck_assert_int_eq(vfio_bar_split(0x4000, sparse, 2, NULL, 0, PAGE, p, 2), -E2BIG);
}
END_TEST

Suite *vfio_suite(void)
{
	Suite *s = suite_create("vfio");
	TCase *sys = tcase_create("sysfs");
	TCase *bars = tcase_create("bars");

	tcase_add_test(sys, bdf_normalize);
	tcase_add_test(sys, probe_and_driver);
	tcase_add_test(sys, probe_errors);
	tcase_add_test(sys, group_viability);
	tcase_add_test(sys, reserved_regions);
	tcase_add_test(sys, memlock);
	tcase_add_test(sys, bind_auto_undone);
	tcase_add_test(sys, iova_ranges);
	tcase_add_test(sys, msi_vector_data);
	tcase_add_test(bars, split_nvme_bar0);
	tcase_add_test(bars, split_e1000e_bar3);
	tcase_add_test(bars, split_unaligned_table);
	tcase_add_test(bars, split_sparse_and_small);
	tcase_add_test(bars, split_msix_in_a_64g_bar);
	suite_add_tcase(s, sys);
	suite_add_tcase(s, bars);
	return s;
}
