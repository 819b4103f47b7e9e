/*
 * error.h - the one error vocabulary of the project.
 *
 * Every function of the framework, the leaf libraries and the tools that can
 * fail returns 0 or a negative CH_E* code from this table (or NULL with the
 * code in an `err` out-parameter), and ch_strerror() names it. A code passes
 * up through the layers unchanged: a consumer that gets CH_ECHANFULL from
 * the channel layer returns CH_ECHANFULL, so the line logged at the top
 * names the true cause. One meaning, one code (there is one CH_ENOMEM, not
 * one per module); the module a code arises in is the context of the log
 * line, not part of the code.
 *
 * A few functions also return non-negative results of their own beside
 * these codes (wsframe_feed()'s WSFRAME_STOPPED, the benchmark's handshake
 * parser's BENCH_HS_MORE): those are documented where they are declared.
 *
 * Thread-safety: ch_strerror() may be called from any thread.
 */
#ifndef UTIL_ERROR_H
#define UTIL_ERROR_H

enum ch_error {
	CH_OK = 0,

	/* ---- any module ---- */
	/* An argument the callee refuses: an invalid channel or group name, a
	 * layer message that is not an object with a string "type", a JSON
	 * document nested too deeply to encode, an undecodable wire message. */
	CH_EINVAL = -1,
	CH_ENOMEM = -2,
	/* The object is closed or closing: the channel layer is being freed,
	 * the WebSocket connection is closing or gone, a close frame was
	 * received earlier (client). */
	CH_ECLOSED = -3,
	/* Not allowed in this state: accept twice, send before accept. */
	CH_ESTATE = -4,
	/* No such thing: a channel's receiver, a group's member, a template
	 * the loader does not have. */
	CH_ENOTFOUND = -5,
	/* A receiver is already registered for that channel. */
	CH_EEXIST = -6,

	/* ---- channel layer (channels/) ---- */
	/* The channel holds `capacity` messages already (Channels'
	 * ChannelFull). */
	CH_ECHANFULL = -7,
	/* The backend cannot be reached right now (e.g. Redis down). */
	CH_EUNAVAIL = -8,
	/* A value over a size limit: a message over the backend's size
	 * limit, a decoded text that does not fit the buffer it is given
	 * (lib/text). */
	CH_ETOOBIG = -9,
	/* group_send: this process's own members have it, but it was NOT
	 * published beyond this process (Redis down, stalled, refusing, or its
	 * outgoing buffer full); other processes miss it. */
	CH_ELOCAL = -10,

	/* ---- transports (server/, lib/wsframe/) ---- */
	/* An outgoing queue is over its limit: a WebSocket's send queue (a
	 * slow client), or the pongs owed to a client (a ping flood). */
	CH_EQUEUE = -11,

	/* ---- lib/http ---- */
	/* A signed value tampered with, or signed with another key. */
	CH_EBADSIG = -12,
	/* A signed value older than its max_age. */
	CH_EEXPIRED = -13,

	/* ---- routing/ ---- */
	/* A route pattern does not compile (the message says why). */
	CH_EPATTERN = -14,
	/* No route matches the path. */
	CH_ENOMATCH = -15,

	/* ---- lib/template ---- */
	/* A template does not parse (the message says line and what). */
	CH_ESYNTAX = -16,
	/* include/extends nested deeper than 16 (a loop). */
	CH_EDEPTH = -17,

	/* ---- network clients (tools/client, tools/benchmark) and peers ---- */
	/* The TCP connect failed. */
	CH_ECONNECT = -18,
	CH_ETIMEDOUT = -19,
	/* A read or write failed, or the peer closed the socket. */
	CH_EIO = -20,
	/* The peer broke the protocol: a malformed HTTP response or WebSocket
	 * frame (lib/wsframe: the reader's err_code and err_reason say which). */
	CH_EPROTO = -21,
	/* The server answered the WebSocket upgrade with a status other than
	 * 101. */
	CH_EHANDSHAKE = -22,
	/* A 101 that does not complete the handshake: no Upgrade: websocket,
	 * or a wrong Sec-WebSocket-Accept (the benchmark's parser). */
	CH_EACCEPT = -23,
};

/* A static string naming `err` (0 is "success"); never NULL. A code not in
 * the table is named "unknown error". */
const char *ch_strerror(int err);

#endif
