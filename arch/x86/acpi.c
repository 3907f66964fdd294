/* ACPI tables: RSDP -> XSDT -> {FADT -> DSDT, MADT}.
 *
 * Why hardware-reduced ACPI: the full ("legacy") ACPI hardware model needs PM1 event and
 * control blocks, a PM timer, GPE blocks, an SMI command port for the ACPI enable
 * handshake and an SCI, all of which the VMM would have to emulate. With HW_REDUCED_ACPI
 * the OS needs none of them: it powers off through the sleep control register (writing
 * SLP_TYP from \_S5 with SLP_EN) and reboots through the reset register, two I/O ports in
 * layout.h. In exchange Linux skips the legacy PIC and PIT setup (a KVM guest has LAPIC
 * timers and kvmclock) and sets up ISA interrupts only for devices the DSDT describes,
 * which is why COM1 is there (the guest kernel needs CONFIG_PNP and SERIAL_8250_PNP).
 *
 * The tables are assembled in a host buffer (struct aml_buf) at the offsets they will
 * have in the guest and written with one mem_write(), so guest memory is only touched
 * once everything fits. Layout, from base:
 *   RSDP (36 bytes), then 16-byte aligned: DSDT, FADT (276), MADT, XSDT (36 + 8 per table)
 * The XSDT comes last because it lists the others, the DSDT first because the FADT
 * points to it. A new table (e.g. MCFG) is one more builder called before build_xsdt();
 * new DSDT devices (e.g. a PCI0 host bridge with _CRS and _PRT) go into build_dsdt()'s
 * \_SB scope.
 *
 * Hotplug and the power button without firmware, as Cloud Hypervisor does it: a
 * hardware-reduced platform has no GPE blocks and no fixed power button, so events reach
 * the OS through a Generic Event Device (ACPI0013, Linux's drivers/acpi/evged.c). It
 * owns an interrupt (ISA IRQ X86_GED_IRQ); on each edge the OS runs its _EVT, which reads
 * the cause from the VMM's register block at X86_PORT_HOTPLUG (devices/hotplug.c) and
 * notifies the device concerned: PCI0.Sxx with Device Check (1) or Eject Request (3), which
 * Linux's acpiphp turns into a bus rescan or a removal that ends in the slot's _EJ0, or
 * PWRB (PNP0C0C) with 0x80, which the button driver reports as KEY_POWER. */
#include "arch/x86/acpi.h"
#include "arch/x86/aml.h"
#include "arch/x86/layout.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ACPI tables are little-endian");

#define ACPI_OEM_ID	  "MINIVM"
#define ACPI_OEM_TABLE_ID "MINIVMM"
#define ACPI_CREATOR_ID	  "MVMM"

/* FADT 6.3: header revision 6, FADT minor version 3. */
#define FADT_REVISION	      6
#define FADT_MINOR_VERSION    3
#define MADT_REVISION	      5 /* ACPI 6.3 */
#define DSDT_REVISION	      2 /* 2 and up: AML integers are 64 bits */
#define XSDT_REVISION	      1
#define RSDP_REVISION	      2 /* ACPI 2.0+ RSDP, with the XSDT address */
#define ACPI_MAX_XSDT_ENTRIES 8

/* FADT Flags (ACPI 6.3 table 5-34). */
#define FADT_F_PWR_BUTTON      (1U << 4) /* no fixed-feature power button */
#define FADT_F_SLP_BUTTON      (1U << 5) /* no fixed-feature sleep button */
#define FADT_F_RESET_REG_SUP   (1U << 10)
#define FADT_F_HW_REDUCED_ACPI (1U << 20)
/* IAPC_BOOT_ARCH (table 5-35). The "8042" bit stays clear: there is no keyboard
 * controller, and Linux then does not probe for one. */
#define FADT_BOOT_VGA_NOT_PRESENT (1U << 2)

