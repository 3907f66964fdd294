/* The x86 side of arch.h: memory layout, in-kernel irqchip and PIT, the Linux boot
 * protocol (boot.c) or PVH for an ELF vmlinux (pvh.c), ACPI (acpi.c) and per-vCPU CPUID
 * (cpuid.c), glued together. */
#include <asm/kvm_para.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/arch.h"
#include "arch/x86/acpi.h"
#include "arch/x86/boot.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "arch/x86/pvh.h"
#include "devices/pci.h"
#include "vmm/log.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define MSR_IA32_MISC_ENABLE	0x1a0
#define MISC_ENABLE_FAST_STRING 1ULL
#define MSR_MTRR_DEF_TYPE	0x2ff
#define MTRR_DEF_TYPE_E		(1ULL << 11) /* MTRRs enabled */
#define MTRR_TYPE_WB		6ULL
#define APIC_LVT0		0x350
#define APIC_LVT1		0x360
#define APIC_MODE_NMI		0x400
#define APIC_MODE_EXTINT	0x700

/* arch.h's struct arch_vm: what the x86 side keeps per VM. */
struct arch_vm {
	struct kvm_cpuid2 *cpuid; /* as KVM supports it; copied and edited per vCPU */
	bool pvh;		  /* the kernel is a vmlinux: the boot vCPU starts at */
	uint32_t pvh_entry;	  /* its PVH entry (else at the bzImage's 64-bit one) */
};

/* A kernel file as x86_load() found it: a bzImage, or an ELF vmlinux booted via PVH. */
struct x86_kernel {
	bool pvh;
	struct x86_bzimage bz;
	struct x86_pvh elf;
};

int arch_mem_layout(uint64_t ram, gpa_t *gpas, uint64_t *sizes, int max)
{
	uint64_t low = ram < X86_HOLE_START ? ram : X86_HOLE_START;

	if (max < 2 || ram < X86_KERNEL_LOAD * 2 || (ram & 4095))
		return -EINVAL;
	gpas[0] = 0;
	sizes[0] = low;
	if (ram == low)
		return 1;
	gpas[1] = X86_HIGH_RAM;
	sizes[1] = ram - low;
	return 2;
}

void arch_pci_windows(uint64_t ram, struct pci_windows *w)
{
	uint64_t top = ram <= X86_HOLE_START ? X86_HIGH_RAM : X86_HIGH_RAM + ram - X86_HOLE_START;

	/* Ports 0xc000-0xffff; memory from the hole's start to the ECAM; and large 64-bit
	 * BARs from the first GiB boundary above RAM: vm.c sizes that window from the
	 * devices and the guest's physical address width (empty until then). */
	*w = (struct pci_windows){
	    .io_min = 0x0d00, /* above every fixed port (layout.h) */
	    .io_base = 0xc000,
	    .io_end = 0x10000,
	    .m32_base = X86_HOLE_START,
	    .m32_end = X86_ECAM_BASE,
	    .m64_base = (top + (1ULL << 30) - 1) & ~((1ULL << 30) - 1),
	    .ecam_base = X86_ECAM_BASE,
	};
	w->m64_end = w->m64_base;
}

/* Which kind of kernel k is, for the log and --dry-run. */
static void x86_kernel_describe(const struct x86_kernel *k, char *buf, size_t size)
{
	if (k->pvh)
		snprintf(buf, size, "vmlinux (ELF, PVH entry 0x%x, %d segments at 0x%llx-0x%llx)",
			 k->elf.entry, k->elf.nr_segs, (unsigned long long)k->elf.start,
			 (unsigned long long)k->elf.end - 1);
	else
		snprintf(buf, size, "bzImage (protocol %u.%02u)", k->bz.version >> 8,
			 k->bz.version & 0xff);
}

/* Loads into guest memory; shared by the real load and the dry check (trial: a vmlinux
 * is only checked, not copied; see x86_pvh_check). An ELF file is a vmlinux for PVH;
 * anything else must be a bzImage. */
