#!/usr/bin/env python3
"""The driver of tests/bench/migrate-bench.sh (see there for what is measured and how).

  migrate-bench.py run minivmm|qemu ROUNDS   in the emulated host: boots one guest and
      takes it through snapshot + restore, live migration idle and live migration with
      the guest's writer on, ROUNDS + 1 times each (the first is a warm-up, not counted);
      prints progress and "SAMPLE key value" lines.
  migrate-bench.py table SAMPLES ACCEL        the markdown table (median, min, max)

Settings from the environment (run): MINIVMM_REPO, KERNEL, MB_INITRD, MB_DISK, QEMU."""
import faulthandler
import json
import os
import re
import select
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

from samples import load as load_samples, ratio as samples_ratio

W = "/tmp/mb"  # every file of the run: configs, consoles, sockets, logs, snapshots
MEM_MIB = 256
CMDLINE = "console=ttyS0 panic=-1 quiet"
POLL = 0.01  # console polling, seconds
DOWNTIME_MS = 300  # both VMMs' default; given explicitly to both
DIRTY_MIB = 32  # the writer's buffer
QEMU_BANDWIDTH = 100 << 30  # QEMU 7.2 caps migration at 32 MiB/s unless told otherwise
QEMU_FORCE_S = 240  # a QEMU migration not converged by then: downtime-limit raised
MAC = "52:54:00:12:34:56"


def say(*a):
    print(*a, flush=True)


def sample(key, v):
    say(f"SAMPLE {key} {'NA' if v is None else f'{v:.3f}'}")


def ms(a, b):
    return (b - a) * 1000


class Tail:
    """A console file read as it grows; each complete line stamped (monotonic) when seen."""

    def __init__(self, path):
        self.path, self.f, self.buf, self.lines, self.t = path, None, b"", [], []

    def poll(self):
        if self.f is None:
            try:
                self.f = open(self.path, "rb")
            except FileNotFoundError:
                return
        data = self.f.read()
        if not data:
            return
        t = time.monotonic()
        self.buf += data
        *done, self.buf = self.buf.split(b"\n")
        for raw in done:
            ln = raw.decode(errors="replace").strip()
            self.lines.append((t, ln))
            f = ln.split()
            if len(f) == 3 and f[0] == "T" and f[1].isdigit() and f[2].isdigit():
                self.t.append((t, int(f[1]), int(f[2])))

    def ticks(self):
        """[(stamp, tick, writer passes)] of the guest's "T N P" lines."""
        return list(self.t)

    def has(self, text):
        return any(text in ln for _, ln in list(self.lines))


class Watcher(threading.Thread):
    """Polls the consoles of the live VMs every POLL seconds, in a thread of its own so
    that the stamps do not wait for the driver's other work."""

    def __init__(self):
        super().__init__(daemon=True)
        self.tails, self.lock = [], threading.Lock()

    def add(self, path):
        t = Tail(path)
        with self.lock:
            self.tails.append(t)
        return t

    def drop(self, t):
        with self.lock:
            if t in self.tails:
                self.tails.remove(t)
        t.poll()

    def run(self):
        while True:
            with self.lock:
                tails = list(self.tails)
            for t in tails:
                t.poll()
            time.sleep(POLL)


watcher = Watcher()


def wait_for(what, cond, timeout, proc=None):
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{what}: the VMM exited ({proc.returncode}) first")
        if time.monotonic() > end:
            raise SystemExit(f"timed out ({timeout} s) waiting for {what}")
        time.sleep(POLL)


