#!/usr/bin/env python3
"""walrw DB SECONDS: SQLite in WAL mode on one node, one writer and three
reader processes for SECONDS.  The writer inserts rows in transactions;
each reader counts them again and again and must never see the count go
down or a row without its pair.  Ends with PRAGMA integrity_check.
Prints "OK <rows> rows, <reads> reads"; exit 0 on OK.
"""
import os
import sqlite3
import sys
import time

db, seconds = sys.argv[1], float(sys.argv[2])
c = sqlite3.connect(db, timeout=30)
if c.execute("PRAGMA journal_mode=WAL").fetchone()[0] != "wal":
    sys.exit("journal_mode is not wal")
c.execute("CREATE TABLE t(k INTEGER PRIMARY KEY, pair INTEGER NOT NULL, v BLOB)")
c.commit()
end = time.time() + seconds
readers = []
for i in range(3):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        rc = sqlite3.connect(db, timeout=30)
        last, reads, bad = 0, 0, ""
        while time.time() < end and not bad:
            n, odd = rc.execute("SELECT count(*), count(*) % 2 FROM t").fetchone()
            if n < last:
                bad = "count went from %d to %d" % (last, n)
            elif odd:
                bad = "a row without its pair (%d rows)" % n
            last = n
            reads += 1
        os.write(w, (bad or "ok %d" % reads).encode())
        os._exit(0)
    os.close(w)
    readers.append((pid, r))
rows = 0
while time.time() < end:
    with c:
        c.execute("INSERT INTO t(pair, v) VALUES (?, randomblob(200))", (rows,))
        c.execute("INSERT INTO t(pair, v) VALUES (?, randomblob(200))", (rows,))
    rows += 2
reads = 0
for pid, r in readers:
    os.waitpid(pid, 0)
    what = os.read(r, 4096).decode()
    if not what.startswith("ok "):
        sys.exit("reader: " + what)
    reads += int(what.split()[1])
ic = c.execute("PRAGMA integrity_check").fetchone()[0]
n = c.execute("SELECT count(*) FROM t").fetchone()[0]
c.close()
if ic != "ok" or n != rows:
    sys.exit("integrity_check %s, %d rows of %d" % (ic, n, rows))
print("OK %d rows, %d reads" % (rows, reads))