/* SCI_INT: unused on a hardware-reduced platform, but Linux matches it against the MADT
 * interrupt source overrides and treats a match as the SCI's (level, active-low by
 * default). With 0 it would take over the IRQ0 override; 9 is the PC's usual SCI line,
 * described by its own override below. */
#define FADT_SCI_INT 9

/* Generic Address Structure */
#define GAS_SYSTEM_IO	1
#define GAS_ACCESS_BYTE 1

/* Notify values (ACPI 6.x 5.6.6). */
#define NOTIFY_DEVICE_CHECK   1
#define NOTIFY_EJECT_REQUEST  3
#define NOTIFY_BUTTON_PRESSED 0x80 /* on a power button device */

/* MADT */
#define MADT_PCAT_COMPAT   1U /* dual 8259s present (KVM emulates them) */
#define MADT_LAPIC	   0
#define MADT_IOAPIC	   1
#define MADT_ISO	   2
#define MADT_LAPIC_ENABLED 1U
#define MPS_POLARITY_HIGH  0x1
#define MPS_TRIGGER_EDGE   0x4
#define MPS_TRIGGER_LEVEL  0xc

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum; /* over the first 20 bytes (the ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t ext_checksum; /* over all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));

struct acpi_fadt {
	struct acpi_header hdr;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
	uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} __attribute__((packed));

struct acpi_madt {
	struct acpi_header hdr;
	uint32_t lapic_address;
	uint32_t flags;
} __attribute__((packed));

struct madt_lapic {
	uint8_t type, length;
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type, length;
	uint8_t id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));

struct madt_iso {
	uint8_t type, length;
	uint8_t bus; /* 0: ISA */
	uint8_t source;
	uint32_t gsi;
	uint16_t flags; /* MPS INTI flags */
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_header) == 36, "table header");
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "FADT flags");
_Static_assert(offsetof(struct acpi_fadt, reset_reg) == 116, "FADT reset_reg");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT X_DSDT");
_Static_assert(offsetof(struct acpi_fadt, sleep_control_reg) == 244, "FADT sleep ctl");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT 6.x");
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT");
_Static_assert(sizeof(struct madt_lapic) == 8, "MADT LAPIC");
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT IOAPIC");
_Static_assert(sizeof(struct madt_iso) == 10, "MADT ISO");

/* One build: the image, where it will live, and the tables the XSDT will list. */
struct builder {
	struct aml_buf b;
	gpa_t base;
	const struct acpi_config *cfg;
	gpa_t xsdt[ACPI_MAX_XSDT_ENTRIES];
	unsigned int nr_xsdt;
};

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return (uint8_t)-sum;
}

/* Copies a fixed-width, space-padded identifier (not NUL-terminated). */
static void set_id(char *dst, const char *src, size_t n)
{
	size_t len = strlen(src);

	memset(dst, ' ', n);
	memcpy(dst, src, len < n ? len : n);
}

static struct acpi_header header(const char *sig, uint8_t revision)
{
	struct acpi_header h = {.revision = revision, .oem_revision = 1, .creator_revision = 1};

	memcpy(h.signature, sig, 4);
	set_id(h.oem_id, ACPI_OEM_ID, sizeof(h.oem_id));
	set_id(h.oem_table_id, ACPI_OEM_TABLE_ID, sizeof(h.oem_table_id));
	set_id(h.creator_id, ACPI_CREATOR_ID, sizeof(h.creator_id));
	return h;
}

/* Appends the fixed part of a table (starting with its header) at a 16-byte boundary;
 * returns its offset for table_end(). */
static size_t table_begin(struct builder *t, const void *fixed, size_t size)
{
	aml_align(&t->b, 16);
	return aml_append(&t->b, fixed, size);
}

/* Sets the length and checksum of the table at off, which runs to the end of the buffer;
 * returns its guest address (0 after an error). */
