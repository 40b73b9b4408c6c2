/*
 * messages: the life of one POST /v1/messages exchange.
 *
 *   route ─▶ attempt 1 ─▶ (refused, 429/502/503/504/529 before commit) ─▶ attempt 2 ...
 *
 * Each attempt goes to the next target of the request's plan (plan.h: its
 * route's pool in the order pool.h gives, then its fallbacks). An
 * OpenAI-family target is translated (xlate_request, xlate_stream); a
 * pass-through target (anthropic, claude) gets the client's body (relay.h:
 * rewritten for the cache in anthropic mode) and its answer goes back
 * unchanged. What an attempt holds is ex->cur (exchange.h).
 *
 * OpenAI targets: "committed" means the client got 200 and message_start.
 * It happens when the backend answers 2xx, or when the backend is connected
 * but silent for a short grace period (a cold prefill can take a minute;
 * llama.cpp sends no headers until its first token). Before commit every
 * failure is an HTTP error status, or the next target; after it, an
 * `event: error`. While committed and the backend is silent, a ping goes
 * out every ping_ms. Pass-through targets commit with the backend's own
 * status and headers when they arrive.
 *
 * Lifetimes: httpd owns the request; the exchange is freed exactly once:
 * when its reply is complete, or when the client's connection closes.
 */
#include "messages.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "anthropic.h"
#include "jparse.h"
#include "monotime.h"
#include "outhdrs.h"
#include "relay.h"
#include "servertools.h"
#include "xlate_response.h"
#include "xlate_tools.h"

#define GRACE_MS 1000         /* silent backend: commit after this */
#define TOK_WAIT_MS 250       /* how long message_start may wait for the tokenizer's count */
#define PAUSE_AT (1u << 20)   /* client backlog that pauses the backend transfer */
#define FLUSH_AT (16u << 10)  /* stream output written before libcurl's pass ends */
#define CLIENT_STALL_MS 30000 /* a paused client that reads nothing this long is cut off */

static void start_attempt(exchange *ex);
static void abort_client(exchange *ex);
static void fail_exchange(exchange *ex, const char *type, const char *msg);
static void arm_idle(exchange *ex);

/* The client caught up: resume the backend transfer (which may deliver held
 * data, and end the exchange, at once). */
static void client_drained(httpd_req *r, void *arg)
{
    exchange *ex = arg;
    httpd_req_on_drain(r, NULL, NULL);
    if (!ex->cur.paused) return;
    ex->cur.paused = 0;
    arm_idle(ex);
    upstream_pause(ex->cur.up, 0);
}

static void make_id(char *dst, size_t n, const char *prefix)
{
    unsigned char r[12];
    arc4random_buf(r, sizeof r);
    size_t k = (size_t)snprintf(dst, n, "%s", prefix);
    for (size_t i = 0; i < sizeof r && k + 2 < n; i++)
        k += (size_t)snprintf(dst + k, n - k, "%02x", r[i]);
}

/* ---- output ---------------------------------------------------------------- */

/* Write pending stream output to the client. Returns -1 when the client is
 * not keeping up (backlog past the limit). Translated output has the
 * configured keys masked (a backend may echo one); pass-through output goes
 * as it came. */
static int flush_out(exchange *ex)
{
    if (!ex->req || ex->out.len == 0) return 0;
    if (!ex->cur.pt) log_redact_secrets(ex->out.data, ex->out.len);
    log_trace_write(ex->trace, "to client", ex->out.data, ex->out.len);
    ex->bytes_out += ex->out.len;
    size_t queued = httpd_reply_chunk(ex->req, ex->out.data, ex->out.len);
    buf_reset(&ex->out);
    if (queued > EXCHANGE_MAX_BACKLOG) return -1;
    if (queued > PAUSE_AT && ex->cur.up && !ex->cur.paused) {
        /* backpressure: stop reading the backend until the client catches up */
        ex->cur.paused = 1;
        upstream_pause(ex->cur.up, 1);
        httpd_req_on_drain(ex->req, client_drained, ex);
        arm_idle(ex);
    }
    return 0;
}

/* A timer that measures the backend's silence is armed once and not moved
 * at every chunk (two evtimer_adds a chunk were 7% of a stream's cost): when
 * it fires, data that came in since puts it off to limit_ms after that data.
 * 1 when it was put off. */
static int rearm_after_data(exchange *ex, struct event *ev, long limit_ms)
{
    double quiet = monotime_ms() - ex->cur.t_data;
    if (ex->cur.t_data == 0 || quiet >= (double)limit_ms) return 0;
    long us = (long)(((double)limit_ms - quiet) * 1000.0) + 1;
    struct timeval tv = {us / 1000000, us % 1000000};
    evtimer_add(ev, &tv);
    return 1;
}

/* The backend sent nothing for upstream_idle_s once its answer started, or
 * a paused client read nothing for CLIENT_STALL_MS. */
static void idle_cb(evutil_socket_t fd, short what, void *arg)
{
    exchange *ex = arg;
    if (!ex->cur.paused && rearm_after_data(ex, ex->idle, ex->srv->cfg->upstream_idle_s * 1000))
        return;
    upstream_cancel(ex->cur.up);
    ex->cur.up = NULL;
    if (ex->cur.paused) {
        log_line(0, "client read nothing of its stream for %d s; closing it",
                 CLIENT_STALL_MS / 1000);
        abort_client(ex);
        return;
    }
    char msg[300];
    snprintf(msg, sizeof msg,
             "backend %s sent nothing for %ld s after its answer started "
             "(--upstream-idle-timeout / ANYCLAUDE_UPSTREAM_IDLE_TIMEOUT)",
             ex->cur.bk ? ex->cur.bk->cfg->name : "?", ex->srv->cfg->upstream_idle_s);
    fail_exchange(ex, "api_error", msg);
}

