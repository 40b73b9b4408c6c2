/*
 * buf: a growable byte buffer with a hard maximum.
 *
 * Every byte the gateway holds (request bodies, SSE lines, translated output,
 * buffered tool arguments) lives in a buf, so every one of them is bounded.
 * Data is always kept NUL-terminated (the NUL is not counted in len), so a
 * buf can be handed to APIs that want C strings, but wire data is still
 * passed as pointer + length.
 */
#ifndef ANYCLAUDE_BUF_H
#define ANYCLAUDE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#define BUF_OK 0
#define BUF_ENOMEM (-1)
#define BUF_ETOOBIG (-2)

typedef struct buf {
    char *data; /* NULL until the first append; NUL-terminated after */
    size_t len;
    size_t cap;
    size_t max; /* hard limit on len; 0 means SIZE_MAX/2 */
} buf;

/* Initialise an empty buffer that will refuse to grow past max bytes. */
void buf_init(buf *b, size_t max);
/* Release the storage; the buffer is empty and reusable. NULL is a no-op. */
void buf_free(buf *b);
/* Forget the contents but keep the storage. */
void buf_reset(buf *b);
/* Append n bytes. Returns BUF_OK, BUF_ETOOBIG (past max; nothing appended)
 * or BUF_ENOMEM. Inline when there is room (a stream's events are appended
 * in dozens of small pieces a chunk); buf_append_grow otherwise. */
int buf_append_grow(buf *b, const void *p, size_t n);
static inline int buf_append(buf *b, const void *p, size_t n)
{
    if (n < b->cap - b->len && (!b->max || n <= b->max - b->len)) {
        if (n) memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return BUF_OK;
    }
    return buf_append_grow(b, p, n);
}
/* Append a NUL-terminated string. Same returns as buf_append. */
int buf_appends(buf *b, const char *s);
/* Append printf-formatted text. Same returns as buf_append. */
int buf_appendf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vappendf(buf *b, const char *fmt, va_list ap);
/* Append s (n bytes) as a JSON string literal, quotes included, escaped as
 * cJSON escapes: quote, backslash, \b \f \n \r \t, other control bytes as
 * \u00xx; every other byte (UTF-8 included) as it is. Same returns as
 * buf_append; on failure the buffer may hold part of the literal. */
int buf_append_json_string(buf *b, const char *s, size_t n);
/* Drop the first n bytes (n > len drops all). */
void buf_consume(buf *b, size_t n);
/* Take ownership of the data (caller frees with free()); the buffer is left
 * empty. Returns an empty malloc'd string when the buffer was empty, NULL on
 * allocation failure. */
char *buf_detach(buf *b, size_t *len);

#endif
