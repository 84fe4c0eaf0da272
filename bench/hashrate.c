/*
 * bench/hashrate: how fast oand hashes content (src/util/sha256, nettle
 * underneath), next to libsodium's crypto_hash_sha256 as a reference.
 * Every byte written to or fetched into the store is hashed, so this
 * rate bounds write and transfer throughput.  In memory, one thread:
 * BENCH_HASH_MB MiB (default 1024) of random bytes, fed in pieces of
 * 4 KiB (small FUSE writes) and 1 MiB, best of BENCH_HASH_RUNS (3).
 * Prints a markdown table on stdout.
 *
 *   make bench-hash
 */
#include <nettle/version.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sha256.h"

#define BUF_BYTES (64u << 20)	/* hashed over and over up to the total */

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v != NULL && atol(v) > 0 ? atol(v) : def;
}

/* Seconds to hash total bytes of buf in pieces of piece bytes. */
static double run_oand(const uint8_t *buf, size_t total, size_t piece, uint8_t out[32])
{
	struct sha256 s;
	double t0 = now();

	sha256_init(&s);
	for (size_t done = 0; done < total; done += piece)
		sha256_update(&s, buf + done % BUF_BYTES, piece);
	sha256_final(&s, out);
	return now() - t0;
}

static double run_sodium(const uint8_t *buf, size_t total, size_t piece, uint8_t out[32])
{
	crypto_hash_sha256_state s;
	double t0 = now();

	crypto_hash_sha256_init(&s);
	for (size_t done = 0; done < total; done += piece)
		crypto_hash_sha256_update(&s, buf + done % BUF_BYTES, piece);
	crypto_hash_sha256_final(&s, out);
	return now() - t0;
}

static void cpu_line(void)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[4096], model[256] = "?";
	int sha = 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "model name", 10) == 0 && model[0] == '?')
			snprintf(model, sizeof(model), "%s", strchr(line, ':') + 2);
		if (strncmp(line, "flags", 5) == 0 && strstr(line, " sha_ni") != NULL)
			sha = 1;
	}
	if (f != NULL)
		fclose(f);
	model[strcspn(model, "\n")] = '\0';
	printf("- CPU: %s (SHA extensions: %s)\n", model, sha ? "yes" : "no");
}

int main(void)
{
	size_t total = (size_t)env_long("BENCH_HASH_MB", 1024) << 20;
	long runs = env_long("BENCH_HASH_RUNS", 3);
	static const size_t pieces[] = { 4096, 1u << 20 };
	uint8_t *buf, a[32], b[32];

	if (sodium_init() < 0 || (buf = malloc(BUF_BYTES)) == NULL)
		return 1;
	randombytes_buf(buf, BUF_BYTES);
	cpu_line();
	printf("- nettle %d.%d, libsodium %s; %zu MiB in memory, best of %ld\n\n",
	       nettle_version_major(), nettle_version_minor(), sodium_version_string(),
	       total >> 20, runs);
	printf("| piece | oand sha256 (nettle), MiB/s | libsodium crypto_hash_sha256, MiB/s | oand / libsodium |\n");
	printf("|---|--:|--:|--:|\n");
	for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
		double to = 1e9, ts = 1e9;

		for (long r = 0; r < runs; r++) {
			double t = run_oand(buf, total, pieces[p], a);

			to = t < to ? t : to;
			t = run_sodium(buf, total, pieces[p], b);
			ts = t < ts ? t : ts;
			if (memcmp(a, b, sizeof(a)) != 0) {
				fprintf(stderr, "hashrate: the two hashes differ\n");
				return 1;
			}
		}
		printf("| %zu KiB | %.0f | %.0f | %.2f |\n", pieces[p] >> 10,
		       (double)(total >> 20) / to, (double)(total >> 20) / ts, ts / to);
	}
	free(buf);
	return 0;
}
