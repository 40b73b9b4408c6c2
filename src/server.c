/*
 * server: the HTTP routes and the life of one exchange (see server.h).
 *
 * An exchange for POST /v1/messages goes through:
 *   translate ─▶ upstream started ─▶ (connected) ─▶ committed ─▶ streaming ─▶ finished
 * "Committed" means the client got 200 and message_start. It happens when the
 * backend answers 2xx, or when the backend is connected but silent for a
 * short grace period (a cold prefill can take a minute; llama.cpp sends no
 * headers until its first token). Before commit every failure is an HTTP
 * error status; after it, an `event: error`. While committed and the backend
 * is silent, a ping goes out every ping_ms.
 *
 * Lifetimes: httpd owns the request; we own the exchange. The exchange is
 * freed exactly once: when its reply is complete, or when the client's
 * connection closes (httpd then frees the request itself). The upstream
 * request is cancelled in both cases.
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
#include <time.h>

#include "affinity.h"
#include "anthropic.h"
#include "buf.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "upstream.h"
#include "version.h"
#include "xlate_request.h"
#include "xlate_stream.h"

#define GRACE_MS 1000                        /* silent backend: commit after this */
#define TOK_WAIT_MS 250 /* how long message_start may wait for the tokenizer's count */
#define MAX_UPSTREAM_BODY (64u * 1024 * 1024) /* non-streamed answer / error body */
#define MAX_CLIENT_BACKLOG (64u * 1024 * 1024)
#define MAX_SSE_LINE (16u * 1024 * 1024)

struct server {
    struct event_base *base;
    const config *cfg;
    httpd *http;
    upstream *up;
    int port;
    int active;
    struct exchange *exchanges; /* all live exchanges, for server_free */
    metrics m;
    affinity aff;
    int use_slots;           /* send id_slot (llamacpp with slots known) */
    double est_ratio;        /* calibration: real prompt tokens / estimate */
    uint64_t saved_kind;     /* kind of the prefix last saved for warm start */
    int warm_slot;           /* slot prefilled at start, -1 none */
    uint64_t warm_kind;
    upstream_req *probe;     /* /props, /models or warm-start request in flight */
    char auto_model[256];    /* openai mode without --model: the backend's first model */
    struct probe *probe_ctx;
};

enum ex_kind { EX_MESSAGES, EX_MODELS, EX_HEALTH, EX_COUNT };

typedef struct exchange {
    server *srv;
    enum ex_kind kind;
    httpd_req *req;
    upstream_req *up;
    buf upbody;  /* translated request; must outlive the transfer */
    buf resp;    /* non-streamed body or error body from the backend */
    buf out;     /* pending bytes for the client */
    xlate_request_info info;
    xlate_stream *xs;
    xlate_stream_opts xopts;
    struct event *grace;
    struct event *ping;
    long up_status;
    int stream;
    int committed;
    int connected;
    int slot;         /* llama.cpp slot used, -1 none */
    int slot_reuse;   /* affinity: 0 new, 1 same conversation, 2 same kind */
    int warm_hit;     /* first use of the warm-started slot */
    int count_step;   /* count_tokens: 1 apply-template, 2 tokenize */
    upstream_req *tok;    /* messages: the backend tokenizer counting this prompt */
    buf tok_req;          /* its request body (curl reads it while sending) */
    buf tok_resp;         /* its answer */
    int tok_step;         /* 1 apply-template, 2 tokenize */
    long exact_prompt;    /* the backend tokenizer's count, 0 unknown */
    int commit_pending;   /* 2xx seen; waiting (briefly) for exact_prompt */
    char msg_id[40];
    char url[600];
    size_t bytes_out; /* sent to the client */
    log_trace *trace;
    double t_start, t_first;
    struct exchange *next, *prev;
} exchange;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void make_id(char *dst, size_t n, const char *prefix)
{
    unsigned char r[12];
    arc4random_buf(r, sizeof r);
    size_t k = (size_t)snprintf(dst, n, "%s", prefix);
    for (size_t i = 0; i < sizeof r && k + 2 < n; i++) k += (size_t)snprintf(dst + k, n - k, "%02x", r[i]);
}

/* ---- exchange lifetime ---------------------------------------------------- */

static void client_closed(httpd_req *r, void *arg);

static void exchange_free(exchange *ex)
{
    server *s = ex->srv;
    if (ex->req) httpd_req_on_close(ex->req, NULL, NULL);
    upstream_cancel(ex->up);
    upstream_cancel(ex->tok);
    buf_free(&ex->tok_req);
    buf_free(&ex->tok_resp);
    log_trace_close(ex->trace);
    if (ex->grace) event_free(ex->grace);
    if (ex->ping) event_free(ex->ping);
    xlate_stream_free(ex->xs);
    xlate_request_info_free(&ex->info);
    buf_free(&ex->upbody);
    buf_free(&ex->resp);
    buf_free(&ex->out);
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

static exchange *exchange_new(server *s, httpd_req *req, enum ex_kind kind)
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
    ex->t_start = now_ms();
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
             now_ms() - ex->t_start);
    ex->srv->m.client_disconnects++;
    ex->req = NULL;
    exchange_free(ex);
}

/* ---- replies ------------------------------------------------------------- */

static void add_common_headers(exchange *ex)
{
    if (ex->msg_id[0]) httpd_add_header(ex->req, "request-id", ex->msg_id);
}

