/* ACPI tables (the AML emitter's own tests are in test_aml.c). The tables are checked
 * by walking them from the RSDP in guest memory, reading fields at the offsets the
 * ACPI 6.x specification gives (not through acpi.c's structs, so a layout mistake there
 * shows up here). */
#include "tests/unit/unit.h"
#include "arch/x86/acpi.h"
#include "arch/x86/aml.h"
#include "arch/x86/layout.h"
#include "tests/unit/aml_decode.h"
#include "vmm/mem.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RAM_SIZE (2ULL << 20)

static struct guest_mem small_ram(void)
{
	const gpa_t gpas[] = {0};
	const uint64_t sizes[] = {RAM_SIZE};
	struct guest_mem m;

	ck_assert_int_eq(mem_init(&m, gpas, sizes, 1, 0), 0);
	return m;
}

/* Little-endian fields, read byte by byte. */
static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}
#define rd16(p) ((uint16_t)le(p, 2))
#define rd32(p) ((uint32_t)le(p, 4))
#define rd64(p) le(p, 8)

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

/* The table at gpa after checking that it lies in RAM, has signature sig and sums to 0. */
static const uint8_t *table(const struct guest_mem *m, gpa_t gpa, const char *sig)
{
	const uint8_t *t = mem_gpa_to_hva(m, gpa, 36);

	ck_assert_ptr_nonnull(t);
	ck_assert_msg(!memcmp(t, sig, 4), "expected %s at %#llx", sig, (unsigned long long)gpa);
	ck_assert_uint_ge(rd32(t + 4), 36);
	ck_assert_ptr_nonnull(mem_gpa_to_hva(m, gpa, rd32(t + 4)));
	ck_assert_msg(sum(t, rd32(t + 4)) == 0, "%s checksum", sig);
	return t;
}

/* A configuration with the PCI host bridge, windows as arch/x86/x86.c places them. */
static struct acpi_config pci_cfg(unsigned int nr_vcpus)
{
	return (struct acpi_config){.nr_vcpus = nr_vcpus,
				    .ecam_base = X86_ECAM_BASE,
				    .io_min = 0x0d00,
				    .io_base = 0xc000,
				    .io_end = 0x10000,
				    .m32_base = X86_HOLE_START,
				    .m32_end = X86_ECAM_BASE,
				    .m64_base = X86_HIGH_RAM,
				    .m64_end = X86_HIGH_RAM + (32ULL << 30)};
}

/* Builds cfg at X86_ACPI_BASE and returns the RSDP after checking it. */
static const uint8_t *build_cfg(struct guest_mem *m, const struct acpi_config *cfg)
{
	gpa_t rsdp = 0;
	const uint8_t *r;

	ck_assert_int_eq(acpi_build(m, X86_ACPI_BASE, X86_ACPI_MAX, cfg, &rsdp), 0);
	ck_assert_uint_eq(rsdp, X86_ACPI_BASE);
	r = mem_gpa_to_hva(m, rsdp, 36);
	ck_assert_ptr_nonnull(r);
	ck_assert(!memcmp(r, "RSD PTR ", 8));
	ck_assert_uint_eq(sum(r, 20), 0);
	ck_assert_uint_eq(sum(r, 36), 0);
	ck_assert_uint_eq(r[15], 2);	     /* revision */
	ck_assert_uint_eq(rd32(r + 20), 36); /* length */
	return r;
}

/* Builds without PCI for nr_vcpus. */
static const uint8_t *build(struct guest_mem *m, unsigned int nr_vcpus)
{
	const struct acpi_config cfg = {.nr_vcpus = nr_vcpus};

	return build_cfg(m, &cfg);
}

/* The table with signature sig listed in the XSDT. */
static const uint8_t *find(const struct guest_mem *m, const uint8_t *rsdp, const char *sig)
{
	const uint8_t *x = table(m, rd64(rsdp + 24), "XSDT");

	for (uint32_t off = 36; off + 8 <= rd32(x + 4); off += 8) {
		const uint8_t *t = mem_gpa_to_hva(m, rd64(x + off), 4);

		if (t && !memcmp(t, sig, 4))
			return table(m, rd64(x + off), sig);
	}
	ck_abort_msg("%s not in XSDT", sig);
	return NULL;
}

