/* The device lifecycle on a running machine (issue 13): a tiny guest runs on its vCPU
 * thread, touching the serial port and the first PCI BAR in a loop, while each kind of
 * device is removed and added again 100 times; each time it comes back its MSI-X vector
 * is programmed as a driver would (GSI route and irqfd live), and net.n has frames
 * arriving on its tap throughout. Afterwards the open fds, KVM memslots, GSI routes,
 * threads and bus ranges are what they were before, the device is back at its slot and
 * BARs, and (under make check-asan) LeakSanitizer finds nothing. VFIO functions go
 * through the same test in the nested scenario vfio-cycle, which has real devices.
 * Skipped, with the reason, without /dev/kvm (and the net case without a tap). */
#include "tests/unit/unit.h"
#include "tests/unit/tap_fixture.h"
#include "tests/unit/tiny_kernel.h"

#include <dirent.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci.h"
#include "devices/serial.h"
#include "devices/virtio_pci.h"
#include "vfio/internal.h"
#include "vmm/image.h"
#include "vmm/vm.h"

#define CYCLES 100

/* loop: mov dx, 0x3ff; out dx, al; mov rbx, 0xc0000000; mov eax, [rbx]; jmp loop:
 * an exit to the serial port's scratch register and an MMIO read of the first BAR in
 * the 32-bit window (a virtio device's, or nothing while it is away). */
static const uint8_t guest_loop[] = {0x66, 0xba, 0xff, 0x03, 0xee, 0x48, 0xbb, 0x00, 0x00, 0x00,
				     0xc0, 0x00, 0x00, 0x00, 0x00, 0x8b, 0x03, 0xeb, 0xed};

struct counts {
	int fds, threads, memslots, routes, pio, mmio;
};

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void count(struct vm *vm, struct counts *c)
{
	c->fds = count_dir("/proc/self/fd");
	c->threads = count_dir("/proc/self/task");
	c->memslots = machine_memslots_used(&vm->m);
	pthread_mutex_lock(&vm->m.irq.lock);
	c->routes = (int)vm->m.irq.table->nr;
	pthread_mutex_unlock(&vm->m.irq.lock);
	c->pio = vm->m.pio.nr;
	c->mmio = vm->m.mmio.nr;
}

static void expect_same(const struct counts *a, const struct counts *b, const char *name)
{
	ck_assert_msg(!memcmp(a, b, sizeof(*a)),
		      "%s: before: fds %d threads %d memslots %d routes %d pio %d mmio %d; "
		      "after %d cycles: fds %d threads %d memslots %d routes %d pio %d mmio %d",
		      name, a->fds, a->threads, a->memslots, a->routes, a->pio, a->mmio, CYCLES,
		      b->fds, b->threads, b->memslots, b->routes, b->pio, b->mmio);
}

struct bed {
	int saved_stderr; /* the cycles' log (4 lines each) goes to /dev/null meanwhile */
	char dir[64];
	struct config cfg;
	struct boot_images bi;
	struct vm vm;
	int console_fd;
};

