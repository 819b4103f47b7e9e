/*
 * consumer.h - the C face of Channels' WebSocket consumers.
 *
 * A consumer class is a static const table: optional callbacks plus a table
 * of channel-layer message handlers keyed by "type". One struct consumer
 * exists per WebSocket connection; it owns a per-connection state block of
 * `state_size` bytes (zeroed), a unique channel name on the layer (the
 * layer records the groups it joined), its timers and its offloaded jobs.
 *
 *   static const struct consumer_handler room_handlers[] = {
 *       {"chat.message", chat_message},
 *       {NULL, NULL},
 *   };
 *   const struct consumer_class room_consumer = {
 *       .name = "RoomConsumer",
 *       .state_size = sizeof(struct room),
 *       .json = true,
 *       .on_connect = room_connect,
 *       .on_receive_json = room_receive,
 *       .handlers = room_handlers,
 *   };
 *
 * Threading: every callback runs on the connection's loop thread and must
 * not block (use consumer_offload()). Every function here must be called
 * on that thread.
 *
 * Lifetime: the struct consumer and its state stay valid from on_connect
 * until on_disconnect returns; after that no callback of the class fires
 * for this connection (timers are stopped, layer messages are dropped, and
 * offloaded jobs complete with c == NULL).
 *
 * The server talks to a consumer through consumer_open() / consumer_receive()
 * / consumer_closed() and gives it a transport; tests give it a fake one.
 */
#ifndef CONSUMERS_CONSUMER_H
#define CONSUMERS_CONSUMER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "error.h"
#include "layer.h"

/* WebSocket close codes used by the framework (RFC 6455 and registry). */
enum consumer_close_code {
	CLOSE_NORMAL = 1000,
	CLOSE_GOING_AWAY = 1001,       /* server shutdown */
	CLOSE_PROTOCOL_ERROR = 1002,   /* malformed frames, or frames before the 101 */
	CLOSE_UNSUPPORTED_DATA = 1003, /* binary frame to a JSON consumer */
	CLOSE_INVALID_PAYLOAD = 1007,  /* invalid UTF-8, or invalid JSON for a JSON consumer */
	CLOSE_POLICY = 1008,           /* rate limit exceeded */
	CLOSE_TOO_BIG = 1009,          /* message over the size limit */
	CLOSE_INTERNAL_ERROR = 1011,   /* consumer error (e.g. no handler for a message type) */
	CLOSE_TRY_AGAIN_LATER = 1013,  /* slow consumer: send queue over its limit */
};

struct consumer;

/*
 * A message frame shared by reference between connections (the broadcast
 * fast path): `headroom` bytes are reserved before the payload so the
 * transport can prepend protocol framing in place (>= LWS_PRE).
 */
#define CONSUMER_FRAME_HEADROOM 16

struct consumer_frame {
	unsigned refs;    /* loop thread only: a plain counter */
	bool binary;
	size_t len;       /* payload bytes */
	unsigned char buf[]; /* CONSUMER_FRAME_HEADROOM + len (+1 NUL) bytes */
};

/* A new frame with refs == 1 holding a copy of `data` (with data NULL: room
 * for `len` bytes, to be filled by the caller). NULL on ENOMEM. */
struct consumer_frame *consumer_frame_new(const void *data, size_t len, bool binary);
static inline unsigned char *consumer_frame_payload(struct consumer_frame *f)
{
	return f->buf + CONSUMER_FRAME_HEADROOM;
}
static inline struct consumer_frame *consumer_frame_ref(struct consumer_frame *f)
{
	f->refs++;
	return f;
}
void consumer_frame_unref(struct consumer_frame *f);

/* What the framework needs from a connection. `conn` is the transport's own. */
struct consumer_transport {
	/* Queues a frame; takes a reference. 0, or CH_EQUEUE / CH_ECLOSED. */
	int (*send)(void *conn, struct consumer_frame *f);
	/* Starts the closing handshake with `code` and `reason` (may be NULL).
	 * The transport later calls consumer_closed(). */
	void (*close)(void *conn, int code, const char *reason);
};

/*
 * The connection's scope (Channels' self.scope) as the server hands it to
 * consumer_open(): every member malloc'd (or a jansson reference) and owned
 * by the struct. consumer_open() packs the strings into the consumer's own
 * allocation and frees them, so a connection holds its scope in one block;
 * consumer classes read it with the consumer_scope_*() accessors below.
 */
struct consumer_scope {
	char *path;          /* request path, decoded */
	char *query_string;  /* raw, "" when none */
	char *client_addr;   /* peer IP */
	char *subprotocols;  /* the client's Sec-WebSocket-Protocol header, NULL when none */
	char *headers;       /* packed "name\0value\0...\0" (lower-case names, then an
	                        empty name); read with consumer_scope_header() */
	json_t *kwargs;      /* url_route kwargs from the URL router (an object); NULL when
	                        none. Members with an empty key are dropped. */
	json_t *session;     /* the signed session cookie's data; NULL when none */
	char *username;      /* the user's name, NULL when none (the server asks the
	                        app's identity hook: server.h) */
	bool is_authenticated; /* as that hook says; false without one */
};

