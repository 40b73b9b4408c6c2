/* Tests for src/plan.c: the one order of targets every endpoint uses. A
 * route's usable pool members come in pool.h's order, then its usable
 * fallbacks, then what is down or ejected; the first target of a request
 * follows its facts (the subagent route) and, for a pool, its conversation. */
#include <stdlib.h>

#include "plan.h"
#include "rendezvous.h"
#include "test.h"

typedef struct fixture {
    routes rs;
    backends bs;
} fixture;

/* n backends b0..b(n-1), all up; one default route with the given pool and
 * fallbacks (backend indexes, -1 ends each list). */
static fixture *fixture_new(int n, const int *pool, const int *fallback)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->rs.nbackends = n;
    f->bs.n = n;
    for (int i = 0; i < n; i++) {
        snprintf(f->rs.backends[i].name, sizeof f->rs.backends[i].name, "b%d", i);
        f->rs.backends[i].mode = mode_find("openai"); /* as config gives every backend */
        f->bs.b[i].cfg = &f->rs.backends[i];
        f->bs.b[i].idx = i;
        f->bs.b[i].up = 1;
        f->bs.b[i].used = 1;
    }
    route *r = &f->rs.r[f->rs.nroutes++];
    r->when = ROUTE_DEFAULT;
    for (; *pool >= 0; pool++)
        r->pool[r->npool++].backend = *pool;
    for (; *fallback >= 0; fallback++)
        r->fallback[r->nfallback++].backend = *fallback;
    f->bs.pool = malloc(sizeof *f->bs.pool);
    if (!f->bs.pool) {
        free(f);
        return NULL;
    }
    pool_init(f->bs.pool);
    return f;
}

static void fixture_free(fixture *f)
{
    if (f) free(f->bs.pool);
    free(f);
}

/* The plan's targets as backend indexes. */
static int order_of(const plan *p, int *out)
{
    for (int i = 0; i < p->n; i++)
        out[i] = p->tg[i]->backend;
    return p->n;
}

TEST(plan_primary_then_fallbacks_then_what_is_down)
{
    fixture *f = fixture_new(3, (int[]){0, -1}, (int[]){1, 2, -1});
    REQUIRE(f);
    plan p;
    int o[PLAN_MAX_TARGETS];
    plan_targets(&p, &f->bs, &f->rs.r[0], NULL);
    CHECK(order_of(&p, o) == 3 && o[0] == 0 && o[1] == 1 && o[2] == 2);
    /* the primary is down, the first fallback ejected (outlier detection) */
    f->bs.b[0].up = 0;
    f->bs.b[1].ejected_until = 1e300;
    plan_targets(&p, &f->bs, &f->rs.r[0], NULL);
    CHECK(order_of(&p, o) == 3 && o[0] == 2 && o[1] == 0 && o[2] == 1);
    CHECK(plan_first(&f->bs, &f->rs, NULL, 0)->backend == 2);
    fixture_free(f);
}

TEST(plan_pool_in_pool_order_and_down_members_last)
{
    fixture *f = fixture_new(4, (int[]){0, 1, 2, -1}, (int[]){3, -1});
    REQUIRE(f);
    uint64_t prefix[2] = {11, 42};
    plan_key k = {.conv = 42, .prefix = prefix, .nprefix = 2};
    pool_member m[3];
    for (int i = 0; i < 3; i++)
        m[i] = (pool_member){i, 1, 0, rendezvous_id(f->rs.backends[i].name, 2)};
    int want[3], depth;
    enum pool_reason why;
    REQUIRE(pool_order(f->bs.pool, m, 3, 42, prefix, 2, want, &why, &depth) == 3);
    plan p;
    int o[PLAN_MAX_TARGETS];
    plan_targets(&p, &f->bs, &f->rs.r[0], &k);
    CHECK(order_of(&p, o) == 4 && o[0] == want[0] && o[1] == want[1] && o[2] == want[2] &&
          o[3] == 3);
    CHECK(p.why == why);
    /* the conversation's member goes down: the others, the fallback, then it */
    f->bs.b[want[0]].up = 0;
    plan_targets(&p, &f->bs, &f->rs.r[0], &k);
    CHECK(order_of(&p, o) == 4 && o[0] != want[0] && o[1] != want[0] && o[2] == 3 &&
          o[3] == want[0]);
    fixture_free(f);
}

TEST(plan_first_follows_the_request_facts)
{
    fixture *f = fixture_new(2, (int[]){0, -1}, (int[]){-1});
    REQUIRE(f);
    /* a subagent route to b1 before the default route to b0 */
    f->rs.r[1] = f->rs.r[0];
    memset(&f->rs.r[0], 0, sizeof f->rs.r[0]);
    f->rs.r[0].when = ROUTE_SUBAGENT;
    f->rs.r[0].npool = 1;
    f->rs.r[0].pool[0].backend = 1;
    f->rs.nroutes = 2;
    cJSON *root = cJSON_Parse("{\"model\":\"m\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\","
                              "\"content\":\"hi\"}]}");
    REQUIRE(root);
    CHECK(plan_first(&f->bs, &f->rs, root, 1)->backend == 1);
    CHECK(plan_first(&f->bs, &f->rs, root, 0)->backend == 0);
    CHECK(plan_first(&f->bs, &f->rs, NULL, 0)->backend == 0); /* no body: the default route */
    route_facts facts;
    CHECK(plan_route(&f->rs, root, 1, &facts) == &f->rs.r[0] && facts.subagent == 1);
    cJSON_Delete(root);
    fixture_free(f);
}

TEST(plan_key_only_for_a_pool)
{
    fixture *f = fixture_new(2, (int[]){0, 1, -1}, (int[]){-1});
    REQUIRE(f);
    cJSON *root = cJSON_Parse("{\"system\":\"s\",\"messages\":[{\"role\":\"user\",\"content\":"
                              "\"hi\"}]}");
    REQUIRE(root);
    plan_key k;
    CHECK(plan_key_init(&k, &f->rs.r[0], root) == 0 && k.nprefix >= 1 && k.conv != 0);
    plan_key_free(&k);
    CHECK(k.prefix == NULL && k.nprefix == 0);
    f->rs.r[0].npool = 1;
    CHECK(plan_key_init(&k, &f->rs.r[0], root) == 0 && k.prefix == NULL && k.conv == 0);
    CHECK(plan_key_init(&k, &f->rs.r[0], NULL) == 0 && k.prefix == NULL);
    plan_key_free(&k);
    cJSON_Delete(root);
    fixture_free(f);
}

TEST(plan_reason_names)
{
    CHECK(strcmp(plan_reason_name(POOL_STICKY), "rendezvous choice, same conversation") == 0);
    CHECK(strcmp(plan_reason_name(POOL_LEAST_LOADED), "least loaded") == 0);
    CHECK(strcmp(plan_reason_name(0), "least loaded") == 0);
    CHECK(strcmp(plan_reason_name((enum pool_reason)99), "least loaded") == 0);
}