/* Send a complete (non-streamed) reply and free the exchange. */
static void reply_whole(exchange *ex, int status, const char *body, size_t len)
{
    log_trace_write(ex->trace, "reply to client", body, len);
    if (ex->req) {
        add_common_headers(ex);
        httpd_reply(ex->req, status, "application/json", body, len);
        ex->req = NULL;
    }
    exchange_free(ex);
}

static void reply_error(exchange *ex, const char *type, const char *msg)
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
static void send_error_req(httpd_req *req, const char *type, const char *msg)
{
    buf b;
    buf_init(&b, 0);
    anthropic_error_json(&b, type, msg);
    log_line(1, "error %d %s: %s", anthropic_error_status(type), type, msg);
    httpd_reply(req, anthropic_error_status(type), "application/json", b.data ? b.data : "", b.len);
    buf_free(&b);
}

/* Write pending stream output to the client. Returns -1 when the client is
 * not keeping up (backlog past the limit). */
static int flush_out(exchange *ex)
{
    if (!ex->req || ex->out.len == 0) return 0;
    log_redact_secrets(ex->out.data, ex->out.len);
    log_trace_write(ex->trace, "to client", ex->out.data, ex->out.len);
    ex->bytes_out += ex->out.len;
    size_t queued = httpd_reply_chunk(ex->req, ex->out.data, ex->out.len);
    buf_reset(&ex->out);
    return queued > MAX_CLIENT_BACKLOG ? -1 : 0;
}

/* Account for a finished /v1/messages exchange: metrics, the estimate's
 * calibration, and the per-request log line (debug level 1). */
static void finish_accounting(exchange *ex, const xlate_stream_stats *st)
{
    server *s = ex->srv;
    double now = now_ms();
    long prompt = st->input_tokens + st->cached_tokens;
    int ok = st->stop_reason != NULL;
    if (ok) s->m.responses_ok++;
    else s->m.responses_error++;
    if (st->usage_known) {
        s->m.tokens_in += (unsigned long long)st->input_tokens;
        s->m.tokens_cached += (unsigned long long)st->cached_tokens;
        /* calibrate the estimate against the backend's tokenizer */
        if (ex->info.input_estimate > 0 && prompt > 0) {
            double r = (double)prompt / (double)ex->info.input_estimate;
            if (r > 0.2 && r < 5) s->est_ratio = 0.7 * s->est_ratio + 0.3 * r;
        }
    }
    s->m.tokens_out += (unsigned long long)st->output_tokens;
    if (ex->t_first > 0) metrics_observe(&s->m.ttft, (ex->t_first - ex->t_start) / 1000.0);
    metrics_observe(&s->m.upstream, (now - ex->t_start) / 1000.0);
    if (log_level() < 1) return;
    if (log_level() >= 2)
        log_line(2, "response %s: stop=%s output_tokens=%ld bytes_to_client=%zu", ex->msg_id,
                 st->stop_reason ? st->stop_reason : "error", st->output_tokens, ex->bytes_out);
    double gen_s = ex->t_first > 0 ? (now - ex->t_first) / 1000.0 : 0;
    char slot[64] = "";
    if (ex->slot >= 0)
        snprintf(slot, sizeof slot, " slot=%d%s%s", ex->slot,
                 ex->slot_reuse == 1 ? "" : ex->slot_reuse == 2 ? "(took same-prefix slot)" : "(new)",
                 ex->warm_hit ? " warm-start-hit" : "");
    char prefill[48] = "";
    if (st->prefill_ms >= 0) snprintf(prefill, sizeof prefill, " prefill=%.0fms", st->prefill_ms);
    if (st->tool_recovered || st->tool_repairs || st->tool_failures)
        log_line(1, "tool calls: %d recovered from text, %d arguments repaired, %d unrepairable "
                    "(passed on as text)",
                 st->tool_recovered, st->tool_repairs, st->tool_failures);
    log_line(1,
             "%s model=%s stream=%d prompt=%ld%s cached=%ld (%.1f%%)%s ttft=%.0fms total=%.0fms "
             "out=%ld tok/s=%.1f stop=%s%s",
             s->cfg->mode->name, ex->info.model, ex->stream, prompt,
             st->usage_known ? "" : "(est)", st->cached_tokens,
             prompt > 0 ? 100.0 * (double)st->cached_tokens / (double)prompt : 0.0, prefill,
             ex->t_first > 0 ? ex->t_first - ex->t_start : -1.0, now - ex->t_start,
             st->output_tokens, gen_s > 0 ? (double)st->output_tokens / gen_s : 0.0,
             st->stop_reason ? st->stop_reason : "error", slot);
}

/* Finish a committed stream and free the exchange. */
static void stream_end(exchange *ex)
{
    flush_out(ex);
    xlate_stream_stats st;
    memset(&st, 0, sizeof st);
    st.prefill_ms = -1;
    if (ex->xs) xlate_stream_get_stats(ex->xs, &st);
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
             (unsigned)(MAX_CLIENT_BACKLOG >> 20));
    if (ex->req) {
        httpd_abort(ex->req);
        ex->req = NULL;
    }
    exchange_free(ex);
}

