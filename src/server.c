/*
 * server: the HTTP routes, replies, and the small endpoints (count_tokens,
 * models, health, metrics). The /v1/messages exchange is messages.c; each
 * backend's live state is backends.c.
 */
#include "server.h"

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

#include "access.h"
#include "anthropic.h"
#include "rendezvous.h"
#include "h1.h"
#include "jparse.h"
#include "provenance.h"
#include "server_int.h"
#include "servertools.h"
#include "version.h"

double server_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void client_closed(httpd_req *r, void *arg);

void exchange_free(exchange *ex)
{
    server *s = ex->srv;
    if (ex->req) {
        httpd_req_on_close(ex->req, NULL, NULL);
        httpd_req_on_drain(ex->req, NULL, NULL);
    }
    upstream_cancel(ex->up);
    upstream_cancel(ex->tok);
    buf_free(&ex->tok_req);
    buf_free(&ex->tok_resp);
    log_trace_close(ex->trace);
    if (ex->grace) event_free(ex->grace);
    if (ex->ping) event_free(ex->ping);
    if (ex->hold) event_free(ex->hold);
    if (ex->idle) event_free(ex->idle);
    xlate_stream_free(ex->xs);
    xlate_request_info_free(&ex->info);
    if (ex->obs_on) passthru_obs_free(&ex->obs);
    if (ex->bk && ex->slot >= 0) backend_slot_done(ex->bk, ex->slot, ex->slot_key);
    if (ex->bk) ex->bk->inflight--;
    cJSON_Delete(ex->root);
    free(ex->prefix);
    buf_free(&ex->upbody);
    buf_free(&ex->resp);
    buf_free(&ex->out);
    buf_free(&ex->hdrs);
    if (ex->prev)
        ex->prev->next = ex->next;
    else
        s->exchanges = ex->next;
    if (ex->next) ex->next->prev = ex->prev;
    s->active--;
    free(ex);
#ifdef __GLIBC__
    /* after a burst, give the streams' memory back to the system */
    if (s->active == 0) malloc_trim(0);
#endif
}

exchange *exchange_new(server *s, httpd_req *req, enum ex_kind kind)
{
    exchange *ex = calloc(1, sizeof *ex);
    if (!ex) return NULL;
    ex->srv = s;
    ex->kind = kind;
    ex->req = req;
    buf_init(&ex->upbody, s->cfg->max_body * 2 + 1024 * 1024);
    buf_init(&ex->resp, MAX_UPSTREAM_BODY);
    buf_init(&ex->out, MAX_CLIENT_BACKLOG);
    buf_init(&ex->tok_req, 64u << 20);
    buf_init(&ex->tok_resp, 64u << 20);
    buf_init(&ex->hdrs, 64u << 10);
    ex->t_start = server_now_ms();
    ex->slot = -1;
    ex->next = s->exchanges;
    if (s->exchanges) s->exchanges->prev = ex;
    s->exchanges = ex;
    s->active++;
    httpd_req_on_close(req, client_closed, ex);
    return ex;
}

/* The client's connection closed before we finished: httpd frees the
 * request; we cancel the backend request and forget the exchange. */
static void client_closed(httpd_req *r, void *arg)
{
    exchange *ex = arg;
    log_line(1, "client disconnected after %.0f ms; upstream request cancelled",
             server_now_ms() - ex->t_start);
    ex->srv->m.client_disconnects++;
    ex->req = NULL;
    exchange_free(ex);
}

/* ---- replies ------------------------------------------------------------- */

void add_common_headers(exchange *ex)
{
    if (ex->msg_id[0]) httpd_add_header(ex->req, "request-id", ex->msg_id);
    if (ex->bk) httpd_add_header(ex->req, "anyclaude-backend", ex->bk->cfg->name);
}

/* Send a complete (non-streamed) reply and free the exchange. */
void reply_whole(exchange *ex, int status, const char *body, size_t len)
{
    log_trace_write(ex->trace, "reply to client", body, len);
    if (ex->req) {
        add_common_headers(ex);
        httpd_reply(ex->req, status, "application/json", body, len);
        ex->req = NULL;
    }
    exchange_free(ex);
}

void reply_error(exchange *ex, const char *type, const char *msg)
{
    metrics_error(&ex->srv->m, type);
    if (ex->kind == EX_MESSAGES) ex->srv->m.responses_error++;
    buf b;
    buf_init(&b, 0);
    anthropic_error_json(&b, type, msg);
    log_line(1, "error %d %s: %s", anthropic_error_status(type), type, msg);
    reply_whole(ex, anthropic_error_status(type), b.data ? b.data : "", b.len);
    buf_free(&b);
}

/* Error on a request that has no exchange yet. */
void send_error_req(httpd_req *req, const char *type, const char *msg)
{
    buf b;
    buf_init(&b, 0);
    anthropic_error_json(&b, type, msg);
    log_line(1, "error %d %s: %s", anthropic_error_status(type), type, msg);
    httpd_reply(req, anthropic_error_status(type), "application/json", b.data ? b.data : "", b.len);
    buf_free(&b);
}

static int body_of(httpd_req *req, const char **p, size_t *n)
{
    *p = httpd_req_body(req, n);
    return 0;
}

/* ---- llama.cpp's template and tokenizer ----------------------------------- */

