/*
 * server_int: what server.c (routes, replies, the small endpoints) and
 * messages.c (the /v1/messages exchange) share. Not for other modules.
 */
#ifndef ANYCLAUDE_SERVER_INT_H
#define ANYCLAUDE_SERVER_INT_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "backends.h"
#include "buf.h"
#include "convstat.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "passthru.h"
#include "routes.h"
#include "server.h"
#include "upstream.h"
#include "xlate_request.h"
#include "xlate_stream.h"

#define MAX_UPSTREAM_BODY (64u * 1024 * 1024) /* non-streamed answer / error body */
#define MAX_CLIENT_BACKLOG (64u * 1024 * 1024)
#define MAX_SSE_LINE (16u * 1024 * 1024)
#define MAX_ATTEMPTS (2 * ROUTES_MAX_TARGETS)

struct server {
    struct event_base *base;
    const config *cfg;
    httpd *http;
    upstream *up;
    int port;
    int active;
    struct exchange *exchanges; /* all live exchanges, for server_free */
    metrics m;
    backends bs;
    int need_root; /* routing needs the parsed request before translating it */
    /* draining (server_drain) */
    int draining;
    double drain_t0, drain_idle_t0;
    long drain_deadline_ms;
    struct event *drain_timer; /* polls: deadline passed? all done and written? */
    server_drained_fn drained;
    void *drained_arg;
    convstat turns; /* recent conversations' last turns, for the status line */
};

enum ex_kind { EX_MESSAGES, EX_MODELS, EX_HEALTH, EX_COUNT };

typedef struct exchange {
    server *srv;
    enum ex_kind kind;
    httpd_req *req;
    upstream_req *up;
    const char *body; /* the client's body (httpd owns it) */
    size_t body_len;
    cJSON *root;          /* the parsed body, when routing or a pass-through needs it */
    const char *root_end; /* where that parse stopped (translation checks what follows) */
    route_facts facts;
    char client_model[256]; /* facts.model points here: a pass-through rewrite may free the
                               root's string */
    /* where it may go, in order, and which one is being tried */
    const route_target *tg[MAX_ATTEMPTS];
    int ntg, attempt;
    backend_rt *bk;         /* the backend of the current attempt */
    const char *sent_model; /* the model it was sent (NULL: the client's, or none) */
    int pt;                 /* the current attempt passes through (MODE_ANTHROPIC/MODE_CLAUDE) */
    uint64_t conv_key;
    uint64_t *prefix; /* prefix hashes (pools only) */
    int nprefix;
    enum pool_reason preason;
    int pdepth;
    char why[600]; /* what the earlier attempts ran into */
    buf upbody;    /* upstream request; must outlive the transfer */
    buf resp;      /* non-streamed body or error body from the backend */
    buf out;       /* pending bytes for the client */
    buf hdrs;      /* pass-through: answer headers to relay ("name\0value\0"...) */
    char ctype[128];
    char tail[3]; /* pass-through: the last bytes relayed */
    passthru_obs obs;
    int obs_on;
    xlate_request_info info;
    xlate_stream *xs;
    xlate_stream_opts xopts;
    struct event *grace;
    struct event *ping;
    struct event *hold; /* waiting for the backend's warm start to end */
    struct event *idle; /* the backend's silence once its answer started, or a paused
                           client's (backpressure) */
    int paused;         /* the backend transfer is paused: the client is behind */
    long up_status;
    int stream;
    int committed;
    int connected;
    int slot;           /* llama.cpp slot used, -1 none */
    uint64_t slot_key;  /* the conversation key it was pinned for */
    int slot_reuse;     /* affinity: 0 new, 1 same conversation, 2 same kind */
    int warm_hit;       /* first use of the warm-started slot */
    int count_step;     /* count_tokens: 1 apply-template, 2 tokenize */
    upstream_req *tok;  /* messages: the backend tokenizer counting this prompt */
    buf tok_req;        /* its request body (curl reads it while sending) */
    buf tok_resp;       /* its answer */
    int tok_step;       /* 1 apply-template, 2 tokenize */
    long exact_prompt;  /* the backend tokenizer's count, 0 unknown */
    int commit_pending; /* 2xx seen; waiting (briefly) for exact_prompt */
    char msg_id[40];
    char url[1400];
    size_t bytes_out; /* sent to the client */
    log_trace *trace;
    double t_start, t_first;
    struct exchange *next, *prev;
} exchange;

exchange *exchange_new(server *s, httpd_req *req, enum ex_kind kind);
void exchange_free(exchange *ex);
/* Send a complete reply and free the exchange. */
void reply_whole(exchange *ex, int status, const char *body, size_t len);
/* An Anthropic error reply; frees the exchange. */
void reply_error(exchange *ex, const char *type, const char *msg);
/* Error on a request that has no exchange yet. */
void send_error_req(httpd_req *req, const char *type, const char *msg);
void add_common_headers(exchange *ex);

/* The target backend for requests that are not /v1/messages: the first of
 * the route this body would take (NULL root: the default route). */
backend_rt *server_backend_for(server *s, const cJSON *root, const char **target_model);

/* The conversation's affinity key for engine routers (a backend's
 * affinityHeader / affinityField): "ac-" and 16 hex digits of a hash of
 * Claude Code's session id and agent id, never the ids themselves. Returns
 * 0, or -1 when the request carries no session id (nothing is sent). */
#define AFFINITY_VALUE_LEN 20
int affinity_value(httpd_req *req, char *out, size_t n);

/* Header lines to send backend b: for a pass-through backend, the client's
 * (claude mode) or the Anthropic version headers (anthropic mode), with the
 * credential policy of docs/routing.md; for every backend, its
 * affinityHeader with the request's affinity_value. Returns
 * h->lines, NULL-terminated; free with pt_headers_free once the request is
 * started (curl copies them). */
#define PT_MAX_HEADERS 69
typedef struct pt_headers {
    buf store;
    size_t off[PT_MAX_HEADERS];
    const char *lines[PT_MAX_HEADERS + 1];
    int n;
} pt_headers;
const char *const *passthru_headers(const server *s, const backend_rt *b, httpd_req *req,
                                    pt_headers *h);
void pt_headers_free(pt_headers *h);

/* Pass-through answers: keep the headers a client of the Anthropic API
 * reads (content-type, request-id, anthropic-*, retry-after,
 * x-should-retry), and add them to the reply (with our request-id when the
 * backend sent none, and anyclaude-backend). */
void passthru_keep_header(exchange *ex, const char *n, size_t nl, const char *v, size_t vl);
void relay_headers(exchange *ex);

/* llama.cpp's /apply-template answer → /tokenize request; /tokenize answer
 * → count. */
int tokenize_request(const buf *answer, buf *out);
long tokenize_count(const buf *answer);

void handle_messages(server *s, httpd_req *req);
/* End a /v1/messages exchange now with an error: an HTTP error before its
 * stream started, an `event: error` after (frees the exchange). */
void messages_cut(exchange *ex, const char *type, const char *msg);

/* The header the launcher sends the per-run token in (Claude Code's
 * ANTHROPIC_CUSTOM_HEADERS), so that in claude mode Claude Code's own
 * credentials still reach the Claude API; never passed upstream. */
#define TOKEN_HEADER "x-anyclaude-token"
/* Does the request carry the gateway's token (or is none required)? For
 * every endpoint that must not answer strangers. */
int server_authorized(const server *s, httpd_req *req);

#endif
