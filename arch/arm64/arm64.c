/* The arm64 side of arch.h, without KVM calls: the memory map (layout.h), the PCI
 * windows, the Linux Image boot protocol (image.c) and the device tree (devtree.c) built
 * from one machine description, so that --dry-run checks and prints what a boot loads.
 * The vGIC and the vCPUs are in kvm.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/arch.h"
#include "arch/arm64/arm64.h"
#include "arch/arm64/devtree.h"
#include "arch/arm64/image.h"
#include "arch/arm64/layout.h"
#include "devices/pci.h"
#include "vmm/bus.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/vm.h"

#define GIB (1ULL << 30)

/* Everything a boot puts in guest memory, as arm64_prepare worked it out. */
struct arm64_boot {
	struct arm64_image img;
	struct arm64_boot_layout l;
	uint8_t *dtb; /* ARM64_DTB_MAX bytes, malloc'd */
	int dtb_len;
};

int arch_mem_layout(uint64_t ram, gpa_t *gpas, uint64_t *sizes, int max)
{
	/* One range: with 40-bit guest addresses (KVM's default), RAM ends below 1 TiB. */
	if (max < 1 || ram < 4 * ARM64_DTB_MAX || (ram & 4095) ||
	    ram > (1ULL << ARM64_DEFAULT_IPA_BITS) - ARM64_RAM_BASE)
		return -EINVAL;
	gpas[0] = ARM64_RAM_BASE;
	sizes[0] = ram;
	return 1;
}

void arch_pci_windows(uint64_t ram, struct pci_windows *w)
{
	/* Ports below 0x1000 stay out of the window: the PCI core's CF8/CFC ports live on
	 * the same port bus, though nothing reaches them on arm64. */
	*w = (struct pci_windows){
	    .io_min = 0x1000,
	    .io_base = 0x1000,
	    .io_end = ARM64_PCI_IO_SIZE,
	    .m32_base = ARM64_M32_BASE,
	    .m32_end = ARM64_M32_END,
	    .m64_base = (ARM64_RAM_BASE + ram + GIB - 1) & ~(GIB - 1),
	    .ecam_base = ARM64_ECAM_BASE,
	};
	w->m64_end = w->m64_base;
}

const struct arch_platform *arch_platform(void)
{
	static const struct arch_platform virt = {
	    .uart_mmio = true,
	    .uart_base = ARM64_UART_BASE,
	    .uart_irq = ARM64_UART_SPI,
	    .pc_devices = false,
	    /* Seen: QEMU's virt SMMUv3 leaves functions behind a PCI bridge untranslated. */
	    .iommu_hint = "no SMMU translates for it; check that the firmware's IORT (or the "
			  "device tree's iommu-map) covers the device and that the host's kernel "
			  "has its SMMU driver (arm-smmu-v3)",
	};

	return &virt;
}

/* The machine description for the device tree: the memory map, the PCI windows w (the
 * 64-bit one as it is now) and where the boot put things. */
static void arm64_describe(const struct config *cfg, const struct pci_windows *w,
			   const struct arm64_boot_layout *l, size_t initrd_len, bool pmu, bool its,
			   struct arm64_machine *m)
{
	*m = (struct arm64_machine){
	    .nr_vcpus = cfg->vcpus,
	    .ram_base = ARM64_RAM_BASE,
	    .ram_size = cfg->memory,
	    .bootargs = cfg->cmdline,
	    .initrd_start = l->initrd,
	    .initrd_size = initrd_len,
	    .gicd_base = ARM64_GICD_BASE,
	    .gicd_size = ARM64_GICD_SIZE,
	    .gicr_base = ARM64_GICR_BASE,
	    .gicr_size = cfg->vcpus * ARM64_GICR_STRIDE,
	    .gicr_stride = ARM64_GICR_STRIDE,
	    .its_base = its ? ARM64_GITS_BASE : 0,
	    .its_size = its ? ARM64_GITS_SIZE : 0,
	    .uart_base = ARM64_UART_BASE,
	    .uart_size = ARM64_UART_SIZE,
	    .uart_spi = ARM64_UART_SPI,
	    .uart_clock = ARM64_UART_CLOCK,
	    .pmu = pmu,
	    .ecam_base = w->ecam_base,
	    .bus_first = 0,
	    .bus_last = 0, /* the PCI core emulates bus 0 only */
	    .io_cpu = ARM64_PCI_IO_BASE + w->io_min,
	    .io_pci = w->io_min,
	    .io_size = w->io_end - w->io_min,
	    .m32_base = w->m32_base,
	    .m32_size = w->m32_end - w->m32_base,
	    .m64_base = w->m64_base,
	    .m64_size = w->m64_end - w->m64_base,
	};
	/* The same swizzle as the PCI core's interrupt line register (GSI n is SPI n). */
	for (unsigned int s = 0; s < 4; s++)
		for (unsigned int pin = 1; pin <= 4; pin++)
			m->intx_spi[s][pin - 1] = pci_intx_gsi((uint8_t)(s << 3), pin);
}