static void arm_idle(exchange *ex)
{
    long ms = ex->cur.paused ? CLIENT_STALL_MS : ex->srv->cfg->upstream_idle_s * 1000;
    if (!ex->idle) ex->idle = evtimer_new(ex->srv->base, idle_cb, ex);
    if (!ex->idle) return;
    if (ms <= 0) {
        evtimer_del(ex->idle);
        return;
    }
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(ex->idle, &tv);
}

/* The status line's numbers: the main conversation's turns (not a
 * subagent's, not a background Haiku request). */
static void record_turn(exchange *ex, const xlate_stream_stats *st, double now)
{
    const char *sid = ex->req ? httpd_req_header(ex->req, "X-Claude-Code-Session-Id") : NULL;
    if (!sid || !ex->cur.bk || !st->stop_reason) return;
    if (httpd_req_header(ex->req, "x-claude-code-agent-id")) return;
    for (const char *p = ex->cur.info.model; *p; p++)
        if (strncasecmp(p, "haiku", 5) == 0) return;
    convstat_turn t;
    memset(&t, 0, sizeof t);
    snprintf(t.session, sizeof t.session, "%s", sid);
    snprintf(t.backend, sizeof t.backend, "%s", ex->cur.bk->cfg->name);
    snprintf(t.mode, sizeof t.mode, "%s", ex->cur.bk->cfg->mode->name);
    const char *model = ex->cur.sent_model                   ? ex->cur.sent_model
                        : ex->cur.bk->cfg->detected_model[0] ? ex->cur.bk->cfg->detected_model
                                                             : ex->cur.info.model;
    snprintf(t.model, sizeof t.model, "%s", model);
    t.window = ex->cur.bk->cfg->context_window;
    t.prompt = st->input_tokens + st->cached_tokens;
    t.cached = st->cached_tokens;
    t.output = st->output_tokens;
    t.usage_known = st->usage_known;
    /* the backend's own prefill time (llama.cpp timings), else the time to
     * the first token, which is mostly prefill */
    t.prefill_ms = st->prefill_ms >= 0                           ? st->prefill_ms
                   : ex->stream && ex->cur.t_first > ex->t_start ? ex->cur.t_first - ex->t_start
                                                                 : -1;
    /* a whole (non-streamed) answer has no first token to time from */
    t.gen_ms = ex->stream && ex->cur.t_first > 0 ? now - ex->cur.t_first : -1;
    t.at_ms = now;
    convstat_put(&ex->srv->turns, &t);
}

/* Account for a finished /v1/messages exchange: metrics, the estimate's
 * calibration, and the per-request log line (debug level 1). */
static void finish_accounting(exchange *ex, const xlate_stream_stats *st)
{
    server *s = ex->srv;
    backend_rt *b = ex->cur.bk;
    double now = monotime_ms();
    long prompt = st->input_tokens + st->cached_tokens;
    int ok = st->stop_reason != NULL;
    if (ok)
        s->m.responses_ok++;
    else
        s->m.responses_error++;
    if (st->usage_known) {
        s->m.tokens_in += (unsigned long long)st->input_tokens;
        s->m.tokens_cached += (unsigned long long)st->cached_tokens;
        /* calibrate the estimate against the backend's tokenizer */
        if (b && !ex->cur.pt && ex->cur.info.input_estimate > 0 && prompt > 0) {
            double r = (double)prompt / (double)ex->cur.info.input_estimate;
            if (r > 0.2 && r < 5) b->est_ratio = 0.7 * b->est_ratio + 0.3 * r;
        }
    }
    s->m.tokens_out += (unsigned long long)st->output_tokens;
    record_turn(ex, st, now);
    if (ex->cur.t_first > 0) metrics_observe(&s->m.ttft, (ex->cur.t_first - ex->t_start) / 1000.0);
    metrics_observe(&s->m.upstream, (now - ex->t_start) / 1000.0);
    if (log_level() < 1) return;
    if (log_level() >= 2)
        log_line(2, "response %s: stop=%s output_tokens=%ld bytes_to_client=%zu", ex->msg_id,
                 st->stop_reason ? st->stop_reason : "error", st->output_tokens, ex->bytes_out);
    double gen_s = ex->cur.t_first > 0 ? (now - ex->cur.t_first) / 1000.0 : 0;
    char slot[64] = "";
    if (ex->cur.slot >= 0)
        snprintf(slot, sizeof slot, " slot=%d%s%s", ex->cur.slot,
                 ex->cur.slot_reuse == 1   ? ""
                 : ex->cur.slot_reuse == 2 ? "(took same-prefix slot)"
                                           : "(new)",
                 ex->cur.warm_hit ? " warm-start-hit" : "");
    char prefill[48] = "";
    if (st->prefill_ms >= 0) snprintf(prefill, sizeof prefill, " prefill=%.0fms", st->prefill_ms);
    if (st->tool_recovered || st->tool_repairs || st->tool_failures)
        log_line(1,
                 "tool calls: %d recovered from text, %d arguments repaired, %d unrepairable "
                 "(passed on as text)",
                 st->tool_recovered, st->tool_repairs, st->tool_failures);
    char model[600];
    if (ex->cur.sent_model && strcmp(ex->cur.sent_model, ex->cur.info.model) != 0)
        snprintf(model, sizeof model, "%s->%s", ex->cur.info.model, ex->cur.sent_model);
    else
        snprintf(model, sizeof model, "%s", ex->cur.info.model);
    log_line(1,
             "%s backend=%s model=%s stream=%d prompt=%ld%s cached=%ld (%.1f%%)%s ttft=%.0fms "
             "total=%.0fms out=%ld tok/s=%.1f stop=%s%s",
             b ? b->cfg->mode->name : "-", b ? b->cfg->name : "-", model, ex->stream, prompt,
             st->usage_known ? "" : "(est)", st->cached_tokens,
             prompt > 0 ? 100.0 * (double)st->cached_tokens / (double)prompt : 0.0, prefill,
             ex->cur.t_first > 0 ? ex->cur.t_first - ex->t_start : -1.0, now - ex->t_start,
             st->output_tokens, gen_s > 0 ? (double)st->output_tokens / gen_s : 0.0,
             st->stop_reason ? st->stop_reason : "error", slot);
}

