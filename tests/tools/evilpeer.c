/*
 * evilpeer: a member turned hostile, for tests/integration/t_hostile.sh.
 *
 *   evilpeer CONF
 *
 * Runs a real node of the cluster (it has the cluster key, proves it and
 * is admitted like any member), but answers every request for changes
 * with an answer made to harm, chosen by the first line of DATA/evil.mode
 * (read at each request; a change of it makes the node tell the members
 * it has news, so they ask at once):
 *
 *   none          nothing
 *   deep2000      a folder 2,000 levels deep (short names), signed by this node
 *   deep500       a file 500 levels deep, signed by this node
 *   setid         a root-owned file of mode 6755, signed by this node
 *   huge          a file of 2^40 bytes that only this node holds (it has none of it)
 *   forge NAME    a file /forged as a version of member NAME, signed with this
 *                 node's key (and that key told as NAME's)
 *   claim NAME    the claim that NAME's changes are complete up to 2^63-1
 *   noise         no versions; and every 200 ms, to every member, the link's
 *                 control notices made to harm: receive counts (NET_RX) of
 *                 0, 2^64-1 and random values and of wrong lengths, cancels
 *                 (NET_CANCEL) of random and wrong-length ids, news of 2^64-1
 *                 and of a wrong length
 *
 * Every answer it gives appends the mode and the first 8 hex digits of the
 * asker's key to DATA/evil.log, so a test can wait for the answer to be
 * taken.  Stops on SIGTERM or SIGINT.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "clock.h"
#include "db.h"
#include "ident.h"
#include "log.h"
#include "net.h"
#include "node.h"
#include "sync.h"

struct evil {
	const char *data_dir;
	struct ident id;
	struct net *net;
	uint64_t seq;		/* this node's crafted sequence numbers */
};

static void read_mode(const struct evil *ev, char *mode, size_t len)
{
	char path[4200];
	FILE *f;

	mode[0] = '\0';
	snprintf(path, sizeof(path), "%s/evil.mode", ev->data_dir);
	if ((f = fopen(path, "r")) == NULL)
		return;
	if (fgets(mode, (int)len, f) == NULL)
		mode[0] = '\0';
	fclose(f);
	mode[strcspn(mode, "\n")] = '\0';
}

static uint64_t now_hlc(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000) << CLOCK_LOGICAL_BITS;
}

/* A version of path by origin (signed with this node's key as if it were
   origin's), at a new sequence number. */
static int make_rec(struct evil *ev, struct db_rec *r, const char *path, int kind, uint32_t mode,
		    const uint8_t origin[32])
{
	struct ident as = ev->id;
	int e;

	memset(r, 0, sizeof(*r));
	if (path != NULL && (r->path = strdup(path)) == NULL)
		return -ENOMEM;
	r->e.kind = kind;
	memcpy(r->e.origin, origin, 32);
	r->e.seq = ++ev->seq;
	if (kind != DB_HOLDER) {	/* a holding has a hash and a seq only */
		r->e.mode = mode;
		r->e.mtime_ns = r->e.ctime_ns = (int64_t)time(NULL) * 1000000000;
		r->e.hlc = now_hlc();
		if ((e = db_rec_vv_set(r, origin, r->e.hlc)) != 0)
			return e;
	}
	memcpy(as.public_key, origin, 32);
	return sync_sign_rec(&as, r);
}

/* This node's signing key told as origin's (a true signature, a false
   binding). */
static void tell_key(const struct evil *ev, const uint8_t origin[32], struct db_key *k)
{
	memcpy(k->origin, origin, 32);
	memcpy(k->pk, ev->id.sign_pk, 32);
	ident_bind_sign(origin, ev->id.sign_sk, k->sig);
}

