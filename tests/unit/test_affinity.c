/* Tests for src/affinity.c: conversations keep their slot; a new session
 * takes the slot of the same kind; one-shot requests are evicted before
 * conversations that came back; LRU otherwise. */
#include "affinity.h"
#include "test.h"

#include <string.h>

enum { MAIN = 1, SUB = 2, BG = 3 }; /* kinds: system prompt + tools */

TEST(affinity_disabled)
{
    affinity a;
    affinity_init(&a, 0);
    CHECK(affinity_slot(&a, 42, MAIN, 0, NULL, 0) == -1);
}

TEST(affinity_main_survives_background_and_subagent)
{
    affinity a;
    affinity_init(&a, 2);
    int reused;
    int main_slot = affinity_slot(&a, 100, MAIN, 0, &reused, 0);
    CHECK(reused == 0);
    CHECK(affinity_slot(&a, 100, MAIN, 0, &reused, 0) == main_slot); /* turn 2 */
    CHECK(reused == 1);
    int bg = affinity_slot(&a, 200, BG, 0, NULL, 0); /* title request: one-shot */
    CHECK(bg != main_slot);
    int sub = affinity_slot(&a, 300, SUB, 0, NULL, 0); /* subagent: takes the one-shot's slot */
    CHECK(sub == bg);
    CHECK(affinity_slot(&a, 100, MAIN, 0, &reused, 0) == main_slot);
    CHECK(reused == 1);
    CHECK(affinity_slot(&a, 300, SUB, 0, &reused, 0) == sub); /* subagent turn 2 */
    CHECK(reused == 1);
    /* a new session (same kind as the main conversation) takes its slot */
    CHECK(affinity_slot(&a, 500, MAIN, 0, &reused, 0) == main_slot);
    CHECK(reused == 2);
    /* with three slots the main conversation keeps its slot */
    affinity_init(&a, 3);
    main_slot = affinity_slot(&a, 100, MAIN, 0, NULL, 0);
    affinity_slot(&a, 100, MAIN, 0, NULL, 0);
    int s1 = affinity_slot(&a, 300, SUB, 0, NULL, 0);
    affinity_slot(&a, 300, SUB, 0, NULL, 0);
    int b1 = affinity_slot(&a, 200, BG, 0, NULL, 0);
    int b2 = affinity_slot(&a, 201, BG, 0, NULL, 0); /* same kind as b1: takes it */
    CHECK(b2 == b1);
    int b3 = affinity_slot(&a, 202, 9, 0, NULL, 0); /* other kind: LRU one-shot, not main or sub */
    CHECK(b3 == b1);
    CHECK(affinity_slot(&a, 100, MAIN, 0, &reused, 0) == main_slot && reused == 1);
    CHECK(affinity_slot(&a, 300, SUB, 0, &reused, 0) == s1 && reused == 1);
}

TEST(affinity_lru_when_all_returned)
{
    affinity a;
    affinity_init(&a, 2);
    int x = affinity_slot(&a, 1, 10, 0, NULL, 0);
    affinity_slot(&a, 1, 10, 0, NULL, 0);
    int y = affinity_slot(&a, 2, 20, 0, NULL, 0);
    affinity_slot(&a, 2, 20, 0, NULL, 0);
    affinity_slot(&a, 1, 10, 0, NULL, 0); /* x is most recent now */
    CHECK(affinity_slot(&a, 3, 30, 0, NULL, 0) == y);
    CHECK(x != y);
}

TEST(affinity_hash_values)
{
    /* under eight bytes it is FNV-1a */
    CHECK(affinity_hash(AFFINITY_HASH_INIT, "", 0) == 14695981039346656037ULL);
    CHECK(affinity_hash(AFFINITY_HASH_INIT, "a", 1) == 0xaf63dc4c8601ec8cULL);
    /* pinned: a change of function changes every slot and pool key */
    CHECK(affinity_hash(AFFINITY_HASH_INIT, "0123456789abcdefXYZ", 19) == 0x0babdd02798e0f5fULL);
    /* every byte counts, in words and in the tail alike */
    char a[40], b[40];
    memset(a, 'x', sizeof a);
    uint64_t h0 = affinity_hash(AFFINITY_HASH_INIT, a, sizeof a);
    for (size_t i = 0; i < sizeof a; i++) {
        memcpy(b, a, sizeof a);
        b[i] ^= 1;
        CHECK(affinity_hash(AFFINITY_HASH_INIT, b, sizeof b) != h0);
    }
    /* the same bytes at another length differ */
    CHECK(affinity_hash(AFFINITY_HASH_INIT, a, 16) != affinity_hash(AFFINITY_HASH_INIT, a, 17));
}

