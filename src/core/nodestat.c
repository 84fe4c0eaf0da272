/*
 * The node's status (node_status_get, node.h): one JSON object read
 * straight from the figures of the node's parts.  Its fields are those
 * oand(8) lists; `oand status`, /v1/status, /v1/transfers and the control
 * socket give it as built here.
 */
#include "node.h"
#include "node_int.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "hex.h"
#include "net.h"
#include "store.h"
#include "sync.h"
#include "xfer.h"

/* The transfers and members told of, at most. */
#define STATUS_XFERS 16
#define STATUS_MEMBERS 32

/* The length of the UTF-8 sequence at s if it is a valid one (as jansson
   checks them: no overlong forms, surrogates or code points past
   U+10FFFF), else 0. */
static size_t utf8_len(const unsigned char *s)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)	/* the NUL too */
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* s as a JSON string.  Names and paths are bytes, not always UTF-8:
   what is not shows as U+FFFD, so that one such name (a file's, or the
   one a member gives itself) does not make the whole status fail. */
static json_t *jstr(const char *s)
{
	json_t *j;
	char *t, *o;

	if (s == NULL)
		s = "";
	if ((j = json_string(s)) != NULL || (t = o = malloc(3 * strlen(s) + 1)) == NULL)
		return j;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t k = utf8_len(p);

		if (k == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
		} else {
			memcpy(o, p, k);
			o += k;
			p += k;
		}
	}
	*o = '\0';
	j = json_string(t);
	free(t);
	return j;
}

/* x rounded to a whole number, as an integer (a real if it is too large
   for one; null if it is no number). */
static json_t *jround(double x)
{
	char buf[400], *end;
	long long v;

	if (!isfinite(x))
		return json_null();
	snprintf(buf, sizeof(buf), "%.0f", x);
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno != 0 || *end != '\0')
		return json_real(x);
	return json_integer(v);
}

/* x rounded to a tenth, as "%.1f" rounds it: the real nearest that
   decimal, which a writer of 15 digits (STATUS_JSON_FLAGS) gives back
   as it is ("0.3", not "0.29999999999999999"). */
static json_t *jtenth(double x)
{
	char buf[400];

	if (!isfinite(x))
		return json_null();
	snprintf(buf, sizeof(buf), "%.1f", x);
	return json_real(strtod(buf, NULL));
}

static json_t *jint(int64_t v)
{
	return json_integer((json_int_t)v);
}

/* o[key] = v (taken); a failure (v NULL, no memory) leaves -ENOMEM in *r. */
static void put(json_t *o, const char *key, json_t *v, int *r)
{
	if (v == NULL || json_object_set_new(o, key, v) != 0)
		*r = -ENOMEM;
}

/* What the mount's requests are doing (null: no mount). */
static json_t *fuse_json(const struct node_parts *p, int *r)
{
	const struct node_mount_stats *m = &p->mount;
	json_t *o;

	if (!p->has_mount)
		return json_null();
	o = json_object();
	put(o, "in_flight", jint(m->in_flight), r);
	put(o, "stuck", jint(m->stuck), r);
	put(o, "oldest_ms", jint(m->oldest_ms), r);
	put(o, "oldest_op", jstr(m->oldest_op), r);
	put(o, "requests", jint((int64_t)m->requests), r);
	put(o, "self_renames", jint((int64_t)m->self_renames), r);
	return o;
}

