/* Tests for src/pool.c: a keyed conversation stays on its rendezvous member
 * whatever the load; the longest known prefix wins for a request without a
 * key; members that are down are left out and
 * their prefixes forgotten; prefix hashes ignore the billing header and
 * cache_control; the tables stay bounded. */
#include <stdlib.h>

#include "pool.h"
#include "test.h"

static pool_state *new_pool(void)
{
    pool_state *p = malloc(sizeof *p);
    if (p) pool_init(p);
    return p;
}

TEST(pool_keyed_conversation_ignores_load)
{
    pool_state *p = new_pool();
    REQUIRE(p);
    pool_member m[3] = {{0, 1, 0, 0}, {1, 1, 0, 0}, {2, 1, 0, 0}};
    int out[3], depth;
    enum pool_reason why;
    int owner[40];
    int per[3] = {0, 0, 0};
    for (int c = 0; c < 40; c++) {
        uint64_t pre[2] = {77, 1000 + (uint64_t)c};
        CHECK(pool_order(p, m, 3, 500 + (uint64_t)c, pre, 2, out, &why, &depth) == 3);
        CHECK(why == POOL_RENDEZVOUS);
        owner[c] = out[0];
        per[out[0]]++;
        pool_learn(p, out[0], 500 + (uint64_t)c, pre, 2);
    }
    CHECK(per[0] > 0 && per[1] > 0 && per[2] > 0);
    /* load and what else each member holds change nothing */
    m[owner[0]].inflight = 50;
    for (int c = 0; c < 40; c++) {
        uint64_t pre[3] = {77, 1000 + (uint64_t)c, 2000 + (uint64_t)c};
        pool_order(p, m, 3, 500 + (uint64_t)c, pre, 3, out, &why, &depth);
        CHECK(out[0] == owner[c]);
        CHECK(why == POOL_STICKY && depth == 1);
    }
    free(p);
}

TEST(pool_longest_prefix_without_session)
{
    pool_state *p = new_pool();
    REQUIRE(p);
    pool_member m[2] = {{3, 1, 0, 0}, {5, 1, 0, 0}};
    uint64_t a[4] = {1, 11, 12, 13}, b[3] = {1, 21, 22};
    pool_learn(p, 5, 0, a, 4); /* no conversation key */
    pool_learn(p, 3, 0, b, 3);
    int out[2], depth;
    enum pool_reason why;
    uint64_t next[6] = {1, 11, 12, 13, 14, 15}; /* extends a */
    pool_order(p, m, 2, 0, next, 6, out, &why, &depth);
    CHECK(out[0] == 5 && why == POOL_PREFIX && depth == 3);
    uint64_t other[3] = {1, 21, 99};
    pool_order(p, m, 2, 0, other, 3, out, &why, &depth);
    CHECK(out[0] == 3 && why == POOL_PREFIX && depth == 1);
    /* member 5 down: left out, and its prefixes forgotten */
    m[1].up = 0;
    int n = pool_order(p, m, 2, 0, next, 6, out, &why, &depth);
    CHECK(n == 1 && out[0] == 3);
    pool_forget(p, 5);
    m[1].up = 1;
    pool_order(p, m, 2, 0, next, 6, out, &why, &depth);
    CHECK(why != POOL_PREFIX);
    free(p);
}

TEST(pool_down_member_moves_conversation)
{
    pool_state *p = new_pool();
    REQUIRE(p);
    pool_member m[3] = {{0, 1, 0, 0}, {1, 1, 0, 0}, {2, 1, 0, 0}};
    uint64_t pre[2] = {7, 8};
    int out[3], depth;
    enum pool_reason why;
    pool_order(p, m, 3, 42, pre, 2, out, &why, &depth);
    int home = out[0], second = out[1];
    pool_learn(p, home, 42, pre, 2);
    pool_order(p, m, 3, 42, pre, 2, out, &why, &depth);
    CHECK(out[0] == home && why == POOL_STICKY);
    m[home].up = 0;
    pool_forget(p, home);
    int n = pool_order(p, m, 3, 42, pre, 2, out, &why, &depth);
    CHECK(n == 2 && out[0] == second && out[1] != home);
    pool_learn(p, out[0], 42, pre, 2);
    m[home].up = 1; /* back: every replica sends it home again */
    pool_order(p, m, 3, 42, pre, 2, out, &why, &depth);
    CHECK(out[0] == home && why == POOL_MOVED);
    CHECK(p->convs[home] == 0);
    free(p);
}