static int x86_load(const struct guest_mem *mem, const struct boot_files *bf,
		    const struct config *cfg, const struct pci_windows *pw, struct x86_kernel *k,
		    bool trial, char *err, size_t errlen)
{
	struct acpi_config acfg = {.nr_vcpus = cfg->vcpus};
	struct pci_windows w = *pw;
	gpa_t rsdp;
	int ret;

	k->pvh = x86_elf_magic(bf->kernel, bf->kernel_len);
	if (k->pvh)
		ret = x86_pvh_parse(bf->kernel, bf->kernel_len, &k->elf, err, errlen);
	else
		ret = x86_bzimage_parse(bf->kernel, bf->kernel_len, &k->bz, err, errlen);
	if (ret < 0)
		return ret;
	acfg.ecam_base = w.ecam_base;
	acfg.io_base = w.io_base;
	acfg.io_min = w.io_min;
	acfg.io_end = w.io_end;
	acfg.m32_base = w.m32_base;
	acfg.m32_end = w.m32_end;
	acfg.m64_base = w.m64_base;
	acfg.m64_end = w.m64_end;
	ret = x86_boot_page_tables(mem);
	if (!ret)
		ret = x86_boot_reset_stub(mem);
	if (ret < 0) {
		snprintf(err, errlen, "cannot write the boot page tables or the reset stub");
		return ret;
	}
	ret = acpi_build((struct guest_mem *)mem, X86_ACPI_BASE, X86_ACPI_MAX, &acfg, &rsdp);
	if (ret < 0) {
		snprintf(err, errlen, "cannot build the ACPI tables: %s", strerror(-ret));
		return ret;
	}
	if (k->pvh && trial)
		return x86_pvh_check(mem, &k->elf, bf->initrd_len, cfg->cmdline, err, errlen);
	if (k->pvh)
		return x86_pvh_load(mem, &k->elf, bf->kernel, bf->initrd, bf->initrd_len,
				    cfg->cmdline, rsdp, err, errlen);
	return x86_boot_load(mem, &k->bz, bf->kernel, bf->initrd, bf->initrd_len, cfg->cmdline,
			     rsdp, err, errlen);
}

int arch_check_kernel(const struct boot_files *bf, const struct config *cfg, char *what,
		      size_t whatlen, char *err, size_t errlen)
{
	gpa_t gpas[MEM_MAX_REGIONS];
	uint64_t sizes[MEM_MAX_REGIONS];
	struct guest_mem scratch;
	struct x86_kernel k;
	struct pci_windows w;
	char why[256];
	int n, ret;

	/* A trial load into untouched anonymous memory of the guest's size: the same code
	 * as the real load, so that what passes here cannot fail later. Only the pages
	 * written (kernel, initrd, tables) are ever allocated. */
	n = arch_mem_layout(cfg->memory, gpas, sizes, MEM_MAX_REGIONS);
	if (n < 0)
		return n;
	ret = mem_init(&scratch, gpas, sizes, n, 0);
	if (ret < 0) {
		snprintf(err, errlen, "cannot reserve address space for a trial load: %s",
			 strerror(-ret));
		return ret;
	}
	arch_pci_windows(cfg->memory, &w);
	ret = x86_load(&scratch, bf, cfg, &w, &k, true, why, sizeof(why));
	mem_destroy(&scratch);
	if (ret < 0) {
		snprintf(err, errlen, "kernel %s: %s", cfg->kernel, why);
		return -EINVAL;
	}
	if (what && whatlen)
		x86_kernel_describe(&k, what, whatlen);
	return 0;
}

void arch_print_memory_map(const struct config *cfg, FILE *f)
{
	gpa_t gpas[MEM_MAX_REGIONS];
	uint64_t sizes[MEM_MAX_REGIONS];
	struct mem_region regions[MEM_MAX_REGIONS];
	struct boot_e820_entry e820[X86_E820_MAX];
	struct pci_windows w;
	int n = arch_mem_layout(cfg->memory, gpas, sizes, MEM_MAX_REGIONS);
	static const char *const types[] = {"?", "RAM", "reserved", "ACPI", "NVS", "unusable"};

	if (n < 0)
		return;
	for (int i = 0; i < n; i++)
		regions[i] = (struct mem_region){.gpa = gpas[i], .size = sizes[i]};
	n = x86_e820_build(regions, n, e820, X86_E820_MAX);
	fprintf(f, "; guest physical memory map (e820, as the guest sees it)\n");
	for (int i = 0; i < n; i++)
		fprintf(f, ";   0x%012llx-0x%012llx %s\n", (unsigned long long)e820[i].addr,
			(unsigned long long)(e820[i].addr + e820[i].size - 1),
			e820[i].type < 6 ? types[e820[i].type] : "?");
	fprintf(f, "; fixed addresses\n");
	fprintf(f, ";   0x%012llx ACPI tables (RSDP)\n", X86_ACPI_BASE);
	fprintf(f, ";   0x%012llx kernel (64-bit entry at +0x200)\n", X86_KERNEL_LOAD);
	arch_pci_windows(cfg->memory, &w);
	fprintf(f, ";   0x%012llx-0x%012llx PCI I/O ports\n", (unsigned long long)w.io_base,
		(unsigned long long)w.io_end - 1);
	fprintf(f, ";   0x%012llx-0x%012llx PCI 32-bit memory window\n",
		(unsigned long long)w.m32_base, (unsigned long long)w.m32_end - 1);
	fprintf(f, ";   0x%012llx-0x%012llx PCI ECAM (bus 0)\n", (unsigned long long)w.ecam_base,
		(unsigned long long)w.ecam_base + (1 << 20) - 1);
	fprintf(f,
		";   0x%012llx-...            PCI 64-bit memory window (sized at start: the "
		"devices' large BARs and mmio64_hotplug)\n",
		(unsigned long long)w.m64_base);
	fprintf(f, ";   0x%012llx IOAPIC\n", X86_IOAPIC_ADDR);
	fprintf(f, ";   0x%012llx local APICs\n", X86_LAPIC_ADDR);
}

