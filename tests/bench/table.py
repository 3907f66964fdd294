#!/usr/bin/env python3
"""Turns the side-by-side benchmark's samples ("SAMPLE metric value", "INFO text") into
one markdown table (stdout) and CSV (argv[2]). Each figure: median, min and max of its
samples; ratios are taken run by run (the i-th sample of each side came from the same
round) and then summarised the same way. Usage: table.py SAMPLES CSV"""
import statistics
import sys

samples, info = {}, []
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 3 and f[0] == "SAMPLE":
        v = None if f[2] == "NA" else float(f[2])
        samples.setdefault(f[1], []).append(v)
    elif f and f[0] == "INFO":
        info.append(line[5:].strip())


def vals(key):
    return [v for v in samples.get(key, []) if v is not None]


def pair(a, b):
    """a[i] / b[i] for the rounds where both exist."""
    return [x / y for x, y in zip(samples.get(a, []), samples.get(b, []))
            if x is not None and y is not None and y != 0]


rows = []  # (group, what, unit, values, note)


def row(group, what, unit, v, note=""):
    rows.append((group, what, unit, v, note))


B = "boot"
row(B, "minivmm: VMM start to first KVM_RUN (VMM log)", "ms", vals("boot_minivmm_first_run_ms"))
row(B, "minivmm: VMM start to guest userspace (VMM log, port 0x5fe)", "ms",
    vals("boot_minivmm_userspace_ms"))
row(B, "minivmm: launch to exit (wall)", "ms", vals("boot_minivmm_exit_ms"))
for m in ("microvm", "q35"):
    u = vals(f"boot_qemu_{m}_userspace_ms")
    row(B, f"QEMU -M {m}: launch to 'userspace reached' on the console (wall)", "ms", u,
        "" if u else "did not boot")
    row(B, f"QEMU -M {m}: launch to exit (wall)", "ms", vals(f"boot_qemu_{m}_exit_ms"))
for m in ("microvm", "q35"):
    row(B, f"ratio to guest userspace, minivmm / QEMU {m} (per round)", "x",
        pair("boot_minivmm_userspace_ms", f"boot_qemu_{m}_userspace_ms"),
        "aim <= 0.5" if m == "microvm" else "")
    row(B, f"ratio launch to exit, minivmm / QEMU {m} (per round)", "x",
        pair("boot_minivmm_exit_ms", f"boot_qemu_{m}_exit_ms"))
F = "footprint"
row(F, "minivmm VmRSS - RssShmem (beyond guest RAM), guest idle", "KiB",
    vals("fp_minivmm_beyond_guest_kib"), "aim < 3072")
row(F, "minivmm VmRSS (guest RAM in RssShmem: memfd)", "KiB", vals("fp_minivmm_vmrss_kib"))
row(F, "QEMU microvm VmRSS (guest RAM is anonymous, inside it)", "KiB", vals("fp_qemu_vmrss_kib"))
row(F, "QEMU microvm RssAnon (guest RAM touched + QEMU heap)", "KiB", vals("fp_qemu_anon_kib"))
row(F, "QEMU microvm RssFile (binary and libraries)", "KiB", vals("fp_qemu_file_kib"))
row(F, "minivmm binary, stripped", "KiB", vals("size_minivmm_stripped_kib"), "aim < 400")
row(F, "/usr/bin/qemu-system-x86_64 (as packaged, stripped)", "KiB", vals("size_qemu_kib"))
E = "exit cost"
row(E, "minivmm: port write to an unclaimed port, per exit", "us", vals("exit_pio_us"))
row(E, "minivmm: MMIO write to an unclaimed address, per exit", "us", vals("exit_mmio_us"))
D = "DMA map"
for mib in (256, 1024, 2048):
    for h, name in (("off", "4 KiB pages"), ("on", "2 MiB hugepages")):
        v = vals(f"dma_{mib}_{h}_ms")
        row(D, f"VFIO map of {mib} MiB guest RAM, {name}", "ms", v,
            "" if v else "not measured (see log)")
    row(D, f"speed-up of hugepages at {mib} MiB, 4K / 2M (per run)", "x",
        pair(f"dma_{mib}_off_ms", f"dma_{mib}_on_ms"), "aim >= 5")


def fmt(x):
    return f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}" if abs(x) < 1000 else f"{x:.0f}"


print("| group | measure | unit | median | min | max | n | note |")
print("|---|---|---|---|---|---|---|---|")
with open(sys.argv[2], "w") as csv:
    csv.write("group,measure,unit,median,min,max,n,samples\n")
    for g, what, unit, v, note in rows:
        if v:
            med, lo, hi = statistics.median(v), min(v), max(v)
            print(f"| {g} | {what} | {unit} | {fmt(med)} | {fmt(lo)} | {fmt(hi)} | {len(v)} | {note} |")
            csv.write(f'{g},"{what}",{unit},{med:.3f},{lo:.3f},{hi:.3f},{len(v)},'
                      f'"{" ".join(f"{x:.3f}" for x in v)}"\n')
        else:
            print(f"| {g} | {what} | {unit} | - | - | - | 0 | {note or 'no data'} |")
            csv.write(f'{g},"{what}",{unit},,,,0,""\n')
print()
for i in info:
    print(f"- {i}")
