/*
 * exchange: one client request's life and its replies (see exchange.h).
 */
#include "exchange.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "anthropic.h"
#include "dlist.h"
#include "monotime.h"
#include "timeouts.h"
#include "xlate_tools.h"

/* ---- memory ---------------------------------------------------------------- */

static void trim_cb(evutil_socket_t fd, short what, void *arg)
{
    server *s = arg;
#ifdef __GLIBC__
    if (s->active == 0) malloc_trim(0);
#else
    (void)s;
#endif
}

int exchange_memory_init(server *s)
{
#ifdef __GLIBC__
    /* glibc maps a block over 128 KiB (rising with use) on its own and
     * unmaps it when freed: each 1 MiB request then faulted about 700 fresh
     * pages in (bench/overhead). Keep such blocks in the heap up to 32 MiB,
     * and leave the heap's top to the idle trim. */
    const char *tun = getenv("GLIBC_TUNABLES");
    if (!tun || !strstr(tun, "glibc.malloc.")) {
        mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
        mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    }
#endif
    s->trim = evtimer_new(s->base, trim_cb, s);
    return s->trim ? 0 : -1;
}

void exchange_memory_free(server *s)
{
    if (s->trim) event_free(s->trim);
    s->trim = NULL;
}

/* ---- the current attempt: set up and released here only ------------------- */

static void attempt_init(exchange *ex)
{
    exchange_attempt *a = &ex->cur;
    memset(a, 0, sizeof *a);
    buf_init(&a->upbody, ex->srv->cfg->max_body * 2 + 1024 * 1024);
    buf_init(&a->resp, EXCHANGE_MAX_UPSTREAM_BODY);
    buf_init(&a->hdrs, 64u << 10);
    a->slot = -1;
}

static void attempt_release(exchange *ex)
{
    exchange_attempt *a = &ex->cur;
    upstream_cancel(a->up);
    llama_tok_cancel(a->tok);
    xlate_stream_free(a->xs);
    xlate_request_info_free(&a->info);
    if (a->obs_on) passthru_obs_free(&a->obs);
    if (a->bk && a->slot >= 0) backend_slot_done(a->bk, a->slot, a->slot_key);
    if (a->bk) a->bk->inflight--;
    buf_free(&a->upbody);
    buf_free(&a->resp);
    buf_free(&a->hdrs);
}

void exchange_attempt_reset(exchange *ex)
{
    attempt_release(ex);
    attempt_init(ex);
    if (ex->grace) evtimer_del(ex->grace);
    if (ex->ping) evtimer_del(ex->ping);
    if (ex->idle) evtimer_del(ex->idle);
}

/* ---- life ------------------------------------------------------------------ */

/* The client's connection closed before we finished: httpd frees the
 * request; we cancel the backend request and forget the exchange. */
static void client_closed(httpd_req *r, void *arg)
{
    exchange *ex = arg;
    log_line(1, "client disconnected after %.0f ms; upstream request cancelled",
             monotime_ms() - ex->t_start);
    ex->srv->m.client_disconnects++;
    ex->req = NULL;
    exchange_free(ex);
}

exchange *exchange_new(server *s, httpd_req *req, enum exchange_kind kind)
{
    exchange *ex = calloc(1, sizeof *ex);
    if (!ex) return NULL;
    ex->srv = s;
    ex->kind = kind;
    ex->tools_entry = -1;
    ex->req = req;
    attempt_init(ex);
    buf_init(&ex->out, EXCHANGE_MAX_BACKLOG);
    ex->t_start = monotime_ms();
    DLIST_PUSH(s->exchanges, ex);
    s->active++;
    httpd_req_on_close(req, client_closed, ex);
    return ex;
}

void exchange_free(exchange *ex)
{
    server *s = ex->srv;
    if (ex->req) {
        httpd_req_on_close(ex->req, NULL, NULL);
        httpd_req_on_drain(ex->req, NULL, NULL);
    }
    attempt_release(ex);
    log_trace_close(ex->trace);
    if (ex->grace) event_free(ex->grace);
    if (ex->ping) event_free(ex->ping);
    if (ex->hold) event_free(ex->hold);
    if (ex->idle) event_free(ex->idle);
    cJSON_Delete(ex->root);
    xlate_tools_cache_release(s->tools, ex->tools_entry);
    plan_key_free(&ex->key);
    buf_free(&ex->out);
    DLIST_UNLINK(s->exchanges, ex);
    s->active--;
    free(ex);
    if (s->active == 0 && s->trim) { /* after a burst: trim once it stays idle */
        struct timeval tv = {TIMEOUT_TRIM_IDLE_MS / 1000, (TIMEOUT_TRIM_IDLE_MS % 1000) * 1000};
        evtimer_add(s->trim, &tv);
    }
}

/* ---- replies ------------------------------------------------------------- */

void exchange_add_headers(exchange *ex)
{
    if (ex->msg_id[0]) httpd_add_header(ex->req, "request-id", ex->msg_id);
    if (ex->cur.bk) httpd_add_header(ex->req, "anyclaude-backend", ex->cur.bk->cfg->name);
}

void exchange_reply(exchange *ex, int status, const char *body, size_t len)
{
    log_trace_write(ex->trace, "reply to client", body, len);
    if (ex->req) {
        exchange_add_headers(ex);
        httpd_reply(ex->req, status, "application/json", body, len);
        ex->req = NULL;
    }
    exchange_free(ex);
}

void exchange_error(exchange *ex, const char *type, const char *msg)
{
    metrics_error(&ex->srv->m, type);
    if (ex->kind == EXCHANGE_MESSAGES) ex->srv->m.responses_error++;
    buf b;
    buf_init(&b, 0);
    anthropic_error_json(&b, type, msg);
    log_line(1, "error %d %s: %s", anthropic_error_status(type), type, msg);
    exchange_reply(ex, anthropic_error_status(type), b.data ? b.data : "", b.len);
    buf_free(&b);
}

void exchange_error_req(httpd_req *req, const char *type, const char *msg)
{
    buf b;
    buf_init(&b, 0);
    anthropic_error_json(&b, type, msg);
    log_line(1, "error %d %s: %s", anthropic_error_status(type), type, msg);
    httpd_reply(req, anthropic_error_status(type), "application/json", b.data ? b.data : "", b.len);
    buf_free(&b);
}