START_TEST(rsdp_xsdt_and_checksums)
{
	struct guest_mem m = small_ram();
	const uint8_t *r = build(&m, 2);
	const uint8_t *x = table(&m, rd64(r + 24), "XSDT");
	uint32_t xlen = rd32(x + 4);
	const char *sigs[] = {"FACP", "APIC"};

	ck_assert_uint_eq(rd64(r + 24) & 15, 0);
	ck_assert_uint_eq(xlen, 36 + 8 * 2);
	for (int i = 0; i < 2; i++) {
		gpa_t t = rd64(x + 36 + 8 * i);

		ck_assert_uint_ge(t, X86_ACPI_BASE + 36);
		table(&m, t, sigs[i]);
		ck_assert_uint_le(t + rd32(mem_gpa_to_hva(&m, t + 4, 4)),
				  X86_ACPI_BASE + X86_ACPI_MAX);
	}
	mem_destroy(&m);
}
END_TEST

static void check_gas_io8(const uint8_t *g, uint16_t port)
{
	ck_assert_uint_eq(g[0], 1); /* SystemIO */
	ck_assert_uint_eq(g[1], 8); /* bit width */
	ck_assert_uint_eq(g[2], 0); /* bit offset */
	ck_assert_uint_eq(g[3], 1); /* byte access */
	ck_assert_uint_eq(rd64(g + 4), port);
}

START_TEST(fadt_hw_reduced)
{
	struct guest_mem m = small_ram();
	const uint8_t *f = find(&m, build(&m, 1), "FACP");
	uint32_t flags = rd32(f + 112);
	const uint8_t *d;

	ck_assert_uint_eq(rd32(f + 4), 276);
	ck_assert_uint_eq(f[8], 6);		   /* revision */
	ck_assert_uint_eq(f[131], 3);		   /* minor version: 6.3 */
	ck_assert(flags & (1U << 20));		   /* HW_REDUCED_ACPI */
	ck_assert(flags & (1U << 10));		   /* RESET_REG_SUP */
	ck_assert_uint_eq(rd16(f + 109), 1U << 2); /* VGA not present, CMOS RTC present */
	ck_assert_uint_eq(rd32(f + 48), 0);	   /* SMI_CMD */
	for (int off = 56; off < 88; off += 4)	   /* PM1/PM2/PM_TMR/GPE blocks */
		ck_assert_uint_eq(rd32(f + off), 0);
	for (int off = 148; off < 244; off++) /* their X_ forms */
		ck_assert_uint_eq(f[off], 0);
	check_gas_io8(f + 116, X86_PORT_RESET);
	ck_assert_uint_eq(f[128], X86_RESET_VALUE);
	check_gas_io8(f + 244, X86_PORT_SLEEP_CTL);
	check_gas_io8(f + 256, X86_PORT_SLEEP_STS);
	ck_assert_mem_eq(f + 268, "MINIVMM", 7);

	ck_assert_uint_eq(rd32(f + 40), rd64(f + 140)); /* DSDT == X_DSDT */
	d = table(&m, rd64(f + 140), "DSDT");
	ck_assert_uint_eq(d[8], 2);
	mem_destroy(&m);
}
END_TEST

static const unsigned int madt_vcpus[] = {1, 2, 8};

