/*
 * api_tree: the HTTP API's replies, the tree under /value/ (GET, HEAD, PUT,
 * DELETE, POST) and /v1 (status, nodes, transfers, bootstrap); the
 * dispatch, access and limits are in api.c.
 */
#include "api.h"
#include "api_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "deadline.h"
#include "hex.h"
#include "httparse.h"
#include "log.h"
#include "node.h"
#include "path.h"
#include "status.h"

/* ---- replies ---- */

static void finish_headers(struct MHD_Response *resp, const struct api *a, const struct req *rq)
{
	char v[32];

	/* Which node answers: `oand status` checks it is the one it means. */
	if (rq != NULL && rq->tell_dir)
		MHD_add_response_header(resp, "X-Oand-Data-Dir", a->data_dir);
	if (rq != NULL && rq->limited) {
		snprintf(v, sizeof(v), "%.0f", a->rate);
		MHD_add_response_header(resp, "X-RateLimit-Limit", v);
		snprintf(v, sizeof(v), "%ld", rq->remaining);
		MHD_add_response_header(resp, "X-RateLimit-Remaining", v);
	}
}

enum MHD_Result api_queue(struct MHD_Connection *c, const struct api *a, const struct req *rq,
			     unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result r;

	if (resp == NULL)
		return MHD_NO;
	finish_headers(resp, a, rq);
	r = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static struct MHD_Response *text_response(char *text, const char *type)
{
	struct MHD_Response *resp;

	if (text == NULL)
		return NULL;
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return NULL;
	}
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	return resp;
}

/* j (taken) as a reply body written with flags (json_dumps), with a
   newline for people. */
static struct MHD_Response *json_response_as(json_t *j, size_t flags)
{
	char *text = j ? json_dumps(j, flags) : NULL;
	size_t len;

	json_decref(j);
	if (text != NULL && (len = strlen(text)) > 0) {
		char *t = realloc(text, len + 2);

		if (t != NULL) {
			t[len] = '\n';
			t[len + 1] = '\0';
			text = t;
		}
	}
	return text_response(text, "application/json");
}

static struct MHD_Response *json_response(json_t *j)
{
	return json_response_as(j, JSON_COMPACT);
}

/* {"error": msg}, for a reply that needs headers of its own too. */
struct MHD_Response *api_error_response(const char *msg)
{
	return json_response(json_pack("{s:s}", "error", msg));
}

enum MHD_Result api_reply_json(struct MHD_Connection *c, const struct api *a,
				  const struct req *rq, unsigned status, json_t *j)
{
	return api_queue(c, a, rq, status, json_response(j));
}

enum MHD_Result api_reply_error(struct MHD_Connection *c, const struct api *a,
				   const struct req *rq, unsigned status, const char *msg)
{
	return api_queue(c, a, rq, status, api_error_response(msg));
}

