/*
 * http_stub: a plain HTTP server on 127.0.0.1 (a port of the system's
 * choosing) for the client's tests (src/net/httpc, src/net/bff).  It
 * answers every request with one canned reply and closes, or, with no
 * reply, reads and never answers.  One thread of its own, stopped and
 * joined by http_stub_stop.
 */
#ifndef OAND_HTTP_STUB_H
#define OAND_HTTP_STUB_H

#include <stddef.h>

struct http_stub;

/* Start serving reply (NULL: never answer): 0 or -errno. */
int http_stub_start(const char *reply, struct http_stub **out);
int http_stub_port(const struct http_stub *s);
/* Requests read so far, and the last one's head (NUL-terminated). */
int http_stub_requests(struct http_stub *s, char *last, size_t len);
void http_stub_stop(struct http_stub *s);

#endif