/* Two conversations of one kind alternating on a server with a free slot
 * each keep a slot of their own (no take-over while the other is active);
 * a new session after the old one went quiet still takes its slot; a
 * conversation that lost its slot to its kind gets a free one when it
 * comes back. */
/* One request that starts and ends at time t. */
static int use(affinity *a, uint64_t key, uint64_t kind, int *reused, double t)
{
    int s = affinity_slot(a, key, kind, 0, reused, t);
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
    int s1 = affinity_slot(&a, 100, MAIN, 0, NULL, 1000);
    affinity_done(&a, s1, 100, 2000);
    affinity_slot(&a, 100, MAIN, 0, NULL, 3000); /* turn 2: a 60 s generation */
    int s2 = affinity_slot(&a, 200, MAIN, 0, &reused, 40000);
    CHECK(s2 != s1 && reused == 0); /* still generating: not taken over */
    affinity_done(&a, s1, 100, 63000);
    affinity_done(&a, s2, 200, 63000);
    affinity_done(&a, s1, 999, 63000); /* another key: ignored */
    CHECK(a.slot[s1].inflight == 0);
    /* ended 5 s ago: still active; a third conversation takes the LRU of its kind
     * only because no slot is free */
    int s3 = affinity_slot(&a, 300, MAIN, 0, &reused, 68000);
    CHECK(reused == 2);
    (void)s3;
    /* one slot, a long request in flight, then ended long ago: taken over */
    affinity_init(&a, 3);
    s1 = affinity_slot(&a, 100, MAIN, 0, NULL, 1000);
    affinity_slot(&a, 100, MAIN, 0, NULL, 2000);
    affinity_done(&a, s1, 100, 3000);
    affinity_done(&a, s1, 100, 3000);
    CHECK(affinity_slot(&a, 200, MAIN, 0, &reused, 30000) == s1 && reused == 2);
}

/* Warm start: a one-request prefill of the saved prefix, ended at once, is
 * taken over by the next session of its kind at once (bench/cache found the
 * warm-started slot skipped while its prefill counted as in flight). */
TEST(affinity_warm_start_slot_is_taken_over)
{
    affinity a;
    affinity_init(&a, 2);
    int reused;
    int w = affinity_slot(&a, 7, MAIN, 0, NULL, 1000);
    affinity_done(&a, w, 7, 1000);
    CHECK(affinity_slot(&a, 100, MAIN, 0, &reused, 1500) == w && reused == 2);
}

/* Issue 11's scenarios, one by one. */

/* Five back-to-back `claude -p` sessions (short conversations): each new
 * one takes the finished one's slot at once, although it ended a moment
 * ago, and a free slot stays free. Without the short flag (interactive) a
 * session that answered a moment ago still counts as active. */
TEST(affinity_back_to_back_p_sessions)
{
    affinity a;
    affinity_init(&a, 2);
    int reused, first = -1;
    double t = 1000;
    for (uint64_t k = 100; k < 105; k++) {
        int s = affinity_slot(&a, k, MAIN, AFFINITY_SHORT, &reused, t);
        affinity_done(&a, s, k, t += 300);
        s = affinity_slot(&a, k, MAIN, AFFINITY_SHORT, &reused, t += 200); /* --continue */
        CHECK(reused == 1);
        affinity_done(&a, s, k, t += 300);
        if (first < 0) first = s;
        CHECK(s == first);
        t += 500; /* the next session starts half a second later */
    }
    /* a -p session with a request in flight is not taken */
    int s = affinity_slot(&a, 200, MAIN, AFFINITY_SHORT, &reused, t);
    CHECK(affinity_slot(&a, 201, MAIN, AFFINITY_SHORT, &reused, t + 10) != s && reused == 0);
    /* interactive sessions: a fresh answer keeps the slot its own */
    affinity_init(&a, 2);
    s = affinity_slot(&a, 300, MAIN, 0, NULL, 1000);
    affinity_done(&a, s, 300, 1500);
    affinity_slot(&a, 300, MAIN, 0, NULL, 1600);
    affinity_done(&a, s, 300, 2000);
    CHECK(affinity_slot(&a, 301, MAIN, 0, &reused, 2500) != s && reused == 0);
}

