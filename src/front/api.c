#include "api.h"

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

/* ---- tokens ---- */

static int read_token(const char *path, char out[API_TOKEN_HEX + 1])
{
	uint8_t raw[API_TOKEN_HEX / 2];
	char buf[API_TOKEN_HEX + 2];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < API_TOKEN_HEX)
		return -EINVAL;
	buf[API_TOKEN_HEX] = '\0';
	if (hex_decode(buf, raw, sizeof(raw)) != 0)
		return -EINVAL;
	memcpy(out, buf, API_TOKEN_HEX + 1);
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

static int token_path(const char *data_dir, int read_only, char path[4096])
{
	return snprintf(path, 4096, "%s/%s", data_dir,
			read_only ? API_TOKEN_RO_FILE : API_TOKEN_FILE) >= 4096 ? -ENAMETOOLONG : 0;
}

int api_token_read(const char *data_dir, int read_only, char out[API_TOKEN_HEX + 1])
{
	char path[4096];
	int r = token_path(data_dir, read_only, path);

	return r != 0 ? r : read_token(path, out);
}

int api_token(const char *data_dir, int read_only, char out[API_TOKEN_HEX + 1])
{
	char path[4096], tmp[4200], text[API_TOKEN_HEX + 2];
	uint8_t raw[API_TOKEN_HEX / 2];
	int fd, r;

	if ((r = token_path(data_dir, read_only, path)) != 0)
		return r;
	if ((r = read_token(path, out)) != -ENOENT) {
		if (r == -EINVAL)
			log_error("api: %s is not a token (64 hex digits); remove it to get a new one",
				  path);
		return r;
	}
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(text, sizeof(text), raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	text[API_TOKEN_HEX] = '\n';
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return -errno;
	r = write(fd, text, API_TOKEN_HEX + 1) == API_TOKEN_HEX + 1 && fsync(fd) == 0 ? 0 : -EIO;
	close(fd);
	/* Two made at once: the first one in stays, both read it back. */
	if (r == 0 && link(tmp, path) != 0 && errno != EEXIST)
		r = -errno;
	unlink(tmp);
	sodium_memzero(text, sizeof(text));
	return r != 0 ? r : read_token(path, out);
}

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

static enum MHD_Result queue(struct MHD_Connection *c, const struct api *a, const struct req *rq,
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
static struct MHD_Response *error_response(const char *msg)
{
	return json_response(json_pack("{s:s}", "error", msg));
}

static enum MHD_Result reply_json(struct MHD_Connection *c, const struct api *a,
				  const struct req *rq, unsigned status, json_t *j)
{
	return queue(c, a, rq, status, json_response(j));
}

static enum MHD_Result reply_error(struct MHD_Connection *c, const struct api *a,
				   const struct req *rq, unsigned status, const char *msg)
{
	return queue(c, a, rq, status, error_response(msg));
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

	return reply_error(c, a, rq, status, msg);
}

/* ---- who is asking ---- */

static int is_loopback(const struct in6_addr *a)
{
	return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

/* An address as IPv6 (IPv4 as v4-mapped), all zeros if unknown. */
static void sockaddr_to_in6(const struct sockaddr *sa, struct in6_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (sa != NULL && sa->sa_family == AF_INET6) {
		*out = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	} else if (sa != NULL && sa->sa_family == AF_INET) {
		out->s6_addr[10] = out->s6_addr[11] = 0xff;
		memcpy(&out->s6_addr[12], &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	}
}

static void client_addr(struct MHD_Connection *c, struct in6_addr *out)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	sockaddr_to_in6(ci ? ci->client_addr : NULL, out);
}

/* Is the client on this host: on loopback, or coming from the very
   address it reached (the kernel takes a packet with one of its own
   addresses as source only from itself)?  Its requests cross no
   network. */
static int same_host(struct MHD_Connection *c, const struct in6_addr *addr)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct in6_addr local;

	if (is_loopback(addr))
		return 1;
	if (ci == NULL || getsockname(ci->connect_fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	sockaddr_to_in6((const struct sockaddr *)&ss, &local);
	return !IN6_IS_ADDR_UNSPECIFIED(&local) && memcmp(&local, addr, sizeof(local)) == 0;
}

/* What a client is counted as: its IPv4 address, or its IPv6 /64 (one
   host usually has a whole /64 to pick from). */
static void client_key(const struct in6_addr *addr, struct in6_addr *key)
{
	*key = *addr;
	if (!IN6_IS_ADDR_V4MAPPED(addr))
		memset(&key->s6_addr[8], 0, 8);
}

/* Take one request from addr's bucket: 1 if allowed.  Sets what is left
   and, when refused, the seconds until one is. */
static int rate_take(struct api *a, const struct in6_addr *addr, long *remaining, long *retry_s)
{
	int64_t now = deadline_now_ms();
	struct rl_slot *s = NULL, *oldest = &a->rl[0];
	struct in6_addr key;
	int ok;

	client_key(addr, &key);
	addr = &key;

	pthread_mutex_lock(&a->rl_lock);
	for (size_t i = 0; i < RL_SLOTS && s == NULL; i++) {
		if (a->rl[i].used && memcmp(&a->rl[i].addr, addr, sizeof(*addr)) == 0)
			s = &a->rl[i];
		else if (!a->rl[i].used || (oldest->used && a->rl[i].last_ms < oldest->last_ms))
			oldest = &a->rl[i];
	}
	if (s == NULL) {
		/* A new address, in a free slot or the one idle longest. */
		s = oldest;
		s->addr = *addr;
		s->used = 1;
		s->tokens = a->rate;
		s->last_ms = now;
	}
	s->tokens += (double)(now - s->last_ms) * a->rate / 60000.0;
	if (s->tokens > a->rate)
		s->tokens = a->rate;
	s->last_ms = now;
	ok = s->tokens >= 1.0;
	if (ok)
		s->tokens -= 1.0;
	*remaining = (long)s->tokens;	/* not negative */
	*retry_s = ok ? 0 : (long)((1.0 - s->tokens) * 60.0 / a->rate) + 1;
	pthread_mutex_unlock(&a->rl_lock);
	return ok;
}

static enum access token_access(struct api *a, struct MHD_Connection *c, int *sent)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	const char *t;

	*sent = h != NULL;
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return ACC_NONE;
	for (t = h + 7; *t == ' '; t++)
		;
	if (strlen(t) != API_TOKEN_HEX)
		return ACC_NONE;
	if (sodium_memcmp(t, a->token, API_TOKEN_HEX) == 0)
		return ACC_FULL;
	if (a->token_ro[0] != '\0' && sodium_memcmp(t, a->token_ro, API_TOKEN_HEX) == 0)
		return ACC_READ;
	return ACC_NONE;
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
	return reply_json(c, a, rq, MHD_HTTP_OK, j);
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
		return queue(c, a, rq, MHD_HTTP_NOT_MODIFIED, resp);
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
		resp = error_response("range not satisfiable");
		if (resp != NULL)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, range);
		return queue(c, a, rq, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp);
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
	return queue(c, a, rq, status, resp);
}

static enum MHD_Result get_value(struct MHD_Connection *c, struct api *a, struct req *rq)
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
		return reply_json(c, a, rq, MHD_HTTP_CONFLICT,
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

static enum MHD_Result modify_value(struct MHD_Connection *c, struct api *a, struct req *rq,
				    const char *method)
{
	struct stat st;
	int r;

	if (strcmp(method, "DELETE") == 0) {
		if (strcmp(rq->path, "/") == 0)
			return reply_error(c, a, rq, MHD_HTTP_CONFLICT, "the root cannot be deleted");
		if ((r = node_getattr(a->node, rq->path, &st)) == 0)
			r = S_ISDIR(st.st_mode) ? node_rmdir(a->node, rq->path)
						: node_unlink(a->node, rq->path);
		if (r != 0)
			return reply_errno(c, a, rq, r);
		node_invalidate(a->node, rq->path);
		return queue(c, a, rq, MHD_HTTP_NO_CONTENT,
			     MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT));
	}
	/* POST */
	if (!has_arg(c, "mkdir"))
		return reply_error(c, a, rq, MHD_HTTP_BAD_REQUEST, "POST makes a folder: add ?mkdir");
	if ((r = node_mkdir(a->node, rq->path, 0755, getuid(), getgid())) != 0)
		return reply_errno(c, a, rq, r);
	node_invalidate(a->node, rq->path);
	return reply_json(c, a, rq, MHD_HTTP_CREATED, json_pack("{s:s, s:s}", "path", rq->path,
								 "type", "folder"));
}

/* The first call of a PUT: refuse it now, or get ready for the body. */
static enum MHD_Result put_begin(struct MHD_Connection *c, struct api *a, struct req *rq)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long len = 0;
	int r;

	if (cl != NULL) {
		char *end;

		errno = 0;
		len = strtoull(cl, &end, 10);
		if (errno != 0 || end == cl || *end != '\0')
			return reply_error(c, a, rq, MHD_HTTP_BAD_REQUEST, "bad Content-Length");
		if (len > a->max_upload)
			return reply_errno(c, a, rq, -EFBIG);
		if ((r = node_space_for(a->node, len)) != 0)
			return reply_errno(c, a, rq, r);
	}
	if ((r = node_put_open(a->node, rq->path, &rq->put_existed, &rq->put)) != 0)
		return reply_errno(c, a, rq, r);
	return MHD_YES;
}

static enum MHD_Result put_more(struct api *a, struct req *rq, const char *data, size_t *len)
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

static enum MHD_Result put_end(struct MHD_Connection *c, struct api *a, struct req *rq)
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
	return reply_json(c, a, rq, rq->put_existed ? MHD_HTTP_OK : MHD_HTTP_CREATED,
			  json_pack("{s:s, s:I, s:s}", "path", rq->path, "size", (json_int_t)size,
				    "sha256", hex));
}