static void learn_pool(exchange *ex)
{
    if (ex->cur.bk && ex->key.nprefix > 0 && ex->srv->bs.pool)
        pool_learn(ex->srv->bs.pool, ex->cur.bk->idx, ex->key.conv, ex->key.prefix,
                   ex->key.nprefix);
}

/* Finish a committed stream and free the exchange. */
static void stream_end(exchange *ex)
{
    flush_out(ex);
    xlate_stream_stats st;
    memset(&st, 0, sizeof st);
    st.prefill_ms = -1;
    if (ex->cur.obs_on)
        st = ex->cur.obs.st;
    else if (ex->cur.xs)
        xlate_stream_get_stats(ex->cur.xs, &st);
    finish_accounting(ex, &st);
    if (ex->req) {
        httpd_reply_end(ex->req);
        ex->req = NULL;
    }
    exchange_free(ex);
}

/* The client stopped reading and its backlog passed the limit: cut the
 * connection (no final chunk, so it cannot mistake this for a complete
 * answer) and cancel the backend request. */
static void abort_client(exchange *ex)
{
    log_line(0, "client is not reading its stream (over %u MiB queued); closing it",
             (unsigned)(EXCHANGE_MAX_BACKLOG >> 20));
    if (ex->req) {
        httpd_abort(ex->req);
        ex->req = NULL;
    }
    exchange_free(ex);
}

static void ping_cb(evutil_socket_t fd, short what, void *arg)
{
    exchange *ex = arg;
    if (rearm_after_data(ex, ex->ping, ex->srv->cfg->ping_ms)) return;
    xlate_stream_ping(&ex->out);
    if (flush_out(ex) < 0) {
        abort_client(ex);
        return;
    }
    struct timeval tv = {ex->srv->cfg->ping_ms / 1000, (ex->srv->cfg->ping_ms % 1000) * 1000};
    evtimer_add(ex->ping, &tv);
}

static void arm_ping(exchange *ex)
{
    struct timeval tv = {ex->srv->cfg->ping_ms / 1000, (ex->srv->cfg->ping_ms % 1000) * 1000};
    if (ex->ping) evtimer_add(ex->ping, &tv);
}

/* Start the client's stream: 200, SSE headers, message_start. Written at
 * once, except when the caller writes the backend's first data next (flush
 * 0): then they leave in the same write, one TCP segment fewer before the
 * first text. */
static void commit_out(exchange *ex, int flush)
{
    if (ex->committed || !ex->req) return;
    ex->committed = 1;
    if (ex->grace) evtimer_del(ex->grace);
    learn_pool(ex);
    exchange_add_headers(ex);
    httpd_add_header(ex->req, "Cache-Control", "no-cache");
    httpd_reply_start(ex->req, 200, "text/event-stream; charset=utf-8");
    if (ex->cur.exact_prompt > 0) xlate_stream_set_estimate(ex->cur.xs, ex->cur.exact_prompt);
    xlate_stream_begin(ex->cur.xs, &ex->out);
    if (flush) flush_out(ex);
    arm_ping(ex);
}

static void commit(exchange *ex)
{
    commit_out(ex, 1);
}

/* The grace timer: commit now; or, committed already (want_commit), write
 * what is still held at the end of the event loop's current turn. */
static void grace_cb(evutil_socket_t fd, short what, void *arg)
{
    exchange *ex = arg;
    if (!ex->committed)
        commit(ex);
    else if (flush_out(ex) < 0)
        abort_client(ex);
}

/* The backend said 2xx: commit, but give the tokenizer (asked alongside the
 * request) up to TOK_WAIT_MS to return, so message_start carries the exact
 * count. Data from the backend commits at once whatever happens. */
static void want_commit(exchange *ex)
{
    if (ex->committed) return;
    double left = TOK_WAIT_MS - (monotime_ms() - ex->t_start);
    if (ex->cur.tok && left > 1) {
        ex->cur.commit_pending = 1;
        struct timeval tv = {0, (long)(left * 1000)};
        evtimer_add(ex->grace, &tv);
        return;
    }
    /* The first data usually came in the same read as the headers: held
     * until this turn of the event loop ends, message_start leaves in one
     * write with the first text instead of a segment of its own. */
    commit_out(ex, 0);
    event_active(ex->grace, EV_TIMEOUT, 1);
}

