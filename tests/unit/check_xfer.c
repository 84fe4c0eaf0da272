/*
 * Unit tests for src/repl/xfer, the receiving side of content transfers, on a
 * real store and database: the test plays the net thread and the members
 * (a fake struct xfer_net and the few tox_file_* calls xfer makes), while
 * a reader thread waits in xfer_fetch().  A whole download becomes a
 * blob; a fetch that cannot fit on the disk is refused before anything
 * is asked or written; a partial left from before resumes; wrong bytes
 * are caught as the last one arrives, and a holder that offers another
 * size or sends bytes past it is cut off at once; neither is asked again.
 * A failed download blames the holder that supplied all of it, and no
 * one when several did (or some bytes were kept from before): it starts
 * again from zero from a single holder.  Every test has its own data dir below a base
 * folder that the parent process makes and removes around the test case.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "db.h"
#include "log.h"
#include "net.h"
#include "store.h"
#include "xfer.h"

#define CHECK_TMP_NAME "check_xfer"
#include "check_tmp.h"
#include "check_run.h"

#define HOLDERS 2
#define NOTICES 64
#define CHUNK 1371		/* Tox's file chunk */

/* ---- what xfer calls of c-toxcore, played by the test ---- */

static pthread_mutex_t stub_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t stub_file_id[32];	/* the file id of the next offer */
static int stub_cancels;		/* TOX_FILE_CONTROL_CANCEL sent */
static int stub_seeks;
static uint64_t stub_seek_to;

bool tox_file_get_file_id(const Tox *tox, uint32_t friend_number, uint32_t file_number,
			  uint8_t *file_id, Tox_Err_File_Get *error)
{
	(void)tox;
	(void)friend_number;
	(void)file_number;
	(void)error;
	pthread_mutex_lock(&stub_lock);
	memcpy(file_id, stub_file_id, 32);
	pthread_mutex_unlock(&stub_lock);
	return true;
}

bool tox_file_control(Tox *tox, uint32_t friend_number, uint32_t file_number,
		      Tox_File_Control control, Tox_Err_File_Control *error)
{
	(void)tox;
	(void)friend_number;
	(void)file_number;
	(void)error;
	pthread_mutex_lock(&stub_lock);
	stub_cancels += control == TOX_FILE_CONTROL_CANCEL;
	pthread_mutex_unlock(&stub_lock);
	return true;
}

bool tox_file_seek(Tox *tox, uint32_t friend_number, uint32_t file_number, uint64_t position,
		   Tox_Err_File_Seek *error)
{
	(void)tox;
	(void)friend_number;
	(void)file_number;
	(void)error;
	pthread_mutex_lock(&stub_lock);
	stub_seeks++;
	stub_seek_to = position;
	pthread_mutex_unlock(&stub_lock);
	return true;
}

/* This node sends nothing in these tests. */
uint32_t tox_file_send(Tox *tox, uint32_t friend_number, uint32_t kind, uint64_t file_size,
		       const uint8_t *file_id, const uint8_t *filename, size_t filename_length,
		       Tox_Err_File_Send *error)
{
	(void)tox;
	(void)friend_number;
	(void)kind;
	(void)file_size;
	(void)file_id;
	(void)filename;
	(void)filename_length;
	(void)error;
	return UINT32_MAX;
}

bool tox_file_send_chunk(Tox *tox, uint32_t friend_number, uint32_t file_number, uint64_t position,
			 const uint8_t *data, size_t length, Tox_Err_File_Send_Chunk *error)
{
	(void)tox;
	(void)friend_number;
	(void)file_number;
	(void)position;
	(void)data;
	(void)length;
	(void)error;
	return false;
}

/* ---- the members: friends 0 .. HOLDERS-1, all linked ---- */

struct t {
	char dir[128];
	struct store *st;
	struct clock *clock;
	struct db *db;
	struct xfer *x;
	Tox *tox;		/* never dereferenced by the stubs */
	uint8_t self[32];
	uint8_t pks[HOLDERS][32];
	pthread_mutex_t lock;	/* guards the notices */
	struct notice {
		uint32_t f;
		uint16_t method;
	} notices[NOTICES];
	int nnotices, seen;
	/* the reader */
	pthread_t reader;
	uint8_t sha[32];
	uint64_t size;
	int result, reading, finished;
};

static uint32_t fake_friend_of(void *ctx, const uint8_t pk[32])
{
	struct t *t = ctx;

	for (uint32_t f = 0; f < HOLDERS; f++)
		if (memcmp(t->pks[f], pk, 32) == 0)
			return f;
	return UINT32_MAX;
}