/* The network side (null: standalone). */
static json_t *tox_json(struct net *net, int *r)
{
	static const char *const conn[] = { "none", "tcp", "udp" };
	struct net_status s;
	json_t *o;

	if (net == NULL)
		return json_null();
	net_status(net, &s);
	o = json_object();
	put(o, "id", jstr(s.tox_id), r);
	put(o, "dht_key", jstr(s.dht_key), r);
	put(o, "udp_port", jint(s.udp_port), r);
	put(o, "ipv6", json_boolean(s.ipv6), r);
	put(o, "connection", json_string(conn[s.connected >= 0 && s.connected <= 2 ? s.connected
						: 0]), r);
	put(o, "friends", jint(s.friends), r);
	put(o, "online", jint(s.online), r);
	put(o, "members", jint(s.members), r);
	put(o, "refused", jint((int64_t)s.refused), r);
	put(o, "removed", json_boolean(s.removed), r);
	put(o, "nodes", jint(s.nodes), r);
	put(o, "nodes_online", jint(s.nodes_online), r);
	put(o, "messages_in", jint((int64_t)s.msgs_in), r);
	put(o, "messages_out", jint((int64_t)s.msgs_out), r);
	put(o, "dropped", jint((int64_t)s.dropped), r);
	put(o, "unmatched_replies", jint((int64_t)s.unmatched), r);
	put(o, "reassembly_bytes", jint((int64_t)s.reasm_bytes), r);
	put(o, "queued_bytes", jint((int64_t)s.queued_bytes), r);
	put(o, "pending_requests", jint((int64_t)s.pending), r);
	put(o, "retried_requests", jint((int64_t)s.retried), r);
	put(o, "tox_age_seconds", jint(s.tox_age_ms / 1000), r);
	put(o, "fresh_starts", jint((int64_t)s.fresh_starts), r);
	put(o, "unmatched_reply_bytes", jint((int64_t)s.unmatched_bytes), r);
	put(o, "queued_urgent", jint((int64_t)s.queued_urgent), r);
	put(o, "queued_bulk", jint((int64_t)s.queued_bulk), r);
	put(o, "oldest_queued_ms", jint(s.oldest_queued_ms), r);
	put(o, "replies_queued", jint((int64_t)s.replies_queued), r);
	put(o, "oldest_reply_ms", jint(s.oldest_reply_ms), r);
	put(o, "handed_per_s", jround(s.handed_per_s), r);
	put(o, "refused_per_s", jround(s.refused_per_s), r);
	put(o, "received_per_s", jround(s.rx_per_s), r);
	put(o, "reassembling", jint((int64_t)s.reasm_msgs), r);
	put(o, "reassembly_got", jint((int64_t)s.reasm_got), r);
	put(o, "reassembly_total", jint((int64_t)s.reasm_total), r);
	put(o, "reassembly_age_ms", jint(s.reasm_age_ms), r);
	put(o, "reassembly_idle_ms", jint(s.reasm_idle_ms), r);
	put(o, "cancelled_replies", jint((int64_t)s.cancelled), r);
	put(o, "cancelled_bytes", jint((int64_t)s.cancelled_bytes), r);
	return o;
}

/* The link to a member (null: none). */
static json_t *link_json(struct net *net, const uint8_t pk[32], int *r)
{
	struct net_link l;
	json_t *o;

	if (net == NULL || !net_link(net, pk, &l))
		return json_null();
	o = json_object();
	put(o, "paced", json_boolean(l.paced), r);
	put(o, "rate", jround(l.rate), r);
	put(o, "rtt_ms", jint(l.rtt_ms), r);
	put(o, "window", jint((int64_t)l.window), r);
	put(o, "in_flight", jint((int64_t)l.in_flight), r);
	put(o, "queued_bytes", jint((int64_t)l.queued), r);
	put(o, "oldest_queued_ms", jint(l.oldest_queued_ms), r);
	put(o, "receiving", jint((int64_t)l.receiving), r);
	put(o, "receiving_of", jint((int64_t)l.receiving_of), r);
	put(o, "packets_out_per_s", jround(l.packets_out_per_s), r);
	put(o, "packets_in_per_s", jround(l.packets_in_per_s), r);
	return o;
}

/* Replication with a member, and its link. */
static json_t *member_json(struct net *net, const struct sync_member *m, int *r)
{
	char name[64];
	json_t *o = json_object();

	if (net == NULL || net_name_of(net, m->pk, name, sizeof(name)) != 0)
		hex_encode(m->pk, 8, name);
	put(o, "name", jstr(name), r);
	put(o, "linked", json_boolean(m->linked), r);
	put(o, "caught_up", json_boolean(m->caught_up), r);
	put(o, "behind", jint((int64_t)m->behind), r);
	put(o, "behind_seconds", jtenth((double)m->behind_ms / 1000.0), r);
	put(o, "since_answer_seconds", jtenth((double)m->since_answer_ms / 1000.0), r);
	put(o, "stalled", json_boolean(m->stalled), r);
	put(o, "pulls", jint(m->pulls), r);
	put(o, "pull_age_ms", jint(m->pull_age_ms), r);
	put(o, "last_error", m->last_err ? jstr(strerror(-m->last_err)) : json_null(), r);
	put(o, "link", link_json(net, m->pk, r), r);
	return o;
}

/* Replication: its figures and each member met (zeros and none when
   standalone). */
static json_t *sync_json(const struct node_parts *p, int *r)
{
	struct sync_stats s;
	struct sync_member sm[STATUS_MEMBERS];
	size_t count = 0;
	json_t *o = json_object(), *arr = json_array();

	memset(&s, 0, sizeof(s));
	if (p->sync != NULL) {
		sync_get_stats(p->sync, &s);
		count = sync_members(p->sync, sm, STATUS_MEMBERS);
	}
	put(o, "pulls", jint((int64_t)s.pulls), r);
	put(o, "applied", jint((int64_t)s.applied), r);
	put(o, "rejected", jint((int64_t)s.rejected), r);
	put(o, "served", jint((int64_t)s.served), r);
	put(o, "last_pull", jint(s.last_pull), r);
	put(o, "timeouts", jint((int64_t)s.timeouts), r);
	put(o, "answer_bytes", jint((int64_t)s.answer_bytes), r);
	put(o, "in_flight", jint(s.in_flight), r);
	put(o, "oldest_ms", jint(s.oldest_ms), r);
	for (size_t i = 0; i < count && i < STATUS_MEMBERS; i++) {
		json_t *m = member_json(p->net, &sm[i], r);

		if (m == NULL || json_array_append_new(arr, m) != 0)
			*r = -ENOMEM;
	}
	put(o, "members", arr, r);
	return o;
}

