/*
 * consumer_int.h - what the files of consumers/ share (private to the
 * folder): the layout of struct consumer and its packed scope, its states,
 * and the calls one file of the folder makes into another. Loop thread
 * only.
 */
#ifndef CONSUMERS_CONSUMER_INT_H
#define CONSUMERS_CONSUMER_INT_H

#include "consumer.h"

#include <stdalign.h>
#include <stddef.h>

struct timer;
struct job;

/*
 * One per worker (loop thread): what the consumers of that loop share.
 * Owned by whoever made it (consumer_worker_new(): the server's worker, a
 * test's environment); every consumer opened on it points to it. Loop
 * thread only.
 *
 * The broadcast cache: frames encoded from the layer messages dispatched
 * in the current delivery round, keyed by (message, fields), and each
 * message's type and handler. The layer hands each channel all its queued
 * messages in turn (A, B, ... to the first member, then A, B, ... to the
 * next), so the cache holds a whole round's messages: an open-addressing
 * table (linear probing) that doubles while a round fills it past half.
 * It is emptied by the layer's round hook (layer_round_hook_set()) when
 * the round ends, so its entries live exactly as long as the round that
 * made them and nobody calls anything at the end of a turn. An entry holds
 * a reference to its message, so a pointer cannot be reused while cached.
 * If the table cannot grow, messages are simply encoded again (correct,
 * slower).
 */
struct cache_entry;

struct consumer_worker {
	struct layer *layer;
	unsigned live;            /* consumers opened on it and not yet freed */
	/* the message being dispatched now, and its cache entry while
	 * dispatch_gen == cache_gen */
	json_t *dispatching;
	struct cache_entry *dispatch_entry;
	unsigned dispatch_gen;
	unsigned cache_gen;       /* changes whenever entries move or go */
	struct cache_entry *cache;
	unsigned *cache_used;     /* slots in use, to empty them */
	unsigned cache_cap, cache_n;
};

/* What few consumers use, allocated on first use. */
struct consumer_extra {
	json_t *session;          /* owned; NULL when none */
	char *channel;            /* a copy of the channel name when the layer keeps none */
	struct timer *timers;
	struct job *jobs;
	const char *subprotocol; /* the accepted one: the class's string (consumer_class_subprotocol) */
	int next_timer_id;
};

/* Where a consumer is in its life (struct consumer.state). */
enum consumer_state_kind {
	CONSUMER__ST_CONNECTING, /* inside on_connect, not decided */
	CONSUMER__ST_OPEN,       /* accepted */
	CONSUMER__ST_REJECTED,   /* rejected in on_connect */
	CONSUMER__ST_CLOSING,    /* consumer_close() called after accept; waiting for the
				  * transport */
	CONSUMER__ST_GONE,       /* consumer_closed() ran; freed as soon as no callback is
				  * on the stack */
};

/*
 * One per connection, in ONE allocation with its state block and its scope
 * (a server holds tens of thousands of these): `data` holds `state_size`
 * bytes of class state, then the packed strings, each NUL-terminated:
 *
 *	username, path, query_string, client_addr,
 *	[subprotocols, when has_subprotocols],
 *	kwargs: (name, tag + value)* then "" (tag 's': a string; 'j': JSON text),
 *	headers: (name, value)* then "" (coded: see known_names[] and
 *	known_values[] in consumer_scope.c).
 */
struct consumer {
	const struct consumer_class *cls;
	struct layer *layer;  /* w->layer, on the consumer's loop: layer_loop() */
	struct consumer_worker *w; /* its worker's shared state (borrowed) */
	const struct consumer_transport *tp;
	void *conn;
	/* The layer's copy of the channel name (layer_receiver_name()) while the
	 * receiver is registered, else extra->channel, else "". */
	const char *channel;
	struct consumer_extra *extra; /* NULL until needed */
	uint16_t reject_code;
	uint16_t busy;        /* callbacks of the class on the stack */
	uint8_t state;        /* enum consumer_state_kind */
	bool receiving;       /* registered as the layer receiver of the channel */
	bool is_authenticated;
	bool has_subprotocols;
	alignas(max_align_t) unsigned char data[];
};

/* ---- consumer.c ---- */

/* The consumer's extra block, allocated on first use; NULL on ENOMEM. */
struct consumer_extra *consumer__extra(struct consumer *c);

/* Around every call into the class: a consumer closed meanwhile is freed
 * by the leave that ends the last such call. consumer__leave() returns
 * false when `c` is gone (freed or closed): the caller must not use it. */
static inline void consumer__enter(struct consumer *c)
{
	c->busy++;
}
bool consumer__leave(struct consumer *c);

/* ---- consumer_send.c ---- */

/*
 * Queues `f` on the consumer's transport (the transport takes its own
 * reference; the caller keeps its). CH_ESTATE before accept,
 * CH_ECLOSED once closing; CH_EQUEUE when the send queue is
 * over its limit, and then the consumer is closed (slow consumer, logged
 * rate-limited).
 */
int consumer__send_frame(struct consumer *c, struct consumer_frame *f);

/*
 * A new text frame of `content` (or its projection on `fields`, may be
 * NULL) with one reference for the caller; NULL with *err CH_EINVAL
 * (not encodable: nested over 64 levels) or CH_ENOMEM.
 */
struct consumer_frame *consumer__frame_from_json(json_t *content, const char *const *fields,
						 int *err);

/* ---- consumer_dispatch.c ---- */

/*
 * The layer receiver of every consumer (`ud` is the consumer): calls the
 * class's handler for the message's "type" (closing 1011 when there is
 * none), while sends of that same message share one encoded frame.
 */
void consumer__on_layer_message(void *ud, const char *channel, json_t *msg);

/* ---- consumer_timer.c, consumer_offload.c ---- */

/* Stops and releases every timer of `x` (their callbacks never run again). */
void consumer__timers_release(struct consumer_extra *x);
/* Detaches every job of `x` from its consumer: its done callback will get
 * a NULL consumer. */
void consumer__jobs_detach(struct consumer_extra *x);

/* ---- consumer_scope.c ---- */

/*
 * A new consumer of `cls` (malloc'd: header and state block zeroed, `cls`
 * set, the strings of `scope` packed after the state block; the session
 * and the other fields are left to the caller). `scope` is not changed.
 * NULL on ENOMEM.
 */
struct consumer *consumer__alloc(const struct consumer_class *cls,
				 const struct consumer_scope *scope);

/*
 * jsonenc.c: writes what json_dumpb(v, JSON_COMPACT | JSON_ENCODE_ANY)
 * would (for documents nested at most 64 levels; deeper ones are refused
 * where jansson would write them), or with `fields` (NULL-terminated) the
 * object `v` reduced to those keys in that order (missing ones left out,
 * repeats ignored), into `buf`. Returns the full length (the output is cut
 * at `cap` when longer: call again with a buffer that large), or 0 when `v`
 * cannot be encoded (NULL, nested over 64 levels, `fields` given and `v`
 * not an object).
 */
size_t consumer__json_encode(json_t *v, const char *const *fields, char *buf, size_t cap);

/*
 * jsondec.c: parses `len` bytes as json_loadb(JSON_DECODE_ANY) would (same
 * documents accepted, same values built; except that a NUL byte right after
 * a number or literal is refused, where jansson drops it), faster on small
 * documents.
 * Returns a new reference, or NULL with *err (may be NULL) set to a static
 * reason.
 */
json_t *consumer__json_decode(const char *data, size_t len, const char **err);

#endif
