/*
 * xlate_stream: OpenAI Chat Completions stream → Anthropic Messages stream
 * (see xlate_stream.h; the state machine is described in
 * docs/xlate_stream.md). Sits between `upstream` (raw bytes in) and `server`
 * (Anthropic SSE bytes out); it owns an sse_parser, reads each chunk with
 * `openai`, writes events with `jw`, and is pure: no sockets, no clocks, no
 * globals. The whole (non-streaming) answer is xlate_response's.
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
#include "jw.h"
#include "openai.h"
#include "sse.h"
#include "toolargs.h"
#include "toolcall_text.h"

#define XS_DEFAULT_MAX_LINE ((size_t)16 << 20)

#define XS_EFAILED (-20) /* an error event was appended; the stream is over */
#define XS_EOVER (-21)   /* called again after the stream failed */

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

struct xlate_stream {
    jparse_arena arena; /* the chunk being read */
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
    openai_usage usage;
    long content_deltas; /* upstream content pieces seen */
    int first_content;
    int tool_repairs, tool_failures, tool_recovered; /* see xlate_stream_stats */
};

/* ---- small helpers ---- */

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

/* ---- SSE events written with jw ---- */

/* Start `event: NAME\ndata: ` at the end of b; the JSON follows. */
static void event_start(jw *w, buf *b, const char *event)
{
    jw_init(w, b);
    jw_lit(w, "event: ");
    jw_lit(w, event);
    jw_lit(w, "\ndata: ");
}

/* Finish the event; on failure take back everything it appended. */
static int event_end(jw *w)
{
    jw_lit(w, "\n\n");
    return jw_finish(w);
}

/* Start a content block event: `event: TYPE` whose data begins
 * {"type":"TYPE","index":INDEX. */
static void block_event_start(jw *w, buf *b, const char *type, long index)
{
    event_start(w, b, type);
    jw_lit(w, "{\"type\":\"");
    jw_lit(w, type);
    jw_lit(w, "\",\"index\":");
    jw_long(w, index);
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
    block_event_start(&w, xs->out, "content_block_delta", xs->open_index);
    jw_lit(&w, ",\"delta\":{\"type\":\"");
    jw_lit(&w, dtype);
    jw_lit(&w, "\",\"");
    jw_lit(&w, field);
    jw_lit(&w, "\":");
    jw_str(&w, s, n);
    jw_lit(&w, "}}");
    return event_end(&w);
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
    block_event_start(&w, xs->out, "content_block_stop", xs->open_index);
    jw_lit(&w, "}");
    rc = event_end(&w);
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
    block_event_start(&w, xs->out, "content_block_start", xs->next_index);
    jw_lit(&w, ",\"content_block\":");
    if (kind == BLOCK_TEXT) {
        jw_lit(&w, "{\"type\":\"text\",\"text\":\"\"}}");
    } else if (kind == BLOCK_THINKING) {
        jw_lit(&w, "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}");
    } else {
        jw_lit(&w, "{\"type\":\"tool_use\",\"id\":");
        jw_cstr(&w, c->id);
        jw_lit(&w, ",\"name\":");
        jw_cstr(&w, c->name);
        jw_lit(&w, ",\"input\":{}}}");
    }
    rc = event_end(&w);
    if (rc) return rc;
    xs->open_kind = kind;
    xs->open_index = xs->next_index++;
    if (c) xs->open_call = (size_t)(c - xs->calls);
    return 0;
}

/* Model text (or reasoning) for a block of kind: opens one if another kind
 * is open, then sends the delta. */
static int block_delta(xlate_stream *xs, enum block_kind kind, const char *dtype, const char *field,
                       const char *s, size_t n)
{
    int rc;
    if (n == 0) return 0;
    if (xs->open_kind != kind && (rc = open_block(xs, kind, NULL))) return rc;
    xs->first_content = 1;
    return emit_delta(xs, dtype, field, s, n);
}

