/*
 * timeouts: every deadline and interval anyclaude keeps, named in one place.
 * Constants only (no code), so the pure core and the shell both include it.
 *
 * The first group are the defaults of settings a user may change (flag,
 * variable and config key in README "Configuration" and `anyclaude --help`;
 * config.c applies them). The rest are fixed: how long the gateway waits on
 * its own requests to a backend, on a client, and on the command line's
 * probes. A name ends in _S (seconds) or _MS (milliseconds).
 *
 * The pacing inside one streamed exchange (messages.c: GRACE_MS, TOK_WAIT_MS,
 * CLIENT_STALL_MS) and idle priming (backends.c: IDLE_PRIME_MS) are named
 * beside the code they pace.
 */
#ifndef ANYCLAUDE_TIMEOUTS_H
#define ANYCLAUDE_TIMEOUTS_H

/* ---- settable: the defaults ---------------------------------------------- */

/* --upstream-idle-timeout: fail a request when the backend, once its
 * answer started, sends nothing this long (0: never). */
#define TIMEOUT_UPSTREAM_IDLE_S 600
/* --request-timeout: a non-streamed request's whole time (0: none). */
#define TIMEOUT_REQUEST_S 1800
/* --request-deadline: a client's request, head and body, must arrive within
 * this long of its first byte. */
#define TIMEOUT_REQUEST_DEADLINE_S 60
/* --drain-timeout: serve, on SIGTERM/SIGINT: how long requests in flight may
 * still take. */
#define TIMEOUT_DRAIN_S 30
/* --ping-ms: a ping event to the client while the backend is silent. */
#define TIMEOUT_PING_MS 5000
/* config "healthCheckMs" (routes: per backend): a pool member's health
 * check interval. */
#define TIMEOUT_HEALTH_INTERVAL_MS 5000

/* ---- the gateway's own requests to a backend ----------------------------- */

/* Connecting, for every request the gateway makes on its own (health,
 * models, count_tokens, the tokenizer, warm start). */
#define TIMEOUT_CONNECT_MS 3000
/* Connecting, for a client's request (upstream.c's default). */
#define TIMEOUT_UPSTREAM_CONNECT_MS 10000
/* A side request's whole time: count_tokens, the llama.cpp tokenizer,
 * /v1/models. */
#define TIMEOUT_SIDE_REQUEST_MS 30000
/* One health probe (GET /health or /models), and at least this for the
 * pool's periodic check. */
#define TIMEOUT_HEALTH_PROBE_MS 5000
/* One warm-start or idle-priming prefill of a saved prompt prefix. */
#define TIMEOUT_PREFILL_MS 600000
/* One llama-server slot save or restore (the slot copy, docs/cache.md). */
#define TIMEOUT_SLOT_COPY_MS 120000
/* Saving the slots of the gateway's conversations when it stops
 * (checkpoint.h), all of them: a model's KV cache may be gigabytes. */
#define TIMEOUT_CHECKPOINT_MS 30000

/* ---- the gateway and its clients ----------------------------------------- */

/* Keep-alive: a client connection idle this long between requests is
 * closed (httpd's default). */
#define TIMEOUT_KEEPALIVE_MS 120000
/* A connection that failed (an error was answered) may linger this long
 * for the client to read the answer. */
#define TIMEOUT_CLOSING_MS 10000
/* After an accept error (out of file descriptors): pause accepting. */
#define TIMEOUT_ACCEPT_PAUSE_MS 200
/* drain: once nothing is left to send, a connection may stay this long
 * before the drain ends. */
#define TIMEOUT_DRAIN_IDLE_MS 2000
/* Once no request is in flight this long, freed memory goes back to the
 * system (malloc_trim); turns that follow sooner reuse it without faulting
 * every page in again. */
#define TIMEOUT_TRIM_IDLE_MS 5000

/* ---- the command line ---------------------------------------------------- */

/* doctor and the model check: a GET to a backend (connect, whole). */
#define TIMEOUT_CHECK_CONNECT_MS 3000
#define TIMEOUT_CHECK_MS 10000
/* doctor: one round trip through the gateway to the model. */
#define TIMEOUT_DOCTOR_TRIP_MS 180000
/* Asking a backend its context window (connect, whole). */
#define TIMEOUT_WINDOW_CONNECT_MS 1500
#define TIMEOUT_WINDOW_MS 4000
/* --mode auto: each local port's answer. */
#define TIMEOUT_DISCOVER_MS 1500
/* The launcher, no mode given: is the default backend up? */
#define TIMEOUT_BACKEND_UP_MS 1000
/* Those two probes connect to a local address within this. */
#define TIMEOUT_LOCAL_CONNECT_MS 300
/* statusline: reading Claude Code's JSON on stdin, and asking the gateway
 * (connect, whole): the status bar must never hang. */
#define TIMEOUT_STATUSLINE_STDIN_MS 500
#define TIMEOUT_STATUSLINE_CONNECT_MS 300
#define TIMEOUT_STATUSLINE_MS 800

#endif