/* ---- /v1 ---- */

static enum MHD_Result get_v1(struct MHD_Connection *c, struct api *a, struct req *rq,
			      const char *what)
{
	json_t *st, *t;
	char *body;
	int text = has_arg(c, "text");

	rq->tell_dir = 1;
	if (strcmp(what, "nodes") == 0) {
		if (node_peers(a->node, !text, &body) == -ENOTCONN)
			return reply_error(c, a, rq, MHD_HTTP_NOT_FOUND, "standalone node (no cluster-key)");
		return queue(c, a, rq, MHD_HTTP_OK,
			     text_response(body, text ? "text/plain; charset=utf-8" : "application/json"));
	}
	if ((st = node_status_get(a->node)) == NULL)
		return reply_error(c, a, rq, MHD_HTTP_SERVICE_UNAVAILABLE, "status unavailable");
	if (strcmp(what, "transfers") == 0) {
		t = json_pack("{s:O}", "transfers", json_object_get(st, "transfers"));
		json_decref(st);
		return queue(c, a, rq, MHD_HTTP_OK, json_response_as(t, STATUS_JSON_FLAGS));
	}
	if (text) {
		if (status_text(st, &body) != 0)
			body = NULL;
	} else {
		body = json_dumps(st, STATUS_JSON_FLAGS);
	}
	json_decref(st);
	if (body == NULL)
		return reply_error(c, a, rq, MHD_HTTP_SERVICE_UNAVAILABLE, "status unavailable");
	return queue(c, a, rq, MHD_HTTP_OK,
		     text_response(body, text ? "text/plain; charset=utf-8" : "application/json"));
}

