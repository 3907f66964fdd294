/* The iommufd backend and mediated devices without the kernel: mdev discovery and its
 * messages on a fake sysfs tree, VFIO cdev discovery, the choice of backend for
 * [vfio] backend = auto | iommufd | legacy (each refusal exact), the UAPI definitions
 * of vfio/uapi_compat.h against the kernel's ABI numbers, and the backend's open on a
 * /dev without iommufd. */
#include "tests/unit/unit.h"
#include "vfio/internal.h"
#include "vfio/iommu.h"
#include "vfio/uapi_compat.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UUID  "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"
#define GHOST "0b4c8bd8-5ad6-4c1d-9d2e-2f3a4b5c6d7e"

struct tree {
	char root[64];
};

static void mk(const struct tree *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mk(const struct tree *t, const char *fmt, ...)
{
	char rel[PATH_MAX], path[PATH_MAX + 64], cmd[PATH_MAX + 96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", t->root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	ck_assert_int_eq(system(cmd), 0);
}

static void put(const struct tree *t, const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->root, rel);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void ln(const struct tree *t, const char *rel, const char *target)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", t->root, rel);
	ck_assert_int_eq(symlink(target, path), 0);
}

static void tree_create(struct tree *t)
{
	snprintf(t->root, sizeof(t->root), "/tmp/minivmm-iommufd-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t->root));
	mk(t, "bus/mdev/devices");
	mk(t, "kernel/iommu_groups/6/devices");
}

static void tree_remove(struct tree *t)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->root);
	ck_assert_int_eq(system(cmd), 0);
}

/* The mtty sample's parent with its two types, and an mdev UUID of type mtty-2. */
static void fake_mtty(const struct tree *t, bool with_mdev)
{
	mk(t, "devices/virtual/mtty/mtty/mdev_supported_types/mtty-1");
	mk(t, "devices/virtual/mtty/mtty/mdev_supported_types/mtty-2");
	mk(t, "class/mdev_bus");
	ln(t, "class/mdev_bus/mtty", "../../devices/virtual/mtty/mtty");
	if (!with_mdev)
		return;
	mk(t, "devices/virtual/mtty/mtty/" UUID "/vfio-dev/vfio0");
	put(t, "devices/virtual/mtty/mtty/" UUID "/vfio-dev/vfio0/dev", "511:0\n");
	ln(t, "devices/virtual/mtty/mtty/" UUID "/mdev_type", "../mdev_supported_types/mtty-2");
	ln(t, "devices/virtual/mtty/mtty/" UUID "/iommu_group",
	   "../../../../kernel/iommu_groups/6");
	ln(t, "bus/mdev/devices/" UUID, "../../../devices/virtual/mtty/mtty/" UUID);
}

static struct config_vfio mdev_cfg(const char *name, const char *uuid)
{
	struct config_vfio c = {0};

	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.sysfs, sizeof(c.sysfs), "/sys/bus/mdev/devices/%s", uuid);
	return c;
}

START_TEST(uuid_shape)
{
	ck_assert(vfio_is_uuid(UUID));
	ck_assert(vfio_is_uuid("83B8F4F2-509F-382F-3C1E-E6BFE0FA1001"));
	ck_assert(!vfio_is_uuid("83b8f4f2-509f-382f-3c1e-e6bfe0fa100"));
	ck_assert(!vfio_is_uuid("83b8f4f2-509f-382f-3c1e-e6bfe0fa10011"));
	ck_assert(!vfio_is_uuid("83b8f4f2x509f-382f-3c1e-e6bfe0fa1001"));
	ck_assert(!vfio_is_uuid("83b8f4f2-509f-382f-3c1e-e6bfe0fa100g"));
	ck_assert(!vfio_is_uuid("0000:00:04.0"));
	ck_assert(!vfio_is_uuid(""));
}
END_TEST

