#!/usr/bin/env python3
"""nsops.py DIR FILES BIG [RAW]: the namespace phases of bench/ns in DIR.

Prints one "phase seconds" line per phase:
  create   FILES empty files in one folder (open O_CREAT|O_EXCL, close)
  stat     stat of each, by name
  ls-l     listing with every entry's attributes (os.scandir + stat,
           what ls -l does)
  rename   each renamed within the folder
  rm       each removed
  mv-10    rename of a folder holding 10 files
  mv-BIG   rename of a folder holding BIG files (made before, not timed)
One process does all, so no fork or exec is timed.  With RAW (the folder
DIR shows, reached without FUSE), the big folder is made there: the
passthrough_ll example keeps a descriptor per inode the kernel knows, and
this machine allows a process 20,000.
"""
import os
import sys
import time

d, n, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
raw = sys.argv[4] if len(sys.argv) > 4 else d


def phase(name, fn):
    t = time.perf_counter()
    fn()
    print("%s %.4f" % (name, time.perf_counter() - t), flush=True)


def fill(folder, count):
    os.mkdir(folder)
    for i in range(count):
        os.close(os.open("%s/f%07d" % (folder, i), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))


one = d + "/one"
os.mkdir(one)
names = ["%s/f%07d" % (one, i) for i in range(n)]
phase("create", lambda: [os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
                         for p in names])
phase("stat", lambda: [os.stat(p) for p in names])
phase("ls-l", lambda: [e.stat(follow_symlinks=False) for e in os.scandir(one)])
phase("rename", lambda: [os.rename(p, p + "r") for p in names])
phase("rm", lambda: [os.unlink(p + "r") for p in names])
fill(d + "/small", 10)
phase("mv-10", lambda: os.rename(d + "/small", d + "/small2"))
fill(raw + "/big", big)
phase("mv-%d" % big, lambda: os.rename(d + "/big", d + "/big2"))
