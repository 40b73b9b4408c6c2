/*
 * xlate_stream: OpenAI Chat Completions → Anthropic Messages, streaming and
 * whole (see xlate_stream.h; the state machine is described in
 * docs/xlate_stream.md). Sits between `upstream` (raw bytes in) and `server`
 * (Anthropic SSE bytes out); it owns an sse_parser and is pure: no sockets,
 * no clocks, no globals.
 *
 * All model text on its way to a text block passes through
 * emit_content_text()/flush_content_text(). With tool recovery on (and
 * tools declared) that seam feeds a toolcall_text parser, which turns tool
 * calls written as text into tool_use blocks, and native tool calls' arguments
 * go through an argstream: they stream as they arrive, and only the members
 * that need repair or coercion (toolargs) are held until complete.
 */
#include "xlate_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "anthropic.h"
#include "argstream.h"
#include "jparse.h"
#include "sse.h"
#include "toolargs.h"
#include "toolcall_text.h"

#define XS_DEFAULT_MAX_LINE ((size_t)16 << 20)
#define XS_DEFAULT_MAX_TOOL_ARGS ((size_t)4 << 20)
#define XS_MAX_TOOL_CALLS 1024
#define XS_MAX_ERROR_MSG 1024 /* bytes of a backend's text quoted in an error */

#define XS_EFAILED (-20) /* an error event was appended; the stream is over */
#define XS_EOVER (-21)   /* called again after the stream failed */
#define XS_EBODY (-22)   /* xlate_response_build: not a usable chat completion */

enum block_kind { BLOCK_NONE, BLOCK_TEXT, BLOCK_THINKING, BLOCK_TOOL };
enum call_state { CALL_PENDING, CALL_OPEN, CALL_CLOSED };

/* One upstream tool call, from its first fragment to its block's stop. */
typedef struct tool_call {
    long up_index; /* upstream "index" when has_index */
    int has_index;
    char *up_id;    /* the backend's id, or NULL */
    char *name;     /* NULL until known */
    char *id;       /* the id shown to the client, set when the block opens */
    buf pending;    /* arguments that arrived before the name */
    argstream *as;  /* with recovery: the arguments, once the name is known */
    size_t emitted; /* argument bytes sent as input_json_delta */
    enum call_state state;
    int from_text; /* recovered from content text by toolcall_text */
} tool_call;

/* Token counts as the backend reported them; -1 where unknown. */
typedef struct usage_info {
    long prompt, completion, cached;
    long t_prompt_n, t_cache_n, t_predicted_n; /* llama.cpp "timings" */
    double t_prompt_ms;                        /* llama.cpp prefill time, -1 unknown */
} usage_info;

struct xlate_stream {
    char *model;
    char *msg_id;
    char *signature; /* for thinking blocks */
    long estimate;
    const cJSON *tools; /* borrowed; the request's tools */
    int recover;        /* tool_recovery on and tools a non-empty array */
    toolcall_text *tc;  /* with recover: the content parser, made on first content */
    size_t max_line;
    size_t max_tool_args;
    sse_parser sse;
    buf *out; /* the caller's output during feed/end */

    int begun;        /* message_start appended */
    int finished;     /* finish_reason or [DONE] seen */
    int message_done; /* message_stop appended */
    int failed;       /* error event appended */
    int at_end;       /* upstream closed: the last event may be cut short */

    int next_index; /* next Anthropic block index */
    enum block_kind open_kind;
    int open_index;
    size_t open_call; /* calls[] index when open_kind == BLOCK_TOOL */

    tool_call *calls;
    size_t ncalls, capcalls;
    int any_tool_use;

    const char *finish_mapped; /* stop_reason from finish_reason, or NULL */
    char *stop_sequence;       /* matched stop string, or NULL */
    usage_info usage;
    long content_deltas; /* upstream content pieces seen */
    int first_content;
    int tool_repairs, tool_failures, tool_recovered; /* see xlate_stream_stats */
};

/* ---- small helpers shared by both paths ---- */

static char *xs_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static char *xs_strdup(const char *s)
{
    return xs_strndup(s, strlen(s));
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Parse exactly [s, s+n) as JSON (trailing whitespace allowed). */
static cJSON *parse_json(const char *s, size_t n)
{
    const char *end = NULL;
    cJSON *j = jparse(s, n, &end);
    if (!j) return NULL;
    for (const char *p = end; p && p < s + n; p++) {
        if (!is_ws(*p)) {
            cJSON_Delete(j);
            return NULL;
        }
    }
    return j;
}

/* A non-empty string member, or NULL. */
static const char *get_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring && v->valuestring[0] ? v->valuestring : NULL;
}

static long get_long(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0) return -1;
    return v->valuedouble > 1e15 ? (long)1e15 : (long)v->valuedouble;
}

/* The choice with "index" 0 (or the first one). */
static const cJSON *first_choice(const cJSON *root)
{
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    const cJSON *c;
    if (!cJSON_IsArray(choices)) return NULL;
    cJSON_ArrayForEach(c, choices)
    {
        long ix = get_long(c, "index");
        if (cJSON_IsObject(c) && (ix == 0 || ix == -1)) return c;
    }
    return NULL;
}

static void usage_init(usage_info *u)
{
    u->prompt = u->completion = u->cached = -1;
    u->t_prompt_n = u->t_cache_n = u->t_predicted_n = -1;
    u->t_prompt_ms = -1;
}

/* Pick up "usage" and llama.cpp's "timings" from a chunk or a body. */
static void usage_read(usage_info *u, const cJSON *root)
{
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (cJSON_IsObject(usage)) {
        long v;
        if ((v = get_long(usage, "prompt_tokens")) >= 0) u->prompt = v;
        if ((v = get_long(usage, "completion_tokens")) >= 0) u->completion = v;
        const cJSON *det = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details");
        if (cJSON_IsObject(det) && (v = get_long(det, "cached_tokens")) >= 0) u->cached = v;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "timings");
    if (cJSON_IsObject(t)) {
        long v;
        if ((v = get_long(t, "prompt_n")) >= 0) u->t_prompt_n = v;
        if ((v = get_long(t, "cache_n")) >= 0) u->t_cache_n = v;
        if ((v = get_long(t, "predicted_n")) >= 0) u->t_predicted_n = v;
        const cJSON *pm = cJSON_GetObjectItemCaseSensitive(t, "prompt_ms");
        if (cJSON_IsNumber(pm) && pm->valuedouble >= 0) u->t_prompt_ms = pm->valuedouble;
    }
}

/* Anthropic semantics: input = prompt - cached, cache_read = cached. */
static void usage_final(const usage_info *u, long estimate, long counted, long *in, long *cached,
                        long *outp)
{
    long c = u->cached >= 0 ? u->cached : (u->t_cache_n >= 0 ? u->t_cache_n : 0);
    long prompt = u->prompt > 0 ? u->prompt : -1;
    if (prompt < 0 && u->t_prompt_n >= 0)
        prompt = u->t_prompt_n + (u->t_cache_n > 0 ? u->t_cache_n : 0);
    if (prompt > 0) {
        *in = prompt > c ? prompt - c : 0;
        *cached = c < prompt ? c : prompt;
    } else {
        *in = estimate;
        *cached = 0;
    }
    if (u->completion > 0)
        *outp = u->completion;
    else if (u->t_predicted_n > 0)
        *outp = u->t_predicted_n;
    else
        *outp = counted;
}

static const char *map_finish(const char *fr)
{
    if (!fr) return NULL;
    if (strcmp(fr, "length") == 0) return "max_tokens";
    if (strcmp(fr, "tool_calls") == 0 || strcmp(fr, "function_call") == 0) return "tool_use";
    return "end_turn"; /* stop, content_filter, eos, anything else */
}