static void ping_cb(evutil_socket_t fd, short what, void *arg)
{
    exchange *ex = arg;
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

/* Start the client's stream: 200, SSE headers, message_start. */
static void commit(exchange *ex)
{
    if (ex->committed || !ex->req) return;
    ex->committed = 1;
    if (ex->grace) evtimer_del(ex->grace);
    add_common_headers(ex);
    httpd_add_header(ex->req, "Cache-Control", "no-cache");
    httpd_reply_start(ex->req, 200, "text/event-stream; charset=utf-8");
    if (ex->exact_prompt > 0) xlate_stream_set_estimate(ex->xs, ex->exact_prompt);
    xlate_stream_begin(ex->xs, &ex->out);
    flush_out(ex);
    arm_ping(ex);
}

static void grace_cb(evutil_socket_t fd, short what, void *arg)
{
    commit(arg);
}

/* The backend said 2xx: commit, but give the tokenizer (asked alongside the
 * request) up to TOK_WAIT_MS to return, so message_start carries the exact
 * count. Data from the backend commits at once whatever happens. */
static void want_commit(exchange *ex)
{
    if (ex->committed) return;
    double left = TOK_WAIT_MS - (now_ms() - ex->t_start);
    if (ex->tok && left > 1) {
        ex->commit_pending = 1;
        struct timeval tv = {0, (long)(left * 1000)};
        evtimer_add(ex->grace, &tv);
        return;
    }
    commit(ex);
}

/* ---- upstream callbacks for /v1/messages ---------------------------------- */

static void up_connected(void *ud)
{
    exchange *ex = ud;
    ex->connected = 1;
    if (ex->stream && !ex->committed) {
        struct timeval tv = {GRACE_MS / 1000, (GRACE_MS % 1000) * 1000};
        evtimer_add(ex->grace, &tv);
    }
}

static int up_headers(void *ud, long status)
{
    exchange *ex = ud;
    ex->up_status = status;
    if (ex->stream && status >= 200 && status < 300) want_commit(ex);
    return 0;
}

static int up_data(void *ud, const char *p, size_t n)
{
    exchange *ex = ud;
    log_trace_write(ex->trace, "from backend", p, n);
    if (!(ex->up_status >= 200 && ex->up_status < 300) || !ex->stream) {
        if (buf_append(&ex->resp, p, n) != BUF_OK) {
            /* too big: keep what we have (it is an error body or an answer
             * we will refuse anyway) and stop reading */
            return 1;
        }
        return 0;
    }
    if (ex->t_first == 0) ex->t_first = now_ms();
    commit(ex);
    int rc = xlate_stream_feed(ex->xs, p, n, &ex->out);
    arm_ping(ex);
    if (flush_out(ex) < 0) {
        ex->up = NULL; /* returning 1 aborts the transfer without callbacks */
        abort_client(ex);
        return 1;
    }
    if (rc < 0 || xlate_stream_over(ex->xs)) {
        /* the translator ended the stream (error event or done): finish now.
         * After an error the transfer is aborted; after a normal end the
         * rest ([DONE]) is drained so the backend connection is reused. No
         * callback reaches this exchange either way. */
        ex->up = NULL;
        stream_end(ex);
        return rc < 0 ? 1 : 2;
    }
    return 0;
}

/* Turn a failed upstream answer into the client's error (status before
 * commit, `event: error` after). */
static void fail_exchange(exchange *ex, const char *type, const char *msg)
{
    if (ex->committed) {
        log_line(1, "stream error %s: %s", type, msg);
        metrics_error(&ex->srv->m, type);
        xlate_stream_fail(ex->xs, type, msg, &ex->out);
        stream_end(ex);
    } else {
        reply_error(ex, type, msg);
    }
}

static void up_done(void *ud, int ok, int refused, long status, const char *err)
{
    exchange *ex = ud;
    ex->up = NULL;
    char msg[1400];
    if (!ok && (status == 0 || refused)) {
        if (refused || !ex->connected) {
            snprintf(msg, sizeof msg,
                     "backend %s is not reachable (%s). Is the model server running? "
                     "Start it, or point anyclaude at it with --backend URL.",
                     ex->srv->cfg->backend, err);
            fail_exchange(ex, "overloaded_error", msg);
        } else {
            snprintf(msg, sizeof msg, "backend %s failed: %s", ex->srv->cfg->backend, err);
            fail_exchange(ex, "api_error", msg);
        }
        return;
    }
    if (status < 200 || status >= 300) {
        int st;
        const char *type;
        anthropic_error_from_backend(status, ex->resp.data ? ex->resp.data : "", ex->resp.len, &st,
                                     &type, msg, sizeof msg);
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
        xlate_stream_end(ex->xs, &ex->out);
        stream_end(ex);
        return;
    }
    buf out;
    buf_init(&out, 0);
    xlate_stream_stats st;
    memset(&st, 0, sizeof st);
    st.prefill_ms = -1;
    char err2[512];
    ex->t_first = now_ms();
    if (xlate_response_build(ex->resp.data ? ex->resp.data : "", ex->resp.len, &ex->xopts, &out, &st,
                             err2, sizeof err2) < 0) {
        snprintf(msg, sizeof msg, "backend answer could not be translated: %s", err2);
        buf_free(&out);
        reply_error(ex, "api_error", msg);
        return;
    }
    finish_accounting(ex, &st);
    reply_whole(ex, 200, out.data ? out.data : "", out.len);
    buf_free(&out);
}

/* ---- routes ---------------------------------------------------------------- */

static int body_of(httpd_req *req, const char **p, size_t *n)
{
    *p = httpd_req_body(req, n);
    return 0;
}

/* Constant-time comparison (the time does not depend on where they differ). */
static int token_equal(const char *tok, const char *k)
{
    if (!k) return 0;
    size_t lt = strlen(tok), lk = strlen(k);
    unsigned char diff = (unsigned char)(lt != lk);
    for (size_t i = 0; i < lt; i++) diff |= (unsigned char)(tok[i] ^ (i < lk ? k[i] : 0));
    return diff == 0;
}

static int authorized(server *s, httpd_req *req)
{
    const char *tok = s->cfg->auth_token;
    if (!tok[0]) return 1;
    const char *k = httpd_req_header(req, "x-api-key");
    const char *a = httpd_req_header(req, "Authorization");
    const char *b = a && strncmp(a, "Bearer ", 7) == 0 ? a + 7 : NULL;
    return token_equal(tok, k) | token_equal(tok, b);
}

/* The model name sent upstream: --model, else (openai mode) the backend's
 * first listed model, else none. */
static const char *upstream_model(const server *s)
{
    if (s->cfg->model[0]) return s->cfg->model;
    return s->auto_model[0] ? s->auto_model : NULL;
}

/* ---- prefix cache: slot affinity and warm start ---------------------------- */

/* The conversation a request belongs to: Claude Code's session and agent
 * ids with the kind of prompt (system + tools), else the first turn. */
static uint64_t conversation_key(httpd_req *req, const xlate_request_info *info)
{
    const char *sid = httpd_req_header(req, "X-Claude-Code-Session-Id");
    const char *aid = httpd_req_header(req, "x-claude-code-agent-id");
    if (!sid) return info->first_hash;
    uint64_t h = affinity_hash(AFFINITY_HASH_INIT, sid, strlen(sid));
    h = affinity_hash(h, "\n", 1);
    if (aid) h = affinity_hash(h, aid, strlen(aid));
    return affinity_hash(h, &info->kind_hash, sizeof info->kind_hash);
}

/* Write slot (0..99) into the two characters xlate_request reserved. */
static void write_slot(char *at, int slot)
{
    unsigned v = slot < 0 ? 0u : slot > 99 ? 99u : (unsigned)slot;
    at[0] = v >= 10 ? (char)('0' + v / 10) : ' ';
    at[1] = (char)('0' + v % 10);
}

/* Choose the llama.cpp slot and write it into the translated request. */
static void pin_slot(server *s, exchange *ex, httpd_req *req)
{
    uint64_t key = conversation_key(req, &ex->info);
    ex->slot = affinity_slot(&s->aff, key, ex->info.kind_hash, &ex->slot_reuse);
    if (ex->slot < 0) return;
    write_slot(ex->upbody.data + ex->info.id_slot_off, ex->slot);
    if (ex->slot == s->warm_slot && ex->info.kind_hash == s->warm_kind) {
        ex->warm_hit = 1;
        s->warm_slot = -1;
    }
}

static void warm_path(const server *s, char *out, size_t n)
{
    uint64_t h = affinity_hash(AFFINITY_HASH_INIT, s->cfg->mode->name, strlen(s->cfg->mode->name));
    h = affinity_hash(h, s->cfg->backend, strlen(s->cfg->backend));
    h = affinity_hash(h, s->cfg->model, strlen(s->cfg->model));
    snprintf(out, n, "%s/warm-%016llx.json", s->cfg->state_dir, (unsigned long long)h);
}

/* Remember the system prompt and tools of the newest conversation with
 * tools, so the next start can prefill them (warm start). Written only when
 * they change. */
static void warm_save(server *s, const char *body, size_t len, const xlate_request_info *info)
{
    if (!s->cfg->warm || !s->cfg->state_dir[0] || info->kind_hash == s->saved_kind) return;
    s->saved_kind = info->kind_hash;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) return;
    cJSON *w = cJSON_CreateObject();
    cJSON_AddStringToObject(w, "model", "anyclaude-warm-start");
    cJSON_AddNumberToObject(w, "max_tokens", 1);
    cJSON *sys = cJSON_DetachItemFromObjectCaseSensitive(root, "system");
    if (sys) cJSON_AddItemToObject(w, "system", sys);
    cJSON *tools = cJSON_DetachItemFromObjectCaseSensitive(root, "tools");
    if (tools) cJSON_AddItemToObject(w, "tools", tools);
    cJSON *msgs = cJSON_AddArrayToObject(w, "messages");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", "hi");
    cJSON_AddItemToArray(msgs, m);
    char *txt = cJSON_PrintUnformatted(w);
    cJSON_Delete(w);
    cJSON_Delete(root);
    if (!txt) return;
    char path[700], tmp[720];
    warm_path(s, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f) {
        int ok = fputs(txt, f) >= 0;
        if (fclose(f) == 0 && ok && rename(tmp, path) == 0)
            log_line(2, "warm start: saved the prompt prefix to %s", path);
        else
            remove(tmp);
    }
    cJSON_free(txt);
}

