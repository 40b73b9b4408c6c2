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

#include <cjson/cJSON.h>

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

/* FUZZ_TARGET(nhdr) { ... } defines LLVMFuzzerTestOneInput: the input is
 * split (fuzz_in_init) into a header of nhdr bytes, in->hdr, and the
 * payload p, len that follows it; the body returns 0. */
#define FUZZ_TARGET(nhdr)                                                                         \
    static int fuzz_target(const fuzz_in *in, const char *p, size_t len);                         \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                                  \
    {                                                                                             \
        fuzz_in in_;                                                                              \
        fuzz_in_init(&in_, data, size, (nhdr));                                                   \
        return fuzz_target(&in_, (const char *)in_.data, in_.len);                                \
    }                                                                                             \
    static int fuzz_target(const fuzz_in *in, const char *p, size_t len)

/* The header's bytes at..at+1 as a little-endian number. */
static inline size_t fuzz_u16(const fuzz_in *in, size_t at)
{
    return (size_t)in->hdr[at] | (size_t)in->hdr[at + 1] << 8;
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

/* Cut offsets for feeding len bytes in random pieces of 0 to maxstep bytes
 * (zero-length pieces included), drawn from seed: a malloc'd array of
 * *ncuts offsets, each piece ending at one (the last piece ends at len).
 * The array has room for 2 * len + 2 offsets (a caller may refill it). */
static inline size_t *fuzz_random_cuts(size_t len, uint32_t seed, size_t maxstep, size_t *ncuts)
{
    size_t cap = 2 * len + 2, *cuts = malloc(cap * sizeof *cuts), n = 0, at = 0;
    if (!cuts) abort();
    while (at < len && n < cap) {
        at += fuzz_rand(&seed) % (maxstep + 1);
        if (at > len) at = len;
        cuts[n++] = at;
    }
    *ncuts = n;
    return cuts;
}

/* Two of Claude Code's tools, as JSON array members, for the tool lists of
 * the targets. */
#define FUZZ_TOOL_READ                                                                            \
    "{\"name\":\"Read\",\"input_schema\":{\"type\":\"object\",\"properties\":{"                   \
    "\"file_path\":{\"type\":\"string\"},\"offset\":{\"type\":\"integer\"},"                       \
    "\"limit\":{\"type\":\"integer\"}}}}"
#define FUZZ_TOOL_TODOWRITE                                                                       \
    "{\"name\":\"TodoWrite\",\"input_schema\":{\"type\":\"object\",\"properties\":{"              \
    "\"todos\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"            \
    "\"content\":{\"type\":\"string\"},\"status\":{\"type\":\"string\"},"                         \
    "\"priority\":{\"type\":\"integer\"}}}}}}}"

/* (s, n) must be a JSON object printed compactly (as cJSON prints it);
 * what names it in the failure message. */
static inline void fuzz_check_compact_object(const char *what, const char *s, size_t n)
{
    cJSON *j = cJSON_ParseWithLength(s, n);
    FUZZ_CHECK(cJSON_IsObject(j), "%s is not a JSON object: %.*s", what, (int)n, s);
    char *c = cJSON_PrintUnformatted(j);
    FUZZ_CHECK(c && strlen(c) == n && memcmp(c, s, n) == 0, "%s is not compact JSON: %.*s", what,
               (int)n, s);
    cJSON_free(c);
    cJSON_Delete(j);
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
