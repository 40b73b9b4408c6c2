/*
 * affinity: conversation → slot assignment (see affinity.h). No I/O.
 */
#include "affinity.h"

#include <string.h>

void affinity_init(affinity *a, int nslots)
{
    memset(a, 0, sizeof *a);
    if (nslots < 0) nslots = 0;
    a->nslots = nslots > AFFINITY_MAX_SLOTS ? AFFINITY_MAX_SLOTS : nslots;
}

uint64_t affinity_hash(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    /* eight bytes a step: a request's rendered prefix is tens of KiB, and
     * byte-wise FNV is one multiply of latency per byte */
    for (; n >= 8; n -= 8, s += 8) {
        uint64_t w;
        memcpy(&w, s, sizeof w);
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 32;
    }
    for (; n; n--, s++) {
        h ^= *s;
        h *= 1099511628211ULL;
    }
    return h;
}

static int was_victim(const affinity *a, uint64_t key)
{
    for (int i = 0; i < a->nvictim && i < AFFINITY_VICTIMS; i++)
        if (a->victims[i] == key) return 1;
    return 0;
}

static void add_victim(affinity *a, uint64_t key)
{
    if (!was_victim(a, key)) a->victims[a->nvictim++ % AFFINITY_VICTIMS] = key;
}

/* May a new conversation take slot i's prefix now? */
static int claimable(const affinity *a, int i, int victim, double now_ms)
{
    if (a->slot[i].over) return 1;
    if (a->slot[i].foreign || a->slot[i].inflight > 0 || victim) return 0;
    if (a->slot[i].is_short || now_ms <= 0 || a->slot[i].uses <= 1) return 1;
    return now_ms - a->slot[i].last_ms >= AFFINITY_ACTIVE_MS;
}

/* Which claimable prefix a new conversation takes first: one nobody owns
 * (primed, left behind by a conversation that is over), then one a
 * conversation may come back to (affinity_owner), then a conversation's. */
static int rank(const affinity_slot_state *s)
{
    return !s->over ? 2 : s->owner ? 1 : 0;
}

/* The least recently used slot holding a prefix of kind: with claim, only
 * claimable ones, by rank. */
static int lru_kind(const affinity *a, uint64_t kind, int claim, int victim, double now_ms)
{
    int best = -1;
    for (int i = 0; i < a->nslots; i++) {
        if (!a->slot[i].key || a->slot[i].kind != kind || a->slot[i].foreign) continue;
        if (claim && !claimable(a, i, victim, now_ms)) continue;
        if (best >= 0 && claim && rank(&a->slot[i]) != rank(&a->slot[best])) {
            if (rank(&a->slot[i]) < rank(&a->slot[best])) best = i;
            continue;
        }
        if (best < 0 || a->slot[i].last < a->slot[best].last) best = i;
    }
    return best;
}

/* The least recently used slot: with one_shot, only those whose prefix no
 * live conversation needs (seen once, primed, left behind, or an idle short
 * conversation); with mine, none of another gateway's. */
static int lru(const affinity *a, int one_shot, int mine)
{
    int best = -1;
    for (int i = 0; i < a->nslots; i++) {
        const affinity_slot_state *s = &a->slot[i];
        if (one_shot && !(s->key && (s->uses == 1 || s->over ||
                                     (s->is_short && s->inflight == 0 && !s->foreign))))
            continue;
        if (mine && a->slot[i].foreign) continue;
        if (best < 0 || a->slot[i].last < a->slot[best].last) best = i;
    }
    return best;
}

static int free_slot(const affinity *a)
{
    for (int i = 0; i < a->nslots; i++)
        if (!a->slot[i].key && !a->slot[i].foreign) return i;
    return -1;
}

static void take(affinity *a, int i, uint64_t key, uint64_t kind, int flags, double now_ms)
{
    a->slot[i].key = key;
    a->slot[i].kind = kind;
    a->slot[i].last = a->clock;
    a->slot[i].last_ms = now_ms;
    a->slot[i].uses = 1;
    a->slot[i].inflight = now_ms > 0 ? 1 : 0;
    a->slot[i].over = 0;
    a->slot[i].is_short = (flags & AFFINITY_SHORT) != 0;
    a->slot[i].is_agent = (flags & AFFINITY_AGENT) != 0;
    a->slot[i].foreign = 0;
    a->slot[i].owner = 0;
}