typedef struct probe {
    server *s;
    buf body;
    buf req;
    long status;
    int kind; /* 0 /props, 1 warm start, 2 /models */
    double t0;
    int slot;
} probe;

static void probe_free(probe *p)
{
    if (!p) return;
    buf_free(&p->body);
    buf_free(&p->req);
    free(p);
}

static int probe_headers(void *ud, long status)
{
    ((probe *)ud)->status = status;
    return 0;
}

static int probe_data(void *ud, const char *d, size_t n)
{
    return buf_append(&((probe *)ud)->body, d, n) == BUF_OK ? 0 : 1;
}

static void warm_start(server *s);

static void probe_done(void *ud, int ok, int refused, long status, const char *err)
{
    probe *p = ud;
    server *s = p->s;
    s->probe = NULL;
    s->probe_ctx = NULL;
    cJSON *j = ok && status == 200 ? cJSON_ParseWithLength(p->body.data ? p->body.data : "", p->body.len) : NULL;
    if (p->kind == 2) {
        const cJSON *data = j ? cJSON_GetObjectItemCaseSensitive(j, "data") : NULL;
        const cJSON *first = cJSON_IsArray(data) ? cJSON_GetArrayItem(data, 0) : NULL;
        const cJSON *id = first ? cJSON_GetObjectItemCaseSensitive(first, "id") : NULL;
        if (cJSON_IsString(id) && strlen(id->valuestring) < sizeof s->auto_model) {
            snprintf(s->auto_model, sizeof s->auto_model, "%s", id->valuestring);
            log_line(0, "no --model given: using %s, the first model %s/models lists", s->auto_model,
                     s->cfg->backend);
        } else {
            log_line(0, "no --model given and %s/models did not list one (%s); requests go without "
                        "a model name",
                     s->cfg->backend, ok ? "no model list" : err);
        }
        cJSON_Delete(j);
        probe_free(p);
        warm_start(s);
        return;
    }
    if (p->kind == 0) {
        const cJSON *n = j ? cJSON_GetObjectItemCaseSensitive(j, "total_slots") : NULL;
        if (cJSON_IsNumber(n) && n->valuedouble >= 1) {
            affinity_init(&s->aff, (int)n->valuedouble);
            s->use_slots = 1;
            log_line(1, "llama.cpp has %d slots: each conversation keeps its own (id_slot)",
                     s->aff.nslots);
        } else {
            log_line(1, "slot affinity off: %s/props did not say how many slots there are",
                     s->cfg->backend);
        }
        cJSON_Delete(j);
        probe_free(p);
        warm_start(s);
        return;
    }
    /* warm start finished */
    const cJSON *u = j ? cJSON_GetObjectItemCaseSensitive(j, "usage") : NULL;
    const cJSON *pt = u ? cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens") : NULL;
    const cJSON *d = u ? cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens_details") : NULL;
    const cJSON *ct = d ? cJSON_GetObjectItemCaseSensitive(d, "cached_tokens") : NULL;
    if (j && cJSON_IsNumber(pt)) {
        s->m.warm_starts++;
        char slot[32] = "";
        if (p->slot >= 0) snprintf(slot, sizeof slot, " into slot %d", p->slot);
        log_line(0, "warm start: prefilled the last session's system prompt and tools (%.0f tokens, "
                    "%.0f already cached) in %.0f ms%s",
                 pt->valuedouble, cJSON_IsNumber(ct) ? ct->valuedouble : 0.0, now_ms() - p->t0, slot);
    } else {
        s->warm_slot = -1;
        log_line(1, "warm start failed (HTTP %ld%s%s); the first request will prefill from cold",
                 status, err && *err ? ": " : "", err ? err : "");
    }
    cJSON_Delete(j);
    probe_free(p);
}