/* The status for an errno of the tree, and what to say. */
static unsigned status_of(int err, const char **msg)
{
	switch (err) {
	case ENOENT: *msg = "no such file or folder"; return MHD_HTTP_NOT_FOUND;
	case EEXIST: *msg = "already exists"; return MHD_HTTP_CONFLICT;
	case ENOTEMPTY: *msg = "folder not empty"; return MHD_HTTP_CONFLICT;
	case EISDIR: *msg = "is a folder"; return MHD_HTTP_CONFLICT;
	case ENOTDIR: *msg = "a part of the path is not a folder"; return MHD_HTTP_CONFLICT;
	case ELOOP: *msg = "is a symlink"; return MHD_HTTP_CONFLICT;
	case EBUSY: *msg = "busy"; return MHD_HTTP_CONFLICT;
	case EINVAL: *msg = "bad path"; return MHD_HTTP_BAD_REQUEST;
	case ENAMETOOLONG: *msg = "name too long"; return MHD_HTTP_BAD_REQUEST;
	case EFBIG: *msg = "upload too large (api-max-upload)"; return MHD_HTTP_CONTENT_TOO_LARGE;
	case ENOSPC: *msg = "no space left on the node"; return MHD_HTTP_INSUFFICIENT_STORAGE;
	case EDQUOT: *msg = "no space left on the node"; return MHD_HTTP_INSUFFICIENT_STORAGE;
	case EACCES: case EPERM: *msg = "not allowed"; return MHD_HTTP_FORBIDDEN;
	case EIO: *msg = "content not available: no member holding it answered";
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	case ENOMEM: *msg = "out of memory"; return MHD_HTTP_SERVICE_UNAVAILABLE;
	default: *msg = "internal error"; return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

static enum MHD_Result reply_errno(struct MHD_Connection *c, const struct api *a,
				   const struct req *rq, int err)
{
	const char *msg;
	unsigned status = status_of(err < 0 ? -err : err, &msg);

	return api_reply_error(c, a, rq, status, msg);
}

/* ---- the tree ---- */

static void iso_time(int64_t sec, char out[32])
{
	struct tm tm;
	time_t t = (time_t)sec;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}

static const char *kind_name(mode_t m)
{
	return S_ISDIR(m) ? "folder" : S_ISLNK(m) ? "symlink" : "file";
}

/* The names of the holders of path's content, or null. */
static json_t *holders_json(struct api *a, const char *path)
{
	char buf[16384];
	int len = node_getxattr(a->node, path, "user.oand.holders", buf, sizeof(buf) - 1);
	json_t *arr;

	if (len < 0)
		return json_null();
	buf[len] = '\0';
	if ((arr = json_array()) == NULL)
		return NULL;
	for (char *p = buf; *p;) {
		uint8_t pk[32];
		char hexid[65], name[256];
		size_t n = strcspn(p, ",");

		if (n == 64) {
			int ok;

			memcpy(hexid, p, 64);
			hexid[64] = '\0';
			ok = hex_decode(hexid, pk, sizeof(pk)) == 0;
			if (ok && memcmp(pk, node_id(a->node), 32) == 0)
				snprintf(name, sizeof(name), "%s", a->name);
			else if (!ok || node_peer_name(a->node, pk, name, sizeof(name)) != 0)
				snprintf(name, sizeof(name), "%.16s", hexid);
			json_array_append_new(arr, json_string(name));
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return arr;
}

static json_t *sha_json(struct api *a, const char *path)
{
	char buf[80];
	int len = node_getxattr(a->node, path, "user.oand.sha256", buf, sizeof(buf) - 1);

	if (len != 64)
		return json_null();
	buf[len] = '\0';
	return json_string(buf);
}

/* One entry of a listing (or the description of one path). */
static json_t *entry_json(struct api *a, const char *path, const char *name, const struct stat *st)
{
	char mtime[32], mode[8];
	int file = S_ISREG(st->st_mode);

	iso_time(st->st_mtim.tv_sec, mtime);
	snprintf(mode, sizeof(mode), "%04o", (unsigned)(st->st_mode & 07777));
	return json_pack("{s:s, s:s, s:o, s:s, s:s, s:o, s:o}", "name", name,
			 "type", kind_name(st->st_mode),
			 "size", S_ISDIR(st->st_mode) ? json_null() : json_integer((json_int_t)st->st_size),
			 "mode", mode, "mtime", mtime,
			 "sha256", file ? sha_json(a, path) : json_null(),
			 "holders", file ? holders_json(a, path) : json_null());
}

struct child {
	char *name;
	struct stat st;
};

struct children {
	struct child *v;
	size_t n, cap;
	int err;
};

static int add_child(const char *name, const struct stat *st, int64_t cursor, void *ctx)
{
	struct children *ch = ctx;

	(void)cursor;
	if (ch->n == ch->cap) {
		size_t cap = ch->cap ? ch->cap * 2 : 64;
		struct child *v = realloc(ch->v, cap * sizeof(*v));

		if (v == NULL) {
			ch->err = -ENOMEM;
			return 1;
		}
		ch->v = v;
		ch->cap = cap;
	}
	if ((ch->v[ch->n].name = strdup(name)) == NULL) {
		ch->err = -ENOMEM;
		return 1;
	}
	ch->v[ch->n++].st = *st;
	return 0;
}

static enum MHD_Result get_folder(struct MHD_Connection *c, struct api *a, struct req *rq,
				  const struct stat *st)
{
	struct children ch = { 0 };
	char child[PATH_TREE_MAX], mtime[32];
	json_t *entries = json_array(), *j;
	int r = node_readdir(a->node, rq->path, 0, add_child, &ch);

	if (r == 0)
		r = ch.err;
	for (size_t i = 0; r == 0 && i < ch.n; i++) {
		if (snprintf(child, sizeof(child), "%s/%s", strcmp(rq->path, "/") ? rq->path : "",
			     ch.v[i].name) >= (int)sizeof(child))
			continue;
		if (json_array_append_new(entries, entry_json(a, child, ch.v[i].name, &ch.v[i].st)) != 0)
			r = -ENOMEM;
	}
	for (size_t i = 0; i < ch.n; i++)
		free(ch.v[i].name);
	free(ch.v);
	if (r != 0 || entries == NULL) {
		json_decref(entries);
		return reply_errno(c, a, rq, r ? r : -ENOMEM);
	}
	iso_time(st->st_mtim.tv_sec, mtime);
	j = json_pack("{s:s, s:s, s:s, s:o}", "path", rq->path, "type", "folder", "mtime", mtime,
		      "entries", entries);
	return api_reply_json(c, a, rq, MHD_HTTP_OK, j);
}

static const char *content_type(const char *path)
{
	static const char *const types[][2] = {
		{ ".txt", "text/plain; charset=utf-8" }, { ".html", "text/html; charset=utf-8" },
		{ ".htm", "text/html; charset=utf-8" }, { ".css", "text/css" },
		{ ".js", "text/javascript" }, { ".json", "application/json" },
		{ ".pdf", "application/pdf" }, { ".png", "image/png" }, { ".jpg", "image/jpeg" },
		{ ".jpeg", "image/jpeg" }, { ".gif", "image/gif" }, { ".svg", "image/svg+xml" },
		{ ".mp3", "audio/mpeg" }, { ".ogg", "audio/ogg" }, { ".flac", "audio/flac" },
		{ ".mp4", "video/mp4" }, { ".mkv", "video/x-matroska" }, { ".webm", "video/webm" },
		{ ".avi", "video/x-msvideo" },
	};
	const char *dot = strrchr(path, '.');

	if (dot != NULL && strchr(dot, '/') == NULL)
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcasecmp(dot, types[i][0]) == 0)
				return types[i][1];
	return "application/octet-stream";
}

/* len bytes of fd (taken) from off, sent with sendfile where it can be
   and closed after; an empty body when fd is -1 or len 0. */
static struct MHD_Response *content_response(int fd, uint64_t off, uint64_t len)
{
	struct MHD_Response *resp;

	if (fd < 0 || len == 0) {
		if (fd >= 0)
			close(fd);
		return MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if ((resp = MHD_create_response_from_fd_at_offset64(len, fd, off)) == NULL)
		close(fd);
	return resp;
}

static enum MHD_Result get_file(struct MHD_Connection *c, struct api *a, struct req *rq)
{
	struct node_content ct;
	struct MHD_Response *resp;
	char etag[80], hex[65], range[96], lm[64];
	const char *inm, *rh;
	uint64_t from = 0, to = 0, len;
	int r = node_open_content(a->node, rq->path, &ct), rr;
	unsigned status = MHD_HTTP_OK;
	time_t mt;
	struct tm tm;

	if (r != 0) {
		if (ct.fd >= 0)
			close(ct.fd);
		return reply_errno(c, a, rq, r);
	}
	hex[0] = '\0';
	if (ct.has_sha)
		sodium_bin2hex(hex, sizeof(hex), ct.sha, sizeof(ct.sha));
	snprintf(etag, sizeof(etag), "\"%s\"", hex);
	inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (ct.has_sha && inm != NULL && (strcmp(inm, "*") == 0 || strstr(inm, hex) != NULL)) {
		/* No body goes out with a 304, but its Content-Length must be
		   the 200's (RFC 9110, 8.6), not 0: made from the content, the
		   reply has the right one. */
		resp = content_response(ct.fd, 0, ct.size);
		if (resp != NULL)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
		return api_queue(c, a, rq, MHD_HTTP_NOT_MODIFIED, resp);
	}
	rh = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
	/* If-Range with another version: the whole new content. */
	const char *ifr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_RANGE);
	if (ifr != NULL && strcmp(ifr, etag) != 0)
		rh = NULL;
	rr = http_parse_range(rh, ct.size, &from, &to);
	if (rr < 0) {
		if (ct.fd >= 0)
			close(ct.fd);
		snprintf(range, sizeof(range), "bytes */%llu", (unsigned long long)ct.size);
		resp = api_error_response("range not satisfiable");
		if (resp != NULL)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, range);
		return api_queue(c, a, rq, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp);
	}
	if (rr == 0) {
		from = 0;
		len = ct.size;
	} else {
		len = to - from + 1;
		status = MHD_HTTP_PARTIAL_CONTENT;
	}
	if ((resp = content_response(ct.fd, from, len)) == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type(rq->path));
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	if (ct.has_sha)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	mt = (time_t)(ct.mtime_ns / 1000000000);
	if (gmtime_r(&mt, &tm) != NULL && strftime(lm, sizeof(lm), "%a, %d %b %Y %H:%M:%S GMT", &tm))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, lm);
	if (status == MHD_HTTP_PARTIAL_CONTENT) {
		snprintf(range, sizeof(range), "bytes %llu-%llu/%llu", (unsigned long long)from,
			 (unsigned long long)to, (unsigned long long)ct.size);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, range);
	}
	return api_queue(c, a, rq, status, resp);
}

