#!/usr/bin/env python3
"""POSIX behaviour of a folder, printed one case per line.

Usage: posix.py DIR

Runs permission and ownership rules, rename edge cases, link counts and
time updates in DIR (which must be empty and reachable by uids 60601 and
60602) and prints, for every case, its name and what happened: "ok" or
the errno's name, and the attributes that matter.  tests/integration/
t_posix.sh runs it on a tmpfs and on the mount and compares the lines;
nothing here knows which is which.  Run as root: other users are taken
on in forked children with setresuid, nothing is added to the system.
"""
import errno
import os
import stat
import sys
import time

U, V, G = 60601, 60602, 60603  # a user, another user, a group U is in
D = sys.argv[1]
out = []


def say(name, what):
    out.append("%s: %s" % (name, what))


def res(fn, *a):
    """Run fn(*a): 'ok' or the errno's name."""
    try:
        fn(*a)
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def as_user(uid, fn, *a, groups=()):
    """fn(*a) in a child running as uid (gid uid, the given groups)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgroups(list(groups))
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.umask(0o022)
            v = res(fn, *a)
        except BaseException as e:  # noqa: BLE001 (reported, never raised)
            v = "exception " + repr(e)
        os.write(w, v.encode())
        os._exit(0)
    os.close(w)
    v = b""
    while True:
        b = os.read(r, 4096)
        if not b:
            break
        v += b
    os.close(r)
    os.waitpid(pid, 0)
    return v.decode()


def p(*parts):
    return os.path.join(D, *parts)


def mk(path, mode=0o644, owner=(0, 0), data=b"data\n"):
    with open(path, "wb") as f:
        f.write(data)
    os.chown(path, *owner)
    os.chmod(path, mode)


def mkd(path, mode=0o755, owner=(0, 0)):
    os.mkdir(path)
    os.chown(path, *owner)
    os.chmod(path, mode)


def attrs(path):
    try:
        st = os.lstat(path)
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    return "%s %o %d:%d nlink=%d size=%d" % (
        stat.filemode(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
        st.st_nlink, st.st_size if not stat.S_ISDIR(st.st_mode) else 0)


def opener(flags):
    def f(path):
        os.close(os.open(path, flags, 0o644))
    return f


def write_to(path):
    with open(path, "ab") as f:
        f.write(b"x")


# ---- permissions ----
os.umask(0o022)
os.chmod(D, 0o755)
mkd(p("pub"), 0o777)
mkd(p("priv"), 0o700)
mkd(p("noexec"), 0o766)
mk(p("priv", "f"))
mk(p("noexec", "f"))
mk(p("ro"), 0o644)
mk(p("secret"), 0o600)
mk(p("grp"), 0o660, (0, G))
mk(p("mine"), 0o644, (U, U))
for who, uid, groups in (("user", U, ()), ("member", U, (G,)), ("other", V, ())):
    say("read 644 as " + who, as_user(uid, opener(os.O_RDONLY), p("ro"), groups=groups))
    say("write 644 as " + who, as_user(uid, opener(os.O_WRONLY), p("ro"), groups=groups))
    say("read 600 as " + who, as_user(uid, opener(os.O_RDONLY), p("secret"), groups=groups))
    say("write 660 group as " + who, as_user(uid, opener(os.O_WRONLY), p("grp"), groups=groups))
    say("write own 644 as " + who, as_user(uid, opener(os.O_WRONLY), p("mine"), groups=groups))
    say("stat in 700 as " + who, as_user(uid, os.stat, p("priv", "f"), groups=groups))
    say("list 700 as " + who, as_user(uid, os.listdir, p("priv"), groups=groups))
    say("stat in 766 as " + who, as_user(uid, os.stat, p("noexec", "f"), groups=groups))
    say("create in 755 as " + who,
        as_user(uid, opener(os.O_CREAT | os.O_WRONLY), p("c-" + who), groups=groups))
    say("mkdir in 755 as " + who, as_user(uid, os.mkdir, p("d-" + who), groups=groups))
    say("unlink in 755 as " + who, as_user(uid, os.unlink, p("ro"), groups=groups))
say("create in 777", as_user(U, opener(os.O_CREAT | os.O_WRONLY), p("pub", "u")))
say("created in 777", attrs(p("pub", "u")))
say("mkdir in 777", as_user(U, os.mkdir, p("pub", "ud")))
say("mkdir'd in 777", attrs(p("pub", "ud")))
say("O_EXCL on an existing file", res(opener(os.O_CREAT | os.O_EXCL | os.O_WRONLY), p("ro")))
say("create with mode 0", as_user(U, lambda q: os.close(os.open(q, os.O_CREAT | os.O_RDWR, 0)),
                                  p("pub", "zero")))
say("created with mode 0", attrs(p("pub", "zero")))
say("reopen mode 0 as owner", as_user(U, opener(os.O_RDONLY), p("pub", "zero")))

# sticky folders: only the owner of a file (or of the folder) removes it
mkd(p("tmp"), 0o1777)
mk(p("tmp", "roots"), 0o666)
mk(p("tmp", "users"), 0o666, (U, U))
say("unlink another's in sticky", as_user(V, os.unlink, p("tmp", "roots")))
say("rename another's in sticky", as_user(V, os.rename, p("tmp", "users"), p("tmp", "v")))
say("unlink own in sticky", as_user(U, os.unlink, p("tmp", "users")))
say("sticky folder mode", attrs(p("tmp")))

# ---- ownership and modes ----
mk(p("own"), 0o644, (U, U))
say("chmod by non-owner", as_user(V, os.chmod, p("own"), 0o600))
say("chmod by owner", as_user(U, os.chmod, p("own"), 0o640))
say("chown by owner", as_user(U, os.chown, p("own"), V, -1))
say("chgrp to a group not held", as_user(U, os.chown, p("own"), -1, G))
say("chgrp to a group held", as_user(U, os.chown, p("own"), -1, G, groups=(G,)))
say("after chgrp", attrs(p("own")))
say("chown by root", res(os.chown, p("own"), V, V))
say("after chown", attrs(p("own")))
mk(p("suid"), 0o6755, (U, G))
say("chown clears set-id", res(os.chown, p("suid"), V, -1))
say("after chown of set-id", attrs(p("suid")))
mk(p("times"), 0o644, (U, U))
say("utime now by non-owner with write", as_user(V, os.utime, p("times")))
say("utime set by non-owner", as_user(V, os.utime, p("times"), (1, 1)))
say("utime set by owner", as_user(U, os.utime, p("times"), (1000000000, 1000000000)))
say("after utime", "%d %d" % (os.stat(p("times")).st_atime, os.stat(p("times")).st_mtime))
os.chmod(p("times"), 0o666)
say("utime now by non-owner who can write", as_user(V, os.utime, p("times")))
say("truncate by non-owner without write", as_user(V, os.truncate, p("ro"), 0))

# ---- renames ----
mkd(p("r"))
mk(p("r", "a"), data=b"a\n")
mk(p("r", "b"), data=b"bb\n")
mkd(p("r", "d"))
mkd(p("r", "e"))
mkd(p("r", "full"))
mk(p("r", "full", "x"))
say("file over file", res(os.rename, p("r", "a"), p("r", "b")))
say("file over file leaves", "%s %s" % (os.path.exists(p("r", "a")), attrs(p("r", "b"))))
say("file over folder", res(os.rename, p("r", "b"), p("r", "d")))
say("folder over file", res(os.rename, p("r", "d"), p("r", "b")))
say("folder over empty folder", res(os.rename, p("r", "d"), p("r", "e")))
say("folder over non-empty", res(os.rename, p("r", "e"), p("r", "full")))
say("folder into itself", res(os.rename, p("r", "e"), p("r", "e", "in")))
mkd(p("r", "e", "sub"))
say("folder into its child", res(os.rename, p("r", "e"), p("r", "e", "sub", "in")))
say("missing source", res(os.rename, p("r", "nothing"), p("r", "new")))
say("into a missing folder", res(os.rename, p("r", "b"), p("r", "nowhere", "b")))
say("onto itself", res(os.rename, p("r", "b"), p("r", "b")))
say("onto itself leaves", attrs(p("r", "b")))
say("trailing slash on a file", res(os.rename, p("r", "b") + "/", p("r", "c")))
say("folder with trailing slash", res(os.rename, p("r", "e") + "/", p("r", "e2") + "/"))
say("file into another folder", res(os.rename, p("r", "b"), p("r", "e2", "b")))
say("moved file", attrs(p("r", "e2", "b")))
say("rename in 755 as a user", as_user(U, os.rename, p("r", "e2", "b"), p("r", "e2", "c")))
mkd(p("r", "ud"), 0o755, (U, U))
mkd(p("r", "vd"), 0o777, (V, V))
say("move a user's folder out of a 755 folder",
    as_user(U, os.rename, p("r", "ud"), p("r", "vd", "ud")))
mkd(p("pub", "ue"), 0o755, (U, U))
mkd(p("pub", "vd"), 0o777, (V, V))
say("move a user's folder into a 777 folder",
    as_user(U, os.rename, p("pub", "ue"), p("pub", "vd", "ue")))
say("moved user folder", attrs(p("pub", "vd", "ue")))
mk(p("r", "name" + "n" * 250))
say("255-byte name", res(os.rename, p("r", "name" + "n" * 250), p("r", "m" * 255)))
say("256-byte name", res(os.rename, p("r", "m" * 255), p("r", "m" * 256)))
say("256-byte create", res(opener(os.O_CREAT | os.O_WRONLY), p("r", "c" * 256)))
say("256-byte lookup", res(os.stat, p("r", "c" * 256)))

# ---- removal ----
say("rmdir of a non-empty folder", res(os.rmdir, p("r", "full")))
say("unlink of a folder", res(os.unlink, p("r", "full")))
say("rmdir of a file", res(os.rmdir, p("r", "full", "x")))
say("rmdir of .", res(os.rmdir, p("r", "full", ".")))
say("mkdir of an existing name", res(os.mkdir, p("r", "full")))
say("mkdir over a file", res(os.mkdir, p("r", "full", "x")))
say("create below a file", res(opener(os.O_CREAT | os.O_WRONLY), p("r", "full", "x", "y")))
say("open a folder for writing", res(opener(os.O_WRONLY), p("r", "full")))
say("O_DIRECTORY on a file", res(opener(os.O_RDONLY | os.O_DIRECTORY), p("r", "full", "x")))

# ---- symlinks ----
os.symlink("target/none", p("r", "sl"))
say("symlink", attrs(p("r", "sl")))
say("readlink", os.readlink(p("r", "sl")))
say("symlink over existing", res(os.symlink, "x", p("r", "sl")))
say("lchown of a link", res(os.lchown, p("r", "sl"), U, U))
say("after lchown", attrs(p("r", "sl")))
say("O_NOFOLLOW on a link", res(opener(os.O_RDONLY | os.O_NOFOLLOW), p("r", "sl")))

# ---- times ----
TICK = 0.02


def times(path):
    st = os.lstat(path)
    return st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns


def changed(before, after):
    """Which of mtime and ctime moved forward."""
    return "mtime %s ctime %s" % ("moved" if after[1] > before[1] else "kept",
                                  "moved" if after[2] > before[2] else "kept")


def step(name, path, fn, *a, after=None):
    """fn(*a), then which of path's times moved (looked up at after if given)."""
    before = times(path)
    time.sleep(TICK)
    r = res(fn, *a)
    say(name, "%s, %s" % (r, changed(before, times(after or path))))


