/*
 * xlate_response: a whole chat.completion → one Anthropic message (see
 * xlate_response.h). Reads the answer with `openai`, builds the message as
 * a cJSON tree (reasoning, then text, then tool calls, as the stream would
 * have sent them) and prints it once. Pure: no I/O, no globals.
 *
 * With tool recovery (and tools), content text goes through toolcall_text
 * whole, and each native call's arguments through toolargs_repair against
 * its tool's input_schema; a call whose arguments cannot be used becomes a
 * text block saying so, as in the stream.
 */
#include "xlate_response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anthropic.h"
#include "openai.h"
#include "toolargs.h"
#include "toolcall_text.h"

enum block_kind { BLOCK_NONE, BLOCK_TEXT, BLOCK_THINKING };

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) snprintf(err, errlen, "%s", msg);
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
        const char *bid = openai_str(blk, "id");
        if (bid && strcmp(bid, id) == 0) return 1;
    }
    return 0;
}

/* A generated id for the call at ordinal that no block of content shows
 * yet (a backend could have used "toolu_<msg>_<n>" itself); the stream's
 * rule, over a whole response's content. */
static char *unique_content_id(const cJSON *content, const char *msg_id, size_t ordinal)
{
    for (size_t k = ordinal;; k += XLATE_STREAM_MAX_TOOL_CALLS) {
        char *id = anthropic_tool_id(msg_id, k);
        if (!id || !content_has_id(content, id)) return id;
        free(id);
    }
}

/* Did repair change the arguments? (Only formatting differs: no.) */
static int args_changed(const char *raw, size_t n, const char *fixed, size_t fixed_len)
{
    size_t i = 0;
    int changed = 1;
    while (i < n && is_ws(raw[i]))
        i++;
    if (i == n) return !(fixed_len == 2 && memcmp(fixed, "{}", 2) == 0);
    cJSON *j = openai_parse(raw, n);
    if (cJSON_IsObject(j)) {
        char *p = cJSON_PrintUnformatted(j);
        changed = !p || strlen(p) != fixed_len || memcmp(p, fixed, fixed_len) != 0;
        cJSON_free(p);
    }
    cJSON_Delete(j);
    return changed;
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
        input = openai_parse(fixed.data, fixed.len);
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
    const char *name = cJSON_IsObject(fn) ? openai_str(fn, "name") : NULL;
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
            if (!toolargs_unusable_text(&msg, name, t.data ? t.data : "", t.len))
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
        input = *p ? openai_parse(args, strlen(args)) : cJSON_CreateObject();
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
        if (toolargs_nameless_text(&t, args, strlen(args))) goto out;
        b = text_block(t.data);
        goto out;
    }
    if (!input) {
        if (toolargs_unusable_text(&t, name, args, strlen(args))) goto out;
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
    const char *lt = last ? openai_str(last, "type") : NULL;
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
    nm = strndup(name, name_len);
    input = openai_parse(args, args_len);
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
    int rc = XLATE_RESPONSE_EBODY;
    cJSON *root = NULL, *res = NULL, *content = NULL, *blk;
    char *printed = NULL;
    const char *msg_id = opts->msg_id ? opts->msg_id : "msg_anyclaude";
    char *sig = NULL;
    buf t;
    openai_usage u;
    int any_tool = 0;
    long pieces = 0;
    int repairs = 0, failures = 0, recovered = 0;
    const cJSON *rtools = opts->tool_recovery && cJSON_IsArray(opts->tools) && opts->tools->child
                              ? opts->tools
                              : NULL; /* with recovery: the tools */

    buf_init(&t, 0);
    openai_usage_init(&u);
    set_err(err, errlen, "");
    root = openai_parse(body, len);
    if (!cJSON_IsObject(root)) {
        set_err(err, errlen, "backend response is not a JSON object");
        goto out;
    }
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (e && !cJSON_IsNull(e)) {
        char msg[OPENAI_MAX_ERROR_MSG];
        int overloaded;
        openai_error_message(root, body, len < OPENAI_MAX_ERROR_MSG ? len : OPENAI_MAX_ERROR_MSG,
                             msg, sizeof msg, &overloaded);
        set_err(err, errlen, msg);
        goto out;
    }
    const cJSON *choice = openai_first_choice(root);
    const cJSON *msg = choice ? cJSON_GetObjectItemCaseSensitive(choice, "message") : NULL;
    if (!cJSON_IsObject(msg)) {
        set_err(err, errlen, "backend response has no choices[0].message");
        goto out;
    }
    rc = BUF_ENOMEM;
    size_t ordinal = 0;
    res = cJSON_CreateObject();
    content = cJSON_CreateArray();
    sig = anthropic_signature(msg_id);
    if (!res || !content || !sig) goto out;

    const char *r = openai_reasoning(msg);
    if (r) {
        if (!(blk = cJSON_CreateObject())) goto out;
        cJSON_AddItemToArray(content, blk);
        if (!cJSON_AddStringToObject(blk, "type", "thinking") ||
            !cJSON_AddStringToObject(blk, "thinking", r) ||
            !cJSON_AddStringToObject(blk, "signature", sig))
            goto out;
        pieces++;
    }
    if (openai_message_text(msg, &t)) goto out;
    if (t.len && rtools) {
        resp_blocks rb = {content, sig, msg_id, 0, 0, 0, 0, BLOCK_NONE, {0}};
        buf_init(&rb.cur, 0);
        int trc = recover_text(&rb, rtools,
                               opts->max_tool_args ? opts->max_tool_args
                                                   : XLATE_STREAM_DEFAULT_MAX_TOOL_ARGS,
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
            const char *up_id = tc == fc ? NULL : openai_str(tc, "id");
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

    openai_usage_read(&u, root);
    const char *seq = openai_stop_string(root, choice);
    const char *mapped = openai_finish_map(openai_str(choice, "finish_reason"));
    const char *stop = openai_stop_reason(mapped, any_tool, seq);
    long in, cached, outn;
    openai_usage_final(&u, opts->input_estimate >= 1 ? opts->input_estimate : 1, pieces, &in,
                       &cached, &outn);

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
