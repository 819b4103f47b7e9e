/*
 * http_int.h - internals shared by the files of lib/http/ (and by the
 * http fuzz target, which checks invariants against them). Not a public
 * interface: nothing outside lib/http/, tests/unit/http/ and
 * fuzz/fuzz_http.c includes it.
 */
#ifndef LIB_HTTP_INT_H
#define LIB_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the unpadded base64url encoding of `len` bytes. */
size_t http__b64url_len(size_t len);

/* Encodes `len` bytes into `out` (room for http__b64url_len(len) + 1 bytes),
 * unpadded, NUL-terminated. Returns the encoded length. */
size_t http__b64url_encode(const unsigned char *src, size_t len, char *out);

/* Decodes unpadded base64url. Returns a malloc'd buffer (with a NUL after
 * the data, not counted in *out_len) or NULL when the input is not the
 * canonical encoding of some bytes (a character outside the alphabet, '=',
 * a length of 4k+1, non-zero unused trailing bits) or on ENOMEM. */
unsigned char *http__b64url_decode(const char *src, size_t len, size_t *out_len);

#endif