enum MHD_Result api_get_value(struct MHD_Connection *c, struct api *a, struct req *rq)
{
	struct stat st;
	int r = node_getattr(a->node, rq->path, &st);

	if (r != 0)
		return reply_errno(c, a, rq, r);
	if (S_ISDIR(st.st_mode))
		return get_folder(c, a, rq, &st);
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_TREE_MAX];

		if ((r = node_readlink(a->node, rq->path, target, sizeof(target))) != 0)
			return reply_errno(c, a, rq, r);
		return api_reply_json(c, a, rq, MHD_HTTP_CONFLICT,
				  json_pack("{s:s, s:s}", "error", "is a symlink", "target", target));
	}
	return get_file(c, a, rq);
}

/* Is key among the query's arguments ("?mkdir" has no value)? */
static int has_arg(struct MHD_Connection *c, const char *key)
{
	const char *v = NULL;
	size_t vlen = 0;

	return MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, key, strlen(key), &v,
					     &vlen) == MHD_YES;
}

enum MHD_Result api_modify_value(struct MHD_Connection *c, struct api *a, struct req *rq,
				    const char *method)
{
	struct stat st;
	int r;

	if (strcmp(method, "DELETE") == 0) {
		if (strcmp(rq->path, "/") == 0)
			return api_reply_error(c, a, rq, MHD_HTTP_CONFLICT, "the root cannot be deleted");
		if ((r = node_getattr(a->node, rq->path, &st)) == 0)
			r = S_ISDIR(st.st_mode) ? node_rmdir(a->node, rq->path)
						: node_unlink(a->node, rq->path);
		if (r != 0)
			return reply_errno(c, a, rq, r);
		node_invalidate(a->node, rq->path);
		return api_queue(c, a, rq, MHD_HTTP_NO_CONTENT,
			     MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT));
	}
	/* POST */
	if (!has_arg(c, "mkdir"))
		return api_reply_error(c, a, rq, MHD_HTTP_BAD_REQUEST, "POST makes a folder: add ?mkdir");
	if ((r = node_mkdir(a->node, rq->path, 0755, getuid(), getgid())) != 0)
		return reply_errno(c, a, rq, r);
	node_invalidate(a->node, rq->path);
	return api_reply_json(c, a, rq, MHD_HTTP_CREATED, json_pack("{s:s, s:s}", "path", rq->path,
								 "type", "folder"));
}

