/* The arm64 side of arch.h that talks to KVM: the in-kernel GICv3 and its ITS, the
 * vCPUs (KVM_ARM_VCPU_INIT with PSCI 0.2, PMUv3 where the host has it), the boot
 * registers, and the wired interrupt routes.
 *
 * Order, as KVM requires it: the vGIC and ITS devices and their addresses before any
 * vCPU (arch_vm_init); every vCPU created and initialised before the vGIC's CTRL_INIT,
 * and the vGIC initialised before any vCPU's PMU and before any irqfd (all done once
 * the last vCPU is there, in arch_vcpu_init; irq.c keeps the devices' irqfds until
 * then). */
#include <errno.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/arch.h"
#include "arch/arm64/arm64.h"
#include "arch/arm64/devtree.h"
#include "arch/arm64/layout.h"
#include "vmm/irq.h"
#include "vmm/log.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define PSR_MODE_EL1H 0x5ULL
#define PSR_DAIF      (0xfULL << 6) /* D, A, I and F masked, as booting.rst asks */
#define GIC_PPI_BASE  16	    /* INTID of PPI 0 */
#define GIC_SPI_BASE  32	    /* INTID of SPI 0 */

#define CORE_REG(field)                                                                            \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |                                     \
	 (offsetof(struct kvm_regs, field) / sizeof(__u32)))

static int arm64_set_attr(int fd, uint32_t group, uint64_t attr, const void *val)
{
	struct kvm_device_attr a = {.group = group, .attr = attr, .addr = (uintptr_t)val};

	return ioctl(fd, KVM_SET_DEVICE_ATTR, &a) < 0 ? -errno : 0;
}

static int arm64_create_device(struct vm *vm, uint32_t type, int *fd)
{
	struct kvm_create_device d = {.type = type};

	if (ioctl(vm->m.vm_fd, KVM_CREATE_DEVICE, &d) < 0)
		return -errno;
	*fd = (int)d.fd;
	return 0;
}

/* The GICv3 distributor and redistributors, and the ITS when the host's KVM has one
 * (without it the guest has no MSIs, and says so in the device tree by having none). */
static int arm64_gic_create(struct vm *vm, struct arch_vm *a)
{
	const uint64_t gicd = ARM64_GICD_BASE, gicr = ARM64_GICR_BASE, its = ARM64_GITS_BASE;
	const uint32_t nr_irqs = ARM64_GIC_NR_IRQS;
	int ret;

	ret = arm64_create_device(vm, KVM_DEV_TYPE_ARM_VGIC_V3, &a->gic_fd);
	if (ret < 0) {
		log_err("this host's KVM cannot make a GICv3 (KVM_CREATE_DEVICE VGIC_V3: %s); "
			"minivmm needs a GICv3 host",
			strerror(-ret));
		return ret;
	}
	ret =
	    arm64_set_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &gicd);
	ret = ret
		  ?: arm64_set_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR,
				    KVM_VGIC_V3_ADDR_TYPE_REDIST, &gicr);
	ret = ret ?: arm64_set_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs);
	if (ret < 0) {
		log_err("cannot place the vGIC's registers: %s", strerror(-ret));
		return ret;
	}
	ret = arm64_create_device(vm, KVM_DEV_TYPE_ARM_VGIC_ITS, &a->its_fd);
	if (ret == 0)
		ret = arm64_set_attr(a->its_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE,
				     &its);
	if (ret < 0) {
		log_warn("no GICv3 ITS (%s): the guest gets no MSIs", strerror(-ret));
		if (a->its_fd >= 0)
			close(a->its_fd);
		a->its_fd = -1;
	}
	return 0;
}

