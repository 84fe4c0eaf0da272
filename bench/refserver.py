#!/usr/bin/env python3
"""refserver: the plain HTTP server bench/http measures a node's API against.

    refserver.py WWW PUTDIR PORT

Listens on 127.0.0.1:PORT with http.server.ThreadingHTTPServer (a thread
per connection), like `python3 -m http.server`.

GET and HEAD are `python3 -m http.server --directory WWW --protocol
HTTP/1.1`: its own handler, SimpleHTTPRequestHandler, unchanged (files are
sent with shutil.copyfileobj, 64 KiB reads and writes; no sendfile), with
two differences: TCP_NODELAY on every connection (the handler writes the
head and the body of a reply in separate sends, and with Nagle on a kept
connection waits ~40 ms for the client's delayed ACK before the body), and
no log line per request.

PUT /NAME reads exactly Content-Length bytes of body from the socket in
pieces of up to 1 MiB (readinto one reused buffer) and writes each to
PUTDIR/NAME.part (os.write; the file opened O_WRONLY|O_CREAT|O_TRUNC);
at the end it fsyncs the file, renames it to PUTDIR/NAME, fsyncs PUTDIR
and answers 201 with {"size": N}.  Nothing is hashed.  That is the
durable part of what oand does for a PUT (oand also hashes the content
with SHA-256 as it arrives and records the new version in its database).
PUT /NAME?sha256 does the same and also hashes each piece with
hashlib.sha256 (OpenSSL) as it arrives, before writing it, and answers
{"size": N, "sha256": HEX}.  A PUT without Content-Length gets 411.
"""
import hashlib
import http.server
import json
import os
import sys

CHUNK = 1 << 20
WWW = PUTDIR = None


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=WWW, **kwargs)

    def reply(self, status, body):
        data = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            self.reply(411, {"error": "Content-Length needed"})
            return
        left = int(length)
        path, _, query = self.path.partition("?")
        name = os.path.basename(path) or "upload"
        h = hashlib.sha256() if query == "sha256" else None
        final = os.path.join(PUTDIR, name)
        part = final + ".part"
        view = memoryview(bytearray(CHUNK))
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            while left > 0:
                n = self.rfile.readinto(view[:min(left, CHUNK)])
                if not n:
                    raise ConnectionError("body cut short")
                if h is not None:
                    h.update(view[:n])
                done = 0
                while done < n:
                    done += os.write(fd, view[done:n])
                left -= n
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(part)
            raise
        os.close(fd)
        os.rename(part, final)
        dfd = os.open(PUTDIR, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        body = {"size": int(length)}
        if h is not None:
            body["sha256"] = h.hexdigest()
        self.reply(201, body)

    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: refserver.py WWW PUTDIR PORT")
    WWW, PUTDIR = sys.argv[1], sys.argv[2]
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[3])), Handler).serve_forever()
