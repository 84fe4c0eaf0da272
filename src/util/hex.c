#include "hex.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

int hex_decode(const char *s, uint8_t *out, size_t n)
{
	size_t got = 0;
	const char *end = NULL;

	if (s == NULL || strlen(s) != 2 * n)
		return -EINVAL;
	if (sodium_hex2bin(out, n, s, 2 * n, NULL, &got, &end) != 0 || got != n || *end != '\0')
		return -EINVAL;
	return 0;
}

char *hex_encode(const uint8_t *in, size_t n, char *out)
{
	return sodium_bin2hex(out, 2 * n + 1, in, n);
}