/* An interactive session after an earlier one whose gateway has exited
 * (the ledger says it left a prefix of this kind in slot 1): the first
 * question goes there at once, not to the free slot 0. */
TEST(affinity_new_gateway_takes_left_prefix)
{
    affinity a;
    affinity_init(&a, 2);
    affinity_external(&a, 1, AFFINITY_EXT_LEFT, MAIN);
    CHECK(affinity_holds(&a, MAIN) == 1);
    CHECK(affinity_prime(&a, MAIN, 1000) == -1); /* held: not re-primed */
    int reused;
    CHECK(affinity_slot(&a, 500, MAIN, 0, &reused, 1500) == 1 && reused == 2);
    /* a prefix of another kind left behind is not taken while a slot is free */
    affinity_init(&a, 2);
    affinity_external(&a, 0, AFFINITY_EXT_LEFT, SUB);
    CHECK(affinity_slot(&a, 500, MAIN, 0, &reused, 1500) == 1 && reused == 0);
    /* the server restarted: what the ledger says is gone */
    affinity_init(&a, 2);
    affinity_external(&a, 1, AFFINITY_EXT_LEFT, MAIN);
    affinity_external(&a, 1, AFFINITY_EXT_EMPTY, 0);
    CHECK(affinity_holds(&a, MAIN) == -1);
    CHECK(affinity_prime(&a, MAIN, 1000) == 0);
}

/* Warm start primes a free slot per kind; the first conversation of a
 * kind claims its primed slot at once (no waiting for it to go quiet); a
 * kind already primed is not primed twice; priming never evicts a
 * conversation. */
TEST(affinity_primed_slot_claimed_at_once)
{
    affinity a;
    affinity_init(&a, 3);
    int p1 = affinity_prime(&a, MAIN, 1000);
    int p2 = affinity_prime(&a, SUB, 1000);
    CHECK(p1 >= 0 && p2 >= 0 && p1 != p2);
    CHECK(affinity_prime(&a, MAIN, 1000) == -1);
    int reused;
    CHECK(affinity_slot(&a, 100, MAIN, 0, &reused, 1001) == p1 && reused == 2);
    CHECK(affinity_slot(&a, 300, SUB, AFFINITY_SHORT, &reused, 1002) == p2 && reused == 2);
    int p3 = affinity_prime(&a, BG, 1003); /* the last free slot */
    CHECK(p3 >= 0 && p3 != p1 && p3 != p2);
    CHECK(affinity_prime(&a, 9, 1004) == -1); /* conversations everywhere else */
    /* a primed prefix of another kind is replaced before a conversation is */
    affinity_init(&a, 2);
    affinity_slot(&a, 100, MAIN, 0, NULL, 1000);
    affinity_slot(&a, 100, MAIN, 0, NULL, 1000); /* a conversation: two requests */
    int w = affinity_prime(&a, SUB, 1000);
    CHECK(affinity_prime(&a, BG, 2000) == -1); /* SUB's slot is primed, MAIN's is a conversation */
    CHECK(affinity_slot(&a, 7, BG, 0, &reused, 3000) == w);
}

/* Two terminals, two gateways, one server: each gateway's ledger sync
 * marks the other's slot foreign, so the second conversation of the same
 * kind goes to the other slot and they never take turns evicting each
 * other. With every slot foreign, a slot is still given (LRU). */
