/*
 * relay: the pass-through side of an exchange (see relay.h).
 */
#include "relay.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "anthropic.h"
#include "outhdrs.h"
#include "pool.h"
#include "provenance.h"
#include "servertools.h"
#include "toolsearch.h"

void relay_keep_header(exchange *ex, const char *n, size_t nl, const char *v, size_t vl)
{
    if (nl == 12 && strncasecmp(n, "content-type", 12) == 0) {
        snprintf(ex->cur.ctype, sizeof ex->cur.ctype, "%.*s", (int)(vl < 127 ? vl : 127), v);
        return;
    }
    int keep = (nl == 10 && strncasecmp(n, "request-id", 10) == 0) ||
               (nl > 10 && strncasecmp(n, "anthropic-", 10) == 0) ||
               (nl == 11 && strncasecmp(n, "retry-after", 11) == 0) ||
               (nl == 14 && strncasecmp(n, "x-should-retry", 14) == 0);
    if (!keep || ex->cur.hdrs.len + nl + vl + 2 > 64 * 1024) return;
    buf_append(&ex->cur.hdrs, n, nl);
    buf_append(&ex->cur.hdrs, "", 1);
    buf_append(&ex->cur.hdrs, v, vl);
    buf_append(&ex->cur.hdrs, "", 1);
}

void relay_reply_headers(exchange *ex)
{
    int have_id = 0;
    for (size_t i = 0; i < ex->cur.hdrs.len;) {
        const char *n = ex->cur.hdrs.data + i;
        const char *v = n + strlen(n) + 1;
        if (strcasecmp(n, "request-id") == 0) have_id = 1;
        httpd_add_header(ex->req, n, v);
        i = (size_t)(v + strlen(v) + 1 - ex->cur.hdrs.data);
    }
    if (!have_id && ex->msg_id[0]) httpd_add_header(ex->req, "request-id", ex->msg_id);
    if (ex->cur.bk) httpd_add_header(ex->req, "anyclaude-backend", ex->cur.bk->cfg->name);
}

/* Make the parsed request valid for where it goes (provenance.h): the
 * Claude API never sees thinking it did not sign, a local server never sees
 * the API's signatures or redacted thinking. `root` is the request itself
 * (anthropic mode rewrites it anyway) or a copy (claude mode). Returns the
 * number of changes, or -1 when out of memory. */
static int fit_provenance(exchange *ex, cJSON *root)
{
    provenance_stats ps;
    int n = ex->cur.pt == MODE_CLAUDE ? provenance_for_claude(root, &ps)
                                      : provenance_for_local(root, &ps);
    if (n > 0)
        log_line(2,
                 "request %s: for %s: %d unsigned thinking block(s) removed, %d redacted, "
                 "%d signature(s) removed%s",
                 ex->msg_id, ex->cur.pt == MODE_CLAUDE ? "the Claude API" : "a local backend",
                 ps.thinking_dropped, ps.redacted_dropped, ps.signatures_removed,
                 ps.thinking_disabled ? ", thinking off (its tool loop has no signed thinking)"
                                      : "");
    return n;
}