static enum MHD_Result get_bootstrap(struct MHD_Connection *c, struct api *a, struct req *rq)
{
	struct node_contact st;

	if (node_contact(a->node, &st) != 0)
		return reply_error(c, a, rq, MHD_HTTP_NOT_FOUND, "standalone node (no cluster-key)");
	return reply_json(c, a, rq, MHD_HTTP_OK,
			  json_pack("{s:s, s:s, s:i, s:n, s:s, s:I, s:I}", "tox_id", st.tox_id,
				    "dht_key", st.dht_key, "udp_port", (int)st.udp_port, "tcp_port",
				    "name", a->name, "run_ms", (json_int_t)st.run_ms, "tox_age_ms",
				    (json_int_t)st.tox_age_ms));
}

/* ---- dispatch ---- */

static enum MHD_Result not_allowed(struct MHD_Connection *c, struct api *a, struct req *rq,
				   const char *allow)
{
	struct MHD_Response *resp = error_response("method not allowed");

	if (resp != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	return queue(c, a, rq, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
}

static enum MHD_Result begin(struct MHD_Connection *c, struct api *a, struct req *rq,
			     const char *url, const char *method)
{
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	struct in6_addr addr;
	enum access acc;
	int sent, r;

	client_addr(c, &addr);
	/* Other hosts are rate limited.  Loopback is not: a limit that every
	   local user shares would let one of them shut `oand status` out, and
	   connections are kept for it. */
	if (!is_loopback(&addr)) {
		long retry;

		rq->limited = 1;
		if (!rate_take(a, &addr, &rq->remaining, &retry)) {
			struct MHD_Response *resp = error_response("too many requests");
			char v[24];

			snprintf(v, sizeof(v), "%ld", retry);
			if (resp != NULL)
				MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
			return queue(c, a, rq, MHD_HTTP_TOO_MANY_REQUESTS, resp);
		}
	}
	/* Loopback clients are counted among themselves: remote ones that
	   hold every slot do not shut `oand status` out. */
	if ((unsigned)__atomic_load_n(is_loopback(&addr) ? &a->local_active : &a->active,
				      __ATOMIC_RELAXED) > a->connections) {
		struct MHD_Response *resp = error_response("too many connections");

		if (resp != NULL) {
			MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
		}
		return queue(c, a, rq, MHD_HTTP_SERVICE_UNAVAILABLE, resp);
	}
	/* Open to anyone: what a joining node needs. */
	if (strcmp(url, "/") == 0)
		return get ? reply_json(c, a, rq, MHD_HTTP_OK, json_object())
			   : not_allowed(c, a, rq, "GET, HEAD");
	if (strcmp(url, "/v1/bootstrap") == 0)
		return get ? get_bootstrap(c, a, rq) : not_allowed(c, a, rq, "GET, HEAD");
	/* Everything else needs the token, from every client: being on
	   loopback says nothing of which local user asks.  Over plain HTTP
	   a token would cross the network in clear, so there only clients
	   of this host may use one. */
	acc = token_access(a, c, &sent);
	if (a->tls_cert == NULL && !same_host(c, &addr)) {
		if (acc != ACC_NONE) {
			char who[INET6_ADDRSTRLEN];

			if (IN6_IS_ADDR_V4MAPPED(&addr))
				inet_ntop(AF_INET, &addr.s6_addr[12], who, sizeof(who));
			else
				inet_ntop(AF_INET6, &addr, who, sizeof(who));
			log_warn("api: %s sent this node's %stoken over plain HTTP: it crossed the "
				 "network in clear (remove %s/%s and restart the node for a new one)",
				 who, acc == ACC_READ ? "read-only " : "", a->data_dir,
				 acc == ACC_READ ? API_TOKEN_RO_FILE : API_TOKEN_FILE);
		}
		return reply_error(c, a, rq, MHD_HTTP_FORBIDDEN,
				   "HTTPS is needed: over plain HTTP other hosts get / and "
				   "/v1/bootstrap only (tls-cert, tls-key)");
	}
	if (acc == ACC_NONE) {
		struct MHD_Response *resp = error_response(
			sent ? "bad token" : "a token is needed (Authorization: Bearer; oand token)");

		if (resp != NULL)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
						"Bearer realm=\"oand\"");
		return queue(c, a, rq, MHD_HTTP_UNAUTHORIZED, resp);
	}
	if (strncmp(url, "/v1/", 4) == 0 &&
	    (strcmp(url + 4, "status") == 0 || strcmp(url + 4, "nodes") == 0 ||
	     strcmp(url + 4, "transfers") == 0))
		return get ? get_v1(c, a, rq, url + 4) : not_allowed(c, a, rq, "GET, HEAD");
	if (strncmp(url, "/value", 6) != 0 || (url[6] != '\0' && url[6] != '/'))
		return reply_error(c, a, rq, MHD_HTTP_NOT_FOUND, "not found");
	if ((r = http_tree_path(url + 6, rq->path, sizeof(rq->path))) != 0)
		return reply_error(c, a, rq, MHD_HTTP_BAD_REQUEST,
				   r == -ENAMETOOLONG ? "name too long"
						      : "bad path (no '..', '.', '//' or NUL)");
	if (get)
		return get_value(c, a, rq);
	if (strcmp(method, "PUT") != 0 && strcmp(method, "DELETE") != 0 &&
	    strcmp(method, "POST") != 0)
		return not_allowed(c, a, rq, "GET, HEAD, PUT, DELETE, POST");
	if (acc != ACC_FULL)
		return reply_error(c, a, rq, MHD_HTTP_FORBIDDEN, "a read-only token cannot change the tree");
	if (strcmp(method, "PUT") == 0)
		return put_begin(c, a, rq);
	return modify_value(c, a, rq, method);
}

/* Does the request come with a body? */
static int has_body(struct MHD_Connection *c)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL ||
	       (cl != NULL && strspn(cl, "0") != strlen(cl));
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **state)
{
	struct api *a = cls;
	struct req *rq = *state;

	(void)version;
	if (rq == NULL) {
		if ((rq = calloc(1, sizeof(*rq))) == NULL)
			return MHD_NO;
		*state = rq;
		/* A reply queued on this first call is one given before the
		   request was read whole, and libmicrohttpd closes the
		   connection after it.  A request without a body is answered
		   on the next call instead, so that its connection is kept for
		   the client's next request.  A PUT (or any request with a
		   body) is taken or refused now, before its body is read. */
		if (strcmp(method, "PUT") != 0 && !has_body(c))
			return MHD_YES;
	}
	if (!rq->begun) {
		rq->begun = 1;
		return begin(c, a, rq, url, method);
	}
	/* Only a PUT that was not refused at once gets here. */
	if (*upload_len != 0)
		return put_more(a, rq, upload, upload_len);
	return put_end(c, a, rq);
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *state;

	(void)cls;
	(void)c;
	(void)toe;
	if (rq == NULL)
		return;
	if (rq->put != NULL) {
		/* The client went away mid-upload: nothing was published. */
		log_info("api: upload of %s ended early; the tree is unchanged", rq->path);
		node_put_abort(rq->put);
	}
	free(rq);
	*state = NULL;
}