/* [vm] cpu_pm = on: an idle vCPU halts (or spins) in guest mode instead of exiting to
 * KVM, so an interrupt for it - a passthrough device's completion - needs one exit to
 * be injected instead of a HLT exit, a wake-up and often an interrupt-window exit. The
 * host CPU stays the guest's while it idles: for vCPUs with host CPUs of their own.
 * Must precede KVM_CREATE_VCPU. */
static int x86_cpu_pm(struct vm *vm)
{
	const int want = KVM_X86_DISABLE_EXITS_HLT | KVM_X86_DISABLE_EXITS_PAUSE;
	struct kvm_enable_cap cap = {.cap = KVM_CAP_X86_DISABLE_EXITS, .args = {want}};
	int have = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_DISABLE_EXITS);

	if (have < 0 || (have & want) != want) {
		log_err("[vm] cpu_pm = on: this host's KVM cannot leave HLT and PAUSE to the "
			"guest (KVM_CAP_X86_DISABLE_EXITS); set cpu_pm = off");
		return -EOPNOTSUPP;
	}
	if (ioctl(vm->m.vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
		int ret = -errno;

		log_err("[vm] cpu_pm = on: KVM_ENABLE_CAP(X86_DISABLE_EXITS) failed: %s; set "
			"cpu_pm = off",
			strerror(-ret));
		return ret;
	}
	return 0;
}

