/*
 * fuzz_wire.c - fuzz target of the channel layer's wire format (layer.h,
 * "the wire format").
 *
 * Input: any bytes, used whole as a payload, and (up to the first NUL) as a
 * channel name and as a Redis URL. Invariants checked (abort() on violation):
 *   - layer_wire_decode() returns 0 with an object, or CH_EINVAL with NULL;
 *   - a decoded object re-encodes in both formats, and decoding that gives
 *     an equal object (json_equal); msgpack encoding is then a fixed point:
 *     encode(decode(encode(x))) == encode(x), byte for byte;
 *   - layer_shard_index() < n for n in 1..8, and 0 for n = 1;
 *   - layer_group_channel() succeeds iff the result fits, and then is
 *     "<prefix>__group__<group>";
 *   - layer_redis_url_parse() accepts only ports 1..65535, db >= 0,
 *     NUL-terminated fields, and a host xor a unix path; it always writes a
 *     reason on failure.
 */
#include "layer.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static void check_reencode(const json_t *v)
{
	char *out = NULL, *out2 = NULL;
	size_t n = 0, n2 = 0;
	json_t *back = NULL, *back2 = NULL;

	REQUIRE(layer_wire_encode(v, LAYER_WIRE_MSGPACK, &out, &n) == 0);
	REQUIRE(layer_wire_decode(out, n, &back) == 0);
	REQUIRE(json_equal(v, back));
	REQUIRE(layer_wire_encode(back, LAYER_WIRE_MSGPACK, &out2, &n2) == 0);
	REQUIRE(n == n2 && memcmp(out, out2, n) == 0);
	free(out);
	free(out2);
	json_decref(back);

	REQUIRE(layer_wire_encode(v, LAYER_WIRE_JSON, &out, &n) == 0);
	REQUIRE(n > 0 && out[0] == '{');
	REQUIRE(layer_wire_decode(out, n, &back2) == 0);
	REQUIRE(json_equal(v, back2));
	free(out);
	json_decref(back2);
}

static void check_names(const char *s)
{
	char out[64];
	int rc;

	REQUIRE(layer_shard_index(s, 1) == 0);
	for (unsigned n = 1; n <= 8; n++)
		REQUIRE(layer_shard_index(s, n) < n);

	rc = layer_group_channel("asgi", s, out, sizeof(out));
	REQUIRE((rc == 0) == (strlen("asgi__group__") + strlen(s) < sizeof(out)));
	if (rc == 0) {
		REQUIRE(strncmp(out, "asgi__group__", 13) == 0);
		REQUIRE(strcmp(out + 13, s) == 0);
	} else {
		REQUIRE(rc == CH_EINVAL && out[0] == '\0');
	}
}

static void check_url(const char *s)
{
	struct layer_redis_url u;
	char err[96];
	int rc = layer_redis_url_parse(s, &u, err, sizeof(err));

	REQUIRE(memchr(err, '\0', sizeof(err)) != NULL);
	if (rc) {
		REQUIRE(rc == CH_EINVAL && err[0] != '\0');
		return;
	}
	REQUIRE(err[0] == '\0');
	REQUIRE(u.port >= 1 && u.port <= 65535);
	REQUIRE(u.db >= 0);
	REQUIRE(memchr(u.host, '\0', sizeof(u.host)));
	REQUIRE(memchr(u.unix_path, '\0', sizeof(u.unix_path)));
	REQUIRE(memchr(u.password, '\0', sizeof(u.password)));
	REQUIRE(memchr(u.username, '\0', sizeof(u.username)));
	REQUIRE((u.host[0] != '\0') != (u.unix_path[0] != '\0'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *v = (json_t *)1;
	char *s;
	int rc;

	rc = layer_wire_decode(data, size, &v);
	if (rc == 0) {
		REQUIRE(json_is_object(v));
		check_reencode(v);
		json_decref(v);
	} else {
		REQUIRE(rc == CH_EINVAL && v == NULL);
	}

	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_names(s);
	check_url(s);
	free(s);
	return 0;
}
