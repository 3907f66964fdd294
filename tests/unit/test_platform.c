/* The x86 answers to arch.h's platform hooks (arch/x86/platform.c): the wired IRQ
 * routes that vmm/irq.c restates to KVM, KVM_IRQ_LINE's numbering, and the fixed
 * devices, as they were before they became hooks (the arm64 port's refactor must not
 * change the x86 machine). */
#include "tests/unit/unit.h"
#include "arch/arch.h"

#include <errno.h>
#include <linux/kvm.h>

START_TEST(irq_routes_as_kvm_defaults)
{
	struct kvm_irq_routing_entry e[64];
	uint32_t nr_wired = 0;
	int n = arch_irq_routes(e, 64, &nr_wired), i = 0;

	ck_assert_int_eq(n, 24 + 15); /* IOAPIC pins 0-23, PIC pins 0-15 but the cascade */
	ck_assert_uint_eq(nr_wired, 24);
	for (uint32_t pin = 0; pin < 24; pin++) {
		ck_assert_uint_eq(e[i].gsi, pin);
		ck_assert_uint_eq(e[i].type, KVM_IRQ_ROUTING_IRQCHIP);
		ck_assert_uint_eq(e[i].u.irqchip.irqchip, KVM_IRQCHIP_IOAPIC);
		ck_assert_uint_eq(e[i++].u.irqchip.pin, pin);
		if (pin >= 16 || pin == 2)
			continue;
		ck_assert_uint_eq(e[i].gsi, pin);
		ck_assert_uint_eq(e[i].u.irqchip.irqchip,
				  pin < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE);
		ck_assert_uint_eq(e[i++].u.irqchip.pin, pin % 8);
	}
	ck_assert_int_eq(i, n);
	ck_assert_int_eq(arch_irq_routes(e, 30, &nr_wired), -ENOSPC);
}
END_TEST

START_TEST(irq_line_and_devices)
{
	const struct arch_platform *p = arch_platform();

	ck_assert_uint_eq(arch_irq_line(4), 4);
	ck_assert_uint_eq(arch_irq_line(19), 19);
	ck_assert(!p->uart_mmio);
	ck_assert_uint_eq(p->uart_base, 0x3f8);
	ck_assert_uint_eq(p->uart_irq, 4);
	ck_assert(p->pc_devices);
}
END_TEST

Suite *platform_suite(void)
{
	Suite *s = suite_create("platform");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, irq_routes_as_kvm_defaults);
	tcase_add_test(tc, irq_line_and_devices);
	suite_add_tcase(s, tc);
	return s;
}
