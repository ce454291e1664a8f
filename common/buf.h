/* A growable byte buffer, always NUL-terminated. Owner: whoever declared it; free with buf_free. */
#ifndef COMMON_BUF_H
#define COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data; /* NULL until the first append; then NUL-terminated */
	size_t len;
	size_t cap;
};

#define BUF_INIT                                                                                   \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void buf_append(struct buf *b, const void *data, size_t len); /* aborts on out-of-memory */
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_reset(struct buf *b);  /* len = 0, keeps memory */
char *buf_steal(struct buf *b); /* returns data (caller frees), buffer becomes empty */
void buf_free(struct buf *b);

#endif