static int craft(struct evil *ev, const char *mode, uint8_t **out, size_t *len)
{
	struct db_rec recs[4];
	struct db_key keys[2];
	struct db_range ranges[2];
	size_t nrecs = 0, nkeys = 0, nranges = 0;
	uint8_t other[32];
	const uint8_t *me = ev->id.public_key;
	char *path = NULL;
	int r = 0;

	memset(recs, 0, sizeof(recs));
	memset(ranges, 0, sizeof(ranges));
	/* this node's own key, truly bound */
	memcpy(keys[0].origin, me, 32);
	memcpy(keys[0].pk, ev->id.sign_pk, 32);
	memcpy(keys[0].sig, ev->id.bind_sig, 64);
	nkeys = 1;
	if (strcmp(mode, "deep2000") == 0 || strcmp(mode, "deep500") == 0) {
		int levels = mode[4] == '2' ? 2000 : 500;
		size_t n = 0;

		if ((path = malloc(4096)) == NULL)
			return -ENOMEM;
		n += (size_t)snprintf(path, 4096, "/deep");
		for (int i = 1; i < levels; i++)
			n += (size_t)snprintf(path + n, 4096 - n, "/x");
		if (levels == 500)
			snprintf(path + n, 4096 - n, "/f");
		r = make_rec(ev, &recs[nrecs++], path, levels == 500 ? DB_FILE : DB_DIR,
			     levels == 500 ? 0644 : 0755, me);
	} else if (strcmp(mode, "setid") == 0) {
		r = make_rec(ev, &recs[nrecs++], "/setid", DB_FILE, 06755, me);
	} else if (strcmp(mode, "huge") == 0) {
		uint8_t sha[32];

		crypto_generichash(sha, sizeof(sha), (const uint8_t *)"huge", 4, NULL, 0);
		if ((r = make_rec(ev, &recs[nrecs], "/huge", DB_FILE, 0644, me)) == 0) {
			/* the size and hash are signed too: sign again */
			recs[nrecs].e.size = 1ull << 40;
			recs[nrecs].e.has_sha = 1;
			memcpy(recs[nrecs].e.sha256, sha, 32);
			r = sync_sign_rec(&ev->id, &recs[nrecs]);
		}
		nrecs++;
		if (r == 0 && (r = make_rec(ev, &recs[nrecs], NULL, DB_HOLDER, 0, me)) == 0) {
			recs[nrecs].e.has_sha = 1;
			memcpy(recs[nrecs].e.sha256, sha, 32);
			r = sync_sign_rec(&ev->id, &recs[nrecs]);
		}
		nrecs++;
	} else if (strncmp(mode, "forge ", 6) == 0 || strncmp(mode, "claim ", 6) == 0) {
		if ((r = net_lookup(ev->net, mode + 6, other)) != 0) {
			log_error("evilpeer: no member %s: %s", mode + 6, strerror(-r));
			return r;
		}
		if (mode[0] == 'f') {
			tell_key(ev, other, &keys[nkeys++]);
			r = make_rec(ev, &recs[nrecs++], "/forged", DB_FILE, 04755, other);
			memcpy(ranges[nranges].origin, other, 32);
			ranges[nranges++].upto = recs[0].e.seq;
		} else {
			memcpy(ranges[nranges].origin, other, 32);
			ranges[nranges++].upto = INT64_MAX;
		}
	}
	if (r == 0 && nrecs > 0 && memcmp(recs[0].e.origin, me, 32) == 0) {
		memcpy(ranges[nranges].origin, me, 32);
		ranges[nranges++].upto = ev->seq;
	}
	if (r == 0)
		r = sync_encode_reply(keys, nkeys, ranges, nranges, recs, nrecs, 0, out, len);
	for (size_t i = 0; i < nrecs; i++)
		db_rec_clear(&recs[i]);
	free(path);
	return r;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int evil_service(void *ctx, const uint8_t from[IDENT_KEY_BYTES], uint16_t method, int notice,
			const uint8_t *body, size_t len, uint8_t **reply, size_t *reply_len)
{
	struct evil *ev = ctx;
	char mode[256], path[4200];
	FILE *f;
	int r;

	(void)body;
	(void)len;
	if (method != NET_SYNC_PULL || notice)
		return notice ? 0 : -ENOSYS;
	pthread_mutex_lock(&lock);
	read_mode(ev, mode, sizeof(mode));
	r = craft(ev, mode, reply, reply_len);
	snprintf(path, sizeof(path), "%s/evil.log", ev->data_dir);
	if (r == 0 && (f = fopen(path, "a")) != NULL) {
		fprintf(f, "%s %02x%02x%02x%02x\n", mode[0] ? mode : "none", from[0], from[1], from[2],
			from[3]);
		fclose(f);
	}
	pthread_mutex_unlock(&lock);
	return r;
}

static void noise(struct evil *ev)
{
	uint8_t b[16];
	uint64_t v[3] = { 0, UINT64_MAX, 0 };

	randombytes_buf(&v[2], sizeof(v[2]));
	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < 8; j++)
			b[j] = (uint8_t)(v[i] >> (8 * j));
		net_notify(ev->net, NULL, NULL, NET_RX, b, 8);
		net_notify(ev->net, NULL, NULL, NET_CANCEL, b, 8);
	}
	randombytes_buf(b, sizeof(b));
	net_notify(ev->net, NULL, NULL, NET_RX, b, 7);
	net_notify(ev->net, NULL, NULL, NET_RX, b, 9);
	net_notify(ev->net, NULL, NULL, NET_RX, NULL, 0);
	net_notify(ev->net, NULL, NULL, NET_CANCEL, b, 16);
	memset(b, 0xff, 8);
	net_notify(ev->net, NULL, NULL, NET_SYNC_NEWS, b, 8);
	net_notify(ev->net, NULL, NULL, NET_SYNC_NEWS, b, 3);
}

int main(int argc, char **argv)
{
	struct cfg *cfg = NULL;
	struct node *n = NULL;
	struct evil ev = { 0 };
	char err[512], mode[256] = "", last[256] = "";
	sigset_t sigs;
	int r, status = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: evilpeer CONF\n");
		return 2;
	}
	log_init("evilpeer", LOG_LVL_INFO);
	if (cfg_load(argv[1], &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "evilpeer: %s\n", err);
		return 1;
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((r = node_open(cfg, NULL, &n)) != 0 || (r = node_start(n)) != 0) {
		fprintf(stderr, "evilpeer: cannot start the node: %s\n", strerror(-r));
		goto out;
	}
	ev.data_dir = cfg->data_dir;
	ev.seq = 1u << 30;
	if ((r = ident_load(cfg->data_dir, 0, &ev.id)) != 0 || (ev.net = node_net(n)) == NULL) {
		fprintf(stderr, "evilpeer: no identity or no network\n");
		goto out;
	}
	net_set_service(ev.net, evil_service, &ev);
	for (;;) {
		struct timespec one = { 0, 200 * 1000000L };
		siginfo_t si;

		if (sigtimedwait(&sigs, &si, &one) > 0)
			break;
		read_mode(&ev, mode, sizeof(mode));
		if (strcmp(mode, "noise") == 0)
			noise(&ev);
		if (strcmp(mode, last) != 0) {
			strcpy(last, mode);
			net_notify(ev.net, NULL, NULL, NET_SYNC_NEWS, NULL, 0);
		}
	}
	status = 0;
out:
	if (ev.net != NULL)
		net_set_service(ev.net, NULL, NULL);
	node_close(n);
	ident_clear(&ev.id);
	cfg_free(cfg);
	return status;
}