/* Tool use beats everything; a matched stop string beats a plain stop. The
 * content decides about tools: "tool_calls" with no tool_use block (its
 * call was unusable and shown as text) ends the turn instead. */
static const char *final_stop_reason(const char *mapped, int any_tool, const char *stop_seq)
{
    if (any_tool) return "tool_use";
    if (mapped && strcmp(mapped, "tool_use") == 0) return "end_turn";
    if (stop_seq && (!mapped || strcmp(mapped, "end_turn") == 0)) return "stop_sequence";
    return mapped ? mapped : "end_turn";
}

/* vLLM: choice.stop_reason as a string; llama.cpp: "stopping_word". */
static const char *find_stop_string(const cJSON *root, const cJSON *choice)
{
    const char *s = get_str(choice, "stop_reason");
    if (!s) s = get_str(choice, "stopping_word");
    if (!s) s = get_str(root, "stopping_word");
    return s;
}

static char *make_signature(const char *msg_id)
{
    buf b;
    buf_init(&b, 0);
    if (buf_appendf(&b, "anyclaude-sig-%s", msg_id)) {
        buf_free(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

/* "toolu_" + msg_id without its "msg_" prefix + "_" + ordinal. */
static char *make_tool_id(const char *msg_id, size_t ordinal)
{
    buf b;
    const char *suffix = strncmp(msg_id, "msg_", 4) == 0 ? msg_id + 4 : msg_id;
    buf_init(&b, 0);
    if (buf_appendf(&b, "toolu_%s_%zu", suffix, ordinal)) {
        buf_free(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

/* The readable message of an error payload ({"error":{...}}, {"error":"..."},
 * or a bare {"message":...}) into msg; sets *overloaded from its words. */
static void error_message(const cJSON *j, const char *raw, size_t rawlen, char *msg, size_t msglen,
                          int *overloaded)
{
    const char *m = NULL, *type = NULL;
    const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
    if (cJSON_IsObject(e)) {
        m = get_str(e, "message");
        type = get_str(e, "type");
        if (!type) type = get_str(e, "code");
    } else if (cJSON_IsString(e) && e->valuestring && e->valuestring[0]) {
        m = e->valuestring;
    }
    if (!m && j) m = get_str(j, "message");
    if (!m && j) m = get_str(j, "detail");
    if (m) {
        snprintf(msg, msglen, "%s", m);
    } else {
        size_t k = 0;
        for (size_t i = 0; i < rawlen && k + 1 < msglen; i++) {
            unsigned char c = (unsigned char)raw[i];
            msg[k++] = c < 0x20 ? ' ' : (char)c;
        }
        msg[k] = '\0';
        if (k == 0) snprintf(msg, msglen, "backend reported an error");
    }
    *overloaded = 0;
    const char *words[] = {"overload", "unavailable", "busy"};
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        for (int pass = 0; pass < 2; pass++) {
            const char *s = pass ? type : msg;
            if (!s) continue;
            size_t wl = strlen(words[w]);
            for (; *s; s++)
                if (strncasecmp(s, words[w], wl) == 0) *overloaded = 1;
        }
    }
}

/* ---- a tiny JSON writer over buf with a sticky error ---- */

typedef struct jw {
    buf *b;
    size_t mark;
    int rc;
} jw;

static void jw_start(jw *w, buf *b, const char *event)
{
    w->b = b;
    w->mark = b->len;
    w->rc = buf_appendf(b, "event: %s\ndata: ", event);
}

static void jw_raw(jw *w, const char *s)
{
    if (!w->rc) w->rc = buf_appends(w->b, s);
}

static void jw_long(jw *w, long v)
{
    if (!w->rc) w->rc = buf_appendf(w->b, "%ld", v);
}

/* A JSON string literal (see buf_append_json_string); bytes >= 0x80 pass
 * through as they came. */
static void jw_str(jw *w, const char *s, size_t n)
{
    if (!w->rc) w->rc = buf_append_json_string(w->b, s, n);
}

static void jw_cstr(jw *w, const char *s)
{
    if (s)
        jw_str(w, s, strlen(s));
    else
        jw_raw(w, "null");
}

/* Finish the event; on failure take back everything it appended. */
static int jw_end(jw *w)
{
    jw_raw(w, "\n\n");
    if (w->rc) {
        w->b->len = w->mark;
        if (w->b->data) w->b->data[w->mark] = '\0';
    }
    return w->rc;
}

/* ---- stream: events ---- */

static int fail(xlate_stream *xs, const char *type, const char *msg)
{
    int rc = anthropic_error_event(xs->out, type, msg);
    xs->failed = 1;
    return rc ? rc : XS_EFAILED;
}

static int emit_delta(xlate_stream *xs, const char *dtype, const char *field, const char *s,
                      size_t n)
{
    jw w;
    jw_start(&w, xs->out, "content_block_delta");
    jw_raw(&w, "{\"type\":\"content_block_delta\",\"index\":");
    jw_long(&w, xs->open_index);
    jw_raw(&w, ",\"delta\":{\"type\":\"");
    jw_raw(&w, dtype);
    jw_raw(&w, "\",\"");
    jw_raw(&w, field);
    jw_raw(&w, "\":");
    jw_str(&w, s, n);
    jw_raw(&w, "}}");
    return jw_end(&w);
}

/* Close the open block: thinking gets its signature first, a tool call
 * that never sent arguments gets "{}" so the client's JSON is valid. */
static int close_block(xlate_stream *xs)
{
    int rc = 0;
    if (xs->open_kind == BLOCK_NONE) return 0;
    if (xs->open_kind == BLOCK_THINKING) {
        rc = emit_delta(xs, "signature_delta", "signature", xs->signature, strlen(xs->signature));
    } else if (xs->open_kind == BLOCK_TOOL) {
        tool_call *c = &xs->calls[xs->open_call];
        if (c->emitted == 0) rc = emit_delta(xs, "input_json_delta", "partial_json", "{}", 2);
        c->state = CALL_CLOSED;
    }
    if (rc) return rc;
    jw w;
    jw_start(&w, xs->out, "content_block_stop");
    jw_raw(&w, "{\"type\":\"content_block_stop\",\"index\":");
    jw_long(&w, xs->open_index);
    jw_raw(&w, "}");
    rc = jw_end(&w);
    if (rc) return rc;
    xs->open_kind = BLOCK_NONE;
    return 0;
}

/* Close whatever is open and start a block of `kind` (c: the tool call). */
static int open_block(xlate_stream *xs, enum block_kind kind, tool_call *c)
{
    int rc = close_block(xs);
    if (rc) return rc;
    jw w;
    jw_start(&w, xs->out, "content_block_start");
    jw_raw(&w, "{\"type\":\"content_block_start\",\"index\":");
    jw_long(&w, xs->next_index);
    jw_raw(&w, ",\"content_block\":");
    if (kind == BLOCK_TEXT) {
        jw_raw(&w, "{\"type\":\"text\",\"text\":\"\"}}");
    } else if (kind == BLOCK_THINKING) {
        jw_raw(&w, "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}");
    } else {
        jw_raw(&w, "{\"type\":\"tool_use\",\"id\":");
        jw_cstr(&w, c->id);
        jw_raw(&w, ",\"name\":");
        jw_cstr(&w, c->name);
        jw_raw(&w, ",\"input\":{}}}");
    }
    rc = jw_end(&w);
    if (rc) return rc;
    xs->open_kind = kind;
    xs->open_index = xs->next_index++;
    if (c) xs->open_call = (size_t)(c - xs->calls);
    return 0;
}

static int text_delta(xlate_stream *xs, const char *s, size_t n)
{
    int rc;
    if (n == 0) return 0;
    if (xs->open_kind != BLOCK_TEXT && (rc = open_block(xs, BLOCK_TEXT, NULL))) return rc;
    xs->first_content = 1;
    return emit_delta(xs, "text_delta", "text", s, n);
}

static int thinking_delta(xlate_stream *xs, const char *s, size_t n)
{
    int rc;
    if (n == 0) return 0;
    if (xs->open_kind != BLOCK_THINKING && (rc = open_block(xs, BLOCK_THINKING, NULL))) return rc;
    xs->first_content = 1;
    return emit_delta(xs, "thinking_delta", "thinking", s, n);
}

/* ---- stream: tool calls ---- */

static int call_differs(const tool_call *c, const char *id, const char *name)
{
    return (id && c->up_id && strcmp(id, c->up_id) != 0) ||
           (name && c->name && strcmp(name, c->name) != 0);
}

/* Append a new call to calls[]. *rc is set (after an error event where that
 * applies) when it returns NULL. */
static tool_call *new_call(xlate_stream *xs, int has_index, long idx, int *rc)
{
    tool_call *f;
    if (xs->ncalls >= XS_MAX_TOOL_CALLS) {
        *rc = fail(xs, "api_error", "backend sent more tool calls than the gateway accepts");
        return NULL;
    }
    if (xs->ncalls == xs->capcalls) {
        size_t cap = xs->capcalls ? xs->capcalls * 2 : 4;
        tool_call *p = realloc(xs->calls, cap * sizeof *p);
        if (!p) {
            *rc = BUF_ENOMEM;
            return NULL;
        }
        xs->calls = p;
        xs->capcalls = cap;
    }
    f = &xs->calls[xs->ncalls++];
    memset(f, 0, sizeof *f);
    f->has_index = has_index;
    f->up_index = idx;
    f->state = CALL_PENDING;
    buf_init(&f->pending, xs->max_tool_args);
    return f;
}

/* Is `id` already shown to the client for another call? */
static int id_taken(const xlate_stream *xs, const char *id)
{
    for (size_t i = 0; i < xs->ncalls; i++)
        if (xs->calls[i].id && strcmp(xs->calls[i].id, id) == 0) return 1;
    return 0;
}

/* A generated id for the call at ordinal that no other call shows (a
 * backend could have used "toolu_<msg>_<n>" itself). */
static char *unique_tool_id(const xlate_stream *xs, size_t ordinal)
{
    for (size_t k = ordinal;; k += XS_MAX_TOOL_CALLS) {
        char *id = make_tool_id(xs->msg_id, k);
        if (!id || !id_taken(xs, id)) return id;
        free(id);
    }
}

static int open_tool(xlate_stream *xs, tool_call *c)
{
    size_t ordinal = (size_t)(c - xs->calls);
    int rc;
    if (c->up_id && !id_taken(xs, c->up_id))
        c->id = xs_strdup(c->up_id);
    else
        c->id = unique_tool_id(xs, ordinal);
    if (!c->id) return BUF_ENOMEM;
    c = &xs->calls[ordinal];
    if ((rc = open_block(xs, BLOCK_TOOL, c))) return rc;
    c->state = CALL_OPEN;
    xs->any_tool_use = 1;
    if (c->pending.len) {
        rc = emit_delta(xs, "input_json_delta", "partial_json", c->pending.data, c->pending.len);
        if (rc) return rc;
        c->emitted += c->pending.len;
        xs->first_content = 1;
    }
    buf_free(&c->pending);
    return 0;
}

/* A whole tool_use block for calls[i]: start, one input_json_delta with
 * `args` (a complete JSON object, not the call's own pending buffer), stop. */
static int emit_whole_tool(xlate_stream *xs, size_t i, const char *args, size_t n)
{
    int rc;
    buf_free(&xs->calls[i].pending);
    if ((rc = open_tool(xs, &xs->calls[i]))) return rc;
    if ((rc = emit_delta(xs, "input_json_delta", "partial_json", args, n))) return rc;
    xs->calls[i].emitted += n;
    xs->first_content = 1;
    return close_block(xs);
}

/* Did repair change the arguments? (Only formatting differs: no.) */
static int args_changed(const char *raw, size_t n, const char *fixed, size_t fixed_len)
{
    size_t i = 0;
    int changed = 1;
    while (i < n && is_ws(raw[i]))
        i++;
    if (i == n) return !(fixed_len == 2 && memcmp(fixed, "{}", 2) == 0);
    cJSON *j = parse_json(raw, n);
    if (cJSON_IsObject(j)) {
        char *p = cJSON_PrintUnformatted(j);
        changed = !p || strlen(p) != fixed_len || memcmp(p, fixed, fixed_len) != 0;
        cJSON_free(p);
    }
    cJSON_Delete(j);
    return changed;
}

/* The text shown instead of a named call whose arguments cannot be used. */
static int unparseable_text(buf *t, const char *name, const char *raw, size_t n)
{
    int rc = buf_appends(t, "[tool call ");
    if (!rc) rc = buf_appends(t, name);
    if (!rc) rc = buf_appends(t, " with unparseable arguments: ");
    if (!rc) rc = buf_append(t, raw, n);
    if (!rc) rc = buf_appends(t, "]");
    return rc;
}

static int too_many_args(xlate_stream *xs)
{
    char msg[160];
    snprintf(msg, sizeof msg, "backend sent more than %zu bytes of arguments for one tool call",
             xs->max_tool_args);
    return fail(xs, "api_error", msg);
}

/* With recovery: send argument text (from the call's argstream) for call i,
 * opening its tool_use block first if needed. */
static int send_args(xlate_stream *xs, size_t i, const char *p, size_t n)
{
    int rc;
    if (n == 0) return 0;
    if (xs->calls[i].state == CALL_PENDING && (rc = open_tool(xs, &xs->calls[i]))) return rc;
    if ((rc = emit_delta(xs, "input_json_delta", "partial_json", p, n))) return rc;
    xs->calls[i].emitted += n;
    xs->first_content = 1;
    return 0;
}

/* With recovery: make call i's argstream once its name is known and give
 * it what arrived before the name. */
static int start_args(xlate_stream *xs, size_t i, buf *o)
{
    tool_call *c = &xs->calls[i];
    if (c->as) return 0;
    c->as =
        argstream_new(toolargs_find_schema(xs->tools, c->name, strlen(c->name)), xs->max_tool_args);
    if (!c->as) return BUF_ENOMEM;
    int rc = c->pending.len ? argstream_feed(c->as, c->pending.data, c->pending.len, o) : 0;
    buf_free(&c->pending);
    return rc == ARGSTREAM_ETOOBIG ? too_many_args(xs) : rc;
}

/* With recovery: argument text for named or unnamed call i. */
static int stream_args(xlate_stream *xs, size_t i, const char *p, size_t n)
{
    tool_call *c = &xs->calls[i];
    buf o;
    int rc;
    if (!c->name) { /* arguments before the name: hold them */
        rc = buf_append(&c->pending, p, n);
        return rc == BUF_ETOOBIG ? too_many_args(xs) : rc;
    }
    buf_init(&o, 0);
    rc = start_args(xs, i, &o);
    if (!rc && n) {
        rc = argstream_feed(xs->calls[i].as, p, n, &o);
        if (rc == ARGSTREAM_ETOOBIG) rc = too_many_args(xs);
    }
    if (!rc) rc = send_args(xs, i, o.data, o.len);
    buf_free(&o);
    return rc;
}

/* With recovery: native call i has all its arguments. Send the rest of
 * them (repaired where needed) and close its block; when nothing was sent
 * and nothing can be made of them, a text block with the raw call instead.
 * Calls without a name wait for finish_content. */
static int complete_call(xlate_stream *xs, size_t i)
{
    buf o, t;
    int rc, repaired = 0;
    if (xs->calls[i].state == CALL_CLOSED || !xs->calls[i].name) return 0;
    buf_init(&o, 0);
    buf_init(&t, 0);
    rc = start_args(xs, i, &o);
    if (!rc) rc = argstream_finish(xs->calls[i].as, &o, &repaired);
    tool_call *c = &xs->calls[i];
    if (rc == ARGSTREAM_EUNUSABLE) {
        size_t n;
        const char *raw = argstream_raw(c->as, &n);
        xs->tool_failures++;
        c->state = CALL_CLOSED;
        rc = unparseable_text(&t, c->name, raw, n);
        if (!rc) rc = close_block(xs); /* a block of its own, as in a whole response */
        if (!rc) rc = text_delta(xs, t.data, t.len);
    } else if (rc >= 0) {
        if (rc == 1)
            xs->tool_failures++;
        else if (repaired)
            xs->tool_repairs++;
        rc = send_args(xs, i, o.data, o.len);
        if (!rc && xs->open_kind == BLOCK_TOOL && xs->open_call == i) rc = close_block(xs);
        xs->calls[i].state = CALL_CLOSED;
    }
    buf_free(&o);
    buf_free(&t);
    return rc;
}

/* With recovery: complete every named native call still buffered. */
static int complete_calls(xlate_stream *xs)
{
    for (size_t i = 0; i < xs->ncalls; i++) {
        int rc = complete_call(xs, i);
        if (rc) return rc;
    }
    return 0;
}

/* The call a tool_calls[] element continues, or a new one. *rc is set
 * (after an error event where that applies) when it returns NULL. With
 * recovery a new call completes the buffered ones. */
static tool_call *find_call(xlate_stream *xs, int has_index, long idx, const char *id,
                            const char *name, int *rc)
{
    tool_call *f = NULL;
    if (has_index) {
        for (size_t i = xs->ncalls; i-- > 0;) {
            if (xs->calls[i].has_index && xs->calls[i].up_index == idx) {
                f = &xs->calls[i];
                break;
            }
        }
    } else {
        for (size_t i = xs->ncalls; i-- > 0;) {
            if (!xs->calls[i].from_text) {
                f = &xs->calls[i];
                break;
            }
        }
    }
    if (f && !call_differs(f, id, name)) return f;
    if (xs->recover && (*rc = complete_calls(xs))) return NULL;
    return new_call(xs, has_index, idx, rc);
}

/* ---- stream: the content text seam ---- */

static int tc_text(void *ud, const char *p, size_t n)
{
    return text_delta(ud, p, n);
}

static int tc_thinking(void *ud, const char *p, size_t n)
{
    return thinking_delta(ud, p, n);
}

/* A call recovered from text: already repaired and coerced by toolargs. */
static int tc_tool(void *ud, const char *name, size_t name_len, const char *args, size_t args_len)
{
    xlate_stream *xs = ud;
    int rc = 0;
    tool_call *c = new_call(xs, 0, -1, &rc);
    if (!c) return rc;
    c->from_text = 1;
    if (!(c->name = xs_strndup(name, name_len))) return BUF_ENOMEM;
    xs->tool_recovered++;
    return emit_whole_tool(xs, (size_t)(c - xs->calls), args, args_len);
}

/* Every piece of model text meant for a text block comes through here.
 * Without recovery it goes straight to a text block; with it, through a
 * toolcall_text parser whose sinks stream text and reasoning at once and
 * emit recovered calls as whole tool_use blocks. Buffered native calls are
 * complete once text follows them. */
static int emit_content_text(xlate_stream *xs, const char *s, size_t n)
{
    int rc;
    if (!xs->recover) return text_delta(xs, s, n);
    if ((rc = complete_calls(xs))) return rc;
    if (!xs->tc) {
        toolcall_text_sink sink = {tc_text, tc_thinking, tc_tool, xs};
        if (!(xs->tc = toolcall_text_new(xs->tools, xs->max_tool_args, &sink))) return BUF_ENOMEM;
    }
    return toolcall_text_feed(xs->tc, s, n);
}

/* The seam's end: release what the parser holds (an unterminated call is
 * emitted if it can be repaired, else as text) and drop the parser; content
 * after this starts a new one. */
static int flush_content_text(xlate_stream *xs)
{
    int rc;
    if (!xs->tc) return 0;
    rc = toolcall_text_finish(xs->tc);
    toolcall_text_free(xs->tc);
    xs->tc = NULL;
    return rc;
}

/* Something other than content (reasoning, a native call) arrived while the
 * parser holds back text: flush it so that block order stays arrival order. */
static int flush_held_text(xlate_stream *xs)
{
    toolcall_text_stats st;
    if (!xs->tc) return 0;
    toolcall_text_get_stats(xs->tc, &st);
    return st.held ? flush_content_text(xs) : 0;
}

/* One element of delta.tool_calls (or a legacy delta.function_call, which
 * is its own "function" object and carries no index or id). */
static int handle_tool_call(xlate_stream *xs, const cJSON *tc, int legacy)
{
    const cJSON *fn = legacy ? tc : cJSON_GetObjectItemCaseSensitive(tc, "function");
    const cJSON *ix = legacy ? NULL : cJSON_GetObjectItemCaseSensitive(tc, "index");
    const char *id = legacy ? NULL : get_str(tc, "id");
    const char *name = cJSON_IsObject(fn) ? get_str(fn, "name") : NULL;
    const cJSON *a = cJSON_IsObject(fn) ? cJSON_GetObjectItemCaseSensitive(fn, "arguments") : NULL;
    const char *args = NULL;
    char *printed = NULL;
    size_t n = 0;
    int rc = 0;

    if (cJSON_IsString(a) && a->valuestring) {
        args = a->valuestring;
        n = strlen(args);
    } else if (cJSON_IsObject(a) || cJSON_IsArray(a)) {
        printed = cJSON_PrintUnformatted(a);
        if (!printed) return BUF_ENOMEM;
        args = printed;
        n = strlen(args);
    }
    if (xs->recover && (rc = flush_held_text(xs))) goto out;
    double dix = cJSON_IsNumber(ix) ? ix->valuedouble : -1;
    long idx = dix > 1e15 ? (long)1e15 : dix < -1e15 ? (long)-1e15 : (long)dix;
    tool_call *c = find_call(xs, cJSON_IsNumber(ix), idx, id, name, &rc);
    if (!c) goto out;
    if (c->state == CALL_CLOSED) {
        if (n > 0)
            rc = fail(xs, "api_error",
                      "backend sent more arguments for a tool call after another block began");
        goto out;
    }
    if (id && !c->up_id && !(c->up_id = xs_strdup(id))) {
        rc = BUF_ENOMEM;
        goto out;
    }
    if (name && !c->name && !(c->name = xs_strdup(name))) {
        rc = BUF_ENOMEM;
        goto out;
    }
    if (n) xs->content_deltas++;
    if (xs->recover) {
        /* streamed through the call's argstream; repaired at the end only
         * where needed (complete_call) */
        rc = stream_args(xs, (size_t)(c - xs->calls), args ? args : "", n);
        goto out;
    }
    if (c->state == CALL_PENDING) {
        if (!c->name) {
            rc = buf_append(&c->pending, args ? args : "", n);
            if (rc == BUF_ETOOBIG) {
                char msg[160];
                snprintf(msg, sizeof msg,
                         "backend sent more than %zu bytes of tool call arguments before the "
                         "tool's name",
                         xs->max_tool_args);
                rc = fail(xs, "api_error", msg);
            }
            goto out;
        }
        size_t ordinal = (size_t)(c - xs->calls);
        if ((rc = open_tool(xs, c))) goto out;
        c = &xs->calls[ordinal];
    }
    if (n) {
        rc = emit_delta(xs, "input_json_delta", "partial_json", args, n);
        if (!rc) {
            c->emitted += n;
            xs->first_content = 1;
        }
    }
out:
    cJSON_free(printed);
    return rc;
}

/* A finish_reason arrived (or the message ends): flush the text seam,
 * complete buffered calls, close the open block, and show calls that never
 * got a name as text. */
static int finish_content(xlate_stream *xs)
{
    int rc = flush_content_text(xs);
    if (rc) return rc;
    for (size_t i = 0; i < xs->ncalls; i++) {
        tool_call *c = &xs->calls[i];
        if (xs->recover && c->name && c->state != CALL_CLOSED) {
            if ((rc = complete_call(xs, i))) return rc;
            continue;
        }
        if (c->state != CALL_PENDING) continue;
        c->state = CALL_CLOSED;
        if (c->pending.len == 0) continue;
        buf t;
        buf_init(&t, 0);
        rc = buf_appends(&t, "[tool call without a name: ");
        if (!rc) rc = buf_append(&t, c->pending.data, c->pending.len);
        if (!rc) rc = buf_appends(&t, "]");
        if (!rc) rc = text_delta(xs, t.data, t.len);
        buf_free(&t);
        buf_free(&c->pending);
        if (rc) return rc;
    }
    return close_block(xs);
}

static int finish_message(xlate_stream *xs)
{
    long in, cached, outn;
    int rc;
    xs->finished = 1;
    if ((rc = finish_content(xs))) return rc;
    usage_final(&xs->usage, xs->estimate, xs->content_deltas, &in, &cached, &outn);
    jw w;
    jw_start(&w, xs->out, "message_delta");
    const char *stop = final_stop_reason(xs->finish_mapped, xs->any_tool_use, xs->stop_sequence);
    jw_raw(&w, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":");
    jw_cstr(&w, stop);
    jw_raw(&w, ",\"stop_sequence\":");
    jw_cstr(&w, strcmp(stop, "stop_sequence") == 0 ? xs->stop_sequence : NULL);
    jw_raw(&w, "},\"usage\":{\"input_tokens\":");
    jw_long(&w, in);
    jw_raw(&w, ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":");
    jw_long(&w, cached);
    jw_raw(&w, ",\"output_tokens\":");
    jw_long(&w, outn);
    jw_raw(&w, "}}");
    if ((rc = jw_end(&w))) return rc;
    jw_start(&w, xs->out, "message_stop");
    jw_raw(&w, "{\"type\":\"message_stop\"}");
    if ((rc = jw_end(&w))) return rc;
    xs->message_done = 1;
    return 0;
}

/* ---- stream: upstream chunks ---- */

static int handle_chunk(xlate_stream *xs, const cJSON *root)
{
    int rc = 0;
    usage_read(&xs->usage, root);
    const cJSON *choice = first_choice(root);
    if (!choice) return 0;
    const cJSON *delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
    if (cJSON_IsObject(delta)) {
        const char *r = get_str(delta, "reasoning_content");
        if (!r) r = get_str(delta, "reasoning");
        if (r) {
            xs->content_deltas++;
            if (xs->recover && ((rc = flush_held_text(xs)) || (rc = complete_calls(xs)))) return rc;
            if ((rc = thinking_delta(xs, r, strlen(r)))) return rc;
        }
        const char *text = get_str(delta, "content");
        if (text) {
            xs->content_deltas++;
            if ((rc = emit_content_text(xs, text, strlen(text)))) return rc;
        }
        const cJSON *tcs = cJSON_GetObjectItemCaseSensitive(delta, "tool_calls");
        const cJSON *tc;
        if (cJSON_IsArray(tcs)) {
            cJSON_ArrayForEach(tc, tcs)
            {
                if (cJSON_IsObject(tc) && (rc = handle_tool_call(xs, tc, 0))) return rc;
            }
        }
        const cJSON *fc = cJSON_GetObjectItemCaseSensitive(delta, "function_call");
        if (cJSON_IsObject(fc) && (rc = handle_tool_call(xs, fc, 1))) return rc;
    }
    const char *seq = find_stop_string(root, choice);
    if (seq && !xs->stop_sequence && !(xs->stop_sequence = xs_strdup(seq))) return BUF_ENOMEM;
    const char *fr = get_str(choice, "finish_reason");
    if (fr) {
        xs->finished = 1;
        xs->finish_mapped = map_finish(fr);
        rc = finish_content(xs);
    }
    return rc;
}

static int fail_from_payload(xlate_stream *xs, const cJSON *j, const char *data, size_t len)
{
    char msg[XS_MAX_ERROR_MSG];
    int overloaded;
    error_message(j, data, len < XS_MAX_ERROR_MSG ? len : XS_MAX_ERROR_MSG, msg, sizeof msg,
                  &overloaded);
    return fail(xs, overloaded ? "overloaded_error" : "api_error", msg);
}

static int on_event(void *ud, const char *event, size_t event_len, const char *data, size_t len)
{
    xlate_stream *xs = ud;
    int named = event_len && !(event_len == 7 && memcmp(event, "message", 7) == 0);
    int is_error_event = event_len == 5 && memcmp(event, "error", 5) == 0;
    const char *s = data, *e = data + len;
    int rc = 0;

    if (xs->failed || xs->message_done) return 0;
    while (s < e && is_ws(*s))
        s++;
    while (e > s && is_ws(e[-1]))
        e--;
    if (!named && e - s == 6 && memcmp(s, "[DONE]", 6) == 0) return finish_message(xs);

    cJSON *j = parse_json(s, (size_t)(e - s));
    const cJSON *err = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
    if (is_error_event || (err && !cJSON_IsNull(err))) {
        rc = fail_from_payload(xs, j, s, (size_t)(e - s));
    } else if (named) {
        rc = 0; /* some other named event: not ours */
    } else if (!cJSON_IsObject(j) && xs->at_end) {
        /* an unterminated last event that does not parse: the connection
         * was cut, not the backend talking nonsense */
        rc = fail(xs, "api_error", "backend stream ended before the answer was complete");
    } else if (!cJSON_IsObject(j)) {
        buf m;
        buf_init(&m, 0);
        size_t show = (size_t)(e - s) < 200 ? (size_t)(e - s) : 200;
        rc = buf_appends(&m, "backend sent malformed stream data: ");
        for (size_t i = 0; !rc && i < show; i++) {
            char c = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
            rc = buf_append(&m, &c, 1);
        }
        if (!rc && show < (size_t)(e - s)) rc = buf_appends(&m, "...");
        if (!rc) rc = fail(xs, "api_error", m.data);
        buf_free(&m);
    } else {
        rc = handle_chunk(xs, j);
    }
    cJSON_Delete(j);
    return rc;
}

/* ---- stream: public ---- */

xlate_stream *xlate_stream_new(const xlate_stream_opts *opts)
{
    xlate_stream *xs = calloc(1, sizeof *xs);
    if (!xs) return NULL;
    xs->model = xs_strdup(opts->model ? opts->model : "");
    xs->msg_id = xs_strdup(opts->msg_id ? opts->msg_id : "msg_anyclaude");
    xs->signature = xs->msg_id ? make_signature(xs->msg_id) : NULL;
    if (!xs->model || !xs->msg_id || !xs->signature) {
        xlate_stream_free(xs);
        return NULL;
    }
    xs->estimate = opts->input_estimate >= 1 ? opts->input_estimate : 1;
    xs->tools = opts->tools;
    xs->recover = opts->tool_recovery && cJSON_IsArray(opts->tools) && opts->tools->child;
    xs->max_line = opts->max_line ? opts->max_line : XS_DEFAULT_MAX_LINE;
    xs->max_tool_args = opts->max_tool_args ? opts->max_tool_args : XS_DEFAULT_MAX_TOOL_ARGS;
    xs->open_kind = BLOCK_NONE;
    usage_init(&xs->usage);
    sse_parser_init(&xs->sse, xs->max_line, on_event, NULL, xs);
    return xs;
}

void xlate_stream_free(xlate_stream *xs)
{
    if (!xs) return;
    for (size_t i = 0; i < xs->ncalls; i++) {
        free(xs->calls[i].up_id);
        free(xs->calls[i].name);
        free(xs->calls[i].id);
        buf_free(&xs->calls[i].pending);
        argstream_free(xs->calls[i].as);
    }
    free(xs->calls);
    toolcall_text_free(xs->tc);
    sse_parser_free(&xs->sse);
    free(xs->model);
    free(xs->msg_id);
    free(xs->signature);
    free(xs->stop_sequence);
    free(xs);
}

void xlate_stream_set_estimate(xlate_stream *xs, long tokens)
{
    if (tokens >= 1) xs->estimate = tokens;
}

int xlate_stream_begin(xlate_stream *xs, buf *out)
{
    if (xs->begun) return 0;
    jw w;
    jw_start(&w, out, "message_start");
    jw_raw(&w, "{\"type\":\"message_start\",\"message\":{\"id\":");
    jw_cstr(&w, xs->msg_id);
    jw_raw(&w, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    jw_cstr(&w, xs->model);
    jw_raw(&w, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
               "\"usage\":{\"input_tokens\":");
    jw_long(&w, xs->estimate);
    jw_raw(&w, ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
               "\"output_tokens\":1}}}");
    int rc = jw_end(&w);
    if (!rc) xs->begun = 1;
    return rc;
}

/* After the SSE parser stopped with rc: make sure the client hears why. */
static int after_parse(xlate_stream *xs, int rc)
{
    if (rc == 0 || xs->failed) return rc;
    if (rc == SSE_ETOOLONG && xs->message_done) return 0; /* late bytes after [DONE] */
    if (rc == SSE_ETOOLONG) {
        char msg[128];
        snprintf(msg, sizeof msg, "backend sent an SSE line or event longer than %zu bytes",
                 xs->max_line);
        return fail(xs, "api_error", msg);
    }
    xs->failed = 1; /* the output itself failed: nothing more can be said */
    return rc;
}

int xlate_stream_feed(xlate_stream *xs, const char *bytes, size_t len, buf *out)
{
    int rc;
    if (xs->failed) return XS_EOVER;
    if (xs->message_done) return 0;
    if ((rc = xlate_stream_begin(xs, out))) return rc;
    xs->out = out;
    rc = sse_parser_feed(&xs->sse, bytes, len);
    rc = after_parse(xs, rc);
    xs->out = NULL;
    return rc;
}

int xlate_stream_end(xlate_stream *xs, buf *out)
{
    int rc;
    if (xs->failed) return XS_EOVER;
    if (xs->message_done) return 0;
    if ((rc = xlate_stream_begin(xs, out))) return rc;
    xs->out = out;
    xs->at_end = 1;
    rc = after_parse(xs, sse_parser_finish(&xs->sse));
    if (!rc && !xs->message_done) {
        if (xs->finished)
            rc = finish_message(xs);
        else
            rc = fail(xs, "api_error", "backend stream ended before the answer was complete");
    }
    xs->out = NULL;
    return rc;
}

int xlate_stream_fail(xlate_stream *xs, const char *type, const char *msg, buf *out)
{
    if (xs->failed || xs->message_done) return XS_EOVER;
    xs->out = out;
    int rc = fail(xs, type ? type : "api_error", msg ? msg : "backend request failed");
    xs->out = NULL;
    return rc == XS_EFAILED ? 0 : rc;
}

int xlate_stream_ping(buf *out)
{
    return buf_appends(out, "event: ping\ndata: {\"type\": \"ping\"}\n\n");
}

int xlate_stream_over(const xlate_stream *xs)
{
    return xs->message_done || xs->failed;
}

void xlate_stream_get_stats(const xlate_stream *xs, xlate_stream_stats *st)
{
    long in, cached, outn;
    usage_final(&xs->usage, xs->estimate, xs->content_deltas, &in, &cached, &outn);
    st->input_tokens = in;
    st->output_tokens = outn;
    st->cached_tokens = cached;
    st->stop_reason =
        xs->finished ? final_stop_reason(xs->finish_mapped, xs->any_tool_use, xs->stop_sequence)
                     : NULL;
    st->first_content = xs->first_content;
    st->usage_known = xs->usage.prompt > 0 || xs->usage.t_prompt_n >= 0;
    st->prefill_ms = xs->usage.t_prompt_ms;
    st->tool_repairs = xs->tool_repairs;
    st->tool_failures = xs->tool_failures;
    st->tool_recovered = xs->tool_recovered;
}

/* ---- whole responses ---- */

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

/* message.content as text: a string, or an array of {"type":"text"} parts. */
static int message_text(const cJSON *msg, buf *t)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(msg, "content");
    const cJSON *part;
    if (cJSON_IsString(c) && c->valuestring) return buf_appends(t, c->valuestring);
    if (!cJSON_IsArray(c)) return 0;
    cJSON_ArrayForEach(part, c)
    {
        const char *s = cJSON_IsObject(part) ? get_str(part, "text") : NULL;
        int rc = s ? buf_appends(t, s) : 0;
        if (rc) return rc;
    }
    return 0;
}

static cJSON *text_block(const char *s)
{
    cJSON *b = cJSON_CreateObject();
    if (!b) return NULL;
    if (!cJSON_AddStringToObject(b, "type", "text") || !cJSON_AddStringToObject(b, "text", s)) {
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

/* Does a block in content carry this id? */
static int content_has_id(const cJSON *content, const char *id)
{
    const cJSON *blk;
    cJSON_ArrayForEach(blk, content)
    {
        const char *bid = get_str(blk, "id");
        if (bid && strcmp(bid, id) == 0) return 1;
    }
    return 0;
}

/* As unique_tool_id, for a whole response's content. */
static char *unique_content_id(const cJSON *content, const char *msg_id, size_t ordinal)
{
    for (size_t k = ordinal;; k += XS_MAX_TOOL_CALLS) {
        char *id = make_tool_id(msg_id, k);
        if (!id || !content_has_id(content, id)) return id;
        free(id);
    }
}

/* With recovery: a named call's arguments (a string, or LM Studio's object)
 * repaired against the tool's input_schema. Returns the input object, or
 * NULL with *failed set (the raw text is then in raw), or NULL on ENOMEM. */
static cJSON *repaired_input(const cJSON *a, const char *name, const cJSON *tools, buf *raw,
                             int *repaired, int *failed)
{
    buf fixed;
    cJSON *input = NULL;
    int rc;
    char *printed = NULL;
    if (cJSON_IsString(a) && a->valuestring) {
        rc = buf_appends(raw, a->valuestring);
    } else if (cJSON_IsObject(a) || cJSON_IsArray(a)) {
        if (!(printed = cJSON_PrintUnformatted(a))) return NULL;
        rc = buf_appends(raw, printed);
        cJSON_free(printed);
    } else {
        rc = 0;
    }
    if (rc) return NULL;
    buf_init(&fixed, 0);
    rc = toolargs_repair(raw->data ? raw->data : "", raw->len,
                         toolargs_find_schema(tools, name, strlen(name)), &fixed, NULL, 0);
    if (rc == 0) {
        input = parse_json(fixed.data, fixed.len);
        if (input && args_changed(raw->data ? raw->data : "", raw->len, fixed.data, fixed.len))
            *repaired = 1;
    } else if (rc != TOOLARGS_ENOMEM) {
        *failed = 1;
    }
    buf_free(&fixed);
    return input;
}

/* One tool call of a whole response → a tool_use block, or a text block
 * saying what could not be used. NULL with *skip set when there is nothing.
 * tools: with recovery, the request's tools (arguments are repaired against
 * their schemas and *repaired / *failed report it); NULL without. */
static cJSON *tool_block(const cJSON *fn, const char *up_id, size_t ordinal, const char *msg_id,
                         cJSON *content, const cJSON *tools, int *is_tool, int *skip, int *repaired,
                         int *failed)
{
    const char *name = cJSON_IsObject(fn) ? get_str(fn, "name") : NULL;
    const cJSON *a = cJSON_IsObject(fn) ? cJSON_GetObjectItemCaseSensitive(fn, "arguments") : NULL;
    const char *args = cJSON_IsString(a) && a->valuestring ? a->valuestring : "";
    cJSON *input = NULL, *b = NULL;
    char *idgen = NULL;
    buf t;
    buf_init(&t, 0);
    *is_tool = 0;
    *skip = 0;
    *repaired = 0;
    *failed = 0;

    if (tools && name) {
        input = repaired_input(a, name, tools, &t, repaired, failed);
        if (!input && !*failed) goto out;
        if (!input) {
            buf msg;
            buf_init(&msg, 0);
            if (!unparseable_text(&msg, name, t.data ? t.data : "", t.len))
                b = text_block(msg.data);
            buf_free(&msg);
            goto out;
        }
        buf_reset(&t);
    } else if (cJSON_IsObject(a)) {
        input = cJSON_Duplicate(a, 1);
    } else {
        const char *p = args;
        while (*p && is_ws(*p))
            p++;
        input = *p ? parse_json(args, strlen(args)) : cJSON_CreateObject();
        if (input && !cJSON_IsObject(input)) {
            cJSON_Delete(input);
            input = NULL;
        }
    }
    if (!name) {
        if (!args[0] && !cJSON_IsObject(a)) {
            *skip = 1;
            goto out;
        }
        if (buf_appends(&t, "[tool call without a name: ") || buf_appends(&t, args) ||
            buf_appends(&t, "]"))
            goto out;
        b = text_block(t.data);
        goto out;
    }
    if (!input) {
        if (buf_appendf(&t, "[tool call %s with unparseable arguments: %s]", name, args)) goto out;
        b = text_block(t.data);
        goto out;
    }
    /* An id already used in this message is replaced, as in the stream. */
    if (!up_id || content_has_id(content, up_id)) {
        if (!(idgen = unique_content_id(content, msg_id, ordinal))) goto out;
    }
    b = cJSON_CreateObject();
    if (!b || !cJSON_AddStringToObject(b, "type", "tool_use") ||
        !cJSON_AddStringToObject(b, "id", idgen ? idgen : up_id) ||
        !cJSON_AddStringToObject(b, "name", name)) {
        cJSON_Delete(b);
        b = NULL;
        goto out;
    }
    if (!cJSON_AddItemToObject(b, "input", input)) {
        cJSON_Delete(b);
        b = NULL;
        goto out;
    }
    input = NULL;
    *is_tool = 1;
out:
    cJSON_Delete(input);
    free(idgen);
    buf_free(&t);
    return b;
}

/* A whole response's content blocks from the parts of content text that
 * toolcall_text gives: adjacent text (or reasoning) merges into one block,
 * as a client accumulating the stream would see it. */
typedef struct resp_blocks {
    cJSON *content;
    const char *sig;
    const char *msg_id;
    size_t ordinal; /* next generated tool id */
    int any_tool;
    long pieces;
    int recovered;
    int kind; /* BLOCK_TEXT or BLOCK_THINKING held in cur, or BLOCK_NONE */
    buf cur;
} resp_blocks;

static int rb_flush(resp_blocks *rb)
{
    int kind = rb->kind, rc = 0;
    const char *field = kind == BLOCK_TEXT ? "text" : "thinking";
    rb->kind = BLOCK_NONE;
    if (kind == BLOCK_NONE || rb->cur.len == 0) return 0;
    cJSON *last = cJSON_GetArrayItem(rb->content, cJSON_GetArraySize(rb->content) - 1);
    const char *lt = last ? get_str(last, "type") : NULL;
    if (lt && strcmp(lt, field) == 0) { /* e.g. reasoning_content, then <think> in content */
        const cJSON *old = cJSON_GetObjectItemCaseSensitive(last, field);
        buf m;
        buf_init(&m, 0);
        rc = buf_appends(&m, cJSON_IsString(old) && old->valuestring ? old->valuestring : "");
        if (!rc) rc = buf_append(&m, rb->cur.data, rb->cur.len);
        cJSON *v = rc ? NULL : cJSON_CreateString(m.data);
        if (!rc && (!v || !cJSON_ReplaceItemInObjectCaseSensitive(last, field, v))) {
            cJSON_Delete(v);
            rc = BUF_ENOMEM;
        }
        buf_free(&m);
    } else {
        cJSON *b = kind == BLOCK_TEXT ? text_block(rb->cur.data) : cJSON_CreateObject();
        if (!b) return BUF_ENOMEM;
        cJSON_AddItemToArray(rb->content, b);
        if (kind == BLOCK_THINKING && (!cJSON_AddStringToObject(b, "type", "thinking") ||
                                       !cJSON_AddStringToObject(b, "thinking", rb->cur.data) ||
                                       !cJSON_AddStringToObject(b, "signature", rb->sig)))
            rc = BUF_ENOMEM;
        rb->pieces++;
    }
    buf_reset(&rb->cur);
    return rc;
}

static int rb_add(resp_blocks *rb, int kind, const char *p, size_t n)
{
    int rc;
    if (n == 0) return 0;
    if (rb->kind != kind && (rc = rb_flush(rb))) return rc;
    rb->kind = kind;
    return buf_append(&rb->cur, p, n);
}

static int rb_text(void *ud, const char *p, size_t n)
{
    return rb_add(ud, BLOCK_TEXT, p, n);
}

static int rb_thinking(void *ud, const char *p, size_t n)
{
    return rb_add(ud, BLOCK_THINKING, p, n);
}

static int rb_tool(void *ud, const char *name, size_t name_len, const char *args, size_t args_len)
{
    resp_blocks *rb = ud;
    int rc = rb_flush(rb);
    char *id = NULL, *nm = NULL;
    cJSON *b = NULL, *input = NULL;
    if (rc) return rc;
    rc = BUF_ENOMEM;
    id = unique_content_id(rb->content, rb->msg_id, rb->ordinal++);
    nm = xs_strndup(name, name_len);
    input = parse_json(args, args_len);
    b = cJSON_CreateObject();
    if (!id || !nm || !cJSON_IsObject(input) || !b) goto out;
    cJSON_AddItemToArray(rb->content, b);
    if (!cJSON_AddStringToObject(b, "type", "tool_use") || !cJSON_AddStringToObject(b, "id", id) ||
        !cJSON_AddStringToObject(b, "name", nm) || !cJSON_AddItemToObject(b, "input", input)) {
        b = NULL;
        goto out;
    }
    input = NULL;
    b = NULL;
    rb->any_tool = 1;
    rb->recovered++;
    rb->pieces++;
    rc = 0;
out:
    cJSON_Delete(b);
    cJSON_Delete(input);
    free(id);
    free(nm);
    return rc;
}

/* With recovery: the message's content text through toolcall_text, whole,
 * with the same bound on held bytes as the stream (max_tool_args). */
static int recover_text(resp_blocks *rb, const cJSON *tools, size_t max_buffer, const char *text,
                        size_t n)
{
    toolcall_text_sink sink = {rb_text, rb_thinking, rb_tool, rb};
    toolcall_text *tc = toolcall_text_new(tools, max_buffer, &sink);
    int rc;
    if (!tc) return BUF_ENOMEM;
    rc = toolcall_text_feed(tc, text, n);
    if (!rc) rc = toolcall_text_finish(tc);
    toolcall_text_free(tc);
    if (!rc) rc = rb_flush(rb);
    return rc;
}

int xlate_response_build(const char *body, size_t len, const xlate_stream_opts *opts, buf *out,
                         xlate_stream_stats *st, char *err, size_t errlen)
{
    int rc = XS_EBODY;
    cJSON *root = NULL, *res = NULL, *content = NULL, *blk;
    char *printed = NULL;
    const char *msg_id = opts->msg_id ? opts->msg_id : "msg_anyclaude";
    char *sig = NULL;
    buf t;
    usage_info u;
    int any_tool = 0;
    long pieces = 0;
    int repairs = 0, failures = 0, recovered = 0;
    const cJSON *rtools = opts->tool_recovery && cJSON_IsArray(opts->tools) && opts->tools->child
                              ? opts->tools
                              : NULL; /* with recovery: the tools */

    buf_init(&t, 0);
    usage_init(&u);
    set_err(err, errlen, "");
    root = parse_json(body, len);
    if (!cJSON_IsObject(root)) {
        set_err(err, errlen, "backend response is not a JSON object");
        goto out;
    }
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (e && !cJSON_IsNull(e)) {
        char msg[XS_MAX_ERROR_MSG];
        int overloaded;
        error_message(root, body, len < XS_MAX_ERROR_MSG ? len : XS_MAX_ERROR_MSG, msg, sizeof msg,
                      &overloaded);
        set_err(err, errlen, msg);
        goto out;
    }
    const cJSON *choice = first_choice(root);
    const cJSON *msg = choice ? cJSON_GetObjectItemCaseSensitive(choice, "message") : NULL;
    if (!cJSON_IsObject(msg)) {
        set_err(err, errlen, "backend response has no choices[0].message");
        goto out;
    }
    rc = BUF_ENOMEM;
    size_t ordinal = 0;
    res = cJSON_CreateObject();
    content = cJSON_CreateArray();
    sig = make_signature(msg_id);
    if (!res || !content || !sig) goto out;

    const char *r = get_str(msg, "reasoning_content");
    if (!r) r = get_str(msg, "reasoning");
    if (r) {
        if (!(blk = cJSON_CreateObject())) goto out;
        cJSON_AddItemToArray(content, blk);
        if (!cJSON_AddStringToObject(blk, "type", "thinking") ||
            !cJSON_AddStringToObject(blk, "thinking", r) ||
            !cJSON_AddStringToObject(blk, "signature", sig))
            goto out;
        pieces++;
    }
    if (message_text(msg, &t)) goto out;
    if (t.len && rtools) {
        resp_blocks rb = {content, sig, msg_id, 0, 0, 0, 0, BLOCK_NONE, {0}};
        buf_init(&rb.cur, 0);
        int trc = recover_text(&rb, rtools,
                               opts->max_tool_args ? opts->max_tool_args : XS_DEFAULT_MAX_TOOL_ARGS,
                               t.data, t.len);
        buf_free(&rb.cur);
        if (trc) goto out;
        ordinal = rb.ordinal;
        any_tool |= rb.any_tool;
        pieces += rb.pieces;
        recovered = rb.recovered;
    } else if (t.len) {
        if (!(blk = text_block(t.data))) goto out;
        cJSON_AddItemToArray(content, blk);
        pieces++;
    }
    const cJSON *tcs = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
    const cJSON *fc = cJSON_GetObjectItemCaseSensitive(msg, "function_call");
    if (cJSON_IsArray(tcs) || cJSON_IsObject(fc)) {
        const cJSON *tc = cJSON_IsArray(tcs) ? tcs->child : fc;
        for (; tc; tc = cJSON_IsArray(tcs) ? tc->next : NULL, ordinal++) {
            int is_tool, skip, repaired, failed;
            const cJSON *fn = tc == fc ? fc : cJSON_GetObjectItemCaseSensitive(tc, "function");
            const char *up_id = tc == fc ? NULL : get_str(tc, "id");
            blk = tool_block(fn, up_id, ordinal, msg_id, content, rtools, &is_tool, &skip,
                             &repaired, &failed);
            if (skip) continue;
            if (!blk) goto out;
            cJSON_AddItemToArray(content, blk);
            any_tool |= is_tool;
            repairs += repaired;
            failures += failed;
            pieces++;
        }
    }

    usage_read(&u, root);
    const char *seq = find_stop_string(root, choice);
    const char *mapped = map_finish(get_str(choice, "finish_reason"));
    const char *stop = final_stop_reason(mapped, any_tool, seq);
    long in, cached, outn;
    usage_final(&u, opts->input_estimate >= 1 ? opts->input_estimate : 1, pieces, &in, &cached,
                &outn);

    cJSON *usage = cJSON_CreateObject();
    if (!cJSON_AddStringToObject(res, "id", msg_id) ||
        !cJSON_AddStringToObject(res, "type", "message") ||
        !cJSON_AddStringToObject(res, "role", "assistant") ||
        !cJSON_AddStringToObject(res, "model", opts->model ? opts->model : "")) {
        cJSON_Delete(usage);
        goto out;
    }
    if (!cJSON_AddItemToObject(res, "content", content)) {
        cJSON_Delete(usage);
        goto out;
    }
    content = NULL;
    if (!usage || !cJSON_AddStringToObject(res, "stop_reason", stop) ||
        !(strcmp(stop, "stop_sequence") == 0 ? cJSON_AddStringToObject(res, "stop_sequence", seq)
                                             : cJSON_AddNullToObject(res, "stop_sequence"))) {
        cJSON_Delete(usage);
        goto out;
    }
    if (!cJSON_AddItemToObject(res, "usage", usage)) {
        cJSON_Delete(usage);
        goto out;
    }
    if (!cJSON_AddNumberToObject(usage, "input_tokens", (double)in) ||
        !cJSON_AddNumberToObject(usage, "cache_creation_input_tokens", 0) ||
        !cJSON_AddNumberToObject(usage, "cache_read_input_tokens", (double)cached) ||
        !cJSON_AddNumberToObject(usage, "output_tokens", (double)outn))
        goto out;
    if (!(printed = cJSON_PrintUnformatted(res))) goto out;
    if ((rc = buf_appends(out, printed))) goto out;
    if (st) {
        st->input_tokens = in;
        st->output_tokens = outn;
        st->cached_tokens = cached;
        st->stop_reason = stop;
        st->first_content = pieces > 0;
        st->usage_known = u.prompt > 0 || u.t_prompt_n >= 0;
        st->prefill_ms = u.t_prompt_ms;
        st->tool_repairs = repairs;
        st->tool_failures = failures;
        st->tool_recovered = recovered;
    }
    rc = 0;
out:
    if (rc == BUF_ENOMEM || rc == BUF_ETOOBIG)
        set_err(err, errlen, rc == BUF_ETOOBIG ? "response too large" : "out of memory");
    cJSON_free(printed);
    cJSON_Delete(content);
    cJSON_Delete(res);
    cJSON_Delete(root);
    free(sig);
    buf_free(&t);
    return rc;
}
