/*
 * fuzz_discover: naming a server (src/discover.c) from arbitrary answers;
 * whatever listens on a local port may say anything.
 *
 * Input: a 3-byte header, then up to five answers separated by the byte
 * 0x00, in discover_paths order (/v1/models, /props, /api/version,
 * /api/v0/models, /version).
 *   hdr[0..1]  the port (little endian; 0 becomes 1)
 *   hdr[2]     bit i set: answer i has status 404 instead of 200
 * Each answer is copied into its own exact-size allocation (no NUL after
 * it). Checked: a found server's strings are NUL-terminated within their
 * arrays, its mode is one anyclaude has, its flags start with that mode,
 * its URL names the port, and discover_describe stays within its buffer.
 */
#include "discover.h"
#include "mode.h"
#include "fuzz_util.h"

static void check_str(const char *s, size_t cap, const char *what)
{
    FUZZ_CHECK(memchr(s, '\0', cap) != NULL, "%s not NUL-terminated within %zu bytes", what, cap);
}

FUZZ_TARGET(3)
{
    int port = (int)((unsigned)in->hdr[0] | (unsigned)in->hdr[1] << 8);
    if (port == 0) port = 1;
    char *parts[DISCOVER_NPATHS] = {0};
    discover_answer ans[DISCOVER_NPATHS];
    size_t at = 0;
    for (int i = 0; i < DISCOVER_NPATHS; i++) {
        size_t start = at;
        while (at < len && p[at] != 0)
            at++;
        size_t n = at - start;
        parts[i] = malloc(n ? n : 1);
        if (!parts[i]) abort();
        if (n) memcpy(parts[i], p + start, n);
        ans[i].status = (in->hdr[2] >> i) & 1 ? 404 : 200;
        ans[i].body = parts[i];
        ans[i].len = n;
        if (at < len) at++; /* the separator */
    }
    discover_found f;
    if (discover_identify(port, ans, &f)) {
        check_str(f.url, sizeof f.url, "url");
        check_str(f.flags, sizeof f.flags, "flags");
        check_str(f.models, sizeof f.models, "models");
        FUZZ_CHECK(f.kind > DISCOVER_NONE && f.kind <= DISCOVER_OPENAI, "kind %d", (int)f.kind);
        FUZZ_CHECK(f.name && f.name[0], "no name");
        FUZZ_CHECK(f.mode && mode_find(f.mode) != NULL, "mode \"%s\" is not a mode",
                   f.mode ? f.mode : "(null)");
        char want[64];
        snprintf(want, sizeof want, "--mode %s", f.mode);
        FUZZ_CHECK(strncmp(f.flags, want, strlen(want)) == 0, "flags \"%s\"", f.flags);
        snprintf(want, sizeof want, "http://localhost:%d/v1", port);
        FUZZ_CHECK(strcmp(f.url, want) == 0, "url \"%s\" for port %d", f.url, port);
        FUZZ_CHECK(f.nmodels >= 0 && f.context >= 0, "nmodels %d context %ld", f.nmodels,
                   f.context);
        char d[64];
        size_t w = discover_describe(&f, d, sizeof d);
        FUZZ_CHECK(w < sizeof d && strlen(d) == w, "describe wrote %zu of %zu", w, sizeof d);
    } else {
        FUZZ_CHECK(f.kind == DISCOVER_NONE, "not found but kind %d", (int)f.kind);
    }
    for (int i = 0; i < DISCOVER_NPATHS; i++)
        free(parts[i]);
    return 0;
}