class Api:
    """QMP (QEMU) or minivmm's control socket, which has QMP's shape."""

    def __init__(self, path, qmp, proc, timeout=120):
        self.s = None
        end = time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                self.s = s
                break
            except OSError:
                s.close()
                if proc.poll() is not None:
                    raise SystemExit(f"{path}: the VMM exited ({proc.returncode})")
                if time.monotonic() > end:
                    raise SystemExit(f"cannot connect to {path}")
                time.sleep(0.05)
        self.buf, self.events, self.n, self.closed = b"", [], 0, False
        self.read(60)  # the greeting
        if qmp:
            self.cmd("qmp_capabilities")

    def read(self, timeout):
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if self.closed or left <= 0 or not select.select([self.s], [], [], left)[0]:
                return None
            data = self.s.recv(65536)
            if not data:
                self.closed = True
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, **args):
        self.n += 1
        req = {"execute": name, "id": self.n}
        if args:
            req["arguments"] = args
        self.s.sendall(json.dumps(req).encode() + b"\n")
        while True:
            m = self.read(120)
            if m is None:
                raise SystemExit(f"no reply to {name}")
            if "event" in m:
                self.events.append((time.monotonic(), m))
            elif m.get("id") == self.n:
                if "error" in m:
                    raise SystemExit(f"{name}: {m['error']}")
                return m["return"]

    def event(self, names, timeout):
        """The first event named in names (kept or arriving within timeout): (stamp, event)."""
        end = time.monotonic() + timeout
        while True:
            for e in self.events:
                if e[1]["event"] in names:
                    self.events.remove(e)
                    return e
            m = self.read(max(0.0, end - time.monotonic()))
            if m is None:
                return None
            if "event" in m:
                self.events.append((time.monotonic(), m))

    def close(self):
        if self.s:
            self.s.close()


class Vm:
    """One VMM process with its guest: console (a Tail), API, stderr log."""

    count = 0
    all = []

    def __init__(self, vmm):
        Vm.count += 1
        Vm.all.append(self)
        self.vmm, self.n = vmm, Vm.count
        self.name = f"{vmm}{self.n}"
        p = f"{W}/{self.name}"
        self.console, self.sock, self.err = p + ".console", p + ".sock", p + ".err"
        # Two taps per VMM, taken in turn: a migration's two ends never share one.
        self.tap = f"mb{vmm[0]}{self.n % 2}"
        for f in (self.console, self.sock):
            if os.path.exists(f):
                os.unlink(f)
        self.tail = watcher.add(self.console)
        self.api, self.proc, self.log = None, None, []

    def launch(self, argv):
        self.t_launch = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        threading.Thread(target=self.read_log, daemon=True).start()

    def read_log(self):
        """The VMM's stderr into self.err, each line stamped (seconds since the driver
        started), and into self.log with its monotonic stamp."""
        with open(self.err, "w") as f:
            for raw in self.proc.stderr:
                t = time.monotonic()
                ln = raw.decode(errors="replace").rstrip("\n")
                self.log.append((t, ln))
                f.write(f"[{t - T0:9.3f}] {ln}\n")
                f.flush()

    def logged(self, text):
        """The stamp of the VMM's first log line holding text, or None."""
        for t, ln in list(self.log):
            if text in ln:
                return t
        return None

    def connect(self):
        self.api = Api(self.sock, self.vmm == "qemu", self.proc)

    def last_tick(self):
        t = self.tail.ticks()
        return t[-1] if t else None

    def wait_exit(self, what, timeout=120):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise SystemExit(f"{self.name} did not exit after {what}")
        if self.api:
            self.api.close()
        watcher.drop(self.tail)
        if rc != 0:
            raise SystemExit(f"{self.name} exited {rc} after {what}; log:\n" + log_tail(self))
        return rc

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


T0 = time.monotonic()


def log_tail(vm, n=15):
    try:
        return "".join(open(vm.err).readlines()[-n:])
    except OSError:
        return "(no log)"


def env(name):
    v = os.environ.get(name)
    if not v:
        raise SystemExit(f"{name} is not set")
    return v


# ---- the two VMMs ----------------------------------------------------------------------