/* addr's count of open connections (NULL if the table is full).
   rl_lock held. */
static struct ip_count *open_count(struct api *a, const struct in6_addr *addr, int add)
{
	struct in6_addr key;
	struct ip_count *free_slot = NULL;

	client_key(addr, &key);
	for (size_t i = 0; i < RL_SLOTS; i++) {
		if (a->open[i].n > 0 && memcmp(&a->open[i].addr, &key, sizeof(key)) == 0)
			return &a->open[i];
		if (a->open[i].n == 0 && free_slot == NULL)
			free_slot = &a->open[i];
	}
	if (!add || free_slot == NULL)
		return NULL;
	free_slot->addr = key;
	return free_slot;
}

/* Before a connection is taken: a remote address gets api-connections
   and the slack in all, and a share of them on its own; the last few
   are kept for loopback (oand status). */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *sa, socklen_t len)
{
	struct api *a = cls;
	struct in6_addr addr;
	struct ip_count *k;
	int ok;

	(void)len;
	sockaddr_to_in6(sa, &addr);
	if (is_loopback(&addr))
		return MHD_YES;
	if ((unsigned)__atomic_load_n(&a->active, __ATOMIC_RELAXED) >= a->connections + API_SLACK)
		return MHD_NO;
	pthread_mutex_lock(&a->rl_lock);
	k = open_count(a, &addr, 0);
	ok = k == NULL || k->n < a->per_ip;
	pthread_mutex_unlock(&a->rl_lock);
	return ok ? MHD_YES : MHD_NO;
}

