#include "api.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net.h"

#define API_CONNECTIONS 64	/* at once; the rest wait in the backlog */
#define API_TIMEOUT_S 10	/* for a slow client */

struct api {
	struct MHD_Daemon *d;
	struct net *net;
	char *name;
};

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);
	struct MHD_Response *resp;
	enum MHD_Result r;

	json_decref(j);
	if (text == NULL)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	r = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	return reply_json(c, status, json_pack("{s:s}", "error", msg));
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **state)
{
	struct api *a = cls;
	struct net_status st;

	(void)version;
	(void)upload;
	(void)state;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		if (*upload_len != 0) {
			*upload_len = 0;	/* bodies are not read here */
			return MHD_YES;
		}
		return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
	}
	if (strcmp(url, "/") == 0)
		return reply_json(c, MHD_HTTP_OK, json_object());
	if (strcmp(url, "/v1/bootstrap") == 0) {
		net_status(a->net, &st);
		return reply_json(c, MHD_HTTP_OK,
				  json_pack("{s:s, s:s, s:i, s:n, s:s}", "tox_id", st.tox_id,
					    "dht_key", st.dht_key, "udp_port", (int)st.udp_port,
					    "tcp_port", "name", a->name));
	}
	return reply_error(c, MHD_HTTP_NOT_FOUND, "not found");
}

int api_start(int port, struct net *net, const char *name, struct api **out)
{
	struct api *a = calloc(1, sizeof(*a));
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	*out = NULL;
	if (a == NULL || (a->name = strdup(name)) == NULL) {
		free(a);
		return -ENOMEM;
	}
	a->net = net;
	if (MHD_is_feature_supported(MHD_FEATURE_POLL))
		flags |= MHD_USE_POLL;
	if (net_host_has_ipv6())
		flags |= MHD_USE_DUAL_STACK;
	a->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, a,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_TIMEOUT_S,
				MHD_OPTION_END);
	if (a->d == NULL) {
		log_error("api: cannot listen on port %d", port);
		free(a->name);
		free(a);
		return -EADDRINUSE;
	}
	log_info("api: HTTP on port %d", port);
	*out = a;
	return 0;
}

void api_stop(struct api *a)
{
	if (a == NULL)
		return;
	MHD_stop_daemon(a->d);
	free(a->name);
	free(a);
}