/* Step 1 → 2: from an /apply-template answer, the /tokenize request body
 * (written into out). Returns 0, or -1 when the answer has no prompt. */
int tokenize_request(const buf *answer, buf *out)
{
    cJSON *j = cJSON_ParseWithLength(answer->data ? answer->data : "", answer->len);
    const cJSON *pr = j ? cJSON_GetObjectItemCaseSensitive(j, "prompt") : NULL;
    cJSON *t = cJSON_IsString(pr) ? cJSON_CreateObject() : NULL;
    char *txt = NULL;
    if (t) {
        cJSON_AddStringToObject(t, "content", pr->valuestring);
        cJSON_AddBoolToObject(t, "add_special", 1);
        txt = cJSON_PrintUnformatted(t);
        cJSON_Delete(t);
    }
    cJSON_Delete(j);
    int rc = txt && buf_appends(out, txt) == BUF_OK ? 0 : -1;
    cJSON_free(txt);
    return rc;
}

/* Step 2: the number of tokens in a /tokenize answer, or -1. */
long tokenize_count(const buf *answer)
{
    cJSON *j = cJSON_ParseWithLength(answer->data ? answer->data : "", answer->len);
    const cJSON *toks = j ? cJSON_GetObjectItemCaseSensitive(j, "tokens") : NULL;
    long n = cJSON_IsArray(toks) ? cJSON_GetArraySize(toks) : -1;
    cJSON_Delete(j);
    return n;
}

backend_rt *server_backend_for(server *s, const cJSON *root, const char **target_model)
{
    const routes *rs = &s->cfg->routing;
    const route *r = routes_default(rs);
    if (root && routes_need_facts(rs)) {
        route_facts f;
        routes_facts(root, 0, &f);
        r = routes_match(rs, &f);
    }
    /* the first target that is up */
    const route_target *t = &r->pool[0];
    for (int i = 0; i < r->npool; i++)
        if (s->bs.b[r->pool[i].backend].up) {
            t = &r->pool[i];
            break;
        }
    *target_model = t->model;
    return &s->bs.b[t->backend];
}

void passthru_keep_header(exchange *ex, const char *n, size_t nl, const char *v, size_t vl)
{
    if (nl == 12 && strncasecmp(n, "content-type", 12) == 0) {
        snprintf(ex->ctype, sizeof ex->ctype, "%.*s", (int)(vl < 127 ? vl : 127), v);
        return;
    }
    int keep = (nl == 10 && strncasecmp(n, "request-id", 10) == 0) ||
               (nl > 10 && strncasecmp(n, "anthropic-", 10) == 0) ||
               (nl == 11 && strncasecmp(n, "retry-after", 11) == 0) ||
               (nl == 14 && strncasecmp(n, "x-should-retry", 14) == 0);
    if (!keep || ex->hdrs.len + nl + vl + 2 > 64 * 1024) return;
    buf_append(&ex->hdrs, n, nl);
    buf_append(&ex->hdrs, "", 1);
    buf_append(&ex->hdrs, v, vl);
    buf_append(&ex->hdrs, "", 1);
}

void relay_headers(exchange *ex)
{
    int have_id = 0;
    for (size_t i = 0; i < ex->hdrs.len;) {
        const char *n = ex->hdrs.data + i;
        const char *v = n + strlen(n) + 1;
        if (strcasecmp(n, "request-id") == 0) have_id = 1;
        httpd_add_header(ex->req, n, v);
        i = (size_t)(v + strlen(v) + 1 - ex->hdrs.data);
    }
    if (!have_id && ex->msg_id[0]) httpd_add_header(ex->req, "request-id", ex->msg_id);
    if (ex->bk) httpd_add_header(ex->req, "anyclaude-backend", ex->bk->cfg->name);
}

/* Is this credential the gateway's own (its --auth-token, or the
 * launcher's per-run token, or the placeholder older launchers gave)
 * rather than the user's? */
static int gateway_credential(const server *s, const char *v)
{
    if (strncasecmp(v, "Bearer ", 7) == 0) v += 7;
    return strcmp(v, "anyclaude") == 0 ||
           (s->cfg->auth_token[0] && access_token_equal(s->cfg->auth_token, v));
}

static int hop_by_hop(const char *n)
{
    static const char *const skip[] = {"host",
                                       TOKEN_HEADER,
                                       "origin",
                                       "content-length",
                                       "connection",
                                       "keep-alive",
                                       "transfer-encoding",
                                       "te",
                                       "trailer",
                                       "upgrade",
                                       "proxy-authorization",
                                       "proxy-connection",
                                       "expect",
                                       "accept-encoding",
                                       "content-type",
                                       "accept"};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (strcasecmp(n, skip[i]) == 0) return 1;
    return 0;
}

/* One "Name: value" line into h; 0, or -1 when there is no room. */
static int add_line(pt_headers *h, const char *name, const char *value)
{
    if (h->n >= PT_MAX_HEADERS) return -1;
    h->off[h->n] = h->store.len;
    if (buf_appendf(&h->store, "%s: %s", name, value) || buf_append(&h->store, "", 1)) return -1;
    h->n++;
    return 0;
}

