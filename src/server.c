/*
 * server: the gateway's front (shell): the head check (host, origin, token,
 * method, content type), the routes, the gateway's own small endpoints
 * (metrics, status, the minimal health), draining, and the server's life.
 * Each endpoint that asks a backend has its own file: messages.c,
 * count_tokens.c, models.c; exchange.c holds what they share.
 */
#include "server.h"

#include "checkpoint.h"
#include "timeouts.h"

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "access.h"
#include "anthropic.h"
#include "count_tokens.h"
#include "exchange.h"
#include "h1.h"
#include "messages.h"
#include "models.h"
#include "monotime.h"
#include "outhdrs.h"
#include "xlate_tools.h"

static void handle_metrics(server *s, httpd_req *req)
{
    buf b;
    buf_init(&b, 0);
    s->m.active_streams = s->active;
    if (metrics_render(&s->m, &b) == 0 && backends_metrics(&s->bs, &b) == 0)
        httpd_reply(req, 200, "text/plain; version=0.0.4", b.data, b.len);
    else
        exchange_error_req(req, "api_error", "out of memory");
    buf_free(&b);
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
    const route_target *tg = plan_first(&s->bs, &s->cfg->routing, NULL, 0);
    backend_rt *b = &s->bs.b[tg->backend];
    const char *model = backend_model(b, tg->model);
    if (!model) model = b->cfg->detected_model;
    buf out;
    buf_init(&out, 1u << 20);
    if (convstat_json(t, b->cfg->name, b->cfg->mode->name, model, b->cfg->context_window,
                      monotime_ms(), &out) == 0)
        httpd_reply(req, 200, "application/json", out.data, out.len);
    else
        exchange_error_req(req, "api_error", "out of memory");
    buf_free(&out);
}

/* ---- draining (rolling restarts) ------------------------------------------ */

struct server_drain {
    double t0, idle_t0;
    long deadline_ms;
    struct event *timer; /* polls: deadline passed? all done and written? */
    server_drained_fn done;
    void *arg;
};

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
        if (ex->kind == EXCHANGE_MESSAGES)
            messages_cut(ex, "overloaded_error", why);
        else
            exchange_error(ex, "overloaded_error", why);
    }
    httpd_flush(s->http);
}

static void drain_tick(evutil_socket_t fd, short what, void *arg)
{
    server *s = arg;
    struct server_drain *d = s->drain;
    double now = monotime_ms();
    if (s->active > 0 && now - d->t0 >= (double)d->deadline_ms) {
        char why[200];
        snprintf(why, sizeof why,
                 "anyclaude is restarting: the stream was still running after the drain "
                 "deadline (%ld s); retry",
                 d->deadline_ms / 1000);
        log_line(0, "drain: deadline passed; ending %d request(s) with an error", s->active);
        server_cut_all(s, why);
    }
    if (s->active == 0) {
        if (d->idle_t0 == 0) d->idle_t0 = now;
        if (httpd_unsent(s->http) == 0 || now - d->idle_t0 > TIMEOUT_DRAIN_IDLE_MS) {
            log_line(0, "drain: done after %.0f ms", now - d->t0);
            if (d->done) d->done(d->arg);
            return;
        }
    }
    struct timeval tv = {0, 20000};
    evtimer_add(d->timer, &tv);
}

void server_drain(server *s, long deadline_ms, server_drained_fn done, void *arg)
{
    if (s->draining) return;
    s->draining = 1;
    struct server_drain *d = s->drain = calloc(1, sizeof *d);
    if (d) {
        d->t0 = monotime_ms();
        d->deadline_ms = deadline_ms;
        d->done = done;
        d->arg = arg;
    }
    httpd_drain(s->http);
    log_line(0, "drain: not accepting; %d request(s) in flight may take up to %ld s", s->active,
             deadline_ms / 1000);
    if (d) d->timer = evtimer_new(s->base, drain_tick, s);
    if (!d || !d->timer) {
        server_cut_all(s, "anyclaude is restarting; retry");
        if (done) done(arg);
        return;
    }
    struct timeval tv = {0, 0};
    evtimer_add(d->timer, &tv);
}

void server_checkpoint(server *s, server_drained_fn done, void *arg)
{
    checkpoint_save_all(&s->bs, TIMEOUT_CHECKPOINT_MS, done, arg);
}

/* ---- routes and access ----------------------------------------------------- */

enum route_id { R_NONE, R_HEALTH, R_METRICS, R_MESSAGES, R_COUNT, R_MODELS, R_STATUS };

static void serve_health(server *s, httpd_req *req);
static void serve_models(server *s, httpd_req *req);