/* Pass-through: relay the backend's status and headers. */
static void pt_commit(exchange *ex)
{
    if (ex->committed || !ex->req) return;
    ex->committed = 1;
    if (ex->cur.up_status >= 200 && ex->cur.up_status < 300) learn_pool(ex);
    relay_reply_headers(ex);
    httpd_reply_start(ex->req, (int)ex->cur.up_status,
                      ex->cur.ctype[0] ? ex->cur.ctype : "application/json");
}

/* ---- attempts and fallback ---------------------------------------------------- */

static int fallback_status(long st)
{
    return st == 429 || st == 502 || st == 503 || st == 504 || st == 529;
}

static int more_targets(const exchange *ex)
{
    return !ex->committed && ex->attempt + 1 < ex->plan.n;
}

/* The current target could not take the request: try the next one. Returns
 * 1 when it did (the exchange may be gone), 0 when there is none. */
static int try_next(exchange *ex, const char *why)
{
    if (ex->cur.bk) {
        size_t l = strlen(ex->why);
        snprintf(ex->why + l, sizeof ex->why - l, "%s%s: %s", l ? "; " : "", ex->cur.bk->cfg->name,
                 why);
    }
    if (!more_targets(ex)) return 0;
    server *s = ex->srv;
    const char *from = ex->cur.bk ? ex->cur.bk->cfg->name : "?";
    backend_rt *next = &s->bs.b[ex->plan.tg[ex->attempt + 1]->backend];
    log_line(1, "request %s: %s %s; falling back to %s", ex->msg_id, from, why, next->cfg->name);
    s->bs.fallbacks++;
    if (ex->cur.bk) ex->cur.bk->fallbacks++;
    exchange_attempt_reset(ex);
    ex->attempt++;
    start_attempt(ex);
    return 1;
}

/* Turn a failed upstream answer into the client's error (status before
 * commit, `event: error` after). */
static void fail_exchange(exchange *ex, const char *type, const char *msg)
{
    if (!ex->committed) {
        exchange_error(ex, type, msg);
        return;
    }
    log_line(1, "stream error %s: %s", type, msg);
    metrics_error(&ex->srv->m, type);
    if (!ex->cur.pt) {
        xlate_stream_fail(ex->cur.xs, type, msg, &ex->out);
    } else if (ex->stream && ex->cur.up_status >= 200 && ex->cur.up_status < 300) {
        relay_error_event(ex, type, msg);
    } else {
        abort_client(ex); /* a cut body must not look complete */
        return;
    }
    stream_end(ex);
}

void messages_cut(exchange *ex, const char *type, const char *msg)
{
    fail_exchange(ex, type, msg);
}

/* The backend could not be reached, or broke off. */
static void fail_transport(exchange *ex, int refused, const char *err)
{
    char msg[1400];
    backend_rt *b = ex->cur.bk;
    /* connected, but the backend went away before a byte of its answer
     * (a server killed with our request on a kept-alive connection): as
     * good as refused, and safe to send elsewhere */
    int vanished =
        ex->cur.connected && ex->cur.up_status == 0 && !ex->committed && ex->cur.resp.len == 0;
    if (vanished && more_targets(ex)) {
        backend_mark_down(b, err);
        char why[300];
        snprintf(why, sizeof why, "went away before answering (%s)", err);
        if (try_next(ex, why)) return;
    }
    if (refused || !ex->cur.connected) {
        if (refused) backend_mark_down(b, err);
        char why[300];
        snprintf(why, sizeof why, "not reachable (%s)", err);
        if (try_next(ex, why)) return;
        if (ex->plan.n > 1)
            snprintf(msg, sizeof msg,
                     "no backend could take the request (%s). Start the model servers, or fix "
                     "the routes in %s.",
                     ex->why,
                     ex->srv->cfg->config_file[0] ? ex->srv->cfg->config_file : "the config");
        else
            snprintf(msg, sizeof msg,
                     "backend %s is not reachable (%s). Is the model server running? "
                     "Start it, or point anyclaude at it with --backend URL.",
                     b->cfg->url, err);
        fail_exchange(ex, "overloaded_error", msg);
        return;
    }
    if (ex->committed || !ex->stream)
        snprintf(msg, sizeof msg, "backend %s failed: %s", b->cfg->url, err);
    else
        snprintf(msg, sizeof msg, "backend stream ended before the answer was complete (%s)", err);
    fail_exchange(ex, "api_error", msg);
}

/* ---- upstream callbacks ----------------------------------------------------------- */

static void up_connected(void *ud)
{
    exchange *ex = ud;
    ex->cur.connected = 1;
    if (ex->stream && !ex->committed && !ex->cur.pt) {
        struct timeval tv = {GRACE_MS / 1000, (GRACE_MS % 1000) * 1000};
        evtimer_add(ex->grace, &tv);
    }
}

static void up_header(void *ud, const char *n, size_t nl, const char *v, size_t vl)
{
    exchange *ex = ud;
    if (ex->cur.pt) relay_keep_header(ex, n, nl, v, vl);
}

static int up_headers(void *ud, long status)
{
    exchange *ex = ud;
    ex->cur.up_status = status;
    arm_idle(ex); /* the answer started */
    int good = status >= 200 && status < 300;
    if (ex->cur.pt) {
        /* hold a refusal that another target may take */
        if (!(fallback_status(status) && more_targets(ex))) pt_commit(ex);
        return 0;
    }
    if (!good && ex->grace && !ex->committed) evtimer_del(ex->grace);
    if (ex->stream && good) want_commit(ex);
    return 0;
}

