/*
 * pool: which member of a pool of equivalent backends serves a request
 * (pure). Cache-aware, like SGLang's router and vLLM's prefix-aware routing,
 * but at message granularity:
 *
 *   1. the member this conversation used last (sticky);
 *   2. else the member that served the longest known prefix of the request
 *      (prefixes are hashed at every message boundary);
 *   3. else the least loaded member: fewest requests in flight, then fewest
 *      conversations, preferring one that holds the same system prompt and
 *      tools, then the first listed.
 *
 * The other healthy members follow, least loaded first. Members that are
 * down are left out. Both tables are bounded (set-associative, least
 * recently used way evicted).
 */
#ifndef ANYCLAUDE_POOL_H
#define ANYCLAUDE_POOL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define POOL_MAX_BACKENDS 16
#define POOL_WAYS 8
#define POOL_CONV_SETS 128    /* 1024 conversations */
#define POOL_PREFIX_SETS 1024 /* 8192 prefixes */
#define POOL_MAX_PREFIXES 256 /* message boundaries hashed per request */

typedef struct pool_entry {
    uint64_t key; /* 0 = empty */
    uint64_t last;
    int backend;
} pool_entry;

typedef struct pool_state {
    uint64_t clock;
    int convs[POOL_MAX_BACKENDS]; /* conversations each backend holds */
    pool_entry conv[POOL_CONV_SETS * POOL_WAYS];
    pool_entry prefix[POOL_PREFIX_SETS * POOL_WAYS];
} pool_state;

enum pool_reason { POOL_STICKY = 1, POOL_PREFIX, POOL_SAME_PROMPT, POOL_LEAST_LOADED };

/* One member as the shell sees it now. */
typedef struct pool_member {
    int backend;  /* backend index (< POOL_MAX_BACKENDS) */
    int up;       /* passing health checks */
    int inflight; /* requests in flight */
} pool_member;

void pool_init(pool_state *p);

/* Order the healthy members for a request: writes backend indexes into out
 * (room for n) and returns how many; *reason says why out[0] came first and
 * *depth how many messages of its prefix that member is known to hold (for
 * POOL_PREFIX). prefix[0] is the system prompt and tools, prefix[i] that
 * plus the first i messages. */
int pool_order(const pool_state *p, const pool_member *m, int n, uint64_t conv_key,
               const uint64_t *prefix, int nprefix, int *out, enum pool_reason *reason, int *depth);

/* Backend b served the request: remember the conversation and every prefix. */
void pool_learn(pool_state *p, int b, uint64_t conv_key, const uint64_t *prefix, int nprefix);

/* Backend b went down: forget its conversations and the prefixes it held. */
void pool_forget(pool_state *p, int b);

/* Prefix hashes of an Anthropic request: the system prompt (without Claude
 * Code's per-request billing-header block) and tools, then each message;
 * cache_control markers are ignored (they move every turn). Returns how
 * many were written (at most max, >= 1). */
int pool_prefix_hashes(const cJSON *root, uint64_t *out, int max);

#endif
