/* The VM description: INI parsing, --set overrides, the exact error messages, sizes.
 *
 * Every test writes its INI files to its own mkdtemp() folder and removes it at the end;
 * a failing test leaves it behind for inspection. Messages are written here with the
 * file as "vm.ini"; expect_load() puts the temp folder in front. */
#include "tests/unit/config_fixture.h"
#include "vmm/vm.h"

START_TEST(defaults)
{
	struct config cfg;

	expect_load(&cfg, "[vm]\nkernel = /boot/vmlinuz\n", NULL, 0, 0, "");
	ck_assert_str_eq(cfg.name, "minivmm");
	ck_assert_uint_eq(cfg.memory, 512ULL << 20);
	ck_assert_uint_eq(cfg.vcpus, 1);
	ck_assert_str_eq(cfg.kernel, "/boot/vmlinuz");
	ck_assert_str_eq(cfg.initrd, "");
	ck_assert_str_eq(cfg.cmdline, "console=ttyS0");
	ck_assert_int_eq(cfg.on_reboot, ON_REBOOT_EXIT);
	ck_assert(!cfg.hugepages);
	ck_assert(!cfg.cpu_pm);
	ck_assert_int_eq(cfg.console.mode, CONSOLE_STDIO);
	ck_assert_str_eq(cfg.console.path, "");
	ck_assert_int_eq(cfg.console.device, CONSOLE_DEV_SERIAL);
	ck_assert(!cfg.rng);
	ck_assert_int_eq(cfg.vfio_backend, VFIO_BACKEND_AUTO);
	ck_assert_uint_eq(cfg.nr_disks, 0);
	ck_assert_uint_eq(cfg.nr_nets, 0);
	ck_assert_uint_eq(cfg.nr_vfio, 0);
}
END_TEST

START_TEST(all_keys)
{
	struct config cfg;

	expect_load(&cfg,
		    "[vm]\nname = web-1.test_a\nmemory = 2G\nvcpus = 64\nkernel = /k/bzImage\n"
		    "initrd = /k/initrd.cpio\ncmdline = console=ttyS0 root=/dev/vda rw\n"
		    "on_reboot = restart\nhugepages = on\ncpu_pm = yes\n\n[console]\nmode = file\n"
		    "path = /var/log/vm.log\n",
		    NULL, 0, 0, "");
	ck_assert(cfg.hugepages);
	ck_assert(cfg.cpu_pm);
	ck_assert_str_eq(cfg.name, "web-1.test_a");
	ck_assert_uint_eq(cfg.memory, 2ULL << 30);
	ck_assert_uint_eq(cfg.vcpus, 64);
	ck_assert_str_eq(cfg.kernel, "/k/bzImage");
	ck_assert_str_eq(cfg.initrd, "/k/initrd.cpio");
	ck_assert_str_eq(cfg.cmdline, "console=ttyS0 root=/dev/vda rw");
	ck_assert_int_eq(cfg.on_reboot, ON_REBOOT_RESTART);
	ck_assert_int_eq(cfg.console.mode, CONSOLE_FILE);
	ck_assert_str_eq(cfg.console.path, "/var/log/vm.log");
}
END_TEST

