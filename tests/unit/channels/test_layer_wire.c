/*
 * test_layer_wire.c - the Redis backend's wire format (layer.h, "the wire
 * format"): msgpack/JSON payloads, the shard ring, group channel names and
 * redis:// URLs. The golden vectors come from the real channels_redis and
 * msgpack-python (Debian's /usr/bin/python3), e.g.
 *   msgpack.packb({"type":"chat.message","message":"hi","username":"alice","n":1}).hex()
 *   channels_redis.utils._consistent_hash(name, n)
 */
#include "layer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* ---- helpers ---- */

static size_t unhex(const char *hex, unsigned char *out, size_t cap)
{
	size_t n = strlen(hex) / 2;

	if (n > cap)
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			abort();
		out[i] = (unsigned char)v;
	}
	return n;
}

static char *tohex(const char *data, size_t n)
{
	char *s = malloc(2 * n + 1);

	for (size_t i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02x", (unsigned char)data[i]);
	s[2 * n] = '\0';
	return s;
}

/* Decodes the hex payload; returns the object as compact JSON (malloc'd),
 * or NULL, with the return code in *rc. */
static char *decode_hex(const char *hex, int *rc)
{
	static unsigned char buf[4096];
	size_t n = unhex(hex, buf, sizeof(buf));
	json_t *v = NULL;
	char *s = NULL;

	*rc = layer_wire_decode(buf, n, &v);
	if (*rc == 0) {
		CHECK(json_is_object(v));
		s = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
		json_decref(v);
	} else {
		CHECK(v == NULL);
	}
	return s;
}

static void check_decode_hex(const char *hex, const char *want_json)
{
	int rc;
	char *got = decode_hex(hex, &rc);

	CHECK_INT(rc, 0);
	CHECK_STR(got, want_json);
	free(got);
}

static void check_decode_hex_fails(const char *hex)
{
	int rc;
	char *got = decode_hex(hex, &rc);

	CHECK_INT(rc, CH_EINVAL);
	CHECK(got == NULL);
	if (got)
		fprintf(stderr, "  payload %s decoded to %s\n", hex, got);
	free(got);
}

static void check_decode_text_fails(const char *text)
{
	json_t *v = (json_t *)1;

	CHECK_INT(layer_wire_decode(text, strlen(text), &v), CH_EINVAL);
	CHECK(v == NULL);
}

/* Encodes the JSON text as msgpack and compares the bytes with Python's. */
static void check_encode_golden(const char *json_text, const char *want_hex)
{
	json_t *m = json_loads(json_text, 0, NULL);
	char *out = NULL, *hex;
	size_t n = 0;

	CHECK(m != NULL);
	CHECK_INT(layer_wire_encode(m, LAYER_WIRE_MSGPACK, &out, &n), 0);
	hex = tohex(out, n);
	CHECK_STR(hex, want_hex);
	free(hex);
	free(out);
	json_decref(m);
}

/* msg -> fmt -> msg must be json_equal, and msgpack bytes stable. */
static void check_round_trip(const char *json_text)
{
	json_t *m = json_loads(json_text, JSON_ALLOW_NUL, NULL), *back;
	char *out;
	size_t n;

	CHECK(m != NULL);
	if (!m) {
		fprintf(stderr, "  bad test JSON: %s\n", json_text);
		return;
	}
	for (int fmt = LAYER_WIRE_MSGPACK; fmt <= LAYER_WIRE_JSON; fmt++) {
		out = NULL;
		back = NULL;
		CHECK_INT(layer_wire_encode(m, fmt, &out, &n), 0);
		CHECK_INT(layer_wire_decode(out, n, &back), 0);
		CHECK(back && json_equal(m, back));
		if (back && !json_equal(m, back)) {
			char *a = json_dumps(m, JSON_COMPACT), *b = json_dumps(back, JSON_COMPACT);

			fprintf(stderr, "  fmt %d: %s != %s\n", fmt, a, b);
			free(a);
			free(b);
		}
		if (back && fmt == LAYER_WIRE_MSGPACK) {
			char *out2 = NULL;
			size_t n2 = 0;

			CHECK_INT(layer_wire_encode(back, fmt, &out2, &n2), 0);
			CHECK(n2 == n && memcmp(out, out2, n) == 0);
			free(out2);
		}
		json_decref(back);
		free(out);
	}
	json_decref(m);
}

/* Nested containers, `depth` levels (objects and arrays alternating, the
 * outermost an object). */
static json_t *nested(int depth)
{
	json_t *v = json_object();

	for (int i = 1; i < depth; i++) {
		json_t *outer = ((depth - i) % 2 == 0) ? json_array() : json_object();

		if (json_is_array(outer))
			json_array_append_new(outer, v);
		else
			json_object_set_new(outer, "k", v);
		v = outer;
	}
	return v;
}

static int json_depth(const json_t *v)
{
	int d = 0, c;
	size_t i;
	const char *k;
	json_t *m;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, m)
			if ((c = json_depth(m)) > d)
				d = c;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m)
			if ((c = json_depth(m)) > d)
				d = c;
	} else {
		return 0;
	}
	return d + 1;
}