TEST(affinity_two_gateways_do_not_fight)
{
    affinity g1, g2;
    affinity_init(&g1, 2);
    affinity_init(&g2, 2);
    int reused;
    double t = 1000;
    int s1 = affinity_slot(&g1, 100, MAIN, 0, NULL, t);
    affinity_done(&g1, s1, 100, t += 500);
    affinity_external(&g2, s1, AFFINITY_EXT_FOREIGN, 0); /* g2 reads the ledger */
    int s2 = affinity_slot(&g2, 200, MAIN, 0, &reused, t += 60000);
    CHECK(s2 != s1 && reused == 0); /* quiet for a minute, but another gateway's */
    affinity_done(&g2, s2, 200, t += 500);
    affinity_external(&g1, s2, AFFINITY_EXT_FOREIGN, 0);
    for (int i = 0; i < 5; i++) {
        CHECK(affinity_slot(&g1, 100, MAIN, 0, &reused, t += 20000) == s1 && reused == 1);
        affinity_done(&g1, s1, 100, t += 500);
        CHECK(affinity_slot(&g2, 200, MAIN, 0, &reused, t += 20000) == s2 && reused == 1);
        affinity_done(&g2, s2, 200, t += 500);
    }
    /* a third gateway finds both slots foreign: it still gets one */
    affinity g3;
    affinity_init(&g3, 2);
    affinity_external(&g3, 0, AFFINITY_EXT_FOREIGN, 0);
    affinity_external(&g3, 1, AFFINITY_EXT_FOREIGN, 0);
    CHECK(affinity_slot(&g3, 300, MAIN, 0, NULL, t) >= 0);
    /* the other gateway exited: its slot becomes a claimable prefix */
    affinity_external(&g2, s1, AFFINITY_EXT_LEFT, MAIN);
    CHECK(affinity_slot(&g2, 201, MAIN, 0, &reused, t += 1000) == s1 && reused == 2);
}

/* A conversation whose slot another gateway took over comes back to a
 * slot of its own (a free one), not to a fight over the old one. */
TEST(affinity_displaced_by_other_gateway)
{
    affinity a;
    affinity_init(&a, 2);
    int reused;
    int s = affinity_slot(&a, 100, MAIN, 0, NULL, 1000);
    affinity_done(&a, s, 100, 1500);
    affinity_slot(&a, 100, MAIN, 0, NULL, 2000);
    affinity_done(&a, s, 100, 2500);
    affinity_external(&a, s, AFFINITY_EXT_FOREIGN, 0);
    int back = affinity_slot(&a, 100, MAIN, 0, &reused, 30000);
    CHECK(back != s && reused == 0);
    /* the other gateway's entry goes away: the slot is free again */
    affinity_external(&a, s, AFFINITY_EXT_NONE, 0);
    CHECK(a.slot[s].key == 0 && !a.slot[s].foreign);
}

/* Project X, then project Y, then X again (kinds differ: the system prompt
 * names the project's memory directory): with two slots X's second session
 * finds X's prefix; a file edited between two sessions changes only the
 * messages, not the kind, so the next session still takes its slot. */
TEST(affinity_projects_and_edits)
{
    enum { X = 11, Y = 12 };
    affinity a;
    affinity_init(&a, 2);
    int reused;
    double t = 1000;
    int x = affinity_slot(&a, 100, X, AFFINITY_SHORT, NULL, t);
    affinity_done(&a, x, 100, t += 500);
    int y = affinity_slot(&a, 200, Y, AFFINITY_SHORT, &reused, t += 500);
    CHECK(y != x && reused == 0);
    affinity_done(&a, y, 200, t += 500);
    CHECK(affinity_slot(&a, 300, X, AFFINITY_SHORT, &reused, t += 500) == x && reused == 2);
    affinity_done(&a, x, 300, t += 500);
    /* file edited, new session in X */
    CHECK(affinity_slot(&a, 400, X, AFFINITY_SHORT, &reused, t += 500) == x && reused == 2);
}

/* A subagent and Haiku background requests interleaved with the main loop
 * (three slots): the main conversation keeps its slot throughout; a second
 * subagent of the same kind follows the first at once. */
