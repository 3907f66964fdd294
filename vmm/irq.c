/* Interrupt plumbing (see irq.h). */
#include "vmm/irq.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include "vmm/log.h"
#include "vmm/vm.h"

void irq_line(struct vm *vm, unsigned int irq, bool level)
{
	struct kvm_irq_level l = {.irq = irq, .level = level};

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0)
		log_guest("KVM_IRQ_LINE %u failed: %m", irq);
}