/*
 * A PUT refused before its body was read.  A client that asked
 * "Expect: 100-continue" has sent nothing yet and hears the refusal at
 * once.  Any other client is sending the body now: a reply followed by
 * a close with its bytes still unread makes the kernel reset the
 * connection, and the reset can destroy the reply before the client
 * reads it.  So a body of a known length up to API_DISCARD_MAX is read
 * and dropped first, and the refusal is the reply to the whole request.
 */
static enum MHD_Result put_refuse(struct MHD_Connection *c, struct api *a, struct req *rq,
				  int err, const char *cl, unsigned long long len)
{
	const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);

	if ((expect != NULL && strcasecmp(expect, "100-continue") == 0) || cl == NULL ||
	    len > API_DISCARD_MAX)
		return reply_errno(c, a, rq, err);
	rq->put_err = err;
	return MHD_YES;
}

/* The first call of a PUT: refuse it now, or get ready for the body. */
enum MHD_Result api_put_begin(struct MHD_Connection *c, struct api *a, struct req *rq)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long len = 0;
	int r;

	if (cl != NULL) {
		char *end;

		errno = 0;
		len = strtoull(cl, &end, 10);
		if (errno != 0 || end == cl || *end != '\0')
			return api_reply_error(c, a, rq, MHD_HTTP_BAD_REQUEST, "bad Content-Length");
		if (len > a->max_upload)
			return put_refuse(c, a, rq, -EFBIG, cl, len);
		if ((r = node_space_for(a->node, len)) != 0)
			return put_refuse(c, a, rq, r, cl, len);
	}
	if ((r = node_put_open(a->node, rq->path, &rq->put_existed, &rq->put)) != 0)
		return put_refuse(c, a, rq, r, cl, len);
	return MHD_YES;
}

