/*
 * fake_transport.h - an in-process stand-in for a WebSocket connection,
 * for driving consumers without a server: it records every frame the
 * consumer sends (taking a reference) and every close it asks for, and can
 * refuse sends or end the consumer synchronously from its close.
 *
 * Also a tiny test environment: a uv loop and an in-memory channel layer,
 * torn down with checks that nothing is left (consumers, handles).
 *
 * Everything runs on the test's main thread.
 */
#ifndef TESTS_UNIT_CONSUMERS_FAKE_TRANSPORT_H
#define TESTS_UNIT_CONSUMERS_FAKE_TRANSPORT_H

#include <stdbool.h>
#include <uv.h>

#include "consumer.h"
#include "layer.h"

#define FAKE_MAX_FRAMES 64

struct fake_conn {
	struct consumer *c;     /* NULL once consumer_closed() ran */
	struct consumer_frame *frames[FAKE_MAX_FRAMES]; /* one reference each */
	int nframes;
	int send_rc;            /* nonzero: send refuses with this, keeps nothing */
	int send_calls;
	int closes;             /* close() calls */
	int close_code;         /* of the last close() */
	char reason[128];
	bool close_sync;        /* close() calls consumer_closed(c, code) at once */
	struct consumer_open_result res;
};

extern const struct consumer_transport fake_transport;

struct test_env;

/* Opens a consumer of `cls` on `fc` with `scope` (may be NULL: empty), on
 * the environment's worker. */
struct consumer *fake_open(struct fake_conn *fc, const struct consumer_class *cls,
			   struct consumer_scope *scope, struct test_env *e);

/* consumer_closed(fc->c, code) if it is still open. */
void fake_end(struct fake_conn *fc, int code);

/* Drops the recorded frames. */
void fake_clear(struct fake_conn *fc);

/* The payload of frame `i` as a C string (frames are NUL-terminated). */
const char *fake_text(struct fake_conn *fc, int i);

/* Frame `i` decoded as JSON (new reference), NULL when absent or invalid. */
json_t *fake_json(struct fake_conn *fc, int i);

struct test_env {
	uv_loop_t loop;
	struct layer *layer;
	struct consumer_worker *cw; /* the consumers' worker state on `layer` */
};

void env_init(struct test_env *e);
/* Frees the worker state and the layer and drains the loop; reports what
 * is left: consumers (consumer_worker_count()) and uv_loop_close()'s result (0: no handle left). */
void env_teardown(struct test_env *e, unsigned *consumers_left, int *loop_close_rc);

/* The end of every test (in the test's file, whose check.h counters count). */
#define ENV_FINISH(e)                                                   \
	do {                                                            \
		unsigned env_left_;                                     \
		int env_rc_;                                            \
		env_teardown((e), &env_left_, &env_rc_);                \
		CHECK_INT(env_left_, 0);                                \
		CHECK_INT(env_rc_, 0);                                  \
	} while (0)

/* `n` non-blocking turns of the loop (the layer delivers one batch per turn). */
void env_spin(struct test_env *e, int n);

/* Runs the loop (blocking) until *flag >= target or `ms` milliseconds passed. */
void env_run_until(struct test_env *e, const volatile int *flag, int target, uint64_t ms);

/* Runs the loop for `ms` milliseconds (a timer of its own keeps it alive). */
void env_run_for(struct test_env *e, uint64_t ms);

/* Builds {"type": type, ...more} (new reference); `more` may be NULL. */
json_t *msg_new(const char *type, const char *key, const char *value);

#endif
