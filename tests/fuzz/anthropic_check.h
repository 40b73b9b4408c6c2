/*
 * anthropic_check.h: what a client of the Anthropic Messages API would
 * reject, checked on the gateway's output (used by fuzz_stream).
 *
 * anthropic_check_stream: the bytes must be a sequence of
 *   "event: NAME\ndata: JSON\n\n" whose JSON "type" is NAME, in the order the
 * Messages API streams them: message_start; blocks opened with consecutive
 * indexes, deltas only for the open block and of its kind, stopped before
 * the next opens; message_delta once with no block open; message_stop last;
 * or an error event, which ends the stream. Tool-use ids are unique and
 * stop_reason is "tool_use" exactly when a tool_use block was sent.
 * complete: the stream must have ended (message_stop or error last).
 * strict_tool_json: each tool_use block's partial_json pieces must join into
 * a JSON object (what Claude Code parses at content_block_stop).
 *
 * anthropic_check_message: a whole (non-streaming) message: type, role,
 * content blocks, stop_reason, usage, unique tool ids.
 */
#ifndef ANYCLAUDE_ANTHROPIC_CHECK_H
#define ANYCLAUDE_ANTHROPIC_CHECK_H

#include <cjson/cJSON.h>

#include "fuzz_util.h"

static inline const char *ac_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline int ac_is(const char *a, const char *b)
{
    return a && strcmp(a, b) == 0;
}

static inline int ac_stop_reason_ok(const char *s)
{
    return ac_is(s, "end_turn") || ac_is(s, "max_tokens") || ac_is(s, "stop_sequence") ||
           ac_is(s, "tool_use");
}

static inline void ac_check_usage(const cJSON *u, const char *where)
{
    static const char *keys[] = {"input_tokens", "cache_creation_input_tokens",
                                 "cache_read_input_tokens", "output_tokens"};
    FUZZ_CHECK(cJSON_IsObject(u), "%s: usage missing", where);
    for (size_t i = 0; i < 4; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(u, keys[i]);
        FUZZ_CHECK(cJSON_IsNumber(v) && v->valuedouble >= 0 &&
                       v->valuedouble == (double)(long)v->valuedouble,
                   "%s: usage.%s not a non-negative integer", where, keys[i]);
    }
}

/* ids seen so far (small, linear). */
typedef struct ac_ids {
    char **v;
    size_t n;
} ac_ids;

static inline void ac_ids_add(ac_ids *ids, const char *id)
{
    FUZZ_CHECK(id && id[0], "tool_use block without an id");
    for (size_t i = 0; i < ids->n; i++)
        FUZZ_CHECK(strcmp(ids->v[i], id) != 0, "duplicate tool_use id \"%s\"", id);
    char **nv = realloc(ids->v, (ids->n + 1) * sizeof *nv);
    if (!nv) abort();
    ids->v = nv;
    ids->v[ids->n] = strdup(id);
    if (!ids->v[ids->n]) abort();
    ids->n++;
}

static inline void ac_ids_free(ac_ids *ids)
{
    for (size_t i = 0; i < ids->n; i++) free(ids->v[i]);
    free(ids->v);
    ids->v = NULL;
    ids->n = 0;
}

