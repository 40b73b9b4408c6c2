/*
 * fuzz_backend_error: anthropic_error_from_backend (src/anthropic.c) with a
 * random backend status and body.
 *
 * Input: a 6-byte header, then the body.
 *   hdr[0..3]  http status, int32 little endian; taken mod 600 unless
 *              hdr[4] & 1 (then any value, negative and huge included)
 *   hdr[5]     msg buffer size: 1 + hdr[5] bytes (255 → 4096), allocated
 *              exactly so ASan sees any write past it
 * Checks: the type is one of the Anthropic error types and the status is the
 * one Anthropic uses for it; msg is NUL-terminated inside its buffer; a
 * context-length failure on a 4xx becomes 400 "prompt is too long: ...".
 */
#include "anthropic.h"
#include "fuzz_util.h"

static int mem_has(const char *h, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(h + i, needle, m) == 0) return 1;
    return 0;
}

FUZZ_TARGET(6)
{
    int32_t s32 = (int32_t)((uint32_t)in->hdr[0] | (uint32_t)in->hdr[1] << 8 |
                            (uint32_t)in->hdr[2] << 16 | (uint32_t)in->hdr[3] << 24);
    long http = (in->hdr[4] & 1) ? (long)s32 : (long)((uint32_t)s32 % 600);
    if ((in->hdr[4] & 3) == 3) http = (in->hdr[4] & 4) ? 0x7fffffffffffffffL : -0x7fffffffffffffffL;
    size_t msglen = in->hdr[5] == 255 ? 4096 : 1 + (size_t)in->hdr[5];

    /* the body in its own exact-size allocation (no NUL after it) */
    char *body = malloc(len ? len : 1);
    char *msg = malloc(msglen);
    if (!body || !msg) abort();
    if (len) memcpy(body, p, len);
    memset(msg, 'x', msglen);

    int status = -1;
    const char *type = NULL;
    anthropic_error_from_backend(http, body, len, &status, &type, msg, msglen);
    FUZZ_CHECK(type, "no type");
    FUZZ_CHECK(strcmp(type, "invalid_request_error") == 0 ||
                   strcmp(type, "authentication_error") == 0 ||
                   strcmp(type, "permission_error") == 0 || strcmp(type, "rate_limit_error") == 0 ||
                   strcmp(type, "overloaded_error") == 0 || strcmp(type, "api_error") == 0,
               "unexpected type %s", type);
    FUZZ_CHECK(status == anthropic_error_status(type), "status %d for type %s", status, type);
    FUZZ_CHECK(memchr(msg, '\0', msglen), "msg not NUL-terminated within %zu bytes", msglen);

    int ctx = mem_has(body, len, "exceed_context_size_error") ||
              mem_has(body, len, "exceeds the available context size") ||
              mem_has(body, len, "maximum context length is") ||
              mem_has(body, len, "context length of only") ||
              mem_has(body, len, "context_length_exceeded") ||
              mem_has(body, len, "prompt is too long");
    if (ctx && http >= 400 && http < 500) {
        FUZZ_CHECK(status == 400 && strcmp(type, "invalid_request_error") == 0,
                   "context failure mapped to %d %s", status, type);
        static const char want[] = "prompt is too long: ";
        size_t k = msglen - 1 < sizeof want - 1 ? msglen - 1 : sizeof want - 1;
        FUZZ_CHECK(memcmp(msg, want, k) == 0, "context failure message: %s", msg);
        if (msglen > 80) {
            long n = -1, m = -1;
            FUZZ_CHECK(sscanf(msg, "prompt is too long: %ld tokens > %ld maximum", &n, &m) == 2 &&
                           n >= 0 && m >= 0,
                       "context failure message: %s", msg);
        }
    }
    if (http >= 500 && http != 503 && http != 529)
        FUZZ_CHECK(status == 500, "HTTP %ld mapped to %d", http, status);
    free(body);
    free(msg);
    return 0;
}
