/*
 * lws_log.c - libwebsockets' own log lines, routed into util's sink. Here
 * and not in util/, so that lws stays inside server/: util, the leaf
 * libraries and the tools built on them do not link it.
 */
#include <libwebsockets.h>
#include <string.h>

#include "log.h"
#include "server_int.h"

static void on_lws_log(int level, const char *line)
{
	int ours = (level & LLL_ERR) ? LOG_ERROR : (level & LLL_WARN) ? LOG_WARN : (level & LLL_NOTICE) ? LOG_INFO : LOG_DEBUG;
	/* lws lines carry their own timestamp prefix "[date] X: "; keep the text. */
	const char *p = strstr(line, "]: ");
	if (ours <= log_threshold)
		log_write(ours, "lws", "%s", p ? p + 3 : line);
}

/* Errors and warnings only, at every --log-level: lws 4.1.6 formats each
 * line into one static buffer (_lws_logv), so its chatty NOTICE/INFO lines,
 * written by every worker thread as its context starts, race there (TSan:
 * integration-listen/-nginx/-observability at --log-level debug, 2
 * workers). Errors and warnings are rare and come from one connection's
 * thread at a time. */
void log_route_lws(void)
{
	lws_set_log_level(LLL_ERR | LLL_WARN, on_lws_log);
}