static inline void anthropic_check_stream(const char *p, size_t n, int complete,
                                          int strict_tool_json)
{
    const char *end = p + n;
    int nev = 0, open = -1, next = 0, got_delta = 0, got_stop = 0, got_error = 0;
    int any_tool = 0;
    const char *kind = NULL, *stop_reason = NULL;
    buf args;
    ac_ids ids = {0};
    buf_init(&args, 0);
    while (p < end) {
        FUZZ_CHECK(!got_stop && !got_error, "event after message_stop/error: %.60s", p);
        FUZZ_CHECK((size_t)(end - p) > 7 && memcmp(p, "event: ", 7) == 0,
                   "event %d does not start with 'event: ': %.60s", nev, p);
        const char *name = p + 7;
        const char *nl = memchr(name, '\n', (size_t)(end - name));
        FUZZ_CHECK(nl, "event %d: no newline after the name", nev);
        size_t name_len = (size_t)(nl - name);
        const char *d = nl + 1;
        FUZZ_CHECK((size_t)(end - d) > 6 && memcmp(d, "data: ", 6) == 0,
                   "event %d: no 'data: ' line", nev);
        d += 6;
        const char *dn = memchr(d, '\n', (size_t)(end - d));
        FUZZ_CHECK(dn && dn + 1 < end && dn[1] == '\n', "event %d: data not ended by a blank line",
                   nev);
        cJSON *j = cJSON_ParseWithLength(d, (size_t)(dn - d));
        FUZZ_CHECK(cJSON_IsObject(j), "event %d: data is not a JSON object: %.*s", nev,
                   (int)(dn - d), d);
        const char *type = ac_str(j, "type");
        FUZZ_CHECK(type && strlen(type) == name_len && memcmp(type, name, name_len) == 0,
                   "event %d: name %.*s but type %s", nev, (int)name_len, name,
                   type ? type : "(none)");
        if (nev == 0) {
            FUZZ_CHECK(ac_is(type, "message_start"), "first event is %s", type);
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
            FUZZ_CHECK(ac_str(m, "id") && ac_is(ac_str(m, "role"), "assistant") &&
                           ac_str(m, "model"),
                       "message_start without id/role/model");
            ac_check_usage(cJSON_GetObjectItemCaseSensitive(m, "usage"), "message_start");
        } else if (ac_is(type, "message_start")) {
            FUZZ_CHECK(0, "second message_start");
        } else if (ac_is(type, "content_block_start")) {
            const cJSON *ix = cJSON_GetObjectItemCaseSensitive(j, "index");
            const cJSON *cb = cJSON_GetObjectItemCaseSensitive(j, "content_block");
            FUZZ_CHECK(!got_delta, "content_block_start after message_delta");
            FUZZ_CHECK(open < 0, "content_block_start while block %d is open", open);
            FUZZ_CHECK(cJSON_IsNumber(ix) && ix->valuedouble == next,
                       "content_block_start index %g, expected %d",
                       cJSON_IsNumber(ix) ? ix->valuedouble : -1.0, next);
            kind = ac_str(cb, "type");
            if (ac_is(kind, "text")) {
                kind = "text";
                FUZZ_CHECK(ac_str(cb, "text"), "text block without text");
            } else if (ac_is(kind, "thinking")) {
                kind = "thinking";
            } else if (ac_is(kind, "tool_use")) {
                kind = "tool_use";
                ac_ids_add(&ids, ac_str(cb, "id"));
                FUZZ_CHECK(ac_str(cb, "name") && ac_str(cb, "name")[0],
                           "tool_use block without a name");
                FUZZ_CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(cb, "input")),
                           "tool_use block without input {}");
                any_tool = 1;
                buf_reset(&args);
            } else {
                FUZZ_CHECK(0, "content_block_start of type %s", kind ? kind : "(none)");
            }
            open = next;
        } else if (ac_is(type, "content_block_delta")) {
            const cJSON *ix = cJSON_GetObjectItemCaseSensitive(j, "index");
            const cJSON *dl = cJSON_GetObjectItemCaseSensitive(j, "delta");
            const char *dt = ac_str(dl, "type");
            FUZZ_CHECK(open >= 0 && cJSON_IsNumber(ix) && ix->valuedouble == open,
                       "delta for a block that is not open (open %d)", open);
            if (ac_is(kind, "text")) {
                FUZZ_CHECK(ac_is(dt, "text_delta") && ac_str(dl, "text"), "bad text delta");
            } else if (ac_is(kind, "thinking")) {
                FUZZ_CHECK((ac_is(dt, "thinking_delta") && ac_str(dl, "thinking")) ||
                               (ac_is(dt, "signature_delta") && ac_str(dl, "signature")),
                           "bad thinking delta");
            } else {
                const char *pj = ac_str(dl, "partial_json");
                FUZZ_CHECK(ac_is(dt, "input_json_delta") && pj, "bad tool delta");
                if (buf_appends(&args, pj)) abort();
            }
        } else if (ac_is(type, "content_block_stop")) {
            const cJSON *ix = cJSON_GetObjectItemCaseSensitive(j, "index");
            FUZZ_CHECK(open >= 0 && cJSON_IsNumber(ix) && ix->valuedouble == open,
                       "content_block_stop for a block that is not open (open %d)", open);
            if (ac_is(kind, "tool_use") && strict_tool_json) {
                cJSON *a = cJSON_ParseWithLength(args.data ? args.data : "", args.len);
                FUZZ_CHECK(cJSON_IsObject(a),
                           "tool_use input_json_delta pieces do not make a JSON object: %.200s",
                           args.data ? args.data : "");
                cJSON_Delete(a);
            }
            open = -1;
            next++;
        } else if (ac_is(type, "message_delta")) {
            const cJSON *dl = cJSON_GetObjectItemCaseSensitive(j, "delta");
            FUZZ_CHECK(open < 0, "message_delta while block %d is open", open);
            FUZZ_CHECK(!got_delta, "second message_delta");
            stop_reason = ac_str(dl, "stop_reason");
            FUZZ_CHECK(ac_stop_reason_ok(stop_reason), "bad stop_reason %s",
                       stop_reason ? stop_reason : "(none)");
            const cJSON *ss = cJSON_GetObjectItemCaseSensitive(dl, "stop_sequence");
            FUZZ_CHECK(ac_is(stop_reason, "stop_sequence") ? cJSON_IsString(ss) : cJSON_IsNull(ss),
                       "stop_sequence does not match stop_reason %s", stop_reason);
            FUZZ_CHECK(any_tool == ac_is(stop_reason, "tool_use"),
                       "stop_reason %s with%s tool_use blocks", stop_reason,
                       any_tool ? "" : " no");
            ac_check_usage(cJSON_GetObjectItemCaseSensitive(j, "usage"), "message_delta");
            got_delta = 1;
        } else if (ac_is(type, "message_stop")) {
            FUZZ_CHECK(got_delta, "message_stop without message_delta");
            got_stop = 1;
        } else if (ac_is(type, "error")) {
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
            FUZZ_CHECK(ac_str(e, "type") && ac_str(e, "message"), "error without type/message");
            got_error = 1;
        } else if (ac_is(type, "ping")) {
        } else {
            FUZZ_CHECK(0, "unknown event %s", type);
        }
        cJSON_Delete(j);
        nev++;
        p = dn + 2;
    }
    if (complete) FUZZ_CHECK(got_stop || got_error, "stream ended without message_stop or error");
    buf_free(&args);
    ac_ids_free(&ids);
}

