/*
 * xlate_ctx: what the request translator's parts share while one request is
 * translated (internal to xlate_request, xlate_messages, xlate_content and
 * xlate_tools; the shell sees only the codes and the placeholder text).
 *
 *   xlate_request ─▶ xlate_tools      ─┐
 *                 ─▶ xlate_messages ─▶ xlate_content ─▶ xlate_ctx (this)
 *
 * The context holds the output writer (jw over the caller's buf), where the
 * error message goes, the pending user message, and the offsets and counts
 * that the request's info and estimate come from. The helpers below are
 * static inline: each is a line or two that every part calls many times.
 */
#ifndef ANYCLAUDE_XLATE_CTX_H
#define ANYCLAUDE_XLATE_CTX_H

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "jparse.h"
#include "jw.h"

#define XLATE_EINVALID (-1) /* the client's request is bad: 400, err says why */
#define XLATE_ENOMEM (-2)
#define XLATE_ETOOBIG (-3) /* output would pass the buffer's max */

/* The text an image becomes for a text-only backend (always the same words,
 * so the conversation's prefix does not move). A content block of a type
 * anyclaude does not know becomes a similar line naming its type, whatever
 * the backend. */
#define XLATE_IMAGE_LEFT_OUT                                                                       \
    "[An image was left out here: the model server takes text only, so the model cannot see "      \
    "it.]"

/* How much of a client-supplied string an error message quotes. */
#define XLATE_QUOTE_MAX 64

/* One part of the pending user message: text (adjacent text is joined) or
 * an image URL. */
typedef struct xctx_part {
    int image;
    buf data;
} xctx_part;

/* The newest user message, not yet written. */
typedef struct xctx_pending {
    int open; /* a user message is pending (possibly with no parts) */
    xctx_part *parts;
    size_t n, cap;
} xctx_pending;

/* One translation in progress (zeroed, then jw_init on the output). */
typedef struct xctx {
    jw w;
    char *err;
    size_t errlen;
    xctx_pending user;
    int nmsgs;         /* OpenAI messages written */
    size_t msg_off[3]; /* where the first three messages start in the output */
    size_t tools_off, tools_end, msgs_end;
    size_t id_slot_off;     /* where the two id_slot characters are, 0 if none */
    int sys_first;          /* message 0 is the system prompt */
    size_t text_bytes;      /* prompt text and tool JSON written, for the estimate */
    long images;            /* images written, for the estimate */
    int short_conv;         /* see xlate_request_info */
    int text_only;          /* the backend takes no images: they become placeholders */
    const char *tools_text; /* the body's text of "tools" (the tools cache's key), or NULL */
    size_t tools_text_len;
    const cJSON *tools;  /* the request's "tools", for the tool_reference blocks it names */
    uint64_t tools_hash; /* the tools' part of the kind hash (xlate_request.c) */
} xctx;

/* ---- errors ---------------------------------------------------------- */

static inline void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

#define FAIL(c, ...) (set_err((c)->err, (c)->errlen, __VA_ARGS__), XLATE_EINVALID)

static inline int from_buf_rc(int rc)
{
    if (rc == BUF_ETOOBIG) return XLATE_ETOOBIG;
    if (rc) return XLATE_ENOMEM;
    return 0;
}

/* ---- writing (jw.h) --------------------------------------------------- */

/* Prompt text: written as a JSON string and counted for the estimate. */
static inline void put_text(xctx *c, const char *s, size_t n)
{
    jw_str(&c->w, s, n);
    c->text_bytes += n;
}

/* Start the next element of the "messages" array. */
static inline void msg_begin(xctx *c)
{
    if (c->nmsgs) jw_raw(&c->w, ",", 1);
    if (c->nmsgs < 3) c->msg_off[c->nmsgs] = c->w.b->len;
    c->nmsgs++;
}

/* ---- small helpers --------------------------------------------------- */

/* A member, with JSON null treated as absent (some clients send nulls for
 * optional fields). */
static inline const cJSON *get(const cJSON *o, const char *key)
{
    const cJSON *v = jparse_get(o, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

static inline int is_str(const cJSON *v)
{
    return cJSON_IsString(v) && v->valuestring;
}

static inline int is_nonempty_str(const cJSON *v)
{
    return is_str(v) && v->valuestring[0];
}

static inline int is_finite_num(const cJSON *v)
{
    return cJSON_IsNumber(v) && isfinite(v->valuedouble);
}

/* Append s to b, preceded by "\n" when *any (the join used for every list of
 * text blocks); sets *any. Returns 0 or an XLATE code. */
static inline int join_add(buf *b, int *any, const char *s, size_t n)
{
    int rc = 0;
    if (*any) rc = buf_append(b, "\n", 1);
    if (!rc) rc = buf_append(b, s, n);
    *any = 1;
    return from_buf_rc(rc);
}

#endif
