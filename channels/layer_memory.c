/*
 * layer_memory.c - the in-memory backend (Channels' InMemoryChannelLayer).
 *
 * Data model. A `chan` exists while it has a receiver, queued messages or a
 * group membership; a `group` exists while it has members. Both live in a
 * string hash table. A `member` joins one group and one channel and sits in
 * both of their (doubly linked) lists, so group_send walks its members and
 * pushes onto each member's channel without any lookup, and discard/expiry
 * unlink in O(1) per membership.
 *
 * Queues. Each channel has a ring buffer of (message, expiry time) entries,
 * grown by doubling up to `capacity`. An entry owns one json_incref() of the
 * shared, immutable message: group_send to N members is N ring pushes and N
 * increfs of the same json_t, no other allocation once rings are warm.
 *
 * Delivery. A channel with queued messages and a receiver sits on the
 * `pending` list; otherwise on the `waiting` list if it has queued messages.
 * A uv_idle handle, started only while `pending` is non-empty, delivers in
 * batches. Why uv_idle: it costs no syscall to arm (uv_async writes an
 * eventfd, a 0 ms uv_timer goes through the timer heap), it keeps the loop
 * from blocking in poll while work is pending (uv_check would not: a send
 * from a timer callback would wait for the next I/O event), and it runs
 * once per loop iteration, so everything queued during one iteration goes
 * out in one batch on the next, right before the loop polls again. Each
 * batch hands a channel at most the messages it held when its turn came:
 * a handler that sends to its own channel gets that message next turn.
 *
 * Expiry. Times are the loop's cached clock (uv_now). Expired entries are a
 * prefix of each ring; they are dropped on send, on delivery and by an
 * unref'd sweep timer that walks only the `waiting` list. As in Channels,
 * a channel whose queued message expires unread (it has no receiver) is
 * removed from all its groups. Group memberships expire lazily: checked by
 * group_send (as Channels does) and refreshed by group_add.
 *
 * Reentrancy. A channel being delivered is marked `busy` and never freed
 * until its batch step ends, so a callback may remove its own receiver,
 * flush, or free the layer (teardown is then deferred to the end of the
 * batch). A group being walked by group_send is `busy` the same way.
 */
#include "layer_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

struct list {
	struct list *prev, *next;
};

struct entry {
	json_t *msg;      /* one owned reference */
	uint64_t expires; /* uv_now() ms */
};

enum chan_where { ON_NONE, ON_PENDING, ON_WAITING };

struct member {
	struct member *gprev, *gnext; /* the group's members */
	struct member *cprev, *cnext; /* the channel's memberships */
	struct group *group;
	struct chan *chan;
	uint64_t joined; /* uv_now() ms of the last group_add */
};

/* A channel's queue: allocated with the first message queued on the
 * channel and kept (with its ring) until the channel is freed, so an idle
 * channel costs no queue and a busy one no allocation per message. */
struct chan_queue {
	struct list link;         /* on m->pending (or the batch) or m->waiting */
	struct chan *chan;
	unsigned head, count, size;
	struct entry ring[];      /* `size` entries */
};

/* One per channel name with a receiver, messages or memberships (one per
 * connection): kept small. */
struct chan {
	struct layer__hnode node; /* key = name */
	layer_message_cb cb;      /* NULL: no receiver */
	void *ud;
	struct chan_queue *q;     /* NULL until a message was queued */
	struct member *members;
	uint8_t where;            /* enum chan_where; q->link is on that list */
	bool busy;                /* being delivered: do not free */
	char name[];
};

struct group {
	struct layer__hnode node;
	struct member *members;
	unsigned count;
	bool busy; /* being walked by group_send: do not free */
	char name[];
};

struct mem_layer {
	struct layer base; /* first */
	struct layer__hash chans, groups;
	struct list pending, waiting, batch;
	uv_idle_t deliver; /* active iff `pending` is non-empty */
	uv_timer_t sweep;  /* unref'd; active while `waiting` is non-empty */
	uint64_t expiry_ms, group_expiry_ms;
	bool delivering;   /* inside on_deliver() */
	bool torn_down;
	unsigned long n_members; /* group memberships, for layer_stats */
};