int affinity_value(httpd_req *req, char *out, size_t n)
{
    const char *sid = httpd_req_header(req, "X-Claude-Code-Session-Id");
    const char *aid = httpd_req_header(req, "x-claude-code-agent-id");
    if (!sid || !*sid || n < AFFINITY_VALUE_LEN) return -1;
    snprintf(out, n, "ac-%016llx", (unsigned long long)rendezvous_session_key(sid, aid));
    return 0;
}

const char *const *passthru_headers(const server *s, const backend_rt *b, httpd_req *req,
                                    pt_headers *h)
{
    memset(h, 0, sizeof *h);
    buf_init(&h->store, 256 * 1024);
    int cred = 0;
    const char *name, *value;
    if (b->cfg->mode->passthru == MODE_CLAUDE && req) {
        /* the client's headers, its own credentials included; room is kept
         * for the two lines below */
        for (int i = 0; httpd_req_header_at(req, i, &name, &value) && h->n < PT_MAX_HEADERS - 3;
             i++) {
            if (hop_by_hop(name)) continue;
            int is_cred =
                strcasecmp(name, "x-api-key") == 0 || strcasecmp(name, "authorization") == 0;
            if (is_cred && gateway_credential(s, value)) continue;
            cred |= is_cred;
            add_line(h, name, value);
        }
    } else if (b->cfg->mode->passthru) {
        /* anthropic mode: what a Messages server reads; never the client's credentials */
        static const char *const keep[] = {"anthropic-version", "anthropic-beta"};
        for (size_t k = 0; k < sizeof keep / sizeof keep[0]; k++)
            if (req && (value = httpd_req_header(req, keep[k]))) add_line(h, keep[k], value);
        if (backend_key(b)) {
            char bearer[600];
            snprintf(bearer, sizeof bearer, "Bearer %s", backend_key(b));
            add_line(h, "Authorization", bearer);
        }
    }
    if (b->cfg->mode->passthru && !cred && backend_key(b)) add_line(h, "x-api-key", backend_key(b));
    if (b->cfg->mode->passthru == MODE_CLAUDE &&
        (!req || !httpd_req_header(req, "anthropic-version")))
        add_line(h, "anthropic-version", "2023-06-01");
    char aff[AFFINITY_VALUE_LEN];
    if (b->cfg->affinity_header[0] && req && affinity_value(req, aff, sizeof aff) == 0)
        add_line(h, b->cfg->affinity_header, aff);
    for (int i = 0; i < h->n; i++)
        h->lines[i] = h->store.data + h->off[i];
    h->lines[h->n] = NULL;
    return h->lines;
}

void pt_headers_free(pt_headers *h)
{
    buf_free(&h->store);
}

static void reply_count(exchange *ex, long n, const char *how)
{
    char out[64];
    int k = snprintf(out, sizeof out, "{\"input_tokens\":%ld}", n);
    log_line(2, "count_tokens: %ld (%s)", n, how);
    reply_whole(ex, 200, out, (size_t)k);
}

static int count_data(void *ud, const char *p, size_t n)
{
    return buf_append(&((exchange *)ud)->resp, p, n) == BUF_OK ? 0 : 1;
}

static int count_headers(void *ud, long status)
{
    ((exchange *)ud)->up_status = status;
    return 0;
}

static void count_done(void *ud, int ok, int refused, long status, const char *err);

static void count_header(void *ud, const char *n, size_t nl, const char *v, size_t vl)
{
    exchange *ex = ud;
    if (ex->bk->cfg->mode->passthru == MODE_CLAUDE) passthru_keep_header(ex, n, nl, v, vl);
}

static void count_send(exchange *ex, const char *what)
{
    backend_rt *b = ex->bk;
    route_backend_url(b->cfg, what, ex->url, sizeof ex->url);
    const char *q = httpd_req_query(ex->req);
    size_t ul = strlen(ex->url);
    if (b->cfg->mode->passthru == MODE_CLAUDE && *q)
        snprintf(ex->url + ul, sizeof ex->url - ul, "?%s", q);
    buf_reset(&ex->resp);
    pt_headers ph;
    upstream_opts uo = {
        .method = "POST",
        .url = ex->url,
        .body = ex->upbody.data,
        .body_len = ex->upbody.len,
        .bearer = b->cfg->mode->passthru ? NULL : backend_key(b),
        .headers = passthru_headers(ex->srv, b, ex->req, &ph),
        .ca_file = backend_ca(b),
        .connect_timeout_ms = 3000,
        .total_timeout_ms = 30000,
    };
    upstream_cbs cbs = {.on_headers = count_headers,
                        .on_header = count_header,
                        .on_data = count_data,
                        .on_done = count_done};
    ex->up = upstream_start(ex->srv->up, &uo, &cbs, ex);
    pt_headers_free(&ph);
    if (!ex->up) reply_count(ex, ex->info.input_estimate, "estimate");
}

/* llama.cpp: /apply-template renders the prompt exactly as a completion
 * would, /tokenize counts it. A pass-through backend counts it itself.
 * Any failure falls back to the estimate (the Claude API's answer, errors
 * too, is relayed as it is). */
