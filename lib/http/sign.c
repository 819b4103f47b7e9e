/*
 * sign.c - signed JSON values (the session cookie), Django's
 * signing.dumps()/loads() in spirit:
 *
 *   base64url(compact json) "." base64url(decimal timestamp) "." base64url(mac)
 *
 * mac = HMAC-SHA256(subkey, first two parts joined by "."), where
 * subkey = HMAC-SHA256(key, SIGN_SALT), so the raw secret never keys a MAC
 * over attacker-chosen data directly and another use of the same secret
 * (with another salt) cannot produce values accepted here. All encodings
 * are canonical (base64url without padding and with zero trailing bits,
 * timestamps without leading zeros), so a value verifies only if it is
 * byte for byte what http_sign_json() produced.
 *
 * Thread-safety: no shared state; any thread.
 */
#include "http.h"
#include "http_int.h"

#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGN_SALT "channels-c.session"
#define MAC_LEN 32

static bool hmac_sha256(const unsigned char *key, size_t keylen, const void *data, size_t len,
			unsigned char out[MAC_LEN])
{
	static const unsigned char empty[1];
	unsigned int outlen = 0;

	if (keylen > INT_MAX)
		return false;
	if (!HMAC(EVP_sha256(), keylen ? key : empty, (int)keylen, data ? data : empty, len, out,
		  &outlen))
		return false;
	return outlen == MAC_LEN;
}

/* The MAC of `len` bytes of `data` under the subkey derived from `key`. */
static bool sign_mac(const unsigned char *key, size_t keylen, const char *data, size_t len,
		     unsigned char mac[MAC_LEN])
{
	unsigned char subkey[MAC_LEN];
	bool ok = hmac_sha256(key, keylen, SIGN_SALT, strlen(SIGN_SALT), subkey) &&
		  hmac_sha256(subkey, sizeof(subkey), data, len, mac);
	OPENSSL_cleanse(subkey, sizeof(subkey));
	return ok;
}

char *http_sign_json(const unsigned char *key, size_t keylen, const json_t *value, long long now)
{
	if (!json_is_object(value))
		return NULL;
	char *json = json_dumps(value, JSON_COMPACT);
	if (!json)
		return NULL;
	char ts[32];
	int tslen = snprintf(ts, sizeof(ts), "%lld", now);
	size_t jlen = strlen(json);

	size_t total = http__b64url_len(jlen) + 1 + http__b64url_len((size_t)tslen) + 1 +
		       http__b64url_len(MAC_LEN) + 1;
	char *out = malloc(total);
	if (!out) {
		free(json);
		return NULL;
	}
	size_t n = http__b64url_encode((const unsigned char *)json, jlen, out);
	free(json);
	out[n++] = '.';
	n += http__b64url_encode((const unsigned char *)ts, (size_t)tslen, out + n);

	unsigned char mac[MAC_LEN];
	if (!sign_mac(key, keylen, out, n, mac)) {
		free(out);
		return NULL;
	}
	out[n++] = '.';
	http__b64url_encode(mac, MAC_LEN, out + n);
	return out;
}

/* Parses a canonical decimal ("0", "-12", "1700000000"; no "+", no leading
 * zeros, no "-0") that fits in a long long. */
static bool parse_timestamp(const char *s, size_t len, long long *out)
{
	size_t i = s[0] == '-' ? 1 : 0;

	if (len == i || len > 20)
		return false;
	if (s[i] == '0' && (len > i + 1 || i == 1))
		return false;
	for (size_t k = i; k < len; k++)
		if (s[k] < '0' || s[k] > '9')
			return false;
	errno = 0;
	long long v = strtoll(s, NULL, 10);
	if (errno == ERANGE)
		return false;
	*out = v;
	return true;
}

int http_unsign_json(const unsigned char *key, size_t keylen, const char *signed_value,
		     long long now, long long max_age, json_t **out)
{
	if (!out)
		return CH_EINVAL;
	*out = NULL;
	if (!signed_value)
		return CH_EINVAL;

	const char *dot1 = strchr(signed_value, '.');
	const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (!dot2 || strchr(dot2 + 1, '.'))
		return CH_EBADSIG;

	/* MAC first: nothing of an unauthenticated value is decoded. */
	const char *mac_text = dot2 + 1;
	size_t maclen = 0;
	unsigned char *given = http__b64url_decode(mac_text, strlen(mac_text), &maclen);
	if (!given)
		return CH_EBADSIG;
	unsigned char mac[MAC_LEN];
	bool ok = maclen == MAC_LEN &&
		  sign_mac(key, keylen, signed_value, (size_t)(dot2 - signed_value), mac) &&
		  CRYPTO_memcmp(given, mac, MAC_LEN) == 0;
	free(given);
	if (!ok)
		return CH_EBADSIG;

	size_t tslen, jlen;
	unsigned char *ts = http__b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &tslen);
	long long stamp = 0;
	ok = ts && parse_timestamp((const char *)ts, tslen, &stamp);
	free(ts);
	if (!ok)
		return CH_EBADSIG;

	size_t json_text_len = (size_t)(dot1 - signed_value);
	unsigned char *json = http__b64url_decode(signed_value, json_text_len, &jlen);
	if (!json)
		return CH_EBADSIG;
	json_t *value = json_loadb((const char *)json, jlen, JSON_REJECT_DUPLICATES, NULL);
	free(json);
	if (!json_is_object(value)) {
		json_decref(value);
		return CH_EBADSIG;
	}

	/* now - stamp computed without signed overflow. */
	if (max_age > 0 && now > stamp &&
	    (unsigned long long)now - (unsigned long long)stamp > (unsigned long long)max_age) {
		json_decref(value);
		return CH_EEXPIRED;
	}
	*out = value;
	return CH_OK;
}
