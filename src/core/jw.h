/*
 * jw: a JSON writer that appends to a buf, for the translators that write
 * their JSON by hand (xlate_request's upstream body, xlate_stream's events,
 * whole answers' pieces). Pure; no allocation of its own: every write is an
 * append into the caller's buf, so the only cost is the buf's growth.
 *
 *   jw w; jw_init(&w, out);
 *   jw_lit(&w, "{\"a\":"); jw_long(&w, 1); jw_lit(&w, "}");
 *   rc = jw_finish(&w);   (0, or the first BUF_* error; out rolled back)
 *
 * The first error sticks: later writes do nothing, so a run of writes is
 * checked once. Strings are escaped as cJSON escapes them
 * (buf_append_json_string), numbers are written so that they read back
 * exactly, and the bytes depend only on the values written.
 */
#ifndef ANYCLAUDE_JW_H
#define ANYCLAUDE_JW_H

#include <stddef.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"

typedef struct jw {
    buf *b;      /* where the JSON goes; borrowed */
    size_t mark; /* b->len at jw_init, what jw_finish rolls back to */
    int rc;      /* first BUF_* error, or 0 */
} jw;

/* Start writing at the end of b. */
void jw_init(jw *w, buf *b);
/* n bytes as they are (JSON text the caller has made). */
static inline void jw_raw(jw *w, const char *s, size_t n)
{
    if (!w->rc) w->rc = buf_append(w->b, s, n);
}
/* A NUL-terminated literal as it is ("{\"type\":"). Inline, so that a
 * literal's length is known where it is written (no strlen). */
static inline void jw_lit(jw *w, const char *s)
{
    jw_raw(w, s, strlen(s));
}
/* s (n bytes) as a JSON string literal, quotes included. */
void jw_str(jw *w, const char *s, size_t n);
/* A NUL-terminated string as a JSON string; NULL writes null. */
void jw_cstr(jw *w, const char *s);
/* An integer in decimal. */
void jw_long(jw *w, long v);
/* Is d exactly an integer that a double holds without loss (|d| < 2^53)? */
int jw_is_integral(double d);
/* A number: integral values as integers (16384, not 16384.0 or
 * 1.6384e+04), others in the shorter of %.15g / %.17g that reads back
 * exactly (0.7 stays 0.7). Not for NaN or infinities (JSON has none). */
void jw_num(jw *w, double d);
/* A parsed value written exactly as cJSON_PrintUnformatted prints it (the
 * same bytes: its number format, its escapes), without cJSON's allocations;
 * depth beyond 1000 is BUF_ETOOBIG. An item cJSON cannot print (an invalid
 * type) is BUF_ENOMEM, as cJSON_PrintUnformatted's NULL is taken. */
void jw_value(jw *w, const cJSON *v);
/* `"key":`, preceded by a comma unless *first (then *first becomes 0). */
void jw_key(jw *w, int *first, const char *key);
/* Returns the first error (0 if none); on error, takes back everything
 * written since jw_init. */
int jw_finish(jw *w);

#endif
