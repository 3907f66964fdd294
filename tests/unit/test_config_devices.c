/* Config: the device sections ([disk.NAME], [net.NAME], [rng], [vfio], [vfio.NAME]),
 * from the file and from --set. The core keys and the message table are in
 * test_config.c. */
#include "tests/unit/config_fixture.h"

/* Every key of the device sections; NAME keeps its dots and goes to lower case. */
START_TEST(device_keys)
{
	char path[PATH_MAX], want[PATH_MAX + 64], err[256];
	struct config cfg;
	struct tmp t;

	tmp_make(&t);
	tmp_write(&t, "sub/vm.ini",
		  K "[console]\ndevice = Virtio\n"				    /* 3 */
		    "[rng]\n"							    /* 5 */
		    "[vfio]\nbackend = iommufd\n"				    /* 6 */
		    "[disk.root]\npath = root.img\nreadonly = yes\n"		    /* 8 */
		    "[Disk.Data.2]\npath = /d/data.img\n"			    /* 11 */
		    "[net.eth0]\ntap = tap0\nmac = 52:54:00:AB:cd:0e\nqueues = 8\n" /* 13 */
		    "[net.eth1]\ntap = br-tap.1\n"				    /* 17 */
		    "[vfio.nic]\nhost = 00:1F.7\nbind = auto\n"			    /* 19 */
		    "[vfio.gpu]\nhost = ABCD:3a:00.0\nbind = MANUAL\n"		    /* 22 */
		    "[vfio.mdev]\nuuid = 83B8F4F2-509F-382F-3C1E-E6BFE0FA1001\n"    /* 25 */
		    "[vfio.other]\nsysfs = /sys/devices/pci0000:00/0000:00:05.0\n", /* 27 */
		  path);
	ck_assert_int_eq(config_load(&cfg, path, NULL, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.console.device, CONSOLE_DEV_VIRTIO);
	ck_assert(cfg.rng);
	ck_assert_int_eq(cfg.vfio_backend, VFIO_BACKEND_IOMMUFD);

	ck_assert_uint_eq(cfg.nr_disks, 2);
	ck_assert_str_eq(cfg.disks[0].name, "root");
	snprintf(want, sizeof(want), "%s/sub/root.img", t.real); /* like kernel */
	ck_assert_str_eq(cfg.disks[0].path, want);
	ck_assert(cfg.disks[0].readonly);
	ck_assert_int_eq(cfg.disks[0].line, 8);
	ck_assert_str_eq(cfg.disks[1].name, "data.2");
	ck_assert_str_eq(cfg.disks[1].path, "/d/data.img");
	ck_assert(!cfg.disks[1].readonly);
	ck_assert_int_eq(cfg.disks[1].line, 11);

	ck_assert_uint_eq(cfg.nr_nets, 2);
	ck_assert_str_eq(cfg.nets[0].name, "eth0");
	ck_assert_str_eq(cfg.nets[0].tap, "tap0");
	ck_assert(cfg.nets[0].mac_set);
	ck_assert_mem_eq(cfg.nets[0].mac, ((uint8_t[]){0x52, 0x54, 0x00, 0xab, 0xcd, 0x0e}), 6);
	ck_assert_uint_eq(cfg.nets[0].queues, 8);
	ck_assert_int_eq(cfg.nets[0].line, 13);
	ck_assert_str_eq(cfg.nets[1].tap, "br-tap.1");
	ck_assert(!cfg.nets[1].mac_set);
	ck_assert_uint_eq(cfg.nets[1].queues, 1);
	ck_assert_int_eq(cfg.nets[1].line, 17);

	ck_assert_uint_eq(cfg.nr_vfio, 4);
	ck_assert_str_eq(cfg.vfio[0].name, "nic");
	ck_assert_str_eq(cfg.vfio[0].host, "0000:00:1f.7");
	ck_assert_str_eq(cfg.vfio[0].sysfs, "");
	ck_assert(cfg.vfio[0].bind_auto);
	ck_assert_int_eq(cfg.vfio[0].line, 19);
	ck_assert_str_eq(cfg.vfio[1].host, "abcd:3a:00.0");
	ck_assert(!cfg.vfio[1].bind_auto);
	ck_assert_str_eq(cfg.vfio[2].host, "");
	ck_assert_str_eq(cfg.vfio[2].sysfs,
			 "/sys/bus/mdev/devices/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001");
	ck_assert(!cfg.vfio[2].bind_auto); /* manual by default */
	ck_assert_str_eq(cfg.vfio[3].sysfs, "/sys/devices/pci0000:00/0000:00:05.0");
	ck_assert_int_eq(cfg.vfio[3].line, 27);
	tmp_remove(&t);
}
END_TEST

START_TEST(booleans)
{
	static const char *const on[] = {"on", "ON", "true", "True", "yes", "1"};
	static const char *const off[] = {"off", "Off", "false", "no", "NO", "0"};
	char text[256];
	struct config cfg;

	for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
		snprintf(text, sizeof(text), K "[disk.a]\npath = /a\nreadonly = %s\n", on[i]);
		expect_load(&cfg, text, NULL, 0, 0, "");
		ck_assert_msg(cfg.disks[0].readonly, "%s", on[i]);
		snprintf(text, sizeof(text), K "[rng]\nenabled = %s\n", on[i]);
		expect_load(&cfg, text, NULL, 0, 0, "");
		ck_assert_msg(cfg.rng, "%s", on[i]);
	}
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
		snprintf(text, sizeof(text), K "[disk.a]\npath = /a\nreadonly = %s\n", off[i]);
		expect_load(&cfg, text, NULL, 0, 0, "");
		ck_assert_msg(!cfg.disks[0].readonly, "%s", off[i]);
		snprintf(text, sizeof(text), K "[rng]\nenabled = %s\n", off[i]);
		expect_load(&cfg, text, NULL, 0, 0, "");
		ck_assert_msg(!cfg.rng, "%s", off[i]);
	}
}
END_TEST