static void connection_event(void *cls, struct MHD_Connection *c, void **socket_state,
			     enum MHD_ConnectionNotificationCode toe)
{
	struct api *a = cls;
	struct in6_addr addr;
	struct ip_count *k;

	(void)socket_state;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		__atomic_add_fetch(&a->active, 1, __ATOMIC_RELAXED);
	else
		__atomic_sub_fetch(&a->active, 1, __ATOMIC_RELAXED);
	client_addr(c, &addr);
	if (is_loopback(&addr)) {
		if (toe == MHD_CONNECTION_NOTIFY_STARTED)
			__atomic_add_fetch(&a->local_active, 1, __ATOMIC_RELAXED);
		else
			__atomic_sub_fetch(&a->local_active, 1, __ATOMIC_RELAXED);
		return;
	}
	pthread_mutex_lock(&a->rl_lock);
	if ((k = open_count(a, &addr, toe == MHD_CONNECTION_NOTIFY_STARTED)) != NULL) {
		if (toe == MHD_CONNECTION_NOTIFY_STARTED)
			k->n++;
		else if (k->n > 0)
			k->n--;
	}
	pthread_mutex_unlock(&a->rl_lock);
}

/* URLs are decoded by http_tree_path, which sees %00 and %2e%2e for what they
   are; libmicrohttpd leaves them as they came. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	log_info("api: %s", buf);
}

static char *read_pem(const char *path)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		log_error("api: cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > API_TLS_FILE_MAX ||
	    (buf = calloc(1, (size_t)st.st_size + 1)) == NULL ||
	    (n = read(fd, buf, (size_t)st.st_size)) != st.st_size || strstr(buf, "-----BEGIN") == NULL) {
		log_error("api: %s is not a PEM file", path);
		free(buf);
		buf = NULL;
	}
	close(fd);
	return buf;
}

/* Do the certificate and key go together?  libmicrohttpd only says it
   could not start, which would read as a port taken. */
