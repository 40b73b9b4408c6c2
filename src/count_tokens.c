/*
 * count_tokens: POST /v1/messages/count_tokens (see count_tokens.h).
 *
 * The body is parsed at most twice (once for the plan and the rewrite,
 * once by the translation or the estimate) and translated once.
 */
#include "count_tokens.h"
#include "timeouts.h"

#include <stdio.h>
#include <string.h>

#include "jparse.h"
#include "outhdrs.h"
#include "provenance.h"
#include "relay.h"
#include "servertools.h"
#include "toolsearch.h"

static void reply_count(exchange *ex, long n, const char *how)
{
    char out[64];
    int k = snprintf(out, sizeof out, "{\"input_tokens\":%ld}", n);
    log_line(2, "count_tokens: %ld (%s)", n, how);
    exchange_reply(ex, 200, out, (size_t)k);
}

/* ---- a pass-through backend counts it ------------------------------------ */

static int count_data(void *ud, const char *p, size_t n)
{
    return buf_append(&((exchange *)ud)->cur.resp, p, n) == BUF_OK ? 0 : 1;
}

static int count_headers(void *ud, long status)
{
    ((exchange *)ud)->cur.up_status = status;
    return 0;
}

static void count_header(void *ud, const char *n, size_t nl, const char *v, size_t vl)
{
    exchange *ex = ud;
    if (ex->cur.bk->cfg->mode->passthru == MODE_CLAUDE) relay_keep_header(ex, n, nl, v, vl);
}

/* The backend's answer: the Claude API's as it is (errors too); an
 * anthropic-mode server's count, else the estimate. */
static void count_done(void *ud, int ok, int refused, long status, const char *err)
{
    exchange *ex = ud;
    ex->cur.up = NULL;
    if (ok && status > 0 && ex->cur.bk->cfg->mode->passthru == MODE_CLAUDE) {
        if (ex->req) {
            relay_reply_headers(ex);
            httpd_reply(ex->req, (int)status, ex->cur.ctype[0] ? ex->cur.ctype : "application/json",
                        ex->cur.resp.data ? ex->cur.resp.data : "", ex->cur.resp.len);
            ex->req = NULL;
        }
        exchange_free(ex);
        return;
    }
    cJSON *j =
        ok && status == 200
            ? cJSON_ParseWithLength(ex->cur.resp.data ? ex->cur.resp.data : "", ex->cur.resp.len)
            : NULL;
    const cJSON *n = j ? cJSON_GetObjectItemCaseSensitive(j, "input_tokens") : NULL;
    long v = cJSON_IsNumber(n) && n->valuedouble >= 0 && n->valuedouble < 1e15
                 ? (long)n->valuedouble
                 : -1;
    cJSON_Delete(j);
    if (v >= 0)
        reply_count(ex, v, "backend count_tokens");
    else
        reply_count(ex, ex->cur.info.input_estimate, "estimate: backend count_tokens failed");
}

static void count_send(exchange *ex)
{
    backend_rt *b = ex->cur.bk;
    route_backend_url(b->cfg, "messages/count_tokens", ex->cur.url, sizeof ex->cur.url);
    const char *q = httpd_req_query(ex->req);
    size_t ul = strlen(ex->cur.url);
    if (b->cfg->mode->passthru == MODE_CLAUDE && *q)
        snprintf(ex->cur.url + ul, sizeof ex->cur.url - ul, "?%s", q);
    outhdrs ph;
    upstream_opts uo = {
        .method = "POST",
        .url = ex->cur.url,
        .body = ex->cur.upbody.data,
        .body_len = ex->cur.upbody.len,
        .headers = outhdrs_build(ex->srv->cfg, b, ex->req, &ph),
        .via = httpd_req_header(ex->req, VIA_HEADER),
        .ca_file = backend_ca(b),
        .connect_timeout_ms = TIMEOUT_CONNECT_MS,
        .total_timeout_ms = TIMEOUT_SIDE_REQUEST_MS,
    };
    upstream_cbs cbs = {.on_headers = count_headers,
                        .on_header = count_header,
                        .on_data = count_data,
                        .on_done = count_done};
    ex->cur.up = upstream_start(ex->srv->up, &uo, &cbs, ex);
    outhdrs_free(&ph);
    if (!ex->cur.up) reply_count(ex, ex->cur.info.input_estimate, "estimate");
}

/* The body for a pass-through backend, with the same provenance rules as
 * /v1/messages (provenance.h): the API checks thinking signatures when
 * counting too. Returns 0 or -1. */
static int passthru_body(exchange *ex, cJSON *root, const char *tmodel, const char *body,
                         size_t len)
{
    backend_rt *b = ex->cur.bk;
    int changes = 0;
    if (root && b->cfg->mode->passthru == MODE_CLAUDE)
        changes = provenance_for_claude(root, NULL);
    else if (root && toolsearch_localize(root) < 0)
        return -1;
    else if (root)
        changes = provenance_for_local(root, NULL) + servertools_strip(root);
    if (b->cfg->mode->passthru == MODE_CLAUDE && !tmodel[0] && !b->cfg->model[0] && !changes)
        return buf_append(&ex->cur.upbody, body, len) == BUF_OK ? 0 : -1;
    passthru_opts po = {.model = backend_model(b, tmodel)};
    return root && passthru_rewrite(root, &po, &ex->cur.upbody) == 0 ? 0 : -1;
}

