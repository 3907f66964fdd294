# Benchmark (not a test): PCI hotplug latency of a passed-through NVMe (0000:00:04.0 on
# vfio-pci) into a running guest, minivmm next to QEMU (Debian's qemu-system-x86_64
# -accel kvm -M pc: i440fx, ACPI PCI hotplug on bus 0) in the same emulated host. Both
# guests: the test bed's kernel and initramfs, 256 MiB, 1 vCPU, the same command line;
# the guest polls for /dev/nvme0n1 every 10 ms and prints "GUEST in|out ROUND UPTIME"
# when it appears or goes (the guest's acpiphp does the work on both sides). Per VMM, one
# VM, one warm-up round, then BENCH_RUNS rounds (default 5) of:
#   hot-add: minivmm `minivmm-ctl SOCK add-device kind=vfio name=nvme host=...`, QEMU
#     QMP device_add driver=vfio-pci,host=...,id=nvme; timed from the request to the
#     guest's "GUEST in" line on the console file (polled every 10 ms);
#   hot-remove: minivmm `minivmm-ctl SOCK remove-device name=vfio.nvme` until
#     `minivmm-ctl SOCK info` no longer lists vfio.nvme (polled), QEMU device_del id=nvme
#     until its DEVICE_DELETED event; also, on both sides, to the DEVICE_DELETED event's
#     own timestamp and to the guest's "GUEST out" line.
# All timing is done in the emulated host by one Python driver (QMP for QEMU, the same
# QMP-shaped socket for minivmm's events). l0_after() writes the table to $OUT/bench.md
# (median, min, max), which tests/bench/run prints. Run with
#   tests/bench/run hotplug          (BENCH_RUNS=N for N rounds; also part of make bench)
# timeout: 1800

if [ -n "${MINIVMM_REPO:-}" ] && [ -f "$MINIVMM_REPO/build/bench/settings" ]; then
	# shellcheck disable=SC1091
	. "$MINIVMM_REPO/build/bench/settings"
fi
RUNS=${BENCH_RUNS:-5}
MEM=256M
VCPUS=1
CMDLINE="console=ttyS0 panic=-1 quiet"
QEMU=/usr/bin/qemu-system-x86_64
BDF=0000:00:04.0
S=$OUT/samples.txt

# The guest: waits for nvme0n1 to come and go, forever (the VMM is stopped from outside).
hpb_initrd() {
	cat >/tmp/hpb-guest.sh <<'G'
#!/bin/sh
k=0
echo "GUEST ready"
while :; do
	while [ ! -b /dev/nvme0n1 ]; do sleep 0.01; done
	echo "GUEST in $k $(cut -d' ' -f1 /proc/uptime)"
	while [ -b /dev/nvme0n1 ]; do sleep 0.01; done
	echo "GUEST out $k $(cut -d' ' -f1 /proc/uptime)"
	k=$((k + 1))
done
G
	guest_initrd /tmp/hpb-guest.sh /tmp/hpb.cpio.gz
}