static void probe_start(server *s, probe *p, const char *method, const char *url)
{
    upstream_opts o = {
        .method = method,
        .url = url,
        .body = p->req.data,
        .body_len = p->req.len,
        .bearer = s->cfg->api_key[0] ? s->cfg->api_key : NULL,
        .connect_timeout_ms = 3000,
        .total_timeout_ms = p->kind == 1 ? 600000 : 5000,
    };
    upstream_cbs cbs = {NULL, probe_headers, probe_data, probe_done};
    p->t0 = now_ms();
    s->probe_ctx = p;
    s->probe = upstream_start(s->up, &o, &cbs, p);
    if (!s->probe) {
        s->probe_ctx = NULL;
        probe_free(p);
    }
}

/* Prefill the saved prefix on the backend, once, at start. */
static void warm_start(server *s)
{
    if (!s->cfg->warm || !s->cfg->state_dir[0]) return;
    char path[700];
    warm_path(s, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) return;
    buf in;
    buf_init(&in, 16u << 20);
    char chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(&in, chunk, r) != BUF_OK) break;
    fclose(f);
    probe *p = calloc(1, sizeof *p);
    if (!p) {
        buf_free(&in);
        return;
    }
    p->s = s;
    p->kind = 1;
    p->slot = -1;
    buf_init(&p->body, 1u << 20);
    buf_init(&p->req, 64u << 20);
    xlate_request_opts o = {
        .model = upstream_model(s),
        .max_tokens_cap = s->cfg->max_tokens,
        .cache_prompt = s->cfg->mode->cache_prompt,
        .use_id_slot = s->use_slots,
    };
    xlate_request_info info;
    char err[256];
    if (xlate_request_build(in.data ? in.data : "", in.len, &o, &p->req, &info, err, sizeof err) < 0) {
        log_line(1, "warm start: ignoring %s (%s)", path, err);
        buf_free(&in);
        probe_free(p);
        return;
    }
    buf_free(&in);
    if (s->use_slots && info.id_slot_off) {
        p->slot = affinity_slot(&s->aff, info.first_hash, info.kind_hash, NULL);
        if (p->slot >= 0) write_slot(p->req.data + info.id_slot_off, p->slot);
        s->warm_slot = p->slot;
        s->warm_kind = info.kind_hash;
    }
    xlate_request_info_free(&info);
    char url[700];
    snprintf(url, sizeof url, "%s/chat/completions", s->cfg->backend);
    log_line(1, "warm start: prefilling the last session's prompt prefix (%zu bytes)", p->req.len);
    probe_start(s, p, "POST", url);
}