/* ---- llama.cpp counts it with its template and tokenizer ----------------- */

static void count_tok_done(void *ud, long n, const char *failed)
{
    exchange *ex = ud;
    ex->cur.tok = NULL;
    char how[64];
    snprintf(how, sizeof how, "estimate: %s", failed ? failed : "");
    if (n >= 0)
        reply_count(ex, n, "backend tokenizer");
    else
        reply_count(ex, ex->cur.info.input_estimate, how);
}

/* The chat request llama.cpp's /apply-template renders: root (changed
 * here) as a completion with max_tokens, not streamed. Returns 0 with the
 * estimate in *n, or -1 when it does not translate (the caller then asks
 * xlate_request_count_tokens, whose errors are count_tokens' own: a count
 * body needs no max_tokens, and its "stream" must be a boolean). */
static int chat_body(const backend_rt *b, const char *tmodel, cJSON *root, buf *out, long *n)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "stream");
    if (st && !cJSON_IsBool(st)) return -1;
    if (!cJSON_GetObjectItemCaseSensitive(root, "max_tokens"))
        cJSON_AddNumberToObject(root, "max_tokens", 1);
    cJSON_DeleteItemFromObjectCaseSensitive(root, "stream");
    xlate_request_opts o = {.model = backend_model(b, tmodel),
                            .text_only = route_backend_text_only(b->cfg)};
    xlate_request_info info;
    char err[1024];
    xlate_parsed pb = {.root = root}; /* the tree as changed here: no print and re-parse */
    int rc = xlate_request_build_parsed(&pb, NULL, 0, &o, out, &info, err, sizeof err);
    if (rc < 0) return -1;
    *n = info.input_estimate;
    xlate_request_info_free(&info);
    return 0;
}

/* The body as a JSON object, or NULL when it is not exactly one (its error
 * is then xlate_request_count_tokens' to give). */
static cJSON *parse_object(const char *body, size_t len)
{
    const char *end = NULL;
    cJSON *root = body && len ? jparse(body, len, &end) : NULL;
    while (root && end && end < body + len &&
           (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
    if (root && (!cJSON_IsObject(root) || (end && end < body + len))) {
        cJSON_Delete(root);
        root = NULL;
    }
    return root;
}

void count_tokens_handle(server *s, httpd_req *req)
{
    size_t len = 0;
    const char *body = httpd_req_body(req, &len);
    s->m.requests_count_tokens++;
    /* the parsed body: for the plan (the message's own), and for the
     * backends that get it rewritten or translated */
    cJSON *root = s->need_root || servertools_maybe(body, len) ? parse_object(body, len) : NULL;
    const route_target *t = plan_first(&s->bs, &s->cfg->routing, root,
                                       httpd_req_header(req, "x-claude-code-agent-id") != NULL);
    backend_rt *b = &s->bs.b[t->backend];
    const char *tmodel = t->model;
    int llama = !b->cfg->mode->passthru && b->cfg->mode->cache_prompt;
    if (!root && (b->cfg->mode->passthru || llama)) root = parse_object(body, len);
    buf chat;
    buf_init(&chat, s->cfg->max_body * 2 + 1024 * 1024);
    long n = 0;
    int translated = llama && root && chat_body(b, tmodel, root, &chat, &n) == 0;
    char err[1024];
    /* the estimate from the tree parsed above, unless chat_body changed it */
    xlate_parsed pb = {.root = root};
    if (!translated && xlate_request_count_tokens_parsed(root && !llama ? &pb : NULL, body, len, &n,
                                                         err, sizeof err) < 0) {
        exchange_error_req(req, "invalid_request_error", err);
        goto out;
    }
    if (b->est_ratio > 0)
        n = (long)((double)n * b->est_ratio) > 0 ? (long)((double)n * b->est_ratio) : 1;
    exchange *ex = exchange_new(s, req, EXCHANGE_COUNT);
    if (!ex) {
        exchange_error_req(req, "api_error", "out of memory");
        goto out;
    }
    ex->cur.info.input_estimate = n;
    ex->cur.bk = b;
    b->inflight++;
    if (b->cfg->mode->passthru) {
        if (passthru_body(ex, root, tmodel, body, len) < 0)
            reply_count(ex, n, "estimate");
        else
            count_send(ex);
    } else if (!llama) { /* only llama.cpp has a tokenizer endpoint */
        reply_count(ex, n, "calibrated estimate");
    } else if (!translated) {
        reply_count(ex, n, "estimate");
    } else {
        outhdrs ph; /* only the backend's affinity header, if any */
        const char *const *lines = outhdrs_build(s->cfg, b, req, &ph);
        ex->cur.tok = llama_tok_start(s->up, b, chat.data, chat.len, lines[0], count_tok_done, ex);
        outhdrs_free(&ph);
        if (!ex->cur.tok) reply_count(ex, n, "estimate");
    }
out:
    buf_free(&chat);
    cJSON_Delete(root);
}
