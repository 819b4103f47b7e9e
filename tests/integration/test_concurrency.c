/*
 * test_concurrency.c - views run on the thread pool: a view that blocks
 * (GET /_test/sleep/<ms>/, enabled by --test-views 1) delays neither
 * WebSocket traffic nor other requests.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "harness.h"

struct slow_request {
	const struct h_server *s;
	const char *path;
	pthread_t thread;
	int rc;
	int status;
	char body[64];
	int64_t started, finished;
	atomic_bool done;
};

static void *slow_thread(void *arg)
{
	struct slow_request *q = arg;
	struct client_response r;
	q->started = h_now_ms();
	q->rc = h_http(q->s, "GET", q->path, NULL, NULL, NULL, 0, &r);
	q->finished = h_now_ms();
	q->status = r.status;
	snprintf(q->body, sizeof(q->body), "%s", r.body ? r.body : "");
	client_response_clear(&r);
	atomic_store(&q->done, true);
	return NULL;
}

static int slow_start(struct slow_request *q, const struct h_server *s, const char *path)
{
	memset(q, 0, sizeof(*q));
	q->s = s;
	q->path = path;
	atomic_init(&q->done, false);
	return pthread_create(&q->thread, NULL, slow_thread, q);
}

static void test_ws_during_view(const struct h_server *s)
{
	struct client_ws *a = NULL, *b = NULL;
	CHECK_INT(h_ws_open(s, "/ws/chat/lobby/", NULL, NULL, &a, NULL), 0);
	CHECK_INT(h_ws_open(s, "/ws/chat/lobby/", NULL, NULL, &b, NULL), 0);
	if (!a || !b)
		goto out;
	/* Warm up: both joined the group. */
	CHECK_INT(h_chat_roundtrip(a, b, "warm up", 3000), 0);

	struct slow_request q;
	CHECK_INT(slow_start(&q, s, "/_test/sleep/2000/"), 0);
	int in_flight = 0, slow = 0;
	int64_t worst = 0;
	/* Round trips until the view has answered, paced under the rate limit. */
	for (int i = 0; !atomic_load(&q.done) && i < 400; i++) {
		char text[32];
		snprintf(text, sizeof(text), "ping %d", i);
		int64_t t0 = h_now_ms();
		int rc = h_chat_roundtrip(a, b, text, 3000);
		int64_t took = h_now_ms() - t0;
		CHECK_INT(rc, 0);
		if (took > worst)
			worst = took;
		if (took >= 300) {
			slow++;
			fprintf(stderr, "round trip %d took %lld ms while the view slept\n", i,
				(long long)took);
		}
		if (!atomic_load(&q.done))
			in_flight++;
		h_sleep_ms(20);
	}
	pthread_join(q.thread, NULL);
	fprintf(stderr, "%d round trips while the view slept, worst %lld ms\n", in_flight,
		(long long)worst);
	CHECK_INT(slow, 0);
	CHECK(in_flight >= 20);
	CHECK_INT(q.rc, 0);
	CHECK_INT(q.status, 200);
	CHECK_STR(q.body, "slept 2000 ms\n");
	CHECK(q.finished - q.started >= 2000);
out:
	client_ws_free(a);
	client_ws_free(b);
}

static void test_http_during_views(const struct h_server *s)
{
	/* One sleeping view: the other pool threads still answer at once. */
	struct slow_request q;
	CHECK_INT(slow_start(&q, s, "/_test/sleep/1000/"), 0);
	h_sleep_ms(50); /* pacing: let the request reach the pool first */
	int64_t t0 = h_now_ms();
	CHECK_INT(h_healthz(s), 0);
	int64_t took = h_now_ms() - t0;
	if (took >= 500)
		fprintf(stderr, "/healthz took %lld ms next to a sleeping view\n", (long long)took);
	CHECK(took < 500);
	CHECK(!atomic_load(&q.done));
	pthread_join(q.thread, NULL);
	CHECK_INT(q.status, 200);

	/* Every pool thread asleep (--view-threads 4): static files are served
	 * by the loop and do not wait for them. */
	struct slow_request all[4];
	for (int i = 0; i < 4; i++)
		CHECK_INT(slow_start(&all[i], s, "/_test/sleep/1000/"), 0);
	h_sleep_ms(100);
	struct client_response r;
	t0 = h_now_ms();
	CHECK_INT(h_http(s, "GET", "/static/css/site.css", NULL, NULL, NULL, 0, &r), 0);
	took = h_now_ms() - t0;
	CHECK_INT(r.status, 200);
	client_response_clear(&r);
	if (took >= 500)
		fprintf(stderr, "a static file took %lld ms with the pool busy\n", (long long)took);
	CHECK(took < 500);
	bool any_done = false;
	for (int i = 0; i < 4; i++)
		any_done = any_done || atomic_load(&all[i].done);
	CHECK(!any_done);
	for (int i = 0; i < 4; i++) {
		pthread_join(all[i].thread, NULL);
		CHECK_INT(all[i].status, 200);
	}
}

int main(int argc, char **argv)
{
	struct h_server s;
	h_init(argc, argv, &check_failed);

	const char *threads[] = {"--view-threads", "4", NULL};
	if (h_server_start(&s, threads) == 0) {
		test_ws_during_view(&s);
		test_http_during_views(&s);
		CHECK_INT(h_server_stop(&s), 0);
	} else {
		CHECK(!"server started");
	}
	return check_finish();
}
