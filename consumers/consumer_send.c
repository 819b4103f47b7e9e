/*
 * consumer_send.c - frames and the sends of a consumer: text, bytes, and
 * the one place a frame goes to the transport (where a full send queue
 * closes a slow consumer).
 */
#include "consumer_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ---- frames ---- */

struct consumer_frame *consumer_frame_new(const void *data, size_t len, bool binary)
{
	struct consumer_frame *f = malloc(sizeof(*f) + CONSUMER_FRAME_HEADROOM + len + 1);
	if (!f)
		return NULL;
	f->refs = 1;
	f->binary = binary;
	f->len = len;
	if (len && data)
		memcpy(consumer_frame_payload(f), data, len);
	consumer_frame_payload(f)[len] = '\0';
	return f;
}

void consumer_frame_unref(struct consumer_frame *f)
{
	assert(f->refs > 0);
	if (--f->refs == 0)
		free(f);
}

/* Encodes `content` (or its projection on `fields`) once into a scratch
 * buffer and copies it into a new frame; only a document larger than the
 * scratch buffer is encoded again, straight into its frame. NULL with *err
 * CH_EINVAL (not encodable: nested over 64 levels) or
 * CH_ENOMEM. */
struct consumer_frame *consumer__frame_from_json(json_t *content, const char *const *fields,
						 int *err)
{
	static _Thread_local char scratch[16 * 1024];
	size_t n = consumer__json_encode(content, fields, scratch, sizeof(scratch));
	*err = CH_EINVAL;
	if (n == 0)
		return NULL;
	*err = CH_ENOMEM;
	if (n <= sizeof(scratch))
		return consumer_frame_new(scratch, n, false);
	struct consumer_frame *f = consumer_frame_new(NULL, n, false);
	if (f &&
	    consumer__json_encode(content, fields, (char *)consumer_frame_payload(f), n) != n) {
		consumer_frame_unref(f);
		return NULL;
	}
	return f;
}

/* ---- sending ---- */

int consumer__send_frame(struct consumer *c, struct consumer_frame *f)
{
	if (c->state != CONSUMER__ST_OPEN)
		return c->state == CONSUMER__ST_CONNECTING ? CH_ESTATE : CH_ECLOSED;
	int rc = c->tp->send(c->conn, f);
	if (rc == CH_EQUEUE) {
		static struct log_limit lim_slow = LOG_LIMIT_INIT(10);
		LOG_LIMITED(&lim_slow, LOG_WARN, "consumer", "%s %s: send queue full, closing (slow consumer)",
		    c->cls->name, consumer_channel_name(c));
		c->state = CONSUMER__ST_CLOSING;
		c->tp->close(c->conn, CLOSE_TRY_AGAIN_LATER, "slow consumer");
	}
	return rc;
}

static int send_copy(struct consumer *c, const void *data, size_t len, bool binary)
{
	if (c->state != CONSUMER__ST_OPEN)
		return c->state == CONSUMER__ST_CONNECTING ? CH_ESTATE : CH_ECLOSED;
	struct consumer_frame *f = consumer_frame_new(data, len, binary);
	if (!f)
		return CH_ENOMEM;
	int rc = consumer__send_frame(c, f);
	consumer_frame_unref(f);
	return rc;
}

int consumer_send_text(struct consumer *c, const char *text, size_t len)
{
	return send_copy(c, text, len, false);
}

int consumer_send_bytes(struct consumer *c, const void *data, size_t len)
{
	return send_copy(c, data, len, true);
}