/* At start: learn the backend's slots (llama.cpp), then warm start. */
static void backend_probe(server *s)
{
    if (s->cfg->slots > 0 && s->cfg->mode->cache_prompt) {
        affinity_init(&s->aff, s->cfg->slots);
        s->use_slots = 1;
    }
    if (!s->cfg->model[0] && strcmp(s->cfg->mode->name, "openai") == 0) {
        probe *p = calloc(1, sizeof *p);
        if (!p) return;
        p->s = s;
        p->kind = 2;
        buf_init(&p->body, 4u << 20);
        buf_init(&p->req, 0);
        char url[700];
        snprintf(url, sizeof url, "%s/models", s->cfg->backend);
        probe_start(s, p, "GET", url);
        return;
    }
    if (s->cfg->slots < 0 && s->cfg->mode->cache_prompt) {
        probe *p = calloc(1, sizeof *p);
        if (!p) return;
        p->s = s;
        p->kind = 0;
        buf_init(&p->body, 1u << 20);
        buf_init(&p->req, 0);
        char root[600], url[700];
        config_backend_root(s->cfg, root, sizeof root);
        snprintf(url, sizeof url, "%s/props", root);
        probe_start(s, p, "GET", url);
        return;
    }
    warm_start(s);
}

/* ---- llama.cpp's template and tokenizer ----------------------------------- */

/* Step 1 → 2: from an /apply-template answer, the /tokenize request body
 * (written into out). Returns 0, or -1 when the answer has no prompt. */
static int tokenize_request(const buf *answer, buf *out)
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
static long tokenize_count(const buf *answer)
{
    cJSON *j = cJSON_ParseWithLength(answer->data ? answer->data : "", answer->len);
    const cJSON *toks = j ? cJSON_GetObjectItemCaseSensitive(j, "tokens") : NULL;
    long n = cJSON_IsArray(toks) ? cJSON_GetArraySize(toks) : -1;
    cJSON_Delete(j);
    return n;
}

/* ---- the backend tokenizer (llama.cpp) for message_start's count ---------- */

static int tok_data(void *ud, const char *p, size_t n)
{
    return buf_append(&((exchange *)ud)->tok_resp, p, n) == BUF_OK ? 0 : 1;
}

static void tok_done(void *ud, int ok, int refused, long status, const char *err);

static void tok_send(exchange *ex, const char *path)
{
    char root[600], url[700];
    config_backend_root(ex->srv->cfg, root, sizeof root);
    snprintf(url, sizeof url, "%s%s", root, path);
    upstream_opts uo = {
        .method = "POST",
        .url = url,
        .body = ex->tok_req.data,
        .body_len = ex->tok_req.len,
        .bearer = ex->srv->cfg->api_key[0] ? ex->srv->cfg->api_key : NULL,
        .connect_timeout_ms = 3000,
        .total_timeout_ms = 30000,
    };
    upstream_cbs cbs = {NULL, NULL, tok_data, tok_done};
    ex->tok = upstream_start(ex->srv->up, &uo, &cbs, ex);
}

/* Count the prompt with llama.cpp's own template and tokenizer, alongside
 * the real request: the answer is back in milliseconds, well before the
 * first token of a prefill, and message_start then carries the exact
 * count. Failure leaves the calibrated estimate. */
static void tok_start(exchange *ex)
{
    ex->tok_step = 1;
    if (buf_append(&ex->tok_req, ex->upbody.data, ex->upbody.len) != BUF_OK) return;
    tok_send(ex, "/apply-template");
}

static void tok_done(void *ud, int ok, int refused, long status, const char *err)
{
    exchange *ex = ud;
    ex->tok = NULL;
    int good = ok && status == 200;
    buf_reset(&ex->tok_req);
    if (ex->tok_step == 1) {
        if (good && tokenize_request(&ex->tok_resp, &ex->tok_req) == 0) {
            buf_reset(&ex->tok_resp);
            ex->tok_step = 2;
            tok_send(ex, "/tokenize");
        }
        if (!ex->tok && ex->commit_pending) commit(ex); /* no count coming */
        return;
    }
    long n = good ? tokenize_count(&ex->tok_resp) : -1;
    if (n >= 0) {
        ex->exact_prompt = n;
        log_line(2, "prompt %s: %ld tokens by the backend's tokenizer (estimate %ld)", ex->msg_id,
                 ex->exact_prompt, ex->info.input_estimate);
    }
    buf_free(&ex->tok_req);
    buf_free(&ex->tok_resp);
    if (ex->commit_pending) commit(ex);
}

