#!/usr/bin/env python3
"""Writes seed answers for fuzz_sync and fuzz_apply (src/repl/sync's answer
layout, version 2) into the folder given: deep paths, a file where a folder
stands, deletions of folders with entries, links, holdings, conflicts.
Signatures are zeros (the decoder does not check them; fuzz_apply applies
what decodes whatever they say)."""
import os, struct, sys

def u(v, n): return v.to_bytes(n, 'little')
A, B = bytes([0xa1]) * 32, bytes([0xb2]) * 32
HLC = 1700000000000 << 16

def rec(path, kind, origin, hlc, seq, deleted=0, mode=0o644, size=0, sha=None, target=b'', vv=None):
    p = path.encode()
    if vv is None: vv = [(origin, hlc)]
    b = u(len(p), 2) + p + u(ord(kind), 1) + u(deleted, 1) + u(mode, 4) + u(0, 4) + u(0, 4)
    b += u(size, 8) + u(1, 8) + u(1, 8) + u(hlc, 8) + origin + u(seq, 8)
    b += u(1, 1) + sha if sha else u(0, 1)
    b += u(len(target), 2) + target
    vvb = b''.join(n + u(h, 8) for n, h in sorted(vv))
    return b + u(len(vvb), 2) + vvb + bytes(64)

def holding(origin, seq, sha, deleted=0):
    b = u(0, 2) + u(ord('h'), 1) + u(deleted, 1) + u(0, 12) + u(0, 24) + u(0, 8) + origin + u(seq, 8)
    return b + u(1, 1) + sha + u(0, 2) + u(0, 2) + bytes(64)

def answer(recs, ranges):
    h = u(2, 1) + u(0, 1) + u(0, 2) + u(len(ranges), 2) + u(len(recs), 4)
    return h + b''.join(o + u(s, 8) for o, s in ranges) + b''.join(recs)

sha = bytes(range(32))
seeds = {
    'deep': [rec('/a' * 600, 'd', A, HLC + 1, 1, mode=0o755)],
    'deep-ok': [rec('/x' * 400 + '/f', 'f', A, HLC + 1, 1, size=5, sha=sha)],
    'tree': [rec('/d', 'd', A, HLC + 1, 1, mode=0o755), rec('/d/f', 'f', A, HLC + 2, 2, size=3, sha=sha),
             rec('/d/l', 'l', A, HLC + 3, 3, mode=0o777, size=1, target=b'f'), holding(A, 4, sha)],
    'file-over-dir': [rec('/d/e', 'f', B, HLC + 9, 1, mode=0o4755, size=3, sha=sha),
                      rec('/d', 'f', B, HLC + 10, 2, size=3, sha=sha)],
    'delete-dir': [rec('/d', 'd', A, HLC + 20, 5, deleted=1, mode=0o755),
                   rec('/d/e', 'd', A, HLC + 21, 6, deleted=1, mode=0o700)],
    'conflict': [rec('/d/f', 'f', A, HLC + 30, 7, size=4, sha=bytes(32)),
                 rec('/d/f', 'f', B, HLC + 30, 3, size=5, sha=sha)],
}
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, recs in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(answer(recs, [(A, 7), (B, 3)]))
