/* Tests for src/affinity.c: conversations keep their slot; a new session
 * takes the slot of the same kind; one-shot requests are evicted before
 * conversations that came back; LRU otherwise. */
#include "../../src/affinity.h"
#include "test.h"

enum { MAIN = 1, SUB = 2, BG = 3 }; /* kinds: system prompt + tools */

TEST(affinity_disabled)
{
    affinity a;
    affinity_init(&a, 0);
    CHECK(affinity_slot(&a, 42, MAIN, NULL, 0) == -1);
}

TEST(affinity_main_survives_background_and_subagent)
{
    affinity a;
    affinity_init(&a, 2);
    int reused;
    int main_slot = affinity_slot(&a, 100, MAIN, &reused, 0);
    CHECK(reused == 0);
    CHECK(affinity_slot(&a, 100, MAIN, &reused, 0) == main_slot); /* turn 2 */
    CHECK(reused == 1);
    int bg = affinity_slot(&a, 200, BG, NULL, 0); /* title request: one-shot */
    CHECK(bg != main_slot);
    int sub = affinity_slot(&a, 300, SUB, NULL, 0); /* subagent: takes the one-shot's slot */
    CHECK(sub == bg);
    CHECK(affinity_slot(&a, 100, MAIN, &reused, 0) == main_slot);
    CHECK(reused == 1);
    CHECK(affinity_slot(&a, 300, SUB, &reused, 0) == sub); /* subagent turn 2 */
    CHECK(reused == 1);
    /* a new session (same kind as the main conversation) takes its slot */
    CHECK(affinity_slot(&a, 500, MAIN, &reused, 0) == main_slot);
    CHECK(reused == 2);
    /* with three slots the main conversation keeps its slot */
    affinity_init(&a, 3);
    main_slot = affinity_slot(&a, 100, MAIN, NULL, 0);
    affinity_slot(&a, 100, MAIN, NULL, 0);
    int s1 = affinity_slot(&a, 300, SUB, NULL, 0);
    affinity_slot(&a, 300, SUB, NULL, 0);
    int b1 = affinity_slot(&a, 200, BG, NULL, 0);
    int b2 = affinity_slot(&a, 201, BG, NULL, 0); /* same kind as b1: takes it */
    CHECK(b2 == b1);
    int b3 = affinity_slot(&a, 202, 9, NULL, 0); /* other kind: LRU one-shot, not main or sub */
    CHECK(b3 == b1);
    CHECK(affinity_slot(&a, 100, MAIN, &reused, 0) == main_slot && reused == 1);
    CHECK(affinity_slot(&a, 300, SUB, &reused, 0) == s1 && reused == 1);
}

TEST(affinity_lru_when_all_returned)
{
    affinity a;
    affinity_init(&a, 2);
    int x = affinity_slot(&a, 1, 10, NULL, 0);
    affinity_slot(&a, 1, 10, NULL, 0);
    int y = affinity_slot(&a, 2, 20, NULL, 0);
    affinity_slot(&a, 2, 20, NULL, 0);
    affinity_slot(&a, 1, 10, NULL, 0); /* x is most recent now */
    CHECK(affinity_slot(&a, 3, 30, NULL, 0) == y);
    CHECK(x != y);
}

TEST(affinity_hash_is_fnv1a)
{
    CHECK(affinity_hash(AFFINITY_HASH_INIT, "", 0) == 14695981039346656037ULL);
    CHECK(affinity_hash(AFFINITY_HASH_INIT, "a", 1) == 0xaf63dc4c8601ec8cULL);
}

/* Two conversations of one kind alternating on a server with a free slot
 * each keep a slot of their own (no take-over while the other is active);
 * a new session after the old one went quiet still takes its slot; a
 * conversation that lost its slot to its kind gets a free one when it
 * comes back. */
/* One request that starts and ends at time t. */
static int use(affinity *a, uint64_t key, uint64_t kind, int *reused, double t)
{
    int s = affinity_slot(a, key, kind, reused, t);
    affinity_done(a, s, key, t);
    return s;
}

