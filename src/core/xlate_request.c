/*
 * xlate_request: Anthropic Messages request → OpenAI Chat Completions request
 * (see xlate_request.h). It sits between the server, which has read a client
 * body, and upstream, which sends the bytes made here. Pure: bytes in, bytes
 * out; no I/O, no globals, no clock.
 *
 * How it works: the body is parsed with cJSON and checked field by field; the
 * upstream JSON is written by hand into a buf, keys in a fixed order with
 * "messages" last, so the bytes depend only on the input and never on how a
 * cJSON tree happened to be built. Messages are written one by one as they
 * are translated; only the newest user message is held back ("pending"),
 * because a role:"system" message that follows it is merged into it.
 *
 * Prefix stability is the point of most choices below: turn N+1's request is
 * turn N's plus new messages, and its bytes must extend turn N's so that a
 * backend's prefix (KV) cache hits. Anything that varies between sessions or
 * turns without changing meaning (the billing header, cache_control markers,
 * string vs block-list content, tool order, old reasoning) is normalised away.
 */
#include "xlate_request.h"

#include "anthropic.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "affinity.h"
#include "jparse.h"

/* Rough prompt-token cost of one image for the estimate (vision encoders
 * spend a few hundred to ~1.6k tokens on a typical screenshot). */
#define IMAGE_TOKENS 1000L
/* Chat-template tokens around each message (role markers, separators). */
#define MESSAGE_TOKENS 4L
/* How much of a client-supplied string an error message quotes. */
#define QUOTE_MAX 64

/* Block types Anthropic defines that have no OpenAI counterpart and that are
 * dropped wherever they appear (results of tools the server ran, tool
 * references the client resolves itself). */
static const char *const skipped_types[] = {
    "server_tool_use",
    "web_search_tool_result",
    "web_fetch_tool_result",
    "code_execution_tool_result",
    "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result",
    "tool_search_tool_result",
    "tool_reference",
    "mcp_tool_use",
    "mcp_tool_result",
    "container_upload",
    NULL,
};

/* A JSON writer over a buf whose first error sticks, so a run of writes can
 * be checked once. */
typedef struct jw {
    buf *b;
    int rc; /* first BUF_* error, or 0 */
} jw;

/* One part of the pending user message: text (adjacent text is joined) or
 * an image URL. */
typedef struct part {
    int image;
    buf data;
} part;

/* The newest user message, not yet written. */
typedef struct pending {
    int open; /* a user message is pending (possibly with no parts) */
    part *parts;
    size_t n, cap;
} pending;

typedef struct xctx {
    jw w;
    char *err;
    size_t errlen;
    pending user;
    int nmsgs;         /* OpenAI messages written */
    size_t msg_off[3]; /* where the first three messages start in the output */
    size_t tools_off, tools_end, msgs_end;
    size_t id_slot_off; /* where the two id_slot characters are, 0 if none */
    int sys_first;      /* message 0 is the system prompt */
    size_t text_bytes;  /* prompt text and tool JSON written, for the estimate */
    long images;        /* images written, for the estimate */
    int short_conv;     /* see xlate_request_info */
    int text_only;      /* the backend takes no images: they become placeholders */
} xctx;

/* ---- errors ---------------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

#define FAIL(c, ...) (set_err((c)->err, (c)->errlen, __VA_ARGS__), XLATE_EINVALID)

static int from_buf_rc(int rc)
{
    if (rc == BUF_ETOOBIG) return XLATE_ETOOBIG;
    if (rc) return XLATE_ENOMEM;
    return 0;
}

/* ---- JSON writing ---------------------------------------------------- */

static void jw_raw(jw *w, const char *s, size_t n)
{
    if (!w->rc) w->rc = buf_append(w->b, s, n);
}

static void jw_lit(jw *w, const char *s)
{
    jw_raw(w, s, strlen(s));
}

/* A JSON string (see buf_append_json_string for the escaping). */
static void jw_str(jw *w, const char *s, size_t n)
{
    if (!w->rc) w->rc = buf_append_json_string(w->b, s, n);
}

static void jw_cstr(jw *w, const char *s)
{
    jw_str(w, s, strlen(s));
}

/* A number: integral values as integers (max_tokens 16384, not 16384.0 or
 * 1.6384e+04), others in the shortest of %.15g / %.17g that reads back
 * exactly (0.7 stays 0.7). */
/* Exactly representable as an integer (|d| < 2^53). */
static int is_integral(double d)
{
    return d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double)(long long)d;
}

static void jw_num(jw *w, double d)
{
    char s[40];
    if (is_integral(d)) {
        snprintf(s, sizeof s, "%lld", (long long)d);
    } else {
        snprintf(s, sizeof s, "%.15g", d);
        if (strtod(s, NULL) != d) snprintf(s, sizeof s, "%.17g", d);
    }
    jw_lit(w, s);
}

/* Write `"key":` preceded by a comma unless it is the object's first key. */
static void jw_key(jw *w, int *first, const char *key)
{
    if (!*first) jw_raw(w, ",", 1);
    *first = 0;
    jw_str(w, key, strlen(key));
    jw_raw(w, ":", 1);
}

/* Prompt text: written as a JSON string and counted for the estimate. */
static void put_text(xctx *c, const char *s, size_t n)
{
    jw_str(&c->w, s, n);
    c->text_bytes += n;
}

/* Start the next element of the "messages" array. */
static void msg_begin(xctx *c)
{
    if (c->nmsgs) jw_raw(&c->w, ",", 1);
    if (c->nmsgs < 3) c->msg_off[c->nmsgs] = c->w.b->len;
    c->nmsgs++;
}

/* ---- small helpers --------------------------------------------------- */

/* A member, with JSON null treated as absent (some clients send nulls for
 * optional fields). */