/* ---- payloads ---- */

static void test_round_trips(void)
{
	check_round_trip("{}");
	check_round_trip("{\"type\":\"chat.message\",\"message\":\"hi\"}");
	check_round_trip("{\"a\":{\"b\":{\"c\":[1,[2,[3,{}]],[]]}},\"e\":[]}");
	check_round_trip("{\"u\":\"h\\u00e9llo \\u4e16\\u754c \\ud83d\\ude00\",\"nul\":\"a\\u0000b\"}");
	check_round_trip("{\"\\u00fcber\":1,\"k\\u00e9y\":2}");
	check_round_trip("{\"max\":9223372036854775807,\"min\":-9223372036854775808,"
			 "\"z\":0,\"m1\":-1,\"b\":[127,128,255,256,65535,65536,4294967295,"
			 "4294967296,-32,-33,-128,-129,-32768,-32769,-2147483648,-2147483649]}");
	check_round_trip("{\"r\":[0.0,-0.0,1.5,-2.25,1e300,-1e-300,3.141592653589793,"
			 "5e-324,1.7976931348623157e308,1.0]}");
	check_round_trip("{\"t\":true,\"f\":false,\"n\":null,\"l\":[true,false,null]}");
	{
		/* long strings: str8/str16/str32 boundaries */
		json_t *m = json_object();
		size_t sizes[] = {31, 32, 255, 256, 65535, 65536, 70000};
		char *big = malloc(70001);

		memset(big, 'x', 70000);
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			char key[32];

			snprintf(key, sizeof(key), "s%zu", sizes[i]);
			json_object_set_new(m, key, json_stringn(big, sizes[i]));
		}
		free(big);
		char *txt = json_dumps(m, JSON_COMPACT);
		check_round_trip(txt);
		free(txt);
		json_decref(m);
	}
	{
		/* 20 members (map16) and 20 elements (array16) */
		json_t *m = json_object(), *a = json_array();

		for (int i = 0; i < 20; i++) {
			char key[16];

			snprintf(key, sizeof(key), "k%d", i);
			json_object_set_new(m, key, json_integer(i));
			json_array_append_new(a, json_integer(-i));
		}
		json_object_set_new(m, "arr", a);
		char *txt = json_dumps(m, JSON_COMPACT);
		check_round_trip(txt);
		free(txt);
		json_decref(m);
	}
}

