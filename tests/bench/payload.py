#!/usr/bin/env python3
"""Writes a tiny bzImage for the exit-cost benchmark (the same minimal header as
tests/unit/test_vmm.c): its 64-bit entry does N port writes to an unclaimed port (0x1234)
or N MMIO writes to an unclaimed address (0xd0000000, the PCI hole), then powers off
through the ACPI sleep register (0x600). Each write exits to the VMM's userspace.
Usage: payload.py pio|mmio|none N OUT"""
import struct
import sys

kind, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
SETUP_SIZE = 2 * 512
OFF = 0x66, 0xBA, 0x00, 0x06, 0xB0, 0x34, 0xEE  # mov dx, 0x600; mov al, 0x34; out dx, al
HALT = 0xF4, 0xEB, 0xFD
code = b""
if kind == "pio":
    # mov ecx, N; mov dx, 0x1234; 1: out dx, al; dec ecx; jnz 1b
    code = b"\xb9" + struct.pack("<I", n) + b"\x66\xba\x34\x12" + b"\xee\xff\xc9\x75\xfb"
elif kind == "mmio":
    # mov rbx, 0xd0000000; mov ecx, N; 1: mov [rbx], eax; dec ecx; jnz 1b
    code = (b"\x48\xbb" + struct.pack("<Q", 0xD0000000) + b"\xb9" + struct.pack("<I", n)
            + b"\x89\x03\xff\xc9\x75\xfa")
code += bytes(OFF) + bytes(HALT)
img = bytearray(SETUP_SIZE + 0x1000)
img[0x1F1] = 1
struct.pack_into("<H", img, 0x1FE, 0xAA55)
img[0x200], img[0x201] = 0xEB, 0x66
img[0x202:0x206] = b"HdrS"
struct.pack_into("<H", img, 0x206, 0x020F)
img[0x211] = 1
struct.pack_into("<I", img, 0x22C, 0x7FFFFFFF)
struct.pack_into("<I", img, 0x230, 0x200000)
img[0x234] = 1
struct.pack_into("<H", img, 0x236, 1)
struct.pack_into("<I", img, 0x238, 255)
struct.pack_into("<I", img, 0x260, 0x1000)
img[SETUP_SIZE + 0x200:SETUP_SIZE + 0x200 + len(code)] = code
with open(out, "wb") as f:
    f.write(img)