static int tls_pair_ok(const char *cert, const char *key)
{
	gnutls_certificate_credentials_t cr;
	gnutls_datum_t c = { (unsigned char *)cert, (unsigned)strlen(cert) };
	gnutls_datum_t k = { (unsigned char *)key, (unsigned)strlen(key) };
	int r;

	if (gnutls_certificate_allocate_credentials(&cr) != GNUTLS_E_SUCCESS)
		return 0;
	r = gnutls_certificate_set_x509_key_mem(cr, &c, &k, GNUTLS_X509_FMT_PEM);
	gnutls_certificate_free_credentials(cr);
	return r == GNUTLS_E_SUCCESS;
}

/* server-address as a socket address (its family's flags added), or
   every address (IPv6 and IPv4 where the host has IPv6). */
static int listen_addr(const struct cfg *cfg, struct sockaddr_storage *sa, unsigned *flags)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)sa;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)sa;

	memset(sa, 0, sizeof(*sa));
	if (cfg->server_address == NULL) {
		if (node_host_has_ipv6())
			*flags |= MHD_USE_DUAL_STACK;
		return 0;
	}
	if (inet_pton(AF_INET, cfg->server_address, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)cfg->server_port);
		return 0;
	}
	if (inet_pton(AF_INET6, cfg->server_address, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)cfg->server_port);
		/* "::" is every address, IPv4 ones too. */
		*flags |= IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr) ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
		return 0;
	}
	log_error("api: server-address %s is not an IPv4 or IPv6 address", cfg->server_address);
	return -EINVAL;
}

static void api_free(struct api *a)
{
	if (a->tls_key != NULL)
		sodium_memzero(a->tls_key, strlen(a->tls_key));
	free(a->tls_key);
	free(a->tls_cert);
	free(a->name);
	free(a->data_dir);
	pthread_mutex_destroy(&a->rl_lock);
	sodium_memzero(a, sizeof(*a));
	free(a);
}