/* Checks the Image, places kernel, initrd and device tree, and builds the tree: the one
 * path for the real load and the dry check, so that what passes here loads later. */
static int arm64_prepare(const struct boot_files *bf, const struct config *cfg,
			 const struct pci_windows *w, bool pmu, bool its, struct arm64_boot *b,
			 char *err, size_t errlen)
{
	struct arm64_machine m;
	char why[256];
	int ret;

	memset(b, 0, sizeof(*b));
	if (cfg->vcpus > ARM64_MAX_VCPUS) {
		snprintf(err, errlen,
			 "[vm] vcpus = %u: the arm64 memory map has room for %d "
			 "GIC redistributors; lower vcpus",
			 cfg->vcpus, ARM64_MAX_VCPUS);
		return -EINVAL;
	}
	ret = arm64_image_parse(bf->kernel, bf->kernel_len, &b->img, why, sizeof(why));
	if (ret == 0)
		ret = arm64_image_place(&b->img, bf->kernel_len, ARM64_RAM_BASE, cfg->memory,
					bf->initrd ? bf->initrd_len : 0, &b->l, why, sizeof(why));
	if (ret < 0) {
		snprintf(err, errlen, "kernel %s: %s", cfg->kernel, why);
		return ret;
	}
	b->dtb = malloc(ARM64_DTB_MAX);
	if (!b->dtb) {
		snprintf(err, errlen, "out of memory for the device tree");
		return -ENOMEM;
	}
	arm64_describe(cfg, w, &b->l, bf->initrd ? bf->initrd_len : 0, pmu, its, &m);
	ret = arm64_devtree_build(&m, b->dtb, ARM64_DTB_MAX, why, sizeof(why));
	if (ret < 0) {
		snprintf(err, errlen, "cannot build the device tree: %s", why);
		free(b->dtb);
		b->dtb = NULL;
		return ret;
	}
	b->dtb_len = ret;
	return 0;
}

static void arm64_describe_kernel(const struct arm64_boot *b, char *buf, size_t size)
{
	snprintf(buf, size, "arm64 Image (text_offset %#llx, image_size %#llx, %u KiB pages)",
		 (unsigned long long)b->img.text_offset, (unsigned long long)b->img.image_size,
		 b->img.page_kib ? b->img.page_kib : 4);
}

/* The 64-bit window before any device is made: what [vm] mmio64, or else
 * mmio64_hotplug, asks for (vm.c adds the boot devices' large BARs). */
static void arm64_dry_windows(const struct config *cfg, struct pci_windows *w)
{
	uint64_t limit = 1ULL << (cfg->phys_bits ? cfg->phys_bits : ARM64_DEFAULT_IPA_BITS);
	uint64_t room = cfg->mmio64 ? cfg->mmio64 : cfg->mmio64_hotplug;

	arch_pci_windows(cfg->memory, w);
	w->m64_end =
	    w->m64_base < limit && room <= limit - w->m64_base ? w->m64_base + room : w->m64_base;
}

int arch_check_kernel(const struct boot_files *bf, const struct config *cfg, char *what,
		      size_t whatlen, char *err, size_t errlen)
{
	struct pci_windows w;
	struct arm64_boot b;
	int ret;

	arm64_dry_windows(cfg, &w);
	ret = arm64_prepare(bf, cfg, &w, true, true, &b, err, errlen);
	if (ret < 0)
		return -EINVAL;
	if (what && whatlen)
		arm64_describe_kernel(&b, what, whatlen);
	free(b.dtb);
	return 0;
}

int arch_write_dtb(const struct boot_files *bf, const struct config *cfg, const char *path,
		   char *err, size_t errlen)
{
	struct pci_windows w;
	struct arm64_boot b;
	int fd, ret;

	arm64_dry_windows(cfg, &w);
	ret = arm64_prepare(bf, cfg, &w, true, true, &b, err, errlen);
	if (ret < 0)
		return ret;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
	} else {
		ssize_t n = write(fd, b.dtb, (size_t)b.dtb_len);

		ret = n == b.dtb_len ? 0 : n < 0 ? -errno : -EIO; /* short: a full disk */
		if (close(fd) < 0 && ret == 0)
			ret = -errno;
	}
	if (ret < 0)
		snprintf(err, errlen, "--dtb %s: %s", path, strerror(-ret));
	free(b.dtb);
	return ret;
}