static const uint8_t *fake_pk_of(void *ctx, uint32_t f)
{
	struct t *t = ctx;

	return t->pks[f < HOLDERS ? f : 0];
}

static void fake_notice(void *ctx, uint32_t f, uint16_t method, const uint8_t *body, size_t len)
{
	struct t *t = ctx;

	(void)body;
	(void)len;
	pthread_mutex_lock(&t->lock);
	if (t->nnotices < NOTICES)
		t->notices[t->nnotices++] = (struct notice){ f, method };
	pthread_mutex_unlock(&t->lock);
}

static size_t fake_linked(void *ctx, uint8_t (*pks)[32], size_t max)
{
	struct t *t = ctx;
	size_t n = 0;

	for (; n < HOLDERS && n < max; n++)
		memcpy(pks[n], t->pks[n], 32);
	return n;
}

static void fake_wake(void *ctx)
{
	(void)ctx;
}

static void t_init(struct t *t, int64_t timeout_ms)
{
	char path[256];
	struct xfer_net net = { t, fake_friend_of, fake_pk_of, fake_notice, fake_linked, fake_wake };

	memset(t, 0, sizeof(*t));
	log_init("check_xfer", LOG_LVL_WARNING);
	ck_assert_int_ge(sodium_init(), 0);
	snprintf(t->dir, sizeof(t->dir), "%s/t.XXXXXX", base);
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	ck_assert_int_eq(store_open(t->dir, &t->st), 0);
	ck_assert_ptr_nonnull(t->clock = clock_new(NULL, NULL));
	randombytes_buf(t->self, 32);
	for (int i = 0; i < HOLDERS; i++)
		randombytes_buf(t->pks[i], 32);
	snprintf(path, sizeof(path), "%s/oand.db", t->dir);
	ck_assert_int_eq(db_open(path, t->self, t->clock, &t->db), 0);
	ck_assert_ptr_nonnull(t->x = xfer_new(t->st, t->db, t->self, timeout_ms));
	pthread_mutex_init(&t->lock, NULL);
	xfer_attach(t->x, &net);
	t->tox = (Tox *)t;
	pthread_mutex_lock(&stub_lock);
	stub_cancels = stub_seeks = 0;
	pthread_mutex_unlock(&stub_lock);
}

static void t_done(struct t *t)
{
	xfer_free(t->x);
	db_close(t->db);
	clock_free(t->clock);
	store_close(t->st);
	pthread_mutex_destroy(&t->lock);
	ck_assert_int_eq(rm_tree(t->dir), 0);
}