static gpa_t table_end(struct builder *t, size_t off)
{
	uint8_t *p;
	uint32_t len;

	if (t->b.err)
		return 0;
	p = t->b.data + off;
	len = (uint32_t)(t->b.len - off);
	memcpy(p + offsetof(struct acpi_header, length), &len, sizeof(len));
	p[offsetof(struct acpi_header, checksum)] = 0;
	p[offsetof(struct acpi_header, checksum)] = checksum(p, len);
	return t->base + off;
}

static void xsdt_add(struct builder *t, gpa_t table)
{
	if (t->b.err)
		return;
	if (t->nr_xsdt == ACPI_MAX_XSDT_ENTRIES)
		t->b.err = -E2BIG; /* a programming error: raise the constant */
	else
		t->xsdt[t->nr_xsdt++] = table;
}

static struct acpi_gas gas_io8(uint16_t port)
{
	return (struct acpi_gas){.space_id = GAS_SYSTEM_IO,
				 .bit_width = 8,
				 .access_size = GAS_ACCESS_BYTE,
				 .address = port};
}

/* COM1, so that the OS maps IRQ 4 through the I/O APIC: with a hardware-reduced FADT
 * Linux installs no legacy PIC and so sets up no ISA IRQ mappings of its own. */
static void dsdt_com1(struct aml_buf *b)
{
	size_t dev = aml_device_begin(b, "COM1");
	size_t crs;

	aml_name(b, "_HID");
	aml_eisaid(b, "PNP0501");
	aml_name_integer(b, "_UID", 0);
	aml_name(b, "_CRS");
	crs = aml_restemplate_begin(b);
	aml_res_io(b, X86_SERIAL_COM1, X86_SERIAL_COM1, 1, 8);
	aml_res_irq_noflags(b, X86_SERIAL_COM1_IRQ);
	aml_restemplate_end(b, crs);
	aml_pkg_end(b, dev);
}

/* If (And (local, bit, Zero)) { Notify (dev, value) } */
static void notify_if_bit(struct aml_buf *b, uint8_t local, uint32_t bit, const char *dev,
			  uint8_t value)
{
	size_t i = aml_if_begin(b);

	aml_byte(b, AML_OP_AND);
	aml_byte(b, local);
	aml_integer(b, bit);
	aml_byte(b, AML_OP_ZERO);
	aml_byte(b, AML_OP_NOTIFY);
	aml_name_string(b, dev);
	aml_integer(b, value);
	aml_pkg_end(b, i);
}

/* Device names of the hotpluggable slots 1..31: S01..S1F (NameSegs "S01_".."S1F_"). */
static void slot_name(char name[5], unsigned int slot)
{
	static const char hex[] = "0123456789ABCDEF";

	name[0] = 'S';
	name[1] = hex[slot >> 4];
	name[2] = hex[slot & 15];
	name[3] = 0;
}

/* Inside PCI0: one device per hotpluggable slot, which is what makes acpiphp manage the
 * slot (an _ADR device with _EJ0), and PCNT, which _EVT calls on a hotplug event. */
static void dsdt_pci_slots(struct aml_buf *b)
{
	char name[5];
	size_t m;

	for (unsigned int slot = 1; slot < 32; slot++) {
		size_t dev;

		slot_name(name, slot);
		dev = aml_device_begin(b, name);
		aml_name_integer(b, "_ADR", (uint64_t)slot << 16); /* device slot, function 0 */
		aml_name_integer(b, "_SUN", slot); /* the slot's user-visible name */
		/* _EJ0 (Arg0: 1 = eject): the OS has let go of the device; tell the VMM. */
		m = aml_method_begin(b, "_EJ0", 1, 0);
		aml_byte(b, AML_OP_STORE);
		aml_integer(b, slot);
		aml_name_string(b, "\\_SB.EJCT");
		aml_pkg_end(b, m);
		aml_pkg_end(b, dev);
	}

	/* PCNT: Local0 = PCIU; Local1 = PCID; then per slot Device Check for an added
	 * device, Eject Request for one the VMM wants back (both read-to-clear). */
	m = aml_method_begin(b, "PCNT", 0, 1);
	aml_byte(b, AML_OP_STORE);
	aml_name_string(b, "\\_SB.PCIU");
	aml_byte(b, AML_OP_LOCAL0);
	aml_byte(b, AML_OP_STORE);
	aml_name_string(b, "\\_SB.PCID");
	aml_byte(b, AML_OP_LOCAL1);
	for (unsigned int slot = 1; slot < 32; slot++) {
		slot_name(name, slot);
		notify_if_bit(b, AML_OP_LOCAL0, 1U << slot, name, NOTIFY_DEVICE_CHECK);
		notify_if_bit(b, AML_OP_LOCAL1, 1U << slot, name, NOTIFY_EJECT_REQUEST);
	}
	aml_pkg_end(b, m);
}