TEST(affinity_subagents_and_background_interleaved)
{
    affinity a;
    affinity_init(&a, 3);
    int reused;
    double t = 1000;
    int m = affinity_slot(&a, 100, MAIN, 0, NULL, t);
    affinity_done(&a, m, 100, t += 100);
    int bg = affinity_slot(&a, 900, BG, 0, NULL, t += 10); /* Haiku title */
    affinity_done(&a, bg, 900, t += 10);
    CHECK(bg != m);
    CHECK(affinity_slot(&a, 100, MAIN, 0, &reused, t += 10) == m && reused == 1);
    int sub = affinity_slot(&a, 300, SUB, AFFINITY_SHORT, NULL, t += 10);
    CHECK(sub != m);
    affinity_done(&a, sub, 300, t += 100);
    affinity_done(&a, m, 100, t += 10);
    int sub2 = affinity_slot(&a, 301, SUB, AFFINITY_SHORT, &reused, t += 10);
    CHECK(sub2 == sub && reused == 2);
    affinity_done(&a, sub2, 301, t += 100);
    int bg2 = affinity_slot(&a, 901, BG, 0, NULL, t += 10);
    CHECK(bg2 != m);
    affinity_done(&a, bg2, 901, t += 10);
    CHECK(affinity_slot(&a, 100, MAIN, 0, &reused, t += 10) == m && reused == 1);
}

/* Background priming: while an interactive conversation is live, a free
 * slot gets a spare copy of its prefix, and a second session of its kind
 * (another terminal, another gateway) claims that one at once instead of
 * starting cold in an empty slot; no spare when a claimable prefix of the
 * kind exists already (an idle -p session), or no slot is free. */
TEST(affinity_spare_prefix_for_the_next_session)
{
    affinity a;
    affinity_init(&a, 2);
    int reused;
    int s = affinity_slot(&a, 100, MAIN, 0, NULL, 1000);
    affinity_done(&a, s, 100, 1500);
    int spare = affinity_prime_spare(&a, MAIN, 1500);
    CHECK(spare >= 0 && spare != s);
    CHECK(affinity_prime_spare(&a, MAIN, 1600) == -1); /* one is enough */
    CHECK(affinity_slot(&a, 200, MAIN, 0, &reused, 2000) == spare && reused == 2);
    CHECK(affinity_slot(&a, 100, MAIN, 0, &reused, 2500) == s && reused == 1);
    CHECK(affinity_prime_spare(&a, MAIN, 3000) == -1); /* no free slot */
    /* an idle -p session gets a spare too (it may be --continue'd; a second
     * -p session running beside it takes the spare, not its slot) */
    affinity_init(&a, 2);
    s = affinity_slot(&a, 300, MAIN, AFFINITY_SHORT, NULL, 1000);
    affinity_done(&a, s, 300, 1500);
    spare = affinity_prime_spare(&a, MAIN, 1500);
    CHECK(spare >= 0 && spare != s);
    CHECK(affinity_slot(&a, 301, MAIN, AFFINITY_SHORT, &reused, 1600) == spare && reused == 2);
    CHECK(affinity_slot(&a, 300, MAIN, AFFINITY_SHORT, &reused, 1700) == s && reused == 1);
}

/* Slot copy (--slot-save-path): every free slot gets a copy of the prefix
 * that just ran, even when one of its kind is already claimable; a new
 * project (another kind) then lands on a copy (it shares the start of the
 * system prompt), never on an empty slot; no slot is free: -1. */
TEST(affinity_fill_copies_into_every_free_slot)
{
    affinity a;
    affinity_init(&a, 4);
    int reused;
    enum { PROJ_Y = 4 };
    int x = affinity_slot(&a, 100, MAIN, AFFINITY_SHORT, NULL, 1000);
    affinity_done(&a, x, 100, 1500);
    int filled[4] = {0, 0, 0, 0};
    for (int i = 0; i < 3; i++) {
        int d = affinity_fill(&a, MAIN, 1600);
        CHECK(d >= 0 && d != x && !filled[d]);
        if (d >= 0) filled[d] = 1;
    }
    CHECK(affinity_fill(&a, MAIN, 1700) == -1);
    /* project Y: no free slot left; it takes a copy or the finished -p
     * session, both holding X's prefix */
    int y = affinity_slot(&a, 200, PROJ_Y, AFFINITY_SHORT, &reused, 2000);
    CHECK(y >= 0 && (y == x || filled[y]));
    /* X again: a claimable prefix of its kind */
    int x2 = affinity_slot(&a, 300, MAIN, AFFINITY_SHORT, &reused, 2500);
    CHECK(x2 != y && reused == 2);
    affinity_init(&a, 0);
    CHECK(affinity_fill(&a, MAIN, 0) == -1);
}

