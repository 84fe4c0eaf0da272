#!/usr/bin/env python3
"""fsxlite FILE OPS SEED: random file operations checked against a model.

In the manner of fsx: reads, writes, mapped reads, mapped writes (through
a shared mapping, on a second descriptor of the file), truncates and
close/reopen, OPS of them from SEED, on FILE; after every read the bytes
must equal the model's.  Prints "OK N ops" or the first difference, with
the operations that led to it; exit 0 on OK.
"""
import mmap
import os
import random
import sys

path, nops, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
MAXLEN = 256 * 1024
rng = random.Random(seed)
model = bytearray()
log = []


def fail(msg):
    print("FAIL after %d ops: %s" % (len(log), msg))
    print("last operations:", *log[-12:], sep="\n  ")
    sys.exit(1)


def check(off, got):
    want = bytes(model[off:off + len(got)])
    if got != want:
        first = next(i for i in range(len(got)) if i >= len(want) or got[i] != want[i])
        fail("%s at %d+%d: byte %d is %r, model has %r" % (
            log[-1], off, len(got), off + first, got[first:first + 8], want[first:first + 8]))


fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
mfd = os.open(path, os.O_RDWR)
for i in range(nops):
    op = rng.choice(("read", "read", "write", "write", "mapread", "mapwrite", "truncate",
                     "reopen"))
    size = len(model)
    if op == "read":
        off = rng.randrange(size + 1)
        n = rng.randrange(1, 65536)
        log.append("read %d %d" % (off, n))
        got = os.pread(fd, n, off)
        if len(got) != min(n, max(size - off, 0)):
            fail("read %d %d gave %d bytes, size %d" % (off, n, len(got), size))
        check(off, got)
    elif op == "write":
        off = rng.randrange(MAXLEN)
        n = rng.randrange(1, 65536)
        data = rng.randbytes(n)
        log.append("write %d %d" % (off, n))
        if os.pwrite(fd, data, off) != n:
            fail("short write")
        if off > len(model):
            model.extend(bytes(off - len(model)))
        model[off:off + n] = data
    elif op in ("mapread", "mapwrite"):
        if size == 0:
            continue
        off = rng.randrange(size)
        n = rng.randrange(1, min(65536, size - off) + 1)
        log.append("%s %d %d" % (op, off, n))
        m = mmap.mmap(mfd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        if op == "mapread":
            got = m[off:off + n]
            m.close()
            check(off, got)
        else:
            data = rng.randbytes(n)
            m[off:off + n] = data
            if rng.random() < 0.5:
                m.flush()
            m.close()
            model[off:off + n] = data
    elif op == "truncate":
        n = rng.randrange(MAXLEN)
        log.append("truncate %d" % n)
        os.ftruncate(fd, n)
        if n < len(model):
            del model[n:]
        else:
            model.extend(bytes(n - len(model)))
    else:
        log.append("reopen")
        os.close(fd)
        fd = os.open(path, os.O_RDWR)
    st = os.fstat(fd)
    if st.st_size != len(model):
        fail("%s: size %d, model %d" % (log[-1] if log else op, st.st_size, len(model)))
os.close(mfd)
os.close(fd)
with open(path, "rb") as f:
    whole = f.read()
if whole != bytes(model):
    fail("the file after close differs from the model (%d vs %d bytes)" % (len(whole), len(model)))
print("OK %d ops" % nops)
