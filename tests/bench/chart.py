#!/usr/bin/env python3
"""Draws the key comparisons of the side-by-side benchmark from its CSV (table.py's:
group,measure,unit,median,min,max,n,samples,key) as one PNG with gnuplot: grouped bars
of the medians with min..max error bars, four panels (boot, footprint, DMA map, block
I/O ratio to native). A figure missing from the CSV leaves its bar out; a panel with
none says "no data". Usage: chart.py CSV PNG (exit 1 when gnuplot is missing or fails)."""
import csv
import shutil
import subprocess
import sys

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")

# Each panel: title, y label, scale applied to values, groups (x tick labels),
# series (name, one CSV key per group), optional reference lines (y, label).
PANELS = [
    dict(title="Boot, 256 MiB guest, 1 vCPU (lower is better)", ylabel="ms", scale=1,
         groups=["to guest userspace\n(minivmm: its log; QEMU: wall)", "launch to exit\n(wall)"],
         series=[("minivmm", ["boot_minivmm_userspace_ms", "boot_minivmm_exit_ms"]),
                 ("QEMU -M microvm", ["boot_qemu_microvm_userspace_ms", "boot_qemu_microvm_exit_ms"]),
                 ("QEMU -M q35", ["boot_qemu_q35_userspace_ms", "boot_qemu_q35_exit_ms"])]),
    dict(title="Footprint (lower is better)", ylabel="MiB", scale=1 / 1024,
         groups=["VmRSS\n256 MiB guest idle", "RSS beyond guest RAM\n(minivmm only)", "binary\nstripped"],
         series=[("minivmm", ["fp_minivmm_vmrss_kib", "fp_minivmm_beyond_guest_kib",
                              "size_minivmm_stripped_kib"]),
                 ("QEMU -M microvm", ["fp_qemu_vmrss_kib", None, "size_qemu_kib"])]),
    dict(title="VFIO DMA map of guest RAM (lower is better; log scale)", ylabel="ms", scale=1,
         log=True,
         groups=["256 MiB", "1 GiB", "2 GiB"],
         series=[("map, 4 KiB pages", ["dma_256_off_ms", "dma_1024_off_ms", "dma_2048_off_ms"]),
                 ("map, 2 MiB hugepages", ["dma_256_on_ms", "dma_1024_on_ms", "dma_2048_on_ms"]),
                 ("populate + map, 4 KiB pages",
                  ["dma_256_off_total_ms", "dma_1024_off_total_ms", "dma_2048_off_total_ms"]),
                 ("populate + map, 2 MiB hugepages",
                  ["dma_256_on_total_ms", "dma_1024_on_total_ms", "dma_2048_on_total_ms"])]),
    dict(title="Block I/O in a minivmm guest, ratio to native (higher is better)",
         ylabel="guest / native", scale=1,
         groups=["seq write", "seq read", "4K rand read", "4K rand write",
                 "4K rand read, polled"],
         series=[(name, [f"io_ratio_{side}_{ph}" for ph in
                         ("seq_write", "seq_read", "rand_read", "rand_write", "rand_read_poll")])
                 for side, name in (("pt", "NVMe passthrough"),
                                    ("ptpm", "NVMe passthrough, cpu_pm = on"),
                                    ("vblk", "virtio-blk"))]
         + [("NVMe passthrough vs identity-IOMMU native",
             [f"io_ratioid_pt_{ph}" for ph in
              ("seq_write", "seq_read", "rand_read", "rand_write", "rand_read_poll")])],
         lines=[(1.0, "native"), (0.9, "aim for passthrough >= 0.9")]),
]


def load(path):
    figs, runs = {}, 0
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            key = r.get("key") or ""
            try:
                figs[key] = (float(r["median"]), float(r["min"]), float(r["max"]))
                runs = max(runs, int(r["n"]))
            except (TypeError, ValueError, KeyError):
                pass  # no data for this row
    return figs, runs


def label(v):
    return f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}" if abs(v) < 100 else f"{v:.0f}"