static const cJSON *get(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

static int is_str(const cJSON *v)
{
    return cJSON_IsString(v) && v->valuestring;
}

static int is_nonempty_str(const cJSON *v)
{
    return is_str(v) && v->valuestring[0];
}

static int is_finite_num(const cJSON *v)
{
    return cJSON_IsNumber(v) && isfinite(v->valuedouble);
}

/* Append s to b, preceded by "\n" when *any (the join used for every list of
 * text blocks); sets *any. Returns 0 or an XLATE code. */
static int join_add(buf *b, int *any, const char *s, size_t n)
{
    int rc = 0;
    if (*any) rc = buf_append(b, "\n", 1);
    if (!rc) rc = buf_append(b, s, n);
    *any = 1;
    return from_buf_rc(rc);
}

static int is_skipped_type(const char *t)
{
    for (int i = 0; skipped_types[i]; i++)
        if (strcmp(t, skipped_types[i]) == 0) return 1;
    return 0;
}

static int is_known_type(const char *t)
{
    static const char *const known[] = {
        "text",     "image",         "tool_use", "tool_result", "thinking", "redacted_thinking",
        "document", "search_result", NULL,
    };
    for (int i = 0; known[i]; i++)
        if (strcmp(t, known[i]) == 0) return 1;
    return is_skipped_type(t);
}

/* Check that blk at path is an object with a string "type"; *type is set.
 * A type this gateway does not know (a newer Claude Code's) is accepted:
 * see unknown_text. */
static int block_type(xctx *c, const cJSON *blk, const char *path, const char **type)
{
    if (!cJSON_IsObject(blk)) return FAIL(c, "%s: must be an object", path);
    const cJSON *t = get(blk, "type");
    if (!t) return FAIL(c, "%s.type: field required", path);
    if (!is_str(t)) return FAIL(c, "%s.type: must be a string", path);
    *type = t->valuestring;
    return 0;
}

/* The rule for a block of a type this gateway does not know (Claude Code
 * releases add some): when it carries a string "text" it is sent as text,
 * otherwise it becomes a placeholder line (left_out).
 * Returns the text, or NULL (nothing to send; also for known types). */
static const cJSON *unknown_text(const cJSON *blk, const char *type)
{
    if (is_known_type(type)) return NULL;
    const cJSON *t = get(blk, "text");
    return is_str(t) && t->valuestring[0] ? t : NULL;
}

/* The text that stands in for a block the backend cannot take: an image for
 * a text-only server, or a block type anyclaude does not know. It depends
 * only on the block's type, so the same conversation renders the same bytes
 * every time and its prefix stays cached; it says what was left out and
 * why, so the model (and the user reading its answer) knows. */
static int left_out(buf *dst, int *any, const char *type)
{
    char t[256], name[QUOTE_MAX + 1];
    size_t n = 0;
    /* the client's type name, cut short and limited to plain characters (a
     * cut could otherwise split a UTF-8 sequence) */
    for (const char *p = type; *p && n < QUOTE_MAX; p++)
        name[n++] = (isalnum((unsigned char)*p) || strchr("_-.:", *p)) ? *p : '?';
    name[n] = '\0';
    if (strcmp(type, "image") == 0)
        snprintf(t, sizeof t, "%s", XLATE_IMAGE_LEFT_OUT);
    else
        snprintf(t, sizeof t,
                 "[A \"%s\" block was left out here: anyclaude cannot send that kind of "
                 "content to this model server.]",
                 name);
    return join_add(dst, any, t, strlen(t));
}

/* The "text" of a text block at path. */
static int block_text(xctx *c, const cJSON *blk, const char *path, const cJSON **text)
{
    const cJSON *t = get(blk, "text");
    if (!is_str(t)) return FAIL(c, "%s.text: must be a string", path);
    *text = t;
    return 0;
}

/* ---- the pending user message ---------------------------------------- */

static part *user_new_part(xctx *c, int image)
{
    pending *p = &c->user;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4;
        part *np = realloc(p->parts, cap * sizeof *np);
        if (!np) return NULL;
        p->parts = np;
        p->cap = cap;
    }
    part *pt = &p->parts[p->n++];
    pt->image = image;
    buf_init(&pt->data, 0);
    p->open = 1;
    return pt;
}

/* Add text to the pending user message (opening it), joined with "\n" to
 * text right before it. */
static int user_add_text(xctx *c, const char *s, size_t n)
{
    pending *p = &c->user;
    int any = 1;
    part *pt = p->n && !p->parts[p->n - 1].image ? &p->parts[p->n - 1] : NULL;
    if (!pt) {
        pt = user_new_part(c, 0);
        if (!pt) return XLATE_ENOMEM;
        any = 0;
    }
    return join_add(&pt->data, &any, s, n);
}

/* Validate an image block at path without using it (text-only backends:
 * a malformed image is still the client's error). */
static int user_check_image(xctx *c, const cJSON *blk, const char *path)
{
    const cJSON *src = get(blk, "source");
    if (!cJSON_IsObject(src)) return FAIL(c, "%s.source: must be an object", path);
    const cJSON *st = get(src, "type");
    if (!is_str(st)) return FAIL(c, "%s.source.type: must be a string", path);
    if (strcmp(st->valuestring, "base64") == 0) {
        const cJSON *mt = get(src, "media_type"), *data = get(src, "data");
        if (!is_nonempty_str(mt))
            return FAIL(c, "%s.source.media_type: must be a non-empty string", path);
        if (!is_str(data)) return FAIL(c, "%s.source.data: must be a string", path);
        return 0;
    }
    if (strcmp(st->valuestring, "url") == 0) {
        if (!is_nonempty_str(get(src, "url")))
            return FAIL(c, "%s.source.url: must be a non-empty string", path);
        return 0;
    }
    return FAIL(c,
                "%s.source.type: image source type \"%.*s\" is not supported; use \"base64\" "
                "or \"url\"",
                path, QUOTE_MAX, st->valuestring);
}

/* Add the placeholder for a block of this type to the pending user message. */
static int user_add_left_out(xctx *c, const char *type)
{
    buf t;
    int any = 0;
    buf_init(&t, 0);
    int rc = left_out(&t, &any, type);
    if (!rc) rc = user_add_text(c, t.data, t.len);
    buf_free(&t);
    return rc;
}

/* Validate an image block at path and add it to the pending user message:
 * base64 sources become data: URLs, url sources pass through. */
static int user_add_image(xctx *c, const cJSON *blk, const char *path)
{
    int rc = user_check_image(c, blk, path);
    if (rc) return rc;
    const cJSON *src = get(blk, "source");
    part *pt = user_new_part(c, 1);
    if (!pt) return XLATE_ENOMEM;
    if (strcmp(get(src, "type")->valuestring, "base64") == 0) {
        rc = buf_appends(&pt->data, "data:");
        if (!rc) rc = buf_appends(&pt->data, get(src, "media_type")->valuestring);
        if (!rc) rc = buf_appends(&pt->data, ";base64,");
        if (!rc) rc = buf_appends(&pt->data, get(src, "data")->valuestring);
    } else {
        rc = buf_appends(&pt->data, get(src, "url")->valuestring);
    }
    c->images++;
    return from_buf_rc(rc);
}

static void user_reset(pending *p)
{
    for (size_t i = 0; i < p->n; i++)
        buf_free(&p->parts[i].data);
    p->n = 0;
    p->open = 0;
}

/* Write the pending user message, if any: a single text as a string, else
 * an array of text and image_url parts. */
