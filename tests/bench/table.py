#!/usr/bin/env python3
"""Turns the side-by-side benchmark's samples ("SAMPLE metric value", "INFO text") into
one markdown table (stdout) and CSV (argv[2]), and with a third argument a PNG chart of
the key comparisons drawn from that CSV (tests/bench/chart.py, gnuplot). Each figure:
median, min and max of its samples; ratios are taken run by run (the i-th sample of each
side came from the same round) and then summarised the same way. The CSV's last column,
key, names each row for chart.py. Usage: table.py SAMPLES CSV [PNG]"""
import os
import statistics
import subprocess
import sys

from samples import load as load_samples, ratio as samples_ratio

samples, info = load_samples(sys.argv[1])


def vals(key):
    return [v for v in samples.get(key, []) if v is not None]


def pair(a, b):
    """a[i] / b[i] for the rounds where both exist."""
    return samples_ratio(samples, a, b)


def add(a, b):
    """a[i] + b[i], None where either is missing (keeps run i at index i)."""
    return [x + y if x is not None and y is not None else None
            for x, y in zip(samples.get(a, []), samples.get(b, []))]


rows = []  # (group, what, unit, values, note, key)


def row(group, what, unit, v, note="", key=""):
    rows.append((group, what, unit, v, note, key))


B = "boot"
row(B, "minivmm: VMM start to first KVM_RUN (VMM log)", "ms", vals("boot_minivmm_first_run_ms"),
    key="boot_minivmm_first_run_ms")
row(B, "minivmm: VMM start to guest userspace (VMM log, port 0x5fe)", "ms",
    vals("boot_minivmm_userspace_ms"), key="boot_minivmm_userspace_ms")
row(B, "minivmm: launch to exit (wall)", "ms", vals("boot_minivmm_exit_ms"),
    key="boot_minivmm_exit_ms")
for m in ("microvm", "q35"):
    u = vals(f"boot_qemu_{m}_userspace_ms")
    row(B, f"QEMU -M {m}: launch to 'userspace reached' on the console (wall)", "ms", u,
        "" if u else "did not boot", key=f"boot_qemu_{m}_userspace_ms")
    row(B, f"QEMU -M {m}: launch to exit (wall)", "ms", vals(f"boot_qemu_{m}_exit_ms"),
        key=f"boot_qemu_{m}_exit_ms")
for m in ("microvm", "q35"):
    row(B, f"ratio to guest userspace, minivmm / QEMU {m} (per round)", "x",
        pair("boot_minivmm_userspace_ms", f"boot_qemu_{m}_userspace_ms"),
        "aim <= 0.5" if m == "microvm" else "", key=f"boot_ratio_userspace_{m}")
    row(B, f"ratio launch to exit, minivmm / QEMU {m} (per round)", "x",
        pair("boot_minivmm_exit_ms", f"boot_qemu_{m}_exit_ms"), key=f"boot_ratio_exit_{m}")
F = "footprint"
row(F, "minivmm VmRSS minus resident guest RAM (smaps), guest idle", "KiB",
    vals("fp_minivmm_beyond_guest_kib"), "aim < 3072", "fp_minivmm_beyond_guest_kib")
row(F, "minivmm VmRSS (guest RAM anonymous, inside it)", "KiB", vals("fp_minivmm_vmrss_kib"),
    key="fp_minivmm_vmrss_kib")
row(F, "QEMU microvm VmRSS (guest RAM is anonymous, inside it)", "KiB", vals("fp_qemu_vmrss_kib"),
    key="fp_qemu_vmrss_kib")
row(F, "QEMU microvm RssAnon (guest RAM touched + QEMU heap)", "KiB", vals("fp_qemu_anon_kib"),
    key="fp_qemu_anon_kib")
row(F, "QEMU microvm RssFile (binary and libraries)", "KiB", vals("fp_qemu_file_kib"),
    key="fp_qemu_file_kib")
row(F, "minivmm binary, stripped", "KiB", vals("size_minivmm_stripped_kib"), "aim < 400",
    "size_minivmm_stripped_kib")
row(F, "/usr/bin/qemu-system-x86_64 (as packaged, stripped)", "KiB", vals("size_qemu_kib"),
    key="size_qemu_kib")
E = "exit cost"
row(E, "minivmm: port write to an unclaimed port, per exit", "us", vals("exit_pio_us"),
    key="exit_pio_us")
row(E, "minivmm: MMIO write to an unclaimed address, per exit", "us", vals("exit_mmio_us"),
    key="exit_mmio_us")
D = "DMA map"
# minivmm that faults guest RAM in before the map logs that step apart (populate); then
# the map row is the map step alone, and populate + map is the whole cost.
populate = any(k.startswith("dma_") and k.endswith("_populate_ms") for k in samples)
for mib in (256, 1024, 2048):
    for h, name in (("off", "4 KiB pages"), ("on", "2 MiB hugepages")):
        k = f"dma_{mib}_{h}"
        v = vals(f"{k}_ms")
        if populate:
            p = vals(f"{k}_populate_ms")
            row(D, f"populate (fault in) {mib} MiB guest RAM, {name}", "ms", p,
                "" if p else "not measured (see log)", f"{k}_populate_ms")
        row(D, f"VFIO map of {mib} MiB guest RAM, {name}", "ms", v,
            "" if v else "not measured (see log)", f"{k}_ms")
        if populate:
            samples[f"{k}_total_ms"] = add(f"{k}_populate_ms", f"{k}_ms")
            row(D, f"populate + map of {mib} MiB guest RAM, {name} (per run)", "ms",
                vals(f"{k}_total_ms"), key=f"{k}_total_ms")
    step = " of the map step" if populate else ""
    row(D, f"speed-up of hugepages{step} at {mib} MiB, 4K / 2M (per run)", "x",
        pair(f"dma_{mib}_off_ms", f"dma_{mib}_on_ms"), "aim >= 5", f"dma_{mib}_speedup")
    if populate:
        row(D, f"speed-up of hugepages of populate + map at {mib} MiB, 4K / 2M (per run)", "x",
            pair(f"dma_{mib}_off_total_ms", f"dma_{mib}_on_total_ms"),
            key=f"dma_{mib}_total_speedup")

