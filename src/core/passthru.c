/*
 * passthru: request rewrite and answer observer for /v1/messages backends
 * (see passthru.h).
 */
#include "passthru.h"

#include <stdio.h>
#include <string.h>

#include "anthropic.h"
#include "jw.h"

/* The text of a role:"system" message (a string, or its text blocks joined
 * with "\n") as one "<system-reminder>" text block; NULL when it holds
 * anything but text, or no memory. */
static cJSON *reminder_block(const cJSON *content)
{
    buf t;
    buf_init(&t, 0);
    int rc = buf_appends(&t, "<system-reminder>\n");
    if (cJSON_IsString(content)) {
        if (!rc) rc = buf_appends(&t, content->valuestring);
    } else {
        int any = 0;
        const cJSON *b;
        cJSON_ArrayForEach(b, content)
        {
            const cJSON *ty = cJSON_GetObjectItemCaseSensitive(b, "type");
            const cJSON *tx = cJSON_GetObjectItemCaseSensitive(b, "text");
            if (!cJSON_IsString(ty) || strcmp(ty->valuestring, "text") != 0 || !cJSON_IsString(tx))
                rc = -1;
            if (!rc && any++) rc = buf_append(&t, "\n", 1);
            if (!rc) rc = buf_appends(&t, tx->valuestring);
        }
    }
    if (!rc) rc = buf_appends(&t, "\n</system-reminder>");
    cJSON *blk = NULL;
    if (!rc && (blk = cJSON_CreateObject())) {
        if (!cJSON_AddStringToObject(blk, "type", "text") ||
            !cJSON_AddStringToObject(blk, "text", t.data)) {
            cJSON_Delete(blk);
            blk = NULL;
        }
    }
    buf_free(&t);
    return blk;
}

static const char *role_of(const cJSON *m)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "role");
    return cJSON_IsString(r) ? r->valuestring : "";
}

/* See lead_system in passthru.h. Messages it cannot move (non-text content,
 * no user turn before the first assistant turn) stay where they are. */
static int lead_system(cJSON *root)
{
    cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (!cJSON_IsArray(msgs)) return 0;
    cJSON *user = NULL, *m;
    for (m = msgs->child; m && strcmp(role_of(m), "assistant") != 0; m = m->next)
        if (!user && strcmp(role_of(m), "user") == 0) user = m;
    cJSON *content = user ? cJSON_GetObjectItemCaseSensitive(user, "content") : NULL;
    if (!cJSON_IsString(content) && !cJSON_IsArray(content)) return 0;
    cJSON *lead = cJSON_CreateArray();
    if (!lead) return BUF_ENOMEM;
    m = msgs->child;
    while (m && strcmp(role_of(m), "assistant") != 0) {
        cJSON *next = m->next;
        if (strcmp(role_of(m), "system") == 0) {
            cJSON *blk = reminder_block(cJSON_GetObjectItemCaseSensitive(m, "content"));
            if (blk) {
                cJSON_AddItemToArray(lead, blk);
                cJSON_Delete(cJSON_DetachItemViaPointer(msgs, m));
            }
        }
        m = next;
    }
    if (!lead->child) {
        cJSON_Delete(lead);
        return 0;
    }
    if (cJSON_IsString(content)) {
        cJSON *blk = cJSON_CreateObject();
        if (!blk || !cJSON_AddStringToObject(blk, "type", "text") ||
            !cJSON_AddStringToObject(blk, "text", content->valuestring)) {
            cJSON_Delete(blk);
            cJSON_Delete(lead);
            return BUF_ENOMEM;
        }
        cJSON_AddItemToArray(lead, blk);
    } else {
        while (content->child)
            cJSON_AddItemToArray(lead, cJSON_DetachItemViaPointer(content, content->child));
    }
    cJSON_ReplaceItemInObjectCaseSensitive(user, "content", lead);
    return 0;
}