static int user_flush(xctx *c)
{
    pending *p = &c->user;
    jw *w = &c->w;
    if (!p->open) return 0;
    msg_begin(c);
    jw_lit(w, "{\"role\":\"user\",\"content\":");
    if (p->n == 0) {
        jw_lit(w, "\"\"");
    } else if (p->n == 1 && !p->parts[0].image) {
        put_text(c, p->parts[0].data.data, p->parts[0].data.len);
    } else {
        jw_raw(w, "[", 1);
        for (size_t i = 0; i < p->n; i++) {
            const buf *d = &p->parts[i].data;
            if (i) jw_raw(w, ",", 1);
            if (p->parts[i].image) {
                jw_lit(w, "{\"type\":\"image_url\",\"image_url\":{\"url\":");
                jw_str(w, d->data ? d->data : "", d->len);
                jw_lit(w, "}}");
            } else {
                jw_lit(w, "{\"type\":\"text\",\"text\":");
                put_text(c, d->data ? d->data : "", d->len);
                jw_raw(w, "}", 1);
            }
        }
        jw_raw(w, "]", 1);
    }
    jw_raw(w, "}", 1);
    user_reset(p);
    return from_buf_rc(w->rc);
}

/* ---- documents ------------------------------------------------------- */

/* Append the text of a document or search_result block at path to dst.
 * Plain-text and content-list documents are inlined (with their title);
 * PDFs, URLs and files cannot be, and are refused with a message that says
 * so rather than silently dropped. */
static int doc_render(xctx *c, const cJSON *blk, const char *type, const char *path, buf *dst)
{
    const cJSON *title = get(blk, "title");
    int any = 0, rc = 0;
    if (title && !is_str(title)) return FAIL(c, "%s.title: must be a string", path);
    if (strcmp(type, "search_result") == 0) {
        const cJSON *source = get(blk, "source"), *content = get(blk, "content");
        if (!is_str(source)) return FAIL(c, "%s.source: must be a string", path);
        if (!cJSON_IsArray(content)) return FAIL(c, "%s.content: must be an array", path);
        rc = from_buf_rc(buf_appendf(dst, "Search result: %s\nSource: %s\n\n",
                                     title ? title->valuestring : "", source->valuestring));
        if (rc) return rc;
        int k = 0;
        const cJSON *b;
        cJSON_ArrayForEach(b, content)
        {
            char sub[128];
            const cJSON *text;
            snprintf(sub, sizeof sub, "%s.content.%d", path, k++);
            if (!cJSON_IsObject(b) || !is_str(get(b, "type")) ||
                strcmp(get(b, "type")->valuestring, "text") != 0)
                return FAIL(c, "%s: search result content must be text blocks", sub);
            rc = block_text(c, b, sub, &text);
            if (!rc) rc = join_add(dst, &any, text->valuestring, strlen(text->valuestring));
            if (rc) return rc;
        }
        return 0;
    }
    const cJSON *src = get(blk, "source");
    if (!cJSON_IsObject(src)) return FAIL(c, "%s.source: must be an object", path);
    const cJSON *st = get(src, "type");
    if (!is_str(st)) return FAIL(c, "%s.source.type: must be a string", path);
    if (title) rc = from_buf_rc(buf_appendf(dst, "Document: %s\n\n", title->valuestring));
    if (rc) return rc;
    if (strcmp(st->valuestring, "text") == 0) {
        const cJSON *data = get(src, "data");
        if (!is_str(data)) return FAIL(c, "%s.source.data: must be a string", path);
        return from_buf_rc(buf_appends(dst, data->valuestring));
    }
    if (strcmp(st->valuestring, "content") == 0) {
        const cJSON *content = get(src, "content"), *b;
        if (is_str(content)) return from_buf_rc(buf_appends(dst, content->valuestring));
        if (!cJSON_IsArray(content))
            return FAIL(c, "%s.source.content: must be a string or an array of text blocks", path);
        int k = 0;
        cJSON_ArrayForEach(b, content)
        {
            char sub[128];
            const cJSON *text;
            snprintf(sub, sizeof sub, "%s.source.content.%d", path, k++);
            if (!cJSON_IsObject(b) || !is_str(get(b, "type")))
                return FAIL(c, "%s: must be a content block", sub);
            if (strcmp(get(b, "type")->valuestring, "text") != 0)
                return FAIL(c,
                            "%s: document content of type \"%.*s\" is not supported; only text "
                            "blocks can be sent to OpenAI-compatible backends",
                            sub, QUOTE_MAX, get(b, "type")->valuestring);
            rc = block_text(c, b, sub, &text);
            if (!rc) rc = join_add(dst, &any, text->valuestring, strlen(text->valuestring));
            if (rc) return rc;
        }
        return 0;
    }
    const cJSON *mt = get(src, "media_type");
    if (is_str(mt))
        return FAIL(c,
                    "%s: document with source type \"%.*s\" (%.*s) is not supported by "
                    "OpenAI-compatible backends; send the text instead",
                    path, QUOTE_MAX, st->valuestring, QUOTE_MAX, mt->valuestring);
    return FAIL(c,
                "%s: document with source type \"%.*s\" is not supported by OpenAI-compatible "
                "backends; send the text instead",
                path, QUOTE_MAX, st->valuestring);
}

/* Render a document block and add it to the pending user message. */
static int user_add_doc(xctx *c, const cJSON *blk, const char *type, const char *path)
{
    buf d;
    buf_init(&d, 0);
    int rc = doc_render(c, blk, type, path, &d);
    if (!rc) rc = user_add_text(c, d.data ? d.data : "", d.len);
    buf_free(&d);
    return rc;
}

/* ---- messages -------------------------------------------------------- */

/* A tool_result block at path → {"role":"tool",...}. Its text blocks are
 * joined; its images go to the pending user message that follows the tool
 * messages (tool messages carry text only), with "(image)" standing in when
 * there is no text. is_error prefixes "Error: ". */
