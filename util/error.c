/*
 * error.c - ch_strerror(): the one table naming the codes of error.h.
 */
#include "error.h"

const char *ch_strerror(int err)
{
	switch ((enum ch_error)err) {
	case CH_OK: return "success";
	case CH_EINVAL: return "invalid argument, name or message";
	case CH_ENOMEM: return "out of memory";
	case CH_ECLOSED: return "closed or closing";
	case CH_ESTATE: return "not allowed in this state";
	case CH_ENOTFOUND: return "not found";
	case CH_EEXIST: return "a receiver is already registered for this channel";
	case CH_ECHANFULL: return "channel is full";
	case CH_EUNAVAIL: return "channel layer backend unavailable";
	case CH_ETOOBIG: return "too big";
	case CH_ELOCAL:
		return "delivered in this process only, not published beyond it: Redis is down, "
		       "stalled or refusing commands";
	case CH_EQUEUE: return "send queue over its limit";
	case CH_EBADSIG: return "bad signature";
	case CH_EEXPIRED: return "signature expired";
	case CH_EPATTERN: return "bad route pattern";
	case CH_ENOMATCH: return "no route matches";
	case CH_ESYNTAX: return "template syntax error";
	case CH_EDEPTH: return "include/extends nested too deeply";
	case CH_ECONNECT: return "TCP connect failed";
	case CH_ETIMEDOUT: return "timed out";
	case CH_EIO: return "I/O error or connection closed by peer";
	case CH_EPROTO: return "protocol error";
	case CH_EHANDSHAKE: return "WebSocket handshake refused";
	case CH_EACCEPT: return "WebSocket handshake answer does not match the request";
	}
	return "unknown error";
}