static void *reader_main(void *arg)
{
	struct t *t = arg;

	t->result = xfer_fetch(t->x, t->sha, t->size);
	__atomic_store_n(&t->finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* A reader starts fetching content data of size bytes. */
static void read_start(struct t *t, const uint8_t *data, uint64_t size)
{
	crypto_hash_sha256(t->sha, data, size);
	t->size = size;
	pthread_mutex_lock(&stub_lock);
	memcpy(stub_file_id, t->sha, 32);
	pthread_mutex_unlock(&stub_lock);
	t->finished = 0;
	ck_assert_int_eq(pthread_create(&t->reader, NULL, reader_main, t), 0);
	t->reading = 1;
}

/* The reader's answer (the net thread ticks meanwhile: its timeouts). */
static int read_end(struct t *t)
{
	struct timespec d = { 0, 2 * 1000 * 1000 };

	ck_assert(t->reading);
	while (!__atomic_load_n(&t->finished, __ATOMIC_ACQUIRE)) {
		xfer_net_tick(t->x, t->tox);
		nanosleep(&d, NULL);
	}
	pthread_join(t->reader, NULL);
	t->reading = 0;
	return t->result;
}

/*
 * The net thread ticks until xfer asks a member for the content: that
 * member, or -1 if none was asked within ms.  Asks already seen are not
 * counted again.
 */
static int next_ask(struct t *t, int ms)
{
	struct timespec d = { 0, 2 * 1000 * 1000 };

	for (int i = 0; i <= ms / 2; i++) {
		pthread_mutex_lock(&t->lock);
		while (t->seen < t->nnotices) {
			struct notice n = t->notices[t->seen++];

			if (n.method == NET_XFER_WANT) {
				pthread_mutex_unlock(&t->lock);
				return (int)n.f;
			}
		}
		pthread_mutex_unlock(&t->lock);
		xfer_net_tick(t->x, t->tox);
		nanosleep(&d, NULL);
	}
	return -1;
}

/* Holder f offers size bytes as its file number file. */
static void offer(struct t *t, int f, uint32_t file, uint64_t size)
{
	xfer_net_recv(t->x, t->tox, (uint32_t)f, file, TOX_FILE_KIND_DATA, size);
}

/* Holder f sends data[from, to) in Tox's chunks; with end, the final
   empty chunk too. */
static void send_range(struct t *t, int f, uint32_t file, const uint8_t *data, uint64_t from,
		       uint64_t to, int end)
{
	for (uint64_t pos = from; pos < to; pos += CHUNK)
		xfer_net_chunk(t->x, t->tox, (uint32_t)f, file, pos, data + pos,
			       to - pos < CHUNK ? (size_t)(to - pos) : CHUNK);
	if (end)
		xfer_net_chunk(t->x, t->tox, (uint32_t)f, file, to, NULL, 0);
}

/* The member asked last, without the net thread ticking: -1 if none was
   asked since the last look. */
static int asked_now(struct t *t)
{
	int f = -1;

	pthread_mutex_lock(&t->lock);
	while (t->seen < t->nnotices && f < 0) {
		struct notice n = t->notices[t->seen++];

		if (n.method == NET_XFER_WANT)
			f = (int)n.f;
	}
	pthread_mutex_unlock(&t->lock);
	return f;
}

static int cancels(void)
{
	int n;

	pthread_mutex_lock(&stub_lock);
	n = stub_cancels;
	pthread_mutex_unlock(&stub_lock);
	return n;
}

/* Write the first len bytes of data as the partial download of sha, as
   an earlier run of the node left it. */
static void leave_partial(struct t *t, const uint8_t *sha, const uint8_t *data, size_t len)
{
	char path[256], hex[STORE_HEX_LEN];
	int fd;

	store_hex(sha, hex);
	snprintf(path, sizeof(path), "%s/partial/%s", t->dir, hex);
	ck_assert_int_ge(fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static int partials(struct t *t)
{
	char path[256];
	int n = 0;
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/partial", t->dir);
	ck_assert_ptr_nonnull(d = opendir(path));
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static uint8_t *random_data(size_t len)
{
	uint8_t *p = malloc(len);

	ck_assert_ptr_nonnull(p);
	randombytes_buf(p, len);
	return p;
}

/* A holder sends it all: it becomes a blob, checked; no partial stays. */
START_TEST(test_whole)
{
	struct t t;
	size_t len = 50000;
	uint8_t *data = random_data(len);

	t_init(&t, 5000);
	read_start(&t, data, len);
	ck_assert_int_eq(next_ask(&t, 2000), 0);
	offer(&t, 0, 1, len);
	send_range(&t, 0, 1, data, 0, len, 1);
	ck_assert_int_eq(read_end(&t), 0);
	ck_assert_int_eq(store_has(t.st, t.sha), 1);
	ck_assert_int_eq(partials(&t), 0);
	t_done(&t);
	free(data);
}
END_TEST

/*
 * A member names a size no disk here can take (2^50 bytes): the fetch
 * fails at once with ENOSPC, nobody is asked and nothing is written.
 */
START_TEST(test_no_room)
{
	struct t t;
	uint8_t data[16] = "any content";
	uint64_t t0;

	t_init(&t, 5000);
	crypto_hash_sha256(t.sha, data, sizeof(data));
	t0 = (uint64_t)time(NULL);
	ck_assert_int_eq(xfer_fetch(t.x, t.sha, 1ULL << 50), -ENOSPC);
	ck_assert_uint_le((uint64_t)time(NULL) - t0, 1);
	ck_assert_int_eq(next_ask(&t, 50), -1);
	ck_assert_int_eq(partials(&t), 0);
	t_done(&t);
}
END_TEST

/* A partial left from before is hashed first, then resumed where it ends. */
START_TEST(test_resume_partial)
{
	struct t t;
	size_t len = 40000;
	uint8_t *data = random_data(len), sha[32];

	t_init(&t, 5000);
	crypto_hash_sha256(sha, data, len);
	leave_partial(&t, sha, data, 10000);
	read_start(&t, data, len);
	ck_assert_int_eq(next_ask(&t, 2000), 0);
	offer(&t, 0, 1, len);
	pthread_mutex_lock(&stub_lock);
	ck_assert_int_eq(stub_seeks, 1);
	ck_assert_uint_eq(stub_seek_to, 10000);
	pthread_mutex_unlock(&stub_lock);
	send_range(&t, 0, 1, data, 10000, len, 1);
	ck_assert_int_eq(read_end(&t), 0);
	ck_assert_int_eq(store_has(t.st, t.sha), 1);
	t_done(&t);
	free(data);
}
END_TEST

/*
 * Wrong bytes are caught when the last one arrives, in the net thread:
 * the next holder is asked before the net thread ticks again, and the
 * one that sent them is not asked again.  Two such holders: nobody is
 * left, and the fetch fails with EIO.
 */
START_TEST(test_wrong_bytes)
{
	struct t t;
	size_t len = 20000;
	uint8_t *data = random_data(len), *bad = malloc(len);

	ck_assert_ptr_nonnull(bad);
	memcpy(bad, data, len);
	bad[len / 2] ^= 1;
	t_init(&t, 300);
	read_start(&t, data, len);
	ck_assert_int_eq(next_ask(&t, 2000), 0);
	offer(&t, 0, 1, len);
	send_range(&t, 0, 1, bad, 0, len, 1);
	ck_assert_int_eq(asked_now(&t), 1);
	ck_assert_int_eq(partials(&t), 0);
	offer(&t, 1, 2, len);
	send_range(&t, 1, 2, bad, 0, len, 1);
	ck_assert_int_eq(next_ask(&t, 100), -1);
	ck_assert_int_eq(read_end(&t), -EIO);
	ck_assert_int_eq(store_has(t.st, t.sha), 0);
	ck_assert_int_eq(partials(&t), 0);
	t_done(&t);
	free(data);
	free(bad);
}
END_TEST

/* A holder that offers another size than the content's is cut off at
   once and not asked again; the next one delivers. */
START_TEST(test_wrong_size_offer)
{
	struct t t;
	size_t len = 20000;
	uint8_t *data = random_data(len);
	int c;

	t_init(&t, 5000);
	read_start(&t, data, len);
	ck_assert_int_eq(next_ask(&t, 2000), 0);
	c = cancels();
	offer(&t, 0, 1, (uint64_t)len + 1);
	ck_assert_int_eq(cancels(), c + 1);
	ck_assert_int_eq(asked_now(&t), 1);
	offer(&t, 1, 2, len);
	send_range(&t, 1, 2, data, 0, len, 1);
	ck_assert_int_eq(read_end(&t), 0);
	ck_assert_int_eq(store_has(t.st, t.sha), 1);
	t_done(&t);
	free(data);
}
END_TEST

/*
 * A holder that sends bytes past the size is cut off at once: what it
 * sent goes, and the next holder starts from zero.
 */
START_TEST(test_past_size)
{
	struct t t;
	size_t len = 20000;
	uint8_t *data = random_data(len), *more = random_data(len + 5000);
	int c;

	t_init(&t, 5000);
	read_start(&t, data, len);
	ck_assert_int_eq(next_ask(&t, 2000), 0);
	offer(&t, 0, 1, len);
	send_range(&t, 0, 1, data, 0, 5000, 0);
	ck_assert_int_eq(partials(&t), 1);
	c = cancels();
	xfer_net_chunk(t.x, t.tox, 0, 1, 5000, more, len);	/* 5000 + len > len */
	ck_assert_int_eq(cancels(), c + 1);
	ck_assert_int_eq(partials(&t), 0);
	ck_assert_int_eq(asked_now(&t), 1);
	offer(&t, 1, 2, len);
	pthread_mutex_lock(&stub_lock);
	ck_assert_int_eq(stub_seeks, 0);
	pthread_mutex_unlock(&stub_lock);
	send_range(&t, 1, 2, data, 0, len, 1);
	ck_assert_int_eq(read_end(&t), 0);
	ck_assert_int_eq(store_has(t.st, t.sha), 1);
	t_done(&t);
	free(data);
	free(more);
}
END_TEST

/* The rule of blame, alone: only a holder that supplied every byte. */
START_TEST(test_blame_rule)
{
	struct xfer_span s[4];
	uint8_t a[32], b[32], who[32];

	memset(a, 0xaa, 32);
	memset(b, 0xbb, 32);
	memset(s, 0, sizeof(s));
	/* one holder, all of it: blamed */
	memcpy(s[0].holder, a, 32);
	s[0].from = 0;
	s[0].to = 100;
	ck_assert_int_eq(xfer_blame(s, 1, 100, who), 1);
	ck_assert_mem_eq(who, a, 32);
	/* the same holder resumed after a break: still it alone */
	s[0].to = 60;
	memcpy(s[1].holder, a, 32);
	s[1].from = 60;
	s[1].to = 100;
	ck_assert_int_eq(xfer_blame(s, 2, 100, who), 1);
	ck_assert_mem_eq(who, a, 32);
	/* another holder asked in between that sent nothing does not count */
	memcpy(s[1].holder, b, 32);
	s[1].to = 60;
	memcpy(s[2].holder, a, 32);
	s[2].from = 60;
	s[2].to = 100;
	ck_assert_int_eq(xfer_blame(s, 3, 100, who), 1);
	ck_assert_mem_eq(who, a, 32);
	/* two holders: nobody, whichever came last */
	s[1].to = 80;
	s[2].from = 80;
	ck_assert_int_eq(xfer_blame(s, 3, 100, who), 0);
	memcpy(s[2].holder, b, 32);
	ck_assert_int_eq(xfer_blame(s, 3, 100, who), 0);
	/* bytes of unknown origin first (kept from before a restart) */
	memset(s[0].holder, 0, 32);
	s[0].to = 60;
	memcpy(s[1].holder, a, 32);
	s[1].from = 60;
	s[1].to = 100;
	ck_assert_int_eq(xfer_blame(s, 2, 100, who), 0);
	/* not covering the size, or with a gap: nobody */
	memcpy(s[0].holder, a, 32);
	ck_assert_int_eq(xfer_blame(s, 2, 120, who), 0);
	s[1].from = 70;
	ck_assert_int_eq(xfer_blame(s, 2, 100, who), 0);
	ck_assert_int_eq(xfer_blame(s, 0, 100, who), 0);
}
END_TEST

/*
 * A hostile holder sends the first half wrong and stops; an honest one
 * sends the rest; the check fails.  Not the last holder is blamed (the
 * old rule): no one is, the partial goes, and a single holder starts
 * again from zero.  The hostile one, sending all of it wrong, is then
 * blamed, and the honest one delivers.
 */
START_TEST(test_mixed_blames_no_one)
{
	struct t t;
	size_t len = 30000;
	uint8_t *data = random_data(len), *junk = random_data(len);

	t_init(&t, 5000);
	read_start(&t, data, len);
	ck_assert_int_eq(next_ask(&t, 2000), 0);
	offer(&t, 0, 1, len);
	send_range(&t, 0, 1, junk, 0, len / 2, 0);
	xfer_net_control(t.x, 0, 1, TOX_FILE_CONTROL_CANCEL);	/* it stops */
	ck_assert_int_eq(next_ask(&t, 2000), 1);
	offer(&t, 1, 2, len);
	pthread_mutex_lock(&stub_lock);
	ck_assert_uint_eq(stub_seek_to, len / 2);
	pthread_mutex_unlock(&stub_lock);
	send_range(&t, 1, 2, data, len / 2, len, 1);
	/* failed: nobody blamed, from zero; the first holder asked again */
	ck_assert_int_eq(partials(&t), 0);
	ck_assert_int_eq(asked_now(&t), 0);
	offer(&t, 0, 3, len);
	send_range(&t, 0, 3, junk, 0, len, 1);
	/* it alone sent that: blamed; the honest one is asked */
	ck_assert_int_eq(asked_now(&t), 1);
	offer(&t, 1, 4, len);
	send_range(&t, 1, 4, data, 0, len, 1);
	ck_assert_int_eq(read_end(&t), 0);
	ck_assert_int_eq(store_has(t.st, t.sha), 1);
	t_done(&t);
	free(data);
	free(junk);
}
END_TEST

/*
 * Wrong bytes kept from before (a restart) and right ones from a holder:
 * the check fails, but that holder is not blamed; it is asked again, from
 * zero, and delivers.
 */
START_TEST(test_unknown_prefix)
{
	struct t t;
	size_t len = 30000;
	uint8_t *data = random_data(len), *junk = random_data(len), sha[32];

	t_init(&t, 5000);
	crypto_hash_sha256(sha, data, len);
	leave_partial(&t, sha, junk, 10000);
	read_start(&t, data, len);
	ck_assert_int_eq(next_ask(&t, 2000), 0);
	offer(&t, 0, 1, len);
	send_range(&t, 0, 1, data, 10000, len, 1);
	ck_assert_int_eq(partials(&t), 0);
	ck_assert_int_eq(asked_now(&t), 0);
	pthread_mutex_lock(&stub_lock);
	stub_seeks = 0;
	pthread_mutex_unlock(&stub_lock);
	offer(&t, 0, 2, len);
	pthread_mutex_lock(&stub_lock);
	ck_assert_int_eq(stub_seeks, 0);
	pthread_mutex_unlock(&stub_lock);
	send_range(&t, 0, 2, data, 0, len, 1);
	ck_assert_int_eq(read_end(&t), 0);
	ck_assert_int_eq(store_has(t.st, t.sha), 1);
	t_done(&t);
	free(data);
	free(junk);
}
END_TEST

static int seeks(uint64_t *to)
{
	int n;

	pthread_mutex_lock(&stub_lock);
	n = stub_seeks;
	if (to != NULL)
		*to = stub_seek_to;
	pthread_mutex_unlock(&stub_lock);
	return n;
}

/* A check fails with bytes of unknown origin; then holder 0, from zero,
   sends the first 12000 bytes of data and stops. */
static void fail_then_stop(struct t *t, const uint8_t *data, const uint8_t *junk, size_t len)
{
	uint8_t sha[32];
	int n;

	crypto_hash_sha256(sha, data, len);
	leave_partial(t, sha, junk, 10000);
	read_start(t, data, len);
	ck_assert_int_eq(next_ask(t, 2000), 0);
	offer(t, 0, 1, len);
	send_range(t, 0, 1, data, 10000, len, 1);
	ck_assert_int_eq(asked_now(t), 0);
	n = seeks(NULL);
	offer(t, 0, 2, len);
	ck_assert_int_eq(seeks(NULL), n);
	send_range(t, 0, 2, data, 0, 12000, 0);
	xfer_net_control(t->x, 0, 2, TOX_FILE_CONTROL_CANCEL);
}

/*
 * After a failed check, a holder that stopped half-way is not continued
 * by another: the next one starts from zero, so that a second failure
 * has a single holder to blame.
 */
START_TEST(test_solo_other_from_zero)
{
	struct t t;
	size_t len = 30000;
	uint8_t *data = random_data(len), *junk = random_data(len);
	int n;

	t_init(&t, 5000);
	fail_then_stop(&t, data, junk, len);
	ck_assert_int_eq(next_ask(&t, 2000), 1);
	n = seeks(NULL);
	offer(&t, 1, 3, len);
	ck_assert_int_eq(seeks(NULL), n);
	send_range(&t, 1, 3, data, 0, len, 1);
	ck_assert_int_eq(read_end(&t), 0);
	ck_assert_int_eq(store_has(t.st, t.sha), 1);
	t_done(&t);
	free(data);
	free(junk);
}
END_TEST

/* ... while the holder that supplied every byte so far goes on from them. */
START_TEST(test_solo_same_goes_on)
{
	struct t t;
	size_t len = 30000;
	uint8_t *data = random_data(len), *junk = random_data(len);
	uint64_t to;
	int n;

	t_init(&t, 5000);
	fail_then_stop(&t, data, junk, len);
	ck_assert_int_eq(next_ask(&t, 2000), 1);
	xfer_net_notice(t.x, t.tox, 1, NET_XFER_NOPE, t.sha, 32);	/* 1 holds none */
	ck_assert_int_eq(next_ask(&t, 3000), 0);
	n = seeks(NULL);
	offer(&t, 0, 3, len);
	ck_assert_int_eq(seeks(&to), n + 1);
	ck_assert_uint_eq(to, 12000);
	send_range(&t, 0, 3, data, 12000, len, 1);
	ck_assert_int_eq(read_end(&t), 0);
	ck_assert_int_eq(store_has(t.st, t.sha), 1);
	t_done(&t);
	free(data);
	free(junk);
}
END_TEST

static Suite *xfer_suite(void)
{
	Suite *s = suite_create("xfer");
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, base_make, base_remove);
	tcase_add_test(tc, test_whole);
	tcase_add_test(tc, test_no_room);
	tcase_add_test(tc, test_resume_partial);
	tcase_add_test(tc, test_wrong_bytes);
	tcase_add_test(tc, test_wrong_size_offer);
	tcase_add_test(tc, test_past_size);
	tcase_add_test(tc, test_blame_rule);
	tcase_add_test(tc, test_mixed_blames_no_one);
	tcase_add_test(tc, test_unknown_prefix);
	tcase_add_test(tc, test_solo_other_from_zero);
	tcase_add_test(tc, test_solo_same_goes_on);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(xfer_suite());
}