static void test_golden(void)
{
	/* msgpack.packb(...) of msgpack-python 1.0 (use_bin_type=True) */
	const char *chat = "84a474797065ac636861742e6d657373616765a76d657373616765a26869"
			   "a8757365726e616d65a5616c696365a16e01";
	const char *rich =
		"88a474797065ac636861742e6d657373616765a474657874b268c3a96c6c6f20e4b896e795"
		"8c20f09f9880a46c6973749c01ffd0dfcc80cd0100ce00010000cf0000000100000000d1ff7f"
		"d2ffff7fffd3ffffffff7fffffffcf7fffffffffffffffd38000000000000000a166cb3ff800"
		"0000000000a174c3a17ac2a36e696cc0a66e657374656481a16181a1629180";
	const char *rich_json =
		"{\"type\":\"chat.message\",\"text\":\"h\\u00e9llo \\u4e16\\u754c \\ud83d\\ude00\","
		"\"list\":[1,-1,-33,128,256,65536,4294967296,-129,-32769,-2147483649,"
		"9223372036854775807,-9223372036854775808],\"f\":1.5,\"t\":true,\"z\":false,"
		"\"nil\":null,\"nested\":{\"a\":{\"b\":[{}]}}}";
	char s300[400], s40[48];
	char hex300[1024], json300[1024];

	check_decode_hex(chat, "{\"type\":\"chat.message\",\"message\":\"hi\","
			       "\"username\":\"alice\",\"n\":1}");
	check_encode_golden("{\"type\":\"chat.message\",\"message\":\"hi\",\"username\":\"alice\","
			    "\"n\":1}", chat);
	{
		json_t *want = json_loads(rich_json, 0, NULL);
		int rc;
		char *got = decode_hex(rich, &rc);
		json_t *gotv = got ? json_loads(got, 0, NULL) : NULL;

		CHECK_INT(rc, 0);
		CHECK(gotv && json_equal(want, gotv));
		if (!(gotv && json_equal(want, gotv)))
			fprintf(stderr, "  got %s\n", got ? got : "(null)");
		json_decref(want);
		json_decref(gotv);
		free(got);
	}
	check_encode_golden(rich_json, rich);
	check_encode_golden("{}", "80");

	/* str8 (40 bytes) and str16 (300 bytes), as Python packs them */
	memset(s40, 'a', 40);
	s40[40] = '\0';
	memset(s300, 'b', 300);
	s300[300] = '\0';
	snprintf(json300, sizeof(json300), "{\"type\":\"x\",\"s32\":\"%s\",\"s300\":\"%s\"}",
		 s40, s300);
	strcpy(hex300, "83a474797065a178a3733332d928");
	for (int i = 0; i < 40; i++)
		strcat(hex300, "61");
	strcat(hex300, "a473333030da012c");
	for (int i = 0; i < 300; i++)
		strcat(hex300, "62");
	check_encode_golden(json300, hex300);
	check_decode_hex(hex300, json300);

	/* bytes values: b"ok" -> "ok", b"\xff\xfe" (not UTF-8) dropped */
	check_decode_hex("83a474797065a362696ea162c4026f6ba3726177c402fffe",
			 "{\"type\":\"bin\",\"b\":\"ok\"}");
	/* 2**64-1: beyond json_int_t, becomes a real */
	check_decode_hex("81a175cfffffffffffffffff", "{\"u\":1.8446744073709552e19}");
}