/* Relative to the INI file's folder, whatever the current directory is. */
START_TEST(relative_paths)
{
	char path[PATH_MAX], want[PATH_MAX + 64], err[256];
	struct config cfg;
	struct tmp t;

	tmp_make(&t);
	tmp_write(&t, "sub/vm.ini",
		  "[vm]\nkernel = bzImage\ninitrd = ../img/initrd\n"
		  "[console]\nmode = file\npath = logs/console.log\n",
		  path);
	ck_assert_int_eq(config_load(&cfg, path, NULL, 0, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.file, path);
	snprintf(want, sizeof(want), "%s/sub/bzImage", t.real);
	ck_assert_str_eq(cfg.kernel, want);
	snprintf(want, sizeof(want), "%s/sub/../img/initrd", t.real);
	ck_assert_str_eq(cfg.initrd, want);
	snprintf(want, sizeof(want), "%s/sub/logs/console.log", t.real);
	ck_assert_str_eq(cfg.console.path, want);
	tmp_remove(&t);
}
END_TEST

START_TEST(quotes_comments_case)
{
	struct config cfg;

	expect_load(&cfg,
		    "; a comment\n# another\n\n  [ VM ]  \r\n"
		    "Kernel = \"/k\"   ; trailing comment\r\n"
		    "NAME = 'vm-1'\n"
		    "cmdline = \"console=ttyS0 ; not a comment # nor this\"\n"
		    "memory = 1536m ; 1.5 GiB\n"
		    "vcpus=4# four\n"
		    "on_reboot = RESTART\n"
		    "initrd = \"/boot/initrd \" ; quotes keep spaces\n"
		    "[console]\nmode = None\npath =\n",
		    NULL, 0, 0, "");
	ck_assert_str_eq(cfg.kernel, "/k");
	ck_assert_str_eq(cfg.name, "vm-1");
	ck_assert_str_eq(cfg.cmdline, "console=ttyS0 ; not a comment # nor this");
	ck_assert_uint_eq(cfg.memory, 1536ULL << 20);
	ck_assert_uint_eq(cfg.vcpus, 4);
	ck_assert_int_eq(cfg.on_reboot, ON_REBOOT_RESTART);
	ck_assert_str_eq(cfg.initrd, "/boot/initrd ");
	ck_assert_int_eq(cfg.console.mode, CONSOLE_NONE);
	ck_assert_str_eq(cfg.console.path, "");
}
END_TEST

/* One pair of quotes goes, in the file (iniparser) and in --set (config.c), not two:
 * otherwise config_print could not write a value that itself starts with a quote. */
START_TEST(quotes_removed_once)
{
	const char *ov[] = {"vm.cmdline = \"'c d'\" "};
	struct config cfg;

	expect_load(&cfg, K "cmdline = \"'a b'\"\n", NULL, 0, 0, "");
	ck_assert_str_eq(cfg.cmdline, "'a b'");
	expect_load(&cfg, K, ov, 1, 0, "");
	ck_assert_str_eq(cfg.cmdline, "'c d'");
}
END_TEST

/* A console path without mode = file is accepted (and ignored by the VMM), so that
 * --set console.mode=stdio can switch a file console off. */
START_TEST(console_path_without_file_mode)
{
	struct config cfg;

	expect_load(&cfg, "[vm]\nkernel = /k\n[console]\npath = /c.log\n", NULL, 0, 0, "");
	ck_assert_int_eq(cfg.console.mode, CONSOLE_STDIO);
	ck_assert_str_eq(cfg.console.path, "/c.log");
}
END_TEST

START_TEST(print_round_trips)
{
	char path[PATH_MAX], out[PATH_MAX], want[4 * TMPDIR_MAX + 2048], err[256], *text = NULL;
	struct config a, b;
	const uint8_t *m;
	size_t len;
	struct tmp t;
	FILE *f;

	tmp_make(&t);
	tmp_write(&t, "vm.ini",
		  "[vfio.nic]\nhost = 00:05.0\nbind = auto\n" /* printed in a fixed order */
		  "[net.eth1]\ntap = tap1\nqueues = 4\n"
		  "[vm]\nname = vm-1\nmemory = 1536M\nvcpus = 4\nkernel = bz\n"
		  "cmdline = \"console=ttyS0 ; x\"\non_reboot = restart\n"
		  "phys_bits = 39\nmmio64_hotplug = 64g\nshared_memory = ON\n"
		  "[console]\nmode = file\npath = c.log\ndevice = virtio\n"
		  "[disk.root]\npath = root.img\nreadonly = on\n"
		  "[disk.data]\npath = \"/d/a;b.img\"\n"
		  "[net.eth0]\ntap = tap0\nmac = 52:54:00:AB:CD:EF\n"
		  "[vfio.mdev]\nuuid = 83B8F4F2-509F-382F-3C1E-E6BFE0FA1001\n"
		  "[vfio.sys]\nsysfs = \"/sys/x#1\"\n"
		  "[rng]\n"
		  "[vfio]\nbackend = legacy\n"
		  "[migration]\ndowntime_ms = 50\n",
		  path);
	ck_assert_int_eq(config_load(&a, path, NULL, 0, err, sizeof(err)), 0);
	f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	config_print(&a, f);
	ck_assert_int_eq(fclose(f), 0);
	m = a.nets[0].mac; /* eth1: derived from the name */
	snprintf(want, sizeof(want),
		 "[vm]\nname = vm-1\nmemory = 1536M\nvcpus = 4\nkernel = %s/bz\ninitrd = \"\"\n"
		 "cmdline = \"console=ttyS0 ; x\"\non_reboot = restart\nhugepages = off\ncpu_pm = "
		 "off\nshared_memory = on\nphys_bits = 39\nmmio64 = auto\nmmio64_hotplug = 64G\n\n"
		 "[console]\nmode = file\npath = %s/c.log\ndevice = virtio\n\n"
		 "[rng]\nenabled = on\n\n"
		 "[vfio]\nbackend = legacy\n\n"
		 "[security]\nseccomp = on\n\n"
		 "[migration]\ndowntime_ms = 50\nmax_rounds = 30\ntimeout = 30\n\n"
		 "[disk.root]\npath = %s/root.img\nreadonly = on\n\n"
		 "[disk.data]\npath = \"/d/a;b.img\"\nreadonly = off\n\n"
		 "[net.eth1]\ntap = tap1\n"
		 "; mac = %02x:%02x:%02x:%02x:%02x:%02x (derived from the name)\nqueues = 4\n\n"
		 "[net.eth0]\ntap = tap0\nmac = 52:54:00:ab:cd:ef\nqueues = 1\n\n"
		 "[vfio.nic]\nhost = 0000:00:05.0\nbind = auto\n\n"
		 "[vfio.mdev]\nsysfs = /sys/bus/mdev/devices/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001\n"
		 "bind = manual\n\n"
		 "[vfio.sys]\nsysfs = \"/sys/x#1\"\nbind = manual\n",
		 t.real, t.real, t.real, m[0], m[1], m[2], m[3], m[4], m[5]);
	ck_assert_str_eq(text, want);

	tmp_write(&t, "out.ini", text, out);
	free(text);
	ck_assert_int_eq(config_load(&b, out, NULL, 0, err, sizeof(err)), 0);
	ck_assert_str_eq(b.name, a.name);
	ck_assert_uint_eq(b.memory, a.memory);
	ck_assert_uint_eq(b.vcpus, a.vcpus);
	ck_assert_str_eq(b.kernel, a.kernel);
	ck_assert_str_eq(b.initrd, a.initrd);
	ck_assert_str_eq(b.cmdline, a.cmdline);
	ck_assert_int_eq(b.on_reboot, a.on_reboot);
	ck_assert_uint_eq(b.phys_bits, 39);
	ck_assert_uint_eq(b.mmio64, 0);
	ck_assert_uint_eq(b.mmio64_hotplug, 64ULL << 30);
	ck_assert(b.mmio64_hotplug_set);
	ck_assert_int_eq(b.console.mode, a.console.mode);
	ck_assert_str_eq(b.console.path, a.console.path);
	ck_assert_int_eq(b.console.device, a.console.device);
	ck_assert_int_eq(b.rng, a.rng);
	ck_assert_int_eq(b.vfio_backend, a.vfio_backend);
	ck_assert_uint_eq(b.migration.downtime_ms, 50);
	ck_assert_uint_eq(b.migration.max_rounds, a.migration.max_rounds);
	ck_assert_uint_eq(b.migration.timeout_s, a.migration.timeout_s);
	ck_assert_uint_eq(b.nr_disks, a.nr_disks);
	for (unsigned int i = 0; i < a.nr_disks; i++) {
		ck_assert_str_eq(b.disks[i].name, a.disks[i].name);
		ck_assert_str_eq(b.disks[i].path, a.disks[i].path);
		ck_assert_int_eq(b.disks[i].readonly, a.disks[i].readonly);
	}
	ck_assert_uint_eq(b.nr_nets, a.nr_nets);
	for (unsigned int i = 0; i < a.nr_nets; i++) {
		ck_assert_str_eq(b.nets[i].name, a.nets[i].name);
		ck_assert_str_eq(b.nets[i].tap, a.nets[i].tap);
		ck_assert_mem_eq(b.nets[i].mac, a.nets[i].mac, 6);
		ck_assert_int_eq(b.nets[i].mac_set, a.nets[i].mac_set);
		ck_assert_uint_eq(b.nets[i].queues, a.nets[i].queues);
	}
	ck_assert_uint_eq(b.nr_vfio, a.nr_vfio);
	for (unsigned int i = 0; i < a.nr_vfio; i++) {
		ck_assert_str_eq(b.vfio[i].name, a.vfio[i].name);
		ck_assert_str_eq(b.vfio[i].host, a.vfio[i].host);
		ck_assert_str_eq(b.vfio[i].sysfs, a.vfio[i].sysfs);
		ck_assert_int_eq(b.vfio[i].bind_auto, a.vfio[i].bind_auto);
	}
	tmp_remove(&t);
}
END_TEST

/* A device removed through the API is not printed: a snapshot's or migration's config
 * must not make it again. */
START_TEST(print_skips_unplugged)
{
	char *text = NULL;
	struct config cfg;
	size_t len;
	FILE *f;

	expect_load(&cfg,
		    "[vm]\nkernel = /k\n[disk.a]\npath = /a.img\n[disk.b]\npath = /b.img\n"
		    "[vfio.nvme]\nhost = 0000:00:04.0\n",
		    NULL, 0, 0, "");
	cfg.disks[0].unplugged = true;
	cfg.vfio[0].unplugged = true;
	cfg.disks[1].slot = 7;
	f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	config_print(&cfg, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_ptr_null(strstr(text, "[disk.a]"));
	ck_assert_ptr_null(strstr(text, "[vfio.nvme]"));
	ck_assert_ptr_nonnull(strstr(text, "[disk.b]\npath = /b.img\nreadonly = off\nslot = 7\n"));
	free(text);
}
END_TEST

/* Without devices: [rng] and [vfio] are printed all the same, and read back as off/auto. */
/* Guest RAM is a shareable memfd only when asked or when a back end must map it. */
START_TEST(shared_memory_follows_the_devices)
{
	struct config cfg;

	expect_load(&cfg, "[vm]\nkernel = /k\n[disk.a]\npath = /a.img\n", NULL, 0, 0, "");
	ck_assert_int_eq(cfg.shared_memory, SHARED_MEMORY_AUTO);
	ck_assert(!vm_shared_memory(&cfg));
	expect_load(&cfg, "[vm]\nkernel = /k\n[disk.a]\nvhost_user = /run/blk.sock\n", NULL, 0, 0,
		    "");
	ck_assert(vm_shared_memory(&cfg));
	expect_load(&cfg, "[vm]\nkernel = /k\n[fs.w]\nsocket = /run/fs.sock\n", NULL, 0, 0, "");
	ck_assert(vm_shared_memory(&cfg));
	expect_load(&cfg, "[vm]\nkernel = /k\nshared_memory = on\n", NULL, 0, 0, "");
	ck_assert(vm_shared_memory(&cfg));
	expect_load(&cfg, "[vm]\nkernel = /k\n[vfio.nic]\nhost = 0000:00:05.0\n", NULL, 0, 0, "");
	ck_assert(vm_shared_memory(&cfg));
	expect_load(&cfg, "[vm]\nkernel = /k\n[api]\nsocket = /run/vm.sock\n", NULL, 0, 0, "");
	ck_assert(vm_shared_memory(&cfg));
	expect_load(&cfg, "[vm]\nkernel = /k\nshared_memory = off\n[disk.a]\npath = /a.img\n", NULL,
		    0, 0, "");
	ck_assert(!vm_shared_memory(&cfg));
}
END_TEST

START_TEST(print_defaults)
{
	char *text = NULL;
	struct config cfg;
	size_t len;
	FILE *f;

	expect_load(&cfg, "[vm]\nkernel = /k\n", NULL, 0, 0, "");
	f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	config_print(&cfg, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_str_eq(
	    text,
	    "[vm]\nname = minivmm\nmemory = 512M\nvcpus = 1\nkernel = /k\n"
	    "initrd = \"\"\ncmdline = console=ttyS0\non_reboot = "
	    "exit\nhugepages = off\ncpu_pm = off\nshared_memory = auto\nphys_bits = host\nmmio64 = "
	    "auto\n\n"
	    "[console]\nmode = stdio\npath = \"\"\ndevice = serial\n\n"
	    "[rng]\nenabled = off\n\n[vfio]\nbackend = auto\n\n"
	    "[security]\nseccomp = on\n\n"
	    "[migration]\ndowntime_ms = 300\nmax_rounds = 30\ntimeout = 30\n");
	free(text);
}
END_TEST

static const struct {
	const char *text, *msg;
} bad_files[] = {
    {K "\n[Disk]\npath = x\n", "vm.ini:4: [disk] needs a name (use e.g. [disk.root])"},
    {K "memroy = 1G\n", "vm.ini:3: unknown key 'memroy' in [vm]"},
    {K "[console]\nmemory = 1G\n", "vm.ini:4: unknown key 'memory' in [console]"},
    {K "memory = 12Q\n", "vm.ini:3: memory '12Q' is not a size (use e.g. 512M or 2G)"},
    {K "memory = 1.5G\n", "vm.ini:3: memory '1.5G' is not a size (use e.g. 512M or 2G)"},
    {K "memory =\n", "vm.ini:3: memory '' is not a size (use e.g. 512M or 2G)"},
    {K "memory = 99999999999999999999\n",
     "vm.ini:3: memory '99999999999999999999' is not a size (use e.g. 512M or 2G)"},
    {K "memory = 1027M\n",
     "vm.ini:3: memory '1027M' is not a multiple of 2M (use e.g. 1026M or 1028M)"},
    {K "memory = 17000000\n",
     "vm.ini:3: memory '17000000' is not a multiple of 2M (use e.g. 16M or 18M)"},
    {K "memory = 8M\n", "vm.ini:3: memory '8M' is out of range (use 16M to 1T)"},
    {K "memory = 0\n", "vm.ini:3: memory '0' is out of range (use 16M to 1T)"},
    {K "memory = 1025G\n", "vm.ini:3: memory '1025G' is out of range (use 16M to 1T)"},
    {K "vcpus = 0\n", "vm.ini:3: vcpus must be between 1 and 64"},
    {K "[migration]\ndowntime_ms = 0\n", "vm.ini:4: downtime_ms must be between 1 and 60000"},
    {K "[disk.a]\npath = /a\nslot = 32\n", "vm.ini:5: slot must be between 1 and 31"},
    {K "[disk.a]\npath = /a\nslot = 3\n[rng]\nslot = 3\n",
     "vm.ini:3: [disk.a] slot 3 is [rng]'s already; give each device its own"},
    {K "[migration]\nmax_rounds = 1001\n", "vm.ini:4: max_rounds must be between 1 and 1000"},
    {K "[migration]\ntimeout = 1s\n", "vm.ini:4: timeout '1s' is not a number (use 1 to 3600)"},
    {K "[migration]\nbandwidth = 1\n", "vm.ini:4: unknown key 'bandwidth' in [migration]"},
    {K "vcpus = 65\n", "vm.ini:3: vcpus must be between 1 and 64"},
    {K "vcpus = 99999999999999999999999\n", "vm.ini:3: vcpus must be between 1 and 64"},
    {K "vcpus = two\n", "vm.ini:3: vcpus 'two' is not a number (use 1 to 64)"},
    {K "vcpus = -1\n", "vm.ini:3: vcpus '-1' is not a number (use 1 to 64)"},
    {K "vcpus =\n", "vm.ini:3: vcpus '' is not a number (use 1 to 64)"},
    {"[vm]\nname = x\n", "vm.ini: [vm] kernel is required"},
    {"[vm]\nkernel = \"\"\n", "vm.ini: [vm] kernel is required"},
    {"", "vm.ini: [vm] kernel is required"},
    {K "on_reboot = reset\n", "vm.ini:3: on_reboot 'reset' is not valid (use exit or restart)"},
    {K "hugepages = 1G\n", "vm.ini:3: hugepages '1G' is not valid (use on or off)"},
    {K "cpu_pm = halt\n", "vm.ini:3: cpu_pm 'halt' is not valid (use on or off)"},
    {K "shared_memory = yes\n", "vm.ini:3: shared_memory 'yes' is not valid (use auto, on or off)"},
    {K "shared_memory = off\n[vfio.nic]\nhost = 0000:00:05.0\n",
     "vm.ini: [vm] shared_memory = off, but [vfio.nic] passes a device through, whose DMA "
     "needs guest RAM that stays put; set shared_memory = auto or on"},
    {K "shared_memory = off\n[fs.work]\nsocket = /run/fs.sock\n",
     "vm.ini: [vm] shared_memory = off, but [fs.work] has a vhost-user back end, which maps "
     "guest RAM; set shared_memory = auto or on"},
    {K "[fs.w]\ntag = x\n",
     "vm.ini:3: [fs.w] needs one of socket (a virtiofsd you run: its --socket-path) or path "
     "(a folder: minivmm runs virtiofsd)"},
    {K "[fs.w]\nsocket = /run/fs.sock\npath = /\n",
     "vm.ini:3: [fs.w] needs one of socket (a virtiofsd you run: its --socket-path) or path "
     "(a folder: minivmm runs virtiofsd)"},
    {K "[fs.w]\npath = /nonexistent-minivmm\n",
     "vm.ini:4: path /nonexistent-minivmm: No such file or directory (the folder to share)"},
    {K "[fs.w]\npath = /dev/null\n", "vm.ini:4: path /dev/null is not a folder"},
    {K "[fs.w]\npath = /\nsandbox = jail\n",
     "vm.ini:5: sandbox 'jail' is not valid (use namespace, chroot or none: virtiofsd's "
     "--sandbox)"},
    {K "phys_bits = 31\n", "vm.ini:3: phys_bits must be between 32 and 52"},
    {K "phys_bits = max\n", "vm.ini:3: phys_bits 'max' is not a number (use 32 to 52)"},
    {K "mmio64 = 1536M\n",
     "vm.ini:3: mmio64 '1536M' is not a whole number of GiB up to 4096T (use e.g. 64G or auto)"},
    {K "mmio64 = 0\n", "vm.ini:3: mmio64 '0': use auto for a window sized from the devices"},
    {K "mmio64_hotplug = auto\n",
     "vm.ini:3: mmio64_hotplug 'auto' is not a whole number of GiB up to 4096T (use e.g. 64G)"},
    {K "[console]\nmode = tty\n", "vm.ini:4: mode 'tty' is not valid (use stdio, file or none)"},
    {K "[console]\nmode = file\n", "vm.ini: [console] path is required with mode = file"},
    {K "name = my vm\n",
     "vm.ini:3: name 'my vm' is not valid (use 1 to 63 letters, digits, '.', '_' or '-')"},
    {K "cmdline = a\033b\n", "vm.ini:3: cmdline contains a control character (use plain text)"},
    {K "\nthis is not ini\n",
     "vm.ini:4: syntax error in 'this is not ini' (expected [section] or key = value)"},
    {"[vm\nkernel = /k\n", "vm.ini:1: syntax error in '[vm' (expected [section] or key = value)"},
    {"[ ]\n", "vm.ini:1: syntax error in '[ ]' (expected [section] or key = value)"},
    {"[vm:x]\n", "vm.ini:1: syntax error in '[vm:x]' (expected [section] or key = value)"},
    {K " = 1\n", "vm.ini:3: syntax error in '= 1' (expected [section] or key = value)"},
    {"; vm\nmemory = 1G\n" K,
     "vm.ini:2: key 'memory' is outside any section (put it under [vm] or [console])"},
    {K "vcpus = 2\nKernel = /k2\n", "vm.ini:4: duplicate key 'kernel' in [vm] (first on line 2)"},
    {K "cmdline = a \\\n b\n",
     "vm.ini:3: line ends with '\\' (continuation lines are not supported)"},
    {K "; a comment \\\nvcpus = 2\n",
     "vm.ini:3: line ends with '\\' (continuation lines are not supported)"},
    /* Sections */
    {K "[net]\ntap = t\n", "vm.ini:3: [net] needs a name (use e.g. [net.eth0])"},
    {K "[disk.a b]\n",
     "vm.ini:3: disk name 'a b' is not valid (use 1 to 63 letters, digits, '.', '_' or '-')"},
    {K "[vfio.]\n",
     "vm.ini:3: vfio name '' is not valid (use 1 to 63 letters, digits, '.', '_' or '-')"},
    {K "[rng.x]\n", "vm.ini:3: unknown section [rng.x]"},
    {K "[vm.x]\n", "vm.ini:3: unknown section [vm.x]"},
    {K "[diskx.a]\n", "vm.ini:3: unknown section [diskx.a]"},
    {K "[disk.a]\npath = /a\nsize = 1G\n", "vm.ini:5: unknown key 'size' in [disk.a]"},
    {K "[rng]\nseed = 1\n", "vm.ini:4: unknown key 'seed' in [rng]"},
    {K "[vfio]\nhost = 00:04.0\n", "vm.ini:4: unknown key 'host' in [vfio]"},
    {K "[disk.a]\npath = /a\n[disk.A]\nPath = /b\n",
     "vm.ini:6: duplicate key 'path' in [disk.a] (first on line 4)"},
    /* [console], [rng], [vfio] */
    {K "[console]\ndevice = hvc\n", "vm.ini:4: device 'hvc' is not valid (use serial or virtio)"},
    {K "[rng]\nenabled = maybe\n", "vm.ini:4: enabled 'maybe' is not valid (use on or off)"},
    {K "[security]\nseccomp = maybe\n",
     "vm.ini:4: seccomp 'maybe' is not valid (use on, log or off)"},
    {K "[vfio]\nbackend = vfio\n",
     "vm.ini:4: backend 'vfio' is not valid (use auto, iommufd or legacy)"},
    /* [disk.NAME] */
    {K "[disk.a]\n",
     "vm.ini:3: [disk.a] needs one of path (an image) or vhost_user (a back end's socket)"},
    {K "[disk.a]\nreadonly = on\n",
     "vm.ini:3: [disk.a] needs one of path (an image) or vhost_user (a back end's socket)"},
    {K "[disk.a]\npath = \"\"\n",
     "vm.ini:3: [disk.a] needs one of path (an image) or vhost_user (a back end's socket)"},
    {K "[disk.a]\npath = /a\nreadonly = maybe\n",
     "vm.ini:5: readonly 'maybe' is not valid (use on or off)"},
    {K "[disk.a]\npath = /a\nreadonly =\n", "vm.ini:5: readonly '' is not valid (use on or off)"},
    /* [net.NAME] */
    {K "[net.a]\nqueues = 2\n",
     "vm.ini:3: [net.a] needs one of tap (a host tap device) or passt (passt's socket)"},
    {K "[net.a]\ntap = tap/0\n",
     "vm.ini:4: tap 'tap/0' is not an interface name (use 1 to 15 characters, no '/', ':' or "
     "spaces)"},
    {K "[net.a]\ntap = \"tap 0\"\n",
     "vm.ini:4: tap 'tap 0' is not an interface name (use 1 to 15 characters, no '/', ':' or "
     "spaces)"},
    {K "[net.a]\ntap = 0123456789abcdef\n",
     "vm.ini:4: tap '0123456789abcdef' is not an interface name (use 1 to 15 characters, no "
     "'/', ':' or spaces)"},
    {K "[net.a]\ntap =\n",
     "vm.ini:4: tap '' is not an interface name (use 1 to 15 characters, no '/', ':' or "
     "spaces)"},
    {K "[net.a]\ntap = t\nmac = 52:54:00:12:34\n",
     "vm.ini:5: mac '52:54:00:12:34' is not a MAC address (use e.g. 52:54:00:12:34:56)"},
    {K "[net.a]\ntap = t\nmac = 52-54-00-12-34-56\n",
     "vm.ini:5: mac '52-54-00-12-34-56' is not a MAC address (use e.g. 52:54:00:12:34:56)"},
    {K "[net.a]\ntap = t\nmac = 52:54:00:12:34:5g\n",
     "vm.ini:5: mac '52:54:00:12:34:5g' is not a MAC address (use e.g. 52:54:00:12:34:56)"},
    {K "[net.a]\ntap = t\nmac = 52:54:00:12:34:567\n",
     "vm.ini:5: mac '52:54:00:12:34:567' is not a MAC address (use e.g. 52:54:00:12:34:56)"},
    {K "[net.a]\ntap = t\nmac = 01:00:5e:00:00:01\n",
     "vm.ini:5: mac '01:00:5e:00:00:01' is a multicast address (the first byte must be even, "
     "e.g. 52:54:00:12:34:56)"},
    {K "[net.a]\ntap = t\nmac = FF:FF:FF:FF:FF:FF\n",
     "vm.ini:5: mac 'FF:FF:FF:FF:FF:FF' is a multicast address (the first byte must be even, "
     "e.g. 52:54:00:12:34:56)"},
    {K "[net.a]\ntap = t\nmac = 00:00:00:00:00:00\n",
     "vm.ini:5: mac '00:00:00:00:00:00' is all zeros (use e.g. 52:54:00:12:34:56)"},
    {K "[net.a]\ntap = t\nqueues = 0\n", "vm.ini:5: queues must be between 1 and 8"},
    {K "[net.a]\ntap = t\nqueues = 9\n", "vm.ini:5: queues must be between 1 and 8"},
    {K "[net.a]\ntap = t\nqueues = two\n", "vm.ini:5: queues 'two' is not a number (use 1 to 8)"},
    /* [vfio.NAME] */
    {K "[vfio.a]\nhost = 0000:00:04\n",
     "vm.ini:4: host '0000:00:04' is not a PCI address (use e.g. 0000:00:04.0)"},
    {K "[vfio.a]\nhost = 00:20.0\n",
     "vm.ini:4: host '00:20.0' is not a PCI address (the device is at most 1f)"},
    {K "[vfio.a]\nhost = 00:04.8\n",
     "vm.ini:4: host '00:04.8' is not a PCI address (the function is at most 7)"},
    {K "[vfio.a]\nhost = zz:00.0\n",
     "vm.ini:4: host 'zz:00.0' is not a PCI address (use e.g. 0000:00:04.0)"},
    {K "[vfio.a]\nhost = 0000:00:04.0.1\n",
     "vm.ini:4: host '0000:00:04.0.1' is not a PCI address (use e.g. 0000:00:04.0)"},
    {K "[vfio.a]\nhost = 00:4\n",
     "vm.ini:4: host '00:4' is not a PCI address (use e.g. 0000:00:04.0)"},
    {K "[vfio.a]\nhost = 0:04.0\n",
     "vm.ini:4: host '0:04.0' is not a PCI address (use e.g. 0000:00:04.0)"},
    {K "[vfio.a]\nhost = 00000:00:04.0\n",
     "vm.ini:4: host '00000:00:04.0' is not a PCI address (use e.g. 0000:00:04.0)"},
    {K "[vfio.a]\nhost =\n", "vm.ini:4: host '' is not a PCI address (use e.g. 0000:00:04.0)"},
    {K "[vfio.a]\nsysfs = /dev/vfio/1\n",
     "vm.ini:4: sysfs '/dev/vfio/1' is not under /sys/ (use e.g. /sys/bus/mdev/devices/UUID)"},
    {K "[vfio.a]\nsysfs = /sys/\n",
     "vm.ini:4: sysfs '/sys/' is not under /sys/ (use e.g. /sys/bus/mdev/devices/UUID)"},
    {K "[vfio.a]\nuuid = 83b8f4f2-509f-382f-3c1e-e6bfe0fa100\n",
     "vm.ini:4: uuid '83b8f4f2-509f-382f-3c1e-e6bfe0fa100' is not a UUID (use e.g. "
     "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001)"},
    {K "[vfio.a]\nuuid = 83b8f4f2509f382f3c1ee6bfe0fa1001\n",
     "vm.ini:4: uuid '83b8f4f2509f382f3c1ee6bfe0fa1001' is not a UUID (use e.g. "
     "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001)"},
    {K "[vfio.a]\nuuid = {83b8f4f2-509f-382f-3c1e-e6bfe0fa1001}\n",
     "vm.ini:4: uuid '{83b8f4f2-509f-382f-3c1e-e6bfe0fa1001}' is not a UUID (use e.g. "
     "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001)"},
    {K "[vfio.a]\nbind = yes\nhost = 00:04.0\n",
     "vm.ini:4: bind 'yes' is not valid (use auto or manual)"},
    {K "[vfio.a]\nhost = 00:04.0\nsysfs = /sys/x\n",
     "vm.ini:3: [vfio.a] has both host and sysfs (give one of host, sysfs or uuid)"},
    {K
     "[vfio.a]\nuuid = 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001\n[vfio.b]\n[vfio.a]\nhost = 00:04.0\n",
     "vm.ini:3: [vfio.a] has both uuid and host (give one of host, sysfs or uuid)"},
    {K "[vfio.a]\nbind = auto\n", "vm.ini:3: [vfio.a] needs one of host, sysfs or uuid"},
    {K "[vfio.a]\n", "vm.ini:3: [vfio.a] needs one of host, sysfs or uuid"},
    {K "\n[vfio.a]\nhost = 0000:00:04.0\n\n[vfio.c]\nhost = 00:05.0\n[vfio.b]\nhost = 00:04.0\n",
     "vm.ini:9: [vfio.b] host 0000:00:04.0 is already given to [vfio.a] (line 4)"},
    {K "[vfio.a]\nuuid = 83B8F4F2-509F-382F-3C1E-E6BFE0FA1001\n"
       "[vfio.b]\nsysfs = /sys/bus/mdev/devices/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001\n",
     "vm.ini:5: [vfio.b] sysfs /sys/bus/mdev/devices/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 is "
     "already given to [vfio.a] (line 3)"},
    {K "[net.a]\ntap = t\x01\n", "vm.ini:4: tap contains a control character (use plain text)"},
};

START_TEST(bad_file)
{
	struct config cfg;

	expect_load(&cfg, bad_files[_i].text, NULL, 0, -EINVAL, bad_files[_i].msg);
}
END_TEST

/* iniparser reads lines into 1024 bytes; longer ones get a message, not its stderr. */
START_TEST(long_lines)
{
	char text[1200];
	struct config cfg;

	snprintf(text, sizeof(text), K "cmdline = %01012d\n", 7); /* 1022 characters */
	expect_load(&cfg, text, NULL, 0, 0, "");
	ck_assert_uint_eq(strlen(cfg.cmdline), 1012);
	snprintf(text, sizeof(text), K "cmdline = %01013d\n", 7);
	expect_load(&cfg, text, NULL, 0, -EINVAL,
		    "vm.ini:3: line is too long (at most 1022 characters)");
}
END_TEST

START_TEST(unreadable_files)
{
	char missing[TMPDIR_MAX + 64], path[PATH_MAX], want[PATH_MAX + 64], err[PATH_MAX + 64];
	struct config cfg;
	struct tmp t;

	tmp_make(&t);
	snprintf(missing, sizeof(missing), "%s/vm.ini", t.dir);
	ck_assert_int_eq(config_load(&cfg, missing, NULL, 0, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: cannot read: No such file or directory", missing);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(config_load(&cfg, missing, NULL, 0, NULL, 0), -ENOENT);

	ck_assert_int_eq(config_load(&cfg, t.dir, NULL, 0, err, sizeof(err)), -EISDIR);
	snprintf(want, sizeof(want), "%s: cannot read: Is a directory", t.dir);
	ck_assert_str_eq(err, want);

	ck_assert_int_eq(config_load(&cfg, "/dev/null", NULL, 0, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err,
			 "/dev/null: is not a regular file (save the configuration to one first)");

	tmp_write_n(&t, "bin.ini", K "\0x", sizeof(K) + 1, path);
	ck_assert_int_eq(config_load(&cfg, path, NULL, 0, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: contains a NUL byte (not a text file?)", path);
	ck_assert_str_eq(err, want);
	tmp_remove(&t);
}
END_TEST

START_TEST(overrides)
{
	const char *ov[] = {
	    "vm.vcpus=4",
	    "vm.memory=2G",
	    "VM.Name = other",
	    "console.mode=file",
	    "console.path=out.log",
	    "vm.initrd=/abs/initrd",
	    "vm.cmdline=\"console=hvc0 quiet\"",
	    "vm.vcpus=8",
	};
	char cwd[PATH_MAX], want[PATH_MAX + 64];
	struct config cfg;

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	expect_load(&cfg, "[vm]\nvcpus = 2\nkernel = /k\n", ov, 8, 0, "");
	ck_assert_uint_eq(cfg.vcpus, 8); /* the last one wins */
	ck_assert_uint_eq(cfg.memory, 2ULL << 30);
	ck_assert_str_eq(cfg.name, "other");
	ck_assert_int_eq(cfg.console.mode, CONSOLE_FILE);
	snprintf(want, sizeof(want), "%s/out.log", cwd); /* --set paths: the cwd */
	ck_assert_str_eq(cfg.console.path, want);
	ck_assert_str_eq(cfg.initrd, "/abs/initrd");
	ck_assert_str_eq(cfg.cmdline, "console=hvc0 quiet");
	ck_assert_str_eq(cfg.kernel, "/k");
}
END_TEST

/* --set can supply what the file lacks, and empty a value the file set. */
START_TEST(overrides_fill_in)
{
	const char *ov[] = {"vm.kernel=bz", "vm.initrd="};
	char cwd[PATH_MAX], want[PATH_MAX + 64];
	struct config cfg;

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	expect_load(&cfg, "[vm]\ninitrd = /i\n", ov, 2, 0, "");
	snprintf(want, sizeof(want), "%s/bz", cwd);
	ck_assert_str_eq(cfg.kernel, want);
	ck_assert_str_eq(cfg.initrd, "");
}
END_TEST

static const struct {
	const char *ov[2], *msg;
} bad_overrides[] = {
    {{"vm.vcpus=0"}, "--set vm.vcpus=0: vcpus must be between 1 and 64"},
    {{"vm.vcpus=2", "vm.vcpus=x"}, "--set vm.vcpus=x: vcpus 'x' is not a number (use 1 to 64)"},
    {{"vm.memory=12Q"}, "--set vm.memory=12Q: memory '12Q' is not a size (use e.g. 512M or 2G)"},
    {{"vm.memroy=1G"}, "--set vm.memroy=1G: unknown key 'memroy' in [vm]"},
    {{"disk.path=x"}, "--set disk.path=x: [disk] needs a name (use e.g. [disk.root])"},
    {{"disk.new.readonly=on"},
     "--set disk.new.readonly=on: [disk.new] needs one of path (an image) or vhost_user (a back "
     "end's socket)"},
    {{"disk.new.readonly=maybe"},
     "--set disk.new.readonly=maybe: readonly 'maybe' is not valid (use on or off)"},
    {{"disk.a b.path=/x"},
     "--set disk.a b.path=/x: disk name 'a b' is not valid (use 1 to 63 letters, digits, '.', "
     "'_' or '-')"},
    {{"net.x.size=1"}, "--set net.x.size=1: unknown key 'size' in [net.x]"},
    {{"net.x.queues=2"},
     "--set net.x.queues=2: [net.x] needs one of tap (a host tap device) or passt (passt's "
     "socket)"},
    {{"net.x.tap=tap0", "net.x.queues=9"}, "--set net.x.queues=9: queues must be between 1 and 8"},
    {{"net.x.tap=t", "net.x.mac=03:00:00:00:00:01"},
     "--set net.x.mac=03:00:00:00:00:01: mac '03:00:00:00:00:01' is a multicast address (the "
     "first byte must be even, e.g. 52:54:00:12:34:56)"},
    {{"rng.seed=1"}, "--set rng.seed=1: unknown key 'seed' in [rng]"},
    {{"vfio.backend=vfio"},
     "--set vfio.backend=vfio: backend 'vfio' is not valid (use auto, iommufd or legacy)"},
    {{"vfio.nic.host=00:05"},
     "--set vfio.nic.host=00:05: host '00:05' is not a PCI address (use e.g. 0000:00:04.0)"},
    {{"vfio.nic.bind=auto"},
     "--set vfio.nic.bind=auto: [vfio.nic] needs one of host, sysfs or uuid"},
    {{"vfio.a.host=00:04.0", "vfio.b.host=0000:00:04.0"},
     "--set vfio.b.host=0000:00:04.0: [vfio.b] host 0000:00:04.0 is already given to [vfio.a] "
     "(--set vfio.a.host=00:04.0)"},
    {{"console.device=hvc"},
     "--set console.device=hvc: device 'hvc' is not valid (use serial or virtio)"},
    {{"vm.on_reboot=reset"},
     "--set vm.on_reboot=reset: on_reboot 'reset' is not valid (use exit or restart)"},
    {{"vm.kernel="}, "vm.ini: [vm] kernel is required"},
    {{"console.mode=file"}, "vm.ini: [console] path is required with mode = file"},
    {{"vcpus=2"}, "--set vcpus=2: expected section.key=value (e.g. vm.memory=1G)"},
    {{"vm.vcpus"}, "--set vm.vcpus: expected section.key=value (e.g. vm.memory=1G)"},
    {{"vm=a.b"}, "--set vm=a.b: expected section.key=value (e.g. vm.memory=1G)"},
    {{".vcpus=2"}, "--set .vcpus=2: expected section.key=value (e.g. vm.memory=1G)"},
    {{"vm.=2"}, "--set vm.=2: expected section.key=value (e.g. vm.memory=1G)"},
    {{""}, "--set : expected section.key=value (e.g. vm.memory=1G)"},
};

START_TEST(bad_override)
{
	int n = bad_overrides[_i].ov[1] ? 2 : 1;
	struct config cfg;

	expect_load(&cfg, K, bad_overrides[_i].ov, n, -EINVAL, bad_overrides[_i].msg);
}
END_TEST

/* A mistake in the file is reported before any override is looked at. */
START_TEST(file_errors_come_first)
{
	const char *ov[] = {"bad"};
	struct config cfg;

	expect_load(&cfg, K "vcpus = 0\n", ov, 1, -EINVAL,
		    "vm.ini:3: vcpus must be between 1 and 64");
}
END_TEST

START_TEST(parse_size)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
	    {"0", 0},
	    {"1", 1},
	    {"64K", 64 << 10},
	    {"512M", 512ULL << 20},
	    {"512m", 512ULL << 20},
	    {"2G", 2ULL << 30},
	    {"1T", 1ULL << 40},
	    {"007k", 7 << 10},
	    {"18446744073709551615", UINT64_MAX},
	    {"16777215T", 16777215ULL << 40},
	};
	static const char *const bad[] = {
	    "",		 "M",
	    "12Q",	 "1.5G",
	    "-1",	 "+1",
	    " 1",	 "1 ",
	    "1MB",	 "1KK",
	    "0x10",	 "18446744073709551616",
	    "16777216T", "17179869184G",
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 42;
		ck_assert_msg(config_parse_size(good[i].s, &v) == 0, "'%s'", good[i].s);
		ck_assert_msg(v == good[i].v, "'%s' -> %llu", good[i].s, (unsigned long long)v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		ck_assert_msg(config_parse_size(bad[i], &v) == -EINVAL, "'%s'", bad[i]);
		ck_assert_uint_eq(v, 42); /* untouched */
	}
	ck_assert_int_eq(config_parse_size(NULL, &v), -EINVAL);
}
END_TEST

/* The kernel and initrd files are checked after loading: their messages start with
 * where the key was given, like the loader's own ("vm.ini:3: ", "--set ARG: "). */
START_TEST(kernel_and_initrd_origins)
{
	const char *ov[] = {"vm.kernel=/other"};
	char buf[PATH_MAX + 64], want[PATH_MAX + 64];
	struct config cfg;
	struct tmp t;
	char path[PATH_MAX];

	tmp_make(&t);
	tmp_write(&t, "vm.ini", "[vm]\nmemory = 64M\nkernel = /k\n\ninitrd = /i\n", path);
	ck_assert_int_eq(config_load(&cfg, path, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(cfg.kernel_at.line, 3);
	ck_assert_int_eq(cfg.initrd_at.line, 5);
	snprintf(want, sizeof(want), "%s:3: ", path);
	ck_assert_str_eq(config_origin_prefix(&cfg, &cfg.kernel_at, buf, sizeof(buf)), want);
	snprintf(want, sizeof(want), "%s:5: ", path);
	ck_assert_str_eq(config_origin_prefix(&cfg, &cfg.initrd_at, buf, sizeof(buf)), want);

	/* --set wins over the file, and its message names the argument. */
	ck_assert_int_eq(config_load(&cfg, path, ov, 1, NULL, 0), 0);
	ck_assert_int_eq(cfg.kernel_at.line, 0);
	ck_assert_str_eq(config_origin_prefix(&cfg, &cfg.kernel_at, buf, sizeof(buf)),
			 "--set vm.kernel=/other: ");
	tmp_remove(&t);
}
END_TEST

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, all_keys);
	tcase_add_test(tc, relative_paths);
	tcase_add_test(tc, quotes_comments_case);
	tcase_add_test(tc, quotes_removed_once);
	tcase_add_test(tc, console_path_without_file_mode);
	tcase_add_test(tc, print_round_trips);
	tcase_add_test(tc, print_defaults);
	tcase_add_test(tc, print_skips_unplugged);
	tcase_add_loop_test(tc, bad_file, 0, sizeof(bad_files) / sizeof(bad_files[0]));
	tcase_add_test(tc, long_lines);
	tcase_add_test(tc, unreadable_files);
	tcase_add_test(tc, overrides);
	tcase_add_test(tc, overrides_fill_in);
	tcase_add_loop_test(tc, bad_override, 0, sizeof(bad_overrides) / sizeof(bad_overrides[0]));
	tcase_add_test(tc, file_errors_come_first);
	tcase_add_test(tc, parse_size);
	tcase_add_test(tc, shared_memory_follows_the_devices);
	tcase_add_test(tc, kernel_and_initrd_origins);
	suite_add_tcase(s, tc);
	return s;
}