static int pt_data(exchange *ex, const char *p, size_t n)
{
    if (!ex->committed) /* a held error body */
        return buf_append(&ex->cur.resp, p, n) == BUF_OK ? 0 : 1;
    if (ex->cur.t_first == 0) ex->cur.t_first = ex->cur.t_data;
    relay_observe(ex, p, n);
    if (buf_append(&ex->out, p, n) != BUF_OK || flush_out(ex) < 0) {
        ex->cur.up = NULL;
        abort_client(ex);
        return 1;
    }
    return 0;
}

static int up_data(void *ud, const char *p, size_t n)
{
    exchange *ex = ud;
    ex->cur.t_data = monotime_ms(); /* the idle and ping timers read it */
    log_trace_write(ex->trace, "from backend", p, n);
    if (ex->cur.pt) return pt_data(ex, p, n);
    if (!(ex->cur.up_status >= 200 && ex->cur.up_status < 300) || !ex->stream) {
        if (buf_append(&ex->cur.resp, p, n) != BUF_OK) {
            /* too big: keep what we have (it is an error body or an answer
             * we will refuse anyway) and stop reading */
            return 1;
        }
        return 0;
    }
    if (ex->cur.t_first == 0) ex->cur.t_first = ex->cur.t_data;
    commit_out(ex, 0); /* flushed with what this data makes */
    size_t held = ex->out.len;
    int rc = xlate_stream_feed(ex->cur.xs, p, n, &ex->out);
    int first = !ex->cur.evented && ex->out.len > held;
    if (first) ex->cur.evented = 1;
    /* The stream's first event leaves at once (time to first token), with
     * the HTTP head and message_start when they wait. After it, what one
     * pass of libcurl over the socket makes leaves in one write when the
     * pass ends (grace_cb runs next in this turn of the event loop), not a
     * write per upstream chunk: a burst wakes the client once, and the
     * gateway's time goes to translating, not to writev. Past FLUSH_AT it
     * leaves at once: one pass may read many buffers. */
    if (rc >= 0 && !first && !xlate_stream_over(ex->cur.xs) && ex->out.len < FLUSH_AT) {
        if (ex->out.len) event_active(ex->grace, EV_TIMEOUT, 1);
        return 0;
    }
    if (flush_out(ex) < 0) {
        ex->cur.up = NULL; /* returning 1 aborts the transfer without callbacks */
        abort_client(ex);
        return 1;
    }
    if (rc < 0 || xlate_stream_over(ex->cur.xs)) {
        /* the translator ended the stream (error event or done): finish now.
         * After an error the transfer is aborted; after a normal end the
         * rest ([DONE]) is drained so the backend connection is reused. No
         * callback reaches this exchange either way. */
        ex->cur.up = NULL;
        stream_end(ex);
        return rc < 0 ? 1 : 2;
    }
    return 0;
}

static void pt_done(exchange *ex, int ok, long status)
{
    if (!ex->committed) {
        /* a held 429/5xx: another target, or relay it after all */
        char why[64];
        snprintf(why, sizeof why, "answered HTTP %ld", status);
        if (try_next(ex, why)) return;
        pt_commit(ex);
        buf_append(&ex->out, ex->cur.resp.data ? ex->cur.resp.data : "", ex->cur.resp.len);
        buf_reset(&ex->cur.resp);
    }
    if (!ok) {
        fail_exchange(ex, "api_error", "backend stream ended before the answer was complete");
        return;
    }
    if (ex->cur.obs_on && !ex->stream && status >= 200 && status < 300)
        passthru_obs_message(&ex->cur.obs, ex->cur.resp.data ? ex->cur.resp.data : "",
                             ex->cur.resp.len);
    if (ex->cur.obs_on && ex->stream) passthru_obs_feed(&ex->cur.obs, "\n\n", 2);
    stream_end(ex);
}

static void up_done(void *ud, int ok, int refused, long status, const char *err)
{
    exchange *ex = ud;
    ex->cur.up = NULL;
    /* outlier detection counts the 5xx that reach clients; a 429/502/503/
     * 504/529 already sends the request on to the next target */
    if (ex->cur.bk && status > 0 && !fallback_status(status)) backend_outcome(ex->cur.bk, status);
    char msg[1400];
    if (!ok && (status == 0 || refused)) {
        fail_transport(ex, refused, err);
        return;
    }
    if (ex->cur.pt) {
        pt_done(ex, ok, status);
        return;
    }
    if (status < 200 || status >= 300) {
        int st;
        const char *type;
        if (fallback_status(status)) {
            char why[64];
            snprintf(why, sizeof why, "answered HTTP %ld", status);
            if (try_next(ex, why)) return;
        }
        anthropic_error_from_backend(status, ex->cur.resp.data ? ex->cur.resp.data : "",
                                     ex->cur.resp.len, &st, &type, msg, sizeof msg);
        log_redact_secrets(msg, strlen(msg)); /* a backend may echo its key */
        fail_exchange(ex, type, msg);
        return;
    }
    if (!ok) {
        snprintf(msg, sizeof msg, "backend stream ended before the answer was complete (%s)", err);
        fail_exchange(ex, "api_error", msg);
        return;
    }
    if (ex->stream) {
        commit(ex);
        xlate_stream_end(ex->cur.xs, &ex->out);
        stream_end(ex);
        return;
    }
    buf out;
    buf_init(&out, 0);
    xlate_stream_stats st;
    memset(&st, 0, sizeof st);
    st.prefill_ms = -1;
    char err2[512];
    ex->cur.t_first = monotime_ms();
    if (xlate_response_build(ex->cur.resp.data ? ex->cur.resp.data : "", ex->cur.resp.len,
                             &ex->cur.xopts, &out, &st, err2, sizeof err2) < 0) {
        snprintf(msg, sizeof msg, "backend answer could not be translated: %s", err2);
        buf_free(&out);
        exchange_error(ex, "api_error", msg);
        return;
    }
    learn_pool(ex);
    finish_accounting(ex, &st);
    exchange_reply(ex, 200, out.data ? out.data : "", out.len);
    buf_free(&out);
}

