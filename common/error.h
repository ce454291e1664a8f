/* Errors returned by library code: a message for the user (cause and fix), never printed here.
 * Only cli/main.c talks to the user. */
#ifndef COMMON_ERROR_H
#define COMMON_ERROR_H

#include <stddef.h>

#define ERROR_MAX 1024

struct error {
	char msg[ERROR_MAX]; /* "" when no error; a full sentence naming the problem and the fix */
};

/* Sets err->msg (printf-style) and returns -1, so that callers can `return error_set(...)`.
 * err may be NULL. */
int error_set(struct error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes an existing message with context ("push: line 3: " + msg). Returns -1. */
int error_prefix(struct error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void error_clear(struct error *err);

#endif
