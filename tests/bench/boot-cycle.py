#!/usr/bin/env python3
"""The driver of tests/bench/boot-cycle.sh (see there for what is measured and how).

  boot-cycle.py run ROUNDS      in the emulated host: ROUNDS + 1 rounds (the first a
      warm-up, not counted), each booting every side once, in an order that rotates
      from round to round; prints progress and "SAMPLE key value" lines.
  boot-cycle.py table SAMPLES   the markdown table (median, min, max; ratios to kvmtool
      taken round by round)

Settings from the environment: MINIVMM_REPO, KERNEL, VMLINUX, BC_INITRD, QEMU, LKVM (empty:
kvmtool is absent; LKVM_WHY says why)."""
import os
import re
import select
import statistics
import subprocess
import sys
import time

from samples import load as load_samples, ratio as samples_ratio

MEM_MIB = 256
CMDLINE = "console=ttyS0 panic=-1 quiet"
LIMIT_S = 120
USERSPACE = re.compile(rb"guest: userspace reached \(([0-9.]+)s since kernel start\)")
# minivmm's exit-time line: "timeline (ms since start): config 0.4, guest RAM 1.2, ..."
TIMELINE = re.compile(r"timeline \(ms since start\): (.*)")
PHASES = ["config", "files read", "host set-up", "guest RAM", "devices", "kernel loaded", "first KVM_RUN",
          "first console output", "guest userspace", "stop request", "torn down", "exit"]
SIDES = [  # key, label
    ("mv_bz", "minivmm, bzImage"),
    ("mv_pvh", "minivmm, vmlinux (PVH)"),
    ("kvmtool", "kvmtool, bzImage"),
    ("q_bz", "QEMU -M microvm, bzImage"),
    ("q_pvh", "QEMU -M microvm, vmlinux (PVH)"),
]


def say(*a):
    print(*a, flush=True)


def env(name):
    return os.environ.get(name, "")


def argv_of(side, ini):
    kernel = env("VMLINUX") if side.endswith("pvh") else env("KERNEL")
    initrd = env("BC_INITRD")
    if side.startswith("mv"):
        with open(ini, "w") as f:
            f.write(f"[vm]\nkernel = {kernel}\ninitrd = {initrd}\nmemory = {MEM_MIB}M\n"
                    f"cmdline = {CMDLINE}\n[console]\nmode = stdio\n")
        return [env("MINIVMM_REPO") + "/build/minivmm", ini]
    if side == "kvmtool":
        # kvmtool adds its own parameters to the command line (noapic noacpi pci=conf1
        # reboot=k ...): that is how its users boot; no network (its default is a
        # user-mode NIC, which the other sides do not have).
        return [env("LKVM"), "run", "-k", kernel, "-i", initrd, "-m", str(MEM_MIB), "-c", "1",
                "-p", CMDLINE, "--console", "serial", "-n", "mode=none"]
    return [env("QEMU"), "-accel", "kvm", "-M", "microvm", "-m", f"{MEM_MIB}M", "-smp", "1",
            "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio", "-kernel", kernel,
            "-initrd", initrd, "-append", CMDLINE]


def boot(side, n, extra_env=None):
    """One boot cycle: launch, the guest reboots as soon as its init runs, exit. Returns
    {metric: ms} or None."""
    ini = f"/tmp/bc/{side}-{n}.ini"
    err = open(f"/tmp/bc/{side}-{n}.err", "w+")
    cons = open(f"/tmp/bc/{side}-{n}.console", "wb")
    t0 = time.monotonic()
    p = subprocess.Popen(argv_of(side, ini), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=err, env=dict(os.environ, HOME="/tmp/bc", **(extra_env or {})))
    first = user = None
    buf = b""
    fd = p.stdout.fileno()
    while True:
        left = t0 + LIMIT_S - time.monotonic()
        if left <= 0:
            p.kill()
            say(f"  {side}: no exit within {LIMIT_S} s; killed")
            break
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        data = os.read(fd, 65536)
        now = time.monotonic()
        if not data:
            break
        if first is None:
            first = now
        cons.write(data)
        buf += data
        if user is None and USERSPACE.search(buf):
            user = now
    rc = p.wait()
    t_exit = time.monotonic()
    cons.close()
    m = USERSPACE.search(buf)
    if rc != 0 and not (side == "kvmtool" and m):
        err.seek(0)
        say(f"  {side}: exit {rc}; last lines of its log:")
        for line in err.read().splitlines()[-5:]:
            say("    " + line)
        return None
    if not m:
        say(f"  {side}: no 'userspace reached' line on the console")
        return None

    def ms(t):
        return None if t is None else (t - t0) * 1000

    out = {"first_byte": ms(first), "userspace": ms(user), "guest_clock": float(m.group(1)) * 1000,
           "tail": (t_exit - user) * 1000, "exit": ms(t_exit)}
    if side.startswith("mv"):
        err.seek(0)
        tl = TIMELINE.search(err.read())
        for part in (tl.group(1).split(", ") if tl else []):
            name, _, v = part.rpartition(" ")
            if name in PHASES:
                out["tl_" + name.replace(" ", "_")] = float(v)
    return out


