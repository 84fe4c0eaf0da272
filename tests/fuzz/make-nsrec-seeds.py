#!/usr/bin/env python3
"""Writes seed records for fuzz_nsrec (src/proto/nsrec's layout) into the
folder given: one of each type, a create of each kind, moves, unlinks,
writes, attributes, xattrs, holdings and forgets.  Each is written
unsigned and, as a wire form, with 64 zero bytes of signature."""
import os, sys

def u(v, n): return v.to_bytes(n, 'little')
O = bytes([0x11] * 32)
TAG = int.from_bytes(O[:7], 'big')
HLC = 1700000000000 << 16
TRASH = b'\xff' * 16
ROOT = bytes(16)

def made(counter): return b'\x01' + TAG.to_bytes(7, 'big') + counter.to_bytes(8, 'big')

def head(t, flags, seq=10):
    return bytes([ord(t), flags]) + O + u(seq, 8) + u(seq - 1, 8) + u(HLC, 8) + u(1, 8)

def place(flags, entry, inode, parent, frm, name, kind=None, mode=0o644, rdev=0, target=b''):
    b = head('M', flags) + entry + inode + parent + frm + u(len(name), 1) + name + u(HLC - 1, 8) + u(TAG, 8)
    if kind:
        b += u(ord(kind), 1) + u(mode, 4) + u(1000, 4) + u(1000, 4) + u(rdev, 8) + u(5, 8)
        b += u(len(target), 2) + target
    return b

seeds = {
    'create-file': place(4, made(10), made(10), ROOT, TRASH, b'f', 'f'),
    'create-dir': place(4, made(10), made(10), made(3), TRASH, b'd', 'd', 0o755),
    'create-link': place(4, made(10), made(10), ROOT, TRASH, b'l', 'l', 0o777, target=b'../t'),
    'create-dev': place(4, made(10), made(10), ROOT, TRASH, b'null', 'c', 0o666, rdev=0x103),
    'create-fifo': place(5, made(10), made(10), ROOT, TRASH, b'p', 'p'),
    'move': place(1, made(4), made(4), made(3), ROOT, b'moved'),
    'link': place(0, made(9), made(4), made(3), TRASH, b'again'),
    'unlink': place(0, made(4), made(4), TRASH, made(3), b''),
    'write': head('C', 0) + made(4) + u(HLC - 1, 8) + u(TAG, 8) + u(12, 8) + bytes([0xab] * 32)
             + u(7, 8) + made(4) + made(3) + u(1, 1) + b'f',
    'write-empty': head('C', 2) + made(4) + u(0, 8) + u(0, 8) + u(0, 8) + bytes(32)
             + u(7, 8) + made(4) + ROOT + u(1, 1) + b'f',
    'attr': head('A', 0) + made(4) + u(7, 1) + u(0o4755, 4) + u(1, 4) + u(2, 4) + u(99, 8),
    'xattr': head('X', 0) + made(4) + u(6, 1) + b'user.k' + u(3, 4) + b'v\0v',
    'xattr-remove': head('X', 8) + made(4) + u(6, 1) + b'user.k' + u(0, 4),
    'hold': head('H', 8) + bytes([1] * 32),
    'forget': head('F', 16) + bytes([9] * 32) + u(40, 8) + u(1, 1),
}

d = sys.argv[1]
os.makedirs(d, exist_ok=True)
for name, b in seeds.items():
    with open(os.path.join(d, 'seed-' + name), 'wb') as f:
        f.write(b)
    with open(os.path.join(d, 'seed-' + name + '-signed'), 'wb') as f:
        f.write(b + bytes(64))