TEST(pool_tables_are_bounded)
{
    pool_state *p = new_pool();
    REQUIRE(p);
    uint64_t pre[POOL_MAX_PREFIXES];
    for (uint64_t i = 0; i < 20000; i++) {
        for (int k = 0; k < 8; k++)
            pre[k] = i * 131 + (uint64_t)k + 1;
        pool_learn(p, (int)(i % 4), i + 1, pre, 8);
    }
    int total = 0;
    for (int b = 0; b < 4; b++) {
        CHECK(p->convs[b] >= 0);
        total += p->convs[b];
    }
    CHECK(total <= POOL_CONV_SETS * POOL_WAYS);
    CHECK(total > POOL_CONV_SETS * POOL_WAYS / 2);
    /* the newest are still known */
    pool_member m[4] = {{0, 1, 0, 0}, {1, 1, 0, 0}, {2, 1, 0, 0}, {3, 1, 0, 0}};
    int out[4], depth;
    enum pool_reason why;
    pool_order(p, m, 4, 20000, pre, 8, out, &why, &depth);
    CHECK(why == POOL_STICKY || why == POOL_MOVED); /* still known */
    free(p);
}

TEST(pool_prefix_hashes_stable)
{
    const char *t1 =
        "{\"system\":[{\"type\":\"text\",\"text\":\"x-anthropic-billing-header: "
        "cc_version=2.1.1.abc; "
        "cch=1;\"},{\"type\":\"text\",\"text\":\"You are Claude "
        "Code.\",\"cache_control\":{\"type\":"
        "\"ephemeral\"}}],\"tools\":[{\"name\":\"Read\"}],\"messages\":[{\"role\":\"user\","
        "\"content\":"
        "[{\"type\":\"text\",\"text\":\"hi\",\"cache_control\":{\"type\":\"ephemeral\"}}]}]}";
    const char *t2 =
        "{\"system\":[{\"type\":\"text\",\"text\":\"x-anthropic-billing-header: "
        "cc_version=2.1.1.def; "
        "cch=2;\"},{\"type\":\"text\",\"text\":\"You are Claude Code.\"}],\"tools\":[{\"name\":"
        "\"Read\"}],\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
        "\"hi\"}]},"
        "{\"role\":\"assistant\",\"content\":\"hello\"},{\"role\":\"user\",\"content\":[{\"type\":"
        "\"text\",\"text\":\"more\",\"cache_control\":{\"type\":\"ephemeral\"}}]}]}";
    const char *t3 = "{\"system\":\"You are someone else.\",\"messages\":[{\"role\":\"user\","
                     "\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}]}";
    cJSON *a = cJSON_Parse(t1), *b = cJSON_Parse(t2), *c = cJSON_Parse(t3);
    REQUIRE(a && b && c);
    uint64_t ha[8], hb[8], hc[8];
    CHECK(pool_prefix_hashes(a, ha, 8) == 2);
    CHECK(pool_prefix_hashes(b, hb, 8) == 4);
    CHECK(pool_prefix_hashes(c, hc, 8) == 2);
    CHECK(ha[0] == hb[0] && ha[1] == hb[1]); /* billing header and cache_control ignored */
    CHECK(hb[2] != hb[1] && hb[3] != hb[2]);
    CHECK(hc[0] != ha[0] && hc[1] != ha[1]);
    CHECK(pool_prefix_hashes(b, hb, 2) == 2);
    for (int i = 0; i < 2; i++)
        CHECK(ha[i] != 0);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

/* Deferred tools (tool search) are no part of a conversation's identity:
 * loading one keeps every prefix hash; a plain tool still counts. */
TEST(pool_prefix_hashes_skip_deferred_tools)
{
    const char *before =
        "{\"system\":\"S\",\"tools\":[{\"name\":\"Read\"},{\"name\":\"DeferredToolPlaceholder\","
        "\"defer_loading\":true}],\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    const char *after =
        "{\"system\":\"S\",\"tools\":[{\"name\":\"Read\"},{\"name\":\"DeferredToolPlaceholder\","
        "\"defer_loading\":true},{\"name\":\"mcp__s__echo\",\"defer_loading\":true}],"
        "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    const char *plain = "{\"system\":\"S\",\"tools\":[{\"name\":\"Read\"}],\"messages\":[{\"role\":"
                        "\"user\",\"content\":\"hi\"}]}";
    const char *more = "{\"system\":\"S\",\"tools\":[{\"name\":\"Read\"},{\"name\":\"Edit\"}],"
                       "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    cJSON *a = cJSON_Parse(before), *b = cJSON_Parse(after), *c = cJSON_Parse(plain);
    cJSON *d = cJSON_Parse(more);
    REQUIRE(a && b && c && d);
    uint64_t ha[4], hb[4], hc[4], hd[4];
    CHECK(pool_prefix_hashes(a, ha, 4) == 2 && pool_prefix_hashes(b, hb, 4) == 2);
    CHECK(pool_prefix_hashes(c, hc, 4) == 2 && pool_prefix_hashes(d, hd, 4) == 2);
    CHECK(ha[0] == hb[0] && ha[1] == hb[1] && ha[0] == hc[0]);
    CHECK(hd[0] != hc[0]);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
    cJSON_Delete(d);
}
