/* Tests for src/core/slotfiles.c: the index of slot checkpoints reads back
 * what it wrote, finds a kind only for its own server and only once saved,
 * reuses a kind's file, fills unused files before the oldest, and ignores
 * lines that do not parse. */
#include "slotfiles.h"
#include "test.h"

TEST(slotfiles_round_trip)
{
    slotfiles s = {0}, t;
    slotfiles_put(&s, 1, 0xabcULL, 0x5eedULL, 13500, 1700000000LL);
    slotfiles_put(&s, 0, 0xffffffffffffffffULL, 0x1ULL, 7, 5);
    char txt[256];
    int n = slotfiles_format(&s, txt, sizeof txt);
    REQUIRE(n > 0);
    CHECK(strcmp(txt, "0 ffffffffffffffff 0000000000000001 7 5\n"
                      "1 0000000000000abc 0000000000005eed 13500 1700000000\n") == 0);
    slotfiles_parse(&t, txt, (size_t)n);
    CHECK(memcmp(&s, &t, sizeof s) == 0);
    CHECK(slotfiles_format(&s, txt, 20) == -1);
}

TEST(slotfiles_find_needs_kind_server_and_a_finished_save)
{
    slotfiles s = {0};
    slotfiles_put(&s, 0, 11, 22, 0, 100); /* save under way */
    CHECK(slotfiles_find(&s, 11, 22) == -1);
    slotfiles_put(&s, 0, 11, 22, 900, 100);
    CHECK(slotfiles_find(&s, 11, 22) == 0);
    CHECK(slotfiles_find(&s, 11, 23) == -1); /* another model or context */
    CHECK(slotfiles_find(&s, 12, 22) == -1);
    CHECK(slotfiles_find(&s, 11, 0) == -1); /* server unknown: never */
    slotfiles_drop(&s, 0);
    CHECK(slotfiles_find(&s, 11, 22) == -1);
}

TEST(slotfiles_pick_reuses_a_kind_then_unused_then_oldest)
{
    slotfiles s = {0};
    int a = slotfiles_pick(&s, 1, 9);
    CHECK(a == 0);
    slotfiles_put(&s, a, 1, 9, 10, 100);
    CHECK(slotfiles_pick(&s, 1, 9) == 0);
    int b = slotfiles_pick(&s, 2, 9);
    CHECK(b == 1);
    slotfiles_put(&s, b, 2, 9, 10, 200);
    CHECK(slotfiles_pick(&s, 2, 9) == 1);
    CHECK(slotfiles_pick(&s, 3, 9) == 0); /* all used: the oldest */
    slotfiles_put(&s, 0, 3, 9, 10, 300);
    CHECK(slotfiles_pick(&s, 4, 9) == 1);
    CHECK(slotfiles_pick(&s, 3, 8) == 1); /* same kind, another server: not the same file */
}

TEST(slotfiles_parse_skips_what_does_not_parse)
{
    const char *txt = "0 0000000000000001 0000000000000002 30 40\n"
                      "9 0000000000000001 0000000000000002 30 40\n" /* no such file */
                      "1 0000000000000000 0000000000000002 30 40\n" /* kind 0 */
                      "1 zz 0000000000000002 30 40\n"
                      "1 0000000000000003 0000000000000002 -1 40\n"
                      "1 0000000000000003 0000000000000002 30 40 extra\n"
                      "garbage";
    slotfiles s;
    slotfiles_parse(&s, txt, strlen(txt));
    CHECK(s.f[0].kind == 1 && s.f[0].server == 2 && s.f[0].tokens == 30 && s.f[0].saved == 40);
    CHECK(s.f[1].kind == 0);
    slotfiles_parse(&s, "", 0);
    CHECK(s.f[0].kind == 0 && s.f[1].kind == 0);
}