class Minivmm:
    name = "minivmm"

    def __init__(self):
        self.bin = f"{env('MINIVMM_REPO')}/build/minivmm"

    def sets(self, vm):
        return ["--set", f"api.socket={vm.sock}", "--set", f"console.path={vm.console}",
                "--set", f"net.eth0.tap={vm.tap}"]

    def boot(self):
        vm = Vm("minivmm")
        ini = f"{W}/minivmm.ini"
        with open(ini, "w") as f:
            f.write(f"[vm]\nkernel = {env('KERNEL')}\ninitrd = {env('MB_INITRD')}\n"
                    f"memory = {MEM_MIB}M\nvcpus = 1\ncmdline = {CMDLINE}\n"
                    f"[console]\nmode = file\npath = {vm.console}\n"
                    f"[disk.d]\npath = {env('MB_DISK')}-minivmm\n"
                    f"[net.eth0]\ntap = {vm.tap}\nmac = {MAC}\n"
                    f"[api]\nsocket = {vm.sock}\n")
        vm.launch([self.bin, ini])
        return vm

    def snapshot(self, vm, path):
        """Pause and save; returns (ms to the reply, the reply's own ms, VmRSS then); the
        VM ends."""
        os.makedirs(path)
        t0 = time.monotonic()
        vm.api.cmd("pause")
        r = vm.api.cmd("snapshot", path=path)
        t1 = time.monotonic()
        rss = rss_mib(vm)
        vm.api.cmd("shutdown")
        vm.wait_exit("shutdown")
        return ms(t0, t1), r["ms"], rss

    def restore(self, path):
        vm = Vm("minivmm")
        vm.launch([self.bin, *self.sets(vm), "--restore", path])
        return vm

    def incoming(self, addr):
        vm = Vm("minivmm")
        vm.launch([self.bin, "--incoming", f"unix:{addr}", *self.sets(vm)])
        return vm

    def migrate(self, src, addr):
        """Sends src to the destination waiting on addr; returns the VMM's figures."""
        src.api.cmd("send-migration", to=f"unix:{addr}", downtime_ms=DOWNTIME_MS)
        e = src.api.event({"MIGRATION_COMPLETED", "MIGRATION_FAILED"}, 600)
        t = time.monotonic()
        src.wait_exit("the migration")
        if e is None:
            # The source closed its socket without the event: its log line instead.
            # migrated to X: N rounds, M MiB in P pages, downtime D ms, total T ms
            m = re.search(r"migrated to \S+: (\d+) rounds, ([0-9.]+) MiB in \d+ pages, "
                          r"downtime ([0-9.]+) ms, total ([0-9.]+) ms", open(src.err).read())
            if not m:
                raise SystemExit("migration: no event and no log line; source's log:\n" +
                                 log_tail(src))
            say(f"INFO minivmm: no MIGRATION_COMPLETED event before the source's socket "
                f"closed; figures from its log")
            return t, {"total_ms": float(m[4]), "downtime_ms": float(m[3]),
                       "bytes": float(m[2]) * 2**20, "rounds": int(m[1]), "note": ""}
        if e[1]["event"] != "MIGRATION_COMPLETED":
            raise SystemExit(f"migration: {e[1]}; source's log:\n" + log_tail(src))
        d = e[1]["data"]
        return e[0], {"total_ms": d["total_ms"], "downtime_ms": d["downtime_ms"],
                      "bytes": d["bytes"], "rounds": d["rounds"], "note": ""}

    def shutdown(self, vm):
        vm.api.cmd("shutdown")
        vm.wait_exit("shutdown")