static void count_done(void *ud, int ok, int refused, long status, const char *err)
{
    exchange *ex = ud;
    ex->up = NULL;
    int good = ok && status == 200;
    if (ex->count_step == 3) {
        if (ok && status > 0 && ex->bk->cfg->mode->passthru == MODE_CLAUDE) {
            /* the Claude API's answer as it is */
            if (ex->req) {
                relay_headers(ex);
                httpd_reply(ex->req, (int)status, ex->ctype[0] ? ex->ctype : "application/json",
                            ex->resp.data ? ex->resp.data : "", ex->resp.len);
                ex->req = NULL;
            }
            exchange_free(ex);
            return;
        }
        cJSON *j =
            good ? cJSON_ParseWithLength(ex->resp.data ? ex->resp.data : "", ex->resp.len) : NULL;
        const cJSON *n = j ? cJSON_GetObjectItemCaseSensitive(j, "input_tokens") : NULL;
        long v = cJSON_IsNumber(n) && n->valuedouble >= 0 && n->valuedouble < 1e15
                     ? (long)n->valuedouble
                     : -1;
        cJSON_Delete(j);
        if (v >= 0)
            reply_count(ex, v, "backend count_tokens");
        else
            reply_count(ex, ex->info.input_estimate, "estimate: backend count_tokens failed");
        return;
    }
    if (ex->count_step == 1) {
        buf_reset(&ex->upbody);
        if (!good || tokenize_request(&ex->resp, &ex->upbody) < 0) {
            reply_count(ex, ex->info.input_estimate, "estimate: apply-template failed");
            return;
        }
        ex->count_step = 2;
        count_send(ex, "/tokenize");
        return;
    }
    long n = good ? tokenize_count(&ex->resp) : -1;
    if (n >= 0)
        reply_count(ex, n, "backend tokenizer");
    else
        reply_count(ex, ex->info.input_estimate, "estimate: tokenize failed");
}

static void handle_count_tokens(server *s, httpd_req *req)
{
    const char *body;
    size_t len;
    s->m.requests_count_tokens++;
    if (body_of(req, &body, &len) < 0) {
        send_error_req(req, "api_error", "out of memory");
        return;
    }
    long n = 0;
    char err[1024];
    /* parsed once: for the estimate, routing, and the backends that get it
     * rewritten or translated */
    const char *end = NULL;
    cJSON *root = body && len ? jparse(body, len, &end) : NULL;
    xlate_parsed pb = {root, end};
    if (xlate_request_count_tokens_parsed(&pb, body, len, &n, err, sizeof err) < 0) {
        cJSON_Delete(root);
        send_error_req(req, "invalid_request_error", err);
        return;
    }
    const char *tmodel = NULL;
    backend_rt *b = server_backend_for(s, root, &tmodel);
    if (b->est_ratio > 0)
        n = (long)((double)n * b->est_ratio) > 0 ? (long)((double)n * b->est_ratio) : 1;
    exchange *ex = exchange_new(s, req, EX_COUNT);
    if (!ex) {
        cJSON_Delete(root);
        send_error_req(req, "api_error", "out of memory");
        return;
    }
    ex->info.input_estimate = n;
    ex->bk = b;
    b->inflight++;
    if (b->cfg->mode->passthru) {
        int rc, changes = 0;
        /* the same provenance rules as /v1/messages (provenance.h): the
         * API checks thinking signatures when counting too */
        if (root && b->cfg->mode->passthru == MODE_CLAUDE)
            changes = provenance_for_claude(root, NULL);
        else if (root)
            changes = provenance_for_local(root, NULL) + servertools_strip(root);
        if (b->cfg->mode->passthru == MODE_CLAUDE && !tmodel[0] && !b->cfg->model[0] && !changes) {
            rc = buf_append(&ex->upbody, body, len);
        } else {
            passthru_opts po = {.model = backend_model(b, tmodel)};
            rc = root ? passthru_rewrite(root, &po, &ex->upbody) : -1;
        }
        cJSON_Delete(root);
        if (rc) {
            reply_count(ex, n, "estimate");
            return;
        }
        ex->count_step = 3;
        count_send(ex, "messages/count_tokens");
        return;
    }
    if (!b->cfg->mode->cache_prompt) { /* only llama.cpp has a tokenizer endpoint */
        cJSON_Delete(root);
        reply_count(ex, n, "calibrated estimate");
        return;
    }
    /* count_tokens has no max_tokens: add one so the body translates */
    if (root && !cJSON_GetObjectItemCaseSensitive(root, "max_tokens"))
        cJSON_AddNumberToObject(root, "max_tokens", 1);
    cJSON_DeleteItemFromObjectCaseSensitive(root, "stream");
    xlate_request_opts o = {.model = backend_model(b, tmodel),
                            .text_only = route_backend_text_only(b->cfg)};
    xlate_request_info info;
    int rc = xlate_request_build_parsed(&pb, body, len, &o, &ex->upbody, &info, err, sizeof err);
    cJSON_Delete(root);
    if (rc < 0) {
        reply_count(ex, n, "estimate");
        return;
    }
    xlate_request_info_free(&info);
    ex->count_step = 1;
    count_send(ex, "/apply-template");
}

static void handle_metrics(server *s, httpd_req *req)
{
    buf b;
    buf_init(&b, 0);
    s->m.active_streams = s->active;
    if (metrics_render(&s->m, &b) == 0 && backends_metrics(&s->bs, &b) == 0)
        httpd_reply(req, 200, "text/plain; version=0.0.4", b.data, b.len);
    else
        send_error_req(req, "api_error", "out of memory");
    buf_free(&b);
}

