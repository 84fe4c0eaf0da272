/*
 * api: the node's HTTP(S) service on server-port (libmicrohttpd, a thread
 * per connection).
 *
 *   GET  /                      {}
 *   GET  /v1/bootstrap          Tox ID, current DHT key, UDP port, name
 *                               (what a joining node needs; src/net/bff)
 *   GET  /v1/status[?text]      the node's status (oand status)
 *   GET  /v1/nodes[?text]       the cluster's nodes (oand nodes)
 *   GET  /v1/transfers          transfers in flight
 *   GET  /value/PATH            a folder: JSON listing; a file: its bytes,
 *   HEAD /value/PATH            ETag = SHA-256, Range (206), fetched from a
 *                               holder first if not held here
 *   PUT  /value/PATH            a file's whole new content, streamed to the
 *                               store and published when complete
 *   DELETE /value/PATH          a file, or an empty folder
 *   POST /value/PATH?mkdir      a new folder
 *
 * Access: every client reaches / and /v1/bootstrap; the rest needs
 * "Authorization: Bearer TOKEN" with the node's token (API_TOKEN_FILE in
 * the data dir, readable by the node's user and root only) or, for GET
 * and HEAD, its read-only token (API_TOKEN_RO_FILE), on loopback too:
 * nothing is granted for being local.  Clients not on loopback are rate
 * limited per address (api-rate-limit a minute, X-RateLimit-* headers,
 * 429).
 * Bounded: api-connections at once (503 beyond), api-timeout for idle
 * clients, headers within 64 KiB, uploads within api-max-upload (413).
 * Errors are {"error": "..."} with the status that fits.
 */
#ifndef OAND_API_H
#define OAND_API_H

#include <stddef.h>

struct api;
struct cfg;
struct node;

#define API_TOKEN_FILE "api.token"
#define API_TOKEN_RO_FILE "api.token.ro"
#define API_TOKEN_HEX 64

int api_start(const struct cfg *cfg, struct node *node, struct api **out);
void api_stop(struct api *a);

/* The node's token (read_only: the read-only one) from data_dir, made
   (mode 0600) if absent.  0 or -errno. */
int api_token(const char *data_dir, int read_only, char out[API_TOKEN_HEX + 1]);
/* The same, never made: -ENOENT if absent, -EACCES for other users. */
int api_token_read(const char *data_dir, int read_only, char out[API_TOKEN_HEX + 1]);

#endif
