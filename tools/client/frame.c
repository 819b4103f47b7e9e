/*
 * frame.c - RFC 6455 frame header decoding and message assembly (headers
 * are written by lib/wsframe, UTF-8 checked by lib/text). Pure: no I/O.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "client_int.h"
#include "text.h"

static bool is_control(int opcode)
{
	return (opcode & 0x8) != 0;
}

static bool opcode_known(int opcode)
{
	switch (opcode) {
	case WSFRAME_OP_CONT:
	case WSFRAME_OP_TEXT:
	case WSFRAME_OP_BINARY:
	case WSFRAME_OP_CLOSE:
	case WSFRAME_OP_PING:
	case WSFRAME_OP_PONG:
		return true;
	default:
		return false;
	}
}

int client_frame_header_decode(const uint8_t *buf, size_t len, struct client_frame_header *h)
{
	size_t need = 2;
	uint64_t plen;

	if (len < 2)
		return 0;
	h->fin = (buf[0] & 0x80) != 0;
	h->rsv = (buf[0] >> 4) & 0x7;
	h->opcode = buf[0] & 0x0f;
	h->masked = (buf[1] & 0x80) != 0;
	plen = buf[1] & 0x7f;
	if (h->rsv || !opcode_known(h->opcode))
		return CH_EPROTO;
	if (is_control(h->opcode) && (!h->fin || plen > 125))
		return CH_EPROTO;
	if (plen == 126)
		need += 2;
	else if (plen == 127)
		need += 8;
	if (h->masked)
		need += 4;
	if (len < need)
		return 0;
	if (plen == 126) {
		plen = (uint64_t)buf[2] << 8 | buf[3];
		if (plen <= 125)
			return CH_EPROTO;
	} else if (plen == 127) {
		plen = 0;
		for (int i = 0; i < 8; i++)
			plen = plen << 8 | buf[2 + i];
		if ((plen >> 63) || plen <= 0xffff)
			return CH_EPROTO;
	}
	if (h->masked)
		memcpy(h->mask, buf + need - 4, 4);
	else
		memset(h->mask, 0, 4);
	h->payload_len = plen;
	h->header_len = need;
	return (int)need;
}

void client_frame_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset)
{
	uint8_t m[4];
	for (int i = 0; i < 4; i++)
		m[i] = mask[(offset + (uint64_t)i) & 3];
	wsframe_unmask(data, len, m);
}

int client_close_parse(const uint8_t *p, size_t len, int *code)
{
	int c;

	if (len == 0) {
		*code = 1005;
		return 0;
	}
	if (len == 1)
		return CH_EPROTO;
	c = p[0] << 8 | p[1];
	if (c < 1000 || c >= 5000 || c == 1004 || c == 1005 || c == 1006 || c == 1015)
		return CH_EPROTO;
	if (!text_utf8_valid(p + 2, len - 2))
		return CH_EPROTO;
	*code = c;
	return 0;
}

static int asm_append(struct client_assembler *a, const uint8_t *p, size_t n)
{
	size_t max = a->max_len ? a->max_len : CLIENT_MAX_MESSAGE;

	if (n > max || a->msg.len > max - n)
		return CH_EPROTO;
	return text_buf_append(&a->msg, p, n) ? CH_ENOMEM : 0;
}

/* Hands the assembled buffer to `msg` and resets the assembler. */
static int asm_take(struct client_assembler *a, struct client_ws_message *msg)
{
	char *data = text_buf_take(&a->msg, &msg->len); /* "" when empty */

	if (!data)
		return CH_ENOMEM;
	msg->opcode = a->opcode;
	msg->data = data;
	msg->close_code = 0;
	a->opcode = 0;
	return CLIENT_ASM_MESSAGE;
}

int client_assembler_feed(struct client_assembler *a, const struct client_frame_header *h,
			   const uint8_t *payload, struct client_ws_message *msg)
{
	size_t n = (size_t)h->payload_len;
	int rc, code;

	switch (h->opcode) {
	case WSFRAME_OP_PING:
		return CLIENT_ASM_PING;
	case WSFRAME_OP_PONG:
		return CLIENT_ASM_PONG;
	case WSFRAME_OP_CLOSE: {
		char *reason;

		rc = client_close_parse(payload, n, &code);
		if (rc)
			return rc;
		reason = malloc(n > 2 ? n - 1 : 1);
		if (!reason)
			return CH_ENOMEM;
		if (n > 2)
			memcpy(reason, payload + 2, n - 2);
		reason[n > 2 ? n - 2 : 0] = '\0';
		msg->opcode = WSFRAME_OP_CLOSE;
		msg->data = reason;
		msg->len = n > 2 ? n - 2 : 0;
		msg->close_code = code;
		return CLIENT_ASM_CLOSE;
	}
	case WSFRAME_OP_TEXT:
	case WSFRAME_OP_BINARY:
		if (a->opcode)
			return CH_EPROTO;
		a->opcode = h->opcode;
		text_buf_reset(&a->msg);
		break;
	case WSFRAME_OP_CONT:
		if (!a->opcode)
			return CH_EPROTO;
		break;
	default:
		return CH_EPROTO;
	}
	rc = asm_append(a, payload, n);
	if (rc)
		return rc;
	if (!h->fin)
		return CLIENT_ASM_MORE;
	if (a->opcode == WSFRAME_OP_TEXT && !text_utf8_valid(a->msg.data, a->msg.len))
		return CH_EPROTO;
	return asm_take(a, msg);
}

void client_assembler_clear(struct client_assembler *a)
{
	text_buf_free(&a->msg);
	a->opcode = 0;
}

int client_ws_accept(const char *key, char out[29])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	size_t klen = strlen(key);
	char *cat = malloc(klen + sizeof(guid));

	if (!cat)
		return CH_ENOMEM;
	memcpy(cat, key, klen);
	memcpy(cat + klen, guid, sizeof(guid));
	if (!EVP_Digest(cat, klen + sizeof(guid) - 1, md, &md_len, EVP_sha1(), NULL) ||
	    md_len != 20) {
		free(cat);
		return CH_ENOMEM;
	}
	free(cat);
	EVP_EncodeBlock((unsigned char *)out, md, 20);
	return 0;
}