static void test_decode_hand_written(void)
{
	/* fixmap / map16, fixstr / str8 / str16 keys and values */
	check_decode_hex("80", "{}");
	check_decode_hex("de0001a161a162", "{\"a\":\"b\"}");
	check_decode_hex("df00000001a161c0", "{\"a\":null}");
	check_decode_hex("81d90161da000162", "{\"a\":\"b\"}");
	check_decode_hex("81a161db00000002c3a9", "{\"a\":\"\\u00E9\"}");
	/* bin8/16/32: UTF-8 -> string; else the member is dropped */
	check_decode_hex("82a161c40568656c6c6fa162c402c328", "{\"a\":\"hello\"}");
	check_decode_hex("81a161c5000100", "{\"a\":\"\\u0000\"}");
	check_decode_hex("81a161c600000000", "{\"a\":\"\"}");
	/* in arrays, a dropped element is omitted */
	check_decode_hex("81a1619301c401ff02", "{\"a\":[1,2]}");
	/* integers */
	check_decode_hex("83a1617fa162e0a163ff", "{\"a\":127,\"b\":-32,\"c\":-1}");
	check_decode_hex("84a161d080a162d18000a163d280000000a164d38000000000000000",
			 "{\"a\":-128,\"b\":-32768,\"c\":-2147483648,\"d\":-9223372036854775808}");
	check_decode_hex("84a161d07fa162d17fffa163d27fffffffa164d37fffffffffffffff",
			 "{\"a\":127,\"b\":32767,\"c\":2147483647,\"d\":9223372036854775807}");
	check_decode_hex("84a161ccffa162cdffffa163ceffffffffa164cf7fffffffffffffff",
			 "{\"a\":255,\"b\":65535,\"c\":4294967295,\"d\":9223372036854775807}");
	check_decode_hex("81a161cf8000000000000000", "{\"a\":9.2233720368547758e18}");
	/* floats: float32 1.5 and 0.1f, float64 -2.5 */
	check_decode_hex("83a161ca3fc00000a162ca3dcccccda163cbc004000000000000",
			 "{\"a\":1.5,\"b\":0.10000000149011612,\"c\":-2.5}");
	/* NaN / infinity cannot be JSON */
	check_decode_hex_fails("81a161cb7ff8000000000000");
	check_decode_hex_fails("81a161ca7f800000");
	/* ext: dropped (fixext1, fixext16, ext8, ext16, ext32) */
	check_decode_hex("86a161d40101a162d802000102030405060708090a0b0c0d0e0fa163c70201aabb"
			 "a164c8000105ffa165c90000000007a16601",
			 "{\"f\":1}");
	/* str with NUL; empty str; nested arrays/maps */
	check_decode_hex("82a3612062a3610062a0dc0002900a",
			 "{\"a b\":\"a\\u0000b\",\"\":[[],10]}");
	/* duplicate keys: the last wins */
	check_decode_hex("82a16101a16102", "{\"a\":2}");
}

static void test_decode_json(void)
{
	const char *txts[] = {
		"{\"type\":\"a.b\",\"x\":[1,2.5,\"s\",null,true]}",
		"  \t\r\n{\"type\":\"ws\"}",
		"{\"type\":\"t\"}\n  ",
	};
	for (size_t i = 0; i < sizeof(txts) / sizeof(txts[0]); i++) {
		json_t *v = NULL;

		CHECK_INT(layer_wire_decode(txts[i], strlen(txts[i]), &v), 0);
		CHECK(json_is_object(v));
		CHECK(json_is_string(json_object_get(v, "type")));
		json_decref(v);
	}
	check_decode_text_fails("{\"type\":\"t\"} x");
	check_decode_text_fails("{\"type\":\"t\"}{}");
	check_decode_text_fails("{\"type\":");
	check_decode_text_fails("{\"a\":99999999999999999999}");
	check_decode_text_fails("{\"a\":\"\xff\"}");
	check_decode_text_fails("  [1]");
	check_decode_text_fails("  \"s\"");
	check_decode_text_fails("   ");
	check_decode_text_fails("");
	/* blanks then msgpack: blanks are not a map */
	check_decode_hex_fails("2080");
}

static void test_decode_bad(void)
{
	json_t *v = (json_t *)1;

	CHECK_INT(layer_wire_decode(NULL, 0, &v), CH_EINVAL);
	CHECK(v == NULL);
	/* not a map */
	check_decode_hex_fails("01");
	check_decode_hex_fails("90");
	check_decode_hex_fails("a161");
	check_decode_hex_fails("c0");
	check_decode_hex_fails("c1");
	/* truncated */
	check_decode_hex_fails("81");
	check_decode_hex_fails("81a1");
	check_decode_hex_fails("81a161");
	check_decode_hex_fails("81a161cd00");
	check_decode_hex_fails("81a161cb3ff00000000000");
	check_decode_hex_fails("81a161d9");
	check_decode_hex_fails("81a161d905616263");
	check_decode_hex_fails("81a16192c0");
	check_decode_hex_fails("de00");
	check_decode_hex_fails("81a161c70501aa");
	check_decode_hex_fails("81a161d801");
	/* non-string keys: int, nil, bin, array, map */
	check_decode_hex_fails("810101");
	check_decode_hex_fails("81c001");
	check_decode_hex_fails("81c4016101");
	check_decode_hex_fails("819001");
	check_decode_hex_fails("818001");
	/* invalid UTF-8 in str values and keys; overlong; surrogate */
	check_decode_hex_fails("81a161a1ff");
	check_decode_hex_fails("81a1ff01");
	check_decode_hex_fails("81a161a2c0af");
	check_decode_hex_fails("81a161a3eda080");
	check_decode_hex_fails("81a161a4f4908080");
	/* NUL in a key: jansson cannot load it back from JSON, so refused */
	check_decode_hex_fails("81a2610001");
	/* trailing garbage */
	check_decode_hex_fails("8000");
	check_decode_hex_fails("81a16101c0");
	/* a count larger than the bytes left, before any allocation */
	check_decode_hex_fails("dfffffffff");
	check_decode_hex_fails("81a161ddffffffff");
	check_decode_hex_fails("81a161dbffffffff");
	check_decode_hex_fails("81a161c6ffffffff");
}