static const char *bed_start(struct bed *b, const char *extra)
{
	char path[128], err[512];
	FILE *f;
	int fd;

	if (access("/dev/kvm", R_OK | W_OK) != 0)
		return "no usable /dev/kvm on this machine";
	snprintf(b->dir, sizeof(b->dir), "/tmp/minivmm-lifecycle-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(b->dir));
	write_kernel(b->dir, guest_loop, sizeof(guest_loop));
	snprintf(path, sizeof(path), "%s/disk.img", b->dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/vm.ini", b->dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"[vm]\nkernel = kernel\nmemory = 32M\n[console]\ndevice = virtio\nmode = none\n"
		"[security]\nseccomp = off\n[disk.d]\npath = disk.img\n[rng]\n%s",
		extra);
	fclose(f);
	ck_assert_msg(config_load(&b->cfg, path, NULL, 0, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(boot_files_open(&b->bi, &b->cfg, err, sizeof(err)) == 0, "%s", err);
	b->console_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(b->console_fd, 0);
	ck_assert_int_eq(vm_create(&b->vm, &b->cfg, &b->bi.files, b->console_fd, 0, false), 0);
	ck_assert_int_eq(vm_start(&b->vm), 0);
	/* Running, and past the first KVM_RUN, which is when KVM starts its own thread in
	 * our process (kvm-nx-lpage-recovery): it must be in the counts before and after. */
	for (int i = 0; i < 5000 && atomic_load(&b->vm.m.stats.exits) < 2; i++)
		usleep(1000);
	ck_assert_uint_ge(atomic_load(&b->vm.m.stats.exits), 2);
	b->saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ge(b->saved_stderr, 0);
	ck_assert_int_eq(dup2(b->console_fd, STDERR_FILENO), STDERR_FILENO);
	return NULL;
}

static void bed_stop(struct bed *b)
{
	char cmd[128];

	dup2(b->saved_stderr, STDERR_FILENO);
	close(b->saved_stderr);
	ck_assert_int_eq(atomic_load(&b->vm.m.stop), VM_RUNNING); /* the guest ran on */
	vm_request_stop(&b->vm, VM_STOP_POWEROFF);
	vm_destroy(&b->vm);
	boot_files_close(&b->bi);
	close(b->console_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", b->dir);
	ck_assert_int_eq(system(cmd), 0);
}

static uint32_t cfg_rd(struct vm *vm, uint8_t devfn, uint32_t off, uint32_t len)
{
	uint32_t v = 0;

	pci_cfg_access(&vm->m, devfn, off, (uint8_t *)&v, len, false);
	return v;
}

static void cfg_wr(struct vm *vm, uint8_t devfn, uint32_t off, uint32_t v, uint32_t len)
{
	pci_cfg_access(&vm->m, devfn, off, (uint8_t *)&v, len, true);
}

/* As a driver does: bus master on, MSI-X enabled, vector 0 aimed at the local APIC and
 * unmasked, which gives it a GSI route and a live irqfd. */
static void msix_program(struct vm *vm, const struct pci_dev *dev)
{
	uint32_t cap = cfg_rd(vm, dev->devfn, 0x34, 1), table, bar;
	uint64_t addr, v;

	while (cap && cfg_rd(vm, dev->devfn, cap, 1) != 0x11)
		cap = cfg_rd(vm, dev->devfn, cap + 1, 1);
	ck_assert_uint_ne(cap, 0);
	cfg_wr(vm, dev->devfn, 0x04, 0x6, 2);
	cfg_wr(vm, dev->devfn, cap + 2, 0x8000, 2);
	table = cfg_rd(vm, dev->devfn, cap + 4, 4);
	bar = table & 7;
	addr = dev->bars[bar].addr + (table & ~7u);
	v = 0xfee00000;
	ck_assert(bus_access(&vm->m.mmio, addr, (uint8_t *)&v, 4, true));
	v = 0x41;
	ck_assert(bus_access(&vm->m.mmio, addr + 8, (uint8_t *)&v, 4, true));
	v = 0;
	ck_assert(bus_access(&vm->m.mmio, addr + 12, (uint8_t *)&v, 4, true));
}

/* The PCI function of a device instance of a PCI kind. */
static struct pci_dev *pci_of(const struct device *d)
{
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(d->state);
	if (!strcmp(d->spec.ops->kind, "vfio-pci"))
		return &((struct vfio_pci *)d->state)->pci;
	ck_assert(!strncmp(d->spec.ops->kind, "virtio-", 7));
	return &((struct virtio_dev *)d->state)->pci;
}

/* Removes name and adds it back CYCLES times; counts are taken with it away. */
static void cycle_pci(struct bed *b, const char *name)
{
	struct device *d = vm_device_find(&b->vm, name);
	struct device_spec spec;
	struct counts before, after;
	struct pci_dev *dev = pci_of(d);
	uint64_t bars[PCI_NR_BARS], exits;
	uint32_t ids = cfg_rd(&b->vm, dev->devfn, 0, 4);
	uint8_t devfn = dev->devfn;

	spec = d->spec;
	for (int i = 0; i < PCI_NR_BARS; i++)
		bars[i] = dev->bars[i].addr;
	ck_assert_int_eq(vm_device_remove(&b->vm, name), 0);
	ck_assert_int_eq(vm_device_remove(&b->vm, name), -ENOENT);
	count(&b->vm, &before);
	exits = atomic_load(&b->vm.m.stats.exits);
	for (int i = 0; i < CYCLES; i++) {
		ck_assert_int_eq(vm_device_add(&b->vm, &spec), 0);
		dev = pci_of(vm_device_find(&b->vm, name));
		ck_assert_uint_eq(dev->devfn, devfn); /* the freed slot is taken again */
		for (int k = 0; k < PCI_NR_BARS; k++)
			ck_assert_uint_eq(dev->bars[k].addr, bars[k]);
		ck_assert_uint_eq(cfg_rd(&b->vm, devfn, 0, 4), ids);
		msix_program(&b->vm, dev);
		ck_assert_int_eq(vm_device_remove(&b->vm, name), 0);
		ck_assert_uint_eq(cfg_rd(&b->vm, devfn, 0, 2), 0xffff);
	}
	count(&b->vm, &after);
	expect_same(&before, &after, name);
	ck_assert_msg(atomic_load(&b->vm.m.stats.exits) > exits, "the guest did not run");
	ck_assert_int_eq(vm_device_add(&b->vm, &spec), 0);
	ck_assert_int_eq(vm_device_add(&b->vm, &spec), -EEXIST);
}

START_TEST(virtio_blk_removed_and_added_100_times)
{
	struct bed b;
	const char *skip = bed_start(&b, "");

	if (skip)
		UNIT_SKIP(skip);
	cycle_pci(&b, "disk.d");
	bed_stop(&b);
}
END_TEST

START_TEST(virtio_rng_removed_and_added_100_times)
{
	struct bed b;
	const char *skip = bed_start(&b, "");

	if (skip)
		UNIT_SKIP(skip);
	cycle_pci(&b, "rng");
	bed_stop(&b);
}
END_TEST

START_TEST(virtio_console_removed_and_added_100_times)
{
	struct bed b;
	const char *skip = bed_start(&b, "");

	if (skip)
		UNIT_SKIP(skip);
	cycle_pci(&b, "console");
	ck_assert_ptr_eq(b.vm.console_dev, vm_device_find(&b.vm, "console")->state);
	bed_stop(&b);
}
END_TEST

/* Frames keep arriving on the tap while the device goes and comes back. */
START_TEST(virtio_net_removed_and_added_100_times_under_traffic)
{
	struct bed b;
	struct flood f;
	char extra[64];
	const char *skip = tap_skip;

	if (skip)
		UNIT_SKIP(skip);
	snprintf(extra, sizeof(extra), "[net.n]\ntap = %s\n", tap_name);
	skip = bed_start(&b, extra);
	if (skip)
		UNIT_SKIP(skip);
	flood_start(&f);
	cycle_pci(&b, "net.n");
	flood_stop(&f);
	bed_stop(&b);
}
END_TEST

/* A real passed-through function, in the nested test bed (scenario vfio-cycle), where
 * MINIVMM_TEST_VFIO names a device bound to vfio-pci and MINIVMM_TEST_VFIO_BACKEND the
 * backend. Its host device stays attached to the VM's vfio instance meanwhile. */
START_TEST(vfio_pci_removed_and_added_100_times)
{
	const char *bdf = getenv("MINIVMM_TEST_VFIO");
	const char *backend = getenv("MINIVMM_TEST_VFIO_BACKEND");
	struct bed b;
	char extra[128];
	const char *skip;

	if (!bdf)
		UNIT_SKIP("needs a device bound to vfio-pci named by MINIVMM_TEST_VFIO (the "
			  "nested scenario vfio-cycle runs it)");
	snprintf(extra, sizeof(extra), "[vfio]\nbackend = %s\n[vfio.dev]\nhost = %s\n",
		 backend ? backend : "auto", bdf);
	skip = bed_start(&b, extra);
	if (skip)
		UNIT_SKIP(skip);
	cycle_pci(&b, "vfio.dev");
	bed_stop(&b);
}
END_TEST

/* Platform devices are not hot-pluggable (no PC has that), so vm_device_remove refuses
 * them; their lifecycle is still the model's, checked here through the ops with the
 * vCPUs paused, as vm_device_remove does. */
START_TEST(platform_devices_recreated_100_times)
{
	static const char *const names[] = {"serial", "rtc", "power"};
	struct bed b;
	const char *skip = bed_start(&b, "");

	if (skip)
		UNIT_SKIP(skip);
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		struct device *d = vm_device_find(&b.vm, names[k]);
		struct counts before, after;

		ck_assert_ptr_nonnull(d);
		ck_assert_int_eq(vm_device_remove(&b.vm, names[k]), -EPERM);
		count(&b.vm, &before);
		for (int i = 0; i < CYCLES; i++) {
			vcpus_pause(b.vm.vcpus, b.vm.nr_vcpus);
			d->spec.ops->destroy(d->state);
			ck_assert_int_eq(d->spec.ops->create(&b.vm.m, &d->spec, &d->state), 0);
			vcpus_resume(b.vm.vcpus, b.vm.nr_vcpus);
		}
		if (d->spec.ops == &serial_device_ops)
			b.vm.serial = d->state;
		count(&b.vm, &after);
		expect_same(&before, &after, names[k]);
	}
	bed_stop(&b);
}
END_TEST

Suite *lifecycle_suite(void)
{
	Suite *s = suite_create("lifecycle");
	TCase *tc = tcase_create("remove_add");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, virtio_blk_removed_and_added_100_times);
	tcase_add_test(tc, virtio_rng_removed_and_added_100_times);
	tcase_add_test(tc, virtio_console_removed_and_added_100_times);
	tcase_add_test(tc, platform_devices_recreated_100_times);
	suite_add_tcase(s, tc);
	tc = tcase_create("remove_add_net");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, tap_setup, tap_teardown);
	tcase_add_test(tc, virtio_net_removed_and_added_100_times_under_traffic);
	suite_add_tcase(s, tc);
	tc = tcase_create("remove_add_vfio");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, vfio_pci_removed_and_added_100_times);
	suite_add_tcase(s, tc);
	return s;
}
