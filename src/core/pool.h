/*
 * pool: which member of a pool of equivalent backends serves a request
 * (pure).
 *
 * A request with a conversation key (pool_conversation_key: the hash of its
 * system prompt, tools and first message, which every turn of a
 * conversation repeats) goes to the healthy member with the highest rendezvous score
 * for that key (rendezvous.h), the others following in score order. Every
 * gateway replica with the same backend names computes the same order, so a
 * conversation whose turns alternate between replicas behind a load
 * balancer stays on one member, and a member that leaves moves only its own
 * conversations, each to its second choice, on every replica alike.
 *
 * Local knowledge (the member this replica last sent the conversation to,
 * the longest prefix it knows a member holds, load) never overrides that
 * choice: any of them would differ from replica to replica and split a
 * conversation's turns between members. It is kept to say why (sticky: the
 * conversation was here before; prefix: this member is known to hold part
 * of it) and decides only for a request without a key (key 0):
 *
 *   1. the member this conversation used last (sticky);
 *   2. else the member that served the longest known prefix of the request
 *      (prefixes are hashed at every message boundary);
 *   3. else the least loaded member: fewest requests in flight, then fewest
 *      conversations, preferring one that holds the same system prompt and
 *      tools, then the first listed.
 *
 * Members that are down are left out. Both tables are bounded
 * (set-associative, least recently used way evicted).
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

enum pool_reason {
    POOL_STICKY = 1,   /* the rendezvous choice, and this conversation was there last */
    POOL_PREFIX,       /* (key 0) longest known prefix; with a key: the choice holds a prefix */
    POOL_SAME_PROMPT,  /* (key 0) least loaded, holds the system prompt */
    POOL_LEAST_LOADED, /* (key 0) */
    POOL_RENDEZVOUS,   /* the rendezvous choice, new to this replica */
    POOL_MOVED /* the rendezvous choice; the conversation was elsewhere (membership changed) */
};

/* One member as the shell sees it now. */
typedef struct pool_member {
    int backend;  /* backend index (< POOL_MAX_BACKENDS) */
    int up;       /* passing health checks */
    int inflight; /* requests in flight */
    uint64_t id;  /* identity for the rendezvous (rendezvous_id of the backend's name);
                     0: derived from the backend index */
} pool_member;

void pool_init(pool_state *p);

/* Order the healthy members for a request: writes backend indexes into out
 * (room for n) and returns how many; *reason says why out[0] came first and
 * *depth how many messages of its prefix that member is known to hold (0
 * when unknown). prefix[0] is the system prompt and tools, prefix[i] that
 * plus the first i messages. */
int pool_order(const pool_state *p, const pool_member *m, int n, uint64_t conv_key,
               const uint64_t *prefix, int nprefix, int *out, enum pool_reason *reason, int *depth);

/* The conversation key the pool orders by: the hash of the system prompt,
 * tools and first message (prefix[1]; prefix[0] when there is no message).
 * Made from the request alone, so every replica computes the same key for
 * every turn; unlike a session id it also follows a conversation that is
 * resumed or forked under a new session, and clients that send no session
 * id. Two sessions that open with the same words in the same project share
 * a key, and a member: they share that prefix too. */
uint64_t pool_conversation_key(const uint64_t *prefix, int nprefix);

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
