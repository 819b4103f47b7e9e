/*
 * layer_harness.h - the harness of the channel-layer conformance suite:
 * the backend factory description, a uv loop per test with "run until"
 * waits guarded by a timer, and counting receivers (layer_harness.c), and
 * the parts of the suite, one file each. The files of the suite's
 * executable share check.h's counters (CHECK_SHARED_COUNTERS).
 */
#ifndef TESTS_UNIT_CHANNELS_LAYER_HARNESS_H
#define TESTS_UNIT_CHANNELS_LAYER_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "check.h"
#include "layer.h"

struct backend_factory {
	const char *name;
	struct layer *(*make)(uv_loop_t *loop, const struct layer_config *cfg);
	bool has_capacity;            /* ECHANFULL is enforced per channel */
	bool has_expiry;              /* queued messages expire after cfg.expiry */
	bool has_group_expiry;        /* memberships expire after cfg.group_expiry */
	bool expiry_leaves_groups;    /* an expired unread message removes its channel from
				       * all groups (Channels' InMemoryChannelLayer) */
	bool queues_without_receiver; /* a message waits for a later receiver */
	bool shares_sender_msg;       /* receivers get the very json_t that was sent */
	bool bang_channel_names;      /* new_channel() gives "<prefix>.<tag>!<random>" */
	unsigned timeout_ms;          /* how long a positive wait may take */
	unsigned settle_ms;           /* how long to wait to assert that nothing arrives */
	const char *needs_env;        /* if set, the test is skipped (77) when this
				       * environment variable is unset (e.g. a Redis URL) */
};

/* ---- harness ---------------------------------------------------------- */

struct t {
	uv_loop_t loop;
	struct layer *l;
	const struct backend_factory *bf;
	uv_timer_t guard;     /* ends a wait that took too long */
	uv_prepare_t prepare; /* checks the wait's condition before each poll */
	bool (*cond)(void *);
	void *cond_arg;
	bool timed_out;
	int base_handles; /* the layer's own, counted right after creation */
};

/* Creates the test's loop and its layer (bf->make(), cfg may be NULL),
 * checking the layer was made; counts the layer's own handles. */
void t_init(struct t *t, const struct backend_factory *bf, const struct layer_config *cfg);
/* Runs the loop until cond(arg) holds (true) or timeout_ms passed (false).
 * With cond NULL, just runs for timeout_ms. */
bool run_until(struct t *t, bool (*cond)(void *), void *arg, unsigned timeout_ms);
void run_for(struct t *t, unsigned ms);
/* Checks that only the layer's own handles are open, frees the layer, runs
 * the loop once and checks uv_loop_close() == 0. */
void t_finish(struct t *t);

/* ---- receivers -------------------------------------------------------- */

#define RX_KEEP 64

/* The receive callbacks on the stack now, and the most ever (on_rx()). */
extern int cb_depth, cb_max_depth;

struct rx {
	struct t *t;
	int count;
	json_t *msgs[RX_KEEP]; /* own references to the first RX_KEEP messages */
	char channel[LAYER_NAME_MAX];
	void (*hook)(struct rx *r, json_t *msg); /* optional, runs inside the callback */
	void *hook_arg;
};

/* The layer receiver callback; `ud` is a struct rx: keeps the first
 * RX_KEEP messages, the last channel, and runs the hook. */
void on_rx(void *ud, const char *channel, json_t *msg);
/* Drops the kept messages and the count. */
void rx_release(struct rx *r);
/* Message i's "n" and "type". */
long long rx_n(const struct rx *r, int i);
const char *rx_type(const struct rx *r, int i);

/* Conditions for run_until(). */
struct want {
	struct rx *rx;
	int n;      /* number of receivers in rx[] */
	int count;  /* each must have at least this many */
};

/* arg: struct want; true once each receiver has its count. */
bool cond_counts(void *arg);
/* arg: two receivers; true once either got a message. */
bool cond_any(void *arg);
/* arg: struct t; true once its layer was freed. */
bool cond_freed(void *arg);
/* Runs until `r` got `count` messages, at most the backend's timeout. */
bool wait_count(struct t *t, struct rx *r, int count);
/* {"type": type, "n": n} (new reference). */
json_t *msg_new(const char *type, int n);
struct layer_stats stats(struct t *t);

/* ---- the suite's parts (one file each), run by test_layer_conformance.c's main */

/* conformance_channels.c: names, messages, channels, capacity, expiry */
void test_defaults(const struct backend_factory *bf);
void test_names(const struct backend_factory *bf);
void test_messages(const struct backend_factory *bf);
void test_send_receive(const struct backend_factory *bf);
void test_ordering(const struct backend_factory *bf);
void test_wait_for_receiver(const struct backend_factory *bf);
void test_capacity(const struct backend_factory *bf);
void test_expiry(const struct backend_factory *bf);
void test_new_channel(const struct backend_factory *bf);
void test_receiver_name(const struct backend_factory *bf);
/* conformance_groups.c: groups, fan-out, group expiry, flush */
void test_expiry_leaves_groups(const struct backend_factory *bf);
void test_groups(const struct backend_factory *bf);
void test_group_fanout(const struct backend_factory *bf);
void test_group_skips_full(const struct backend_factory *bf);
void test_group_expiry(const struct backend_factory *bf);
void test_flush(const struct backend_factory *bf);
/* conformance_reentry.c: the layer called from inside its callbacks, and
 * from other threads */
void test_remove_in_callback(const struct backend_factory *bf);
void test_send_in_callback(const struct backend_factory *bf);
void test_free_with_pending(const struct backend_factory *bf);
void test_threadsafe(const struct backend_factory *bf);

/* conformance_policy.c: the one record of membership, the one delivery
 * policy, the delivery-round hook */
void test_group_discard_all(const struct backend_factory *bf);
void test_input_done(const struct backend_factory *bf);
void test_round_hook(const struct backend_factory *bf);

#endif