int passthru_rewrite(cJSON *root, const passthru_opts *o, buf *out)
{
    cJSON *sys = cJSON_GetObjectItemCaseSensitive(root, "system");
    if (cJSON_IsArray(sys)) {
        cJSON *b = sys->child;
        while (b) {
            cJSON *next = b->next;
            if (anthropic_is_billing_block(b)) cJSON_Delete(cJSON_DetachItemViaPointer(sys, b));
            b = next;
        }
    }
    if (o->lead_system) {
        int rc = lead_system(root);
        if (rc) return rc;
    }
    cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "max_tokens");
    if (o->max_tokens_cap > 0 && cJSON_IsNumber(mt) && mt->valuedouble > (double)o->max_tokens_cap)
        cJSON_SetNumberValue(mt, (double)o->max_tokens_cap);
    if (o->model && *o->model) {
        cJSON *m = cJSON_CreateString(o->model);
        if (!m) return BUF_ENOMEM;
        if (cJSON_GetObjectItemCaseSensitive(root, "model"))
            cJSON_ReplaceItemInObjectCaseSensitive(root, "model", m);
        else
            cJSON_AddItemToObject(root, "model", m);
    }
    /* cJSON_PrintUnformatted's bytes, written straight into out */
    jw w;
    jw_init(&w, out);
    jw_value(&w, root);
    return jw_finish(&w);
}

static long num(const cJSON *o, const char *k)
{
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    /* bounded before the cast: a double past LONG_MAX is undefined (fuzz) */
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e15 ? (long)v->valuedouble
                                                                             : -1;
}

/* usage from message_start (or a whole message): prompt side and output */
static void take_usage(passthru_obs *o, const cJSON *u, int start)
{
    if (!cJSON_IsObject(u)) return;
    long in = num(u, "input_tokens"), cr = num(u, "cache_read_input_tokens");
    long cc = num(u, "cache_creation_input_tokens"), out = num(u, "output_tokens");
    if (in >= 0 && (start || !o->st.usage_known)) {
        o->st.input_tokens = in + (cc > 0 ? cc : 0);
        o->st.usage_known = 1;
    }
    if (cr >= 0 && (start || cr > 0)) o->st.cached_tokens = cr;
    if (out >= 0) o->st.output_tokens = out;
}

static void take_stop(passthru_obs *o, const cJSON *v)
{
    if (!cJSON_IsString(v)) return;
    snprintf(o->stop, sizeof o->stop, "%s", v->valuestring);
    o->st.stop_reason = o->stop;
}

static int on_event(void *ud, const char *ev, size_t evn, const char *data, size_t n)
{
    passthru_obs *o = ud;
    if (evn == 5 && memcmp(ev, "error", 5) == 0) o->error = 1;
    if (evn == 4 && memcmp(ev, "ping", 4) == 0) return 0;
    cJSON *j = cJSON_ParseWithLength(data, n);
    if (!j) return 0;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
    const char *type = cJSON_IsString(t) ? t->valuestring : "";
    if (strcmp(type, "message_start") == 0) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
        take_usage(o, cJSON_GetObjectItemCaseSensitive(m, "usage"), 1);
    } else if (strcmp(type, "content_block_delta") == 0 ||
               strcmp(type, "content_block_start") == 0) {
        o->st.first_content = 1;
    } else if (strcmp(type, "message_delta") == 0) {
        take_usage(o, cJSON_GetObjectItemCaseSensitive(j, "usage"), 0);
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "delta");
        take_stop(o, cJSON_GetObjectItemCaseSensitive(d, "stop_reason"));
    } else if (strcmp(type, "error") == 0) {
        o->error = 1;
    }
    cJSON_Delete(j);
    return 0;
}

void passthru_obs_init(passthru_obs *o, size_t max_line)
{
    memset(o, 0, sizeof *o);
    o->st.prefill_ms = -1;
    sse_parser_init(&o->sse, max_line, on_event, NULL, o);
}

void passthru_obs_feed(passthru_obs *o, const char *p, size_t n)
{
    /* a line too long to read only costs the log line its numbers */
    sse_parser_feed(&o->sse, p, n);
}

void passthru_obs_message(passthru_obs *o, const char *body, size_t len)
{
    cJSON *j = cJSON_ParseWithLength(body, len);
    if (!j) return;
    take_usage(o, cJSON_GetObjectItemCaseSensitive(j, "usage"), 1);
    take_stop(o, cJSON_GetObjectItemCaseSensitive(j, "stop_reason"));
    if (cJSON_GetObjectItemCaseSensitive(j, "content")) o->st.first_content = 1;
    cJSON_Delete(j);
}

void passthru_obs_free(passthru_obs *o)
{
    sse_parser_free(&o->sse);
}
