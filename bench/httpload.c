/*
 * httpload: a small HTTP/1.1 load generator for bench/http.
 *
 *   httpload [-c CONNS] [-d SECONDS] [-w SECONDS] [-C] [-H HEADER] HOST PORT PATH
 *
 * CONNS threads (default 1), each with one TCP connection to HOST:PORT
 * (an IPv4 address), send "GET PATH" one request after the other (no
 * pipelining) for -w seconds of warm-up (default 1) and then -d seconds
 * (default 5); only replies completed in the second span are counted.
 *
 * Keep-alive (the default): HTTP/1.1 requests without a Connection
 * header; a connection is reused for as long as the server keeps it (a
 * reply with "Connection: close", or an HTTP/1.0 reply without
 * "Connection: keep-alive", ends it and the next request opens a new
 * one).  -C: every request says "Connection: close" and opens its own
 * connection.  -H adds the header line HEADER ("Name: value") to every
 * request.  Either way a connection is closed by the server first (the
 * client reads on to end of file), so that TIME_WAIT stays on the
 * server's side and a long run does not use up the client's ports.
 *
 * A request's latency runs from the connect, when the request needs a new
 * connection, or from the write of the request, to the last byte of its
 * reply's body (Content-Length).  One line goes to stdout:
 *
 *   conns=1 mode=keep-alive seconds=5.000 requests=N ok=N other=N errors=N
 *   connects=N rps=R lat_ms_median=M lat_ms_p99=P lat_ms_max=X
 *
 * ok counts 200 replies, other any other status, errors failed connects,
 * resets and malformed replies (the connection is then opened anew);
 * connects counts the connections opened in the counted span, so
 * connects == requests means the server closed after every reply.  rps is
 * ok / seconds.  Percentiles are nearest rank over the counted requests.
 * Exit 0, or 1 when no request succeeded or the arguments are wrong.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (256 * 1024)
#define HEAD_MAX (64 * 1024)

struct worker {
	pthread_t thread;
	/* counted span only */
	uint64_t ok, other, errors, connects;
	uint32_t *lat_us;	/* one per counted request */
	size_t n, cap;
};

static struct sockaddr_in g_addr;
static char g_req[4096];
static size_t g_req_len;
static int g_close;
static int64_t g_start_ns, g_end_ns;	/* the counted span */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int counted(int64_t t)
{
	return t >= g_start_ns && t < g_end_ns;
}