static inline void anthropic_check_message(const char *p, size_t n)
{
    cJSON *m = cJSON_ParseWithLength(p, n);
    const cJSON *b;
    ac_ids ids = {0};
    int any_tool = 0;
    FUZZ_CHECK(cJSON_IsObject(m), "response is not a JSON object");
    FUZZ_CHECK(ac_is(ac_str(m, "type"), "message") && ac_is(ac_str(m, "role"), "assistant") &&
                   ac_str(m, "id") && ac_str(m, "model"),
               "response without type/role/id/model");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
    FUZZ_CHECK(cJSON_IsArray(content), "response content is not an array");
    cJSON_ArrayForEach(b, content)
    {
        const char *t = ac_str(b, "type");
        if (ac_is(t, "text")) {
            FUZZ_CHECK(ac_str(b, "text"), "text block without text");
        } else if (ac_is(t, "thinking")) {
            FUZZ_CHECK(ac_str(b, "thinking") && ac_str(b, "signature"), "bad thinking block");
        } else if (ac_is(t, "tool_use")) {
            ac_ids_add(&ids, ac_str(b, "id"));
            FUZZ_CHECK(ac_str(b, "name") && ac_str(b, "name")[0], "tool_use without a name");
            FUZZ_CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(b, "input")),
                       "tool_use input is not an object");
            any_tool = 1;
        } else {
            FUZZ_CHECK(0, "content block of type %s", t ? t : "(none)");
        }
    }
    const char *sr = ac_str(m, "stop_reason");
    FUZZ_CHECK(ac_stop_reason_ok(sr), "bad stop_reason %s", sr ? sr : "(none)");
    FUZZ_CHECK(any_tool == ac_is(sr, "tool_use"), "stop_reason %s with%s tool_use blocks", sr,
               any_tool ? "" : " no");
    const cJSON *ss = cJSON_GetObjectItemCaseSensitive(m, "stop_sequence");
    FUZZ_CHECK(ac_is(sr, "stop_sequence") ? cJSON_IsString(ss) : cJSON_IsNull(ss),
               "stop_sequence does not match stop_reason");
    ac_check_usage(cJSON_GetObjectItemCaseSensitive(m, "usage"), "response");
    ac_ids_free(&ids);
    cJSON_Delete(m);
}