static void handle_messages(server *s, httpd_req *req)
{
    const char *body;
    size_t len;
    if (s->active >= s->cfg->max_streams) {
        char m[200];
        snprintf(m, sizeof m, "anyclaude is at its limit of %d concurrent requests; retry shortly",
                 s->cfg->max_streams);
        send_error_req(req, "overloaded_error", m);
        return;
    }
    exchange *ex = exchange_new(s, req, EX_MESSAGES);
    if (!ex) {
        send_error_req(req, "api_error", "out of memory");
        return;
    }
    if (body_of(req, &body, &len) < 0) {
        reply_error(ex, "api_error", "out of memory");
        return;
    }
    s->m.requests_messages++;
    xlate_request_opts o = {
        .model = upstream_model(s),
        .max_tokens_cap = s->cfg->max_tokens,
        .cache_prompt = s->cfg->mode->cache_prompt,
        .use_id_slot = s->use_slots,
    };
    char err[1024];
    int rc = xlate_request_build(body, len, &o, &ex->upbody, &ex->info, err, sizeof err);
    if (rc == XLATE_EINVALID) {
        reply_error(ex, "invalid_request_error", err);
        return;
    }
    if (rc < 0) {
        reply_error(ex, rc == XLATE_ETOOBIG ? "request_too_large" : "api_error",
                    rc == XLATE_ETOOBIG ? "request too large to translate" : "out of memory");
        return;
    }
    ex->stream = ex->info.stream;
    make_id(ex->msg_id, sizeof ex->msg_id, "msg_");
    if (s->use_slots && ex->info.id_slot_off) pin_slot(s, ex, req);
    if (ex->info.tools) warm_save(s, body, len, &ex->info);
    if (s->est_ratio > 0) {
        double e = (double)ex->info.input_estimate * s->est_ratio;
        ex->info.input_estimate = e < 1 ? 1 : (long)e;
    }
    if (log_level() >= 3) {
        ex->trace = log_trace_open(s->cfg->trace_dir, ex->msg_id);
        log_trace_write(ex->trace, "client request", body, len);
        log_trace_write(ex->trace, "upstream request", ex->upbody.data, ex->upbody.len);
    }
    ex->xopts.model = ex->info.model;
    ex->xopts.msg_id = ex->msg_id;
    ex->xopts.input_estimate = ex->info.input_estimate;
    ex->xopts.tools = ex->info.tools;
    ex->xopts.max_line = MAX_SSE_LINE;
    ex->xopts.max_tool_args = MAX_SSE_LINE;
    ex->xopts.tool_recovery = s->cfg->tool_recovery;
    if (ex->stream) {
        ex->xs = xlate_stream_new(&ex->xopts);
        ex->grace = evtimer_new(s->base, grace_cb, ex);
        ex->ping = evtimer_new(s->base, ping_cb, ex);
        if (!ex->xs || !ex->grace || !ex->ping) {
            reply_error(ex, "api_error", "out of memory");
            return;
        }
    }
    if (log_level() >= 2)
        log_line(2, "request %s: model=%s stream=%d tools=%d est_tokens=%ld client_bytes=%zu "
                    "upstream_bytes=%zu session=%s agent=%s",
                 ex->msg_id, ex->info.model, ex->stream,
                 ex->info.tools ? cJSON_GetArraySize(ex->info.tools) : 0, ex->info.input_estimate,
                 len, ex->upbody.len,
                 httpd_req_header(req, "X-Claude-Code-Session-Id") ? "yes" : "no",
                 httpd_req_header(req, "x-claude-code-agent-id") ? "yes" : "no");
    snprintf(ex->url, sizeof ex->url, "%s/chat/completions", s->cfg->backend);
    upstream_opts uo = {
        .method = "POST",
        .url = ex->url,
        .body = ex->upbody.data,
        .body_len = ex->upbody.len,
        .bearer = s->cfg->api_key[0] ? s->cfg->api_key : NULL,
        .sse = ex->stream,
    };
    upstream_cbs cbs = {up_connected, up_headers, up_data, up_done};
    ex->up = upstream_start(s->up, &uo, &cbs, ex);
    if (!ex->up) {
        reply_error(ex, "api_error", "could not start the backend request");
        return;
    }
    if (ex->stream && s->cfg->mode->cache_prompt) tok_start(ex);
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

static void count_send(exchange *ex, const char *path)
{
    char root[600];
    config_backend_root(ex->srv->cfg, root, sizeof root);
    snprintf(ex->url, sizeof ex->url, "%s%s", root, path);
    buf_reset(&ex->resp);
    upstream_opts uo = {
        .method = "POST",
        .url = ex->url,
        .body = ex->upbody.data,
        .body_len = ex->upbody.len,
        .bearer = ex->srv->cfg->api_key[0] ? ex->srv->cfg->api_key : NULL,
        .connect_timeout_ms = 3000,
        .total_timeout_ms = 30000,
    };
    upstream_cbs cbs = {NULL, count_headers, count_data, count_done};
    ex->up = upstream_start(ex->srv->up, &uo, &cbs, ex);
    if (!ex->up) reply_count(ex, ex->info.input_estimate, "estimate");
}

/* llama.cpp: /apply-template renders the prompt exactly as a completion
 * would, /tokenize counts it. Any failure falls back to the estimate. */
static void count_done(void *ud, int ok, int refused, long status, const char *err)
{
    exchange *ex = ud;
    ex->up = NULL;
    int good = ok && status == 200;
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
    if (xlate_request_count_tokens(body, len, &n, err, sizeof err) < 0) {
        send_error_req(req, "invalid_request_error", err);
        return;
    }
    if (s->est_ratio > 0) n = (long)((double)n * s->est_ratio) > 0 ? (long)((double)n * s->est_ratio) : 1;
    exchange *ex = exchange_new(s, req, EX_COUNT);
    if (!ex) {
        send_error_req(req, "api_error", "out of memory");
        return;
    }
    ex->info.input_estimate = n;
    if (!s->cfg->mode->cache_prompt) { /* only llama.cpp has a tokenizer endpoint */
        reply_count(ex, n, "calibrated estimate");
        return;
    }
    /* count_tokens has no max_tokens: add one so the body translates */
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (root && !cJSON_GetObjectItemCaseSensitive(root, "max_tokens"))
        cJSON_AddNumberToObject(root, "max_tokens", 1);
    cJSON_DeleteItemFromObjectCaseSensitive(root, "stream");
    char *txt = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    xlate_request_opts o = {.model = upstream_model(s)};
    xlate_request_info info;
    int rc = txt ? xlate_request_build(txt, strlen(txt), &o, &ex->upbody, &info, err, sizeof err) : -1;
    cJSON_free(txt);
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
    if (metrics_render(&s->m, &b) == 0)
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
    if (ex->kind == EX_HEALTH) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", "ok");
        cJSON_AddStringToObject(o, "version", ANYCLAUDE_VERSION);
        cJSON_AddStringToObject(o, "mode", s->cfg->mode->name);
        cJSON_AddStringToObject(o, "backend", s->cfg->backend);
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
                if (cJSON_IsString(id)) cJSON_AddItemToArray(ids, cJSON_CreateString(id->valuestring));
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
    if (!cJSON_IsArray(data)) {
        char msg[1200];
        if (!ok || status == 0)
            snprintf(msg, sizeof msg, "backend %s is not reachable (%s). Is the model server running?",
                     s->cfg->backend, err);
        else
            snprintf(msg, sizeof msg, "backend %s/models answered HTTP %ld without a model list",
                     s->cfg->backend, status);
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
    snprintf(ex->url, sizeof ex->url, "%s/models", s->cfg->backend);
    upstream_opts uo = {
        .method = "GET",
        .url = ex->url,
        .bearer = s->cfg->api_key[0] ? s->cfg->api_key : NULL,
        .connect_timeout_ms = 3000,
        .total_timeout_ms = kind == EX_HEALTH ? 5000 : 30000,
    };
    upstream_cbs cbs = {NULL, models_headers, models_data, models_done};
    ex->up = upstream_start(s->up, &uo, &cbs, ex);
    if (!ex->up) reply_error(ex, "api_error", "could not start the backend request");
}

static void route(httpd_req *req, void *arg)
{
    server *s = arg;
    const char *path = httpd_req_path(req);
    const char *method = httpd_req_method(req);
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int post = strcmp(method, "POST") == 0;
    if (log_level() >= 2) log_line(2, "%s %s", method, path);
    if (strcmp(path, "/health") == 0 || strcmp(path, "/") == 0) {
        if (!get) goto method;
        s->m.requests_health++;
        handle_models(s, req, EX_HEALTH);
        return;
    }
    if (!authorized(s, req)) {
        send_error_req(req, "authentication_error",
                       "missing or wrong token: send the gateway's --auth-token as x-api-key or "
                       "Authorization: Bearer");
        return;
    }
    if (strcmp(path, "/metrics") == 0) {
        if (!get) goto method;
        handle_metrics(s, req);
        return;
    }
    if (strcmp(path, "/v1/messages") == 0) {
        if (!post) goto method;
        handle_messages(s, req);
        return;
    }
    if (strcmp(path, "/v1/messages/count_tokens") == 0) {
        if (!post) goto method;
        handle_count_tokens(s, req);
        return;
    }
    if (strcmp(path, "/v1/models") == 0) {
        if (!get) goto method;
        s->m.requests_models++;
        handle_models(s, req, EX_MODELS);
        return;
    }
    {
        char m[400];
        snprintf(m, sizeof m,
                 "no route for %.200s; anyclaude serves POST /v1/messages, POST "
                 "/v1/messages/count_tokens, GET /v1/models, GET /health and GET /metrics",
                 path);
        send_error_req(req, "not_found_error", m);
        return;
    }
method:
    send_error_req(req, "invalid_request_error", "method not allowed for this path");
}

/* JSON bodies for the errors httpd detects itself. */
static size_t httpd_error_body(int status, const char *msg, char *out, size_t outlen)
{
    const char *type = status == 413   ? "request_too_large"
                       : status >= 500 ? "api_error"
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
    httpd_limits lim = {
        .max_body = cfg->max_body,
        .max_header = 256 * 1024,
        .max_conns = cfg->max_streams + 1024,
        .error_body = httpd_error_body,
    };
    s->http = httpd_new(base, cfg->host, cfg->port, &lim, route, s, err, errlen);
    if (!s->http) {
        server_free(s);
        return NULL;
    }
    s->port = httpd_port(s->http);
    s->est_ratio = 1.0;
    s->warm_slot = -1;
    affinity_init(&s->aff, 0);
    backend_probe(s);
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
    while (s->exchanges) {
        exchange *ex = s->exchanges;
        if (ex->req && ex->committed) {
            httpd_reply_end(ex->req);
            ex->req = NULL;
        }
        exchange_free(ex);
    }
    httpd_free(s->http);
    if (s->probe) upstream_cancel(s->probe);
    probe_free(s->probe_ctx);
    upstream_free(s->up);
    free(s);
}