# Block I/O (io.bash): the NVMe on the emulated host's nvme driver, the same NVMe passed
# through to a minivmm guest (also with cpu_pm = on), and a minivmm guest on virtio-blk;
# ratios round by round.
IO = "block I/O"
PHASES = (("seq_write", "seq write (dd 1 MiB x 256, O_DIRECT)", "MiB/s", "per MiB"),
          ("seq_read", "seq read (dd 1 MiB x 256, O_DIRECT)", "MiB/s", "per MiB"),
          ("rand_read", "4 KiB random read, QD1, interrupt (10 s)", "IOPS", "per op"),
          ("rand_write", "4 KiB random write, QD1, interrupt (10 s)", "IOPS", "per op"),
          ("rand_read_poll", "4 KiB random read, QD1, polled io_uring (10 s)", "IOPS", "per op"))
GUESTS = (("pt", "NVMe passthrough", "aim >= 0.9"),
          ("ptpm", "NVMe passthrough, cpu_pm = on", ""),
          ("vblk", "virtio-blk (file in the host's tmpfs)", ""))
for ph, what, unit, _ in PHASES:
    row(IO, f"{what}: native, the host's nvme driver (IOMMU: DMA, Linux's default)", unit,
        vals(f"io_native_{ph}"), key=f"io_native_{ph}")
    row(IO, f"{what}: native, the host's nvme driver (IOMMU: identity, iommu=pt)", unit,
        vals(f"io_nativeid_{ph}"), key=f"io_nativeid_{ph}")
    for side, name, note in GUESTS:
        v = vals(f"io_{side}_{ph}")
        if side == "vblk" and ph == "rand_read_poll" and not v:
            row(IO, f"{what}: minivmm guest, {name}", unit, v,
                "no poll queue: one virtqueue", f"io_{side}_{ph}")
            continue
        row(IO, f"{what}: minivmm guest, {name}", unit, v, key=f"io_{side}_{ph}")
        row(IO, f"{what}: ratio {side} / native (per round)", "x",
            pair(f"io_{side}_{ph}", f"io_native_{ph}"), note, f"io_ratio_{side}_{ph}")
        if side == "pt":
            row(IO, f"{what}: ratio {side} / native with identity IOMMU (per round)", "x",
                pair(f"io_{side}_{ph}", f"io_nativeid_{ph}"), note,
                f"io_ratioid_{side}_{ph}")
# Exits between the guest's two stats marks around the phase over the phase's I/Os: the
# VMM's (less the closing mark's own port write), and all that KVM counted, most of them
# handled in the kernel (HLT, interrupt delivery) and never seen by the VMM.
for side, name, _ in GUESTS:
    for ph, what, _, per in PHASES:
        short = what.split(" (")[0].replace(" (10 s)", "")
        row(IO, f"VMM exits {per}, {name}: {short}", "exits",
            pair(f"io_{side}_{ph}_exits_all", f"io_{side}_{ph}_ios"),
            "aim 0" if side == "pt" else "", f"io_exits_{side}_{ph}")
        row(IO, f"KVM exits {per} (in-kernel too), {name}: {short}", "exits",
            pair(f"io_{side}_{ph}_exits_kvm", f"io_{side}_{ph}_ios"), "",
            f"io_kvm_exits_{side}_{ph}")


def fmt(x):
    if x != 0 and abs(x) < 0.1:
        return f"{x:.4f}"
    return f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}" if abs(x) < 1000 else f"{x:.0f}"


print("| group | measure | unit | median | min | max | n | note |")
print("|---|---|---|---|---|---|---|---|")
with open(sys.argv[2], "w") as csv:
    csv.write("group,measure,unit,median,min,max,n,samples,key\n")
    for g, what, unit, v, note, key in rows:
        if v:
            med, lo, hi = statistics.median(v), min(v), max(v)
            print(f"| {g} | {what} | {unit} | {fmt(med)} | {fmt(lo)} | {fmt(hi)} | {len(v)} | {note} |")
            csv.write(f'{g},"{what}",{unit},{med:.4f},{lo:.4f},{hi:.4f},{len(v)},'
                      f'"{" ".join(f"{x:.4f}" for x in v)}",{key}\n')
        else:
            print(f"| {g} | {what} | {unit} | - | - | - | 0 | {note or 'no data'} |")
            csv.write(f'{g},"{what}",{unit},,,,0,"",{key}\n')
print()
for i in info:
    print(f"- {i}")

if len(sys.argv) > 3:
    # The chart is a by-product: its failure (no gnuplot, say) leaves the table and CSV.
    chart = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chart.py")
    r = subprocess.run([sys.executable, chart, sys.argv[2], sys.argv[3]], stdout=sys.stderr)
    if r.returncode:
        print(f"table.py: no chart ({chart} exited {r.returncode})", file=sys.stderr)