int api_start(const struct cfg *cfg, struct node *node, struct api **out)
{
	struct api *a = calloc(1, sizeof(*a));
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_ERROR_LOG;
	struct sockaddr_storage sa;
	int r;

	*out = NULL;
	if (a == NULL)
		return -ENOMEM;
	pthread_mutex_init(&a->rl_lock, NULL);
	a->node = node;
	a->connections = (unsigned)cfg->api_connections;
	a->per_ip = a->connections / 4 > 4 ? a->connections / 4 : 4;
	a->rate = (double)cfg->api_rate_limit;
	a->max_upload = (uint64_t)cfg->api_max_upload;
	if ((a->name = strdup(cfg->server_name)) == NULL || (a->data_dir = strdup(cfg->data_dir)) == NULL) {
		api_free(a);
		return -ENOMEM;
	}
	if ((r = api_token(a->data_dir, 0, a->token)) != 0) {
		log_error("api: cannot make or read the token in %s: %s", a->data_dir, strerror(-r));
		api_free(a);
		return r;
	}
	/* The read-only token is there only once `oand token --read-only`
	   made it. */
	if (api_token_read(a->data_dir, 1, a->token_ro) != 0)
		a->token_ro[0] = '\0';
	if (cfg->tls_cert != NULL) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
			log_error("api: this libmicrohttpd has no TLS: HTTPS cannot be served");
			api_free(a);
			return -ENOTSUP;
		}
		if ((a->tls_cert = read_pem(cfg->tls_cert)) == NULL ||
		    (a->tls_key = read_pem(cfg->tls_key)) == NULL) {
			api_free(a);
			return -EINVAL;
		}
		if (!tls_pair_ok(a->tls_cert, a->tls_key)) {
			log_error("api: %s and %s are not a certificate and its key", cfg->tls_cert,
				  cfg->tls_key);
			api_free(a);
			return -EINVAL;
		}
		flags |= MHD_USE_TLS;
	}
	if (MHD_is_feature_supported(MHD_FEATURE_POLL))
		flags |= MHD_USE_POLL;
	if ((r = listen_addr(cfg, &sa, &flags)) != 0) {
		api_free(a);
		return r;
	}
	{
		struct MHD_OptionItem o[12];
		size_t n = 0;

		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)log_mhd, a };
		o[n++] = (struct MHD_OptionItem){
			MHD_OPTION_CONNECTION_LIMIT,
			(intptr_t)(a->connections + API_SLACK + API_LOOPBACK_RESERVE), NULL };
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT,
						  (intptr_t)(cfg->api_timeout_ms / 1000), NULL };
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT,
						  (intptr_t)API_HEADERS_MAX, NULL };
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, a };
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION,
						  (intptr_t)connection_event, a };
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)keep_escaped,
						  a };
		if (cfg->server_address != NULL)
			o[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &sa };
		if (a->tls_cert != NULL) {
			o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, a->tls_key };
			o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, a->tls_cert };
		}
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
		a->d = MHD_start_daemon(flags, (uint16_t)cfg->server_port, accept_policy, a, handle, a,
					MHD_OPTION_ARRAY, o, MHD_OPTION_END);
	}
	if (a->d == NULL) {
		log_error("api: cannot listen on %s port %d", cfg->server_address ? cfg->server_address
				: "every address,", cfg->server_port);
		api_free(a);
		return -EADDRINUSE;
	}
	log_info("api: %s on port %d%s%s%s", a->tls_cert ? "HTTPS" : "HTTP", cfg->server_port,
		 cfg->server_address ? " (" : "", cfg->server_address ? cfg->server_address : "",
		 cfg->server_address ? ")" : "");
	*out = a;
	return 0;
}

void api_stop(struct api *a)
{
	if (a == NULL)
		return;
	MHD_stop_daemon(a->d);
	api_free(a);
}