/* The short form is domain 0; hex in either case; the result is always lower case. */
START_TEST(pci_addresses)
{
	static const struct {
		const char *in, *out;
	} good[] = {
	    {"00:04.0", "0000:00:04.0"},      {"0000:00:04.0", "0000:00:04.0"},
	    {"ff:1f.7", "0000:ff:1f.7"},      {"FF:1F.7", "0000:ff:1f.7"},
	    {"ffff:Ab:0c.3", "ffff:ab:0c.3"}, {"0001:00:00.0", "0001:00:00.0"},
	};
	char text[256];
	struct config cfg;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), K "[vfio.a]\nhost = %s\n", good[i].in);
		expect_load(&cfg, text, NULL, 0, 0, "");
		ck_assert_str_eq(cfg.vfio[0].host, good[i].out);
	}
}
END_TEST

/* 52:54:00 and three bytes from the name: the same for the same name, every time. */
START_TEST(default_mac)
{
	struct config a, b;

	expect_load(&a, K "[net.eth0]\ntap = t0\n[net.eth1]\ntap = t1\n", NULL, 0, 0, "");
	expect_load(&b, K "[net.eth1]\ntap = x\n[net.eth0]\ntap = y\n", NULL, 0, 0, "");
	for (int i = 0; i < 2; i++) {
		ck_assert(!a.nets[i].mac_set);
		ck_assert_mem_eq(a.nets[i].mac, ((uint8_t[]){0x52, 0x54, 0x00}), 3);
	}
	ck_assert_mem_ne(a.nets[0].mac, a.nets[1].mac, 6);
	ck_assert_mem_eq(a.nets[0].mac, b.nets[1].mac, 6); /* eth0 */
	ck_assert_mem_eq(a.nets[1].mac, b.nets[0].mac, 6); /* eth1 */
}
END_TEST

/* [rng] alone turns it on; without the section it is off. */
START_TEST(rng_section)
{
	struct config cfg;

	expect_load(&cfg, K, NULL, 0, 0, "");
	ck_assert(!cfg.rng);
	expect_load(&cfg, K "[rng]\n", NULL, 0, 0, "");
	ck_assert(cfg.rng);
	expect_load(&cfg, K "[rng]\nenabled = off\n", NULL, 0, 0, "");
	ck_assert(!cfg.rng);
}
END_TEST

/* Sections of the same name are one: one disk, the first header's line. */
START_TEST(duplicate_sections_merge)
{
	struct config cfg;

	expect_load(
	    &cfg,
	    K "[disk.a]\npath = /a\n[net.x]\ntap = t\n[DISK.A]\nreadonly = on\n"
	      "[vfio.v]\nbind = auto\n[vfio.v]\nuuid = 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001\n",
	    NULL, 0, 0, "");
	ck_assert_uint_eq(cfg.nr_disks, 1);
	ck_assert_str_eq(cfg.disks[0].path, "/a");
	ck_assert(cfg.disks[0].readonly);
	ck_assert_int_eq(cfg.disks[0].line, 3);
	ck_assert_uint_eq(cfg.nr_vfio, 1);
	ck_assert(cfg.vfio[0].bind_auto);
	ck_assert_int_eq(cfg.vfio[0].line, 9);
}
END_TEST