/* A canonical form of an Anthropic SSE stream for comparing two runs whose
 * deltas may be cut at different places: consecutive content_block_delta
 * events of the same block and delta type are merged into one (their
 * text/thinking/partial_json/signature strings joined); every other event
 * is kept as its data line. Bytes that do not parse as events are kept. */
static inline void anthropic_canonical(const char *p, size_t n, buf *out)
{
    const char *end = p + n;
    buf pend;
    long pidx = -1;
    char ptype[32] = "";
    buf_init(&pend, 0);
#define AC_FLUSH()                                                                                \
    do {                                                                                          \
        if (pidx >= 0) {                                                                          \
            if (buf_appendf(out, "delta %ld %s %zu:", pidx, ptype, pend.len) ||                   \
                buf_append(out, pend.data ? pend.data : "", pend.len) || buf_appends(out, "\n")) \
                abort();                                                                          \
            buf_reset(&pend);                                                                     \
            pidx = -1;                                                                            \
        }                                                                                         \
    } while (0)
    while (p < end) {
        const char *d = memmem(p, (size_t)(end - p), "\ndata: ", 7);
        const char *dn = d ? memchr(d + 7, '\n', (size_t)(end - d - 7)) : NULL;
        if (!d || !dn || dn + 1 >= end || dn[1] != '\n') {
            AC_FLUSH();
            if (buf_appends(out, "rest:") || buf_append(out, p, (size_t)(end - p))) abort();
            break;
        }
        d += 7;
        cJSON *j = cJSON_ParseWithLength(d, (size_t)(dn - d));
        const char *type = ac_str(j, "type");
        const cJSON *dl = cJSON_GetObjectItemCaseSensitive(j, "delta");
        const cJSON *ix = cJSON_GetObjectItemCaseSensitive(j, "index");
        const char *dt = ac_str(dl, "type");
        const char *field = ac_is(dt, "text_delta")         ? "text"
                            : ac_is(dt, "thinking_delta")   ? "thinking"
                            : ac_is(dt, "input_json_delta") ? "partial_json"
                            : ac_is(dt, "signature_delta")  ? "signature"
                                                            : NULL;
        const char *sv = field ? ac_str(dl, field) : NULL;
        if (ac_is(type, "content_block_delta") && cJSON_IsNumber(ix) && sv && strlen(dt) < 32) {
            long idx = (long)ix->valuedouble;
            if (idx != pidx || strcmp(ptype, dt) != 0) {
                AC_FLUSH();
                pidx = idx;
                snprintf(ptype, sizeof ptype, "%s", dt);
            }
            if (buf_appends(&pend, sv)) abort();
        } else {
            AC_FLUSH();
            if (buf_append(out, p, (size_t)(dn + 2 - p))) abort();
        }
        cJSON_Delete(j);
        p = dn + 2;
    }
    AC_FLUSH();
#undef AC_FLUSH
    buf_free(&pend);
}

#endif