/* Two terminals of one kind (both interactive in one project), both
 * gateways exited (or both conversations restored from checkpoints after
 * llama-server restarted): each conversation that comes back takes its
 * own prefix, whichever comes first and whatever the LRU order says; a
 * new conversation takes a prefix nobody owns before one somebody may come
 * back to, and an owned one only when there is nothing else. */
/* n slots, each a prefix of MAIN left behind; slot i owned by owners[i]
 * (0: nobody's) */
static void left_prefixes(affinity *a, int n, const uint64_t *owners)
{
    affinity_init(a, n);
    for (int i = 0; i < n; i++) {
        affinity_external(a, i, AFFINITY_EXT_LEFT, MAIN);
        affinity_owner(a, i, owners[i]);
    }
}

TEST(affinity_two_terminals_come_back_to_their_own)
{
    for (int order = 0; order < 2; order++) {
        affinity a;
        left_prefixes(&a, 2, (const uint64_t[]){100, 200});
        int reused;
        uint64_t first = order ? 200 : 100, second = order ? 100 : 200;
        CHECK(affinity_slot(&a, first, MAIN, 0, &reused, 1000) == (order ? 1 : 0) && reused == 2);
        CHECK(affinity_slot(&a, second, MAIN, 0, &reused, 1001) == (order ? 0 : 1) && reused == 2);
        /* and they keep them */
        CHECK(affinity_slot(&a, 100, MAIN, 0, &reused, 2000) == 0 && reused == 1);
        CHECK(affinity_slot(&a, 200, MAIN, 0, &reused, 2001) == 1 && reused == 1);
    }
    /* a new conversation: the unowned prefix first, though it is newer */
    affinity a;
    left_prefixes(&a, 3, (const uint64_t[]){100, 200, 0});
    int reused;
    CHECK(affinity_slot(&a, 300, MAIN, 0, &reused, 1000) == 2 && reused == 2);
    /* then an owned one (LRU) rather than a cold prefill */
    CHECK(affinity_slot(&a, 400, MAIN, 0, &reused, 1001) == 0 && reused == 2);
    /* the owner whose prefix was taken is a new conversation now: an owned
     * prefix before the slot of a live one */
    CHECK(affinity_slot(&a, 100, MAIN, 0, &reused, 1002) == 1 && reused == 2);
    /* ownership is for over prefixes only, and a sync resets it */
    affinity_init(&a, 2);
    affinity_slot(&a, 100, MAIN, 0, NULL, 1000);
    affinity_owner(&a, 0, 200);
    CHECK(a.slot[0].owner == 0);
    affinity_external(&a, 1, AFFINITY_EXT_LEFT, MAIN);
    affinity_owner(&a, 1, 300);
    affinity_external(&a, 1, AFFINITY_EXT_LEFT, MAIN);
    CHECK(a.slot[1].owner == 0);
    /* another gateway's slot: its conversation is noted, never taken back
     * here (it runs there), and a sync without an owner forgets it */
    affinity_init(&a, 2);
    affinity_external(&a, 0, AFFINITY_EXT_FOREIGN, 0);
    affinity_owner(&a, 0, 500);
    CHECK(a.slot[0].owner == 500);
    CHECK(affinity_slot(&a, 500, MAIN, 0, &reused, 1000) == 1);
    affinity_external(&a, 0, AFFINITY_EXT_FOREIGN, 0);
    CHECK(a.slot[0].owner == 0);
    /* a subagent's conversation is marked (checkpoints keep one per kind) */
    affinity_init(&a, 2);
    int sa = affinity_slot(&a, 700, SUB, AFFINITY_SHORT | AFFINITY_AGENT, NULL, 1000);
    int sm = affinity_slot(&a, 800, MAIN, 0, NULL, 1001);
    CHECK(a.slot[sa].is_agent && a.slot[sa].is_short && !a.slot[sm].is_agent);
    /* a conversation of another kind never takes back by owner */
    affinity_owner(&a, 1, 300);
    CHECK(affinity_slot(&a, 300, SUB, 0, &reused, 2000) != 1 || reused != 2);
}