/* /v1/models and /health both ask the backend for its models. */
static int models_data(void *ud, const char *p, size_t n)
{
    exchange *ex = ud;
    return buf_append(&ex->resp, p, n) == BUF_OK ? 0 : 1;
}

static int models_headers(void *ud, long status)
{
    ((exchange *)ud)->up_status = status;
    return 0;
}

static void iso_time(long t, char *dst, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(dst, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void models_done(void *ud, int ok, int refused, long status, const char *err)
{
    exchange *ex = ud;
    ex->up = NULL;
    server *s = ex->srv;
    cJSON *in = ok && status >= 200 && status < 300
                    ? cJSON_ParseWithLength(ex->resp.data ? ex->resp.data : "", ex->resp.len)
                    : NULL;
    cJSON *data = in ? cJSON_GetObjectItemCaseSensitive(in, "data") : NULL;
    if (!cJSON_IsArray(data) && in) data = cJSON_GetObjectItemCaseSensitive(in, "models");
    const backend_rt *bk = ex->bk;
    if (ex->kind == EX_HEALTH) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", "ok");
        cJSON_AddStringToObject(o, "version", ANYCLAUDE_VERSION);
        cJSON_AddStringToObject(o, "mode", bk->cfg->mode->name);
        cJSON_AddStringToObject(o, "backend", bk->cfg->url);
        if (s->cfg->routing.configured) {
            cJSON *all = cJSON_AddArrayToObject(o, "backends");
            for (int i = 0; i < s->bs.n; i++) {
                const backend_rt *x = &s->bs.b[i];
                if (!x->used) continue;
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "name", x->cfg->name);
                cJSON_AddStringToObject(e, "mode", x->cfg->mode->name);
                cJSON_AddStringToObject(e, "url", x->cfg->url);
                cJSON_AddBoolToObject(e, "up", x->up);
                cJSON_AddBoolToObject(e, "health_checked", x->checked);
                cJSON_AddNumberToObject(e, "inflight", x->inflight);
                cJSON_AddItemToArray(all, e);
            }
        }
        cJSON *b = cJSON_AddObjectToObject(o, "backend_status");
        cJSON_AddBoolToObject(b, "reachable", ok && status > 0);
        cJSON_AddBoolToObject(b, "ok", ok && status >= 200 && status < 300);
        if (status) cJSON_AddNumberToObject(b, "http_status", (double)status);
        if (!ok) cJSON_AddStringToObject(b, "error", err);
        if (cJSON_IsArray(data)) {
            cJSON *ids = cJSON_AddArrayToObject(b, "models");
            const cJSON *m;
            cJSON_ArrayForEach(m, data)
            {
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
                if (!cJSON_IsString(id)) id = cJSON_GetObjectItemCaseSensitive(m, "name");
                if (cJSON_IsString(id))
                    cJSON_AddItemToArray(ids, cJSON_CreateString(id->valuestring));
            }
        }
        cJSON_AddNumberToObject(o, "active_requests", s->active - 1);
        char *txt = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        reply_whole(ex, 200, txt ? txt : "{}", txt ? strlen(txt) : 2);
        cJSON_free(txt);
        cJSON_Delete(in);
        return;
    }
    if (ok && status > 0 && bk->cfg->mode->passthru == MODE_CLAUDE) {
        /* the Claude API's own list, as it is */
        cJSON_Delete(in);
        reply_whole(ex, (int)status, ex->resp.data ? ex->resp.data : "", ex->resp.len);
        return;
    }
    if (!cJSON_IsArray(data)) {
        char msg[1200];
        if (!ok || status == 0)
            snprintf(msg, sizeof msg,
                     "backend %s is not reachable (%s). Is the model server running?", bk->cfg->url,
                     err);
        else
            snprintf(msg, sizeof msg, "backend %s (%.700s) answered HTTP %ld without a model list",
                     bk->cfg->name, ex->url, status);
        cJSON_Delete(in);
        reply_error(ex, ok && status ? "api_error" : "overloaded_error", msg);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "data");
    const cJSON *m;
    const char *first = NULL, *last = NULL;
    cJSON_ArrayForEach(m, data)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
        if (!cJSON_IsString(id)) id = cJSON_GetObjectItemCaseSensitive(m, "name");
        if (!cJSON_IsString(id)) continue;
        const cJSON *cr = cJSON_GetObjectItemCaseSensitive(m, "created");
        char ts[40];
        iso_time(cJSON_IsNumber(cr) ? (long)cr->valuedouble : 0, ts, sizeof ts);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "type", "model");
        cJSON_AddStringToObject(e, "id", id->valuestring);
        cJSON_AddStringToObject(e, "display_name", id->valuestring);
        cJSON_AddStringToObject(e, "created_at", ts);
        cJSON_AddItemToArray(arr, e);
        if (!first) first = id->valuestring;
        last = id->valuestring;
    }
    cJSON_AddBoolToObject(o, "has_more", 0);
    if (first) {
        cJSON_AddStringToObject(o, "first_id", first);
        cJSON_AddStringToObject(o, "last_id", last);
    } else {
        cJSON_AddNullToObject(o, "first_id");
        cJSON_AddNullToObject(o, "last_id");
    }
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    cJSON_Delete(in);
    reply_whole(ex, 200, txt ? txt : "{}", txt ? strlen(txt) : 2);
    cJSON_free(txt);
}

