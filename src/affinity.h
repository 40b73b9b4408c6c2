/*
 * affinity: which backend slot a conversation uses (pure).
 *
 * llama.cpp keeps one KV cache per slot. Left to itself it gives a request
 * the idle slot with the longest common prefix, so a subagent or a small
 * background request can land on the main conversation's slot and evict its
 * 15k-token prefix. The gateway pins each conversation (a key: session id,
 * agent id and the hash of its system prompt and tools) to a slot with
 * `id_slot`. A new conversation takes, in this order: the least recently
 * used slot holding a conversation of the same kind (same system prompt and
 * tools: a new session, or /clear, which reuses that whole prefix) unless
 * that conversation is still active; a free slot; the same-kind slot after
 * all; the least recently used slot of a one-shot conversation (seen once:
 * title and topic requests); the least recently used slot.
 *
 * "Still active": it has a request in flight or finished one less than
 * AFFINITY_ACTIVE_MS ago, or it is a conversation that lost its slot to a
 * newcomer of its kind and came back.
 * Without that, two conversations of one kind alternating on a server with
 * a free slot would take each other's slot on every turn and re-prefill
 * their histories each time.
 */
#ifndef ANYCLAUDE_AFFINITY_H
#define ANYCLAUDE_AFFINITY_H

#include <stddef.h>
#include <stdint.h>

#define AFFINITY_MAX_SLOTS 64
#define AFFINITY_ACTIVE_MS 10000.0
#define AFFINITY_VICTIMS 16

typedef struct affinity {
    int nslots;
    uint64_t clock;
    struct {
        uint64_t key; /* 0 = free */
        uint64_t kind;
        uint64_t last;
        uint64_t uses;
        double last_ms; /* when its last request started or ended */
        int inflight;   /* its requests in flight (affinity_slot .. affinity_done) */
    } slot[AFFINITY_MAX_SLOTS];
    uint64_t victims[AFFINITY_VICTIMS]; /* conversations that lost their slot to their kind */
    int nvictim;
} affinity;

/* Start with n slots (clamped to AFFINITY_MAX_SLOTS; 0 disables). */
void affinity_init(affinity *a, int nslots);
/* The slot for a request of conversation key (nonzero) of the given kind,
 * at time now_ms (monotonic; 0: unknown, and then no conversation counts as
 * active by time or in flight); -1 when disabled. *reused is set to 1 when
 * the key already held that slot, 2 when it took over a slot of the same
 * kind. The request is in flight until affinity_done. */
int affinity_slot(affinity *a, uint64_t key, uint64_t kind, int *reused, double now_ms);
/* The request of conversation key on slot ended at now_ms (a no-op when the
 * slot has changed hands since). */
void affinity_done(affinity *a, int slot, uint64_t key, double now_ms);
/* FNV-1a over bytes, continuing from h (start with AFFINITY_HASH_INIT). */
#define AFFINITY_HASH_INIT 14695981039346656037ULL
uint64_t affinity_hash(uint64_t h, const void *p, size_t n);

#endif