/* Exactly the maximum is fine; one more names the section that is one too many. */
START_TEST(too_many_devices)
{
	static const struct {
		const char *kind, *key, *value; /* value: %d is the device number */
		int max;
	} kinds[] = {
	    {"disk", "path", "/d%d", 8},
	    {"net", "tap", "tap%d", 4},
	    {"vfio", "host", "00:%02x.0", 8},
	};
	char text[1024], msg[128], value[32];
	struct config cfg;

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		int n = snprintf(text, sizeof(text), K);

		for (int i = 0; i <= kinds[k].max; i++) {
			snprintf(value, sizeof(value), kinds[k].value, i);
			n += snprintf(text + n, sizeof(text) - n, "[%s.d%d]\n%s = %s\n",
				      kinds[k].kind, i, kinds[k].key, value);
			if (i == kinds[k].max - 1) { /* [X.d0] again merges: still max */
				n += snprintf(text + n, sizeof(text) - n, "[%s.d0]\n",
					      kinds[k].kind);
				expect_load(&cfg, text, NULL, 0, 0, "");
			}
		}
		snprintf(msg, sizeof(msg), "vm.ini:%d: too many [%s.*] sections (at most %d)",
			 3 + 2 * kinds[k].max + 1, kinds[k].kind, kinds[k].max);
		expect_load(&cfg, text, NULL, 0, -EINVAL, msg);
	}
}
END_TEST

/* --set reaches the device sections and may make new ones (line 0), in --set order. */
START_TEST(overrides_devices)
{
	const char *ov[] = {
	    "disk.root.readonly=on",
	    "disk.new.path=new.img",
	    "DISK.New.Readonly = yes",
	    "disk.my.disk.path=/x", /* the key follows the last dot: NAME "my.disk" */
	    "net.eth0.tap=tap9",
	    "net.eth0.mac=52:54:00:00:00:01",
	    "vfio.nic.host=00:05.0",
	    "vfio.nic.bind=auto",
	    "vfio.old.host=0000:00:06.0", /* replaces its sysfs */
	    "rng.enabled=on",
	    "vfio.backend=legacy",
	    "console.device=virtio",
	};
	char cwd[PATH_MAX], want[PATH_MAX + 64];
	struct config cfg;

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	expect_load(&cfg, K "[disk.root]\npath = /r\n[vfio.old]\nsysfs = /sys/old\n", ov,
		    sizeof(ov) / sizeof(ov[0]), 0, "");
	ck_assert_uint_eq(cfg.nr_disks, 3);
	ck_assert_str_eq(cfg.disks[0].path, "/r");
	ck_assert(cfg.disks[0].readonly);
	ck_assert_int_eq(cfg.disks[0].line, 3);
	ck_assert_str_eq(cfg.disks[1].name, "new");
	snprintf(want, sizeof(want), "%s/new.img", cwd);
	ck_assert_str_eq(cfg.disks[1].path, want);
	ck_assert(cfg.disks[1].readonly);
	ck_assert_int_eq(cfg.disks[1].line, 0);
	ck_assert_str_eq(cfg.disks[2].name, "my.disk");
	ck_assert_str_eq(cfg.disks[2].path, "/x");
	ck_assert_uint_eq(cfg.nr_nets, 1);
	ck_assert_str_eq(cfg.nets[0].tap, "tap9");
	ck_assert(cfg.nets[0].mac_set);
	ck_assert_mem_eq(cfg.nets[0].mac, ((uint8_t[]){0x52, 0x54, 0, 0, 0, 1}), 6);
	ck_assert_uint_eq(cfg.nets[0].queues, 1);
	ck_assert_int_eq(cfg.nets[0].line, 0);
	ck_assert_uint_eq(cfg.nr_vfio, 2);
	ck_assert_str_eq(cfg.vfio[0].name, "old");
	ck_assert_str_eq(cfg.vfio[0].host, "0000:00:06.0");
	ck_assert_str_eq(cfg.vfio[0].sysfs, "");
	ck_assert_int_eq(cfg.vfio[0].line, 5);
	ck_assert_str_eq(cfg.vfio[1].name, "nic");
	ck_assert_str_eq(cfg.vfio[1].host, "0000:00:05.0");
	ck_assert(cfg.vfio[1].bind_auto);
	ck_assert_int_eq(cfg.vfio[1].line, 0);
	ck_assert(cfg.rng);
	ck_assert_int_eq(cfg.vfio_backend, VFIO_BACKEND_LEGACY);
	ck_assert_int_eq(cfg.console.device, CONSOLE_DEV_VIRTIO);
}
END_TEST

