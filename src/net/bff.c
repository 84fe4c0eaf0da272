#include "bff.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "httpc.h"

int bff_parse(const char *body, size_t len, struct bff_info *out)
{
	json_t *j, *v;
	const char *name;
	json_error_t e;
	json_int_t port;
	int r = -EBADMSG;

	memset(out, 0, sizeof(*out));
	if (len > BFF_REPLY_MAX)
		return -EBADMSG;
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
	if (j == NULL || !json_is_object(j))
		goto out;
	if (hex_decode(json_string_value(json_object_get(j, "tox_id")), out->tox_id, sizeof(out->tox_id)) ||
	    hex_decode(json_string_value(json_object_get(j, "dht_key")), out->dht_key, sizeof(out->dht_key)))
		goto out;
	v = json_object_get(j, "udp_port");
	if (!json_is_integer(v) || (port = json_integer_value(v)) < 1 || port > 65535)
		goto out;
	out->udp_port = (int)port;
	/* Told by nodes since how long they run decides which of two that
	   cannot find each other starts Tox afresh (see net.c). */
	v = json_object_get(j, "run_ms");
	out->run_ms = json_is_integer(v) && json_integer_value(v) >= 0 ? json_integer_value(v) : -1;
	v = json_object_get(j, "tox_age_ms");
	out->tox_age_ms = json_is_integer(v) && json_integer_value(v) >= 0 ? json_integer_value(v) : -1;
	name = json_string_value(json_object_get(j, "name"));
	if (name != NULL) {
		if (strlen(name) >= sizeof(out->name))
			goto out;
		snprintf(out->name, sizeof(out->name), "%s", name);
	}
	r = 0;
out:
	json_decref(j);
	return r;
}

int bff_fetch(const char *host, int port, const char *pin, int key_known, int timeout_ms,
	      struct bff_info *out)
{
	struct httpc_reply rep;
	int r;

	memset(out, 0, sizeof(*out));
	/* The member may serve HTTPS (tls-cert): plain first, then TLS
	   (with a pin, TLS only). */
	if ((r = httpc_get(host, port, HTTPC_AUTO | (key_known ? HTTPC_ANY_CERT : 0), "/v1/bootstrap",
			   pin, timeout_ms, BFF_REPLY_MAX, &rep)) != 0)
		return r;
	r = rep.status == 200 ? bff_parse(rep.body, rep.len, out) : -EBADMSG;
	httpc_reply_free(&rep);
	return r;
}
