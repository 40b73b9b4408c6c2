/*
 * affinity: which backend slot a conversation uses (pure).
 *
 * llama.cpp keeps one KV cache per slot. Left to itself it gives a request
 * the idle slot with the longest common prefix, so a subagent or a small
 * background request can land on the main conversation's slot and evict its
 * 15k-token prefix, and two sessions of one kind take each other's slot in
 * turn. The gateway pins each conversation (a key: session id, agent id and
 * the hash of its system prompt and tools) to a slot with `id_slot`, and
 * places a new conversation where its longest prefix already lives. In this
 * order it takes:
 *
 *   1. the least recently used slot of its kind (same system prompt and
 *      tools: a new session, /clear) that is claimable: a primed (warm
 *      start) prefix, a conversation that is over (left by a gateway that
 *      has exited), an idle short conversation (claude -p, a subagent: the
 *      next one of its kind may follow at once), or one idle for
 *      AFFINITY_ACTIVE_MS;
 *   2. a free slot;
 *   3. the least recently used slot no live conversation needs: seen once
 *      (titles, topics), primed, left behind, an idle short conversation;
 *   4. a slot of its kind after all (better than a cold prefill);
 *   5. the least recently used slot.
 *
 * Before all of these, a conversation takes back a prefix that was its own
 * (affinity_owner: left by a gateway that exited, or restored from a
 * checkpoint), and among claimable prefixes of its kind a new conversation
 * takes one nobody owns before one another conversation may come back to:
 * two terminals continued after a restart each find their own.
 *
 * Slots another running gateway uses (affinity_external, from the slot
 * ledger the shell keeps in the state directory) are left alone while
 * there is another choice: two terminals, two gateways, one server. A
 * conversation that lost its slot (to a newcomer of its kind or to another
 * gateway) and comes back gets a slot of its own rather than a fight.
 */
#ifndef ANYCLAUDE_AFFINITY_H
#define ANYCLAUDE_AFFINITY_H

#include <stddef.h>
#include <stdint.h>

#define AFFINITY_MAX_SLOTS 64
#define AFFINITY_ACTIVE_MS 10000.0
#define AFFINITY_VICTIMS 16

/* affinity_slot flags */
#define AFFINITY_SHORT 1 /* claude -p or a subagent: over when idle */
#define AFFINITY_AGENT 2 /* a subagent's (it never comes back; its kind does) */

/* affinity_external states */
enum affinity_ext {
    AFFINITY_EXT_NONE = 0, /* no other gateway claims it (clears FOREIGN) */
    AFFINITY_EXT_EMPTY,    /* the server holds nothing there (restarted, or cleared) */
    AFFINITY_EXT_FOREIGN,  /* another running gateway placed a conversation there */
    AFFINITY_EXT_LEFT,     /* a gateway that has exited left a prefix of kind there */
};

typedef struct affinity_slot_state {
    uint64_t key; /* 0 = free */
    uint64_t kind;
    uint64_t last;
    uint64_t uses;
    double last_ms; /* when its last request started or ended */
    int inflight;   /* its requests in flight (affinity_slot .. affinity_done) */
    int over;       /* a prefix without a live conversation: primed, or left behind */
    int is_short;   /* its conversation is AFFINITY_SHORT */
    int is_agent;   /* its conversation is AFFINITY_AGENT */
    int foreign;    /* another gateway's */
    uint64_t owner; /* an over prefix: the conversation it was (a gateway that exited, a
                       checkpoint restored), which takes it back first; a foreign slot: the
                       conversation another gateway runs there; 0: none or unknown */
} affinity_slot_state;

typedef struct affinity {
    int nslots;
    uint64_t clock;
    affinity_slot_state slot[AFFINITY_MAX_SLOTS];
    uint64_t victims[AFFINITY_VICTIMS]; /* conversations that lost their slot */
    int nvictim;
} affinity;

/* Start with n slots (clamped to AFFINITY_MAX_SLOTS; 0 disables). */
void affinity_init(affinity *a, int nslots);
/* The slot for a request of conversation key (nonzero) of the given kind
 * and flags (AFFINITY_SHORT), at time now_ms (monotonic; 0: unknown, and
 * then no conversation counts as active by time or in flight); -1 when
 * disabled. *reused is set to 1 when the key already held that slot, 2
 * when it took over a prefix of the same kind (a conversation's or a
 * primed one). The request is in flight until affinity_done. */
int affinity_slot(affinity *a, uint64_t key, uint64_t kind, int flags, int *reused, double now_ms);
/* The request of conversation key on slot ended at now_ms (a no-op when the
 * slot has changed hands since). */
void affinity_done(affinity *a, int slot, uint64_t key, double now_ms);
/* A free slot to prime with a prefix of kind (warm start); -1 when none is
 * free (priming never evicts a prefix) or the kind is already held (see
 * affinity_holds). The slot then holds that prefix, claimable at once. */
int affinity_prime(affinity *a, uint64_t kind, double now_ms);
/* Background priming: a free slot for a spare prefix of kind, so the next
 * new conversation of kind finds it while the slot holding it is in use
 * (or may come back: an idle -p session may be --continue'd); -1 when no
 * slot is free or a prefix of kind no conversation holds (primed, left
 * behind) exists. */
int affinity_prime_spare(affinity *a, uint64_t kind, double now_ms);
/* Slot copying (llama-server --slot-save-path): a free slot to receive a
 * copy of a prefix of kind, whether or not one is already held; -1 when
 * none is free. The slot then holds that prefix, claimable at once; for a
 * conversation of another kind it is what it shares with that prefix
 * (the start of the system prompt: better than an empty slot). */
int affinity_fill(affinity *a, uint64_t kind, double now_ms);
/* The slot holding a prefix of kind (a conversation's or a primed one), or -1. */
int affinity_holds(const affinity *a, uint64_t kind);
/* What the server or other gateways say about slot (enum affinity_ext;
 * kind for AFFINITY_EXT_LEFT). A conversation of ours that was there loses
 * the slot (its prefix is gone) and gets a slot of its own when it comes
 * back. */
void affinity_external(affinity *a, int slot, int state, uint64_t kind);
/* Slot's prefix (an over one: left behind, primed, restored) was the
 * conversation key's: that conversation takes it back before any other
 * choice. For a foreign slot: the conversation another gateway runs there
 * (only noted). A no-op for a slot of our own conversation, or key 0. */
void affinity_owner(affinity *a, int slot, uint64_t key);
/* A 64-bit hash of bytes, continuing from h (start with AFFINITY_HASH_INIT):
 * eight bytes a step (multiply and fold), FNV-1a over the last n % 8. Keys
 * compare only between gateways of one version; splitting the input into
 * two calls gives another value than one call. */
#define AFFINITY_HASH_INIT 14695981039346656037ULL
uint64_t affinity_hash(uint64_t h, const void *p, size_t n);

#endif
