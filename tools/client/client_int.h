/*
 * client_int.h - internals shared by the files of tools/client/ only.
 *
 * frame.c: the WebSocket frame codec and message assembler (public, in
 * client.h: channels-benchmark drives its own sockets with it).
 * net.c: TCP connect and poll-based I/O with deadlines.
 * http.c: the llhttp-based response reader.
 */
#ifndef TOOLS_CLIENT_INT_H
#define TOOLS_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"

/* ---- net.c ---------------------------------------------------------- */

/* Monotonic milliseconds. */
int64_t client__now_ms(void);

/* Deadline `timeout_ms` from now; -1 (no deadline) when timeout_ms < 0. */
int64_t client__deadline(int timeout_ms);

/* Milliseconds left until `deadline` for poll(): -1 when there is none,
 * 0 when it has passed. */
int client__remaining(int64_t deadline);

/* Connects a non-blocking, close-on-exec TCP socket with TCP_NODELAY;
 * tries every address of `host`. Returns 0 and *fd, or
 * CH_ECONNECT / CH_ETIMEDOUT / CH_EINVAL. */
int client__tcp_connect(const char *host, int port, int timeout_ms, int *fd);

/* Writes all `len` bytes. 0, CH_EIO, CH_ETIMEDOUT. */
int client__send_all(int fd, const void *data, size_t len, int64_t deadline);

/* Reads what is available (at least one byte), waiting until `deadline`.
 * Returns the byte count, 0 at EOF, CH_EIO or CH_ETIMEDOUT. */
long client__recv_some(int fd, void *buf, size_t cap, int64_t deadline);

/* "host:port", or "[host]:port" for an IPv6 literal; malloc'd, NULL on
 * allocation failure. */
char *client__host_header(const char *host, int port);

/* ---- http.c --------------------------------------------------------- */

/*
 * Reads one HTTP response from `fd` into `resp` (must be zeroed), using
 * llhttp. `head`: the request was HEAD (no body). `upgrade`: a 101 ends the
 * response at its header block, and the bytes already read past it are
 * returned in *extra (malloc'd, *extra_len; NULL/0 when none) - they belong
 * to the next protocol. Interim 1xx responses (other than 101) are skipped.
 * Returns 0, CH_EPROTO, CH_EIO (EOF before any byte or read error),
 * CH_ETIMEDOUT or CH_ENOMEM.
 */
int client__read_response(int fd, int64_t deadline, bool head, bool upgrade,
			  struct client_response *resp, uint8_t **extra, size_t *extra_len);

/* True when the raw header lines `headers` (NULL: none) set `name`. */
bool client__has_header(const char *headers, const char *name);

/* Random bytes from OpenSSL. 0 or CH_EIO. */
int client__random(void *buf, size_t len);

#endif