static void test_depth(void)
{
	unsigned char buf[256];
	json_t *v;
	char *out;
	size_t n;

	/* msgpack: a map holding 63 nested arrays = 64 levels: accepted */
	for (int levels = 60; levels <= 100; levels++) {
		n = 0;
		buf[n++] = 0x81;
		buf[n++] = 0xa1;
		buf[n++] = 'k';
		for (int i = 1; i < levels; i++)
			buf[n++] = 0x91;
		buf[n++] = 0xc0;
		v = NULL;
		int rc = layer_wire_decode(buf, n, &v);

		if (levels <= 64) {
			CHECK_INT(rc, 0);
			CHECK_INT(json_depth(v), levels);
		} else {
			CHECK_INT(rc, CH_EINVAL);
		}
		json_decref(v);
	}

	/* encode and JSON decode: 64 levels fine, 65 and 100 refused */
	int depths[] = {1, 2, 63, 64, 65, 100};

	for (size_t i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
		json_t *m = nested(depths[i]);
		int d = json_depth(m);

		CHECK_INT(d, depths[i]);
		int want = d <= 64 ? 0 : CH_EINVAL;

		for (int fmt = LAYER_WIRE_MSGPACK; fmt <= LAYER_WIRE_JSON; fmt++) {
			out = NULL;
			CHECK_INT(layer_wire_encode(m, fmt, &out, &n), want);
			CHECK(want ? out == NULL : out != NULL);
			free(out);
		}
		char *txt = json_dumps(m, JSON_COMPACT);

		v = NULL;
		CHECK_INT(layer_wire_decode(txt, strlen(txt), &v), want);
		json_decref(v);
		free(txt);
		json_decref(m);
	}
}

static void test_encode_misc(void)
{
	json_t *a = json_array(), *s = json_string("x");
	char *out = (char *)1;
	size_t n = 7;

	CHECK_INT(layer_wire_encode(a, LAYER_WIRE_MSGPACK, &out, &n), CH_EINVAL);
	CHECK(out == NULL);
	CHECK_INT(layer_wire_encode(s, LAYER_WIRE_JSON, &out, &n), CH_EINVAL);
	CHECK_INT(layer_wire_encode(NULL, LAYER_WIRE_JSON, &out, &n), CH_EINVAL);
	json_decref(a);
	json_decref(s);

	json_t *m = json_pack("{s:s, s:[i, f, b, n]}", "type", "chat.message", "l", 7, 0.5, 1);

	CHECK_INT(layer_wire_encode(m, LAYER_WIRE_JSON, &out, &n), 0);
	CHECK_STR(out, "{\"type\":\"chat.message\",\"l\":[7,0.5,true,null]}");
	CHECK_INT(n, strlen(out));
	free(out);
	CHECK_INT(layer_wire_encode(m, (enum layer_wire_format)7, &out, &n), CH_EINVAL);
	json_decref(m);
}

/* ---- shards and names ---- */

