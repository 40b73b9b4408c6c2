/*
 * anthropic: Messages API wire shapes (see anthropic.h). Used by the stream
 * and response translators and by the server for errors. No I/O.
 */
#include "anthropic.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int anthropic_sse_event_raw(buf *out, const char *event, const char *json, size_t len)
{
    int rc = buf_appendf(out, "event: %s\ndata: ", event);
    if (!rc) rc = buf_append(out, json, len);
    if (!rc) rc = buf_append(out, "\n\n", 2);
    return rc;
}

int anthropic_sse_event(buf *out, const char *event, const cJSON *data)
{
    char *s = cJSON_PrintUnformatted(data);
    if (!s) return BUF_ENOMEM;
    int rc = anthropic_sse_event_raw(out, event, s, strlen(s));
    cJSON_free(s);
    return rc;
}

static char *error_body(const char *type, const char *msg)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *err = cJSON_CreateObject();
    if (!root || !err) {
        cJSON_Delete(root);
        cJSON_Delete(err);
        return NULL;
    }
    cJSON_AddStringToObject(root, "type", "error");
    cJSON_AddItemToObject(root, "error", err);
    cJSON_AddStringToObject(err, "type", type);
    cJSON_AddStringToObject(err, "message", msg ? msg : "");
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

int anthropic_error_json(buf *out, const char *type, const char *msg)
{
    char *s = error_body(type, msg);
    if (!s) return BUF_ENOMEM;
    int rc = buf_appends(out, s);
    cJSON_free(s);
    return rc;
}

int anthropic_error_event(buf *out, const char *type, const char *msg)
{
    char *s = error_body(type, msg);
    if (!s) return BUF_ENOMEM;
    int rc = anthropic_sse_event_raw(out, "error", s, strlen(s));
    cJSON_free(s);
    return rc;
}

int anthropic_error_status(const char *type)
{
    static const struct {
        const char *type;
        int status;
    } map[] = {
        {"invalid_request_error", 400},
        {"authentication_error", 401},
        {"permission_error", 403},
        {"not_found_error", 404},
        {"request_too_large", 413},
        {"rate_limit_error", 429},
        {"api_error", 500},
        {"overloaded_error", 529},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].type, type) == 0) return map[i].status;
    return 500;
}

/* Find the first run of digits after `from` (within end), parse it. */
static long number_after(const char *from, const char *end)
{
    while (from < end && (*from < '0' || *from > '9'))
        from++;
    long v = 0;
    int any = 0;
    while (from < end && *from >= '0' && *from <= '9' && v < 1000000000L) {
        v = v * 10 + (*from - '0');
        from++;
        any = 1;
    }
    return any ? v : 0;
}

static const char *memfind(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (m == 0 || m > n) return NULL;
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0) return hay + i;
    return NULL;
}

void anthropic_quote_raw(const char *raw, size_t n, char ctl, char *msg, size_t msglen)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < msglen; i++) {
        unsigned char c = (unsigned char)raw[i];
        msg[k++] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : (c < 0x20 ? ctl : (char)c);
    }
    msg[k] = '\0';
}

/* Pull a readable message out of a backend error body: error.message,
 * error (string), message, detail; else the raw body (printable part). */
static void backend_message(const char *body, size_t len, char *msg, size_t msglen)
{
    msg[0] = '\0';
    cJSON *j = cJSON_ParseWithLength(body, len);
    const char *m = NULL;
    if (j) {
        cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
        if (cJSON_IsObject(e)) {
            cJSON *em = cJSON_GetObjectItemCaseSensitive(e, "message");
            if (cJSON_IsString(em)) m = em->valuestring;
        } else if (cJSON_IsString(e)) {
            m = e->valuestring;
        }
        if (!m) {
            cJSON *mm = cJSON_GetObjectItemCaseSensitive(j, "message");
            if (cJSON_IsString(mm)) m = mm->valuestring;
        }
        if (!m) {
            cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "detail");
            if (cJSON_IsString(d)) m = d->valuestring;
        }
    }
    if (m) {
        snprintf(msg, msglen, "%s", m);
    } else {
        anthropic_quote_raw(body, len, '?', msg, msglen);
    }
    cJSON_Delete(j);
}

