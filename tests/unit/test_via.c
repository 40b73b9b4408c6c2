/* Tests for src/core/via.c: a gateway finds its own id in a request's via
 * list (a backend URL pointing back at it), whatever the spacing or case;
 * chains of other gateways pass up to the hop limit; the line sent upstream
 * keeps the list bounded and drops what is not an id. */
#include <string.h>

#include "test.h"
#include "via.h"

static const char *SELF = "0123456789abcdef";

TEST(via_looped_finds_self_anywhere)
{
    CHECK(!via_looped(NULL, SELF));
    CHECK(!via_looped("", SELF));
    CHECK(via_looped("0123456789abcdef", SELF));
    CHECK(via_looped("0123456789ABCDEF", SELF));
    CHECK(via_looped("fedcba9876543210, 0123456789abcdef", SELF));
    CHECK(via_looped(" ,0123456789abcdef,fedcba9876543210 ", SELF));
    CHECK(!via_looped("fedcba9876543210", SELF));
    /* a prefix or an extension of the id is another id */
    CHECK(!via_looped("0123456789abcde", SELF));
    CHECK(!via_looped("0123456789abcdef0", SELF));
    CHECK(!via_looped("x0123456789abcdef", SELF));
}

TEST(via_looped_at_the_hop_limit)
{
    char list[400] = "";
    for (int i = 0; i < VIA_MAX_HOPS - 1; i++)
        strcat(list, "aaaaaaaaaaaaaaaa, ");
    CHECK(!via_looped(list, SELF));
    strcat(list, "bbbbbbbbbbbbbbbb");
    CHECK(via_looped(list, SELF));
}

TEST(via_line_appends_self)
{
    char out[VIA_LINE_MAX];
    CHECK(strcmp(via_line(NULL, SELF, out, sizeof out), "x-anyclaude-via: 0123456789abcdef") == 0);
    CHECK(strcmp(via_line("", SELF, out, sizeof out), "x-anyclaude-via: 0123456789abcdef") == 0);
    CHECK(strcmp(via_line("fedcba9876543210", SELF, out, sizeof out),
                 "x-anyclaude-via: fedcba9876543210, 0123456789abcdef") == 0);
    /* what is not an id is dropped: no header injection, no unbounded growth */
    CHECK(strcmp(via_line("evil\r\nx: y, fedcba9876543210,zz", SELF, out, sizeof out),
                 "x-anyclaude-via: fedcba9876543210, 0123456789abcdef") == 0);
}

TEST(via_line_stays_bounded_and_loops_end)
{
    /* a long chain: the line keeps VIA_MAX_HOPS entries at most, so the
     * next gateway sees the limit and refuses */
    char list[2000] = "", out[VIA_LINE_MAX];
    for (int i = 0; i < 3 * VIA_MAX_HOPS; i++)
        strcat(list, "aaaaaaaaaaaaaaaa,");
    via_line(list, SELF, out, sizeof out);
    CHECK(strlen(out) < VIA_LINE_MAX);
    const char *v = out + strlen("x-anyclaude-via: ");
    CHECK(via_looped(v, "ffffffffffffffff"));
    int n = 1;
    for (const char *p = v; *p; p++)
        n += *p == ',';
    CHECK(n == VIA_MAX_HOPS);
    /* a buffer too small for the list still ends in self, terminated */
    char small[60];
    via_line("fedcba9876543210, fedcba9876543210", SELF, small, sizeof small);
    CHECK_STR(small, "x-anyclaude-via: fedcba9876543210, 0123456789abcdef");
}