# The driver: hpb.py minivmm|qemu SOCKET CONSOLE ROUNDS CTL. Prints progress and
# "SAMPLE hp_VMM_WHAT_ms VALUE" for rounds 1..ROUNDS (round 0 is the warm-up).
hpb_driver() {
	cat >/tmp/hpb.py <<'P'
import json, os, select, socket, subprocess, sys, threading, time

vmm, sock_path, console_path, rounds, ctl = sys.argv[1:6]
rounds = int(sys.argv[4])
BDF = "0000:00:04.0"
POLL = 0.01      # console and info polling interval, seconds
SETTLE = 1.0     # pause after each step, so that one step's tail does not land in the next


def say(*a):
    print(*a, flush=True)


class Console:
    def __init__(self, path, timeout):
        end = time.monotonic() + timeout
        while not os.path.exists(path):
            if time.monotonic() > end:
                raise SystemExit(f"no console file {path}")
            time.sleep(POLL)
        self.f, self.text = open(path, "rb"), b""

    def has(self, needle):
        self.text += self.f.read() or b""
        return needle.encode() in self.text

    def line(self, needle):
        for ln in self.text.decode(errors="replace").splitlines():
            if needle in ln:
                return ln.strip()
        return ""


class Qmp:
    """QMP (QEMU) or minivmm's control socket, which has QMP's shape."""

    def __init__(self, path, capabilities, timeout=60):
        end = time.monotonic() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.monotonic() > end:
                    raise SystemExit(f"cannot connect to {path}")
                time.sleep(0.05)
        self.buf, self.events, self.n = b"", [], 0
        self.read(30)  # the greeting
        if capabilities:
            self.cmd("qmp_capabilities")

    def read(self, timeout):
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0 or not select.select([self.s], [], [], left)[0]:
                return None
            data = self.s.recv(65536)
            if not data:
                raise SystemExit("the socket closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def pump(self, timeout=0.0):
        """Reads what has arrived (waiting up to timeout for something); keeps events."""
        m = self.read(timeout)
        while m is not None:
            if "event" in m:
                self.events.append(m)
            m = self.read(0)

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
                self.events.append(m)
            elif m.get("id") == self.n:
                if "error" in m:
                    raise SystemExit(f"{name}: {m['error']}")
                return m["return"]

    def deleted(self, key, value):
        """The DEVICE_DELETED event for it: its own timestamp (wall clock), or None."""
        for e in self.events:
            if e["event"] == "DEVICE_DELETED" and e.get("data", {}).get(key) == value:
                self.events.remove(e)
                t = e["timestamp"]
                return t["seconds"] + t["microseconds"] / 1e6
        return None


def run_ctl(*args):
    r = subprocess.run([ctl, sock_path, *args], capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"minivmm-ctl {' '.join(args)}: exit {r.returncode}: {r.stdout}{r.stderr}")
    return r.stdout


def poll_info(found, end):
    """Runs `minivmm-ctl SOCK info` until it no longer lists vfio.nvme; notes when."""
    while time.monotonic() < end:
        if '"vfio.nvme"' not in run_ctl("info"):
            found.append(time.monotonic())
            return
        time.sleep(POLL)


def ms(a, b):
    return (b - a) * 1000


def wait_for(what, cond, timeout):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(POLL)
    return time.monotonic()


con = Console(console_path, 300)
wait_for("GUEST ready", lambda: con.has("GUEST ready"), 300)
if vmm == "qemu":
    api = Qmp(sock_path, True)
    say(f"qemu: {api.cmd('query-version')['qemu']}")
else:
    api = Qmp(sock_path, False)  # for the DEVICE_DELETED events only
    t = []
    for _ in range(3):
        t0 = time.monotonic()
        run_ctl("ping")
        t.append(ms(t0, time.monotonic()))
    say(f"SAMPLE hp_minivmm_ctl_ping_ms {min(t):.1f}")

for k in range(rounds + 1):
    time.sleep(SETTLE)
    # Hot-add.
    t0 = time.monotonic()
    if vmm == "qemu":
        api.cmd("device_add", driver="vfio-pci", host=BDF, id="nvme")
    else:
        out = run_ctl("add-device", "kind=vfio", "name=nvme", f"host={BDF}")
        if '"bdf"' not in out:
            raise SystemExit(f"add-device: {out}")
    t_reply = time.monotonic()
    t_in = wait_for(f"GUEST in {k}", lambda: con.has(f"GUEST in {k} "), 120)
    add = {"add_reply": ms(t0, t_reply), "add_guest": ms(t0, t_in)}
    time.sleep(SETTLE)
    # Hot-remove: the guest's line, the event and (minivmm) info, whichever comes first.
    w0, t0 = time.time(), time.monotonic()
    if vmm == "qemu":
        api.cmd("device_del", id="nvme")
    else:
        out = run_ctl("remove-device", "name=vfio.nvme")
        if '"pending": true' not in out:
            raise SystemExit(f"remove-device: {out}")
    t_reply = time.monotonic()
    t_out = ev = None
    t_info = []
    if vmm == "minivmm":
        # info in a thread of its own, so that its process starts do not delay the rest.
        poller = threading.Thread(target=poll_info, args=(t_info, t0 + 120), daemon=True)
        poller.start()
    end = t0 + 120
    while t_out is None or ev is None or (vmm == "minivmm" and poller.is_alive()):
        if time.monotonic() > end:
            raise SystemExit(f"remove round {k}: guest {t_out}, event {ev}, info {t_info}")
        if t_out is None and con.has(f"GUEST out {k} "):
            t_out = time.monotonic()
        api.pump(POLL)
        if ev is None:
            ev = api.deleted("device", "nvme") if vmm == "qemu" else api.deleted("name", "vfio.nvme")
    rem = {"remove_reply": ms(t0, t_reply), "remove_guest": ms(t0, t_out),
           "remove_event": (ev - w0) * 1000}
    if vmm == "minivmm":
        if not t_info:
            raise SystemExit(f"remove round {k}: info still lists vfio.nvme")
        rem["remove_info"] = ms(t0, t_info[0])
    r = {**add, **rem}
    say(f"{vmm} round {k}{' (warm-up)' if k == 0 else ''}: " +
        ", ".join(f"{n} {v:.1f} ms" for n, v in r.items()) +
        f"; guest: '{con.line(f'GUEST in {k} ')}', '{con.line(f'GUEST out {k} ')}'")
    if k > 0:
        for n, v in r.items():
            say(f"SAMPLE hp_{vmm}_{n}_ms {v:.1f}")

# Stop the VM; the reply may not make it before the process exits.
if vmm == "qemu":
    try:
        api.cmd("quit")
    except SystemExit:
        pass
else:
    subprocess.run([ctl, sock_path, "shutdown"], capture_output=True)
P
}

# run_driver VMM SOCKET CONSOLE: the driver's SAMPLE lines go to $S, all to our output.
run_driver() {
	python3 /tmp/hpb.py "$1" "$2" "$3" "$RUNS" "$MINIVMM_REPO/build/minivmm-ctl" >"/tmp/hpb-$1.log" 2>&1
	local rc=$?
	grep -v '^SAMPLE' "/tmp/hpb-$1.log"
	grep '^SAMPLE' "/tmp/hpb-$1.log" >>"$S"
	return $rc
}

bench_minivmm() {
	local ini=/tmp/hpb.ini sock=/tmp/hpb-minivmm.sock pid rc vrc
	vm_ini "$ini" "initrd=/tmp/hpb.cpio.gz" "vcpus=$VCPUS"
	printf '[api]\nsocket = %s\n' "$sock" >>"$ini"
	rm -f "$sock"
	run_vmm 1200 "$ini" 2>/tmp/hpb-minivmm.err &
	pid=$!
	run_driver minivmm "$sock" "$ini.console"
	rc=$?
	[ "$rc" = 0 ] || kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	vrc=$?
	cp "$ini.console" "$OUT/minivmm.console" 2>/dev/null
	cp /tmp/hpb-minivmm.err "$OUT/minivmm.err"
	if [ "$rc" != 0 ] || [ "$vrc" != 0 ]; then
		echo "driver exit $rc, minivmm exit $vrc; minivmm's log:"
		sed 's/^/    /' /tmp/hpb-minivmm.err | tail -30
		show_console "$ini"
		return 1
	fi
}

bench_qemu() {
	local sock=/tmp/hpb-qmp.sock con=/tmp/hpb-qemu.console pid rc vrc
	rm -f "$sock"
	"$QEMU" -accel kvm -M pc -m "$MEM" -smp "$VCPUS" -nographic -no-reboot \
		-kernel "$KERNEL" -initrd /tmp/hpb.cpio.gz -append "$CMDLINE" \
		-qmp "unix:$sock,server=on,wait=off" </dev/null >"$con" 2>/tmp/hpb-qemu.err &
	pid=$!
	run_driver qemu "$sock" "$con"
	rc=$?
	[ "$rc" = 0 ] || kill -TERM "$pid" 2>/dev/null
	timeout 60 tail --pid="$pid" -f /dev/null
	wait "$pid"
	vrc=$?
	cp "$con" "$OUT/qemu.console"
	cp /tmp/hpb-qemu.err "$OUT/qemu.err"
	if [ "$rc" != 0 ] || [ "$vrc" != 0 ]; then
		echo "driver exit $rc, QEMU exit $vrc; QEMU's stderr:"
		sed 's/^/    /' /tmp/hpb-qemu.err | tail -30
		echo "---- guest console, last lines:"
		tail -20 "$con" | sed 's/^/    /'
		return 1
	fi
}

l1() {
	: >"$S"
	hpb_initrd && hpb_driver || return 1
	"$QEMU" --version | head -1 | sed 's/^/INFO qemu /' | tee -a "$S"
	echo "INFO kernel $(uname -r) nproc $(nproc) mem_mib $(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024)); $RUNS rounds after one warm-up per VMM" | tee -a "$S"
	check "NVMe $BDF binds to vfio-pci" bind_vfio "$BDF" || return 1
	check "minivmm: hot-add and hot-remove of the NVMe" bench_minivmm || return 1
	# A QEMU failure leaves its rows empty ("no data") rather than the table unwritten.
	check "QEMU -M pc: hot-add and hot-remove of the NVMe" bench_qemu ||
		echo "INFO QEMU -M pc failed (build/nested/hotplug/l1-console.log, qemu.err)" >>"$S"
	return 0
}

# Here, after QEMU exits: the table (format of make bench's, tests/bench/table.py).
l0_after() {
	local accel=TCG
	if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then accel=KVM; fi
	python3 - "$OUT/samples.txt" "$accel" >"$OUT/bench.md.tmp" <<'T' || return 1
import statistics, sys

samples, info = {}, []
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 3 and f[0] == "SAMPLE":
        samples.setdefault(f[1], []).append(float(f[2]))
    elif f and f[0] == "INFO":
        info.append(line[5:].strip())
rows = []


def row(group, what, unit, key, v=None, note=""):
    rows.append((group, what, unit, samples.get(key, []) if v is None else v, note))


def ratio(a, b):
    return [x / y for x, y in zip(samples.get(a, []), samples.get(b, [])) if y]


A, R = "hot-add", "hot-remove"
row(A, "minivmm: add-device (minivmm-ctl) to the guest's /dev/nvme0n1 (console)", "ms",
    "hp_minivmm_add_guest_ms")
row(A, "QEMU -M pc: device_add (QMP) to the guest's /dev/nvme0n1 (console)", "ms",
    "hp_qemu_add_guest_ms")
row(A, "ratio minivmm / QEMU (per round)", "x", "", ratio("hp_minivmm_add_guest_ms", "hp_qemu_add_guest_ms"))
row(A, "minivmm: add-device reply (minivmm-ctl, process start included)", "ms", "hp_minivmm_add_reply_ms")
row(A, "QEMU -M pc: device_add reply (QMP)", "ms", "hp_qemu_add_reply_ms")
row(R, "minivmm: remove-device to info no longer listing vfio.nvme (minivmm-ctl info polled)", "ms",
    "hp_minivmm_remove_info_ms")
row(R, "QEMU -M pc: device_del to DEVICE_DELETED (QMP event)", "ms", "hp_qemu_remove_event_ms")
row(R, "ratio minivmm (info) / QEMU (event) (per round)", "x", "",
    ratio("hp_minivmm_remove_info_ms", "hp_qemu_remove_event_ms"))
row(R, "minivmm: remove-device to DEVICE_DELETED (event's timestamp)", "ms", "hp_minivmm_remove_event_ms")
row(R, "ratio minivmm / QEMU, both to DEVICE_DELETED (per round)", "x", "",
    ratio("hp_minivmm_remove_event_ms", "hp_qemu_remove_event_ms"))
row(R, "minivmm: remove-device to the guest's /dev/nvme0n1 gone (console)", "ms", "hp_minivmm_remove_guest_ms")
row(R, "QEMU -M pc: device_del to the guest's /dev/nvme0n1 gone (console)", "ms", "hp_qemu_remove_guest_ms")
row(R, "minivmm: remove-device reply (minivmm-ctl, process start included)", "ms", "hp_minivmm_remove_reply_ms")
row(R, "QEMU -M pc: device_del reply (QMP)", "ms", "hp_qemu_remove_reply_ms")
row("overhead", "minivmm-ctl ping (process start and one request; best of 3)", "ms", "hp_minivmm_ctl_ping_ms")


def fmt(x):
    if x != 0 and abs(x) < 0.1:
        return f"{x:.4f}"
    return f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}" if abs(x) < 1000 else f"{x:.0f}"


print("## PCI hotplug of a passed-through NVMe: minivmm next to QEMU")
print()
if sys.argv[2] == "TCG":
    print("Emulated host under QEMU **TCG** (the guests run under KVM nested inside the")
    print("emulation): absolute figures are emulation speed, only the ratios mean something.")
else:
    print("Emulated host under QEMU with KVM; the guests run under nested KVM.")
print("NVMe 0000:00:04.0 on vfio-pci; guests 256 MiB, 1 vCPU, the test bed's kernel and")
print("initramfs; the guest polls for /dev/nvme0n1 every 10 ms, the emulated host its")
print("console file every 10 ms.")
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
T
	mv "$OUT/bench.md.tmp" "$OUT/bench.md"
	echo "table in $OUT/bench.md"
}