static void handle_models(server *s, httpd_req *req, enum ex_kind kind)
{
    exchange *ex = exchange_new(s, req, kind);
    if (!ex) {
        send_error_req(req, "api_error", "out of memory");
        return;
    }
    buf_init(&ex->resp, 4u * 1024 * 1024);
    const char *tmodel;
    backend_rt *b = server_backend_for(s, NULL, &tmodel);
    ex->bk = b;
    b->inflight++;
    route_backend_url(b->cfg, "models", ex->url, sizeof ex->url);
    pt_headers ph;
    upstream_opts uo = {
        .method = "GET",
        .url = ex->url,
        .bearer = b->cfg->mode->passthru ? NULL : backend_key(b),
        /* a health probe sends nothing of the caller's upstream */
        .headers = passthru_headers(s, b, kind == EX_HEALTH ? NULL : req, &ph),
        .ca_file = backend_ca(b),
        .connect_timeout_ms = 3000,
        .total_timeout_ms = kind == EX_HEALTH ? 5000 : 30000,
    };
    upstream_cbs cbs = {
        .on_headers = models_headers, .on_data = models_data, .on_done = models_done};
    ex->up = upstream_start(s->up, &uo, &cbs, ex);
    pt_headers_free(&ph);
    if (!ex->up) reply_error(ex, "api_error", "could not start the backend request");
}

/* GET /anyclaude/status?session=ID: the last turn of that conversation
 * (else the newest), for `anyclaude statusline`. */
static void handle_status(server *s, httpd_req *req)
{
    char sid[96] = "";
    const char *q = httpd_req_query(req);
    const char *p = strstr(q, "session=");
    if (p && (p == q || p[-1] == '&')) {
        p += 8;
        size_t n = strcspn(p, "&");
        if (n < sizeof sid) snprintf(sid, sizeof sid, "%.*s", (int)n, p);
    }
    const convstat_turn *t = convstat_get(&s->turns, sid);
    if (log_level() >= 2) {
        char esc[300];
        h1_escape(sid, strlen(sid), esc, sizeof esc);
        log_line(2, "status line asked for session %s: %s", sid[0] ? esc : "(none)",
                 t ? "found" : "no turn yet");
    }
    if (!t && sid[0]) t = convstat_get(&s->turns, NULL);
    const char *tmodel = NULL;
    backend_rt *b = server_backend_for(s, NULL, &tmodel);
    const char *model = backend_model(b, tmodel);
    if (!model) model = b->cfg->detected_model;
    buf out;
    buf_init(&out, 1u << 20);
    if (convstat_json(t, b->cfg->name, b->cfg->mode->name, model, b->cfg->context_window,
                      server_now_ms(), &out) == 0)
        httpd_reply(req, 200, "application/json", out.data, out.len);
    else
        send_error_req(req, "api_error", "out of memory");
    buf_free(&out);
}

/* ---- draining (rolling restarts) ------------------------------------------ */

/* A request that arrived on a kept-alive connection while draining: /health
 * says so (a load balancer takes this replica out), the rest are refused
 * with a status a load balancer may retry elsewhere (the connection
 * closes after it: httpd is draining). */
static void reply_draining(httpd_req *req, int health)
{
    if (health) {
        static const char body[] = "{\"status\":\"draining\"}";
        httpd_reply(req, 503, "application/json", body, sizeof body - 1);
        return;
    }
    buf b;
    buf_init(&b, 0);
    anthropic_error_json(&b, "overloaded_error",
                         "this anyclaude is shutting down (draining); retry, another replica "
                         "will take the request");
    httpd_reply(req, 503, "application/json", b.data ? b.data : "", b.len);
    buf_free(&b);
}

void server_cut_all(server *s, const char *why)
{
    /* exchanges are freed as they are ended: take the next one first */
    for (exchange *ex = s->exchanges, *next; ex; ex = next) {
        next = ex->next;
        if (ex->kind == EX_MESSAGES)
            messages_cut(ex, "overloaded_error", why);
        else
            reply_error(ex, "overloaded_error", why);
    }
    httpd_flush(s->http);
}

static void drain_tick(evutil_socket_t fd, short what, void *arg)
{
    server *s = arg;
    double now = server_now_ms();
    if (s->active > 0 && now - s->drain_t0 >= (double)s->drain_deadline_ms) {
        char why[200];
        snprintf(why, sizeof why,
                 "anyclaude is restarting: the stream was still running after the drain "
                 "deadline (%ld s); retry",
                 s->drain_deadline_ms / 1000);
        log_line(0, "drain: deadline passed; ending %d request(s) with an error", s->active);
        server_cut_all(s, why);
    }
    if (s->active == 0) {
        if (s->drain_idle_t0 == 0) s->drain_idle_t0 = now;
        if (httpd_unsent(s->http) == 0 || now - s->drain_idle_t0 > 2000) {
            log_line(0, "drain: done after %.0f ms", now - s->drain_t0);
            if (s->drained) s->drained(s->drained_arg);
            return;
        }
    }
    struct timeval tv = {0, 20000};
    evtimer_add(s->drain_timer, &tv);
}