void arch_print_memory_map(const struct config *cfg, FILE *f)
{
	struct pci_windows w;

	arm64_dry_windows(cfg, &w);
	fprintf(f, "; guest physical memory map (as the device tree says; --dtb FILE writes it)\n");
	fprintf(f, ";   0x%012llx-0x%012llx RAM\n", ARM64_RAM_BASE,
		(unsigned long long)(ARM64_RAM_BASE + cfg->memory - 1));
	fprintf(f, "; fixed addresses\n");
	fprintf(f, ";   0x%012llx GICv3 distributor\n", ARM64_GICD_BASE);
	fprintf(f, ";   0x%012llx GICv3 ITS\n", ARM64_GITS_BASE);
	fprintf(f, ";   0x%012llx GICv3 redistributors (%u)\n", ARM64_GICR_BASE, cfg->vcpus);
	fprintf(f, ";   0x%012llx UART (16550, SPI %d)\n", ARM64_UART_BASE, ARM64_UART_SPI);
	fprintf(f, ";   0x%012llx-0x%012llx PCI I/O ports 0x%llx-0x%llx\n",
		(unsigned long long)(ARM64_PCI_IO_BASE + w.io_min),
		(unsigned long long)(ARM64_PCI_IO_BASE + w.io_end - 1),
		(unsigned long long)w.io_min, (unsigned long long)w.io_end - 1);
	fprintf(f, ";   0x%012llx-0x%012llx PCI ECAM (bus 0)\n", (unsigned long long)w.ecam_base,
		(unsigned long long)w.ecam_base + (1 << 20) - 1);
	fprintf(f, ";   0x%012llx-0x%012llx PCI 32-bit memory window\n",
		(unsigned long long)w.m32_base, (unsigned long long)w.m32_end - 1);
	fprintf(f,
		";   0x%012llx-...            PCI 64-bit memory window (sized at start: the "
		"devices' large BARs and mmio64_hotplug)\n",
		(unsigned long long)w.m64_base);
}

int arch_load_kernel(struct vm *vm)
{
	const struct boot_files *bf = vm->boot;
	struct pci_windows w;
	struct arm64_boot b;
	char err[512], what[160];
	int ret;

	pci_get_windows(&vm->m, &w);
	ret = arm64_prepare(bf, vm->cfg, &w, vm->arch->pmu, vm->arch->its_fd >= 0, &b, err,
			    sizeof(err));
	if (ret < 0) {
		log_err("%s", err);
		return ret;
	}
	ret = mem_write(&vm->m.mem, b.l.kernel, bf->kernel, bf->kernel_len);
	if (ret == 0 && bf->initrd && bf->initrd_len)
		ret = mem_write(&vm->m.mem, b.l.initrd, bf->initrd, bf->initrd_len);
	if (ret == 0)
		ret = mem_write(&vm->m.mem, b.l.dtb, b.dtb, (uint64_t)b.dtb_len);
	free(b.dtb);
	if (ret < 0) {
		log_err("kernel %s: cannot write the kernel, initrd or device tree to guest "
			"memory: %s",
			vm->cfg->kernel, strerror(-ret));
		return ret;
	}
	vm->arch->entry = b.l.kernel;
	vm->arch->dtb = b.l.dtb;
	arm64_describe_kernel(&b, what, sizeof(what));
	log_info("kernel: %s at %#llx, device tree (%d bytes) at %#llx", what,
		 (unsigned long long)b.l.kernel, b.dtb_len, (unsigned long long)b.l.dtb);
	return 0;
}

static void arm64_io_access(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct machine *m = opaque;

	/* Unclaimed ports read as all ones: bus_access leaves data as the caller filled
	 * it, and the MMIO dispatch pre-fills it so. */
	bus_access(&m->pio, off, data, len, is_write);
}

int arm64_io_window(struct machine *m, bool on)
{
	if (!on) {
		bus_unregister(&m->mmio, ARM64_PCI_IO_BASE);
		return 0;
	}
	return bus_register(&m->mmio, ARM64_PCI_IO_BASE, ARM64_PCI_IO_SIZE, arm64_io_access, m);
}