static int open_conn(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&g_addr, sizeof(g_addr)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* The value of header name in the head (NUL-terminated, lines end in
   CRLF), copied into out; 0 if found. */
static int header(const char *head, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *p = strstr(head, "\r\n");

	while (p != NULL && p[2] != '\r' && p[2] != '\0') {
		const char *line = p + 2, *end = strstr(line, "\r\n");

		if (end == NULL)
			break;
		if ((size_t)(end - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;
			size_t len;

			while (*v == ' ' || *v == '\t')
				v++;
			len = (size_t)(end - v);
			if (len >= outlen)
				len = outlen - 1;
			memcpy(out, v, len);
			out[len] = '\0';
			return 0;
		}
		p = end;
	}
	return -1;
}

/* One reply on fd: its status; *keep = 1 if the connection stays open.
   -1 on a reset, end of file or malformed reply. */
static int read_reply(int fd, char *buf, int *keep)
{
	size_t have = 0, head_len;
	char *eoh = NULL, v[64];
	long long clen = -1, body;
	int status, http10;

	while (eoh == NULL) {
		ssize_t r;

		if (have >= HEAD_MAX)
			return -1;
		r = recv(fd, buf + have, HEAD_MAX - have, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = '\0';
		eoh = strstr(buf, "\r\n\r\n");
	}
	head_len = (size_t)(eoh - buf) + 4;
	eoh[2] = '\0';	/* the head, ending with its last CRLF */
	if (sscanf(buf, "HTTP/1.%*1[01] %d", &status) != 1)
		return -1;
	http10 = strncmp(buf, "HTTP/1.0", 8) == 0;
	if (header(buf, "Content-Length", v, sizeof(v)) == 0)
		clen = strtoll(v, NULL, 10);
	if (header(buf, "Connection", v, sizeof(v)) == 0)
		*keep = strcasecmp(v, "close") != 0 && (!http10 || strcasecmp(v, "keep-alive") == 0);
	else
		*keep = !http10;
	if (clen < 0)
		*keep = 0;	/* the body runs to end of file */
	body = (long long)(have - head_len);
	while (clen < 0 || body < clen) {
		ssize_t r = recv(fd, buf, BUF_SIZE, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			if (clen >= 0)
				return -1;	/* cut short */
			break;
		}
		body += r;
	}
	if (clen >= 0 && body > clen)
		return -1;	/* more than one reply: nothing was pipelined */
	return status;
}

/* After the last reply of a connection: wait for the server's close. */
static void drain_close(int fd, char *buf)
{
	while (recv(fd, buf, BUF_SIZE, 0) > 0)
		;
	close(fd);
}

static void *run(void *arg)
{
	struct worker *w = arg;
	char *buf = malloc(BUF_SIZE + 1);
	int fd = -1;

	if (buf == NULL)
		return NULL;
	while (now_ns() < g_end_ns) {
		int64_t t0 = now_ns(), t1;
		int fresh = 0, keep = 0, status;

		if (fd < 0) {
			if ((fd = open_conn()) < 0) {
				if (counted(now_ns()))
					w->errors++;
				usleep(1000);
				continue;
			}
			fresh = 1;
		}
		if (send_all(fd, g_req, g_req_len) != 0 || (status = read_reply(fd, buf, &keep)) < 0) {
			close(fd);
			fd = -1;
			if (counted(now_ns()))
				w->errors++;
			continue;
		}
		t1 = now_ns();
		if (counted(t1)) {
			if (status == 200)
				w->ok++;
			else
				w->other++;
			w->connects += (uint64_t)fresh;
			if (w->n == w->cap) {
				size_t cap = w->cap ? w->cap * 2 : 65536;
				uint32_t *l = realloc(w->lat_us, cap * sizeof(*l));

				if (l == NULL)
					break;
				w->lat_us = l;
				w->cap = cap;
			}
			w->lat_us[w->n++] = (uint32_t)((t1 - t0) / 1000);
		}
		if (!keep || g_close) {
			drain_close(fd, buf);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest value with at least p of them at or below it. */
static double rank(const uint32_t *v, size_t n, double p)
{
	size_t k = (size_t)(p * (double)n);

	if (n == 0)
		return 0;
	if ((double)k < p * (double)n)
		k++;
	return v[k > 0 ? k - 1 : 0];
}

static void usage(void)
{
	fprintf(stderr, "usage: httpload [-c CONNS] [-d SECONDS] [-w SECONDS] [-C] [-H HEADER] HOST PORT PATH\n");
	exit(1);
}

int main(int argc, char **argv)
{
	int conns = 1, opt;
	const char *header = NULL;
	double secs = 5, warm = 1;
	struct worker *ws;
	uint64_t ok = 0, other = 0, errors = 0, connects = 0;
	uint32_t *all;
	size_t n = 0;

	while ((opt = getopt(argc, argv, "c:d:w:CH:")) != -1) {
		switch (opt) {
		case 'H': header = optarg; break;
		case 'c': conns = atoi(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 'w': warm = atof(optarg); break;
		case 'C': g_close = 1; break;
		default: usage();
		}
	}
	if (argc - optind != 3 || conns < 1 || conns > 1024 || secs <= 0 || warm < 0)
		usage();
	memset(&g_addr, 0, sizeof(g_addr));
	g_addr.sin_family = AF_INET;
	g_addr.sin_port = htons((uint16_t)atoi(argv[optind + 1]));
	if (inet_pton(AF_INET, argv[optind], &g_addr.sin_addr) != 1)
		usage();
	g_req_len = (size_t)snprintf(g_req, sizeof(g_req),
				     "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: httpload\r\n"
				     "Accept: */*\r\n%s%s%s\r\n",
				     argv[optind + 2], argv[optind], argv[optind + 1],
				     g_close ? "Connection: close\r\n" : "", header ? header : "",
				     header ? "\r\n" : "");
	if (g_req_len >= sizeof(g_req))
		usage();
	if ((ws = calloc((size_t)conns, sizeof(*ws))) == NULL)
		return 1;
	g_start_ns = now_ns() + (int64_t)(warm * 1e9);
	g_end_ns = g_start_ns + (int64_t)(secs * 1e9);
	for (int i = 0; i < conns; i++)
		if (pthread_create(&ws[i].thread, NULL, run, &ws[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	for (int i = 0; i < conns; i++) {
		pthread_join(ws[i].thread, NULL);
		ok += ws[i].ok;
		other += ws[i].other;
		errors += ws[i].errors;
		connects += ws[i].connects;
		n += ws[i].n;
	}
	if ((all = malloc((n ? n : 1) * sizeof(*all))) == NULL)
		return 1;
	n = 0;
	for (int i = 0; i < conns; i++) {
		if (ws[i].n)
			memcpy(all + n, ws[i].lat_us, ws[i].n * sizeof(*all));
		n += ws[i].n;
		free(ws[i].lat_us);
	}
	qsort(all, n, sizeof(*all), cmp_u32);
	printf("conns=%d mode=%s seconds=%.3f requests=%zu ok=%llu other=%llu errors=%llu connects=%llu "
	       "rps=%.1f lat_ms_median=%.3f lat_ms_p99=%.3f lat_ms_max=%.3f\n",
	       conns, g_close ? "close" : "keep-alive", secs, n, (unsigned long long)ok,
	       (unsigned long long)other, (unsigned long long)errors, (unsigned long long)connects,
	       (double)ok / secs, rank(all, n, 0.5) / 1000.0, rank(all, n, 0.99) / 1000.0,
	       n ? all[n - 1] / 1000.0 : 0.0);
	free(all);
	free(ws);
	return ok > 0 ? 0 : 1;
}
