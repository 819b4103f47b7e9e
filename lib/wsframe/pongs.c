/*
 * pongs.c - the pongs owed to a client (see wsframe.h): server pong frames
 * kept in order in one buffer that grows with them, up to
 * WSFRAME_PONGS_MAX_BYTES.
 */
#include <stdlib.h>
#include <string.h>

#include "wsframe.h"

_Static_assert(WSFRAME_PONGS_MAX_BYTES <= UINT16_MAX && WSFRAME_PONGS_MAX <= UINT16_MAX,
	       "struct wsframe_pongs counts in 16 bits");

int wsframe_pongs_add(struct wsframe_pongs **qp, const unsigned char *payload, size_t len)
{
	struct wsframe_pongs *q = *qp;
	size_t n = q ? q->n : 0, used = q ? q->len : 0;
	size_t need = used + 2 + len; /* a pong of <= 125 bytes has a 2-byte header */
	if (len > 125)
		return CH_EPROTO; /* not the payload of a valid ping */
	if (n + 1 > WSFRAME_PONGS_MAX || need > WSFRAME_PONGS_MAX_BYTES)
		return CH_EQUEUE;
	if (!q || need > q->cap) {
		size_t cap = q ? (size_t)q->cap * 2 : 128;
		while (cap < need)
			cap *= 2;
		if (cap > WSFRAME_PONGS_MAX_BYTES)
			cap = WSFRAME_PONGS_MAX_BYTES;
		struct wsframe_pongs *b = realloc(q, sizeof(*b) + cap);
		if (!b)
			return CH_ENOMEM;
		if (!q)
			b->n = b->len = 0;
		b->cap = (uint16_t)cap;
		*qp = q = b;
	}
	unsigned char *p = q->data + q->len;
	size_t h = wsframe_header(p, WSFRAME_OP_PONG, len);
	if (len)
		memcpy(p + h, payload, len);
	q->len = (uint16_t)need;
	q->n++;
	return 0;
}

void wsframe_pongs_free(struct wsframe_pongs **qp)
{
	free(*qp);
	*qp = NULL;
}
