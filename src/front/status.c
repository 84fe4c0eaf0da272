#include "status.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The fields of o, as the status builds them; a field missing reads as
   0, false or "". */
static long long num(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

static double real(const json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

static int yes(const json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

static void put_head(FILE *f, const json_t *st)
{
	const json_t *tox = json_object_get(st, "tox");
	const char *mp = json_string_value(json_object_get(st, "mount_point"));
	char since[32];
	time_t t = (time_t)num(st, "started");
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(f, "node:        %s\n"
		"id:          %s\n"
		"version:     %s\n"
		"pid:         %lld (running since %s)\n"
		"data dir:    %s\n"
		"mount point: %s\n"
		"entries:     %lld (%lld files, %lld folders, %lld symlinks)\n"
		"bytes:       %lld in files\n"
		"contents:    %lld distinct, %lld bytes\n"
		"stored:      %lld bytes in %lld blobs on this node, "
		"%lld bytes in %lld partial download(s)\n"
		"open files:  %lld\n",
		str(st, "name"), str(st, "id"), str(st, "version"), num(st, "pid"), since,
		str(st, "data_dir"), mp != NULL && mp[0] ? mp : "(not mounted)",
		num(st, "entries"), num(st, "files"), num(st, "folders"), num(st, "symlinks"),
		num(st, "bytes"), num(st, "blobs"), num(st, "bytes_named"),
		num(st, "bytes_stored"), num(st, "blobs_stored"), num(st, "partial_bytes"),
		num(st, "partials"), num(st, "open_files"));
	if (json_is_object(tox))
		fprintf(f, "network:     Tox %s on UDP port %lld, DHT %s; %lld member(s) online of "
			"%lld friend(s), %lld refused; %lld of %lld node(s) online%s\n",
			str(tox, "id"), num(tox, "udp_port"),
			strcmp(str(tox, "connection"), "none") != 0 ? "connected" : "not connected",
			num(tox, "members"), num(tox, "friends"), num(tox, "refused"),
			num(tox, "nodes_online"), num(tox, "nodes"),
			yes(tox, "removed") ? "; REMOVED from the cluster" : "");
	else
		fprintf(f, "network:     standalone (no cluster-key)\n");
}

/* What the mount's requests are doing. */
static void put_fuse(FILE *f, const json_t *m)
{
	if (!json_is_object(m))
		return;
	if (num(m, "in_flight") == 0)
		fprintf(f, "requests:    none in flight (%lld in all)\n", num(m, "requests"));
	else
		fprintf(f, "requests:    %lld in flight, the oldest %s for %.1f s%s\n",
			num(m, "in_flight"), str(m, "oldest_op"), (double)num(m, "oldest_ms") / 1000.0,
			num(m, "stuck") ? "; STUCK (see the log)" : "");
}

/* Replication with a member, and its link. */
static void put_member(FILE *f, const json_t *m)
{
	const json_t *link = json_object_get(m, "link");
	int has_link = json_is_object(link);

	fprintf(f, "member:      %s: ", str(m, "name"));
	if (!yes(m, "linked"))
		fprintf(f, "not linked");
	else if (yes(m, "caught_up"))
		fprintf(f, "caught up");
	else if (num(m, "behind"))
		fprintf(f, "behind by %lld change(s) for %.0f s", num(m, "behind"),
			real(m, "behind_seconds"));
	else
		fprintf(f, "catching up for %.0f s", real(m, "behind_seconds"));
	if (yes(m, "stalled"))
		fprintf(f, "; NO ANSWER for %.0f s", real(m, "since_answer_seconds"));
	if (has_link && num(m, "pulls") && num(link, "receiving_of"))
		fprintf(f, "; an answer under way for %.1f s, %lld of %lld bytes here",
			(double)num(m, "pull_age_ms") / 1000.0, num(link, "receiving"),
			num(link, "receiving_of"));
	else if (has_link && num(m, "pulls"))
		fprintf(f, "; a question waiting for %.1f s", (double)num(m, "pull_age_ms") / 1000.0);
	if (has_link)
		fprintf(f, "; to it: %.1f KiB/s, round trip %lld ms, %lld bytes queued",
			real(link, "rate") / 1024, num(link, "rtt_ms"), num(link, "queued_bytes"));
	fprintf(f, "\n");
}

/* A transfer under way. */
static void put_xfer(FILE *f, const json_t *x)
{
	const json_t *eta = json_object_get(x, "eta_seconds");
	int sending = strcmp(str(x, "direction"), "out") == 0;
	uint64_t done = (uint64_t)num(x, "done"), size = (uint64_t)num(x, "size");
	char when[32];

	/* It has an ETA when bytes arrive (-1 when none do). */
	if (json_is_number(eta) && json_number_value(eta) >= 0)
		snprintf(when, sizeof(when), "ETA %.0f s", json_number_value(eta));
	else
		snprintf(when, sizeof(when), "waiting");
	if (!sending && strcmp(str(x, "state"), "waiting for a holder") == 0)
		fprintf(f, "transfer:    fetching %s: no holder answers yet; %lld reader(s) waiting "
			"for %.0f s, %llu of %llu bytes here\n", str(x, "file"), num(x, "readers"),
			real(x, "waited_seconds"), (unsigned long long)done,
			(unsigned long long)size);
	else
		fprintf(f, "transfer:    %s %s %s %s: %llu of %llu bytes (%d%%), %.1f KiB/s, %s\n",
			sending ? "sending" : "fetching", str(x, "file"), sending ? "to" : "from",
			str(x, "peer"), (unsigned long long)done, (unsigned long long)size,
			size ? (int)(done * 100 / size) : 100, real(x, "bytes_per_second") / 1024,
			when);
}

int status_text(const json_t *st, char **out)
{
	const json_t *members = json_object_get(json_object_get(st, "sync"), "members"), *v;
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f;
	int r = -ENOMEM;

	*out = NULL;
	if (!json_is_object(st))
		return -EINVAL;
	if ((f = open_memstream(&buf, &len)) == NULL)
		return -ENOMEM;
	put_head(f, st);
	put_fuse(f, json_object_get(st, "fuse"));
	json_array_foreach(members, i, v)
		put_member(f, v);
	json_array_foreach(json_object_get(st, "transfers"), i, v)
		put_xfer(f, v);
	if (!ferror(f))
		r = 0;
	if (fclose(f) != 0)
		r = -ENOMEM;
	if (r != 0) {
		free(buf);
		return r;
	}
	*out = buf;
	return 0;
}
