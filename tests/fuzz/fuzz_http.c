/* libFuzzer target: what a client or server sends that oand decodes by
   hand (a /value/ URL, a Range header).  No crash, no
   read past the input, and results that keep their promises. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httparse.h"
#include "path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), out[PATH_TREE_MAX];
	uint64_t from = 0, to = 0, len = size > 8 ? ((uint64_t)data[0] << 24 | data[1] << 16 | data[2] << 8 | data[3]) : 0;
	int r;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (http_tree_path(s, out, sizeof(out)) == 0) {
		assert(path_check(out) == 0);
	}
	r = http_parse_range(s, len, &from, &to);
	if (r == 1)
		assert(from <= to && to < len);
	free(s);
	return 0;
}