/* Frees the members (not the struct). */
void consumer_scope_clear(struct consumer_scope *s);

/*
 * The scope of a consumer, valid (and unchanged) from on_connect until
 * on_disconnect returns. Strings are never NULL ("" when the server gave
 * none) except consumer_scope_subprotocols(); borrowed from the consumer.
 */
const char *consumer_scope_path(const struct consumer *c);
const char *consumer_scope_query_string(const struct consumer *c);
const char *consumer_scope_client_addr(const struct consumer *c);
/* The client's Sec-WebSocket-Protocol header, or NULL when it sent none. */
const char *consumer_scope_subprotocols(const struct consumer *c);

/* A request header of the handshake (lower-case `name`), or NULL. */
const char *consumer_scope_header(const struct consumer *c, const char *name);

/* The handshake's cookies as a new JSON object (parsed on each call). */
json_t *consumer_scope_cookies(const struct consumer *c);

/* A url_route kwarg, or NULL when the route captured no `name`: a string
 * value as is; any other value (an <int:...> converter's integer) as its
 * compact JSON text ("42"). */
const char *consumer_scope_kwarg(const struct consumer *c, const char *name);

/* All url_route kwargs as a new JSON object (built on each call; empty when
 * none), with the values the router produced (strings, integers). */
json_t *consumer_scope_kwargs(const struct consumer *c);

/* The session's data (borrowed, immutable), or NULL when there is none. */
json_t *consumer_scope_session(const struct consumer *c);

/* The user is authenticated, as the app's identity hook says (server.h). */
bool consumer_is_authenticated(const struct consumer *c);

struct consumer_handler {
	const char *type;  /* exact message type, e.g. "chat.message" */
	void (*fn)(struct consumer *c, json_t *msg); /* msg borrowed, immutable */
};

struct consumer_class {
	const char *name;
	size_t state_size;
	/* true: a JSON consumer (AsyncJsonWebsocketConsumer): text frames are
	 * decoded and given to on_receive_json; invalid JSON closes 1007 and a
	 * binary frame closes 1003. false: on_receive gets the raw frames. */
	bool json;
	/* NULL-terminated group names joined before on_connect and left on
	 * disconnect (Channels' `groups` attribute). May be NULL. */
	const char *const *groups;
	/* NULL-terminated subprotocols this class can accept. May be NULL. */
	const char *const *subprotocols;

	/* Fires once, first. Must decide before returning: consumer_accept()
	 * or consumer_close() (a handshake rejected with HTTP 403). Absent:
	 * the connection is accepted. Returning without deciding rejects. */
	void (*on_connect)(struct consumer *c);
	/* A complete text (UTF-8 checked) or binary message; non-JSON classes. */
	void (*on_receive)(struct consumer *c, const char *data, size_t len, bool binary);
	/* A decoded JSON message (borrowed); JSON classes. */
	void (*on_receive_json)(struct consumer *c, json_t *content);
	/* Fires once, last, with the close code (1006 when the peer vanished).
	 * Every group the channel is in (`groups`, consumer_group_add()) is
	 * left after it returns. */
	void (*on_disconnect)(struct consumer *c, int code);
	/* {type, fn} pairs ending with {NULL, NULL}. A message whose type has
	 * no handler closes the connection with 1011, as Channels raises. */
	const struct consumer_handler *handlers;
};

/* ---- the consumer's API (for consumer classes) ---- */

void *consumer_state(struct consumer *c);
const char *consumer_channel_name(const struct consumer *c);
/* The user's display name from the scope ("" when it has none). */
const char *consumer_username(const struct consumer *c);
struct layer *consumer_layer(struct consumer *c);
uv_loop_t *consumer_loop(struct consumer *c);

/* Accepts the handshake, optionally choosing one of the client's offered
 * subprotocols that the class lists (NULL: the class's choice,
 * consumer_class_subprotocol()); CH_EINVAL for one not offered or not
 * listed. Only inside on_connect. */
int consumer_accept(struct consumer *c, const char *subprotocol);
/* Closes (or, inside on_connect before accept, rejects with HTTP 403). */
int consumer_close(struct consumer *c, int code, const char *reason);

int consumer_send_text(struct consumer *c, const char *text, size_t len);
int consumer_send_bytes(struct consumer *c, const void *data, size_t len);
/* Encodes `content` compactly. When `content` is the layer message being
 * dispatched right now, the encoded frame is shared by every connection of
 * this worker it is sent to in this delivery round (encoded once). Does not steal `content`.
 * CH_EINVAL for a document nested over 64 levels (the decoder of
 * received JSON accepts 2048: do not echo a client's document blindly). */
int consumer_send_json(struct consumer *c, json_t *content);

