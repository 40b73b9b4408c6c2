/*
 * plan: where a request may go, in order (shell; one policy for every
 * endpoint). The route is matched on the request's facts; its pool's
 * usable members come in the order pool.h gives (the conversation's
 * rendezvous choice, the longest known prefix, the least loaded), then the
 * usable fallbacks, then, as a last resort, whatever is down.
 *
 *   parsed body ─▶ plan_route ─▶ plan_key_init ─▶ plan_targets ─▶ tg[0], tg[1] ...
 *
 * /v1/messages tries the targets in this order; count_tokens, /v1/models,
 * /health and the status line ask the first one (plan_first), so
 * count_tokens asks the backend the message would go to.
 */
#ifndef ANYCLAUDE_PLAN_H
#define ANYCLAUDE_PLAN_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "backends.h"
#include "pool.h"
#include "routes.h"

#define PLAN_MAX_TARGETS (2 * ROUTES_MAX_TARGETS)

/* What pools order a request by: its conversation key and prefix hashes
 * (pool.h). Empty (all zero) for a route without a pool or a request
 * without a body. */
typedef struct plan_key {
    uint64_t conv;
    uint64_t *prefix; /* owned */
    int nprefix;
} plan_key;

typedef struct plan {
    const route *r;
    const route_target *tg[PLAN_MAX_TARGETS];
    int n;                /* >= 1 */
    enum pool_reason why; /* why tg[0] came first (pools only) */
    int depth;            /* how much of its prefix tg[0] holds (pools only) */
} plan;

/* The route a request takes: root (the parsed body; NULL: none) matched on
 * its facts, which are written to facts when not NULL; subagent: the
 * request carries Claude Code's agent id header. Without a body, the
 * default route. */
const route *plan_route(const routes *rs, const cJSON *root, int subagent, route_facts *facts);
/* Fill k for a request bound for r: its key and prefix hashes when r has a
 * pool and root is given, else leave it empty. Returns 0, or -1 when out of
 * memory. Free with plan_key_free (NULL-safe, idempotent). */
int plan_key_init(plan_key *k, const route *r, const cJSON *root);
void plan_key_free(plan_key *k);
/* The order of r's targets for a request with key k (NULL: none). */
void plan_targets(plan *p, const backends *bs, const route *r, const plan_key *k);
/* The first target a request would go to (root may be NULL: no body, the
 * default route); for the endpoints that ask one backend. Out of memory
 * for the prefix hashes, the pool orders without them. */
const route_target *plan_first(const backends *bs, const routes *rs, const cJSON *root,
                               int subagent);
/* A reader's name for why a pool chose its first member. */
const char *plan_reason_name(enum pool_reason r);

#endif