/* One transfer: its file (a path with that content), its member. */
static json_t *xfer_json(const struct node_parts *p, const struct xfer_info *x, int *r)
{
	char file[256], peer[64], hex[STORE_HEX_LEN];
	double eta = x->rate > 0 ? (double)(x->size - x->done) / x->rate : -1;
	json_t *o = json_object();

	if (db_path_of(p->db, x->sha, file, sizeof(file)) != 0)
		store_hex(x->sha, file);
	if (x->waiting) {
		peer[0] = '\0';
	} else if (p->net == NULL || net_name_of(p->net, x->peer, peer, sizeof(peer)) != 0) {
		store_hex(x->peer, hex);
		snprintf(peer, sizeof(peer), "%.16s", hex);
	}
	put(o, "file", jstr(file), r);
	put(o, "peer", jstr(peer), r);
	put(o, "direction", json_string(x->sending ? "out" : "in"), r);
	put(o, "done", jint((int64_t)x->done), r);
	put(o, "size", jint((int64_t)x->size), r);
	put(o, "bytes_per_second", jround(x->rate), r);
	put(o, "eta_seconds", jround(eta), r);
	if (!x->sending) {
		put(o, "state", json_string(x->waiting ? "waiting for a holder" : x->rate > 0 ?
					    "receiving" : "asked"), r);
		put(o, "readers", jint(x->readers), r);
		put(o, "waited_seconds", jtenth((double)x->waited_ms / 1000.0), r);
	}
	return o;
}

static json_t *transfers_json(const struct node_parts *p, int *r)
{
	struct xfer_info xi[STATUS_XFERS];
	size_t count = p->xfer != NULL ? xfer_list(p->xfer, xi, STATUS_XFERS) : 0;
	json_t *arr = json_array();

	for (size_t i = 0; i < count && i < STATUS_XFERS; i++) {
		json_t *x = xfer_json(p, &xi[i], r);

		if (x == NULL || json_array_append_new(arr, x) != 0)
			*r = -ENOMEM;
	}
	return arr;
}

json_t *node_status_get(struct node *n)
{
	struct node_parts p;
	struct db_stats db;
	struct store_usage disk;
	char id[2 * NODE_ID_BYTES + 1];
	json_t *o = json_object();
	int r = 0;

	node_get_parts(n, &p);
	if (db_stats(p.db, &db) != 0) {
		json_decref(o);
		return NULL;
	}
	if (store_get_usage(p.store, &disk) != 0)
		memset(&disk, 0, sizeof(disk));
	put(o, "name", jstr(p.name), &r);
	put(o, "id", json_string(hex_encode(p.id, NODE_ID_BYTES, id)), &r);
	put(o, "version", json_string(NODE_VERSION), &r);
	put(o, "pid", jint(getpid()), &r);
	put(o, "started", jint(p.started), &r);
	put(o, "data_dir", jstr(p.data_dir), &r);
	put(o, "mount_point", p.mount_point && p.mount_point[0] ? jstr(p.mount_point)
			      : json_null(), &r);
	put(o, "entries", jint((int64_t)db.entries), &r);
	put(o, "files", jint((int64_t)db.files), &r);
	put(o, "folders", jint((int64_t)db.dirs), &r);
	put(o, "symlinks", jint((int64_t)db.links), &r);
	put(o, "bytes", jint((int64_t)db.bytes), &r);
	put(o, "blobs", jint((int64_t)db.blobs), &r);
	put(o, "bytes_named", jint((int64_t)db.blob_bytes), &r);
	put(o, "blobs_stored", jint((int64_t)disk.blobs), &r);
	put(o, "bytes_stored", jint((int64_t)disk.bytes), &r);
	put(o, "partials", jint((int64_t)disk.partials), &r);
	put(o, "partial_bytes", jint((int64_t)disk.partial_bytes), &r);
	put(o, "tombstones", jint((int64_t)db.tombstones), &r);
	put(o, "open_files", jint(p.open_files), &r);
	put(o, "fuse", fuse_json(&p, &r), &r);
	put(o, "tox", tox_json(p.net, &r), &r);
	put(o, "sync", sync_json(&p, &r), &r);
	put(o, "transfers", transfers_json(&p, &r), &r);
	if (r != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}
