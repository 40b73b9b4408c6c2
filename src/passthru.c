/*
 * passthru: request rewrite and answer observer for /v1/messages backends
 * (see passthru.h).
 */
#include "passthru.h"

#include <stdio.h>
#include <string.h>

#include "anthropic.h"

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
    char *txt = cJSON_PrintUnformatted(root);
    if (!txt) return BUF_ENOMEM;
    int rc = buf_appends(out, txt);
    cJSON_free(txt);
    return rc;
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
