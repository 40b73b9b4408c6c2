/* Tests for src/rendezvous.c and the pool's rendezvous choice: two replicas
 * with different histories agree; a member leaving moves only its own
 * conversations, each to its second choice; a member joining takes only
 * what it now wins; keys spread evenly. */
#include <stdlib.h>

#include "pool.h"
#include "rendezvous.h"
#include "test.h"

static uint64_t key_of(int i)
{
    return 0x1234567ULL * (uint64_t)(i + 1) + 99;
}

TEST(rendezvous_order_matches_pick)
{
    uint64_t ids[7], scores[7];
    for (int i = 0; i < 7; i++)
        ids[i] = rendezvous_id("member", 6) + (uint64_t)i;
    int out[7];
    for (int k = 0; k < 200; k++) {
        rendezvous_order(key_of(k), ids, 7, out, scores);
        CHECK(out[0] == rendezvous_pick(key_of(k), ids, 7));
        for (int i = 1; i < 7; i++)
            CHECK(scores[i - 1] >= scores[i]);
        int seen = 0;
        for (int i = 0; i < 7; i++)
            seen |= 1 << out[i];
        CHECK(seen == 0x7f);
    }
    CHECK(rendezvous_pick(1, ids, 0) == -1);
    CHECK(rendezvous_id("", 0) != 0);
    CHECK(rendezvous_id("p1", 2) != rendezvous_id("p2", 2));
}

TEST(rendezvous_spreads_evenly)
{
    const char *names[3] = {"gpu1", "gpu2", "gpu3"};
    uint64_t ids[3];
    for (int i = 0; i < 3; i++)
        ids[i] = rendezvous_id(names[i], 4);
    int count[3] = {0, 0, 0};
    for (int k = 0; k < 30000; k++)
        count[rendezvous_pick(key_of(k), ids, 3)]++;
    for (int i = 0; i < 3; i++)
        CHECK(count[i] > 9000 && count[i] < 11000);
}

/* Leaving: only the leaver's keys move, each to its own second choice.
 * Joining: only the keys the newcomer now wins move, all to it. */
TEST(rendezvous_minimal_movement)
{
    enum { N = 5, K = 20000 };
    uint64_t ids[N + 1], scores[N + 1], less[N];
    for (int i = 0; i <= N; i++) {
        char name[8] = {'m', 'e', 'm', (char)('0' + i), 0};
        ids[i] = rendezvous_id(name, 4);
    }
    int out[N + 1], moved = 0, joined = 0;
    /* member 2 leaves */
    for (int i = 0, j = 0; i < N; i++)
        if (i != 2) less[j++] = ids[i];
    for (int k = 0; k < K; k++) {
        rendezvous_order(key_of(k), ids, N, out, scores);
        int before = out[0];
        int after = rendezvous_pick(key_of(k), less, N - 1);
        int after_member = after >= 2 ? after + 1 : after; /* index back into ids */
        if (before != 2) {
            CHECK(after_member == before);
        } else {
            moved++;
            CHECK(after_member == out[1]);
        }
        /* member N joins */
        int with = rendezvous_pick(key_of(k), ids, N + 1);
        if (with != before) {
            CHECK(with == N);
            joined++;
        }
    }
    CHECK(moved > K / N - K / 25 && moved < K / N + K / 25);
    CHECK(joined > K / (N + 1) - K / 25 && joined < K / (N + 1) + K / 25);
}

/* Two replicas: one has served many conversations (sticky entries,
 * prefixes, different loads, members listed in another order), the other
 * has seen nothing. They put every conversation on the same member. */
TEST(pool_rendezvous_agrees_across_replicas)
{
    pool_state *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    REQUIRE(a && b);
    pool_init(a);
    pool_init(b);
    const char *names[4] = {"p1", "p2", "p3", "p4"};
    pool_member ma[4], mb[4];
    for (int i = 0; i < 4; i++) {
        ma[i] = (pool_member){i, 1, i * 3, rendezvous_id(names[i], 2)};
        mb[3 - i] = (pool_member){i, 1, 0, rendezvous_id(names[i], 2)};
    }
    /* replica a learned each conversation on a member other than its choice */
    for (int k = 0; k < 300; k++) {
        uint64_t pre[3] = {7, key_of(k), key_of(k) + 1};
        pool_learn(a, k % 4, key_of(k), pre, 3);
    }
    int sticky = 0, moved = 0;
    for (int k = 0; k < 300; k++) {
        uint64_t pre[4] = {7, key_of(k), key_of(k) + 1, key_of(k) + 2};
        int oa[4], ob[4], da, db;
        enum pool_reason ra, rb;
        CHECK(pool_order(a, ma, 4, key_of(k), pre, 4, oa, &ra, &da) == 4);
        CHECK(pool_order(b, mb, 4, key_of(k), pre, 4, ob, &rb, &db) == 4);
        for (int i = 0; i < 4; i++)
            CHECK(oa[i] == ob[i]);
        CHECK(rb == POOL_RENDEZVOUS && db == 0);
        CHECK(ra == POOL_STICKY || ra == POOL_MOVED);
        if (ra == POOL_STICKY) {
            sticky++;
            CHECK(da == 2); /* a knows the member holds two messages of it */
        } else {
            moved++;
        }
    }
    CHECK(sticky > 30 && moved > 150);
    /* a member down on both: both move its conversations alike */
    ma[1].up = 0;
    mb[2].up = 0;
    for (int k = 0; k < 300; k++) {
        uint64_t pre[2] = {7, key_of(k)};
        int oa[4], ob[4], d;
        enum pool_reason r;
        CHECK(pool_order(a, ma, 4, key_of(k), pre, 2, oa, &r, &d) == 3);
        CHECK(pool_order(b, mb, 4, key_of(k), pre, 2, ob, &r, &d) == 3);
        CHECK(oa[0] == ob[0] && oa[0] != 1);
    }
    free(a);
    free(b);
}

TEST(pool_conversation_key_is_first_message)
{
    uint64_t pre[3] = {5, 6, 7};
    CHECK(pool_conversation_key(pre, 3) == 6);
    CHECK(pool_conversation_key(pre, 2) == 6);
    CHECK(pool_conversation_key(pre, 1) == 5);
    CHECK(pool_conversation_key(pre, 0) == 0);
}
