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

/* ---- dispatch ---- */

static enum MHD_Result not_allowed(struct MHD_Connection *c, struct api *a, struct req *rq,
				   const char *allow)
{
	struct MHD_Response *resp = api_error_response("method not allowed");

	if (resp != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	return api_queue(c, a, rq, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
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
			struct MHD_Response *resp = api_error_response("too many requests");
			char v[24];

			snprintf(v, sizeof(v), "%ld", retry);
			if (resp != NULL)
				MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
			return api_queue(c, a, rq, MHD_HTTP_TOO_MANY_REQUESTS, resp);
		}
	}
	/* Loopback clients are counted among themselves: remote ones that
	   hold every slot do not shut `oand status` out. */
	if ((unsigned)__atomic_load_n(is_loopback(&addr) ? &a->local_active : &a->active,
				      __ATOMIC_RELAXED) > a->connections) {
		struct MHD_Response *resp = api_error_response("too many connections");

		if (resp != NULL) {
			MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
		}
		return api_queue(c, a, rq, MHD_HTTP_SERVICE_UNAVAILABLE, resp);
	}
	/* Open to anyone: what a joining node needs. */
	if (strcmp(url, "/") == 0)
		return get ? api_reply_json(c, a, rq, MHD_HTTP_OK, json_object())
			   : not_allowed(c, a, rq, "GET, HEAD");
	if (strcmp(url, "/v1/bootstrap") == 0)
		return get ? api_get_bootstrap(c, a, rq) : not_allowed(c, a, rq, "GET, HEAD");
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
		return api_reply_error(c, a, rq, MHD_HTTP_FORBIDDEN,
				   "HTTPS is needed: over plain HTTP other hosts get / and "
				   "/v1/bootstrap only (tls-cert, tls-key)");
	}
	if (acc == ACC_NONE) {
		struct MHD_Response *resp = api_error_response(
			sent ? "bad token" : "a token is needed (Authorization: Bearer; oand token)");

		if (resp != NULL)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
						"Bearer realm=\"oand\"");
		return api_queue(c, a, rq, MHD_HTTP_UNAUTHORIZED, resp);
	}
	if (strncmp(url, "/v1/", 4) == 0 &&
	    (strcmp(url + 4, "status") == 0 || strcmp(url + 4, "nodes") == 0 ||
	     strcmp(url + 4, "transfers") == 0))
		return get ? api_get_v1(c, a, rq, url + 4) : not_allowed(c, a, rq, "GET, HEAD");
	if (strncmp(url, "/value", 6) != 0 || (url[6] != '\0' && url[6] != '/'))
		return api_reply_error(c, a, rq, MHD_HTTP_NOT_FOUND, "not found");
	if ((r = http_tree_path(url + 6, rq->path, sizeof(rq->path))) != 0)
		return api_reply_error(c, a, rq, MHD_HTTP_BAD_REQUEST,
				   r == -ENAMETOOLONG ? "name too long"
						      : "bad path (no '..', '.', '//' or NUL)");
	if (get)
		return api_get_value(c, a, rq);
	if (strcmp(method, "PUT") != 0 && strcmp(method, "DELETE") != 0 &&
	    strcmp(method, "POST") != 0)
		return not_allowed(c, a, rq, "GET, HEAD, PUT, DELETE, POST");
	if (acc != ACC_FULL)
		return api_reply_error(c, a, rq, MHD_HTTP_FORBIDDEN, "a read-only token cannot change the tree");
	if (strcmp(method, "PUT") == 0)
		return api_put_begin(c, a, rq);
	return api_modify_value(c, a, rq, method);
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
		return api_put_more(a, rq, upload, upload_len);
	return api_put_end(c, a, rq);
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