static int tool_message(xctx *c, const cJSON *blk, const char *path)
{
    const cJSON *id = get(blk, "tool_use_id"), *content = get(blk, "content");
    const cJSON *is_error = get(blk, "is_error");
    buf text;
    int rc = 0, any = 0;
    long images = 0;
    buf_init(&text, 0);
    if (!is_nonempty_str(id)) {
        rc = FAIL(c, "%s.tool_use_id: must be a non-empty string", path);
        goto out;
    }
    if (is_error && !cJSON_IsBool(is_error)) {
        rc = FAIL(c, "%s.is_error: must be a boolean", path);
        goto out;
    }
    if (is_str(content)) {
        rc = join_add(&text, &any, content->valuestring, strlen(content->valuestring));
    } else if (cJSON_IsArray(content)) {
        const cJSON *b;
        int k = 0;
        cJSON_ArrayForEach(b, content)
        {
            char sub[128];
            const char *type;
            const cJSON *t;
            snprintf(sub, sizeof sub, "%s.content.%d", path, k++);
            if ((rc = block_type(c, b, sub, &type))) goto out;
            if (strcmp(type, "text") == 0) {
                rc = block_text(c, b, sub, &t);
                if (!rc) rc = join_add(&text, &any, t->valuestring, strlen(t->valuestring));
            } else if (strcmp(type, "image") == 0 && c->text_only) {
                rc = user_check_image(c, b, sub);
                if (!rc) rc = left_out(&text, &any, type);
            } else if (strcmp(type, "image") == 0) {
                rc = user_add_image(c, b, sub);
                images++;
            } else if (!is_known_type(type)) {
                rc = (t = unknown_text(b, type))
                         ? join_add(&text, &any, t->valuestring, strlen(t->valuestring))
                         : left_out(&text, &any, type);
            } else if (strcmp(type, "document") == 0 || strcmp(type, "search_result") == 0) {
                if (any) rc = from_buf_rc(buf_append(&text, "\n", 1));
                if (!rc) rc = doc_render(c, b, type, sub, &text);
                any = 1;
            } else if (strcmp(type, "tool_use") == 0 || strcmp(type, "tool_result") == 0) {
                rc = FAIL(c, "%s: %s blocks are not allowed inside tool_result", sub, type);
            }
            /* thinking, skipped server-tool types: nothing to send */
            if (rc) goto out;
        }
    } else if (content) {
        rc = FAIL(c, "%s.content: must be a string or an array of content blocks", path);
        goto out;
    }
    if (rc) goto out;
    if (!text.len && images) rc = from_buf_rc(buf_appends(&text, "(image)"));
    if (rc) goto out;
    msg_begin(c);
    jw_lit(&c->w, "{\"role\":\"tool\",\"tool_call_id\":");
    jw_cstr(&c->w, id->valuestring);
    jw_lit(&c->w, ",\"content\":");
    if (cJSON_IsTrue(is_error)) {
        if (text.len) {
            buf e;
            buf_init(&e, 0);
            rc = from_buf_rc(buf_appends(&e, "Error: "));
            if (!rc) rc = from_buf_rc(buf_append(&e, text.data, text.len));
            if (!rc) put_text(c, e.data, e.len);
            buf_free(&e);
            if (rc) goto out;
        } else {
            put_text(c, "Error", 5);
        }
    } else {
        put_text(c, text.data ? text.data : "", text.len);
    }
    jw_raw(&c->w, "}", 1);
    rc = from_buf_rc(c->w.rc);
out:
    buf_free(&text);
    return rc;
}

/* A user message: its tool_result blocks become tool messages first (they
 * must follow the assistant's tool_calls), then everything else, together
 * with any images from those tool results, becomes one user message, after
 * lead (text rendered ahead of the message's own content; NULL: none). */
static int user_message(xctx *c, const cJSON *content, int mi, const buf *lead)
{
    char path[96];
    int rc = user_flush(c), ntool = 0, k;
    const cJSON *b;
    if (rc) return rc;
    if (lead && lead->len && (rc = user_add_text(c, lead->data, lead->len))) return rc;
    if (is_str(content))
        return user_add_text(c, content->valuestring, strlen(content->valuestring));
    k = 0;
    cJSON_ArrayForEach(b, content)
    {
        const char *type;
        snprintf(path, sizeof path, "messages.%d.content.%d", mi, k++);
        if ((rc = block_type(c, b, path, &type))) return rc;
        if (strcmp(type, "tool_result") == 0) {
            if ((rc = tool_message(c, b, path))) return rc;
            ntool++;
        }
    }
    k = 0;
    cJSON_ArrayForEach(b, content)
    {
        const char *type = get(b, "type")->valuestring;
        const cJSON *t;
        snprintf(path, sizeof path, "messages.%d.content.%d", mi, k++);
        if (strcmp(type, "text") == 0) {
            rc = block_text(c, b, path, &t);
            if (!rc) rc = user_add_text(c, t->valuestring, strlen(t->valuestring));
        } else if (strcmp(type, "image") == 0 && c->text_only) {
            rc = user_check_image(c, b, path);
            if (!rc) rc = user_add_left_out(c, type);
        } else if (strcmp(type, "image") == 0) {
            rc = user_add_image(c, b, path);
        } else if (strcmp(type, "document") == 0 || strcmp(type, "search_result") == 0) {
            rc = user_add_doc(c, b, type, path);
        } else if (!is_known_type(type)) {
            rc = (t = unknown_text(b, type))
                     ? user_add_text(c, t->valuestring, strlen(t->valuestring))
                     : user_add_left_out(c, type);
        } else if (strcmp(type, "tool_use") == 0) {
            rc = FAIL(c, "%s: tool_use blocks are only allowed in assistant messages", path);
        }
        /* tool_result: done above; thinking and server-tool blocks: dropped */
        if (rc) return rc;
    }
    if (!ntool) c->user.open = 1; /* even an empty message keeps its turn */
    return 0;
}

/* An assistant message: text blocks joined into "content", tool_use blocks
 * into "tool_calls" (content null when there is no text).
 *
 * thinking and redacted_thinking blocks are dropped: OpenAI chat templates
 * either strip reasoning from earlier turns or re-render it in their own
 * format, the signature means nothing to a local model, and Claude Code may
 * send or omit old thinking between turns; dropping it keeps the prefix
 * stable. */