def gp_str(s):
    """A gnuplot double-quoted string; a newline in s becomes gnuplot's \\n."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def panel_script(i, p, figs):
    series = [(name, keys) for name, keys in p["series"]
              if any(k in figs for k in keys if k)]
    out = [f"# panel {i}: {p['title']}",
           f"set title {gp_str(p['title'])} font ',13'",
           f"set ylabel {gp_str(p['ylabel'])}",
           "unset label", "unset arrow",
           "set style fill solid 0.85 border -1",
           "set grid ytics lc rgb '#dddddd'",
           "set key top left horizontal reverse Left samplen 1.5 width 1 font ',10'",
           "set xtics nomirror scale 0 font ',11'", "set ytics nomirror", "set border 3",
           f"set xrange [-0.6:{len(p['groups']) - 0.4}]",
           "set xtics (" + ", ".join(f"{gp_str(g)} {j}" for j, g in enumerate(p["groups"])) + ")"]
    if not series:
        out += ["set yrange [0:1]", "set label 'no data' at graph 0.5, 0.5 center font ',16'",
                "plot -1 notitle"]
        return out
    width = 0.8 / len(series)
    top, low, blocks, plots = 0.0, None, [], []
    for s, (name, keys) in enumerate(series):
        rows, bars = [], []
        for j, k in enumerate(keys):
            if k and k in figs:
                med, lo, hi = (x * p["scale"] for x in figs[k])
                x = j + (s - (len(series) - 1) / 2) * width
                rows.append(f"{x:.4f} {med:.6g} {lo:.6g} {hi:.6g} {gp_str(label(med))}")
                if hi > lo:
                    bars.append(f"{x:.4f} {lo:.6g} {hi:.6g}")
                top = max(top, hi)
                low = min(low, lo) if low is not None and lo > 0 else (lo if lo > 0 else low)
        d = f"$p{i}s{s}"
        blocks += [f"{d} << EOD"] + rows + ["EOD"]
        colour = COLOURS[s % len(COLOURS)]
        plots.append(f"{d} using 1:2 with boxes lc rgb '{colour}' title {gp_str(name)}")
        # min..max as a vector with flat heads (yerrorbars would blank a dot at the median).
        if bars:
            blocks += [f"{d}e << EOD"] + bars + ["EOD"]
            plots.append(f"{d}e using 1:2:(0):($3-$2) with vectors heads size screen 0.006,90 "
                         "lc rgb 'black' lw 1.2 notitle")
        plots.append(f"{d} using 1:4:5 with labels offset 0,0.7 font ',9' notitle")
    for y, text in p.get("lines", []):
        top = max(top, y)
        out.append(f"set arrow from graph 0, first {y} to graph 1, first {y} nohead "
                   f"dt 2 lw 1.5 lc rgb '#c00000' front")
        out.append(f"set label {gp_str(text)} at graph 0.99, first {y} right offset 0,0.6 "
                   f"font ',9' tc rgb '#c00000' front")
    # Headroom for the key and the value labels.
    out.append(f"set boxwidth {width * 0.92:.4f} absolute")
    if p.get("log") and low:
        out += ["set logscale y", f"set yrange [{low / 3:.6g}:{top * 8:.6g}]"]
    else:
        out += ["unset logscale y", f"set yrange [0:{top * 1.3 if top > 0 else 1:.6g}]"]
    return blocks + out + ["plot " + ", \\\n     ".join(plots)]


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("chart.py: gnuplot not found (Debian: gnuplot-nox; make deps installs it)",
              file=sys.stderr)
        return 1
    try:
        figs, runs = load(sys.argv[1])
    except OSError as e:
        print(f"chart.py: {e}", file=sys.stderr)
        return 1
    title = (f"minivmm make bench: median of {runs} run{'s' if runs != 1 else ''}, "
             "error bars min..max (nested test bed; absolute times are emulation speed)")
    script = ["set terminal pngcairo size 1600,1150 font 'DejaVu Sans,11' noenhanced",
              f"set output {gp_str(sys.argv[2])}",
              "set encoding utf8",
              f"set multiplot layout 2,2 title {gp_str(title)} font ',14' "
              "margins 0.06,0.98,0.07,0.91 spacing 0.07,0.11"]
    for i, p in enumerate(PANELS):
        script += panel_script(i, p, figs)
    script.append("unset multiplot")
    r = subprocess.run([gnuplot], input="\n".join(script) + "\n", text=True,
                       capture_output=True)
    if r.returncode:
        print(f"chart.py: gnuplot failed:\n{r.stderr}", file=sys.stderr)
        return 1
    if r.stderr.strip():
        print(f"chart.py: gnuplot: {r.stderr.strip()}", file=sys.stderr)
    print(f"chart.py: wrote {sys.argv[2]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