START_TEST(madt_entries)
{
	struct guest_mem m = small_ram();
	unsigned int n = madt_vcpus[_i];
	const uint8_t *t = find(&m, build(&m, n), "APIC");
	uint32_t len = rd32(t + 4), off;
	unsigned int lapics = 0, ioapics = 0, isos = 0;
	int irq0 = 0, irq9 = 0;

	ck_assert_uint_eq(rd32(t + 36), X86_LAPIC_ADDR);
	ck_assert_uint_eq(rd32(t + 40), 1); /* PCAT_COMPAT */
	for (off = 44; off < len; off += t[off + 1]) {
		const uint8_t *e = t + off;

		ck_assert_uint_ge(e[1], 2);
		switch (e[0]) {
		case 0: /* Processor Local APIC */
			ck_assert_uint_eq(e[1], 8);
			ck_assert_uint_eq(ioapics + isos, 0); /* CPUs first, in order */
			ck_assert_uint_eq(e[2], lapics);      /* ACPI processor UID */
			ck_assert_uint_eq(e[3], lapics);      /* APIC ID */
			ck_assert_uint_eq(rd32(e + 4), 1);    /* enabled */
			lapics++;
			break;
		case 1: /* I/O APIC */
			ck_assert_uint_eq(e[1], 12);
			ck_assert_uint_eq(e[2], n);
			ck_assert_uint_eq(rd32(e + 4), X86_IOAPIC_ADDR);
			ck_assert_uint_eq(rd32(e + 8), 0);
			ioapics++;
			break;
		case 2: /* Interrupt Source Override */
			ck_assert_uint_eq(e[1], 10);
			ck_assert_uint_eq(e[2], 0); /* ISA */
			/* The GED's IRQ stays identity-mapped, edge, high (ISA defaults). */
			ck_assert_uint_ne(e[3], X86_GED_IRQ);
			if (e[3] == 0) {
				ck_assert_uint_eq(rd32(e + 4), 2);
				ck_assert_uint_eq(rd16(e + 8) & 0xc, 0x4); /* edge */
				irq0++;
			} else if (e[3] == 9) {
				ck_assert_uint_eq(rd32(e + 4), 9);
				ck_assert_uint_eq(rd16(e + 8), 0xd); /* level, active high */
				irq9++;
			}
			isos++;
			break;
		default:
			ck_abort_msg("unexpected MADT entry type %u", e[0]);
		}
	}
	ck_assert_uint_eq(off, len); /* entries tile the table exactly */
	ck_assert_uint_eq(lapics, n);
	ck_assert_uint_eq(ioapics, 1);
	ck_assert_uint_eq(isos, 2);
	ck_assert_int_eq(irq0, 1);
	ck_assert_int_eq(irq9, 1);
	mem_destroy(&m);
}
END_TEST

static const uint8_t *dsdt(const struct guest_mem *m, const uint8_t *rsdp)
{
	return table(m, rd64(find(m, rsdp, "FACP") + 140), "DSDT");
}

static const uint8_t *memfind(const uint8_t *p, size_t len, const void *what, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(p + i, what, n))
			return p + i;
	return NULL;
}

START_TEST(dsdt_s5_and_com1)
{
	struct guest_mem m = small_ram();
	const uint8_t *d = dsdt(&m, build(&m, 1));
	uint32_t len = rd32(d + 4), plen;
	const uint8_t *p = memfind(d + 36, len - 36, "_S5_", 4);
	int n;

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p[-1], 0x08); /* NameOp */
	ck_assert_uint_eq(p[4], 0x12);	/* PackageOp */
	plen = pkglen_decode(p + 5, &n);
	ck_assert_uint_eq(p[5 + n], 4); /* NumElements */
	ck_assert_uint_eq(p[6 + n], 0x0a);
	ck_assert_uint_eq(p[7 + n], X86_SLP_TYP_S5);

	/* Top level: Name (_S5_, Package) then Scope (\_SB) running to the table's end. */
	p += 5 + plen;
	ck_assert_uint_eq(p[0], 0x10);
	ck_assert_ptr_eq(p + 1 + pkglen_decode(p + 1, &n), d + len);
	ck_assert_mem_eq(p + 1 + n, "\\_SB_\x5b\x82", 7);

	ck_assert_ptr_nonnull(memfind(d, len, "COM1", 4));
	ck_assert_ptr_nonnull(memfind(d, len, "\x0c\x41\xd0\x05\x01", 5)); /* PNP0501 */
	ck_assert_ptr_nonnull(memfind(d, len, "\x47\x01\xf8\x03\xf8\x03\x01\x08", 8));
	ck_assert_ptr_nonnull(memfind(d, len, "\x22\x10\x00\x79\x00", 5)); /* IRQ 4, end */
	mem_destroy(&m);
}
END_TEST