TEST(affinity_active_conversations_do_not_fight)
{
    affinity a;
    affinity_init(&a, 2);
    int reused;
    double t = 1000;
    int s1 = use(&a, 100, MAIN, &reused, t);
    CHECK(use(&a, 100, MAIN, &reused, t += 500) == s1); /* a conversation now */
    int s2 = use(&a, 200, MAIN, &reused, t += 500);     /* 1 s later: active */
    CHECK(s2 != s1 && reused == 0);
    for (int i = 0; i < 5; i++) {
        CHECK(use(&a, 100, MAIN, &reused, t += 700) == s1 && reused == 1);
        CHECK(use(&a, 200, MAIN, &reused, t += 700) == s2 && reused == 1);
    }
    /* quiet for a minute: a new session takes the least recently used of them */
    int s3 = use(&a, 300, MAIN, &reused, t += 60000);
    CHECK(s3 == s1 && reused == 2);

    /* one slot busy, one free, but the same-kind holder is quiet: take-over */
    affinity_init(&a, 3);
    t = 1000;
    s1 = use(&a, 100, MAIN, NULL, t);
    use(&a, 100, MAIN, NULL, t += 100);
    s2 = use(&a, 200, MAIN, &reused, t += 30000);
    CHECK(s2 == s1 && reused == 2);
    /* the one it displaced comes back at once: a free slot, not a fight */
    int back = use(&a, 100, MAIN, &reused, t += 100);
    CHECK(back != s1 && reused == 0);
    CHECK(use(&a, 200, MAIN, &reused, t += 100) == s1 && reused == 1);
    CHECK(use(&a, 100, MAIN, &reused, t += 100) == back && reused == 1);
    /* without a free slot an active holder still gives way (better than a cold prefill) */
    affinity_init(&a, 1);
    use(&a, 100, MAIN, NULL, 1000);
    use(&a, 100, MAIN, NULL, 1100);
    CHECK(use(&a, 200, MAIN, &reused, 1200) == 0 && reused == 2);
}

/* A conversation with a request in flight is active however long the
 * request takes; it stays active for AFFINITY_ACTIVE_MS after it ends. */
TEST(affinity_in_flight_is_active)
{
    affinity a;
    affinity_init(&a, 2);
    int reused;
    int s1 = affinity_slot(&a, 100, MAIN, NULL, 1000);
    affinity_done(&a, s1, 100, 2000);
    affinity_slot(&a, 100, MAIN, NULL, 3000); /* turn 2: a 60 s generation */
    int s2 = affinity_slot(&a, 200, MAIN, &reused, 40000);
    CHECK(s2 != s1 && reused == 0); /* still generating: not taken over */
    affinity_done(&a, s1, 100, 63000);
    affinity_done(&a, s2, 200, 63000);
    affinity_done(&a, s1, 999, 63000); /* another key: ignored */
    CHECK(a.slot[s1].inflight == 0);
    /* ended 5 s ago: still active; a third conversation takes the LRU of its kind
     * only because no slot is free */
    int s3 = affinity_slot(&a, 300, MAIN, &reused, 68000);
    CHECK(reused == 2);
    (void)s3;
    /* one slot, a long request in flight, then ended long ago: taken over */
    affinity_init(&a, 3);
    s1 = affinity_slot(&a, 100, MAIN, NULL, 1000);
    affinity_slot(&a, 100, MAIN, NULL, 2000);
    affinity_done(&a, s1, 100, 3000);
    affinity_done(&a, s1, 100, 3000);
    CHECK(affinity_slot(&a, 200, MAIN, &reused, 30000) == s1 && reused == 2);
}

/* Warm start: a one-request prefill of the saved prefix, ended at once, is
 * taken over by the next session of its kind at once (bench/cache found the
 * warm-started slot skipped while its prefill counted as in flight). */
TEST(affinity_warm_start_slot_is_taken_over)
{
    affinity a;
    affinity_init(&a, 2);
    int reused;
    int w = affinity_slot(&a, 7, MAIN, NULL, 1000);
    affinity_done(&a, w, 7, 1000);
    CHECK(affinity_slot(&a, 100, MAIN, &reused, 1500) == w && reused == 2);
}