/* ---- starting an attempt ------------------------------------------------------ */

/* The conversation a request belongs to: Claude Code's session and agent
 * ids with the kind of prompt (system + tools), else the first turn. */
static uint64_t conversation_key(httpd_req *req, uint64_t kind, uint64_t first)
{
    const char *sid = httpd_req_header(req, "X-Claude-Code-Session-Id");
    const char *aid = httpd_req_header(req, "x-claude-code-agent-id");
    if (!sid) return first;
    uint64_t h = affinity_hash(AFFINITY_HASH_INIT, sid, strlen(sid));
    h = affinity_hash(h, "\n", 1);
    if (aid) h = affinity_hash(h, aid, strlen(aid));
    return affinity_hash(h, &kind, sizeof kind);
}

/* A prompt bigger than the backend's window is refused before it is sent:
 * the next target takes it when there is one, else the client gets the
 * Claude API's own error, which makes Claude Code compact. Returns 1 when
 * the exchange was handed on or answered. */
static int over_window(exchange *ex, backend_rt *b, long est)
{
    long w = b->cfg->context_window;
    if (w <= 0 || est <= w) return 0;
    char msg[200];
    snprintf(msg, sizeof msg, "prompt is too long: %ld tokens > %ld maximum", est, w);
    log_line(1, "request %s: about %ld prompt tokens do not fit %s's %ld-token window", ex->msg_id,
             est, b->cfg->name, w);
    if (try_next(ex, msg)) return 1;
    exchange_error(ex, "invalid_request_error", msg);
    return 1;
}

static void start_passthru(exchange *ex, backend_rt *b, const route_target *t)
{
    if (ex->facts.est_tokens > 0 && over_window(ex, b, ex->facts.est_tokens)) return;
    ex->cur.pt = b->cfg->mode->passthru;
    upstream_cbs cbs = {up_connected, up_headers, up_header, up_data, up_done};
    relay_start(ex, t, &cbs);
}

/* The backend tokenizer's count (llama_tok.h), asked alongside the real
 * request: it is back in milliseconds, well before the first token of a
 * prefill, and message_start then carries the exact count. Failure leaves
 * the calibrated estimate. */
static void tok_done(void *ud, long n, const char *failed)
{
    exchange *ex = ud;
    ex->cur.tok = NULL;
    if (n >= 0) {
        ex->cur.exact_prompt = n;
        log_line(2, "prompt %s: %ld tokens by the backend's tokenizer (estimate %ld)", ex->msg_id,
                 ex->cur.exact_prompt, ex->cur.info.input_estimate);
    }
    if (ex->cur.commit_pending) commit(ex); /* no count coming, or it came */
}