static void test_shard_index(void)
{
	/* channels_redis.utils._consistent_hash(name, n) for n = 1..5 */
	static const struct {
		const char *name;
		unsigned want[5];
	} cases[] = {
		{"asgi__group__chat", {0, 1, 2, 3, 4}},
		{"asgi__group__gossip", {0, 1, 1, 2, 2}},
		{"asgi__group__room_1", {0, 1, 2, 3, 3}},
		{"asgispecific.0123456789abcdef0123456789abcdef", {0, 0, 1, 1, 1}},
		{"specific.abc!def", {0, 1, 2, 3, 4}},
		{"", {0, 0, 0, 0, 0}},
		{"a", {0, 1, 2, 3, 4}},
		{"chat", {0, 0, 0, 0, 0}},
		{"lobby", {0, 0, 1, 1, 1}},
		{"room-42", {0, 1, 2, 2, 3}},
		{"asgi__group__lobby", {0, 1, 1, 2, 2}},
		{"test.channel", {0, 1, 2, 2, 3}},
		{"group.with.dots", {0, 1, 2, 2, 3}},
		{"caf\xc3\xa9", {0, 0, 0, 0, 0}},
		{"asgi__group__\xc3\xbc", {0, 0, 0, 0, 0}},
		{"z", {0, 0, 1, 1, 2}},
		{"my_group", {0, 0, 1, 1, 1}},
		{"another-group", {0, 0, 0, 1, 1}},
		{"asgispecific.ffffffffffffffffffffffffffffffff!x1", {0, 1, 2, 3, 4}},
	};
	char xs[100];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (unsigned n = 1; n <= 5; n++) {
			unsigned got = layer_shard_index(cases[i].name, n);

			if (got != cases[i].want[n - 1])
				fprintf(stderr, "  name \"%s\" ring %u\n", cases[i].name, n);
			CHECK_INT(got, cases[i].want[n - 1]);
		}
	memset(xs, 'x', 99);
	xs[99] = '\0';
	for (unsigned n = 1; n <= 5; n++)
		CHECK_INT(layer_shard_index(xs, n), 0);
	CHECK_INT(layer_shard_index("a", 0), 0);
	for (unsigned n = 1; n <= 64; n++)
		CHECK(layer_shard_index("asgi__group__chat", n) < n);
}

static void test_group_channel(void)
{
	char out[LAYER_NAME_MAX + 20];
	char small[20];
	char longg[LAYER_NAME_MAX + 20];

	CHECK_INT(layer_group_channel("asgi", "gossip", out, sizeof(out)), 0);
	CHECK_STR(out, "asgi__group__gossip");
	CHECK_INT(layer_group_channel("", "g", out, sizeof(out)), 0);
	CHECK_STR(out, "__group__g");
	/* exactly fits: 19 chars + NUL in 20 */
	CHECK_INT(layer_group_channel("asgi", "gossip", small, 20), 0);
	CHECK_STR(small, "asgi__group__gossip");
	CHECK_INT(layer_group_channel("asgi", "gossip", small, 19), CH_EINVAL);
	CHECK_STR(small, "");
	memset(longg, 'g', LAYER_NAME_MAX + 10);
	longg[LAYER_NAME_MAX + 10] = '\0';
	CHECK_INT(layer_group_channel("asgi", longg, out, sizeof(out)), CH_EINVAL);
	CHECK_INT(layer_group_channel(NULL, "g", out, sizeof(out)), CH_EINVAL);
	CHECK_INT(layer_group_channel("asgi", "g", out, 0), CH_EINVAL);
}

/* ---- URLs ---- */

static void check_url(const char *url, const char *host, int port, const char *unix_path,
		      const char *user, const char *password, int db)
{
	struct layer_redis_url u;
	char err[128] = "untouched";
	int rc = layer_redis_url_parse(url, &u, err, sizeof(err));

	CHECK_INT(rc, 0);
	if (rc) {
		fprintf(stderr, "  url %s: %s\n", url, err);
		return;
	}
	CHECK_STR(err, "");
	CHECK_STR(u.host, host);
	CHECK_INT(u.port, port);
	CHECK_STR(u.unix_path, unix_path);
	CHECK_STR(u.username, user);
	CHECK_STR(u.password, password);
	CHECK_INT(u.db, db);
}

static void check_url_fails(const char *url, const char *why)
{
	struct layer_redis_url u;
	char err[128] = "";

	memset(&u, 0x5a, sizeof(u));
	CHECK_INT(layer_redis_url_parse(url, &u, err, sizeof(err)), CH_EINVAL);
	CHECK_CONTAINS(err, why);
	CHECK(u.port == 0x5a5a5a5a); /* *out untouched on failure */
}