static void on_deliver(uv_idle_t *h);
static void on_sweep(uv_timer_t *t);

#define CONTAINER(ptr, type, field) ((type *)(void *)((char *)(ptr) - offsetof(type, field)))

static unsigned queued(const struct chan *c)
{
	return c->q ? c->q->count : 0;
}

static void list_init(struct list *h)
{
	h->prev = h->next = h;
}

static bool list_empty(const struct list *h)
{
	return h->next == h;
}

static void list_del(struct list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

static void list_add_tail(struct list *h, struct list *n)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

/* Moves every node of `from` to the end of `to`. */
static void list_splice(struct list *from, struct list *to)
{
	if (list_empty(from))
		return;
	from->next->prev = to->prev;
	to->prev->next = from->next;
	from->prev->next = to;
	to->prev = from->prev;
	list_init(from);
}

static struct chan *chan_find(struct mem_layer *m, const char *name)
{
	struct layer__hnode *n = layer__hash_find(&m->chans, name, layer__hash_str(name));

	return n ? CONTAINER(n, struct chan, node) : NULL;
}

static struct chan *chan_get(struct mem_layer *m, const char *name)
{
	struct chan *c = chan_find(m, name);
	size_t len;

	if (c)
		return c;
	len = strlen(name);
	c = calloc(1, sizeof(*c) + len + 1);
	if (!c)
		return NULL;
	memcpy(c->name, name, len + 1);
	layer__hash_insert(&m->chans, &c->node);
	return c;
}

/* Frees `c` if nothing needs it any more. */
static void chan_maybe_free(struct mem_layer *m, struct chan *c)
{
	if (c->busy || c->cb || queued(c) || c->members)
		return;
	if (c->q)
		list_del(&c->q->link);
	layer__hash_remove(&m->chans, &c->node);
	free(c->q);
	free(c);
}

/* Puts `c` on the list matching its state; arms the handles. */
static void chan_update_list(struct mem_layer *m, struct chan *c)
{
	uint8_t want = queued(c) == 0 ? ON_NONE : c->cb ? ON_PENDING : ON_WAITING;

	if (want == c->where)
		return;
	list_del(&c->q->link); /* where != want: c has had messages, so c->q exists */
	c->where = want;
	if (want == ON_PENDING) {
		list_add_tail(&m->pending, &c->q->link);
		if (!m->delivering && !uv_is_active((uv_handle_t *)&m->deliver))
			uv_idle_start(&m->deliver, on_deliver);
	} else if (want == ON_WAITING) {
		list_add_tail(&m->waiting, &c->q->link);
		if (!uv_is_active((uv_handle_t *)&m->sweep)) {
			uint64_t iv = m->expiry_ms < 10 ? 10 : m->expiry_ms;
			uv_timer_start(&m->sweep, on_sweep, iv, iv);
		}
	}
}

/* `c` has queued messages. */
static struct entry ring_pop(struct chan *c)
{
	struct chan_queue *q = c->q;
	struct entry e = q->ring[q->head];

	if (++q->head == q->size)
		q->head = 0;
	q->count--;
	return e;
}

/* Drops every queued message of `c`; returns how many. */
static unsigned chan_drop_all(struct mem_layer *m, struct chan *c)
{
	unsigned n = queued(c);

	while (queued(c))
		json_decref(ring_pop(c).msg);
	m->base.stats.dropped += n;
	return n;
}

/* Drops the expired prefix of `c`'s queue; returns how many. */
static unsigned chan_drop_expired(struct mem_layer *m, struct chan *c, uint64_t now)
{
	unsigned n = 0;

	while (queued(c) && c->q->ring[c->q->head].expires <= now) {
		json_decref(ring_pop(c).msg);
		n++;
	}
	m->base.stats.dropped += n;
	return n;
}

static struct group *group_find(struct mem_layer *m, const char *name)
{
	struct layer__hnode *n = layer__hash_find(&m->groups, name, layer__hash_str(name));

	return n ? CONTAINER(n, struct group, node) : NULL;
}

static void group_free(struct mem_layer *m, struct group *g)
{
	layer__hash_remove(&m->groups, &g->node);
	free(g);
}

/* Unlinks and frees one membership; frees its group if left empty (and not
 * busy). Never frees the channel: callers decide with chan_maybe_free(). */
static void member_del(struct mem_layer *m, struct member *mem)
{
	struct group *g = mem->group;
	struct chan *c = mem->chan;

	if (mem->gprev)
		mem->gprev->gnext = mem->gnext;
	else
		g->members = mem->gnext;
	if (mem->gnext)
		mem->gnext->gprev = mem->gprev;
	if (mem->cprev)
		mem->cprev->cnext = mem->cnext;
	else
		c->members = mem->cnext;
	if (mem->cnext)
		mem->cnext->cprev = mem->cprev;
	free(mem);
	m->n_members--;
	if (--g->count == 0 && !g->busy)
		group_free(m, g);
}

/* Channels: a channel with an expired message leaves all its groups. */
static void chan_leave_groups(struct mem_layer *m, struct chan *c)
{
	while (c->members)
		member_del(m, c->members);
}

/* Creates or doubles c->q (the queue moves: its list links follow it). */
static int ring_grow(struct mem_layer *m, struct chan *c)
{
	struct chan_queue *q = c->q, *nq;
	unsigned size = q ? q->size * 2 : 4, i;

	if (size > m->base.cfg.capacity)
		size = m->base.cfg.capacity;
	nq = malloc(sizeof(*nq) + size * sizeof(nq->ring[0]));
	if (!nq)
		return CH_ENOMEM;
	nq->chan = c;
	nq->head = 0;
	nq->size = size;
	nq->count = q ? q->count : 0;
	for (i = 0; i < nq->count; i++)
		nq->ring[i] = q->ring[(q->head + i) % q->size];
	if (c->where != ON_NONE) {
		nq->link = q->link;
		nq->link.prev->next = &nq->link;
		nq->link.next->prev = &nq->link;
	} else {
		list_init(&nq->link);
	}
	free(q);
	c->q = nq;
	return 0;
}

/* chan_push() for a group member that just left its groups. */
#define PUSH_LEFT_GROUPS 1

/*
 * Queues one reference to `msg` on `c`. May make `c` leave its groups (an
 * expired message), which frees memberships but never `c` itself; then, for
 * a group send, returns PUSH_LEFT_GROUPS without queueing (Channels cleans
 * expired channels out of groups before sending to them).
 */
static int chan_push(struct mem_layer *m, struct chan *c, json_t *msg, uint64_t now,
		     bool group)
{
	struct chan_queue *q;
	unsigned idx;

	if (queued(c) && c->q->ring[c->q->head].expires <= now && chan_drop_expired(m, c, now) &&
	    !c->cb) {
		chan_leave_groups(m, c);
		if (group)
			return PUSH_LEFT_GROUPS;
	}
	if (queued(c) >= m->base.cfg.capacity) {
		m->base.stats.dropped++;
		return CH_ECHANFULL;
	}
	if ((!c->q || c->q->count == c->q->size) && ring_grow(m, c) != 0)
		return CH_ENOMEM;
	q = c->q;
	idx = q->head + q->count;
	if (idx >= q->size)
		idx -= q->size;
	q->ring[idx].msg = json_incref(msg);
	q->ring[idx].expires = now + m->expiry_ms;
	q->count++;
	chan_update_list(m, c);
	return 0;
}

static void mem_teardown(struct mem_layer *m)
{
	struct layer__hnode *n, *next;
	struct member *mem, *mnext;
	size_t i;

	if (m->torn_down)
		return;
	m->torn_down = true;
	for (i = 0; i <= m->groups.mask; i++) {
		for (n = m->groups.buckets[i]; n; n = next) {
			struct group *g = CONTAINER(n, struct group, node);

			next = n->next;
			for (mem = g->members; mem; mem = mnext) {
				mnext = mem->gnext;
				free(mem);
			}
			free(g);
		}
	}
	for (i = 0; i <= m->chans.mask; i++) {
		for (n = m->chans.buckets[i]; n; n = next) {
			struct chan *c = CONTAINER(n, struct chan, node);

			next = n->next;
			while (queued(c))
				json_decref(ring_pop(c).msg);
			free(c->q);
			free(c);
		}
	}
	layer__hash_destroy(&m->groups);
	layer__hash_destroy(&m->chans);
	list_init(&m->pending);
	list_init(&m->waiting);
	list_init(&m->batch);
}

static void on_deliver(uv_idle_t *h);

static void mem_deliver(struct layer *l)
{
	struct mem_layer *m = (struct mem_layer *)l;
	if (!m->delivering && !list_empty(&m->pending))
		on_deliver(&m->deliver);
}

/* One batch: every channel pending when the loop turn started. */
static void on_deliver(uv_idle_t *h)
{
	struct mem_layer *m = h->data;
	uint64_t now = uv_now(m->base.loop);

	list_splice(&m->pending, &m->batch);
	m->delivering = true;
	while (!list_empty(&m->batch) && !m->base.closing) {
		struct chan *c = CONTAINER(m->batch.next, struct chan_queue, link)->chan;
		unsigned n = queued(c);

		list_del(&c->q->link);
		c->where = ON_NONE;
		c->busy = true;
		while (n-- > 0 && queued(c) && c->cb && !m->base.closing) {
			struct entry e = ring_pop(c);

			if (e.expires <= now) {
				m->base.stats.dropped++;
			} else {
				m->base.stats.delivered++;
				c->cb(c->ud, c->name, e.msg);
			}
			json_decref(e.msg);
		}
		c->busy = false;
		if (m->base.closing)
			break;
		chan_update_list(m, c);
		chan_maybe_free(m, c);
	}
	if (m->base.closing) {
		m->delivering = false;
		mem_teardown(m);
		return;
	}
	layer__round_end(&m->base); /* still `delivering`: layer_deliver() is a no-op */
	m->delivering = false;
	if (list_empty(&m->pending))
		uv_idle_stop(h);
}

static void on_sweep(uv_timer_t *t)
{
	struct mem_layer *m = t->data;
	uint64_t now = uv_now(m->base.loop);
	struct list *it, *next;

	for (it = m->waiting.next; it != &m->waiting; it = next) {
		struct chan *c = CONTAINER(it, struct chan_queue, link)->chan;

		next = it->next;
		if (chan_drop_expired(m, c, now) && !c->cb)
			chan_leave_groups(m, c);
		chan_update_list(m, c);
		chan_maybe_free(m, c);
	}
	if (list_empty(&m->waiting))
		uv_timer_stop(t);
}

static int mem_send(struct layer *l, const char *channel, json_t *msg)
{
	struct mem_layer *m = (struct mem_layer *)l;
	struct chan *c = chan_get(m, channel);
	int rc;

	if (!c)
		return CH_ENOMEM;
	rc = chan_push(m, c, msg, uv_now(l->loop), false);
	if (rc != 0)
		chan_maybe_free(m, c);
	return rc;
}

static struct member *membership(struct chan *c, struct group *g)
{
	struct member *mem;

	for (mem = c->members; mem; mem = mem->cnext)
		if (mem->group == g)
			return mem;
	return NULL;
}

static int mem_group_add(struct layer *l, const char *group, const char *channel)
{
	struct mem_layer *m = (struct mem_layer *)l;
	struct group *g = group_find(m, group);
	struct member *mem;
	struct chan *c;
	size_t len;

	if (!g) {
		len = strlen(group);
		g = calloc(1, sizeof(*g) + len + 1);
		if (!g)
			return CH_ENOMEM;
		memcpy(g->name, group, len + 1);
		layer__hash_insert(&m->groups, &g->node);
	}
	c = chan_get(m, channel);
	mem = c ? membership(c, g) : NULL;
	if (mem) {
		mem->joined = uv_now(l->loop);
		return 0;
	}
	mem = c ? calloc(1, sizeof(*mem)) : NULL;
	if (!mem) {
		if (c)
			chan_maybe_free(m, c);
		if (g->count == 0)
			group_free(m, g);
		return CH_ENOMEM;
	}
	mem->group = g;
	mem->chan = c;
	mem->joined = uv_now(l->loop);
	mem->gnext = g->members;
	if (g->members)
		g->members->gprev = mem;
	g->members = mem;
	g->count++;
	m->n_members++;
	mem->cnext = c->members;
	if (c->members)
		c->members->cprev = mem;
	c->members = mem;
	return 0;
}

static int mem_group_discard(struct layer *l, const char *group, const char *channel)
{
	struct mem_layer *m = (struct mem_layer *)l;
	struct group *g = group_find(m, group);
	struct chan *c = g ? chan_find(m, channel) : NULL;
	struct member *mem = c ? membership(c, g) : NULL;

	if (mem) {
		member_del(m, mem);
		chan_maybe_free(m, c);
	}
	return 0;
}

static int mem_group_discard_all(struct layer *l, const char *channel)
{
	struct mem_layer *m = (struct mem_layer *)l;
	struct chan *c = chan_find(m, channel);

	if (c && c->members) {
		chan_leave_groups(m, c);
		chan_maybe_free(m, c);
	}
	return 0;
}

const char *layer__memory_first_group(struct layer *l, const char *channel)
{
	struct chan *c = chan_find((struct mem_layer *)l, channel);

	return c && c->members ? c->members->group->name : NULL;
}

static int mem_group_send(struct layer *l, const char *group, json_t *msg)
{
	struct mem_layer *m = (struct mem_layer *)l;
	struct group *g = group_find(m, group);
	uint64_t now = uv_now(l->loop);
	struct member *mem, *next;
	struct chan *c;
	int rc;

	if (!g)
		return 0;
	g->busy = true;
	for (mem = g->members; mem; mem = next) {
		next = mem->gnext; /* chan_push() may free `mem`, never `next` */
		c = mem->chan;
		if (mem->joined + m->group_expiry_ms < now) {
			member_del(m, mem);
			chan_maybe_free(m, c);
			continue;
		}
		rc = chan_push(m, c, msg, now, true);
		if (rc == CH_ENOMEM)
			LOG(LOG_WARN, "channels", "group_send %s to %s: out of memory", group,
			    c->name);
		if (rc != 0)
			chan_maybe_free(m, c);
	}
	g->busy = false;
	if (g->count == 0)
		group_free(m, g);
	return 0;
}

static int mem_flush(struct layer *l)
{
	struct mem_layer *m = (struct mem_layer *)l;
	struct layer__hnode *n, *next;
	size_t i;

	for (i = 0; i <= m->chans.mask; i++) {
		for (n = m->chans.buckets[i]; n; n = next) {
			struct chan *c = CONTAINER(n, struct chan, node);

			next = n->next;
			chan_drop_all(m, c);
			chan_leave_groups(m, c);
			chan_update_list(m, c);
			chan_maybe_free(m, c);
		}
	}
	return 0;
}

static int mem_receiver_add(struct layer *l, const char *channel, layer_message_cb cb, void *ud)
{
	struct mem_layer *m = (struct mem_layer *)l;
	struct chan *c = chan_get(m, channel);

	if (!c)
		return CH_ENOMEM;
	if (c->cb)
		return CH_EEXIST;
	c->cb = cb;
	c->ud = ud;
	l->stats.receivers++;
	chan_update_list(m, c);
	return 0;
}

static int mem_receiver_remove(struct layer *l, const char *channel)
{
	struct mem_layer *m = (struct mem_layer *)l;
	struct chan *c = chan_find(m, channel);

	if (!c || !c->cb)
		return CH_ENOTFOUND;
	c->cb = NULL;
	c->ud = NULL;
	l->stats.receivers--;
	chan_drop_all(m, c);
	chan_update_list(m, c);
	chan_maybe_free(m, c);
	return 0;
}

static const char *mem_receiver_name(struct layer *l, const char *channel)
{
	struct chan *c = chan_find((struct mem_layer *)l, channel);

	return c && c->cb ? c->name : NULL;
}

static uint64_t name_salt;
static atomic_uint_fast64_t name_counter;
static uv_once_t name_once = UV_ONCE_INIT;

static void name_salt_init(void)
{
	name_salt = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&name_salt;
}

/* splitmix64's finalizer: a bijection, so distinct inputs give distinct names. */
static uint64_t mix64(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* "<prefix>.inmemory!" + 12 letters: a 64-bit value in base 52 (52^12 > 2^64),
 * unique in the process until the counter wraps. */
static int mem_new_channel(struct layer *l, const char *prefix, char *out, size_t outlen)
{
	static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	struct mem_layer *m = (struct mem_layer *)l;
	char rnd[13];
	uint64_t v;
	int i, n;

	uv_once(&name_once, name_salt_init);
	do {
		v = mix64(name_salt + atomic_fetch_add(&name_counter, 1));
		for (i = 0; i < 12; i++) {
			rnd[i] = letters[v % 52];
			v /= 52;
		}
		rnd[12] = '\0';
		n = snprintf(out, outlen, "%s.inmemory!%s", prefix, rnd);
		if (n < 0 || (size_t)n >= outlen)
			return CH_EINVAL;
	} while (chan_find(m, out));
	return 0;
}

static void mem_free(struct layer *l)
{
	struct mem_layer *m = (struct mem_layer *)l;

	layer__close_handle(l, (uv_handle_t *)&m->deliver);
	layer__close_handle(l, (uv_handle_t *)&m->sweep);
	if (!m->delivering)
		mem_teardown(m);
}

static void mem_stats(const struct layer *l, struct layer_stats *out)
{
	const struct mem_layer *m = (const struct mem_layer *)l;

	out->groups = (unsigned)m->groups.count;
	out->members = m->n_members;
}

unsigned layer__memory_group_size(struct layer *l, const char *group)
{
	struct group *g = group_find((struct mem_layer *)l, group);

	return g ? g->count : 0;
}

static const struct layer_ops mem_ops = {
	.name = "memory",
	.send = mem_send,
	.group_add = mem_group_add,
	.group_discard = mem_group_discard,
	.group_discard_all = mem_group_discard_all,
	.group_send = mem_group_send,
	.flush = mem_flush,
	.deliver = mem_deliver,
	.receiver_add = mem_receiver_add,
	.receiver_remove = mem_receiver_remove,
	.receiver_name = mem_receiver_name,
	.new_channel = mem_new_channel,
	.free = mem_free,
	.stats = mem_stats,
};

struct layer *layer_memory_new(uv_loop_t *loop, const struct layer_config *cfg)
{
	struct mem_layer *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	if (layer__hash_init(&m->chans, 256, LAYER__KEY_OFF(struct chan, node, name)) != 0)
		goto fail;
	if (layer__hash_init(&m->groups, 64, LAYER__KEY_OFF(struct group, node, name)) != 0)
		goto fail;
	if (layer__init(&m->base, &mem_ops, loop, cfg) != 0)
		goto fail;
	m->expiry_ms = layer__seconds_to_ms(m->base.cfg.expiry);
	m->group_expiry_ms = layer__seconds_to_ms(m->base.cfg.group_expiry);
	list_init(&m->pending);
	list_init(&m->waiting);
	list_init(&m->batch);
	/* Cannot fail once the loop is initialized. */
	uv_idle_init(loop, &m->deliver);
	m->deliver.data = m;
	uv_timer_init(loop, &m->sweep);
	m->sweep.data = m;
	uv_unref((uv_handle_t *)&m->sweep);
	return &m->base;
fail:
	layer__hash_destroy(&m->groups);
	layer__hash_destroy(&m->chans);
	free(m);
	return NULL;
}