int arch_vm_init(struct vm *vm)
{
	struct arch_vm *a;
	int ret;

	if (vm->cfg->cpu_pm) {
		log_err("[vm] cpu_pm = on is not available on arm64 yet; set cpu_pm = off");
		return -EOPNOTSUPP;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->gic_fd = a->its_fd = -1;
	vm->arch = a;
	a->pmu = ioctl(vm->m.vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_PMU_V3) > 0;
	ret = arm64_gic_create(vm, a);
	if (ret < 0)
		return ret;
	ret = arm64_io_window(&vm->m, true);
	if (ret < 0) {
		log_err("cannot register the PCI I/O window: %s", strerror(-ret));
		return ret;
	}
	a->io_window = true;
	return 0;
}

unsigned int arch_host_phys_bits(const struct vm *vm)
{
	(void)vm;
	/* vm.c creates the VM with type 0, which KVM gives 40-bit guest addresses whatever
	 * the host could do (KVM_CAP_ARM_VM_IPA_SIZE needs the type at KVM_CREATE_VM). */
	return ARM64_DEFAULT_IPA_BITS;
}

void arch_vm_destroy(struct vm *vm)
{
	struct arch_vm *a = vm->arch;

	if (!a)
		return;
	if (a->io_window)
		arm64_io_window(&vm->m, false);
	if (a->its_fd >= 0)
		close(a->its_fd);
	if (a->gic_fd >= 0)
		close(a->gic_fd);
	free(a->its_restore);
	free(a);
	vm->arch = NULL;
}

/* After the last vCPU: the vGIC (and ITS) initialised, then every vCPU's PMU. */
static int arm64_gic_init(struct vm *vm, unsigned int nr_vcpus)
{
	struct arch_vm *a = vm->arch;
	const int pmu_irq = GIC_PPI_BASE + ARM64_PMU_PPI;
	int ret;

	ret =
	    arm64_set_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL);
	if (ret == 0 && a->its_fd >= 0)
		ret = arm64_set_attr(a->its_fd, KVM_DEV_ARM_VGIC_GRP_CTRL,
				     KVM_DEV_ARM_VGIC_CTRL_INIT, NULL);
	if (ret < 0) {
		log_err("cannot initialise the vGIC: %s", strerror(-ret));
		return ret;
	}
	/* KVM takes irqfds only from now on: the devices' (a passed-through device's INTx)
	 * were kept until here. */
	ret = irq_chip_ready(&vm->m);
	if (ret < 0)
		return ret;
	for (unsigned int i = 0; a->pmu && i < nr_vcpus; i++) {
		int fd = vm->vcpus[i].fd;

		ret =
		    arm64_set_attr(fd, KVM_ARM_VCPU_PMU_V3_CTRL, KVM_ARM_VCPU_PMU_V3_IRQ, &pmu_irq);
		ret = ret
			  ?: arm64_set_attr(fd, KVM_ARM_VCPU_PMU_V3_CTRL, KVM_ARM_VCPU_PMU_V3_INIT,
					    NULL);
		if (ret < 0) {
			log_err("vcpu %u: cannot set up its PMU: %s", i, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static int arm64_set_reg(int fd, uint64_t id, uint64_t val)
{
	struct kvm_one_reg r = {.id = id, .addr = (uintptr_t)&val};

	return ioctl(fd, KVM_SET_ONE_REG, &r) < 0 ? -errno : 0;
}

int arm64_vcpu_init_args(int vm_fd, bool pmu, bool secondary, struct kvm_vcpu_init *init)
{
	if (ioctl(vm_fd, KVM_ARM_PREFERRED_TARGET, init) < 0)
		return -errno;
	/* PSCI 0.2 gives the guest CPU_ON, SYSTEM_OFF and SYSTEM_RESET, which KVM turns into
	 * KVM_EXIT_SYSTEM_EVENT; the secondaries wait powered off for CPU_ON. */
	init->features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (secondary)
		init->features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	if (pmu)
		init->features[0] |= 1u << KVM_ARM_VCPU_PMU_V3;
	return 0;
}

int arch_vcpu_init(struct vm *vm, struct vcpu *vcpu)
{
	struct arch_vm *a = vm->arch;
	struct kvm_vcpu_init init;
	int ret;

	ret = arm64_vcpu_init_args(vm->m.vm_fd, a->pmu, vcpu->id != 0, &init);
	if (ret < 0) {
		log_err("KVM_ARM_PREFERRED_TARGET failed: %s", strerror(-ret));
		return ret;
	}
	if (ioctl(vcpu->fd, KVM_ARM_VCPU_INIT, &init) < 0) {
		ret = -errno;
		log_err("vcpu %u: KVM_ARM_VCPU_INIT failed: %s", vcpu->id, strerror(-ret));
		return ret;
	}
	if (vcpu->id == 0) {
		/* booting.rst: x0 the device tree, x1-x3 zero, EL1h with DAIF masked. */
		ret = arm64_set_reg(vcpu->fd, CORE_REG(regs.pstate), PSR_MODE_EL1H | PSR_DAIF);
		ret = ret ?: arm64_set_reg(vcpu->fd, CORE_REG(regs.regs[0]), a->dtb);
		for (int i = 1; i <= 3; i++)
			ret = ret ?: arm64_set_reg(vcpu->fd, CORE_REG(regs.regs[i]), 0);
		ret = ret ?: arm64_set_reg(vcpu->fd, CORE_REG(regs.pc), a->entry);
		if (ret < 0) {
			log_err("vcpu 0: cannot set the boot registers: %s", strerror(-ret));
			return ret;
		}
	}
	if (vcpu->id + 1 == vm->cfg->vcpus)
		return arm64_gic_init(vm, vm->cfg->vcpus);
	return 0;
}

const char *arch_vcpu_fail_entry_hint(struct vcpu *vcpu, uint64_t reason, char *buf, size_t size)
{
	(void)vcpu, (void)reason;
	if (size)
		buf[0] = 0;
	return buf;
}

int arch_irq_routes(struct kvm_irq_routing_entry *e, size_t max, uint32_t *nr_wired)
{
	if (max < ARM64_NR_WIRED)
		return -ENOSPC;
	/* irqchip 0 is the GIC, and its pin numbers are SPI numbers. */
	for (uint32_t gsi = 0; gsi < ARM64_NR_WIRED; gsi++)
		e[gsi] = (struct kvm_irq_routing_entry){.gsi = gsi,
							.type = KVM_IRQ_ROUTING_IRQCHIP,
							.u.irqchip = {.irqchip = 0, .pin = gsi}};
	*nr_wired = ARM64_NR_WIRED;
	return ARM64_NR_WIRED;
}

uint32_t arch_irq_line(unsigned int gsi)
{
	/* KVM_IRQ_LINE on arm64: the type in bits 24-27, the INTID below; for an SPI the
	 * vCPU field is unused. */
	return (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | (GIC_SPI_BASE + gsi);
}