int arch_vm_init(struct vm *vm)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	struct arch_vm *x;
	int ret;

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	vm->arch = x;
	/* Intel VMX needs these two pages for real mode; they lie in the PCI hole, which
	 * is never RAM, so they cannot shadow guest memory. */
	if (ioctl(vm->m.vm_fd, KVM_SET_TSS_ADDR, (unsigned long)X86_TSS_ADDR) < 0 ||
	    ioctl(vm->m.vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &(uint64_t){X86_IDENTITY_MAP}) < 0) {
		ret = -errno;
		log_err("cannot set the TSS / identity map address: %m");
		return ret;
	}
	if (ioctl(vm->m.vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		ret = -errno;
		log_err("KVM_CREATE_IRQCHIP failed: %m");
		return ret;
	}
	if (ioctl(vm->m.vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		ret = -errno;
		log_err("KVM_CREATE_PIT2 failed: %m");
		return ret;
	}
	ret = x86_cpuid_get_supported(vm->kvm_fd, &x->cpuid);
	if (ret < 0) {
		log_err("KVM_GET_SUPPORTED_CPUID failed: %s", strerror(-ret));
		return ret;
	}
	return vm->cfg->cpu_pm ? x86_cpu_pm(vm) : 0;
}

unsigned int arch_host_phys_bits(const struct vm *vm)
{
	return x86_cpuid_phys_bits(vm->arch->cpuid);
}

void arch_vm_destroy(struct vm *vm)
{
	struct arch_vm *x = vm->arch;

	if (!x)
		return;
	free(x->cpuid);
	free(x);
	vm->arch = NULL;
}

int arch_load_kernel(struct vm *vm)
{
	struct x86_kernel k;
	struct pci_windows w;
	char err[256];
	int ret;

	pci_get_windows(&vm->m, &w);
	ret = x86_load(&vm->m.mem, vm->boot, vm->cfg, &w, &k, false, err, sizeof(err));
	if (ret < 0) {
		log_err("kernel %s: %s", vm->cfg->kernel, err);
		return ret;
	}
	vm->arch->pvh = k.pvh;
	vm->arch->pvh_entry = k.pvh ? k.elf.entry : 0;
	x86_kernel_describe(&k, err, sizeof(err));
	log_info("kernel: %s", err);
	return 0;
}

static int x86_vcpu_cpuid(struct vm *vm, struct vcpu *vcpu)
{
	const struct kvm_cpuid2 *sup = vm->arch->cpuid;
	size_t size = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
	struct kvm_cpuid2 *c = malloc(size);
	int ret;

	if (!c)
		return -ENOMEM;
	memcpy(c, sup, size);
	ret = x86_cpuid_for_vcpu(c, vcpu->id, vm->cfg->vcpus);
	x86_cpuid_set_phys_bits(c, vm->phys_bits);
	/* Dedicated vCPUs: the guest polls before halting (cpuidle-haltpoll) and skips
	 * PV spinlocks, as on bare metal. */
	if (ret == 0 && vm->cfg->cpu_pm)
		x86_cpuid_set_kvm_hints(c, 1u << KVM_HINTS_REALTIME);
	if (ret == 0 && ioctl(vcpu->fd, KVM_SET_CPUID2, c) < 0)
		ret = -errno;
	free(c);
	return ret;
}

/* AMD SVM's "VMRUN refused the guest state" exit code (-1), as KVM reports it. */
#define SVM_EXIT_ERR_REASON 0xffffffffu

const char *arch_vcpu_fail_entry_hint(struct vcpu *vcpu, uint64_t reason, char *buf, size_t size)
{
	struct kvm_vcpu_events ev;

	buf[0] = 0;
	if (reason != SVM_EXIT_ERR_REASON)
		return buf;
	if (ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev) == 0 && ev.exception.injected &&
	    ev.exception.nr >= 32)
		/* QEMU's TCG-emulated SVM (7.2) records an interrupt that a #VMEXIT cut
		 * short as an exception, with a half-delivered guest state; KVM's retry
		 * is then refused. Only an emulated CPU does this. */
		snprintf(buf, size,
			 " (SVM refused the guest state; pending \"exception\" %u is an interrupt "
			 "vector: a known bug of QEMU's emulated SVM, see README, test bed)",
			 ev.exception.nr);
	else
		snprintf(buf, size, " (SVM refused the guest state)");
	return buf;
}

/* LINT0 delivers the 8259's interrupts (ExtINT) and LINT1 NMIs, as firmware leaves a
 * PC; the guest reprograms both once it uses the IOAPIC. */
static int x86_vcpu_lapic(struct vcpu *vcpu)
{
	struct kvm_lapic_state lapic;

	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	*(uint32_t *)&lapic.regs[APIC_LVT0] = APIC_MODE_EXTINT;
	*(uint32_t *)&lapic.regs[APIC_LVT1] = APIC_MODE_NMI;
	return ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic) < 0 ? -errno : 0;
}

int arch_vcpu_init(struct vm *vm, struct vcpu *vcpu)
{
	/* MTRRs enabled with write-back as the default type, as firmware leaves them: with
	 * MTRRs off, Linux also leaves PAT off ("x86/PAT: MTRRs disabled, skipping PAT
	 * initialization too"), and then has no write-combining mappings, which a
	 * passed-through GPU's framebuffer and many NIC drivers want. RAM is WB; device
	 * memory is mapped uncached through PAT, which wins over a WB MTRR. */
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[2];
	} msrs = {.hdr.nmsrs = 2,
		  .e = {{.index = MSR_IA32_MISC_ENABLE, .data = MISC_ENABLE_FAST_STRING},
			{.index = MSR_MTRR_DEF_TYPE, .data = MTRR_DEF_TYPE_E | MTRR_TYPE_WB}}};
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int ret;

	ret = x86_vcpu_cpuid(vm, vcpu);
	if (ret < 0)
		return ret;
	if (ioctl(vcpu->fd, KVM_SET_MSRS, &msrs) != (int)msrs.hdr.nmsrs)
		return -EIO;
	if (ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	ret = x86_vcpu_lapic(vcpu);
	if (ret < 0)
		return ret;
	/* Only the boot CPU starts in the kernel; the others wait in the in-kernel LAPIC
	 * for the guest's INIT/SIPI. */
	if (vcpu->id != 0)
		return 0;
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	memset(&regs, 0, sizeof(regs));
	if (vm->arch->pvh)
		x86_pvh_regs(&sregs, &regs, vm->arch->pvh_entry);
	else
		x86_boot_regs(&sregs, &regs);
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}
