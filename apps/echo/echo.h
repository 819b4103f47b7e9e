/*
 * echo.h - ws/echo/ (echo.c): every message back verbatim, the RFC 6455
 * conformance suite's testee.
 */
#ifndef APPS_ECHO_ECHO_H
#define APPS_ECHO_ECHO_H

#include "server.h"

extern const struct server_app echo_app;
extern const struct consumer_class echo_consumer;

#endif
