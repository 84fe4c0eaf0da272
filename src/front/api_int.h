/*
 * api_int.h: what the files of the HTTP API share and nothing else
 * includes: the service's state (struct api), a request's state (struct
 * req) and the replies and handlers of the tree (api_tree.c) that the
 * dispatch (api.c) calls.  api.h is the module's contract.
 */
#ifndef OAND_API_INT_H
#define OAND_API_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>

#include "api.h"
#include "path.h"

#define API_HEADERS_MAX (64 * 1024)	/* request line and headers */
#define API_SLACK 16		/* connections past the limit that get a 503 */
#define API_DISCARD_MAX (16u << 20)	/* body read after a refusal, then close */
#define API_TLS_FILE_MAX (1 << 20)
#define RL_SLOTS 1024		/* remote addresses the rate limiter tracks */
#define API_LOOPBACK_RESERVE 8	/* connections only loopback clients get */

struct rl_slot {
	struct in6_addr addr;
	double tokens;
	int64_t last_ms;
	int used;
};

struct api {
	struct MHD_Daemon *d;
	struct node *node;
	char *name;
	char *data_dir;
	char *tls_key, *tls_cert;	/* PEM in memory, or NULL */
	unsigned connections;		/* served at once */
	int active;			/* connections open (atomic) */
	int local_active;		/* of them, from loopback (atomic) */
	double rate;			/* requests a minute per address */
	uint64_t max_upload;
	char token[API_TOKEN_HEX + 1], token_ro[API_TOKEN_HEX + 1];
	pthread_mutex_t rl_lock;
	struct rl_slot rl[RL_SLOTS];
	/* Connections open per remote address (under rl_lock), so that one
	   address cannot hold every slot; loopback is not counted. */
	unsigned per_ip;
	struct ip_count {
		struct in6_addr addr;
		unsigned n;
	} open[RL_SLOTS];
};

enum access { ACC_NONE, ACC_READ, ACC_FULL };

/* One request's state, from its first call to its completion. */
struct req {
	int begun;		/* begin() has seen it */
	int limited;		/* rate limited: the headers go out */
	int tell_dir;		/* X-Oand-Data-Dir goes out (/v1) */
	long remaining;
	struct node_file *put;	/* PUT: the content being received */
	int put_existed;
	int put_err;		/* PUT refused midway: the rest is read and dropped */
	uint64_t put_len, discarded;
	char path[PATH_TREE_MAX];
};

struct MHD_Response *api_error_response(const char *msg);
enum MHD_Result api_get_bootstrap(struct MHD_Connection *c, struct api *a, struct req *rq);
enum MHD_Result api_get_v1(struct MHD_Connection *c, struct api *a, struct req *rq,
			      const char *what);
enum MHD_Result api_get_value(struct MHD_Connection *c, struct api *a, struct req *rq);
enum MHD_Result api_modify_value(struct MHD_Connection *c, struct api *a, struct req *rq,
				    const char *method);
enum MHD_Result api_put_begin(struct MHD_Connection *c, struct api *a, struct req *rq);
enum MHD_Result api_put_end(struct MHD_Connection *c, struct api *a, struct req *rq);
enum MHD_Result api_put_more(struct api *a, struct req *rq, const char *data, size_t *len);
enum MHD_Result api_queue(struct MHD_Connection *c, const struct api *a, const struct req *rq,
			     unsigned status, struct MHD_Response *resp);
enum MHD_Result api_reply_error(struct MHD_Connection *c, const struct api *a,
				   const struct req *rq, unsigned status, const char *msg);
enum MHD_Result api_reply_json(struct MHD_Connection *c, const struct api *a,
				  const struct req *rq, unsigned status, json_t *j);

#endif