static int assistant_message(xctx *c, const cJSON *content, int mi)
{
    char path[96];
    buf text, calls;
    jw cw = {&calls, 0};
    int rc, any = 0, ncalls = 0, k = 0;
    const cJSON *b;
    const cJSON *blocks = is_str(content) ? NULL : content;
    buf_init(&text, 0);
    buf_init(&calls, 0);
    if ((rc = user_flush(c))) goto out;
    if (is_str(content)) {
        rc = join_add(&text, &any, content->valuestring, strlen(content->valuestring));
        if (rc) goto out;
    }
    cJSON_ArrayForEach(b, blocks)
    {
        const char *type;
        const cJSON *t;
        snprintf(path, sizeof path, "messages.%d.content.%d", mi, k++);
        if ((rc = block_type(c, b, path, &type))) goto out;
        if (strcmp(type, "text") == 0) {
            rc = block_text(c, b, path, &t);
            if (!rc) rc = join_add(&text, &any, t->valuestring, strlen(t->valuestring));
        } else if (strcmp(type, "tool_use") == 0) {
            const cJSON *id = get(b, "id"), *name = get(b, "name"), *input = get(b, "input");
            if (!is_nonempty_str(id)) {
                rc = FAIL(c, "%s.id: must be a non-empty string", path);
                goto out;
            }
            if (!is_nonempty_str(name)) {
                rc = FAIL(c, "%s.name: must be a non-empty string", path);
                goto out;
            }
            if (!cJSON_IsObject(input)) {
                rc = FAIL(c, "%s.input: must be an object", path);
                goto out;
            }
            char *args = cJSON_PrintUnformatted(input);
            if (!args) {
                rc = XLATE_ENOMEM;
                goto out;
            }
            if (ncalls++) jw_raw(&cw, ",", 1);
            jw_lit(&cw, "{\"id\":");
            jw_cstr(&cw, id->valuestring);
            jw_lit(&cw, ",\"type\":\"function\",\"function\":{\"name\":");
            jw_cstr(&cw, name->valuestring);
            jw_lit(&cw, ",\"arguments\":");
            jw_cstr(&cw, args);
            jw_lit(&cw, "}}");
            c->text_bytes += strlen(args) + strlen(name->valuestring);
            cJSON_free(args);
            rc = from_buf_rc(cw.rc);
        } else if (strcmp(type, "image") == 0 || strcmp(type, "document") == 0 ||
                   strcmp(type, "search_result") == 0 || strcmp(type, "tool_result") == 0) {
            rc = FAIL(c, "%s: %s blocks are not allowed in assistant messages", path, type);
        } else if (!is_known_type(type)) {
            rc = (t = unknown_text(b, type))
                     ? join_add(&text, &any, t->valuestring, strlen(t->valuestring))
                     : left_out(&text, &any, type);
        }
        /* thinking, redacted_thinking, server-tool blocks: dropped (see above) */
        if (rc) goto out;
    }
    msg_begin(c);
    jw_lit(&c->w, "{\"role\":\"assistant\",\"content\":");
    if (ncalls && !text.len)
        jw_lit(&c->w, "null");
    else
        put_text(c, text.data ? text.data : "", text.len);
    if (ncalls) {
        jw_lit(&c->w, ",\"tool_calls\":[");
        jw_raw(&c->w, calls.data, calls.len);
        jw_raw(&c->w, "]", 1);
    }
    jw_raw(&c->w, "}", 1);
    rc = from_buf_rc(c->w.rc);
out:
    buf_free(&text);
    buf_free(&calls);
    return rc;
}

/* A role:"system" message inside "messages" (Claude Code's environment block
 * and reminders). Most chat templates accept one system message, first, so
 * it is sent as user-visible text "<system-reminder>\nTEXT\n</system-reminder>",
 * merged into the pending user message when the previous message is a user
 * message (joined with "\n"), else as a new user message; those before the
 * first assistant turn go ahead of the first user message instead (see
 * lead_text). Both the block-list
 * and the string form render the same bytes, and since the message that
 * precedes it arrives in the same request, turn N's prefix does not move in
 * turn N+1. */
static int system_text(xctx *c, const cJSON *content, int mi, buf *text)
{
    char path[96];
    int rc = 0, any = 0, k = 0;
    const cJSON *b, *blocks = is_str(content) ? NULL : content;
    rc = from_buf_rc(buf_appends(text, "<system-reminder>\n"));
    if (rc) goto out;
    if (is_str(content)) {
        rc = from_buf_rc(buf_appends(text, content->valuestring));
        if (rc) goto out;
    }
    cJSON_ArrayForEach(b, blocks)
    {
        const char *type;
        const cJSON *t;
        snprintf(path, sizeof path, "messages.%d.content.%d", mi, k++);
        if ((rc = block_type(c, b, path, &type))) goto out;
        if (strcmp(type, "text") != 0) {
            rc = FAIL(c, "%s: a system message may only contain text blocks, not %s", path, type);
            goto out;
        }
        if ((rc = block_text(c, b, path, &t))) goto out;
        if (any) rc = from_buf_rc(buf_append(text, "\n", 1));
        if (!rc) rc = from_buf_rc(buf_appends(text, t->valuestring));
        any = 1;
        if (rc) goto out;
    }
    rc = from_buf_rc(buf_appends(text, "\n</system-reminder>"));
out:
    return rc;
}

static int system_message(xctx *c, const cJSON *content, int mi)
{
    buf text;
    buf_init(&text, 0);
    int rc = system_text(c, content, mi, &text);
    if (!rc) rc = user_add_text(c, text.data, text.len);
    buf_free(&text);
    return rc;
}

/* The leading system message: the "system" string or text blocks joined
 * with "\n", without Claude Code's billing-header block (its per-session
 * value would otherwise make every session's prompt differ from the first
 * token). Nothing is written when no text remains. */
static int system_prompt(xctx *c, const cJSON *system)
{
    buf text;
    int rc = 0, any = 0, k = 0;
    const cJSON *b;
    buf_init(&text, 0);
    if (is_str(system)) {
        const char *s = system->valuestring;
        if (anthropic_is_billing_text(s)) {
            const char *nl = strchr(s, '\n');
            s = nl ? nl + 1 : s + strlen(s);
        }
        rc = from_buf_rc(buf_appends(&text, s));
        any = text.len > 0;
    } else {
        cJSON_ArrayForEach(b, system)
        {
            if (!cJSON_IsObject(b)) {
                rc = FAIL(c, "system.%d: must be an object", k);
                goto out;
            }
            const cJSON *t = get(b, "type"), *tx = get(b, "text");
            if (!is_str(t) || strcmp(t->valuestring, "text") != 0) {
                rc = FAIL(c, "system.%d.type: must be \"text\"", k);
                goto out;
            }
            if (!is_str(tx)) {
                rc = FAIL(c, "system.%d.text: must be a string", k);
                goto out;
            }
            k++;
            if (anthropic_is_billing_text(tx->valuestring)) {
                c->short_conv = strstr(tx->valuestring, "cc_entrypoint=sdk-") ||
                                strstr(tx->valuestring, "cc_is_subagent=true");
                continue;
            }
            if ((rc = join_add(&text, &any, tx->valuestring, strlen(tx->valuestring)))) goto out;
        }
    }
    if (rc || !any || !text.len) goto out;
    msg_begin(c);
    c->sys_first = 1;
    jw_lit(&c->w, "{\"role\":\"system\",\"content\":");
    put_text(c, text.data, text.len);
    jw_raw(&c->w, "}", 1);
    rc = from_buf_rc(c->w.rc);
out:
    buf_free(&text);
    return rc;
}

/* The role of messages[i] when it is a string, else "". */
static const char *role_of(const cJSON *m)
{
    const cJSON *r = cJSON_IsObject(m) ? get(m, "role") : NULL;
    return is_str(r) ? r->valuestring : "";
}

/* Rendering by volatility. Claude Code's first request is
 * [user: reminders + the user's words, system: the environment block], and
 * the environment block (working directory, platform, model, agent types,
 * skills) is the same for every session in a project while the words are
 * new. So every role:"system" message that comes before the first
 * assistant turn is rendered ahead of the first user message's own content
 * (the "lead"), and skipped where it stands. Every later request of the
 * conversation has the same messages before its first assistant turn, so
 * the rendering still only grows at the end. *first_user is the index of
 * that user message, -1 when the segment has none (then nothing moves). */
