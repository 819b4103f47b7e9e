/*
 * echo.c - the echo endpoint (ws/echo/): every text or binary message comes
 * back verbatim, in a frame of the same type. It is the testee of the
 * RFC 6455 conformance suite (tests/conformance/), as Autobahn's testee is
 * an echo server: no JSON, no groups, no state.
 *
 * The server's limits apply as on any route: --max-message-size (1009),
 * --rate-limit (1008), --max-queue (an echo that does not fit closes 1013).
 */
#include "echo.h"

static void echo_receive(struct consumer *c, const char *data, size_t len, bool binary)
{
	/* A refused send (queue full, closing) has already closed the
	 * connection where needed: nothing to do here. */
	if (binary)
		consumer_send_bytes(c, data, len);
	else
		consumer_send_text(c, data, len);
}

const struct consumer_class echo_consumer = {
	.name = "EchoConsumer",
	.on_receive = echo_receive,
};

static const struct route echo_ws_routes[] = {
	PATH("ws/echo/", &echo_consumer),
};

const struct server_app echo_app = {
	.name = "echo",
	.description = "ws/echo/: every message back (the conformance suite's testee)",
	.ws_routes = echo_ws_routes,
	.n_ws_routes = sizeof(echo_ws_routes) / sizeof(echo_ws_routes[0]),
};
