/*
 * fuzz_util.h: small helpers shared by the libFuzzer targets in tests/fuzz.
 *
 * FUZZ_CHECK(cond, ...) prints a message and aborts (so libFuzzer saves the
 * input as a crash); the parameter reader takes bytes from a fixed-size
 * header at the start of the input, so the rest of it can be a golden file
 * verbatim (tests/fuzz/seeds.sh prepends such headers to the seeds).
 */
#ifndef ANYCLAUDE_FUZZ_UTIL_H
#define ANYCLAUDE_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define FUZZ_CHECK(cond, ...)                                                                     \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "\nFUZZ_CHECK failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                                         \
            fprintf(stderr, "\n");                                                                \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

/* Input split into a parameter header of n bytes (zero-filled when the
 * input is shorter) and the payload that follows it. */
typedef struct fuzz_in {
    uint8_t hdr[16];
    const uint8_t *data;
    size_t len;
} fuzz_in;

static inline void fuzz_in_init(fuzz_in *in, const uint8_t *data, size_t size, size_t nhdr)
{
    memset(in->hdr, 0, sizeof in->hdr);
    if (nhdr > sizeof in->hdr) nhdr = sizeof in->hdr;
    size_t h = size < nhdr ? size : nhdr;
    memcpy(in->hdr, data, h);
    in->data = data + h;
    in->len = size - h;
}

/* xorshift32: chunk sizes derived from a header seed. */
static inline uint32_t fuzz_rand(uint32_t *s)
{
    uint32_t x = *s ? *s : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

/* A buf copy of (p, n) for readable failure messages: first 200 bytes. */
static inline void fuzz_show(const char *what, const char *p, size_t n)
{
    fprintf(stderr, "%s (%zu bytes): ", what, n);
    fwrite(p, 1, n < 400 ? n : 400, stderr);
    fprintf(stderr, "%s\n", n > 400 ? "..." : "");
}

/* Index of the first difference of two byte strings. */
static inline size_t fuzz_diff_at(const char *a, size_t an, const char *b, size_t bn)
{
    size_t i = 0;
    while (i < an && i < bn && a[i] == b[i]) i++;
    return i;
}

static inline void fuzz_show_diff(const char *an, const buf *a, const char *bn, const buf *b)
{
    size_t d = fuzz_diff_at(a->data ? a->data : "", a->len, b->data ? b->data : "", b->len);
    size_t from = d > 120 ? d - 120 : 0;
    fprintf(stderr, "outputs differ at byte %zu\n", d);
    fuzz_show(an, a->data ? a->data + from : "", a->len - from);
    fuzz_show(bn, b->data ? b->data + from : "", b->len - from);
}

#endif
