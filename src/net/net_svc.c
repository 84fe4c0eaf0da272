/*
 * net_svc.c: the service: the thread that answers members' requests and
 * notices (net_set_service()), and the replies and notices it hands back.
 */
#include "net_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static void svc_free(struct svc_item *it)
{
	while (it != NULL) {
		struct svc_item *next = it->next;

		free(it->body);
		free(it);
		it = next;
	}
}

/* Hand a request or notice to the service thread (net thread); the
   message's body moves to it. */
void net_svc_enqueue(struct net *n, uint32_t f, struct wire_msg *m)
{
	struct svc_item *it;
	int status = 0;

	pthread_mutex_lock(&n->slock);
	if (n->svc_fn == NULL)
		status = ENOSYS;
	else if (n->svc_n >= NET_SERVICE_QUEUE)
		status = EBUSY;
	else if ((it = calloc(1, sizeof(*it))) == NULL)
		status = ENOMEM;
	if (status == 0) {
		memcpy(it->peer, m->from, sizeof(it->peer));
		it->notice = m->type == WIRE_NOTICE;
		it->method = m->method;
		it->id = m->id;
		it->body = m->body;
		it->len = m->body_len;
		m->body = NULL;
		m->body_len = 0;
		if (n->svc_tail != NULL)
			n->svc_tail->next = it;
		else
			n->svc_in = it;
		n->svc_tail = it;
		n->svc_n++;
		pthread_cond_broadcast(&n->scond);
	}
	pthread_mutex_unlock(&n->slock);
	if (status != 0 && m->type == WIRE_REQUEST)
		net_q_reply(n, f, m, status, NULL, 0);
}

/* Stop the service thread; what waits for it or to be sent goes. */
void net_svc_stop(struct net *n)
{
	if (n->svc_started) {
		pthread_mutex_lock(&n->slock);
		n->svc_stop = 1;
		pthread_cond_broadcast(&n->scond);
		pthread_mutex_unlock(&n->slock);
		pthread_join(n->svc_thread, NULL);
		n->svc_started = 0;
	}
	svc_free(n->svc_in);
	n->svc_in = n->svc_tail = NULL;
	n->svc_n = 0;
	pthread_mutex_lock(&n->qlock);
	svc_free(n->out);
	n->out = NULL;
	pthread_mutex_unlock(&n->qlock);
}

/* Queue a reply or notice for the net thread to send (any thread). */
static void out_push(struct net *n, struct svc_item *it)
{
	pthread_mutex_lock(&n->qlock);
	it->next = n->out;
	n->out = it;
	pthread_mutex_unlock(&n->qlock);
	net_wake(n);
}

void *net_svc_main(void *arg)
{
	struct net *n = arg;

	pthread_mutex_lock(&n->slock);
	for (;;) {
		struct svc_item *it;
		net_service_fn fn;
		void *ctx;
		uint8_t *reply = NULL;
		size_t reply_len = 0;
		int r;

		while (n->svc_in == NULL && !n->svc_stop)
			pthread_cond_wait(&n->scond, &n->slock);
		if (n->svc_stop)
			break;
		it = n->svc_in;
		if ((n->svc_in = it->next) == NULL)
			n->svc_tail = NULL;
		n->svc_n--;
		fn = n->svc_fn;
		ctx = n->svc_ctx;
		if (fn == NULL) {
			pthread_mutex_unlock(&n->slock);
			if (!it->notice) {
				it->status = ENOSYS;
				free(it->body);
				it->body = NULL;
				it->len = 0;
				out_push(n, it);
			} else {
				svc_free(it);
			}
			pthread_mutex_lock(&n->slock);
			continue;
		}
		n->svc_busy = 1;
		pthread_mutex_unlock(&n->slock);
		it->next = NULL;
		r = fn(ctx, it->peer, it->method, it->notice, it->body, it->len, &reply, &reply_len);
		free(it->body);
		it->body = NULL;
		if (it->notice) {
			free(reply);
			free(it);
		} else {
			it->status = (uint16_t)(r < 0 ? -r : 0);
			it->body = r < 0 ? (free(reply), NULL) : reply;
			it->len = r < 0 ? 0 : reply_len;
			out_push(n, it);
		}
		pthread_mutex_lock(&n->slock);
		n->svc_busy = 0;
		pthread_cond_broadcast(&n->scond);
	}
	pthread_mutex_unlock(&n->slock);
	return NULL;
}