void relay_start(exchange *ex, const route_target *t, const upstream_cbs *cbs)
{
    server *s = ex->srv;
    backend_rt *b = ex->cur.bk;
    const char *body = ex->body;
    size_t len = ex->body_len;
    if (ex->cur.pt == MODE_ANTHROPIC) {
        /* a conversation with tools: its system prompt and tools are what
         * the next start prefills (warm start), keyed by their hash (a
         * pool's routing has it already) */
        const cJSON *tools = cJSON_GetObjectItemCaseSensitive(ex->root, "tools");
        if (backend_warm_on(b) && cJSON_IsArray(tools) && tools->child) {
            uint64_t kind = ex->key.nprefix > 0 ? ex->key.prefix[0] : 0;
            if (!kind) pool_prefix_hashes(ex->root, &kind, 1);
            backend_warm_save(b, ex->body, ex->body_len, kind);
        }
        passthru_opts po = backend_passthru_opts(b, t->model);
        /* rewritten in place, unless another target may need the
         * client's request as it came (a fallback to the Claude API must
         * still see its own signatures and server tools) */
        cJSON *root = ex->attempt + 1 < ex->plan.n ? cJSON_Duplicate(ex->root, 1) : ex->root;
        /* tools taken from the tools cache (a reference) become the
         * request's own before they are rewritten */
        const cJSON *tref = root ? cJSON_GetObjectItemCaseSensitive(root, "tools") : NULL;
        if (tref && (tref->type & cJSON_IsReference)) {
            cJSON *own = cJSON_Duplicate(tref, 1);
            if (!own || !cJSON_ReplaceItemViaPointer(root, (cJSON *)tref, own)) {
                cJSON_Delete(own);
                if (root != ex->root) cJSON_Delete(root);
                root = NULL;
            }
        }
        int rc = root && fit_provenance(ex, root) >= 0 ? 0 : BUF_ENOMEM;
        if (!rc && toolsearch_localize(root) < 0) rc = BUF_ENOMEM;
        int stripped = rc ? 0 : servertools_strip(root);
        if (stripped)
            log_line(2,
                     "request %s: %d server tool(s) left out for backend %s (it cannot run them)",
                     ex->msg_id, stripped, b->cfg->name);
        if (!rc) rc = passthru_rewrite(root, &po, &ex->cur.upbody);
        if (root != ex->root) cJSON_Delete(root);
        if (rc) {
            exchange_error(ex, rc == BUF_ETOOBIG ? "request_too_large" : "api_error",
                           rc == BUF_ETOOBIG ? "request too large" : "out of memory");
            return;
        }
        body = ex->cur.upbody.data;
        len = ex->cur.upbody.len;
    } else {
        /* claude mode passes the body unchanged unless the route names a
         * model or the conversation holds thinking the API did not sign */
        if (!t->model[0] && !b->cfg->model[0] && !provenance_claude_needed(ex->root)) goto send;
        cJSON *copy = cJSON_Duplicate(ex->root, 1);
        int changes = copy ? fit_provenance(ex, copy) : -1;
        passthru_opts po = {.model = backend_model(b, t->model)};
        int rc = changes >= 0 ? passthru_rewrite(copy, &po, &ex->cur.upbody) : BUF_ENOMEM;
        cJSON_Delete(copy);
        if (rc) {
            exchange_error(ex, "api_error", "out of memory");
            return;
        }
        body = ex->cur.upbody.data;
        len = ex->cur.upbody.len;
    }
send:
    snprintf(ex->cur.info.model, sizeof ex->cur.info.model, "%s",
             ex->facts.model ? ex->facts.model : "");
    ex->cur.info.input_estimate = ex->facts.est_tokens;
    passthru_obs_init(&ex->cur.obs, EXCHANGE_MAX_SSE_LINE);
    ex->cur.obs_on = 1;
    char base[1200];
    route_backend_url(b->cfg, "messages", base, sizeof base);
    const char *q = httpd_req_query(ex->req);
    snprintf(ex->cur.url, sizeof ex->cur.url, "%s%s%s", base,
             *q && ex->cur.pt == MODE_CLAUDE ? "?" : "", ex->cur.pt == MODE_CLAUDE ? q : "");
    outhdrs ph;
    if (log_level() >= 3) {
        log_trace_write(ex->trace, "upstream request", body, len);
    }
    upstream_opts uo = {
        .method = "POST",
        .url = ex->cur.url,
        .body = body,
        .body_len = len,
        .headers = outhdrs_build(s->cfg, b, ex->req, &ph),
        .via = httpd_req_header(ex->req, VIA_HEADER),
        .ca_file = backend_ca(b),
        .sse = ex->stream,
        .total_timeout_ms = ex->stream ? 0 : s->cfg->request_timeout_s * 1000,
    };
    ex->cur.up = upstream_start(s->up, &uo, cbs, ex);
    outhdrs_free(&ph); /* curl copied the header lines */
    if (!ex->cur.up) exchange_error(ex, "api_error", "could not start the backend request");
}

void relay_observe(exchange *ex, const char *p, size_t n)
{
    if (ex->cur.obs_on) {
        if (ex->stream)
            passthru_obs_feed(&ex->cur.obs, p, n);
        else
            buf_append(&ex->cur.resp, p, n); /* read whole at the end; too big: no numbers */
    }
    /* the last bytes relayed, to tell whether they end an event */
    size_t keep = n < sizeof ex->tail ? n : sizeof ex->tail;
    memmove(ex->tail, ex->tail + keep, sizeof ex->tail - keep);
    memcpy(ex->tail + sizeof ex->tail - keep, p + n - keep, keep);
}

void relay_error_event(exchange *ex, const char *type, const char *msg)
{
    /* cut mid-event: end it, so the error stands as an event of its own
     * (the broken event before it fails to parse, as it should) */
    const char *t = ex->tail + sizeof ex->tail;
    if (ex->bytes_out && !(t[-1] == '\n' && (t[-2] == '\n' || (t[-2] == '\r' && t[-3] == '\n'))))
        buf_appends(&ex->out, "\n\n");
    anthropic_error_event(&ex->out, type, msg);
}