/* PCI0: the host bridge with its windows (_CRS) and INTx routing (_PRT: slot-swizzled
 * onto IOAPIC inputs 16-19, as devices/pci.c wires them); and a motherboard resource
 * (PNP0C02) claiming the ECAM, which Linux wants reserved before it trusts MCFG. */
static void dsdt_pci(struct aml_buf *b, const struct acpi_config *c)
{
	size_t dev = aml_device_begin(b, "PCI0"), crs, prt;

	aml_name(b, "_HID");
	aml_eisaid(b, "PNP0A08"); /* PCI Express root bridge: ECAM, extended config */
	aml_name(b, "_CID");
	aml_eisaid(b, "PNP0A03");
	aml_name_integer(b, "_SEG", 0);
	aml_name_integer(b, "_BBN", 0);
	aml_name_integer(b, "_UID", 0);
	aml_name(b, "_CRS");
	crs = aml_restemplate_begin(b);
	aml_res_addr(b, AML_SPACE_BUS, 2, 0, 0);
	aml_res_io(b, 0xcf8, 0xcf8, 1, 8);
	aml_res_addr(b, AML_SPACE_IO, 2, 0x0000, 0x0cf7);
	aml_res_addr(b, AML_SPACE_IO, 2, c->io_min, c->io_end - 1);
	aml_res_addr(b, AML_SPACE_MEM, 4, c->m32_base, c->m32_end - 1);
	if (c->m64_end > c->m64_base)
		aml_res_addr(b, AML_SPACE_MEM, 8, c->m64_base, c->m64_end - 1);
	aml_restemplate_end(b, crs);
	aml_name(b, "_PRT");
	prt = aml_package_begin(b, 31 * 4);
	for (unsigned int slot = 1; slot < 32; slot++) {
		for (unsigned int pin = 0; pin < 4; pin++) {
			size_t e = aml_package_begin(b, 4);

			aml_integer(b, (uint64_t)slot << 16 | 0xffff);
			aml_integer(b, pin);
			aml_integer(b, 0);
			aml_integer(b, 16 + (slot + pin) % 4);
			aml_pkg_end(b, e);
		}
	}
	aml_pkg_end(b, prt);
	dsdt_pci_slots(b);
	aml_pkg_end(b, dev);

	dev = aml_device_begin(b, "MRES");
	aml_name(b, "_HID");
	aml_eisaid(b, "PNP0C02");
	aml_name_integer(b, "_UID", 1);
	aml_name(b, "_CRS");
	crs = aml_restemplate_begin(b);
	aml_res_mem32_fixed(b, (uint32_t)c->ecam_base, 1 << 20);
	aml_restemplate_end(b, crs);
	aml_pkg_end(b, dev);
}

/* The CMOS RTC (devices/rtc.c), so that the guest's rtc_cmos driver finds it through
 * PnP with its ports and IRQ 8 (it has no other way on a hardware-reduced platform). */