static void test_urls(void)
{
	char longurl[400];

	check_url("redis://localhost", "localhost", 6379, "", "", "", 0);
	check_url("redis://localhost/", "localhost", 6379, "", "", "", 0);
	check_url("redis://127.0.0.1:6380/2", "127.0.0.1", 6380, "", "", "", 2);
	check_url("redis://:pa%40ss@host:1/0", "host", 1, "", "", "pa@ss", 0);
	check_url("redis://user:pw@host", "host", 6379, "", "user", "pw", 0);
	check_url("redis://us%3Ar:p:w@h@host", "host", 6379, "", "us:r", "p:w@h", 0);
	check_url("redis://user@host", "host", 6379, "", "user", "", 0);
	check_url("redis://[::1]:6379", "::1", 6379, "", "", "", 0);
	check_url("redis://[::1]", "::1", 6379, "", "", "", 0);
	check_url("redis://[fe80::1%25eth0]:7000/1", "fe80::1%eth0", 7000, "", "", "", 1);
	check_url("REDIS://redis-1.example.com:65535/15", "redis-1.example.com", 65535, "", "",
		  "", 15);
	check_url("redis://h/3?db=4&password=s%26x", "h", 6379, "", "", "s&x", 4);
	check_url("unix:///run/redis.sock?db=3&password=x", "", 6379, "/run/redis.sock", "", "x",
		  3);
	check_url("unix:///tmp/r.sock", "", 6379, "/tmp/r.sock", "", "", 0);

	check_url_fails("rediss://host", "TLS");
	check_url_fails("http://host", "scheme");
	check_url_fails("redis:/host", "scheme");
	check_url_fails("", "scheme");
	check_url_fails("redis://", "empty host");
	check_url_fails("redis://:6379", "empty host");
	check_url_fails("redis://:pw@/0", "empty host");
	check_url_fails("redis://[]:1", "empty host");
	check_url_fails("redis://host:0", "port");
	check_url_fails("redis://host:70000", "port");
	check_url_fails("redis://host:abc", "port");
	check_url_fails("redis://host:", "port");
	check_url_fails("redis://host:99999999999999999999", "port");
	check_url_fails("redis://[::1:6379", "IPv6");
	check_url_fails("redis://[::1]x", "port");
	check_url_fails("redis://ho st", "host");
	check_url_fails("redis://[::g]", "host");
	check_url_fails("redis://[::1%]", "host");
	check_url_fails("redis://[::1%zz]", "host");
	check_url_fails("redis://h_st%41", "host");
	check_url_fails("redis://host/-1", "db");
	check_url_fails("redis://host/abc", "db");
	check_url_fails("redis://host/1/2", "db");
	check_url_fails("redis://host?db=-1", "db");
	check_url_fails("redis://host?timeout=3", "query");
	check_url_fails("redis://:bad%zz@host", "password");
	check_url_fails("redis://:nul%00@host", "password");
	check_url_fails("redis://host#frag", "fragment");
	check_url_fails("unix://run/redis.sock", "absolute");
	check_url_fails("unix://", "absolute");
	check_url_fails("unix:///r.sock?db=x", "db");
	strcpy(longurl, "unix:///");
	memset(longurl + 8, 'p', 200);
	longurl[208] = '\0';
	check_url_fails(longurl, "too long");
	strcpy(longurl, "redis://");
	memset(longurl + 8, 'h', 300);
	longurl[308] = '\0';
	check_url_fails(longurl, "too long");

	struct layer_redis_url u;

	CHECK_INT(layer_redis_url_parse(NULL, &u, NULL, 0), CH_EINVAL);
	CHECK_INT(layer_redis_url_parse("redis://h", &u, NULL, 0), 0);
}

int main(void)
{
	test_round_trips();
	test_golden();
	test_decode_hand_written();
	test_decode_json();
	test_decode_bad();
	test_depth();
	test_encode_misc();
	test_shard_index();
	test_group_channel();
	test_urls();
	return check_finish();
}