START_TEST(mdev_found)
{
	struct tree t;
	struct config_vfio c = mdev_cfg("tty", UUID);
	struct vfio_host h;
	char err[1024];

	tree_create(&t);
	fake_mtty(&t, true);
	ck_assert_int_eq(vfio_host_probe(t.root, &c, &h, err, sizeof(err)), 0);
	ck_assert(h.mdev);
	ck_assert_str_eq(h.addr, UUID);
	ck_assert_str_eq(h.sysdev, "/sys/bus/mdev/devices/" UUID);
	ck_assert_str_eq(h.mdev_type, "mtty-2");
	ck_assert_int_eq(h.group, 6);
	ck_assert_str_eq(h.cdev, "vfio0");
	ck_assert_int_eq(h.cdev_state, VFIO_CDEV_OK);
	ck_assert_int_eq(h.device_fd, -1);
	/* No host driver to check, no group mates (its group is its own). */
	ck_assert_int_eq(vfio_host_check_driver(&h, err, sizeof(err)), 0);
	ck_assert_int_eq(vfio_group_check(t.root, &h, &h, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(vfio_host_bind(t.root, &h, err, sizeof(err)), 0);
	ck_assert(!h.rebound);
	/* By its device folder too. */
	snprintf(c.sysfs, sizeof(c.sysfs), "/sys/devices/virtual/mtty/mtty/%s", UUID);
	ck_assert_int_eq(vfio_host_probe(t.root, &c, &h, err, sizeof(err)), 0);
	ck_assert_str_eq(h.addr, UUID);
	ck_assert_int_eq(h.group, 6);
	tree_remove(&t);
}
END_TEST

START_TEST(mdev_missing)
{
	struct tree t;
	struct config_vfio c = mdev_cfg("ghost", GHOST);
	struct vfio_host h;
	char err[1024], path[PATH_MAX];

	tree_create(&t);
	/* No parent at all. */
	ck_assert_int_eq(vfio_host_probe(t.root, &c, &h, err, sizeof(err)), -ENODEV);
	ck_assert_str_eq(err, "[vfio.ghost] no mediated device " GHOST " on this host "
			      "(/sys/bus/mdev/devices/" GHOST " does not exist); no device here "
			      "offers mediated devices (/sys/class/mdev_bus is empty): load the "
			      "driver of the parent device, then create it with: echo " GHOST
			      " > /sys/class/mdev_bus/PARENT/mdev_supported_types/TYPE/create");
	/* mtty with its two types. */
	fake_mtty(&t, false);
	ck_assert_int_eq(vfio_host_probe(t.root, &c, &h, err, sizeof(err)), -ENODEV);
	ck_assert_str_eq(err, "[vfio.ghost] no mediated device " GHOST " on this host "
			      "(/sys/bus/mdev/devices/" GHOST " does not exist); create it with: "
			      "echo " GHOST " > /sys/class/mdev_bus/PARENT/mdev_supported_types/"
			      "TYPE/create, PARENT/TYPE being one of mtty/mtty-1, mtty/mtty-2");
	/* One type: the exact command. */
	snprintf(path, sizeof(path), "%s/devices/virtual/mtty/mtty/mdev_supported_types/mtty-1",
		 t.root);
	ck_assert_int_eq(rmdir(path), 0);
	ck_assert_int_eq(vfio_host_probe(t.root, &c, &h, err, sizeof(err)), -ENODEV);
	ck_assert_str_eq(err, "[vfio.ghost] no mediated device " GHOST " on this host "
			      "(/sys/bus/mdev/devices/" GHOST " does not exist); create it with: "
			      "echo " GHOST " > /sys/class/mdev_bus/mtty/mdev_supported_types/"
			      "mtty-2/create");
	tree_remove(&t);
}
END_TEST

START_TEST(mdev_refused)
{
	struct tree t;
	struct config_vfio c = mdev_cfg("tty", UUID);
	struct config_vfio odd = {.name = "odd", .sysfs = "/sys/devices/virtual/mtty/mtty"};
	struct vfio_host h;
	char err[1024], path[PATH_MAX];

	tree_create(&t);
	fake_mtty(&t, true);
	c.bind_auto = true;
	ck_assert_int_eq(vfio_host_probe(t.root, &c, &h, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err,
			 "[vfio.tty] bind = auto is for PCI functions; the mediated device " UUID
			 " stays on its vendor driver: remove bind = auto from [vfio.tty]");
	c.bind_auto = false;
	snprintf(path, sizeof(path), "%s/devices/virtual/mtty/mtty/%s/iommu_group", t.root, UUID);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(vfio_host_probe(t.root, &c, &h, err, sizeof(err)), -ENODEV);
	ck_assert_str_eq(
	    err, "[vfio.tty] the mediated device " UUID " is not a VFIO device "
		 "(/sys/bus/mdev/devices/" UUID "/iommu_group is missing): its vendor "
		 "driver did not register it with VFIO; see /sys/bus/mdev/devices/" UUID "/driver");
	ck_assert_int_eq(vfio_host_probe(t.root, &odd, &h, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "[vfio.odd] /sys/devices/virtual/mtty/mtty is neither a PCI function "
			      "nor a mediated device (its last component is not a PCI address or "
			      "a UUID)");
	tree_remove(&t);
}
END_TEST

/* A PCI function on vfio-pci in group 3, with or without parts of its vfio-dev. */
static void fake_pci(const struct tree *t, const char *drv)
{
	char target[128];

	mk(t, "bus/pci/devices/0000:00:04.0");
	mk(t, "bus/pci/drivers/%s", drv);
	mk(t, "kernel/iommu_groups/3/devices");
	put(t, "bus/pci/devices/0000:00:04.0/class", "0x010802\n");
	snprintf(target, sizeof(target), "../../../../bus/pci/drivers/%s", drv);
	ln(t, "bus/pci/devices/0000:00:04.0/driver", target);
	ln(t, "bus/pci/devices/0000:00:04.0/iommu_group", "../../../../kernel/iommu_groups/3");
}

START_TEST(cdev_states)
{
	struct tree t;
	struct config_vfio c = {.name = "nvme", .host = "0000:00:04.0"};
	struct vfio_host h;
	char err[1024], path[PATH_MAX];

	tree_create(&t);
	fake_pci(&t, "vfio-pci");
	ck_assert_int_eq(vfio_host_probe(t.root, &c, &h, err, sizeof(err)), 0);
	ck_assert_str_eq(h.sysdev, "/sys/bus/pci/devices/0000:00:04.0");
	ck_assert_int_eq(h.cdev_state, VFIO_CDEV_NO_DIR);
	mk(&t, "bus/pci/devices/0000:00:04.0/vfio-dev");
	vfio_host_find_cdev(t.root, &h);
	ck_assert_int_eq(h.cdev_state, VFIO_CDEV_EMPTY);
	mk(&t, "bus/pci/devices/0000:00:04.0/vfio-dev/vfio12");
	vfio_host_find_cdev(t.root, &h);
	ck_assert_int_eq(h.cdev_state, VFIO_CDEV_NO_NODE);
	ck_assert_str_eq(h.cdev, "vfio12");
	put(&t, "bus/pci/devices/0000:00:04.0/vfio-dev/vfio12/dev", "511:12\n");
	ck_assert_int_eq(vfio_host_probe(t.root, &c, &h, err, sizeof(err)), 0);
	ck_assert_int_eq(h.cdev_state, VFIO_CDEV_OK);
	ck_assert_str_eq(h.cdev, "vfio12");
	/* On another driver (bind = auto pending): not looked at yet. */
	snprintf(path, sizeof(path), "%s/bus/pci/devices/0000:00:04.0/driver", t.root);
	ck_assert_int_eq(unlink(path), 0);
	ln(&t, "bus/pci/devices/0000:00:04.0/driver", "../../../../bus/pci/drivers/nvme");
	c.bind_auto = true;
	ck_assert_int_eq(vfio_host_probe(t.root, &c, &h, err, sizeof(err)), 0);
	ck_assert_int_eq(h.cdev_state, VFIO_CDEV_UNKNOWN);
	tree_remove(&t);
}
END_TEST

static struct vfio_host host(const char *addr, bool mdev, enum vfio_cdev_state st)
{
	struct vfio_host h = {.mdev = mdev, .cdev_state = st};

	snprintf(h.addr, sizeof(h.addr), "%s", addr);
	snprintf(h.sysdev, sizeof(h.sysdev), "%s%s",
		 mdev ? "/sys/bus/mdev/devices/" : "/sys/bus/pci/devices/", addr);
	if (st == VFIO_CDEV_OK || st == VFIO_CDEV_NO_NODE)
		snprintf(h.cdev, sizeof(h.cdev), "vfio1");
	return h;
}

/* pick(...) with the messages in why / err. */
static int pick(enum vfio_backend want, bool have, const struct vfio_host *h, unsigned int n,
		bool final, const struct vfio_iommu_ops **ops, char *why, char *err)
{
	*ops = NULL;
	why[0] = err[0] = 0;
	return vfio_backend_pick(want, have, h, n, final, ops, why, 256, err, 1024);
}

START_TEST(backend_choice)
{
	struct vfio_host hs[2] = {host("0000:00:04.0", false, VFIO_CDEV_OK),
				  host(UUID, true, VFIO_CDEV_OK)};
	const struct vfio_iommu_ops *ops;
	char why[256], err[1024];

	ck_assert_int_eq(pick(VFIO_BACKEND_LEGACY, true, hs, 2, true, &ops, why, err), 0);
	ck_assert_ptr_eq(ops, &vfio_container_ops);
	ck_assert_str_eq(why, "as configured");
	ck_assert_int_eq(pick(VFIO_BACKEND_IOMMUFD, true, hs, 2, true, &ops, why, err), 0);
	ck_assert_ptr_eq(ops, &vfio_iommufd_ops);
	ck_assert_str_eq(ops->name, "iommufd");
	ck_assert_int_eq(pick(VFIO_BACKEND_AUTO, true, hs, 2, true, &ops, why, err), 0);
	ck_assert_ptr_eq(ops, &vfio_iommufd_ops);
	ck_assert_str_eq(why, "auto: /dev/iommu and a VFIO device cdev for every device");
	ck_assert_int_eq(pick(VFIO_BACKEND_AUTO, false, hs, 2, true, &ops, why, err), 0);
	ck_assert_ptr_eq(ops, &vfio_container_ops);
	ck_assert_str_eq(why, "auto: no /dev/iommu");
	ck_assert_int_eq(pick(VFIO_BACKEND_IOMMUFD, false, hs, 2, true, &ops, why, err), -ENODEV);
	ck_assert_str_eq(err, "[vfio] backend = iommufd, but /dev/iommu does not exist (the kernel "
			      "lacks CONFIG_IOMMUFD); use backend = legacy");

	hs[0] = host("0000:00:04.0", false, VFIO_CDEV_NO_DIR);
	ck_assert_int_eq(pick(VFIO_BACKEND_AUTO, true, hs, 2, true, &ops, why, err), 0);
	ck_assert_ptr_eq(ops, &vfio_container_ops);
	ck_assert_str_eq(why, "auto: 0000:00:04.0 has no VFIO device cdev");
	ck_assert_int_eq(pick(VFIO_BACKEND_IOMMUFD, true, hs, 2, true, &ops, why, err), -ENODEV);
	ck_assert_str_eq(err, "[vfio] backend = iommufd, but 0000:00:04.0 has no VFIO device node "
			      "(/sys/bus/pci/devices/0000:00:04.0/vfio-dev is missing: the kernel "
			      "lacks CONFIG_VFIO_DEVICE_CDEV); use backend = legacy");
	hs[0] = host("0000:00:04.0", false, VFIO_CDEV_EMPTY);
	ck_assert_int_eq(pick(VFIO_BACKEND_IOMMUFD, true, hs, 2, true, &ops, why, err), -ENODEV);
	ck_assert_str_eq(err,
			 "[vfio] backend = iommufd, but 0000:00:04.0 has no VFIO device node "
			 "(/sys/bus/pci/devices/0000:00:04.0/vfio-dev is empty); use backend = "
			 "legacy");
	hs[0] = host("0000:00:04.0", false, VFIO_CDEV_OK);
	hs[1] = host(UUID, true, VFIO_CDEV_NO_NODE);
	ck_assert_int_eq(pick(VFIO_BACKEND_IOMMUFD, true, hs, 2, true, &ops, why, err), -ENODEV);
	ck_assert_str_eq(err, "[vfio] backend = iommufd, but the mediated device " UUID " has no "
			      "VFIO device node (/sys/bus/mdev/devices/" UUID "/vfio-dev/vfio1 has "
			      "no dev: the kernel lacks CONFIG_VFIO_DEVICE_CDEV); use backend = "
			      "legacy");

	/* A device bind = auto has yet to move: no verdict before, legacy after. */
	hs[1] = host("0000:00:05.0", false, VFIO_CDEV_UNKNOWN);
	ck_assert_int_eq(pick(VFIO_BACKEND_IOMMUFD, true, hs, 2, false, &ops, why, err), 0);
	ck_assert_int_eq(pick(VFIO_BACKEND_IOMMUFD, true, hs, 2, true, &ops, why, err), -ENODEV);
	ck_assert_ptr_nonnull(strstr(err, "0000:00:05.0 has no VFIO device node"));
	ck_assert_int_eq(pick(VFIO_BACKEND_AUTO, true, hs, 2, true, &ops, why, err), 0);
	ck_assert_ptr_eq(ops, &vfio_container_ops);
}
END_TEST

/* uapi_compat.h must match the kernel's numbers and layouts, whichever header won. */
START_TEST(uapi_numbers)
{
	ck_assert_uint_eq(IOMMU_IOAS_ALLOC, 0x3b81);
	ck_assert_uint_eq(IOMMU_IOAS_IOVA_RANGES, 0x3b84);
	ck_assert_uint_eq(IOMMU_IOAS_MAP, 0x3b85);
	ck_assert_uint_eq(IOMMU_IOAS_UNMAP, 0x3b86);
	ck_assert_uint_eq(IOMMU_DESTROY, 0x3b80);
	ck_assert_uint_eq(IOMMU_HWPT_ALLOC, 0x3b89);
	ck_assert_uint_eq(IOMMU_HWPT_SET_DIRTY_TRACKING, 0x3b8b);
	ck_assert_uint_eq(IOMMU_HWPT_GET_DIRTY_BITMAP, 0x3b8c);
	ck_assert_uint_eq(IOMMU_HWPT_DIRTY_TRACKING_ENABLE, 1);
	ck_assert_uint_eq(offsetof(struct iommu_hwpt_alloc, dev_id), 8);
	ck_assert_uint_eq(offsetof(struct iommu_hwpt_get_dirty_bitmap, iova), 16);
	ck_assert_uint_eq(offsetof(struct iommu_hwpt_get_dirty_bitmap, page_size), 32);
	ck_assert_uint_eq(VFIO_DEVICE_BIND_IOMMUFD, 0x3b76);
	ck_assert_uint_eq(VFIO_DEVICE_ATTACH_IOMMUFD_PT, 0x3b77);
	ck_assert_uint_eq(
	    IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE, 7);
	ck_assert_uint_eq(offsetof(struct iommu_ioas_map, user_va), 16);
	ck_assert_uint_eq(offsetof(struct iommu_ioas_map, iova), 32);
	ck_assert_uint_eq(offsetof(struct iommu_ioas_unmap, iova), 8);
	ck_assert_uint_eq(offsetof(struct iommu_ioas_iova_ranges, allowed_iovas), 16);
	ck_assert_uint_eq(offsetof(struct vfio_device_bind_iommufd, out_devid), 12);
	ck_assert_uint_eq(offsetof(struct vfio_device_attach_iommufd_pt, pt_id), 8);
}
END_TEST

/* Without /dev/iommu the backend refuses at open, with nothing left behind. */
START_TEST(open_without_iommufd)
{
	struct tree t;
	struct vfio_iommu *io = NULL;
	char dev[PATH_MAX];

	tree_create(&t);
	snprintf(dev, sizeof(dev), "%s/dev", t.root);
	mk(&t, "dev");
	ck_assert_int_eq(vfio_iommufd_ops.open(&io, dev), -ENOENT);
	ck_assert_ptr_null(io);
	/* Something that is not iommufd answers its ioctl with ENOTTY. */
	put(&t, "dev/iommu", "");
	ck_assert_int_eq(vfio_iommufd_ops.open(&io, dev), -ENOTTY);
	ck_assert_ptr_null(io);
	vfio_iommufd_ops.close(NULL);
	tree_remove(&t);
}
END_TEST

Suite *iommufd_suite(void)
{
	Suite *s = suite_create("iommufd");
	TCase *mdev = tcase_create("mdev");
	TCase *backend = tcase_create("backend");

	tcase_add_test(mdev, uuid_shape);
	tcase_add_test(mdev, mdev_found);
	tcase_add_test(mdev, mdev_missing);
	tcase_add_test(mdev, mdev_refused);
	tcase_add_test(backend, cdev_states);
	tcase_add_test(backend, backend_choice);
	tcase_add_test(backend, uapi_numbers);
	tcase_add_test(backend, open_without_iommufd);
	suite_add_tcase(s, mdev);
	suite_add_tcase(s, backend);
	return s;
}