static void dsdt_rtc(struct aml_buf *b)
{
	size_t dev = aml_device_begin(b, "RTC0"), crs;

	aml_name(b, "_HID");
	aml_eisaid(b, "PNP0B00");
	aml_name(b, "_CRS");
	crs = aml_restemplate_begin(b);
	aml_res_io(b, 0x70, 0x70, 1, 2);
	aml_res_irq_noflags(b, 8);
	aml_restemplate_end(b, crs);
	aml_pkg_end(b, dev);
}

/* HPRG: the VMM's hotplug register block (layout.h), four read-to-clear or write-only
 * DWords. WriteAsZeros: a write is a whole DWord anyway, nothing to preserve. */
static void dsdt_hotplug_regs(struct aml_buf *b)
{
	size_t f;

	aml_opregion(b, "HPRG", AML_REGION_IO, X86_PORT_HOTPLUG, X86_PORT_HOTPLUG_LEN);
	f = aml_field_begin(b, "HPRG",
			    AML_FIELD_DWORD_ACC | AML_FIELD_NO_LOCK | AML_FIELD_WRITE_AS_ZEROS);
	aml_field_named(b, "GEVT", 32); /* +0  event bits (X86_GED_*) */
	aml_field_named(b, "PCIU", 32); /* +4  slots with a device added */
	aml_field_named(b, "PCID", 32); /* +8  slots to eject */
	aml_field_named(b, "EJCT", 32); /* +12 write: slot ejected */
	aml_pkg_end(b, f);
}

/* PWRB: the power button, a control-method one (the FADT says there is no fixed one). */
static void dsdt_power_button(struct aml_buf *b)
{
	size_t dev = aml_device_begin(b, "PWRB");

	aml_name(b, "_HID");
	aml_eisaid(b, "PNP0C0C");
	aml_name_integer(b, "_UID", 0);
	aml_pkg_end(b, dev);
}

/* GED0: the generic event device. Its interrupt is an ISA IRQ that the MADT leaves
 * identity-mapped (no override), edge and active high as ISA IRQs are; _EVT runs on
 * each edge. The PCI part only exists with PCI0, whose PCNT it calls. */
static void dsdt_ged(struct aml_buf *b, int pci)
{
	size_t dev = aml_device_begin(b, "GED0"), crs, evt, i;

	aml_name(b, "_HID");
	aml_string(b, "ACPI0013");
	aml_name_integer(b, "_UID", 0);
	aml_name(b, "_CRS");
	crs = aml_restemplate_begin(b);
	/* Level, high while GEVT holds an event: an edge that came while Linux's threaded
	 * GED handler had the line masked would be lost, and with it a hotplug request. */
	aml_res_interrupt(b, AML_IRQ_CONSUMER, X86_GED_IRQ);
	aml_restemplate_end(b, crs);

	/* _EVT (Arg0: the interrupt): Local0 = GEVT (read-to-clear), then each cause. */
	evt = aml_method_begin(b, "_EVT", 1, 1);
	aml_byte(b, AML_OP_STORE);
	aml_name_string(b, "\\_SB.GEVT");
	aml_byte(b, AML_OP_LOCAL0);
	if (pci) {
		i = aml_if_begin(b);
		aml_byte(b, AML_OP_AND);
		aml_byte(b, AML_OP_LOCAL0);
		aml_integer(b, X86_GED_PCI_HOTPLUG);
		aml_byte(b, AML_OP_ZERO);
		aml_name_string(b, "\\_SB.PCI0.PCNT"); /* a call: PCNT takes no arguments */
		aml_pkg_end(b, i);
	}
	notify_if_bit(b, AML_OP_LOCAL0, X86_GED_POWER_BUTTON, "\\_SB.PWRB", NOTIFY_BUTTON_PRESSED);
	aml_pkg_end(b, evt);
	aml_pkg_end(b, dev);
}