def run(rounds):
    os.makedirs("/tmp/bc", exist_ok=True)
    sides = [s for s, _ in SIDES if s != "kvmtool" or env("LKVM")]
    if not env("LKVM"):
        say(f"INFO kvmtool not measured: {env('LKVM_WHY')}")
    for r in range(rounds + 1):
        order = sides[r % len(sides):] + sides[:r % len(sides)]
        say(f"== round {r}{' (warm-up, not counted)' if r == 0 else ''}: {' '.join(order)}")
        for side in order:
            res = boot(side, r)
            say(f"  {side}: " + (", ".join(f"{k} {v:.0f}" for k, v in res.items() if v is not None)
                                 if res else "failed"))
            if r == 0:
                continue
            for k in ["first_byte", "userspace", "guest_clock", "tail", "exit"] + \
                    ["tl_" + p.replace(" ", "_") for p in PHASES]:
                if side.startswith("mv") or not k.startswith("tl_"):
                    v = res.get(k) if res else None
                    say(f"SAMPLE {side}_{k} {'NA' if v is None else f'{v:.1f}'}")
    # Not timed: where minivmm's exits to userspace went (vmm/exitprof.c) and its exit
    # counters, for the notes under the table.
    for side in ("mv_bz", "mv_pvh"):
        boot(side, "stats", {"MINIVMM_STATS": "1"})
        for line in open(f"/tmp/bc/{side}-stats.err"):
            if "busiest exits" in line or "counters at teardown" in line:
                say(f"INFO {side} (MINIVMM_STATS run, not timed): {line.strip()}")


def table(path):
    samples, info = load_samples(path)

    def fmt(v):
        v = [x for x in v if x is not None]
        if not v:
            return "| n/a | | |"
        p = 2 if max(abs(x) for x in v) < 10 else 0
        return f"| {statistics.median(v):.{p}f} | {min(v):.{p}f} | {max(v):.{p}f} |"

    def ratio(a, b):
        return samples_ratio(samples, a, b)

    say("| boot cycle: launch, boot to init, reboot, exit | unit | median | min | max |")
    say("|---|---|---|---|---|")
    what = [("first_byte", "launch to the first console byte"),
            ("userspace", "launch to 'userspace reached' on the console"),
            ("guest_clock", "guest kernel clock at 'userspace reached'"),
            ("tail", "'userspace reached' to the VMM's exit (reboot, teardown)"),
            ("exit", "**launch to exit**")]
    for side, label in SIDES:
        for k, w in what:
            if f"{side}_{k}" in samples:
                say(f"| {label}: {w} | ms {fmt(samples[f'{side}_{k}'])}")
    for side, label in SIDES:
        if side != "kvmtool" and "kvmtool_exit" in samples:
            say(f"| **ratio launch to exit, {label} / kvmtool** (per round) | x "
                f"{fmt(ratio(f'{side}_exit', 'kvmtool_exit'))}")
    for side, label in SIDES[:2]:
        prev = None
        for p in PHASES:
            k = f"{side}_tl_{p.replace(' ', '_')}"
            if k not in samples:
                continue
            if prev is None:
                d = samples[k]
            else:
                d = [x - y if x is not None and y is not None else None
                     for x, y in zip(samples[k], samples[prev])]
            say(f"| {label}, minivmm's timeline: {prev.split('_tl_')[1].replace('_', ' ') if prev else 'start'}"
                f" to {p} | ms {fmt(d)}")
            prev = k
    for i in info:
        say(f"\n{i}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "run":
        run(int(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "table":
        table(sys.argv[2])
    else:
        sys.exit(__doc__)
