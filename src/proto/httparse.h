/*
 * httparse: the parts of HTTP that come from the network and are decoded
 * by hand: a /value/ URL into a tree path, a Range header (replies are
 * libcurl's, src/net/httpc).  Pure string work on untrusted input,
 * thread safe, fuzzed (tests/fuzz/fuzz_http.c).
 */
#ifndef OAND_HTTPARSE_H
#define OAND_HTTPARSE_H

#include <stddef.h>
#include <stdint.h>

/* The tree path of the part of a raw URL after /value: %-decoded, with
   no NUL, no "." or ".." and no empty names ("//"); a trailing slash is
   allowed.  0, -EINVAL or -ENAMETOOLONG. */
int http_tree_path(const char *raw, char *out, size_t outlen);
/* "bytes=A-B", "bytes=A-", "bytes=-N" against size: 1 and [from, to]
   (inclusive) for one satisfiable range, 0 to send it all (no range,
   several ranges, or one that cannot be parsed), -1 unsatisfiable. */
int http_parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to);

#endif
