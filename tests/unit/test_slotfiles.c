/* Tests for src/core/slotfiles.c: the index of slot checkpoints reads back
 * what it wrote (and an index written before conversations were recorded),
 * finds a kind only for its own server and only once saved, gives one file
 * per conversation (two of one kind keep two files), lists the finished
 * saves newest first, fills unused files before the oldest, and ignores
 * lines that do not parse. */
#include "slotfiles.h"
#include "test.h"

TEST(slotfiles_round_trip)
{
    slotfiles s = {0}, t;
    slotfiles_put(&s, 1, 0xabcULL, 0x77ULL, 0x5eedULL, 13500, 1700000000LL);
    slotfiles_put(&s, 0, 0xffffffffffffffffULL, 0, 0x1ULL, 7, 5);
    char txt[512];
    int n = slotfiles_format(&s, txt, sizeof txt);
    REQUIRE(n > 0);
    CHECK_STR(txt, "0 ffffffffffffffff 0000000000000001 7 5 0000000000000000\n"
                   "1 0000000000000abc 0000000000005eed 13500 1700000000 0000000000000077\n");
    slotfiles_parse(&t, txt, (size_t)n);
    CHECK(memcmp(&s, &t, sizeof s) == 0);
    CHECK(slotfiles_format(&s, txt, 20) == -1);
    /* an index from before: no conversation */
    slotfiles_parse(&t, "1 0000000000000abc 0000000000005eed 13500 1700000000\n", 53);
    CHECK(t.f[1].kind == 0xabc && t.f[1].tokens == 13500 && t.f[1].conv == 0);
}

TEST(slotfiles_find_needs_kind_server_and_a_finished_save)
{
    slotfiles s = {0};
    slotfiles_put(&s, 0, 11, 0, 22, 0, 100); /* save under way */
    CHECK(slotfiles_find(&s, 11, 22) == -1);
    int out[SLOTFILES_MAX];
    CHECK(slotfiles_newest(&s, 22, out) == 0);
    slotfiles_put(&s, 0, 11, 0, 22, 900, 100);
    CHECK(slotfiles_find(&s, 11, 22) == 0);
    CHECK(slotfiles_find(&s, 11, 23) == -1); /* another model or context */
    CHECK(slotfiles_find(&s, 12, 22) == -1);
    CHECK(slotfiles_find(&s, 11, 0) == -1); /* server unknown: never */
    CHECK(slotfiles_newest(&s, 0, out) == 0);
    slotfiles_drop(&s, 0);
    CHECK(slotfiles_find(&s, 11, 22) == -1);
}

TEST(slotfiles_pick_one_file_per_conversation_then_unused_then_oldest)
{
    slotfiles s = {0};
    int a = slotfiles_pick(&s, 1, 100, 9);
    CHECK(a == 0);
    slotfiles_put(&s, a, 1, 100, 9, 10, 100);
    CHECK(slotfiles_pick(&s, 1, 100, 9) == 0); /* the same conversation: its file */
    int b = slotfiles_pick(&s, 1, 200, 9);     /* another of the same kind: its own */
    CHECK(b == 1);
    slotfiles_put(&s, b, 1, 200, 9, 10, 200);
    CHECK(slotfiles_pick(&s, 1, 200, 9) == 1);
    /* by kind (conversation 0: a mirror's slot): not a conversation's file */
    int k = slotfiles_pick(&s, 1, 0, 9);
    CHECK(k == 2);
    slotfiles_put(&s, k, 1, 0, 9, 10, 300);
    CHECK(slotfiles_pick(&s, 1, 0, 9) == 2);
    CHECK(slotfiles_pick(&s, 2, 0, 9) == 3);
    slotfiles_put(&s, 3, 2, 0, 9, 10, 400);
    CHECK(slotfiles_pick(&s, 3, 300, 9) == 0); /* all used: the oldest */
    slotfiles_put(&s, 0, 3, 300, 9, 10, 500);
    CHECK(slotfiles_pick(&s, 4, 400, 9) == 1);
    CHECK(slotfiles_pick(&s, 3, 300, 8) == 1); /* same conversation, another server */
}

TEST(slotfiles_newest_first)
{
    slotfiles s = {0};
    slotfiles_put(&s, 0, 1, 10, 9, 50, 300);
    slotfiles_put(&s, 1, 1, 20, 9, 50, 100);
    slotfiles_put(&s, 2, 1, 30, 9, 0, 900); /* under way */
    slotfiles_put(&s, 3, 1, 40, 9, 50, 200);
    int out[SLOTFILES_MAX];
    REQUIRE(slotfiles_newest(&s, 9, out) == 3);
    CHECK(out[0] == 0 && out[1] == 3 && out[2] == 1);
    slotfiles_put(&s, 1, 1, 20, 8, 50, 100); /* another server's */
    REQUIRE(slotfiles_newest(&s, 9, out) == 2);
    CHECK(out[0] == 0 && out[1] == 3);
}

TEST(slotfiles_parse_skips_what_does_not_parse)
{
    const char *txt = "0 0000000000000001 0000000000000002 30 40 0000000000000005\n"
                      "9 0000000000000001 0000000000000002 30 40\n" /* no such file */
                      "1 0000000000000000 0000000000000002 30 40\n" /* kind 0 */
                      "1 zz 0000000000000002 30 40\n"
                      "1 0000000000000003 0000000000000002 -1 40\n"
                      "1 0000000000000003 0000000000000002 30 40 extra\n"
                      "2 0000000000000003 0000000000000002 30 40 0000000000000005 more\n"
                      "garbage";
    slotfiles s;
    slotfiles_parse(&s, txt, strlen(txt));
    CHECK(s.f[0].kind == 1 && s.f[0].server == 2 && s.f[0].tokens == 30 && s.f[0].saved == 40 &&
          s.f[0].conv == 5);
    CHECK(s.f[1].kind == 0 && s.f[2].kind == 0);
    slotfiles_parse(&s, "", 0);
    CHECK(s.f[0].kind == 0 && s.f[1].kind == 0);
}
