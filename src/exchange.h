/*
 * exchange: one client request the gateway is answering (shell), and the
 * server state every exchange reads. An exchange lives from the request's
 * handler (messages, count_tokens, models, health) until its reply is
 * complete or the client goes away, and is freed exactly once, here.
 *
 *   handler ─▶ exchange_new ─▶ attempt (backend request) ─▶ exchange_reply / exchange_error
 *                                 │ ▲
 *                                 ▼ │ exchange_attempt_reset (fallback to the next target)
 *
 * What one attempt at a backend owns (its backend's load and slot, its
 * transfers, its translation and buffers) is the sub-struct `cur`: it is
 * set up and released in one place (exchange.c), so a fallback and the
 * exchange's end cannot forget a field.
 */
#ifndef ANYCLAUDE_EXCHANGE_H
#define ANYCLAUDE_EXCHANGE_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "backends.h"
#include "buf.h"
#include "convstat.h"
#include "httpd.h"
#include "llama_tok.h"
#include "log.h"
#include "metrics.h"
#include "passthru.h"
#include "plan.h"
#include "routes.h"
#include "upstream.h"
#include "xlate_request.h"
#include "xlate_stream.h"

#define EXCHANGE_MAX_UPSTREAM_BODY (64u * 1024 * 1024) /* non-streamed answer / error body */
#define EXCHANGE_MAX_BACKLOG (64u * 1024 * 1024)       /* bytes queued for a slow client */
#define EXCHANGE_MAX_SSE_LINE (16u * 1024 * 1024)

typedef struct server server;
struct server_drain;

/* The gateway's state that every exchange reads (server.c creates it and
 * owns the listening side and the drain; the endpoints read the settings
 * and update the counters, the backends' load and pools, and the turns).
 * Defined here rather than in server.h so that the endpoints reach it
 * without depending on server, which depends on them. */
struct server {
    struct event_base *base;
    struct event *trim; /* memory back to the system once idle (exchange_memory_init) */
    const config *cfg;
    httpd *http;
    upstream *up;
    struct xlate_tools_cache *tools; /* translated tools kept across requests */
    int port;
    int active;
    struct exchange *exchanges; /* all live exchanges, for server_free */
    metrics m;
    backends bs;
    int need_root;              /* routing needs the parsed request before translating it */
    int draining;               /* server_drain was called */
    struct server_drain *drain; /* server.c's: the drain's deadline and timer */
    convstat turns;             /* recent conversations' last turns, for the status line */
};

enum exchange_kind { EXCHANGE_MESSAGES, EXCHANGE_MODELS, EXCHANGE_HEALTH, EXCHANGE_COUNT };

/* One attempt at one backend. Zeroed (and its buffers set up) by
 * exchange_new and exchange_attempt_reset; what it owns is released by
 * exchange_attempt_reset and exchange_free. */
typedef struct exchange_attempt {
    backend_rt *bk;         /* its backend (its inflight count is held) */
    const char *sent_model; /* the model it was sent (NULL: the client's, or none) */
    int pt;                 /* it passes through (MODE_ANTHROPIC/MODE_CLAUDE) */
    upstream_req *up;       /* the backend request */
    llama_tok *tok;         /* the backend tokenizer counting this prompt (llama.cpp) */
    char url[1400];
    buf upbody; /* upstream request; must outlive the transfer */
    buf resp;   /* non-streamed body or error body from the backend */
    buf hdrs;   /* pass-through: answer headers to relay ("name\0value\0"...) */
    char ctype[128];
    passthru_obs obs;
    int obs_on;
    xlate_request_info info;
    xlate_stream *xs;
    xlate_stream_opts xopts;
    long up_status;
    int connected;
    int paused;         /* the backend transfer is paused: the client is behind */
    int slot;           /* llama.cpp slot used, -1 none */
    uint64_t slot_key;  /* the conversation key it was pinned for */
    int slot_reuse;     /* affinity: 0 new, 1 same conversation, 2 same kind */
    int warm_hit;       /* first use of the warm-started slot */
    long exact_prompt;  /* the backend tokenizer's count, 0 unknown */
    int commit_pending; /* 2xx seen; waiting (briefly) for exact_prompt */
    double t_first;     /* its first byte of answer */
    double t_data;      /* its latest data: the idle and ping timers, armed
                         * once, read it when they fire (no re-arm a chunk) */
    int evented;        /* the translated stream made its first event (written at once) */
} exchange_attempt;

typedef struct exchange {
    server *srv;
    enum exchange_kind kind;
    httpd_req *req;
    const char *body; /* the client's body (httpd owns it) */
    size_t body_len;
    cJSON *root;            /* the parsed body, when routing or a pass-through needs it */
    const char *root_end;   /* where that parse stopped (translation checks what follows) */
    const char *tools_text; /* the body's text of root's "tools" (the tools cache's key) */
    size_t tools_text_len;
    int tools_entry; /* root's "tools" refers to this entry of the tools cache (-1: none) */
    route_facts facts;
    char client_model[256]; /* facts.model points here: a pass-through rewrite may free the
                               root's string */
    plan_key key;           /* the conversation key and prefix hashes pools order by */
    plan plan;              /* where it may go, in order (plan.h) */
    int attempt;            /* which of plan.tg is being tried */
    char why[600];          /* what the earlier attempts ran into */
    exchange_attempt cur;
    buf out;      /* pending bytes for the client */
    char tail[3]; /* pass-through: the last bytes relayed */
    struct event *grace;
    struct event *ping;
    struct event *hold; /* waiting for the backend's warm start to end */
    struct event *idle; /* the backend's silence once its answer started, or a paused
                           client's (backpressure) */
    int stream;
    int committed;
    char msg_id[40];
    size_t bytes_out; /* sent to the client */
    log_trace *trace;
    double t_start;
    struct exchange *next, *prev;
} exchange;

/* A new exchange for req, linked into s (and counted in s->active); the
 * client's hang-up frees it. Returns NULL when out of memory. */
exchange *exchange_new(server *s, httpd_req *req, enum exchange_kind kind);
/* Release everything the exchange holds (its attempt's backend load and
 * slot, transfers, timers) and free it. */
void exchange_free(exchange *ex);

/* The server's memory policy: large buffers (a request body, its
 * translation) come from the heap and stay there between requests, so a
 * turn does not fault in megabytes of fresh pages; once the server has been
 * idle TIMEOUT_TRIM_IDLE_MS, freed memory goes back to the system. An
 * explicit GLIBC_TUNABLES malloc setting wins over the thresholds. */
int exchange_memory_init(server *s);
void exchange_memory_free(server *s);
/* Forget the current attempt (its backend load and slot, transfers,
 * translation, buffers); the exchange's timers are stopped, not freed. */
void exchange_attempt_reset(exchange *ex);

/* The request-id and anyclaude-backend headers of a reply. */
void exchange_add_headers(exchange *ex);
/* Send a complete reply and free the exchange. */
void exchange_reply(exchange *ex, int status, const char *body, size_t len);
/* An Anthropic error reply; frees the exchange. */
void exchange_error(exchange *ex, const char *type, const char *msg);
/* An Anthropic error on a request that has no exchange (yet). */
void exchange_error_req(httpd_req *req, const char *type, const char *msg);

#endif
