/*
 * plan: the order of targets for a request (see plan.h).
 */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include "rendezvous.h"

const route *plan_route(const routes *rs, const cJSON *root, int subagent, route_facts *facts)
{
    route_facts f;
    if (!facts) facts = &f;
    memset(facts, 0, sizeof *facts);
    if (!root) return routes_default(rs);
    /* the size estimate only where routing or a pass-through target reads
     * it (a translating backend counts its own) */
    routes_facts(root, subagent, routes_need_body(rs), facts);
    return routes_match(rs, facts);
}

int plan_key_init(plan_key *k, const route *r, const cJSON *root)
{
    memset(k, 0, sizeof *k);
    if (!root || r->npool <= 1) return 0;
    k->prefix = malloc(POOL_MAX_PREFIXES * sizeof *k->prefix);
    if (!k->prefix) return -1;
    k->nprefix = pool_prefix_hashes(root, k->prefix, POOL_MAX_PREFIXES);
    k->conv = pool_conversation_key(k->prefix, k->nprefix);
    return 0;
}

void plan_key_free(plan_key *k)
{
    free(k->prefix);
    memset(k, 0, sizeof *k);
}

static void add_target(plan *p, const route_target *t)
{
    for (int i = 0; i < p->n; i++)
        if (p->tg[i]->backend == t->backend) return;
    if (p->n < PLAN_MAX_TARGETS) p->tg[p->n++] = t;
}

void plan_targets(plan *p, const backends *bs, const route *r, const plan_key *k)
{
    static const plan_key none;
    if (!k) k = &none;
    memset(p, 0, sizeof *p);
    p->r = r;
    const route_target *down[PLAN_MAX_TARGETS];
    int ndown = 0;
    if (r->npool > 1) {
        pool_member m[ROUTES_MAX_TARGETS];
        for (int i = 0; i < r->npool; i++) {
            const backend_rt *b = &bs->b[r->pool[i].backend];
            m[i] = (pool_member){b->idx, backend_usable(b), b->inflight,
                                 rendezvous_id(b->cfg->name, (int)strlen(b->cfg->name))};
        }
        int order[ROUTES_MAX_TARGETS];
        int n = pool_order(bs->pool, m, r->npool, k->conv, k->prefix, k->nprefix, order, &p->why,
                           &p->depth);
        for (int j = 0; j < n; j++)
            for (int i = 0; i < r->npool; i++)
                if (r->pool[i].backend == order[j]) add_target(p, &r->pool[i]);
        for (int i = 0; i < r->npool; i++)
            if (!backend_usable(&bs->b[r->pool[i].backend])) down[ndown++] = &r->pool[i];
    } else {
        if (backend_usable(&bs->b[r->pool[0].backend]))
            add_target(p, &r->pool[0]);
        else
            down[ndown++] = &r->pool[0];
    }
    for (int i = 0; i < r->nfallback; i++) {
        if (backend_usable(&bs->b[r->fallback[i].backend]))
            add_target(p, &r->fallback[i]);
        else if (ndown < PLAN_MAX_TARGETS)
            down[ndown++] = &r->fallback[i];
    }
    for (int i = 0; i < ndown; i++)
        add_target(p, down[i]);
}

const route_target *plan_first(const backends *bs, const routes *rs, const cJSON *root,
                               int subagent)
{
    const route *r = plan_route(rs, root, subagent, NULL);
    plan_key k;
    if (plan_key_init(&k, r, root) < 0) memset(&k, 0, sizeof k);
    plan p;
    plan_targets(&p, bs, r, &k);
    plan_key_free(&k);
    return p.tg[0];
}

const char *plan_reason_name(enum pool_reason r)
{
    static const char *const names[] = {
        [POOL_STICKY] = "rendezvous choice, same conversation",
        [POOL_PREFIX] = "longest known prefix",
        [POOL_SAME_PROMPT] = "least loaded, holds the system prompt",
        [POOL_RENDEZVOUS] = "rendezvous choice, new conversation here",
        [POOL_MOVED] = "rendezvous choice, conversation moved back (membership changed)",
    };
    int k = (int)r;
    return k >= 0 && k < (int)(sizeof names / sizeof names[0]) && names[k] ? names[k]
                                                                           : "least loaded";
}