mkd(p("t"))
mk(p("t", "f"))
os.mkdir(p("t", "sub"))
step("create: parent", p("t"), opener(os.O_CREAT | os.O_WRONLY), p("t", "new"))
st = os.stat(p("t", "new"))
say("create: the file's mtime is its ctime", st.st_mtime_ns == st.st_ctime_ns)
step("write: file", p("t", "f"), write_to, p("t", "f"))
step("write: parent", p("t"), write_to, p("t", "f"))
step("chmod: file", p("t", "f"), os.chmod, p("t", "f"), 0o600)
step("chown: file", p("t", "f"), os.chown, p("t", "f"), U, U)
step("truncate: file", p("t", "f"), os.truncate, p("t", "f"), 1)
step("truncate to the same size: file", p("t", "f"), os.truncate, p("t", "f"), 1)


def ftrunc(path, n):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, n)
    finally:
        os.close(fd)


step("ftruncate: file", p("t", "f"), ftrunc, p("t", "f"), 0)
step("O_TRUNC: file", p("t", "f"), opener(os.O_WRONLY | os.O_TRUNC), p("t", "f"))
step("rename: file", p("t", "f"), os.rename, p("t", "f"), p("t", "g"), after=p("t", "g"))
step("rename: parent", p("t"), os.rename, p("t", "g"), p("t", "f"))
step("rename out: source folder", p("t"), os.rename, p("t", "f"), p("t", "sub", "f"))
step("rename in: target folder", p("t", "sub"), os.rename, p("t", "new"), p("t", "sub", "new"))
step("unlink: parent", p("t", "sub"), os.unlink, p("t", "sub", "new"))
step("mkdir: parent", p("t"), os.mkdir, p("t", "d2"))
step("rmdir: parent", p("t"), os.rmdir, p("t", "d2"))
step("symlink: parent", p("t"), os.symlink, "x", p("t", "l"))
step("utime now: file", p("t", "sub", "f"), os.utime, p("t", "sub", "f"))
step("read: file", p("t", "sub", "f"), lambda q: open(q, "rb").read(), p("t", "sub", "f"))
os.utime(p("t", "sub", "f"), ns=(1234567890123456789, 987654321987654321))
say("utime with ns", "%d %d" % times(p("t", "sub", "f"))[:2])
os.utime(p("t", "sub", "f"), ns=(5, 7))
say("utime near 0", "%d %d" % times(p("t", "sub", "f"))[:2])

# ---- link counts ----
mkd(p("n"))
mk(p("n", "f"))
say("file nlink", os.stat(p("n", "f")).st_nlink)
fd = os.open(p("n", "f"), os.O_RDONLY)
os.unlink(p("n", "f"))
say("unlinked open file nlink", os.fstat(fd).st_nlink)
os.close(fd)

print("\n".join(out))