/* Test-side encoding of one slot device in PCI0 (not through aml.c): Device (Sxx) {
 * Name (_ADR, slot << 16) Name (_SUN, slot) Method (_EJ0, 1) { Store (slot, \_SB.EJCT) } } */
static size_t slot_device(unsigned int slot, uint8_t *out)
{
	static const char hex[] = "0123456789ABCDEF";
	uint8_t sun[2] = {0x0a, (uint8_t)slot}; /* BytePrefix slot, or OneOp for slot 1 */
	size_t nsun = slot == 1 ? 1 : 2, n = 0;

	if (slot == 1)
		sun[0] = 0x01;
	out[n++] = 0x5b;
	out[n++] = 0x82;
	out[n++] = (uint8_t)(1 + 4 + 10 + 5 + nsun + 2 + 4 + 1 + 1 + nsun + 10);
	memcpy(out + n, (char[4]){'S', hex[slot >> 4], hex[slot & 15], '_'}, 4);
	n += 4;
	memcpy(out + n, "\x08_ADR\x0c\x00\x00", 8); /* DWordPrefix, function 0, device */
	n += 8;
	out[n++] = (uint8_t)slot;
	out[n++] = 0;
	memcpy(out + n, "\x08_SUN", 5);
	n += 5;
	memcpy(out + n, sun, nsun);
	n += nsun;
	out[n++] = 0x14;
	out[n++] = (uint8_t)(1 + 4 + 1 + 1 + nsun + 10);
	memcpy(out + n, "_EJ0\x01\x70", 6);
	n += 6;
	memcpy(out + n, sun, nsun);
	n += nsun;
	memcpy(out + n, "\\\x2e_SB_EJCT", 10);
	return n + 10;
}

/* String literals as byte strings: found in, or expected at, the DSDT. */
#define FIND(p, len, lit) memfind(p, len, lit, sizeof(lit) - 1)
#define AT(p, lit)	  ck_assert_mem_eq(p, lit, sizeof(lit) - 1)

/* The hotplug and power-button objects, found by their encodings (in the largest tables:
 * with PCI and the most vCPUs), and the same DSDT without PCI0. */
