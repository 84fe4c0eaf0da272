/*
 * le: reading little-endian fields from untrusted bytes.  A reader past
 * the end reads zeros and stays bad, so a decoder checks `bad` once at
 * the end instead of after every field.  Pure, header only.
 */
#ifndef OAND_LE_H
#define OAND_LE_H

#include <stddef.h>
#include <stdint.h>

struct le_rd {
	const uint8_t *p;
	size_t left;
	int bad;
};

/* The next bytes (1..8) as an unsigned little-endian number. */
static inline uint64_t le_get_u(struct le_rd *r, int bytes)
{
	uint64_t v = 0;

	if (r->bad || r->left < (size_t)bytes) {
		r->bad = 1;
		return 0;
	}
	for (int i = bytes - 1; i >= 0; i--)
		v = v << 8 | r->p[i];
	r->p += bytes;
	r->left -= (size_t)bytes;
	return v;
}

/* The next n bytes, or NULL (and bad) if fewer are left. */
static inline const uint8_t *le_get_bytes(struct le_rd *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->bad || r->left < n) {
		r->bad = 1;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

#endif