static int text_delta(xlate_stream *xs, const char *s, size_t n)
{
    return block_delta(xs, BLOCK_TEXT, "text_delta", "text", s, n);
}

static int thinking_delta(xlate_stream *xs, const char *s, size_t n)
{
    return block_delta(xs, BLOCK_THINKING, "thinking_delta", "thinking", s, n);
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
    if (xs->ncalls >= XLATE_STREAM_MAX_TOOL_CALLS) {
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
    for (size_t k = ordinal;; k += XLATE_STREAM_MAX_TOOL_CALLS) {
        char *id = anthropic_tool_id(xs->msg_id, k);
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
        rc = toolargs_unusable_text(&t, c->name, raw, n);
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
    const cJSON *fn = legacy ? tc : jparse_get(tc, "function");
    const cJSON *ix = legacy ? NULL : jparse_get(tc, "index");
    const char *id = legacy ? NULL : openai_str(tc, "id");
    const char *name = cJSON_IsObject(fn) ? openai_str(fn, "name") : NULL;
    const cJSON *a = cJSON_IsObject(fn) ? jparse_get(fn, "arguments") : NULL;
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
    /* named calls first: a nameless call's text would close a named one's
     * block before its arguments were completed (a fuzzer's find: "{") */
    if (xs->recover && (rc = complete_calls(xs))) return rc;
    for (size_t i = 0; i < xs->ncalls; i++) {
        tool_call *c = &xs->calls[i];
        if (c->state != CALL_PENDING) continue;
        c->state = CALL_CLOSED;
        if (c->pending.len == 0) continue;
        buf t;
        buf_init(&t, 0);
        rc = toolargs_nameless_text(&t, c->pending.data, c->pending.len);
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
    openai_usage_final(&xs->usage, xs->estimate, xs->content_deltas, &in, &cached, &outn);
    jw w;
    event_start(&w, xs->out, "message_delta");
    const char *stop = openai_stop_reason(xs->finish_mapped, xs->any_tool_use, xs->stop_sequence);
    jw_lit(&w, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":");
    jw_cstr(&w, stop);
    jw_lit(&w, ",\"stop_sequence\":");
    jw_cstr(&w, strcmp(stop, "stop_sequence") == 0 ? xs->stop_sequence : NULL);
    jw_lit(&w, "},\"usage\":{\"input_tokens\":");
    jw_long(&w, in);
    jw_lit(&w, ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":");
    jw_long(&w, cached);
    jw_lit(&w, ",\"output_tokens\":");
    jw_long(&w, outn);
    jw_lit(&w, "}}");
    if ((rc = event_end(&w))) return rc;
    event_start(&w, xs->out, "message_stop");
    jw_lit(&w, "{\"type\":\"message_stop\"}");
    if ((rc = event_end(&w))) return rc;
    xs->message_done = 1;
    return 0;
}

/* ---- stream: upstream chunks ---- */

static int handle_chunk(xlate_stream *xs, const cJSON *root)
{
    int rc = 0;
    openai_usage_read(&xs->usage, root);
    const cJSON *choice = openai_first_choice(root);
    if (!choice) return 0;
    const cJSON *delta = jparse_get(choice, "delta");
    if (cJSON_IsObject(delta)) {
        const char *r = openai_reasoning(delta);
        if (r) {
            xs->content_deltas++;
            if (xs->recover && ((rc = flush_held_text(xs)) || (rc = complete_calls(xs)))) return rc;
            if ((rc = thinking_delta(xs, r, strlen(r)))) return rc;
        }
        const char *text = openai_str(delta, "content");
        if (text) {
            xs->content_deltas++;
            if ((rc = emit_content_text(xs, text, strlen(text)))) return rc;
        }
        const cJSON *tcs = jparse_get(delta, "tool_calls");
        const cJSON *tc;
        if (cJSON_IsArray(tcs)) {
            cJSON_ArrayForEach(tc, tcs)
            {
                if (cJSON_IsObject(tc) && (rc = handle_tool_call(xs, tc, 0))) return rc;
            }
        }
        const cJSON *fc = jparse_get(delta, "function_call");
        if (cJSON_IsObject(fc) && (rc = handle_tool_call(xs, fc, 1))) return rc;
    }
    const char *seq = openai_stop_string(root, choice);
    if (seq && !xs->stop_sequence && !(xs->stop_sequence = xs_strdup(seq))) return BUF_ENOMEM;
    const char *fr = openai_str(choice, "finish_reason");
    if (fr) {
        xs->finished = 1;
        xs->finish_mapped = openai_finish_map(fr);
        rc = finish_content(xs);
    }
    return rc;
}

static int fail_from_payload(xlate_stream *xs, const cJSON *j, const char *data, size_t len)
{
    char msg[OPENAI_MAX_ERROR_MSG];
    int overloaded;
    openai_error_message(j, data, len < OPENAI_MAX_ERROR_MSG ? len : OPENAI_MAX_ERROR_MSG, msg,
                         sizeof msg, &overloaded);
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

    /* the chunk's tree, read and dropped here: in the stream's arena */
    cJSON *j = openai_parse_in(&xs->arena, s, (size_t)(e - s));
    const cJSON *err = j ? jparse_get(j, "error") : NULL;
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
    jparse_arena_drop(&xs->arena);
    return rc;
}

/* ---- stream: public ---- */

xlate_stream *xlate_stream_new(const xlate_stream_opts *opts)
{
    xlate_stream *xs = calloc(1, sizeof *xs);
    if (!xs) return NULL;
    xs->model = xs_strdup(opts->model ? opts->model : "");
    xs->msg_id = xs_strdup(opts->msg_id ? opts->msg_id : "msg_anyclaude");
    xs->signature = xs->msg_id ? anthropic_signature(xs->msg_id) : NULL;
    if (!xs->model || !xs->msg_id || !xs->signature) {
        xlate_stream_free(xs);
        return NULL;
    }
    xs->estimate = opts->input_estimate >= 1 ? opts->input_estimate : 1;
    xs->tools = opts->tools;
    xs->recover = opts->tool_recovery && cJSON_IsArray(opts->tools) && opts->tools->child;
    xs->max_line = opts->max_line ? opts->max_line : XS_DEFAULT_MAX_LINE;
    xs->max_tool_args =
        opts->max_tool_args ? opts->max_tool_args : XLATE_STREAM_DEFAULT_MAX_TOOL_ARGS;
    xs->open_kind = BLOCK_NONE;
    openai_usage_init(&xs->usage);
    sse_parser_init(&xs->sse, xs->max_line, on_event, NULL, xs);
    return xs;
}

void xlate_stream_free(xlate_stream *xs)
{
    if (!xs) return;
    jparse_arena_free(&xs->arena);
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
    event_start(&w, out, "message_start");
    jw_lit(&w, "{\"type\":\"message_start\",\"message\":{\"id\":");
    jw_cstr(&w, xs->msg_id);
    jw_lit(&w, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    jw_cstr(&w, xs->model);
    jw_lit(&w, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
               "\"usage\":{\"input_tokens\":");
    jw_long(&w, xs->estimate);
    jw_lit(&w, ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
               "\"output_tokens\":1}}}");
    int rc = event_end(&w);
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
    openai_usage_final(&xs->usage, xs->estimate, xs->content_deltas, &in, &cached, &outn);
    st->input_tokens = in;
    st->output_tokens = outn;
    st->cached_tokens = cached;
    st->stop_reason =
        xs->finished ? openai_stop_reason(xs->finish_mapped, xs->any_tool_use, xs->stop_sequence)
                     : NULL;
    st->first_content = xs->first_content;
    st->usage_known = xs->usage.prompt > 0 || xs->usage.t_prompt_n >= 0;
    st->prefill_ms = xs->usage.t_prompt_ms;
    st->tool_repairs = xs->tool_repairs;
    st->tool_failures = xs->tool_failures;
    st->tool_recovered = xs->tool_recovered;
}