static void start_openai(exchange *ex, backend_rt *b, const route_target *t)
{
    server *s = ex->srv;
    char aff[OUTHDRS_AFFINITY_LEN];
    int have_aff =
        b->cfg->affinity_field[0] && outhdrs_affinity_value(ex->req, aff, sizeof aff) == 0;
    xlate_request_opts o = {
        .model = backend_model(b, t->model),
        .tools_cache = s->tools,
        .max_tokens_cap = s->cfg->max_tokens,
        .cache_prompt = b->cfg->mode->cache_prompt,
        .use_id_slot = b->use_slots,
        .affinity_field = have_aff ? b->cfg->affinity_field : NULL,
        .affinity_value = have_aff ? aff : NULL,
        .text_only = route_backend_text_only(b->cfg),
    };
    char err[1024];
    /* parsed once: for routing, and here */
    xlate_parsed pb = {ex->root, ex->root_end, ex->tools_text, ex->tools_text_len};
    int rc = xlate_request_build_parsed(ex->root ? &pb : NULL, ex->body, ex->body_len, &o,
                                        &ex->cur.upbody, &ex->cur.info, err, sizeof err);
    if (rc == XLATE_EINVALID) {
        exchange_error(ex, "invalid_request_error", err);
        return;
    }
    if (rc < 0) {
        exchange_error(ex, rc == XLATE_ETOOBIG ? "request_too_large" : "api_error",
                       rc == XLATE_ETOOBIG ? "request too large to translate" : "out of memory");
        return;
    }
    ex->stream = ex->cur.info.stream;
    if (b->est_ratio > 0) {
        double e = (double)ex->cur.info.input_estimate * b->est_ratio;
        ex->cur.info.input_estimate = e < 1 ? 1 : (long)e;
    }
    if (over_window(ex, b, ex->cur.info.input_estimate)) return;
    if (b->use_slots && ex->cur.info.id_slot_off) {
        uint64_t key = conversation_key(ex->req, ex->cur.info.kind_hash, ex->cur.info.first_hash);
        ex->cur.slot = backend_pin_slot(b, key, &ex->cur.upbody, &ex->cur.info,
                                        httpd_req_header(ex->req, "x-claude-code-agent-id") != NULL,
                                        &ex->cur.slot_reuse, &ex->cur.warm_hit);
        ex->cur.slot_key = key;
    }
    if (ex->cur.info.tools) backend_warm_save(b, ex->body, ex->body_len, ex->cur.info.kind_hash);
    if (log_level() >= 3)
        log_trace_write(ex->trace, "upstream request", ex->cur.upbody.data, ex->cur.upbody.len);
    memset(&ex->cur.xopts, 0, sizeof ex->cur.xopts);
    ex->cur.xopts.model = ex->cur.info.model;
    ex->cur.xopts.msg_id = ex->msg_id;
    ex->cur.xopts.input_estimate = ex->cur.info.input_estimate;
    ex->cur.xopts.tools = ex->cur.info.tools;
    ex->cur.xopts.max_line = EXCHANGE_MAX_SSE_LINE;
    ex->cur.xopts.max_tool_args = EXCHANGE_MAX_SSE_LINE;
    ex->cur.xopts.tool_recovery =
        s->cfg->tool_recovery >= 0 ? s->cfg->tool_recovery : b->cfg->mode->local;
    if (ex->stream) {
        ex->cur.xs = xlate_stream_new(&ex->cur.xopts);
        if (!ex->grace) ex->grace = evtimer_new(s->base, grace_cb, ex);
        if (!ex->ping) ex->ping = evtimer_new(s->base, ping_cb, ex);
        if (!ex->cur.xs || !ex->grace || !ex->ping) {
            exchange_error(ex, "api_error", "out of memory");
            return;
        }
    }
    if (log_level() >= 2)
        log_line(2,
                 "request %s: backend=%s model=%s stream=%d tools=%d est_tokens=%ld "
                 "client_bytes=%zu upstream_bytes=%zu session=%s agent=%s",
                 ex->msg_id, b->cfg->name, ex->cur.info.model, ex->stream,
                 ex->cur.info.tools ? cJSON_GetArraySize(ex->cur.info.tools) : 0,
                 ex->cur.info.input_estimate, ex->body_len, ex->cur.upbody.len,
                 httpd_req_header(ex->req, "X-Claude-Code-Session-Id") ? "yes" : "no",
                 httpd_req_header(ex->req, "x-claude-code-agent-id") ? "yes" : "no");
    route_backend_url(b->cfg, "chat", ex->cur.url, sizeof ex->cur.url);
    outhdrs ph; /* only the affinity header, if any */
    upstream_opts uo = {
        .method = "POST",
        .url = ex->cur.url,
        .body = ex->cur.upbody.data,
        .body_len = ex->cur.upbody.len,
        .bearer = backend_key(b),
        .ca_file = backend_ca(b),
        .sse = ex->stream,
        .total_timeout_ms = ex->stream ? 0 : s->cfg->request_timeout_s * 1000,
        .headers = outhdrs_build(s->cfg, b, ex->req, &ph),
        .via = httpd_req_header(ex->req, VIA_HEADER),
    };
    upstream_cbs cbs = {up_connected, up_headers, up_header, up_data, up_done};
    ex->cur.up = upstream_start(s->up, &uo, &cbs, ex);
    outhdrs_free(&ph);
    if (!ex->cur.up) {
        exchange_error(ex, "api_error", "could not start the backend request");
        return;
    }
    if (ex->stream && b->cfg->mode->cache_prompt)
        ex->cur.tok =
            llama_tok_start(s->up, b, ex->cur.upbody.data, ex->cur.upbody.len, NULL, tok_done, ex);
}

static void hold_cb(evutil_socket_t fd, short what, void *arg)
{
    start_attempt(arg);
}

/* A backend with one prompt cache and no slots (mlx-lm, LM Studio) that is
 * prefilling the warm-start prefix: a request sent now would run a second,
 * cold prefill beside it (mlx_lm.server batches it in, finding nothing in
 * its cache yet) and slow both; held until the warm start ends, it finds
 * that prefix cached and prefills only the rest. Checked every 50 ms. */
static int hold_for_warm_start(exchange *ex, backend_rt *b)
{
    if (b->use_slots || !backend_warming(b)) return 0;
    if (!ex->hold) {
        if (!(ex->hold = evtimer_new(ex->srv->base, hold_cb, ex))) return 0;
        log_line(1, "holding a request until the warm start on %s ends", b->cfg->name);
    }
    struct timeval tv = {0, 50000};
    evtimer_add(ex->hold, &tv);
    return 1;
}

static void start_attempt(exchange *ex)
{
    const route_target *t = ex->plan.tg[ex->attempt];
    backend_rt *b = &ex->srv->bs.b[t->backend];
    if (hold_for_warm_start(ex, b)) return;
    backend_warm_stop(b);
    ex->cur.bk = b;
    ex->cur.sent_model = backend_model(b, t->model);
    b->inflight++;
    b->requests++;
    if (b->cfg->mode->passthru)
        start_passthru(ex, b, t);
    else
        start_openai(ex, b, t);
}

/* ---- routing ------------------------------------------------------------------- */

