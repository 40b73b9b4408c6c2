/*
 * backends: the live side of each configured backend (shell). What the
 * start-up probes learned (llama.cpp's slots, an openai backend's first
 * model), warm start, health checks for backends that have alternatives,
 * and load. The server asks here where a request may go; pool.h decides the
 * order.
 *
 *   start ─▶ /props or /models ─▶ warm start        (each backend, once)
 *   every healthCheckMs ─▶ GET /health or /models ─▶ up / down
 */
#ifndef ANYCLAUDE_BACKENDS_H
#define ANYCLAUDE_BACKENDS_H

#include <stddef.h>
#include <stdint.h>

#include "backend_rt.h"
#include "passthru.h"
#include "xlate_request.h"

/* Set up every backend a route names, start their probes and, when some
 * backend has alternatives, the health checks. Returns 0 or -1 (no memory). */
int backends_init(backends *bs, struct event_base *base, upstream *up, const config *cfg,
                  metrics *m);
void backends_free(backends *bs);

/* The model to send: the target's, else the backend's, else (openai) the one
 * the backend listed first; NULL: none. */
const char *backend_model(const backend_rt *b, const char *target_model);
/* How requests to b (anthropic mode) are rewritten, with the target's model:
 * relay.c's requests and the warm start's alike, so the prefix matches. */
passthru_opts backend_passthru_opts(const backend_rt *b, const char *target_model);

/* A request could not reach b: it leaves its pools until a check passes. */
void backend_mark_down(backend_rt *b, const char *why);
/* Outlier detection, as Envoy's: a backend with alternatives (health
 * checked) that answers BACKEND_OUTLIER_5XX requests in a row with a 5xx is
 * taken out of its pools for 30 s (doubling with each ejection in a row, up
 * to 5 min) even while its health check passes (messages.c counts only the
 * 5xx that reach clients, not those that fall back). status: the HTTP status of
 * an answer from b. */
#define BACKEND_OUTLIER_5XX 5
void backend_outcome(backend_rt *b, long status);
/* Up (health) and not ejected: may be tried before the others. */
int backend_usable(const backend_rt *b);

/* Slot for a request of b (llama.cpp; agent: a subagent's) pins it and
 * writes it into the translated request at info->id_slot_off. */
int backend_pin_slot(backend_rt *b, uint64_t conv_key, buf *upbody, const xlate_request_info *info,
                     int agent, int *reuse, int *warm_hit);
/* The request pinned to slot for conv_key is over. */
void backend_slot_done(backend_rt *b, int slot, uint64_t conv_key);
/* Remember the system prompt and tools for the next start (warm start),
 * one file per kind, the BACKEND_WARM_KINDS newest kept. */
void backend_warm_save(backend_rt *b, const char *body, size_t len, uint64_t kind);
/* Warm start is on for b: the config says so, there is a state directory,
 * and b is a local backend (never claude mode). */
int backend_warm_on(const backend_rt *b);
/* A warm-start prefill is in flight on b. A backend with one cache and no
 * slots (mlx-lm, LM Studio) should hold a request until it ends rather
 * than run a second cold prefill beside it. */
int backend_warming(const backend_rt *b);
/* A real request is starting on b: prime no further kinds. */
void backend_warm_stop(backend_rt *b);

/* /metrics lines for the backends. */
int backends_metrics(const backends *bs, buf *out);

#endif