class Qemu:
    name = "qemu"

    def __init__(self):
        self.bin = env("QEMU")

    def argv(self, vm, *extra):
        # -M pc with -nodefaults: no VGA (and its 16 MiB of VRAM to migrate), no default
        # NIC, floppy or CD; modern-only virtio devices as minivmm's; no NIC option ROM.
        return [self.bin, "-accel", "kvm", "-M", "pc", "-nodefaults", "-m", f"{MEM_MIB}M",
                "-smp", "1", "-display", "none", "-no-reboot",
                "-kernel", env("KERNEL"), "-initrd", env("MB_INITRD"), "-append", CMDLINE,
                "-serial", f"file:{vm.console}",
                "-drive", f"file={env('MB_DISK')}-qemu,if=none,id=d,format=raw",
                "-device", "virtio-blk-pci,drive=d,serial=d,disable-legacy=on",
                "-netdev", f"tap,id=n0,ifname={vm.tap},script=no,downscript=no",
                "-device", f"virtio-net-pci,netdev=n0,mac={MAC},disable-legacy=on,romfile=",
                "-qmp", f"unix:{vm.sock},server=on,wait=off", *extra]

    def boot(self):
        vm = Vm("qemu")
        vm.launch(self.argv(vm))
        return vm

    def prepare(self, vm):
        vm.api.cmd("migrate-set-capabilities",
                   capabilities=[{"capability": "events", "state": True}])
        vm.api.cmd("migrate-set-parameters", **{"max-bandwidth": QEMU_BANDWIDTH,
                                                "downtime-limit": DOWNTIME_MS})

    def completed(self, vm, timeout, force=False):
        """Waits for the MIGRATION event completed (or failed): its arrival stamp."""
        end = time.monotonic() + timeout
        forced = False
        while True:
            e = vm.api.event({"MIGRATION"}, max(0.0, end - time.monotonic()))
            if e is None:
                if force and not forced:
                    # Not converged: let it stop the guest for as long as it needs.
                    vm.api.cmd("migrate-set-parameters", **{"downtime-limit": 600000})
                    forced, end = True, time.monotonic() + 300
                    continue
                raise SystemExit("QEMU's migration did not complete")
            st = e[1]["data"]["status"]
            if st == "completed":
                return e[0], forced
            if st in ("failed", "cancelled"):
                info = vm.api.cmd("query-migrate")
                raise SystemExit(f"QEMU's migration {st}: {info.get('error-desc', info)}")

    def final(self, vm):
        """query-migrate once its figures are in: QEMU sends the completed event before
        it works out total-time and downtime (they read 0 until then)."""
        end = time.monotonic() + 30
        while True:
            info = vm.api.cmd("query-migrate")
            if info.get("total-time") or time.monotonic() > end:
                return info
            time.sleep(0.01)

    def snapshot(self, vm, path):
        self.prepare(vm)
        t0 = time.monotonic()
        vm.api.cmd("stop")
        vm.api.cmd("migrate", uri=f"exec:cat > {path}")
        t1, _ = self.completed(vm, 600)
        info = self.final(vm)
        rss = rss_mib(vm)
        vm.api.cmd("quit")
        vm.wait_exit("quit")
        return ms(t0, t1), info["total-time"], rss

    def restore(self, path):
        """As libvirt restores: -incoming defer, migrate-incoming from the file, then cont
        (a stream saved from a stopped VM loads into a paused one)."""
        vm = Vm("qemu")
        vm.launch(self.argv(vm, "-incoming", "defer"))
        vm.connect()
        vm.api.cmd("migrate-set-capabilities",
                   capabilities=[{"capability": "events", "state": True}])
        vm.api.cmd("migrate-incoming", uri=f"exec:cat {path}")
        self.completed(vm, 300)
        vm.api.cmd("cont")
        return vm

    def incoming(self, addr):
        vm = Vm("qemu")
        vm.launch(self.argv(vm, "-incoming", f"unix:{addr}"))
        return vm

    def migrate(self, src, addr):
        self.prepare(src)
        src.api.cmd("migrate", uri=f"unix:{addr}")
        t, forced = self.completed(src, QEMU_FORCE_S, force=True)
        info = self.final(src)
        ram = info["ram"]
        src.api.cmd("quit")
        src.wait_exit("quit")
        return t, {"total_ms": info["total-time"], "downtime_ms": info["downtime"],
                   "bytes": ram["transferred"], "rounds": ram["dirty-sync-count"],
                   "note": " (forced: downtime-limit raised after "
                           f"{QEMU_FORCE_S} s)" if forced else ""}

    def shutdown(self, vm):
        vm.api.cmd("quit")
        vm.wait_exit("quit")


# ---- the phases ------------------------------------------------------------------------


def first_tick(vm, what, timeout=300):
    return wait_for(f"{vm.name}: the guest's first tick ({what})",
                    lambda: vm.last_tick() and vm.tail.ticks()[0], timeout, vm.proc)