static int lead_text(xctx *c, const cJSON *msgs, buf *lead, int *first_user, int *first_asst)
{
    const cJSON *m;
    int i = 0, rc = 0;
    *first_user = -1;
    *first_asst = -1;
    cJSON_ArrayForEach(m, msgs)
    {
        const char *r = role_of(m);
        if (strcmp(r, "assistant") == 0) {
            *first_asst = i;
            break;
        }
        if (*first_user < 0 && strcmp(r, "user") == 0) *first_user = i;
        i++;
    }
    if (*first_user < 0) return 0;
    i = 0;
    cJSON_ArrayForEach(m, msgs)
    {
        if (i == *first_asst) break;
        const cJSON *content = get(m, "content");
        if (strcmp(role_of(m), "system") == 0 && (is_str(content) || cJSON_IsArray(content))) {
            if (lead->len) rc = from_buf_rc(buf_append(lead, "\n", 1));
            if (!rc) rc = system_text(c, content, i, lead);
            if (rc) return rc;
        }
        i++;
    }
    return 0;
}

static int messages(xctx *c, const cJSON *system, const cJSON *msgs)
{
    const cJSON *m;
    int rc = 0, mi = 0, first_user, first_asst;
    buf lead;
    if (system && (rc = system_prompt(c, system))) return rc;
    buf_init(&lead, 0);
    rc = lead_text(c, msgs, &lead, &first_user, &first_asst);
    if (rc) goto out;
    cJSON_ArrayForEach(m, msgs)
    {
        const cJSON *role, *content;
        if (!cJSON_IsObject(m)) {
            rc = FAIL(c, "messages.%d: must be an object", mi);
            goto out;
        }
        role = get(m, "role");
        content = get(m, "content");
        if (!role) {
            rc = FAIL(c, "messages.%d.role: field required", mi);
            goto out;
        }
        if (!content) {
            rc = FAIL(c, "messages.%d.content: field required", mi);
            goto out;
        }
        if (!is_str(content) && !cJSON_IsArray(content)) {
            rc = FAIL(c, "messages.%d.content: must be a string or an array of content blocks", mi);
            goto out;
        }
        if (is_str(role) && strcmp(role->valuestring, "user") == 0)
            rc = user_message(c, content, mi, mi == first_user ? &lead : NULL);
        else if (is_str(role) && strcmp(role->valuestring, "assistant") == 0)
            rc = assistant_message(c, content, mi);
        else if (is_str(role) && strcmp(role->valuestring, "system") == 0)
            rc = first_user >= 0 && (first_asst < 0 || mi < first_asst)
                     ? 0 /* rendered in the lead */
                     : system_message(c, content, mi);
        else
            rc = FAIL(c, "messages.%d.role: must be \"user\", \"assistant\" or \"system\"", mi);
        if (rc) goto out;
        mi++;
    }
    rc = user_flush(c);
out:
    buf_free(&lead);
    return rc;
}

/* ---- tools ----------------------------------------------------------- */

typedef struct tool_ref {
    const char *name;
    const cJSON *tool;
    int idx;
} tool_ref;

