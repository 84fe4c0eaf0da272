/* hex: bytes to and from hex text, as configuration, logs and peers write
   it (libsodium's codec, with the exact-length rule oand wants).  Pure. */
#ifndef OAND_HEX_H
#define OAND_HEX_H

#include <stddef.h>
#include <stdint.h>

/* n bytes from s, which must be exactly 2n hex digits (either case):
   0, or -EINVAL (s NULL, wrong length or not hex). */
int hex_decode(const char *s, uint8_t *out, size_t n);
/* n bytes as 2n lower-case digits and a NUL in out (2n + 1 bytes);
   returns out. */
char *hex_encode(const uint8_t *in, size_t n, char *out);

#endif