void server_drain(server *s, long deadline_ms, server_drained_fn done, void *arg)
{
    if (s->draining) return;
    s->draining = 1;
    s->drain_t0 = server_now_ms();
    s->drain_deadline_ms = deadline_ms;
    s->drained = done;
    s->drained_arg = arg;
    httpd_drain(s->http);
    log_line(0, "drain: not accepting; %d request(s) in flight may take up to %ld s", s->active,
             deadline_ms / 1000);
    s->drain_timer = evtimer_new(s->base, drain_tick, s);
    if (!s->drain_timer) {
        server_cut_all(s, "anyclaude is restarting; retry");
        if (done) done(arg);
        return;
    }
    struct timeval tv = {0, 0};
    evtimer_add(s->drain_timer, &tv);
}

/* ---- routes and access ----------------------------------------------------- */

enum route_id { R_NONE, R_HEALTH, R_METRICS, R_MESSAGES, R_COUNT, R_MODELS, R_STATUS };

static enum route_id route_of(const char *path, int *want_post)
{
    static const struct {
        const char *path;
        enum route_id id;
        int post;
    } t[] = {{"/health", R_HEALTH, 0},
             {"/", R_HEALTH, 0},
             {"/metrics", R_METRICS, 0},
             {"/v1/messages", R_MESSAGES, 1},
             {"/v1/messages/count_tokens", R_COUNT, 1},
             {"/v1/models", R_MODELS, 0},
             {"/anyclaude/status", R_STATUS, 0}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(path, t[i].path) == 0) {
            *want_post = t[i].post;
            return t[i].id;
        }
    return R_NONE;
}

/* An Anthropic error with an explicit HTTP status (405, 415...). */
static void refuse(httpd_req *req, int status, const char *type, const char *msg)
{
    buf b;
    buf_init(&b, 0);
    anthropic_error_json(&b, type, msg);
    char m[160];
    h1_escape(httpd_req_path(req), strlen(httpd_req_path(req)), m, sizeof m);
    log_line(1, "refused %s %s: %d %s", httpd_req_method(req), m, status, msg);
    httpd_reply(req, status, "application/json", b.data ? b.data : "", b.len);
    buf_free(&b);
}

int server_authorized(const server *s, httpd_req *req)
{
    const char *tok = s->cfg->auth_token;
    if (!tok[0]) return 1;
    const char *k = httpd_req_header(req, "x-api-key");
    const char *a = httpd_req_header(req, "Authorization");
    const char *b = a && strncmp(a, "Bearer ", 7) == 0 ? a + 7 : NULL;
    return access_token_equal(tok, k) | access_token_equal(tok, b) |
           access_token_equal(tok, httpd_req_header(req, TOKEN_HEADER));
}

/* httpd's head check: everything that decides whether a request is served
 * is settled here, before its body is read or 100 Continue invites it. */
static void head_check(httpd_req *req, void *arg)
{
    server *s = arg;
    const config *c = s->cfg;
    char m[700], esc[300];
    const char *host = httpd_req_host(req);
    if (host && !access_host_ok(host, c->host, s->port)) {
        h1_escape(host, strlen(host), esc, sizeof esc);
        snprintf(m, sizeof m,
                 "refused: Host \"%s\" does not name this gateway (expected 127.0.0.1:%d, "
                 "localhost:%d or [::1]:%d); a web page may be trying DNS rebinding",
                 esc, s->port, s->port, s->port);
        refuse(req, 403, "permission_error", m);
        return;
    }
    const char *origin = httpd_req_header(req, "Origin");
    if (origin && !access_origin_ok(origin, c->allowed_origins)) {
        h1_escape(origin, strlen(origin), esc, sizeof esc);
        snprintf(m, sizeof m,
                 "refused: requests from web pages are not accepted (Origin: %s); allow an "
                 "origin with --allowed-origins, ANYCLAUDE_ALLOWED_ORIGINS or \"allowedOrigins\"",
                 esc);
        refuse(req, 403, "permission_error", m);
        return;
    }
    const char *method = httpd_req_method(req);
    if (origin) {
        /* an allowed web page: CORS, so that its script may read answers */
        httpd_add_header(req, "Access-Control-Allow-Origin", origin);
        httpd_add_header(req, "Vary", "Origin");
        if (strcmp(method, "OPTIONS") == 0) {
            const char *want = httpd_req_header(req, "Access-Control-Request-Headers");
            httpd_add_header(req, "Access-Control-Allow-Methods", "GET, POST");
            httpd_add_header(req, "Access-Control-Allow-Headers",
                             want && *want ? want
                                           : "content-type, x-api-key, authorization, "
                                             "anthropic-version, anthropic-beta");
            httpd_add_header(req, "Access-Control-Max-Age", "600");
            httpd_reply(req, 204, NULL, "", 0);
            return;
        }
    }
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int post = strcmp(method, "POST") == 0;
    int want_post = 0;
    enum route_id r = route_of(httpd_req_path(req), &want_post);
    if (r == R_HEALTH) {
        if (!get) refuse(req, 405, "invalid_request_error", "method not allowed for this path");
        return; /* served to anyone; details only with the token */
    }
    if (!server_authorized(s, req)) {
        refuse(req, 401, "authentication_error",
               "missing or wrong token: send the gateway's --auth-token as x-api-key or "
               "Authorization: Bearer");
        return;
    }
    if (r == R_NONE) {
        h1_escape(httpd_req_path(req), strlen(httpd_req_path(req)), esc, sizeof esc);
        snprintf(m, sizeof m,
                 "no route for %.200s; anyclaude serves POST /v1/messages, POST "
                 "/v1/messages/count_tokens, GET /v1/models, GET /health, GET /metrics and GET "
                 "/anyclaude/status",
                 esc);
        refuse(req, 404, "not_found_error", m);
        return;
    }
    if (want_post ? !post : !get) {
        refuse(req, 405, "invalid_request_error", "method not allowed for this path");
        return;
    }
    if (post && !access_is_json(httpd_req_header(req, "Content-Type"))) {
        refuse(req, 415, "invalid_request_error",
               "refused: the body must be sent as Content-Type: application/json (HTML forms "
               "and text/plain requests from web pages are not accepted)");
        return;
    }
}