int affinity_slot(affinity *a, uint64_t key, uint64_t kind, int flags, int *reused, double now_ms)
{
    if (reused) *reused = 0;
    if (a->nslots == 0) return -1;
    if (key == 0) key = 1;
    a->clock++;
    for (int i = 0; i < a->nslots; i++) {
        if (a->slot[i].key == key && !a->slot[i].over && !a->slot[i].foreign) {
            a->slot[i].last = a->clock;
            a->slot[i].last_ms = now_ms;
            a->slot[i].uses++;
            if (now_ms > 0) a->slot[i].inflight++;
            if (reused) *reused = 1;
            return i;
        }
    }
    for (int i = 0; i < a->nslots; i++) {
        const affinity_slot_state *s = &a->slot[i];
        if (s->over && s->owner == key && s->kind == kind && !s->foreign) {
            if (reused) *reused = 2;
            take(a, i, key, kind, flags, now_ms);
            return i;
        }
    }
    int victim = was_victim(a, key);
    int pick = lru_kind(a, kind, 1, victim, now_ms);
    int same = pick;
    if (pick < 0) pick = free_slot(a);
    if (pick < 0) pick = lru(a, 1, 1);
    if (pick < 0) pick = same = lru_kind(a, kind, 0, victim, now_ms);
    if (pick >= 0 && pick == same) {
        if (reused) *reused = 2;
        if (!a->slot[pick].over) add_victim(a, a->slot[pick].key);
    }
    if (pick < 0) pick = lru(a, 0, 1);
    if (pick < 0) pick = lru(a, 0, 0);
    take(a, pick, key, kind, flags, now_ms);
    return pick;
}

void affinity_done(affinity *a, int slot, uint64_t key, double now_ms)
{
    if (key == 0) key = 1;
    if (slot < 0 || slot >= a->nslots || a->slot[slot].key != key) return;
    if (a->slot[slot].inflight > 0) a->slot[slot].inflight--;
    a->slot[slot].last_ms = now_ms;
}

int affinity_holds(const affinity *a, uint64_t kind)
{
    for (int i = 0; i < a->nslots; i++)
        if (a->slot[i].key && a->slot[i].kind == kind) return i;
    return -1;
}

/* A free slot now holding a primed prefix of kind, or -1. */
static int prime_free(affinity *a, uint64_t kind, double now_ms)
{
    int pick = free_slot(a);
    if (pick < 0) return -1;
    a->clock++;
    take(a, pick, kind ? kind : 1, kind, 0, 0);
    a->slot[pick].over = 1;
    a->slot[pick].last_ms = now_ms;
    return pick;
}

int affinity_prime(affinity *a, uint64_t kind, double now_ms)
{
    if (a->nslots == 0 || affinity_holds(a, kind) >= 0) return -1;
    return prime_free(a, kind, now_ms);
}

int affinity_fill(affinity *a, uint64_t kind, double now_ms)
{
    return a->nslots ? prime_free(a, kind, now_ms) : -1;
}

int affinity_prime_spare(affinity *a, uint64_t kind, double now_ms)
{
    for (int i = 0; i < a->nslots; i++) {
        const affinity_slot_state *s = &a->slot[i];
        if (s->key && s->kind == kind && !s->foreign && s->over) return -1;
    }
    return prime_free(a, kind, now_ms);
}

void affinity_external(affinity *a, int slot, int state, uint64_t kind)
{
    if (slot < 0 || slot >= a->nslots) return;
    affinity_slot_state *s = &a->slot[slot];
    if (s->key && !s->over && s->inflight == 0 &&
        (state == AFFINITY_EXT_FOREIGN || state == AFFINITY_EXT_LEFT ||
         (state == AFFINITY_EXT_EMPTY && s->uses > 1)))
        add_victim(a, s->key);
    if (state == AFFINITY_EXT_NONE) {
        if (s->foreign) memset(s, 0, sizeof *s);
    } else if (state == AFFINITY_EXT_EMPTY) {
        if (s->inflight > 0) return;
        memset(s, 0, sizeof *s);
    } else if (state == AFFINITY_EXT_FOREIGN) {
        if (s->inflight > 0) return;
        s->foreign = 1;
        s->over = 0;
        s->owner = 0; /* the ledger says whose, if it knows (affinity_owner) */
    } else if (state == AFFINITY_EXT_LEFT) {
        if (s->inflight > 0) return;
        s->key = kind ? kind : 1;
        s->kind = kind;
        s->over = 1;
        s->foreign = 0;
        s->uses = 1;
        s->owner = 0; /* the ledger says whose, if anyone's (affinity_owner) */
    }
}

void affinity_owner(affinity *a, int slot, uint64_t key)
{
    if (slot < 0 || slot >= a->nslots || !(a->slot[slot].over || a->slot[slot].foreign) || !key)
        return;
    a->slot[slot].owner = key;
}