/*
 * Sends the object made of the `fields` (NULL-terminated) of `msg` that are
 * present, e.g. {"message", "username", NULL} to forward a chat message
 * without its "type". When `msg` is the layer message being dispatched now,
 * the object is encoded once per message and the frame shared by every
 * connection it is forwarded to (`fields` must then be a static array:
 * it is part of the cache key). Does not steal `msg`.
 */
int consumer_forward_json(struct consumer *c, json_t *msg, const char *const *fields);

/* layer_group_add() / layer_group_discard() for the consumer's channel;
 * CH_ECLOSED once the consumer is gone, else the layer's code unchanged. */
int consumer_group_add(struct consumer *c, const char *group);
int consumer_group_discard(struct consumer *c, const char *group);
/* layer_group_send() / layer_send() on the consumer's layer; their codes
 * are passed on unchanged (CH_ECHANFULL: that channel holds `capacity`
 * messages; CH_ELOCAL: this process's members got it, other processes did
 * not). */
int consumer_group_send(struct consumer *c, const char *group, json_t *msg);
int consumer_channel_send(struct consumer *c, const char *channel, json_t *msg);

/* Timers owned by the consumer: cancelled on disconnect. `repeat_ms` 0 =
 * one-shot. Returns a positive id, or a negative error. */
typedef void (*consumer_timer_cb)(struct consumer *c, void *arg);
int consumer_timer_start(struct consumer *c, uint64_t timeout_ms, uint64_t repeat_ms,
			 consumer_timer_cb cb, void *arg);
int consumer_timer_stop(struct consumer *c, int id);

/*
 * Runs work(arg) on the thread pool, then done(c, arg) on the loop thread.
 * If the connection closed meanwhile, done is called with c == NULL (free
 * `arg` there). Every offload's done fires exactly once.
 */
typedef void (*consumer_work_cb)(void *arg);
typedef void (*consumer_done_cb)(struct consumer *c, void *arg);
int consumer_offload(struct consumer *c, consumer_work_cb work, consumer_done_cb done, void *arg);

/* ---- the server's side ---- */

/* The decision on_connect took. */
/*
 * The one place a subprotocol is decided. With `want` NULL: the first
 * subprotocol in `offered` (the client's Sec-WebSocket-Protocol value, a
 * comma-separated list; NULL when none) that `cls` lists, or NULL. With
 * `want`: `want` itself (the class's own string) when it is offered and
 * the class lists it, else NULL. Names compare exactly: they are
 * registered strings, not HTTP tokens. The handshake refuses (400) a
 * client that offers some but none the class lists; consumer_accept()
 * takes the consumer's pick through here.
 */
const char *consumer_class_subprotocol(const struct consumer_class *cls, const char *offered,
				       const char *want);

struct consumer_open_result {
	bool accepted;
	int close_code;            /* when rejected */
	const char *subprotocol;   /* when accepted: the one decided (consumer_class_subprotocol),
	                              borrowed from the class; or NULL */
};

/*
 * What the consumers of one loop thread share: its layer, their count and
 * the broadcast cache (the frames encoded from the layer message being
 * delivered, shared by every member it is forwarded to). One per worker
 * (loop thread), made by the worker and passed to consumer_open(); loop
 * thread only.
 *
 * The cache needs no end-of-turn call: consumer_worker_new() sets the
 * layer's delivery-round hook (layer_round_hook_set()), and the cache is
 * emptied when each round ends, so it holds at most one round's messages
 * and each message is encoded once per round (a group message reaches all
 * of a worker's members in one round). The worker owns that hook while it
 * lives: nothing else may set one on `layer`.
 */
struct consumer_worker;

/* A worker's consumer state on `layer` (borrowed: it must outlive the
 * worker). NULL on ENOMEM. */
struct consumer_worker *consumer_worker_new(struct layer *layer);

/* After its last consumer was freed (consumer_closed()), before
 * layer_free(): removes the hook and frees the cache. NULL is a no-op. */
void consumer_worker_free(struct consumer_worker *w);

/* Consumers opened on `w` and not yet freed (tests, metrics). */
unsigned consumer_worker_count(const struct consumer_worker *w);

/*
 * Creates the consumer for a new connection on worker `w` (its layer and
 * loop) and runs on_connect. Takes ownership of `scope`'s members (the
 * struct is zeroed). On return `res` says whether to complete the
 * handshake. A rejected consumer must still be ended with
 * consumer_closed(). NULL on ENOMEM (the scope is cleared).
 */
struct consumer *consumer_open(const struct consumer_class *cls, struct consumer_scope *scope,
			       struct consumer_worker *w, const struct consumer_transport *tp,
			       void *conn, struct consumer_open_result *res);

/* A complete message from the client. Closes the connection itself on
 * invalid input (1007/1003). */
void consumer_receive(struct consumer *c, const char *data, size_t len, bool binary);

/* The connection is gone: runs on_disconnect (if accepted), leaves every
 * group its channel is in (layer_group_discard_all()),
 * stops timers, orphans offloads, and frees the consumer. `c` is invalid
 * after this returns. */
void consumer_closed(struct consumer *c, int code);

#endif