/* --set can turn [rng] off, and supply what a device section lacks. */
START_TEST(overrides_fill_in_devices)
{
	const char *ov[] = {"rng.enabled=off", "disk.a.path=/a",
			    "vfio.v.uuid=83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"};
	struct config cfg;

	expect_load(&cfg, K "[rng]\n[disk.a]\n[vfio.v]\n", ov, 3, 0, "");
	ck_assert(!cfg.rng);
	ck_assert_str_eq(cfg.disks[0].path, "/a");
	ck_assert_int_eq(cfg.disks[0].line, 4);
	ck_assert_str_eq(cfg.vfio[0].sysfs,
			 "/sys/bus/mdev/devices/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001");
}
END_TEST

/* One past the maximum through --set names the --set argument. */
START_TEST(overrides_too_many)
{
	const char *ov[] = {"net.e.tap=t4"};
	struct config cfg;

	expect_load(
	    &cfg, K "[net.a]\ntap = t0\n[net.b]\ntap = t1\n[net.c]\ntap = t2\n[net.d]\ntap = t3\n",
	    ov, 1, -EINVAL, "--set net.e.tap=t4: too many [net.*] sections (at most 4)");
}
END_TEST

/* The file's mistakes name lines; --set's the argument. */
START_TEST(overrides_device_clash)
{
	const char *ov[] = {"vfio.b.host=00:04.0"};
	struct config cfg;

	expect_load(&cfg, K "[vfio.a]\nhost = 00:04.0\n[vfio.b]\nhost = 00:05.0\n", ov, 1, -EINVAL,
		    "--set vfio.b.host=00:04.0: [vfio.b] host 0000:00:04.0 is already given to "
		    "[vfio.a] (line 3)");
	ov[0] = "vfio.a.host=00:05.0";
	expect_load(&cfg, K "[vfio.a]\nhost = 00:04.0\n[vfio.b]\nhost = 00:05.0\n", ov, 1, -EINVAL,
		    "vm.ini:5: [vfio.b] host 0000:00:05.0 is already given to [vfio.a] (--set "
		    "vfio.a.host=00:05.0)");
}
END_TEST

/* bind = auto gives the device back through sysfs at exit, which a chroot hides: the
 * combination is refused at load, naming both keys (with user, privdrop refuses it). */
START_TEST(chroot_refuses_bind_auto)
{
	const char *ov[] = {"security.chroot=/var/empty"};
	struct config cfg;

	expect_load(&cfg,
		    K "[security]\nchroot = /var/empty\n[vfio.nic]\nhost = 00:04.0\nbind = auto\n",
		    NULL, 0, -EINVAL,
		    "vm.ini:5: [vfio.nic] bind = auto cannot give the device back at exit from "
		    "inside [security] chroot = /var/empty (no sysfs there); bind it to vfio-pci "
		    "beforehand and remove bind = auto, or remove chroot");
	expect_load(&cfg, K "[vfio.nic]\nhost = 00:04.0\nbind = auto\n", ov, 1, -EINVAL,
		    "vm.ini:3: [vfio.nic] bind = auto cannot give the device back at exit from "
		    "inside [security] chroot = /var/empty (no sysfs there); bind it to vfio-pci "
		    "beforehand and remove bind = auto, or remove chroot");
	/* Either alone, or the chroot with bind = manual, is fine. */
	expect_load(&cfg, K "[security]\nchroot = /var/empty\n[vfio.nic]\nhost = 00:04.0\n", NULL,
		    0, 0, "");
	expect_load(&cfg, K "[vfio.nic]\nhost = 00:04.0\nbind = auto\n", NULL, 0, 0, "");
}
END_TEST

Suite *config_devices_suite(void)
{
	Suite *s = suite_create("config_devices");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, device_keys);
	tcase_add_test(tc, booleans);
	tcase_add_test(tc, pci_addresses);
	tcase_add_test(tc, default_mac);
	tcase_add_test(tc, rng_section);
	tcase_add_test(tc, duplicate_sections_merge);
	tcase_add_test(tc, too_many_devices);
	tcase_add_test(tc, overrides_devices);
	tcase_add_test(tc, overrides_fill_in_devices);
	tcase_add_test(tc, overrides_too_many);
	tcase_add_test(tc, overrides_device_clash);
	tcase_add_test(tc, chroot_refuses_bind_auto);
	suite_add_tcase(s, tc);
	return s;
}