enum MHD_Result api_put_more(struct api *a, struct req *rq, const char *data, size_t *len)
{
	size_t n = *len;
	ssize_t w;

	*len = 0;
	if (rq->put_err != 0) {
		/* Refused midway: read on a little so the client hears why. */
		rq->discarded += n;
		return rq->discarded > API_DISCARD_MAX ? MHD_NO : MHD_YES;
	}
	if (rq->put_len + n > a->max_upload) {
		rq->put_err = -EFBIG;
	} else if ((w = node_file_write(rq->put, data, n, (off_t)rq->put_len)) < 0) {
		rq->put_err = (int)w;
	} else {
		rq->put_len += n;
		return MHD_YES;
	}
	node_put_abort(rq->put);
	rq->put = NULL;
	return MHD_YES;
}

enum MHD_Result api_put_end(struct MHD_Connection *c, struct api *a, struct req *rq)
{
	uint8_t sha[32];
	char hex[65];
	uint64_t size = 0;
	int r = rq->put_err;
	struct node_file *f = rq->put;

	rq->put = NULL;
	if (r == 0 && f != NULL)
		r = node_put_commit(f, &size, sha);
	else if (f != NULL)
		node_put_abort(f);
	if (r != 0)
		return reply_errno(c, a, rq, r);
	/* The node's own mount sees the new content at once. */
	node_invalidate(a->node, rq->path);
	sodium_bin2hex(hex, sizeof(hex), sha, sizeof(sha));
	return api_reply_json(c, a, rq, rq->put_existed ? MHD_HTTP_OK : MHD_HTTP_CREATED,
			  json_pack("{s:s, s:I, s:s}", "path", rq->path, "size", (json_int_t)size,
				    "sha256", hex));
}

/* ---- /v1 ---- */

enum MHD_Result api_get_v1(struct MHD_Connection *c, struct api *a, struct req *rq,
			      const char *what)
{
	json_t *st, *t;
	char *body;
	int text = has_arg(c, "text");

	rq->tell_dir = 1;
	if (strcmp(what, "nodes") == 0) {
		if (node_peers(a->node, !text, &body) == -ENOTCONN)
			return api_reply_error(c, a, rq, MHD_HTTP_NOT_FOUND, "standalone node (no cluster-key)");
		return api_queue(c, a, rq, MHD_HTTP_OK,
			     text_response(body, text ? "text/plain; charset=utf-8" : "application/json"));
	}
	if ((st = node_status_get(a->node)) == NULL)
		return api_reply_error(c, a, rq, MHD_HTTP_SERVICE_UNAVAILABLE, "status unavailable");
	if (strcmp(what, "transfers") == 0) {
		t = json_pack("{s:O}", "transfers", json_object_get(st, "transfers"));
		json_decref(st);
		return api_queue(c, a, rq, MHD_HTTP_OK, json_response_as(t, STATUS_JSON_FLAGS));
	}
	if (text) {
		if (status_text(st, &body) != 0)
			body = NULL;
	} else {
		body = json_dumps(st, STATUS_JSON_FLAGS);
	}
	json_decref(st);
	if (body == NULL)
		return api_reply_error(c, a, rq, MHD_HTTP_SERVICE_UNAVAILABLE, "status unavailable");
	return api_queue(c, a, rq, MHD_HTTP_OK,
		     text_response(body, text ? "text/plain; charset=utf-8" : "application/json"));
}

enum MHD_Result api_get_bootstrap(struct MHD_Connection *c, struct api *a, struct req *rq)
{
	struct node_contact st;

	if (node_contact(a->node, &st) != 0)
		return api_reply_error(c, a, rq, MHD_HTTP_NOT_FOUND, "standalone node (no cluster-key)");
	return api_reply_json(c, a, rq, MHD_HTTP_OK,
			  json_pack("{s:s, s:s, s:i, s:n, s:s, s:I, s:I}", "tox_id", st.tox_id,
				    "dht_key", st.dht_key, "udp_port", (int)st.udp_port, "tcp_port",
				    "name", a->name, "run_ms", (json_int_t)st.run_ms, "tox_age_ms",
				    (json_int_t)st.tox_age_ms));
}