def running(vm, ticks, timeout=120):
    """Waits until the guest has printed ticks more ticks on this VM's console."""
    n0 = len(vm.tail.ticks())
    wait_for(f"{vm.name}: {ticks} ticks", lambda: len(vm.tail.ticks()) >= n0 + ticks,
             timeout, vm.proc)


def rss_mib(vm):
    """The VMM's VmRSS (guest RAM it has touched, memfd or anonymous, and its own)."""
    for ln in open(f"/proc/{vm.proc.pid}/status"):
        if ln.startswith("VmRSS:"):
            return int(ln.split()[1]) / 1024
    return None


def alive(b):
    """The guest's sign of life on its disk ("ALIVE K" at byte 4096), or None."""
    with open(f"{env('MB_DISK')}-{b.name}", "rb") as f:
        f.seek(4096)
        t = f.read(64).split(b"\0")[0].decode(errors="replace").split()
    return int(t[1]) if len(t) == 2 and t[0] == "ALIVE" and t[1].isdigit() else None


def threads(vm):
    """{thread id: (name, state, CPU ticks)} of a VMM process."""
    out = {}
    for tid in os.listdir(f"/proc/{vm.proc.pid}/task"):
        try:
            comm = open(f"/proc/{vm.proc.pid}/task/{tid}/comm").read().strip()
            st = open(f"/proc/{vm.proc.pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(tid)] = (comm, st[0], int(st[11]) + int(st[12]))
    return out


def diagnose(b, vm):
    """What a VM whose guest prints nothing is doing: whether the guest still writes its
    sign of life to the disk, the VMM's threads (state, CPU time over 2 s) and its own
    view (info, query-status)."""
    if vm.proc.poll() is not None:
        say(f"{vm.name}: exited {vm.proc.returncode}")
        return
    a0, t0 = alive(b), threads(vm)
    time.sleep(2)
    a1, t1 = alive(b), threads(vm)
    say(f"{vm.name}: the guest's sign of life on its disk: {a0} then {a1} 2 s later")
    for tid in sorted(t1):
        comm, st, cpu = t1[tid]
        say(f"{vm.name} thread {tid} {comm}: state {st}, CPU {cpu} ticks "
            f"(+{cpu - t0.get(tid, t1[tid])[2]} in 2 s)")
    try:
        if not vm.api:
            vm.api = Api(vm.sock, vm.vmm == "qemu", vm.proc, timeout=10)
        say(f"{vm.name} info: " + json.dumps(
            vm.api.cmd("info" if vm.vmm == "minivmm" else "query-status")))
    except SystemExit as e:
        say(f"{vm.name}: no info ({e})")


def du_mib(path):
    r = subprocess.run(["du", "-sk", path], capture_output=True, text=True)
    return int(r.stdout.split()[0]) / 1024


def snap_restore(b, vm, rounds):
    for k in range(rounds + 1):
        path = f"{W}/snap-{b.name}-{k}"
        shutil.rmtree(path, ignore_errors=True)
        if os.path.exists(path):
            os.unlink(path)
        faulthandler.dump_traceback_later(600, exit=True)
        running(vm, 50)  # a second of the guest's life between rounds
        rss0 = rss_mib(vm)
        wall, own, rss_saved = b.snapshot(vm, path)
        size = du_mib(path)
        vm = b.restore(path)
        t = first_tick(vm, "restore")[0]
        restore = ms(vm.t_launch, t)
        if not vm.api:
            vm.connect()
        rss1 = rss_mib(vm)
        say(f"{b.name} snapshot round {k}{' (warm-up)' if k == 0 else ''}: "
            f"pause+save {wall:.1f} ms (own figure {own:.1f} ms), {size:.1f} MiB on disk; "
            f"restore: launch to the first tick {restore:.1f} ms; VmRSS {rss0:.0f} MiB before "
            f"the snapshot, {rss_saved:.0f} MiB after it, {rss1:.0f} MiB after the restore")
        if k > 0:
            sample(f"snap_{b.name}_ms", wall)
            sample(f"snap_{b.name}_own_ms", own)
            sample(f"snap_{b.name}_mib", size)
            sample(f"snap_{b.name}_rss_before_mib", rss0)
            sample(f"snap_{b.name}_rss_after_mib", rss_saved)
            sample(f"restore_{b.name}_ms", restore)
            sample(f"restore_{b.name}_rss_mib", rss1)
        else:  # the booted VM, before any restore
            sample(f"boot_{b.name}_rss_mib", rss0)
            sample(f"snap_first_{b.name}_ms", wall)
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    return vm


def migrations(b, vm, rounds, load):
    for k in range(rounds + 1):
        faulthandler.dump_traceback_later(600, exit=True)
        running(vm, 100)  # two seconds of the guest's life between rounds
        addr = f"{W}/{b.name}-mig.sock"
        if os.path.exists(addr):
            os.unlink(addr)
        dst = b.incoming(addr)
        wait_for(f"{dst.name} listening on {addr}", lambda: os.path.exists(addr), 60, dst.proc)
        time.sleep(0.5)  # QEMU creates the socket file before it listens
        before = vm.last_tick()
        t0 = time.monotonic()
        t_done, f = b.migrate(vm, addr)
        src_last = vm.last_tick()
        try:
            t_first, n_first, p_first = first_tick(dst, "migration", 120)
        except SystemExit:
            diagnose(b, dst)
            raise
        dst.connect()
        rss = rss_mib(dst)
        gap = ms(src_last[0], t_first)
        wall = ms(t0, t_first)
        if load == "busy":
            # The writer runs on there: its passes go on from where they were.
            wait_for(f"{dst.name}: the writer's passes going on",
                     lambda: dst.last_tick()[2] > p_first, 60, dst.proc)
        say(f"{b.name} {load} migration round {k}{' (warm-up)' if k == 0 else ''}: total "
            f"{f['total_ms']:.1f} ms, downtime {f['downtime_ms']:.1f} ms, "
            f"{f['bytes'] / 2**20:.1f} MiB sent, {f['rounds']} rounds{f['note']}; "
            f"guest ticks: last on the source {src_last[1]} (had {before[1]} at the "
            f"request), first on the destination {n_first}, gap {gap:.1f} ms; the "
            f"destination's VmRSS {rss:.0f} MiB")
        # When things happened, in ms after the request (the VMMs' log lines as they
        # reached the driver; minivmm's only).
        marks = [("last tick on the source", src_last[0]), ("completion seen", t_done),
                 ("first tick on the destination", t_first),
                 ("destination logs 'the guest runs here'", dst.logged("the guest runs here")),
                 ("source logs 'migrated to'", vm.logged("migrated to"))]
        say("    " + ", ".join(f"{w} {ms(t0, t):.1f}" for w, t in marks if t is not None))
        if k > 0:
            m = f"mig_{load}_{b.name}"
            sample(f"{m}_total_ms", f["total_ms"])
            sample(f"{m}_downtime_ms", f["downtime_ms"])
            sample(f"{m}_gap_ms", gap)
            sample(f"{m}_wall_ms", wall)
            sample(f"{m}_kib_per_mib", f["bytes"] / 1024 / MEM_MIB)
            sample(f"{m}_rounds", f["rounds"])
            sample(f"{m}_dst_rss_mib", rss)
            if f["note"]:
                say(f"INFO {b.name} {load} migration round {k}{f['note']}")
        vm = dst
    return vm


def set_writer(b, mib):
    """The control sector the guest polls: "DIRTY MIB" (0: the writer stops)."""
    with open(f"{env('MB_DISK')}-{b.name}", "r+b") as f:
        f.write(f"DIRTY {mib}\n".encode().ljust(512, b"\0"))
        f.flush()
        os.fsync(f.fileno())


def run(which, rounds):
    # Whatever hangs: where it hangs, on stderr, and out after 20 minutes.
    faulthandler.dump_traceback_later(1200, exit=True)
    os.makedirs(W, exist_ok=True)
    watcher.start()
    b = Minivmm() if which == "minivmm" else Qemu()
    set_writer(b, 0)
    vm = b.boot()
    try:
        wait_for(f"{vm.name}: GUEST ready", lambda: vm.tail.has("GUEST ready"), 600, vm.proc)
        running(vm, 20)
        vm.connect()
        if which == "qemu":
            say(f"qemu: {vm.api.cmd('query-version')['qemu']}")
        vm = snap_restore(b, vm, rounds)
        vm = migrations(b, vm, rounds, "idle")
        set_writer(b, DIRTY_MIB)
        wait_for(f"{vm.name}: the writer on",
                 lambda: vm.tail.has(f"GUEST writer {DIRTY_MIB} MiB"), 60, vm.proc)
        # Its first pass faults the buffer in, which can take seconds here: the rate is
        # taken from its third pass on.
        wait_for(f"{vm.name}: the writer's first passes", lambda: vm.last_tick()[2] >= 3, 300,
                 vm.proc)
        p0 = vm.last_tick()
        running(vm, 150)
        p1 = vm.last_tick()
        rate = (p1[2] - p0[2]) * DIRTY_MIB / max(1e-3, p1[0] - p0[0])
        say(f"{b.name}: the guest's writer stores at {rate:.0f} MiB/s ({p1[2] - p0[2]} passes "
            f"over its {DIRTY_MIB} MiB in {p1[0] - p0[0]:.1f} s of the emulated host's time)")
        sample(f"writer_{b.name}_mib_s", rate)
        vm = migrations(b, vm, rounds, "busy")
        set_writer(b, 0)
        b.shutdown(vm)
    finally:
        for v in Vm.all:
            v.kill()
    return 0


# ---- the table -------------------------------------------------------------------------


def table(path, accel):
    samples, info = load_samples(path)
    rows = []

    def vals(key):
        return [v for v in samples.get(key, []) if v is not None]

    def ratio(a, b):
        return samples_ratio(samples, a, b)

    def pair(group, what, unit, key, note=""):
        """The minivmm row, the QEMU row and their ratio round by round."""
        mk, qk = key.format("minivmm"), key.format("qemu")
        rows.append((group, f"minivmm: {what[0]}", unit, vals(mk), note))
        rows.append((group, f"QEMU: {what[1]}", unit, vals(qk), ""))
        rows.append((group, "ratio minivmm / QEMU (per round)", "x", ratio(mk, qk), ""))

    S = "snapshot"
    pair(S, ("pause + snapshot path=DIR (API socket, request to reply)",
             "stop + migrate to exec:cat > FILE (QMP, request to the MIGRATION completed "
             "event)"), "ms", "snap_{}_ms")
    rows.append((S, "minivmm: the snapshot reply's own ms (the save alone)", "ms",
                 vals("snap_minivmm_own_ms"), ""))
    rows.append((S, "QEMU: query-migrate total-time (the migrate alone)", "ms",
                 vals("snap_qemu_own_ms"), ""))
    pair(S, ("snapshot folder on disk (du)", "migration stream file on disk (du)"), "MiB",
         "snap_{}_mib")
    pair(S, ("VmRSS of the VM before the snapshot (a restored one)",
             "VmRSS of the VM before the snapshot (a restored one)"), "MiB",
         "snap_{}_rss_before_mib")
    pair(S, ("VmRSS of the VM right after the snapshot (memfd RAM included)",
             "VmRSS of the VM right after the snapshot"), "MiB", "snap_{}_rss_after_mib")
    pair(S, ("the first snapshot, of the freshly booted VM (the warm-up round)",
             "the first snapshot, of the freshly booted VM (the warm-up round)"), "ms",
         "snap_first_{}_ms", "one sample; first-use costs of the emulated host included")
    pair("restore", ("minivmm --restore DIR: launch to the guest's first tick (console)",
                     "-incoming defer, migrate-incoming exec:cat FILE, cont (QMP): launch to "
                     "the guest's first tick (console)"), "ms", "restore_{}_ms")
    pair("restore", ("VmRSS once the restored guest ticks (memfd RAM included)",
                     "VmRSS once the restored guest ticks"), "MiB", "restore_{}_rss_mib")
    pair("restore", ("VmRSS of the booted VM, before its first snapshot (for comparison)",
                     "VmRSS of the booted VM, before its first snapshot (for comparison)"),
         "MiB", "boot_{}_rss_mib")
    busy = f"migration, guest rewriting {DIRTY_MIB} MiB (a pass per 20 ms at most)"
    for load, g in (("idle", "migration, idle guest"), ("busy", busy)):
        m = f"mig_{load}_" + "{}"
        pair(g, ("total-ms (its own: send-migration to done)",
                 "total-time (its own: migrate to completed)"), "ms", m + "_total_ms")
        pair(g, ("downtime-ms (its own: vCPUs paused to the destination's ACK)",
                 "downtime (its own: VM stopped to completion on the source)"), "ms",
             m + "_downtime_ms")
        pair(g, ("guest-observed gap: last tick on the source to first on the destination",
                 "guest-observed gap, the same"), "ms", m + "_gap_ms")
        pair(g, ("request to the guest's first tick on the destination (wall)",
                 "request to the guest's first tick on the destination (wall)"), "ms",
             m + "_wall_ms")
        pair(g, ("bytes sent (whole stream) per MiB of guest RAM",
                 "ram transferred (RAM only) per MiB of guest RAM"), "KiB/MiB",
             m + "_kib_per_mib")
        rows.append((g, "minivmm: rounds (pre-copy rounds)", "",
                     vals(f"mig_{load}_minivmm_rounds"), ""))
        rows.append((g, "QEMU: dirty-sync-count", "", vals(f"mig_{load}_qemu_rounds"), ""))
        pair(g, ("the destination's VmRSS once the guest ticks there",
                 "the destination's VmRSS once the guest ticks there"), "MiB",
             m + "_dst_rss_mib")
    rows.append(("writer", "minivmm guest: the writer's passes over its buffer x 32 MiB, per "
                 "second, before the busy rounds", "MiB/s", vals("writer_minivmm_mib_s"), ""))
    rows.append(("writer", "QEMU guest: the same", "MiB/s", vals("writer_qemu_mib_s"), ""))

    def fmt(x):
        if x != 0 and abs(x) < 0.1:
            return f"{x:.4f}"
        return f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}" if abs(x) < 1000 else f"{x:.0f}"

    print("## Snapshot, restore and live migration: minivmm next to QEMU")
    print()
    if accel == "TCG":
        print("Emulated host under QEMU **TCG** (the guests run under KVM nested inside the")
        print("emulation): absolute figures are emulation speed, only the ratios mean something.")
    else:
        print("Emulated host under QEMU with KVM; the guests run under nested KVM.")
    print(f"Guests: {MEM_MIB} MiB, 1 vCPU, the test bed's kernel and initramfs, virtio-blk")
    print("(a raw file) and virtio-net (a tap); the guest prints a tick every 20 ms that the")
    print(f"emulated host stamps (polling every {POLL * 1000:.0f} ms). Both VMMs: downtime "
          f"limit {DOWNTIME_MS} ms; QEMU's")
    print("bandwidth cap lifted (max-bandwidth 100 GiB/s; 7.2's default is 32 MiB/s); migration")
    print("over a Unix socket to a new process on the same host; the first round of each kind")
    print("not counted. minivmm's own downtime ends at the destination's ACK, QEMU's at the")
    print("source's completion: the guest-observed gap is the figure measured alike.")
    print()
    print("| group | measure | unit | median | min | max | n | note |")
    print("|---|---|---|---|---|---|---|---|")
    for g, what, unit, v, note in rows:
        if v:
            print(f"| {g} | {what} | {unit} | {fmt(statistics.median(v))} | {fmt(min(v))} | "
                  f"{fmt(max(v))} | {len(v)} | {note} |")
        else:
            print(f"| {g} | {what} | {unit} | - | - | - | 0 | {note or 'no data'} |")
    print()
    for i in info:
        print(f"- {i}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "run":
        sys.exit(run(sys.argv[2], int(sys.argv[3])))
    if len(sys.argv) == 4 and sys.argv[1] == "table":
        table(sys.argv[2], sys.argv[3])
        sys.exit(0)
    sys.exit(__doc__)