START_TEST(dsdt_hotplug_and_power_button)
{
	struct guest_mem m = small_ram();
	const struct acpi_config cfg = pci_cfg(ACPI_MAX_VCPUS); /* the largest tables */
	const uint8_t *d = dsdt(&m, build_cfg(&m, &cfg)), *pci, *p;
	uint32_t len = rd32(d + 4), plen;
	uint8_t want[64];
	int n;

	ck_assert_ptr_nonnull(FIND(d, len, "\x5b\x80HPRG\x01\x0b\x10\x06\x0a\x10"));
	ck_assert_ptr_nonnull(FIND(d, len,
				   "\x5b\x81\x1aHPRG\x43GEVT\x20PCIU\x20PCID\x20"
				   "EJCT\x20"));

	/* PCI0 holds the 31 slot devices and PCNT. */
	pci = FIND(d, len, "PCI0\x08_HID");
	ck_assert_ptr_nonnull(pci);
	for (n = 1; n <= 4; n++) /* DeviceOp, then a PkgLength of n bytes, then PCI0 */
		if (pci[-n - 2] == 0x5b && pci[-n - 1] == 0x82 && (pci[-n] >> 6) + 1 == n)
			break;
	ck_assert_int_le(n, 4);
	plen = pkglen_decode(pci - n, &n);
	pci = pci - n + plen; /* the end of PCI0: p below is searched up to it */
	ck_assert(pci <= d + len);
	for (unsigned int slot = 1; slot < 32; slot++) {
		size_t wn = slot_device(slot, want);

		p = memfind(d, (size_t)(pci - d), want, wn);
		ck_assert_msg(p != NULL, "slot %u device", slot);
	}
	p = FIND(d, (size_t)(pci - d), "PCNT\x08\x70\\\x2e_SB_PCIU\x60\x70\\\x2e_SB_PCID\x61");
	ck_assert_ptr_nonnull(p);
	/* If (And (Local0, 0x20, Zero)) { Notify (S05, 1) } ... */
	ck_assert_ptr_nonnull(
	    FIND(p, (size_t)(pci - p), "\xa0\x0c\x7b\x60\x0a\x20\x00\x86S05_\x01"));
	/* ... If (And (Local1, 0x80000000, Zero)) { Notify (S1F, 3) } */
	ck_assert_ptr_nonnull(
	    FIND(p, (size_t)(pci - p), "\xa0\x10\x7b\x61\x0c\x00\x00\x00\x80\x00\x86S1F_\x0a\x03"));

	/* PWRB: _HID EisaId ("PNP0C0C"), _UID 0 */
	ck_assert_ptr_nonnull(
	    FIND(d, len, "\x5b\x82\x15PWRB\x08_HID\x0c\x41\xd0\x0c\x0c\x08_UID\x00"));

	/* GED0: _HID "ACPI0013", _UID 0, _CRS Interrupt () {X86_GED_IRQ}, then _EVT, the
	 * last object in the table. */
	p = FIND(d, len,
		 "GED0\x08_HID\x0d"
		 "ACPI0013\x00\x08_UID\x00\x08_CRS");
	ck_assert_ptr_nonnull(p);
	p += 30;
	AT(p, "\x11\x0e\x0a\x0b\x89\x06\x00\x01\x01"); /* consumer, level, high */
	ck_assert_uint_eq(rd32(p + 9), X86_GED_IRQ);
	AT(p + 13, "\x79\x00");
	p += 15;
	AT(p, "\x14\x3c_EVT\x09\x70\\\x2e_SB_GEVT\x60"); /* PkgLength 60 */
	ck_assert_ptr_eq(p + 1 + 60, d + len);
	p += 19;
	/* If (And (Local0, X86_GED_PCI_HOTPLUG, Zero)) { \_SB.PCI0.PCNT () } */
	AT(p, "\xa0\x15\x7b\x60\x0a");
	ck_assert_uint_eq(p[5], X86_GED_PCI_HOTPLUG);
	AT(p + 6, "\x00\\\x2f\x03_SB_PCI0PCNT");
	p += 22;
	/* If (And (Local0, X86_GED_POWER_BUTTON, Zero)) { Notify (\_SB.PWRB, 0x80) } */
	AT(p, "\xa0\x13\x7b\x60\x0a");
	ck_assert_uint_eq(p[5], X86_GED_POWER_BUTTON);
	AT(p + 6, "\x00\x86\\\x2e_SB_PWRB\x0a\x80");
	ck_assert_ptr_eq(p + 20, d + len);
	mem_destroy(&m);

	/* Without PCI0, no slots and no PCNT call, but the power button stays. */
	m = small_ram();
	d = dsdt(&m, build(&m, 1));
	len = rd32(d + 4);
	ck_assert_ptr_null(FIND(d, len, "PCNT"));
	ck_assert_ptr_null(FIND(d, len, "S01_"));
	p = FIND(d, len, "\x14\x26_EVT\x09\x70\\\x2e_SB_GEVT\x60\xa0\x13"); /* PkgLength 38 */
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_eq(p + 1 + 38, d + len);
	ck_assert_ptr_nonnull(FIND(d, len, "\x5b\x82\x15PWRB\x08_HID"));
	mem_destroy(&m);
}
END_TEST

START_TEST(too_small_is_enospc)
{
	struct guest_mem m = small_ram();
	const struct acpi_config cfg = {.nr_vcpus = 8};
	const uint8_t *r = build(&m, 8);
	gpa_t xsdt = rd64(r + 24);
	uint64_t size = xsdt + rd32(table(&m, xsdt, "XSDT") + 4) - X86_ACPI_BASE;
	const gpa_t other = 0x10000;
	const uint8_t *o = mem_gpa_to_hva(&m, other, size);

	ck_assert_uint_le(size, X86_ACPI_MAX);
	ck_assert_int_eq(acpi_build(&m, other, size - 1, &cfg, NULL), -ENOSPC);
	ck_assert_int_eq(acpi_build(&m, other, 36, &cfg, NULL), -ENOSPC);
	ck_assert_int_eq(acpi_build(&m, other, 0, &cfg, NULL), -ENOSPC);
	for (uint64_t i = 0; i < size; i++) /* nothing written */
		ck_assert_uint_eq(o[i], 0);
	ck_assert_int_eq(acpi_build(&m, other, size, &cfg, NULL), 0);
	mem_destroy(&m);
}
END_TEST