static int tool_cmp(const void *a, const void *b)
{
    const tool_ref *x = a, *y = b;
    int r = strcmp(x->name, y->name);
    return r ? r : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Validate "tools" and collect the function tools sorted by name (ties in
 * client order), so the bytes do not depend on the order the client sent.
 * Tools without an input_schema (Anthropic server tools such as
 * web_search_20250305) have no OpenAI form and are skipped. *refs is
 * malloc'd (or NULL when there are none). */
static int tools_collect(xctx *c, const cJSON *tools, tool_ref **refs, int *n)
{
    const cJSON *t;
    int i = 0, count = 0;
    *refs = NULL;
    *n = 0;
    if (!tools) return 0;
    int size = cJSON_GetArraySize(tools);
    tool_ref *r = size ? malloc((size_t)size * sizeof *r) : NULL;
    if (size && !r) return XLATE_ENOMEM;
    cJSON_ArrayForEach(t, tools)
    {
        const cJSON *name = get(t, "name"), *type = get(t, "type");
        const cJSON *schema = get(t, "input_schema"), *desc = get(t, "description");
        int rc = 0;
        if (!cJSON_IsObject(t))
            rc = FAIL(c, "tools.%d: must be an object", i);
        else if (!is_nonempty_str(name))
            rc = FAIL(c, "tools.%d.name: must be a non-empty string", i);
        else if (type && !is_str(type))
            rc = FAIL(c, "tools.%d.type: must be a string", i);
        else if (schema && !cJSON_IsObject(schema))
            rc = FAIL(c, "tools.%d.input_schema: must be an object", i);
        else if (!schema && (!type || strcmp(type->valuestring, "custom") == 0))
            rc = FAIL(c, "tools.%d.input_schema: field required", i);
        else if (desc && !is_str(desc))
            rc = FAIL(c, "tools.%d.description: must be a string", i);
        if (rc) {
            free(r);
            return rc;
        }
        if (schema) {
            r[count].name = name->valuestring;
            r[count].tool = t;
            r[count].idx = i;
            count++;
        }
        i++;
    }
    if (count) qsort(r, (size_t)count, sizeof *r, tool_cmp);
    if (!count) {
        free(r);
        r = NULL;
    }
    *refs = r;
    *n = count;
    return 0;
}

static int tools_write(xctx *c, const tool_ref *refs, int n)
{
    size_t start = c->w.b->len;
    jw_raw(&c->w, "[", 1);
    for (int i = 0; i < n; i++) {
        const cJSON *desc = get(refs[i].tool, "description");
        char *schema = cJSON_PrintUnformatted(get(refs[i].tool, "input_schema"));
        if (!schema) return XLATE_ENOMEM;
        if (i) jw_raw(&c->w, ",", 1);
        jw_lit(&c->w, "{\"type\":\"function\",\"function\":{\"name\":");
        jw_cstr(&c->w, refs[i].name);
        if (desc) {
            jw_lit(&c->w, ",\"description\":");
            jw_cstr(&c->w, desc->valuestring);
        }
        jw_lit(&c->w, ",\"parameters\":");
        jw_lit(&c->w, schema);
        jw_lit(&c->w, "}}");
        cJSON_free(schema);
    }
    jw_raw(&c->w, "]", 1);
    if (!c->w.rc) c->text_bytes += c->w.b->len - start;
    return from_buf_rc(c->w.rc);
}

/* ---- the request ------------------------------------------------------ */

/* Validate the top-level fields that are not translated message by message. */
static int check_top(xctx *c, const cJSON *root, int need_max_tokens)
{
    const cJSON *v;
    v = get(root, "model");
    if (!v) return FAIL(c, "model: field required");
    if (!is_nonempty_str(v)) return FAIL(c, "model: must be a non-empty string");
    v = get(root, "max_tokens");
    if (!v && need_max_tokens) return FAIL(c, "max_tokens: field required");
    if (v && (!is_finite_num(v) || !is_integral(v->valuedouble) || v->valuedouble < 1))
        return FAIL(c, "max_tokens: must be a positive integer");
    v = get(root, "messages");
    if (!v) return FAIL(c, "messages: field required");
    if (!cJSON_IsArray(v) || !cJSON_GetArraySize(v))
        return FAIL(c, "messages: must be a non-empty array");
    v = get(root, "system");
    if (v && !is_str(v) && !cJSON_IsArray(v))
        return FAIL(c, "system: must be a string or an array of text blocks");
    if ((v = get(root, "temperature")) && !is_finite_num(v))
        return FAIL(c, "temperature: must be a number");
    if ((v = get(root, "top_p")) && !is_finite_num(v)) return FAIL(c, "top_p: must be a number");
    v = get(root, "top_k");
    if (v && (!is_finite_num(v) || !is_integral(v->valuedouble) || v->valuedouble < 0))
        return FAIL(c, "top_k: must be a non-negative integer");
    if ((v = get(root, "stream")) && !cJSON_IsBool(v)) return FAIL(c, "stream: must be a boolean");
    if ((v = get(root, "stop_sequences"))) {
        const cJSON *s;
        int i = 0;
        if (!cJSON_IsArray(v)) return FAIL(c, "stop_sequences: must be an array of strings");
        cJSON_ArrayForEach(s, v)
        {
            if (!is_str(s)) return FAIL(c, "stop_sequences.%d: must be a string", i);
            i++;
        }
    }
    /* metadata (user_id) is checked but not forwarded: it is a per-user
     * identifier for Anthropic's abuse handling that local backends do not
     * use, and it would only add bytes that differ between users. */
    if ((v = get(root, "metadata"))) {
        if (!cJSON_IsObject(v)) return FAIL(c, "metadata: must be an object");
        const cJSON *u = get(v, "user_id");
        if (u && !is_str(u)) return FAIL(c, "metadata.user_id: must be a string");
    }
    if ((v = get(root, "tools")) && !cJSON_IsArray(v)) return FAIL(c, "tools: must be an array");
    if ((v = get(root, "tool_choice"))) {
        if (!cJSON_IsObject(v)) return FAIL(c, "tool_choice: must be an object");
        const cJSON *t = get(v, "type"), *dp = get(v, "disable_parallel_tool_use");
        if (!is_str(t) || (strcmp(t->valuestring, "auto") && strcmp(t->valuestring, "any") &&
                           strcmp(t->valuestring, "tool") && strcmp(t->valuestring, "none")))
            return FAIL(c, "tool_choice.type: must be \"auto\", \"any\", \"tool\" or \"none\"");
        if (strcmp(t->valuestring, "tool") == 0 && !is_nonempty_str(get(v, "name")))
            return FAIL(c, "tool_choice.name: must be a non-empty string");
        if (dp && !cJSON_IsBool(dp))
            return FAIL(c, "tool_choice.disable_parallel_tool_use: must be a boolean");
    }
    return 0;
}

/* The upstream body: header fields in fixed order, then "messages". */
static int write_request(xctx *c, const cJSON *root, const xlate_request_opts *opts)
{
    jw *w = &c->w;
    int first = 1, ntools = 0, rc;
    tool_ref *refs = NULL;
    const cJSON *v, *tc = get(root, "tool_choice");
    int stream = cJSON_IsTrue(get(root, "stream"));

    if ((rc = tools_collect(c, get(root, "tools"), &refs, &ntools))) return rc;
    jw_raw(w, "{", 1);
    if (opts->model) {
        jw_key(w, &first, "model");
        jw_cstr(w, opts->model);
    }
    if ((v = get(root, "max_tokens"))) {
        double mt = v->valuedouble;
        if (opts->max_tokens_cap > 0 && mt > (double)opts->max_tokens_cap)
            mt = (double)opts->max_tokens_cap;
        jw_key(w, &first, "max_tokens");
        jw_num(w, mt);
    }
    if ((v = get(root, "temperature"))) {
        jw_key(w, &first, "temperature");
        jw_num(w, v->valuedouble);
    }
    if ((v = get(root, "top_p"))) {
        jw_key(w, &first, "top_p");
        jw_num(w, v->valuedouble);
    }
    if ((v = get(root, "top_k"))) {
        jw_key(w, &first, "top_k");
        jw_num(w, v->valuedouble);
    }
    if ((v = get(root, "stop_sequences")) && cJSON_GetArraySize(v)) {
        const cJSON *s;
        int i = 0;
        jw_key(w, &first, "stop");
        jw_raw(w, "[", 1);
        cJSON_ArrayForEach(s, v)
        {
            if (i++) jw_raw(w, ",", 1);
            jw_cstr(w, s->valuestring);
        }
        jw_raw(w, "]", 1);
    }
    jw_key(w, &first, "stream");
    jw_lit(w, stream ? "true" : "false");
    if (stream) {
        jw_key(w, &first, "stream_options");
        jw_lit(w, "{\"include_usage\":true}");
    }
    if (opts->cache_prompt) {
        jw_key(w, &first, "cache_prompt");
        jw_lit(w, "true");
    }
    if (opts->affinity_field && opts->affinity_value) {
        jw_key(w, &first, opts->affinity_field);
        jw_cstr(w, opts->affinity_value);
    }
    if (opts->use_id_slot) {
        /* fixed width (two characters, space-padded) so the caller can set
         * the slot after translation, once the conversation is known */
        char slot[8];
        int sl = opts->id_slot < 0 ? 0 : opts->id_slot > 99 ? 99 : opts->id_slot;
        snprintf(slot, sizeof slot, "%2d", sl);
        jw_key(w, &first, "id_slot");
        c->id_slot_off = w->b->len;
        jw_lit(w, slot);
    }
    if (ntools && tc) {
        const char *type = get(tc, "type")->valuestring;
        jw_key(w, &first, "tool_choice");
        if (strcmp(type, "auto") == 0) {
            jw_lit(w, "\"auto\"");
        } else if (strcmp(type, "any") == 0) {
            jw_lit(w, "\"required\"");
        } else if (strcmp(type, "none") == 0) {
            jw_lit(w, "\"none\"");
        } else {
            jw_lit(w, "{\"type\":\"function\",\"function\":{\"name\":");
            jw_cstr(w, get(tc, "name")->valuestring);
            jw_lit(w, "}}");
        }
        if (cJSON_IsTrue(get(tc, "disable_parallel_tool_use"))) {
            jw_key(w, &first, "parallel_tool_calls");
            jw_lit(w, "false");
        }
    }
    if (ntools) {
        jw_key(w, &first, "tools");
        c->tools_off = w->b->len;
        rc = tools_write(c, refs, ntools);
        c->tools_end = w->b->len;
    }
    free(refs);
    if (rc) return rc;
    jw_key(w, &first, "messages");
    jw_raw(w, "[", 1);
    if ((rc = messages(c, get(root, "system"), get(root, "messages")))) return rc;
    c->msgs_end = w->b->len;
    jw_lit(w, "]}");
    return from_buf_rc(w->rc);
}

/* The body as one JSON object: root and end as cJSON_ParseWithLengthOpts(body,
 * len, &end, 0) left them; trailing bytes other than whitespace make it
 * invalid. Returns 0, or XLATE_EINVALID with err set. root is only read. */
static int check_body(const cJSON *root, const char *end, const char *body, size_t len, char *err,
                      size_t errlen)
{
    if (root && end) {
        while (end < body + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
            end++;
        if (end < body + len) root = NULL;
    }
    if (!root) {
        size_t off = end && end >= body && end <= body + len ? (size_t)(end - body) : 0;
        set_err(err, errlen, "request body is not valid JSON (near byte %zu)", off);
        return XLATE_EINVALID;
    }
    if (!cJSON_IsObject(root)) {
        set_err(err, errlen, "request body must be a JSON object");
        return XLATE_EINVALID;
    }
    return 0;
}

/* Everything both entry points share: parse, validate, translate into out,
 * estimate. */
static int translate(const xlate_parsed *pb, const char *body, size_t len,
                     const xlate_request_opts *opts, int need_max_tokens, buf *out,
                     const cJSON **rootp, cJSON **ownp, long *estimate, xlate_request_info *info,
                     char *err, size_t errlen)
{
    static const xlate_request_opts no_opts = {0};
    size_t start = out->len;
    xctx c;
    int rc;
    memset(&c, 0, sizeof c);
    c.w.b = out;
    c.text_only = opts ? opts->text_only : 0;
    c.err = err;
    c.errlen = errlen;
    if (err && errlen) err[0] = '\0';
    const char *end = pb ? pb->end : NULL;
    if (pb)
        *rootp = pb->root;
    else
        *rootp = *ownp = body && len ? jparse(body, len, &end) : NULL;
    rc = check_body(*rootp, end, body, len, err, errlen);
    if (rc) return rc;
    rc = check_top(&c, *rootp, need_max_tokens);
    if (!rc) rc = write_request(&c, *rootp, opts ? opts : &no_opts);
    user_reset(&c.user);
    free(c.user.parts);
    if (rc) return rc;
    *estimate = (long)((c.text_bytes + 3) / 4) + MESSAGE_TOKENS * c.nmsgs + IMAGE_TOKENS * c.images;
    if (*estimate < 1) *estimate = 1;
    if (info) {
        /* kind: the system prompt and the tools; first: kind + the first
         * conversational message. Offsets are relative to this output. */
        size_t sys_end = c.sys_first ? (c.nmsgs > 1 ? c.msg_off[1] : c.msgs_end) : c.msg_off[0];
        size_t first_idx = c.sys_first ? 1 : 0;
        size_t first_end = (size_t)c.nmsgs > first_idx + 1 ? c.msg_off[first_idx + 1] : c.msgs_end;
        uint64_t h = AFFINITY_HASH_INIT;
        if (c.tools_end > c.tools_off)
            h = affinity_hash(h, out->data + c.tools_off, c.tools_end - c.tools_off);
        if (c.sys_first) h = affinity_hash(h, out->data + c.msg_off[0], sys_end - c.msg_off[0]);
        info->kind_hash = h;
        info->first_hash =
            affinity_hash(h, out->data + sys_end, first_end > sys_end ? first_end - sys_end : 0);
        info->messages_off = (c.nmsgs ? c.msg_off[0] : c.msgs_end) - start;
        info->system_end = sys_end - start;
        info->id_slot_off = c.id_slot_off ? c.id_slot_off - start : 0;
        info->short_conv = c.short_conv;
    }
    return 0;
}

/* Copy s into dst[size], cut at a UTF-8 character boundary if it is long. */
static void copy_utf8(char *dst, size_t size, const char *s)
{
    size_t n = strlen(s);
    if (n >= size) {
        n = size - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

int xlate_request_build(const char *body, size_t len, const xlate_request_opts *opts, buf *out,
                        xlate_request_info *info, char *err, size_t errlen)
{
    return xlate_request_build_parsed(NULL, body, len, opts, out, info, err, errlen);
}

int xlate_request_build_parsed(const xlate_parsed *pb, const char *body, size_t len,
                               const xlate_request_opts *opts, buf *out, xlate_request_info *info,
                               char *err, size_t errlen)
{
    const cJSON *root = NULL;
    cJSON *own = NULL;
    size_t start = out->len;
    long estimate = 0;
    int rc;
    if (info) memset(info, 0, sizeof *info);
    rc = translate(pb, body, len, opts, 1, out, &root, &own, &estimate, info, err, errlen);
    if (rc) goto out;
    if (info) {
        const cJSON *tools = get(root, "tools");
        info->stream = cJSON_IsTrue(get(root, "stream"));
        copy_utf8(info->model, sizeof info->model, get(root, "model")->valuestring);
        info->input_estimate = estimate;
        if (tools && !(info->tools = cJSON_Duplicate(tools, 1))) rc = XLATE_ENOMEM;
    }
out:
    if (rc) {
        if (info) xlate_request_info_free(info);
        out->len = start;
        if (out->data) out->data[start] = '\0';
        if (rc == XLATE_ENOMEM) set_err(err, errlen, "out of memory");
        if (rc == XLATE_ETOOBIG) set_err(err, errlen, "translated request is too large");
    }
    cJSON_Delete(own);
    return rc;
}

void xlate_request_info_free(xlate_request_info *info)
{
    if (!info) return;
    cJSON_Delete(info->tools);
    memset(info, 0, sizeof *info);
}

int xlate_request_count_tokens(const char *body, size_t len, long *tokens, char *err, size_t errlen)
{
    return xlate_request_count_tokens_parsed(NULL, body, len, tokens, err, errlen);
}

int xlate_request_count_tokens_parsed(const xlate_parsed *pb, const char *body, size_t len,
                                      long *tokens, char *err, size_t errlen)
{
    const cJSON *root = NULL;
    cJSON *own = NULL;
    buf scratch;
    long estimate = 0;
    buf_init(&scratch, 0);
    int rc = translate(pb, body, len, NULL, 0, &scratch, &root, &own, &estimate, NULL, err, errlen);
    if (!rc) *tokens = estimate;
    if (rc == XLATE_ENOMEM) set_err(err, errlen, "out of memory");
    if (rc == XLATE_ETOOBIG) set_err(err, errlen, "request is too large");
    buf_free(&scratch);
    cJSON_Delete(own);
    return rc;
}
