/* hex: bytes from hex text, as configuration and peers write it.  Pure. */
#ifndef OAND_HEX_H
#define OAND_HEX_H

#include <stddef.h>
#include <stdint.h>

/* n bytes from s, which must be exactly 2n hex digits (either case):
   0, or -EINVAL (s NULL, wrong length or not hex). */
int hex_decode(const char *s, uint8_t *out, size_t n);

#endif