void anthropic_error_from_backend(long http_status, const char *body, size_t len, int *status,
                                  const char **type, char *msg, size_t msglen)
{
    char detail[1024];
    if (!body) {
        body = "";
        len = 0;
    }
    backend_message(body, len, detail, sizeof detail);
    const char *end = body + len;
    long n = 0, m = 0;
    int ctx = 0;
    const char *p;
    if ((p = memfind(body, len, "exceed_context_size_error")) ||
        (p = memfind(body, len, "exceeds the available context size"))) {
        ctx = 1;
        const char *q = memfind(body, len, "\"n_prompt_tokens\"");
        if (q) n = number_after(q + 17, end);
        q = memfind(body, len, "\"n_ctx\"");
        if (q) m = number_after(q + 7, end);
    } else if ((p = memfind(body, len, "maximum context length is"))) {
        /* OpenAI / vLLM: "maximum context length is M tokens. However, you
         * requested N tokens" or "your messages resulted in N tokens" */
        ctx = 1;
        m = number_after(p, end);
        const char *q = memfind(p, (size_t)(end - p), "resulted in");
        if (!q) q = memfind(p, (size_t)(end - p), "requested");
        if (!q) q = memfind(p, (size_t)(end - p), "However");
        if (q) n = number_after(q, end);
    } else if ((p = memfind(body, len, "context length of only"))) {
        /* LM Studio: "Trying to keep the first N tokens ... context length of only M tokens" */
        ctx = 1;
        m = number_after(p, end);
        const char *q = memfind(body, len, "first ");
        if (q && q < p) n = number_after(q, p);
    } else if (memfind(body, len, "context_length_exceeded") ||
               memfind(body, len, "prompt is too long")) {
        ctx = 1;
    }
    if (ctx && http_status >= 400 && http_status < 500) {
        *status = 400;
        *type = "invalid_request_error";
        snprintf(msg, msglen, "prompt is too long: %ld tokens > %ld maximum (backend: %s)", n, m,
                 detail);
        return;
    }
    if (http_status == 401 || http_status == 403) {
        *status = http_status == 401 ? 401 : 403;
        *type = http_status == 401 ? "authentication_error" : "permission_error";
        snprintf(msg, msglen, "backend refused the credentials (HTTP %ld): %s", http_status,
                 detail);
        return;
    }
    if (http_status == 429) {
        *status = 429;
        *type = "rate_limit_error";
        snprintf(msg, msglen, "backend is rate limiting (HTTP 429): %s", detail);
        return;
    }
    if (http_status == 503 || http_status == 529) {
        *status = 529;
        *type = "overloaded_error";
        snprintf(msg, msglen, "backend is overloaded or still loading (HTTP %ld): %s", http_status,
                 detail);
        return;
    }
    if (http_status >= 400 && http_status < 500) {
        *status = 400;
        *type = "invalid_request_error";
        snprintf(msg, msglen, "backend rejected the request (HTTP %ld): %s", http_status, detail);
        return;
    }
    *status = 500;
    *type = "api_error";
    snprintf(msg, msglen, "backend failed (HTTP %ld): %s", http_status, detail);
}

int anthropic_is_billing_text(const char *s)
{
    return s && strncmp(s, ANTHROPIC_BILLING_PREFIX, sizeof ANTHROPIC_BILLING_PREFIX - 1) == 0;
}

int anthropic_is_billing_block(const cJSON *blk)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(blk, "text");
    return cJSON_IsString(t) && anthropic_is_billing_text(t->valuestring);
}

static int is_reminder_text(const cJSON *b)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "type");
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(b, "text");
    return cJSON_IsString(t) && strcmp(t->valuestring, "text") == 0 && cJSON_IsString(x) &&
           strncmp(x->valuestring, "<system-reminder>", 17) == 0;
}

static const char *role_str(const cJSON *m)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "role");
    return cJSON_IsString(r) ? r->valuestring : "";
}

cJSON *anthropic_warm_prefix(cJSON *root)
{
    cJSON *w = cJSON_CreateObject();
    if (!w || !cJSON_AddStringToObject(w, "model", "anyclaude-warm-start") ||
        !cJSON_AddNumberToObject(w, "max_tokens", 1))
        goto fail;
    cJSON *sys = cJSON_DetachItemFromObjectCaseSensitive(root, "system");
    if (sys) cJSON_AddItemToObject(w, "system", sys);
    cJSON *tools = cJSON_DetachItemFromObjectCaseSensitive(root, "tools");
    if (tools) cJSON_AddItemToObject(w, "tools", tools);
    cJSON *out = cJSON_AddArrayToObject(w, "messages");
    if (!out) goto fail;
    cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    int user_seen = 0;
    cJSON *m = cJSON_IsArray(msgs) ? msgs->child : NULL;
    while (m && strcmp(role_str(m), "assistant") != 0) {
        cJSON *next = m->next;
        if (strcmp(role_str(m), "system") == 0) {
            cJSON_AddItemToArray(out, cJSON_DetachItemViaPointer(msgs, m));
        } else if (!user_seen && strcmp(role_str(m), "user") == 0) {
            user_seen = 1;
            cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
            cJSON *keep = cJSON_CreateArray();
            if (!keep) goto fail;
            cJSON *b = cJSON_IsArray(content) ? content->child : NULL;
            while (b) {
                cJSON *bn = b->next;
                if (is_reminder_text(b)) {
                    cJSON *c = cJSON_DetachItemViaPointer(content, b);
                    cJSON_DeleteItemFromObjectCaseSensitive(c, "cache_control");
                    cJSON_AddItemToArray(keep, c);
                }
                b = bn;
            }
            cJSON *u = cJSON_CreateObject();
            if (!u || !cJSON_AddStringToObject(u, "role", "user")) {
                cJSON_Delete(u);
                cJSON_Delete(keep);
                goto fail;
            }
            cJSON_AddItemToObject(u, "content", keep);
            cJSON_AddItemToArray(out, u);
        }
        m = next;
    }
    if (!user_seen) {
        cJSON *u = cJSON_CreateObject();
        if (!u || !cJSON_AddStringToObject(u, "role", "user") ||
            !cJSON_AddStringToObject(u, "content", "hi")) {
            cJSON_Delete(u);
            goto fail;
        }
        cJSON_AddItemToArray(out, u);
    }
    return w;
fail:
    cJSON_Delete(w);
    return NULL;
}

char *anthropic_signature(const char *msg_id)
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
char *anthropic_tool_id(const char *msg_id, size_t ordinal)
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
