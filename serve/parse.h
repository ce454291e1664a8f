/* The request parsers of leavesync serve: pure functions on untrusted bytes, no allocation, no
 * I/O, so that tests/fuzz/fuzz_serve_parse.c can drive them directly. libmicrohttpd parses HTTP
 * itself; these read what it hands over (the raw request target, header values, the body's
 * record count). */
#ifndef SERVE_PARSE_H
#define SERVE_PARSE_H

#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>

/* Percent-decodes s[0..len) into out (NUL-terminated). Refuses (-1) a bad escape, a decoded NUL
 * or control character, and output that does not fit; returns the decoded length. plus_is_space:
 * query strings (application/x-www-form-urlencoded). */
long serve_percent_decode(const char *s, size_t len, char *out, size_t outlen, bool plus_is_space);

/* Matches a raw path (still percent-encoded, no query) against a pattern such as
 * "/v1/leave/{id}": literal segments compare exactly; {x} takes one non-empty segment, decoded into
 * param. Returns 1 match, 0 no match, -1 the segment is malformed (bad escape, too long). */
int serve_path_match(const char *pattern, const char *path, size_t path_len, char *param,
                     size_t param_len);

/* Query parameter name of query (the part after '?', may be NULL): 1 found (decoded into out),
 * 0 absent, -1 malformed or too long. A repeated parameter is malformed. */
int serve_query_param(const char *query, const char *name, char *out, size_t outlen);
/* 0 when every parameter of query is one of the NULL-terminated names, else -1 with the first
 * unknown one copied into bad. */
int serve_query_check(const char *query, const char *const *names, char *bad, size_t badlen);

/* "Bearer TOKEN" (RFC 6750 section 2.1; the scheme is case-insensitive): 0 with the token and its
 * length, or -1. */
int serve_bearer_token(const char *header, const char **token, size_t *len);

/* "sha256=HEX" (64 hex digits, either case): 0 with the digest, or -1. */
int serve_signature_header(const char *header, unsigned char digest[32]);

/* An Idempotency-Key value: an sf-string ("...") or a bare token of 1 to 255 printable ASCII
 * characters (draft-ietf-httpapi-idempotency-key-header). Copies the key into out: 0, or -1. */
int serve_idempotency_key(const char *header, char *out, size_t outlen);

/* Records in a push body of this format (PUSH_AUTO detects it): a cheap count taken before the
 * full parse, so that an oversized batch is refused without parsing it. -1 when the body is not
 * well-formed enough to count (the full parse then reports the problem). */
long serve_count_records(const char *data, size_t len, enum push_format format);

#endif
