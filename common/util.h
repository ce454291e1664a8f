/* Small helpers shared by every module: allocation that aborts on out-of-memory, strings, UUIDs,
 * time. */
#ifndef COMMON_UTIL_H
#define COMMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s); /* NULL stays NULL */
char *xstrndup(const char *s, size_t n);

/* strcmp that treats NULL as less than any string and equal to NULL. */
int strcmp_null(const char *a, const char *b);

/* Copies src into dst[size], always NUL-terminated; returns 0, or -1 if truncated. */
int strlcpy_checked(char *dst, const char *src, size_t size);

/* Random version-4 UUID, lower case, 36 characters + NUL (getrandom). */
void uuid_v4(char out[37]);

/* Name-based version-5 UUID (SHA-1) in the given namespace UUID string; lower case. */
void uuid_v5(char out[37], const char *namespace_uuid, const void *name, size_t len);

/* Monotonic milliseconds, and wall-clock Unix seconds. */
int64_t now_ms(void);
int64_t now_unix(void);

/* A config file's yes/no word: true, yes, on, 1 / false, no, off, 0 (any case). Returns 0, or -1
 * for any other word. */
int parse_yes_no(const char *v, bool *out);

/* Appends s (owned by the vector from now on) to the NULL-terminated vector *v (NULL: empty). */
void strv_push(char ***v, char *s);

/* "2026-11-25T13:34:53Z" for a Unix time. */
void format_utc(char out[21], int64_t unix_seconds);

/* Writes a whole file atomically with the given mode (temp file + rename). Returns 0 or -1 with
 * errno. */
int write_file_atomic(const char *path, const void *data, size_t len, int mode);

/* Reads a whole file (or stdin for "-") into memory; caller frees *out. Returns 0 or -1 with errno.
 */
int read_file(const char *path, char **out, size_t *len);

#endif