static gpa_t build_dsdt(struct builder *t)
{
	struct acpi_header h = header("DSDT", DSDT_REVISION);
	size_t off = table_begin(t, &h, sizeof(h));
	struct aml_buf *b = &t->b;
	size_t pkg, sb;

	/* \_S5: {SLP_TYPa, SLP_TYPb, reserved, reserved}. A hardware-reduced OS writes
	 * (SLP_TYPa << 2) | SLP_EN to the sleep control register to power off. */
	aml_name(b, "_S5");
	pkg = aml_package_begin(b, 4);
	aml_integer(b, X86_SLP_TYP_S5);
	aml_integer(b, X86_SLP_TYP_S5);
	aml_integer(b, 0);
	aml_integer(b, 0);
	aml_pkg_end(b, pkg);

	sb = aml_scope_begin(b, "\\_SB");
	dsdt_com1(b);
	dsdt_rtc(b);
	/* Declared before their users (PCI0's _EJ0 and PCNT, GED0's _EVT) so that a
	 * one-pass reader of the table already knows what each name is. */
	dsdt_hotplug_regs(b);
	if (t->cfg->ecam_base)
		dsdt_pci(b, t->cfg);
	dsdt_power_button(b);
	dsdt_ged(b, t->cfg->ecam_base != 0);
	aml_pkg_end(b, sb);
	return table_end(t, off);
}

static gpa_t build_fadt(struct builder *t, gpa_t dsdt)
{
	struct acpi_fadt f = {
	    .hdr = header("FACP", FADT_REVISION),
	    /* The 32-bit copy only where it fits; X_DSDT is what ACPI 2.0+ OSes use. */
	    .dsdt = dsdt <= UINT32_MAX ? (uint32_t)dsdt : 0,
	    .x_dsdt = dsdt,
	    .sci_int = FADT_SCI_INT,
	    .iapc_boot_arch = FADT_BOOT_VGA_NOT_PRESENT,
	    .flags = FADT_F_HW_REDUCED_ACPI | FADT_F_RESET_REG_SUP | FADT_F_PWR_BUTTON |
		     FADT_F_SLP_BUTTON,
	    .reset_reg = gas_io8(X86_PORT_RESET),
	    .reset_value = X86_RESET_VALUE,
	    .minor_version = FADT_MINOR_VERSION,
	    .sleep_control_reg = gas_io8(X86_PORT_SLEEP_CTL),
	    .sleep_status_reg = gas_io8(X86_PORT_SLEEP_STS),
	};
	size_t off;

	/* No FACS (FIRMWARE_CTRL 0: allowed when hardware-reduced), no SMI_CMD, no PM1/
	 * PM2/PM timer/GPE blocks: all zero. */
	memcpy(&f.hypervisor_vendor_id, "MINIVMM", 7);
	off = table_begin(t, &f, sizeof(f));
	return table_end(t, off);
}

static void madt_iso(struct aml_buf *b, uint8_t irq, uint32_t gsi, uint16_t flags)
{
	struct madt_iso e = {.type = MADT_ISO,
			     .length = sizeof(e),
			     .bus = 0,
			     .source = irq,
			     .gsi = gsi,
			     .flags = flags};

	aml_append(b, &e, sizeof(e));
}

static gpa_t build_madt(struct builder *t)
{
	struct acpi_madt m = {.hdr = header("APIC", MADT_REVISION),
			      .lapic_address = (uint32_t)X86_LAPIC_ADDR,
			      .flags = MADT_PCAT_COMPAT};
	struct madt_ioapic io = {.type = MADT_IOAPIC,
				 .length = sizeof(io),
				 .id = (uint8_t)t->cfg->nr_vcpus,
				 .address = (uint32_t)X86_IOAPIC_ADDR,
				 .gsi_base = 0};
	size_t off = table_begin(t, &m, sizeof(m));

	/* Linux numbers CPUs in MADT order, so vCPU i (APIC ID i, as KVM's vCPU id) is
	 * CPU i and the boot vCPU 0 comes first. */
	for (unsigned int i = 0; i < t->cfg->nr_vcpus; i++) {
		struct madt_lapic e = {.type = MADT_LAPIC,
				       .length = sizeof(e),
				       .processor_uid = (uint8_t)i,
				       .apic_id = (uint8_t)i,
				       .flags = MADT_LAPIC_ENABLED};

		aml_append(&t->b, &e, sizeof(e));
	}
	aml_append(&t->b, &io, sizeof(io));
	/* The PIT is wired to I/O APIC pin 2, not 0 (pin 0 is the 8259's INTR). Explicit
	 * edge/high rather than "conforms to bus", which means the same for ISA. */
	madt_iso(&t->b, 0, 2, MPS_POLARITY_HIGH | MPS_TRIGGER_EDGE);
	/* IRQ 9 as on PCs (the SCI line, see FADT_SCI_INT): level, active high. */
	madt_iso(&t->b, FADT_SCI_INT, FADT_SCI_INT, MPS_POLARITY_HIGH | MPS_TRIGGER_LEVEL);
	return table_end(t, off);
}