void net_set_service(struct net *n, net_service_fn fn, void *ctx)
{
	pthread_mutex_lock(&n->slock);
	/* The old one may be in use: it is done with once this returns. */
	while (n->svc_busy)
		pthread_cond_wait(&n->scond, &n->slock);
	n->svc_fn = fn;
	n->svc_ctx = ctx;
	pthread_mutex_unlock(&n->slock);
}

int net_notify(struct net *n, const uint8_t *to, const uint8_t *skip, uint16_t method,
	       const uint8_t *body, size_t len)
{
	struct svc_item *it;

	if (len > NET_BODY_MAX)
		return -EMSGSIZE;
	if (__atomic_load_n(&n->stop, __ATOMIC_ACQUIRE))
		return -ESHUTDOWN;
	if ((it = calloc(1, sizeof(*it))) == NULL || (len > 0 && (it->body = malloc(len)) == NULL)) {
		free(it);
		return -ENOMEM;
	}
	it->notice = 1;
	it->all = to == NULL;
	if (to != NULL)
		memcpy(it->peer, to, sizeof(it->peer));
	if ((it->has_skip = skip != NULL))
		memcpy(it->skip, skip, sizeof(it->skip));
	it->method = method;
	if (len > 0)
		memcpy(it->body, body, len);
	it->len = len;
	out_push(n, it);
	return 0;
}

size_t net_linked(struct net *n, uint8_t (*pks)[IDENT_KEY_BYTES], size_t max)
{
	size_t k;

	pthread_mutex_lock(&n->lock);
	k = n->nlinked;
	for (size_t i = 0; i < k && i < max; i++)
		memcpy(pks[i], n->linked[i], IDENT_KEY_BYTES);
	pthread_mutex_unlock(&n->lock);
	return k;
}

/* Send what the service queued (net thread). */
void net_svc_take_out(struct net *n)
{
	struct svc_item *it, *rev = NULL;

	pthread_mutex_lock(&n->qlock);
	it = n->out;
	n->out = NULL;
	pthread_mutex_unlock(&n->qlock);
	while (it != NULL) {	/* oldest first */
		struct svc_item *next = it->next;

		it->next = rev;
		rev = it;
		it = next;
	}
	for (it = rev; it != NULL; it = it->next) {
		struct wire_msg m = { 0 };

		m.type = it->notice ? WIRE_NOTICE : WIRE_REPLY;
		m.method = it->method;
		m.status = it->status;
		m.id = it->id;
		memcpy(m.from, n->self, WIRE_KEY_BYTES);
		m.resource = (char *)"";
		m.body = it->body;
		m.body_len = it->len;
		for (uint32_t f = 0; f < FRIENDS_MAX; f++) {
			struct peer *p = &n->fr[f];

			if (!p->up || !p->proven || !p->sent)
				continue;
			if (it->all ? it->has_skip && memcmp(p->pk, it->skip, WIRE_KEY_BYTES) == 0
				    : memcmp(p->pk, it->peer, WIRE_KEY_BYTES) != 0)
				continue;
			if (!it->notice && net_q_cancelled(p, it->id)) {
				pthread_mutex_lock(&n->lock);
				n->snap.cancelled++;
				n->snap.cancelled_bytes += it->len;
				pthread_mutex_unlock(&n->lock);
				break;
			}
			memcpy(m.to, p->pk, WIRE_KEY_BYTES);
			if (!it->notice && p->queued > QUEUE_MAX) {
				m.status = ENOBUFS;
				m.body_len = 0;
			}
			net_q_msg(n, f, &m);
			if (!it->all)
				break;
		}
	}
	svc_free(rev);
}
