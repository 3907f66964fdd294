#!/usr/bin/env python3
"""A live-migration relay that damages the stream on the way.

mig-relay.py LISTEN DEST: waits on the Unix socket LISTEN for one minivmm source,
connects to the destination's Unix socket DEST and copies both ways, following the
stream's records (vmm/migrate_wire.h) so that it can flip one bit in the middle of the
first DEVDATA payload: what a link that corrupts data does. The destination must refuse
it (its CRC-32 check) and the source must run on. Prints what it flipped.

mig-relay.py --drop-ack LISTEN DEST: copies the stream as it is, but the link breaks
(towards the source) just as the handover (GO) passes, so the destination's ACK never
reaches the source: the destination runs the guest, and the source, which cannot know
whether it does, must stop and exit 5 (README, exit codes) so that the guest never
runs twice.
"""
import socket
import struct
import sys
import threading


def main():
    drop_ack = sys.argv[1] == "--drop-ack"
    listen, dest = sys.argv[1 + drop_ack], sys.argv[2 + drop_ack]
    # Set before GO goes on: what the destination says after that is its ACK.
    cut = threading.Event()
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(listen)
    srv.listen(1)
    src, _ = srv.accept()
    dst = socket.socket(socket.AF_UNIX)
    dst.connect(dest)

    def replies():  # destination -> source, as they are
        while True:
            b = dst.recv(65536)
            if not b or cut.is_set():
                break
            src.sendall(b)
        if cut.is_set():
            print("relay: dropped the destination's reply to the handover", flush=True)
        src.close()

    back = threading.Thread(target=replies, daemon=True)
    back.start()

    def read(n):
        buf = bytearray()
        while len(buf) < n:
            b = src.recv(min(n - len(buf), 1 << 20))
            if not b:
                raise EOFError
            buf += b
        return buf

    def copy(n):
        while n:
            b = read(min(n, 1 << 20))
            dst.sendall(b)
            n -= len(b)

    flipped = False
    try:
        copy(8)  # magic
        for _ in range(2):  # header, config
            n = read(4)
            dst.sendall(n)
            copy(struct.unpack("<I", n)[0])
        while True:
            h = read(16)
            tag, count, arg = struct.unpack("<IIQ", h)
            if tag == 5 and drop_ack:  # GO: the link to the source breaks now
                cut.set()
                dst.sendall(h)
                print("relay: passed the handover on; the source hears no more",
                      flush=True)
                src.shutdown(socket.SHUT_RDWR)
                back.join(60)  # the ACK is read (and dropped) before the link goes
                break
            dst.sendall(h)
            if tag == 6 and not flipped and arg and not drop_ack:  # DEVDATA: name, data, CRC
                name = read(count)
                data = read(arg)
                data[arg // 2] ^= 0x10
                flipped = True
                print("relay: flipped a bit of %s's %d bytes of pre-copy data"
                      % (name.decode(errors="replace"), arg), flush=True)
                dst.sendall(name + data)
                copy(4)
            elif tag == 6:
                copy(count + arg + 4)
            elif tag == 1:  # PAGES
                copy(count * 4096)
            elif tag == 3:  # STATE and its CRC
                copy(arg + 4)
    except (EOFError, OSError):
        pass
    dst.close()


if __name__ == "__main__":
    main()
