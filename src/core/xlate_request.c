/*
 * xlate_request: Anthropic Messages request → OpenAI Chat Completions request
 * (see xlate_request.h). It sits between the server, which has read a client
 * body, and upstream, which sends the bytes made here. Pure: bytes in, bytes
 * out; no I/O, no globals, no clock.
 *
 * How it works: the body is parsed with cJSON and checked field by field; the
 * upstream JSON is written by hand (jw) into a buf, keys in a fixed order with
 * "messages" last, so the bytes depend only on the input and never on how a
 * cJSON tree happened to be built. This file holds the request's top: the
 * top-level fields, their order, the estimate and the info; the "tools"
 * array is xlate_tools', the "messages" array xlate_messages' (which takes
 * content blocks from xlate_content); they share an xctx (xlate_ctx.h).
 *
 * Prefix stability is the point of most choices below: turn N+1's request is
 * turn N's plus new messages, and its bytes must extend turn N's so that a
 * backend's prefix (KV) cache hits. Anything that varies between sessions or
 * turns without changing meaning (the billing header, cache_control markers,
 * string vs block-list content, tool order, old reasoning) is normalised away.
 */
#include "xlate_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "affinity.h"
#include "jparse.h"
#include "jw.h"
#include "xlate_messages.h"
#include "xlate_tools.h"

/* Rough prompt-token cost of one image for the estimate (vision encoders
 * spend a few hundred to ~1.6k tokens on a typical screenshot). */
#define IMAGE_TOKENS 1000L
/* Chat-template tokens around each message (role markers, separators). */
#define MESSAGE_TOKENS 4L

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
    if (v && (!is_finite_num(v) || !jw_is_integral(v->valuedouble) || v->valuedouble < 1))
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
    if (v && (!is_finite_num(v) || !jw_is_integral(v->valuedouble) || v->valuedouble < 0))
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

/* The tools' part of the conversation's kind (xlate_request_info): the
 * tools as written, but without the deferred ones a tool_reference loaded
 * (xlate_tools), so that loading one mid-conversation keeps the
 * conversation where it was (its backend slot and cached prefix): the hash
 * of what the tools before them would write alone. */
static int tools_kind_hash(xctx *c, const xlate_tool_ref *refs, int n)
{
    int k = n;
    while (k > 0 && refs[k - 1].deferred)
        k--;
    if (k == n) {
        c->tools_hash = affinity_hash(AFFINITY_HASH_INIT, c->w.b->data + c->tools_off,
                                      c->tools_end - c->tools_off);
        return 0;
    }
    xctx t;
    buf b;
    memset(&t, 0, sizeof t);
    buf_init(&b, 0);
    jw_init(&t.w, &b);
    int rc = xlate_tools_write(&t, refs, k);
    if (!rc) c->tools_hash = affinity_hash(AFFINITY_HASH_INIT, b.data, b.len);
    buf_free(&b);
    return rc;
}

/* The upstream body: header fields in fixed order, then "messages". */
static int write_request(xctx *c, const cJSON *root, const xlate_request_opts *opts)
{
    jw *w = &c->w;
    int first = 1, ntools = 0, rc;
    xlate_tool_ref *refs = NULL;
    const cJSON *v, *tc = get(root, "tool_choice");
    int stream = cJSON_IsTrue(get(root, "stream"));

    if ((rc = xlate_tools_collect(c, get(root, "tools"), get(root, "messages"), &refs, &ntools)))
        return rc;
    c->tools = get(root, "tools");
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
        rc = xlate_tools_write_cached(c, opts->tools_cache, get(root, "tools"), refs, ntools);
        c->tools_end = w->b->len;
        if (!rc) rc = tools_kind_hash(c, refs, ntools);
    }
    free(refs);
    if (rc) return rc;
    jw_key(w, &first, "messages");
    jw_raw(w, "[", 1);
    if ((rc = xlate_messages_write(c, get(root, "system"), get(root, "messages")))) return rc;
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
    jw_init(&c.w, out);
    c.text_only = opts ? opts->text_only : 0;
    c.err = err;
    c.errlen = errlen;
    if (err && errlen) err[0] = '\0';
    const char *end = pb ? pb->end : NULL;
    if (pb) {
        *rootp = pb->root;
        c.tools_text = pb->tools;
        c.tools_text_len = pb->tools_len;
    } else {
        *rootp = *ownp =
            body && len ? jparse_member(body, len, &end, "tools", &c.tools_text, &c.tools_text_len)
                        : NULL;
    }
    rc = check_body(*rootp, end, body, len, err, errlen);
    if (rc) return rc;
    rc = check_top(&c, *rootp, need_max_tokens);
    if (!rc) rc = write_request(&c, *rootp, opts ? opts : &no_opts);
    xlate_messages_free(&c);
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
        if (c.tools_end > c.tools_off) h = c.tools_hash; /* chained from AFFINITY_HASH_INIT */
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
        /* the caller's tree outlives the info: borrow its tools (the stream
         * reads them); a tree parsed here dies below: copy them */
        if (tools && !own) {
            info->tools = (cJSON *)tools;
        } else if (tools) {
            info->tools = cJSON_Duplicate(tools, 1);
            info->tools_owned = 1;
            if (!info->tools) rc = XLATE_ENOMEM;
        }
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
    if (info->tools_owned) cJSON_Delete(info->tools);
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