START_TEST(bad_arguments)
{
	struct guest_mem m = small_ram();
	const struct acpi_config cfg = {.nr_vcpus = 1}, none = {0}, many = {.nr_vcpus = 255};
	gpa_t rsdp = 123;

	ck_assert_int_eq(acpi_build(&m, 4ULL << 20, X86_ACPI_MAX, &cfg, &rsdp), -EFAULT);
	ck_assert_int_eq(acpi_build(&m, RAM_SIZE - 64, X86_ACPI_MAX, &cfg, &rsdp), -EFAULT);
	ck_assert_int_eq(acpi_build(&m, UINT64_MAX - 15, X86_ACPI_MAX, &cfg, &rsdp), -EFAULT);
	ck_assert_int_eq(acpi_build(&m, X86_ACPI_BASE + 8, X86_ACPI_MAX, &cfg, &rsdp), -EINVAL);
	ck_assert_int_eq(acpi_build(&m, X86_ACPI_BASE, X86_ACPI_MAX, &none, &rsdp), -EINVAL);
	ck_assert_int_eq(acpi_build(&m, X86_ACPI_BASE, X86_ACPI_MAX, &many, &rsdp), -EINVAL);
	ck_assert_int_eq(acpi_build(&m, X86_ACPI_BASE, X86_ACPI_MAX, NULL, &rsdp), -EINVAL);
	ck_assert_uint_eq(rsdp, 123); /* untouched on failure */
	build(&m, ACPI_MAX_VCPUS);
	mem_destroy(&m);
}
END_TEST

/* Runs "iasl -d" on one table in a scratch directory; returns its exit status and puts
 * its messages followed by the disassembly into out. */