/* A request whose only tools are server tools (Claude Code's WebSearch side
 * request) bound for a backend that cannot run them: answer it here, with
 * the tool's error result and how to enable it (servertools.h), rather
 * than let a local model pretend it searched. Returns 1 when answered (the
 * exchange is then freed). */
static int answer_server_tools(exchange *ex)
{
    server *s = ex->srv;
    const backend_rt *b = &s->bs.b[ex->plan.tg[0]->backend];
    servertools_info si;
    if (b->cfg->mode->passthru == MODE_CLAUDE) return 0;
    servertools_scan(ex->root, &si);
    if (!si.server || si.client) return 0;
    buf out;
    buf_init(&out, 0);
    if (servertools_answer(&si, ex->msg_id, ex->facts.model, b->cfg->name, ex->stream, &out)) {
        buf_free(&out);
        exchange_error(ex, "api_error", "out of memory");
        return 1;
    }
    log_line(1,
             "request %s: server tool %s (%s) cannot run on backend %s: answered by anyclaude "
             "with how to enable it (a \"serverTools\" route to a claude backend)",
             ex->msg_id, si.first, si.type, b->cfg->name);
    s->m.responses_ok++;
    if (!ex->stream) {
        exchange_reply(ex, 200, out.data, out.len);
        buf_free(&out);
        return 1;
    }
    if (ex->req) {
        exchange_add_headers(ex);
        httpd_add_header(ex->req, "anyclaude-backend", "anyclaude");
        httpd_add_header(ex->req, "Cache-Control", "no-cache");
        httpd_reply_start(ex->req, 200, "text/event-stream; charset=utf-8");
        httpd_reply_chunk(ex->req, out.data, out.len);
        httpd_reply_end(ex->req);
        ex->req = NULL;
    }
    buf_free(&out);
    exchange_free(ex);
    return 1;
}

void messages_handle(server *s, httpd_req *req)
{
    if (s->active >= s->cfg->max_streams) {
        char m[200];
        snprintf(m, sizeof m, "anyclaude is at its limit of %d concurrent requests; retry shortly",
                 s->cfg->max_streams);
        exchange_error_req(req, "overloaded_error", m);
        return;
    }
    exchange *ex = exchange_new(s, req, EXCHANGE_MESSAGES);
    if (!ex) {
        exchange_error_req(req, "api_error", "out of memory");
        return;
    }
    ex->body = httpd_req_body(req, &ex->body_len);
    if (!ex->body) ex->body = "";
    s->m.requests_messages++;
    make_id(ex->msg_id, sizeof ex->msg_id, "msg_");
    const routes *rs = &s->cfg->routing;
    const route *r = plan_route(rs, NULL, 0, NULL);
    /* a server tool (web search...) decides where a request can go, even
     * when nothing else needs the parsed body */
    if (s->need_root || servertools_maybe(ex->body, ex->body_len)) {
        const char *end = NULL;
        /* tools as parsed from the same text before: Claude Code sends the
         * same ones every turn */
        int reused = 0;
        ex->root =
            jparse_member_reuse(ex->body, ex->body_len, &end, "tools", &ex->tools_text,
                                &ex->tools_text_len, xlate_tools_cache_find, s->tools, &reused);
        if (reused) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(ex->root, "tools");
            ex->tools_entry = xlate_tools_cache_hold(s->tools, t ? t->child : NULL);
            if (ex->tools_entry < 0) { /* cannot happen: parse it whole */
                cJSON_Delete(ex->root);
                ex->root = jparse_member(ex->body, ex->body_len, &end, "tools", &ex->tools_text,
                                         &ex->tools_text_len);
            }
        }
        ex->root_end = end;
        if (!cJSON_IsObject(ex->root)) {
            char m[200];
            size_t at = ex->root || !end ? 0 : (size_t)(end - ex->body);
            snprintf(m, sizeof m, "request body is not a JSON object%s (at byte %zu)",
                     ex->root ? "" : ": malformed JSON", at);
            exchange_error(ex, "invalid_request_error", m);
            return;
        }
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(ex->root, "stream");
        ex->stream = cJSON_IsTrue(st);
        r = plan_route(rs, ex->root, httpd_req_header(req, "x-claude-code-agent-id") != NULL,
                       &ex->facts);
        if (ex->facts.model) {
            snprintf(ex->client_model, sizeof ex->client_model, "%s", ex->facts.model);
            ex->facts.model = ex->client_model;
        }
        if (plan_key_init(&ex->key, r, ex->root) < 0) {
            exchange_error(ex, "api_error", "out of memory");
            return;
        }
    }
    plan_targets(&ex->plan, &s->bs, r, &ex->key);
    if (ex->facts.server_tools && answer_server_tools(ex)) return;
    if (rs->configured && log_level() >= 2)
        log_line(2,
                 "request %s: route %s (model=%s thinking=%d subagent=%d est_tokens=%ld) -> %s%s%s",
                 ex->msg_id, routes_when_name(r->when), ex->facts.model ? ex->facts.model : "",
                 ex->facts.thinking, ex->facts.subagent, ex->facts.est_tokens,
                 s->bs.b[ex->plan.tg[0]->backend].cfg->name, r->npool > 1 ? ", " : "",
                 r->npool > 1 ? plan_reason_name(ex->plan.why) : "");
    if (log_level() >= 3) {
        ex->trace = log_trace_open(s->cfg->trace_dir, ex->msg_id);
        log_trace_write(ex->trace, "client request", ex->body, ex->body_len);
    }
    start_attempt(ex);
}