/* The minimal /health answer for callers without the token: from the
 * gateway's own state, nothing sent upstream. */
static void health_minimal(server *s, httpd_req *req)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    httpd_reply(req, 200, "application/json", ok, sizeof ok - 1);
}

static void dispatch(httpd_req *req, void *arg)
{
    server *s = arg;
    const char *path = httpd_req_path(req);
    int want_post = 0;
    if (log_level() >= 2) {
        char esc[300];
        h1_escape(path, strlen(path), esc, sizeof esc);
        log_line(2, "%s %s", httpd_req_method(req), esc);
    }
    enum route_id rid = route_of(path, &want_post);
    if (s->draining && rid != R_METRICS) {
        reply_draining(req, rid == R_HEALTH);
        return;
    }
    switch (rid) {
    case R_HEALTH:
        s->m.requests_health++;
        if (!s->cfg->auth_token[0] || server_authorized(s, req))
            handle_models(s, req, EX_HEALTH);
        else
            health_minimal(s, req);
        return;
    case R_METRICS:
        handle_metrics(s, req);
        return;
    case R_MESSAGES:
        handle_messages(s, req);
        return;
    case R_COUNT:
        handle_count_tokens(s, req);
        return;
    case R_MODELS:
        s->m.requests_models++;
        handle_models(s, req, EX_MODELS);
        return;
    case R_STATUS:
        handle_status(s, req);
        return;
    case R_NONE:
        break;
    }
    send_error_req(req, "not_found_error", "no route"); /* head_check answered it already */
}

/* JSON bodies for the errors httpd detects itself. */
static size_t httpd_error_body(int status, const char *msg, char *out, size_t outlen)
{
    /* 501 (transfer coding) and 505 (version) are the client's doing */
    const char *type = status == 413                                     ? "request_too_large"
                       : status >= 500 && status != 501 && status != 505 ? "api_error"
                                                                         : "invalid_request_error";
    buf b;
    buf_init(&b, outlen - 1);
    size_t n = 0;
    if (anthropic_error_json(&b, type, msg) == 0 && b.len < outlen) {
        memcpy(out, b.data, b.len + 1);
        n = b.len;
    }
    buf_free(&b);
    return n;
}

server *server_new(struct event_base *base, const config *cfg, char *err, size_t errlen)
{
    server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->base = base;
    s->cfg = cfg;
    s->up = upstream_new(base);
    if (!s->up) {
        snprintf(err, errlen, "could not initialise the HTTP client");
        server_free(s);
        return NULL;
    }
    /* each client connection may hold an upstream socket too; keep room
     * for the listener, logs, traces and health checks */
    int max_conns = cfg->max_streams + 1024;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        long room = ((long)rl.rlim_cur - 32) / 2;
        if (room < 4) room = 4;
        if (room < max_conns) max_conns = (int)room;
    }
    httpd_limits lim = {
        .max_body = cfg->max_body,
        .max_header = 256 * 1024,
        .max_conns = max_conns,
        .header_timeout_ms = (int)cfg->request_deadline_s * 1000,
        .error_body = httpd_error_body,
    };
    s->http = httpd_new(base, cfg->host, cfg->port, &lim, dispatch, s, err, errlen);
    if (!s->http) {
        server_free(s);
        return NULL;
    }
    httpd_set_head_check(s->http, head_check);
    s->port = httpd_port(s->http);
    const routes *rs = &cfg->routing;
    s->need_root = routes_need_body(rs);
    if (backends_init(&s->bs, base, s->up, cfg, &s->m) < 0) {
        snprintf(err, errlen, "out of memory");
        server_free(s);
        return NULL;
    }
    return s;
}

int server_port(const server *s)
{
    return s->port;
}

int server_active(const server *s)
{
    return s->active;
}

void server_free(server *s)
{
    if (!s) return;
    if (s->drain_timer) event_free(s->drain_timer);
    while (s->exchanges) {
        exchange *ex = s->exchanges;
        if (ex->req && ex->committed) {
            httpd_reply_end(ex->req);
            ex->req = NULL;
        }
        exchange_free(ex);
    }
    httpd_free(s->http);
    backends_free(&s->bs);
    upstream_free(s->up);
    free(s);
}