static int iasl_disassemble(const uint8_t *t, char *out, size_t cap)
{
	char dir[] = "/tmp/minivmm-acpi-XXXXXX", cmd[256];
	size_t n = 0, len = rd32(t + 4);
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "%s/t.dat", dir);
	f = fopen(cmd, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(t, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && iasl -d t.dat 2>&1 && cat t.dsl; r=$?; rm -rf %s; exit $r", dir, dir);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while (n < cap - 1 && !feof(f) && !ferror(f))
		n += fread(out + n, 1, cap - 1 - n, f);
	out[n] = 0;
	while (fgetc(f) != EOF) /* let iasl finish if out was too small */
		;
	return pclose(f);
}

/* Counts the occurrences of what in s. */
static unsigned int count(const char *s, const char *what)
{
	unsigned int n = 0;

	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

/* The DSDT's disassembly shows every object dsdt_hotplug_and_power_button() finds by its
 * bytes, as iasl understood them. */
static void check_dsdt_asl(const char *out, int pci)
{
	static const char *const always[] = {
	    "Name (_S5, Package (0x04)",
	    "Device (COM1)",
	    "EisaId (\"PNP0501\")",
	    "IRQNoFlags ()",
	    "OperationRegion (HPRG, SystemIO, 0x0610, 0x10)",
	    "Field (HPRG, DWordAcc, NoLock, WriteAsZeros)",
	    "GEVT,   32",
	    "EJCT,   32",
	    "Device (PWRB)",
	    "Name (_HID, EisaId (\"PNP0C0C\")",
	    "Device (GED0)",
	    "Name (_HID, \"ACPI0013\"",
	    "Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive",
	    "0x00000005,",
	    "Method (_EVT, 1, Serialized)",
	    "Local0 = \\_SB.GEVT",
	    "If ((Local0 & 0x04))",
	    "Notify (\\_SB.PWRB, 0x80)",
	};
	static const char *const with_pci[] = {
	    "Device (PCI0)",
	    "Method (PCNT, 0, Serialized)",
	    "Local0 = \\_SB.PCIU",
	    "Local1 = \\_SB.PCID",
	    "If ((Local0 & 0x02))",
	    "Notify (S01, One)",
	    "If ((Local1 & 0x80000000))",
	    "Notify (S1F, 0x03)",
	    "Device (S1F)",
	    "Name (_ADR, 0x001F0000)",
	    "Name (_SUN, 0x1F)",
	    "\\_SB.EJCT = 0x1F",
	    "\\_SB.PCI0.PCNT ()",
	};

	for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
		ck_assert_msg(strstr(out, always[i]), "no \"%s\" in:\n%s", always[i], out);
	for (size_t i = 0; i < sizeof(with_pci) / sizeof(with_pci[0]); i++)
		ck_assert_msg(!strstr(out, with_pci[i]) == !pci, "\"%s\" %s", with_pci[i],
			      pci ? "missing" : "without PCI");
	ck_assert_uint_eq(count(out, "Method (_EJ0, 1, NotSerialized)"), pci ? 31 : 0);
	ck_assert_uint_eq(count(out, "Notify (S"), pci ? 62 : 0);
}

/* iasl (acpica-tools, installed by tests/install-deps.sh) disassembles every table
 * without complaint (it exits 0 even on bad checksums or malformed AML, but says so in
 * its log), with and without the PCI host bridge. Skipped where iasl is missing. */
START_TEST(iasl_disassembles)
{
	static const char *const sigs[] = {"DSDT", "FACP", "APIC", "XSDT", "MCFG"};
	const struct acpi_config cfgs[] = {{.nr_vcpus = 2}, pci_cfg(2)};
	const size_t cap = 1 << 20;
	char *out;

	if (system("command -v iasl >/dev/null 2>&1") != 0)
		UNIT_SKIP("iasl not installed (Debian package acpica-tools)");
	out = malloc(cap);
	ck_assert_ptr_nonnull(out);
	for (size_t c = 0; c < 2; c++) {
		struct guest_mem m = small_ram();
		const uint8_t *r = build_cfg(&m, &cfgs[c]), *tables[5];
		size_t nr = cfgs[c].ecam_base ? 5 : 4;

		tables[0] = dsdt(&m, r);
		tables[1] = find(&m, r, "FACP");
		tables[2] = find(&m, r, "APIC");
		tables[3] = table(&m, rd64(r + 24), "XSDT");
		if (nr == 5)
			tables[4] = find(&m, r, "MCFG");
		for (size_t i = 0; i < nr; i++) {
			ck_assert_msg(iasl_disassemble(tables[i], out, cap) == 0, "iasl -d %s: %s",
				      sigs[i], out);
			ck_assert_uint_lt(strlen(out), cap - 1); /* all of it */
			ck_assert_msg(!strstr(out, "Warning") && !strstr(out, "Error"), "%s", out);
			ck_assert_ptr_nonnull(strstr(out, sigs[i]));
			if (i == 0)
				check_dsdt_asl(out, nr == 5);
		}
		mem_destroy(&m);
	}
	free(out);
}
END_TEST

Suite *acpi_suite(void)
{
	Suite *s = suite_create("acpi");
	TCase *tables = tcase_create("tables");

	tcase_add_test(tables, rsdp_xsdt_and_checksums);
	tcase_add_test(tables, fadt_hw_reduced);
	tcase_add_loop_test(tables, madt_entries, 0, sizeof(madt_vcpus) / sizeof(madt_vcpus[0]));
	tcase_add_test(tables, dsdt_s5_and_com1);
	tcase_add_test(tables, dsdt_hotplug_and_power_button);
	tcase_add_test(tables, too_small_is_enospc);
	tcase_add_test(tables, bad_arguments);
	tcase_add_test(tables, iasl_disassembles);
	tcase_set_timeout(tables, 30);
	suite_add_tcase(s, tables);
	return s;
}
