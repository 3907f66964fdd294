/* The x86 platform as the core sees it (arch.h): the in-kernel IOAPIC and PICs' wired
 * inputs, and where the PC's fixed devices sit. */
#include <errno.h>
#include <stdio.h>
#include <linux/kvm.h>

#include "arch/arch.h"
#include "arch/x86/layout.h"

#define X86_IOAPIC_PINS 24
#define X86_PIC_PINS	16

int arch_irq_routes(struct kvm_irq_routing_entry *e, size_t max, uint32_t *nr_wired)
{
	size_t n = 0;

	/* KVM's own default: ISA GSIs 0-15 reach both the PIC and the IOAPIC (but for the
	 * PIC's cascade pin 2), 16-23 only the IOAPIC. */
	for (uint32_t pin = 0; pin < X86_IOAPIC_PINS; pin++) {
		if (n + 2 > max)
			return -ENOSPC;
		e[n++] = (struct kvm_irq_routing_entry){
		    .gsi = pin,
		    .type = KVM_IRQ_ROUTING_IRQCHIP,
		    .u.irqchip = {.irqchip = KVM_IRQCHIP_IOAPIC, .pin = pin}};
		if (pin < X86_PIC_PINS && pin != 2)
			e[n++] = (struct kvm_irq_routing_entry){
			    .gsi = pin,
			    .type = KVM_IRQ_ROUTING_IRQCHIP,
			    .u.irqchip = {.irqchip = pin < 8 ? KVM_IRQCHIP_PIC_MASTER
							     : KVM_IRQCHIP_PIC_SLAVE,
					  .pin = pin % 8}};
	}
	*nr_wired = X86_IOAPIC_PINS;
	return (int)n;
}

uint32_t arch_irq_line(unsigned int gsi)
{
	return gsi; /* KVM_IRQ_LINE takes the GSI itself on x86 */
}

const struct arch_platform *arch_platform(void)
{
	/* COM1, as every PC has it: what Linux's console=ttyS0 expects. */
	static const struct arch_platform pc = {
	    .uart_mmio = false,
	    .uart_base = X86_SERIAL_COM1,
	    .uart_irq = X86_SERIAL_COM1_IRQ,
	    .pc_devices = true,
	    .iommu_hint = "the host's IOMMU is off; enable VT-d / AMD-Vi in the firmware and boot "
			  "the host with intel_iommu=on (or amd_iommu=on)",
	};

	return &pc;
}

int arch_write_dtb(const struct boot_files *bf, const struct config *cfg, const char *path,
		   char *err, size_t errlen)
{
	(void)bf, (void)cfg, (void)path;
	snprintf(err, errlen, "--dtb: x86 guests get ACPI tables, not a device tree");
	return -EOPNOTSUPP;
}