static gpa_t build_xsdt(struct builder *t)
{
	struct acpi_header h = header("XSDT", XSDT_REVISION);
	size_t off = table_begin(t, &h, sizeof(h));

	aml_append(&t->b, t->xsdt, t->nr_xsdt * sizeof(t->xsdt[0]));
	return table_end(t, off);
}

/* The RSDP was reserved at offset 0: fill it in now that the XSDT's address is known. */
/* MCFG: one ECAM allocation, segment 0, bus 0 only. */
static gpa_t build_mcfg(struct builder *t)
{
	struct acpi_header h = header("MCFG", 1);
	uint8_t reserved[8] = {0}, e[16] = {0};
	size_t off = table_begin(t, &h, sizeof(h));

	aml_append(&t->b, reserved, sizeof(reserved));
	memcpy(e, &t->cfg->ecam_base, 8); /* base; segment 0; start bus 0, end bus 0 */
	aml_append(&t->b, e, sizeof(e));
	return table_end(t, off);
}

static void build_rsdp(struct builder *t, gpa_t xsdt)
{
	struct acpi_rsdp r = {.revision = RSDP_REVISION,
			      .rsdt_address = 0, /* no RSDT: XSDT only */
			      .length = sizeof(r),
			      .xsdt_address = xsdt};

	if (t->b.err)
		return;
	memcpy(r.signature, "RSD PTR ", 8);
	set_id(r.oem_id, ACPI_OEM_ID, sizeof(r.oem_id));
	r.checksum = checksum((const uint8_t *)&r, 20);
	r.ext_checksum = checksum((const uint8_t *)&r, sizeof(r));
	memcpy(t->b.data, &r, sizeof(r));
}

int acpi_build(struct guest_mem *mem, gpa_t base, uint64_t max, const struct acpi_config *cfg,
	       gpa_t *rsdp_out)
{
	struct builder t = {.base = base, .cfg = cfg};
	gpa_t dsdt, xsdt;
	int ret;

	if (!mem || !cfg || cfg->nr_vcpus == 0 || cfg->nr_vcpus > ACPI_MAX_VCPUS)
		return -EINVAL;
	/* OSes look for the RSDP on 16-byte boundaries. */
	if (base & 15)
		return -EINVAL;
	aml_buf_init(&t.b, max < SIZE_MAX ? (size_t)max : SIZE_MAX);

	aml_append(&t.b, NULL, sizeof(struct acpi_rsdp));
	dsdt = build_dsdt(&t);
	xsdt_add(&t, build_fadt(&t, dsdt));
	xsdt_add(&t, build_madt(&t));
	if (cfg->ecam_base)
		xsdt_add(&t, build_mcfg(&t));
	xsdt = build_xsdt(&t);
	build_rsdp(&t, xsdt);

	ret = t.b.err;
	if (!ret)
		ret = mem_write(mem, base, t.b.data, t.b.len);
	if (!ret && rsdp_out)
		*rsdp_out = base;
	aml_buf_free(&t.b);
	return ret;
}