typedef struct endpoint {
    const char *path;
    enum route_id id;
    int post;
    void (*serve)(server *s, httpd_req *req);
} endpoint;

static const endpoint endpoints[] = {
    {"/health", R_HEALTH, 0, serve_health},
    {"/", R_HEALTH, 0, serve_health},
    {"/metrics", R_METRICS, 0, handle_metrics},
    {"/v1/messages", R_MESSAGES, 1, messages_handle},
    {"/v1/messages/count_tokens", R_COUNT, 1, count_tokens_handle},
    {"/v1/models", R_MODELS, 0, serve_models},
    {"/anyclaude/status", R_STATUS, 0, handle_status},
};

/* The endpoint at path, or NULL. */
static const endpoint *endpoint_of(const char *path)
{
    for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0]; i++)
        if (strcmp(path, endpoints[i].path) == 0) return &endpoints[i];
    return NULL;
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

/* Does the request carry the gateway's token (or is none required)? For
 * every endpoint that must not answer strangers. */
static int server_authorized(const server *s, httpd_req *req)
{
    const char *tok = s->cfg->auth_token;
    if (!tok[0]) return 1;
    const char *k = httpd_req_header(req, "x-api-key");
    const char *a = httpd_req_header(req, "Authorization");
    const char *b = a && strncmp(a, "Bearer ", 7) == 0 ? a + 7 : NULL;
    return access_token_equal(tok, k) | access_token_equal(tok, b) |
           access_token_equal(tok, httpd_req_header(req, OUTHDRS_TOKEN_HEADER));
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
    const endpoint *ep = endpoint_of(httpd_req_path(req));
    enum route_id r = ep ? ep->id : R_NONE;
    int want_post = ep && ep->post;
    if (via_looped(httpd_req_header(req, VIA_HEADER), upstream_self())) {
        snprintf(m, sizeof m,
                 "request loop: this request came back to the anyclaude gateway that sent it "
                 "(port %d), or passed through %d gateways; a backend's URL points at this "
                 "gateway itself. Point --backend (or the config's backend url) at the model "
                 "server's address, not at anyclaude's",
                 s->port, VIA_MAX_HOPS);
        refuse(req, 508, "api_error", m);
        return;
    }
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

static void serve_health(server *s, httpd_req *req)
{
    s->m.requests_health++;
    if (!s->cfg->auth_token[0] || server_authorized(s, req))
        models_handle_health(s, req);
    else
        health_minimal(s, req);
}

static void serve_models(server *s, httpd_req *req)
{
    s->m.requests_models++;
    models_handle(s, req);
}

static void dispatch(httpd_req *req, void *arg)
{
    server *s = arg;
    const char *path = httpd_req_path(req);
    if (log_level() >= 2) {
        char esc[300];
        h1_escape(path, strlen(path), esc, sizeof esc);
        log_line(2, "%s %s", httpd_req_method(req), esc);
    }
    const endpoint *ep = endpoint_of(path);
    if (s->draining && (!ep || ep->id != R_METRICS)) {
        reply_draining(req, ep && ep->id == R_HEALTH);
        return;
    }
    if (ep)
        ep->serve(s, req);
    else
        exchange_error_req(req, "not_found_error", "no route"); /* head_check answered it already */
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
    if (exchange_memory_init(s) < 0) {
        snprintf(err, errlen, "out of memory");
        server_free(s);
        return NULL;
    }
    s->up = upstream_new(base);
    s->tools = xlate_tools_cache_new(); /* NULL (no memory): tools written each time */
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
    if (backends_init(&s->bs, base, s->up, cfg, &s->m) < 0) {
        snprintf(err, errlen, "out of memory");
        server_free(s);
        return NULL;
    }
    /* The body is parsed up front when routing reads it, or when a backend
     * translates it anyway (the translation reads the same tree): the scan
     * for server tools over the raw bytes is then work done twice. */
    s->need_root = routes_need_body(rs);
    for (int i = 0; i < s->bs.n; i++)
        if (!s->bs.b[i].cfg->mode->passthru) s->need_root = 1;
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
    if (s->drain) {
        if (s->drain->timer) event_free(s->drain->timer);
        free(s->drain);
    }
    while (s->exchanges) {
        exchange *ex = s->exchanges;
        if (ex->req && ex->committed) {
            httpd_reply_end(ex->req);
            ex->req = NULL;
        }
        exchange_free(ex);
    }
    exchange_memory_free(s);
    httpd_free(s->http);
    backends_free(&s->bs);
    upstream_free(s->up);
    xlate_tools_cache_free(s->tools);
    free(s);
}
