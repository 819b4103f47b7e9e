/*
 * text.h - small text jobs every module shares, written once: no I/O, no
 * allocation unless stated, any thread.
 */
#ifndef LIB_TEXT_TEXT_H
#define LIB_TEXT_TEXT_H

#include <stddef.h>

/* The characters of the NUL-terminated `s` when it is text a person typed:
 * valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF) with no control character but tab and newline (C0 and DEL);
 * -1 otherwise. */
long text_printable_length(const char *s);

#endif
