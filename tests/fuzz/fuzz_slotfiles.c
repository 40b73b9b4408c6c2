/*
 * fuzz_slotfiles: the checkpoint index (src/core/slotfiles.c) read from
 * arbitrary bytes: the file lives in the state directory, where an older
 * version, a crash mid-write or a user's editor may have left anything.
 *
 * Checks: every entry read is a usable one (kind set, tokens and time not
 * negative); what is read writes out and reads back the same; the newest
 * list is a permutation of the finished saves of that server, newest first;
 * a pick is always a file number in range.
 */
#include <string.h>

#include "fuzz_util.h"
#include "slotfiles.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    slotfiles s, t;
    slotfiles_parse(&s, (const char *)data, size);
    for (int i = 0; i < SLOTFILES_MAX; i++)
        FUZZ_CHECK(!s.f[i].kind || (s.f[i].tokens >= 0 && s.f[i].saved >= 0),
                   "entry %d: tokens %ld saved %lld", i, s.f[i].tokens, s.f[i].saved);
    char out[SLOTFILES_MAX * 128];
    int n = slotfiles_format(&s, out, sizeof out);
    FUZZ_CHECK(n >= 0, "the index does not fit %zu bytes", sizeof out);
    slotfiles_parse(&t, out, (size_t)n);
    FUZZ_CHECK(memcmp(&s, &t, sizeof s) == 0, "the index does not read back: %s", out);
    for (int k = 0; k < SLOTFILES_MAX; k++) {
        uint64_t server = s.f[k].server;
        int order[SLOTFILES_MAX], seen = 0;
        int m = slotfiles_newest(&s, server, order);
        FUZZ_CHECK(m >= 0 && m <= SLOTFILES_MAX, "newest: %d", m);
        for (int j = 0; j < m; j++) {
            const slotfile *f = &s.f[order[j]];
            FUZZ_CHECK(f->kind && f->server == server && f->tokens > 0, "newest %d", order[j]);
            FUZZ_CHECK(!(seen & (1 << order[j])), "file %d listed twice", order[j]);
            seen |= 1 << order[j];
            FUZZ_CHECK(j == 0 || s.f[order[j - 1]].saved >= f->saved, "not newest first");
        }
        int p = slotfiles_pick(&s, s.f[k].kind, s.f[k].conv, server);
        FUZZ_CHECK(p >= 0 && p < SLOTFILES_MAX, "pick %d", p);
    }
    return 0;
}
