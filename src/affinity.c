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
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
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

int affinity_slot(affinity *a, uint64_t key, uint64_t kind, int *reused, double now_ms)
{
    if (reused) *reused = 0;
    if (a->nslots == 0) return -1;
    if (key == 0) key = 1;
    a->clock++;
    int victim = -1;
    for (int i = 0; i < a->nslots; i++) {
        if (a->slot[i].key == key) {
            a->slot[i].last = a->clock;
            a->slot[i].last_ms = now_ms;
            a->slot[i].uses++;
            if (now_ms > 0) a->slot[i].inflight++;
            if (reused) *reused = 1;
            return i;
        }
    }
    /* the least recently used slot of the same kind: its prefix is ours */
    int same = -1;
    for (int i = 0; i < a->nslots; i++)
        if (a->slot[i].key && a->slot[i].kind == kind &&
            (same < 0 || a->slot[i].last < a->slot[same].last))
            same = i;
    int busy = same >= 0 && (a->slot[same].inflight > 0 ||
                             (now_ms > 0 && a->slot[same].uses > 1 &&
                              now_ms - a->slot[same].last_ms < AFFINITY_ACTIVE_MS) ||
                             was_victim(a, key));
    if (same >= 0 && !busy) victim = same;
    /* a free slot */
    for (int i = 0; i < a->nslots && victim < 0; i++)
        if (a->slot[i].key == 0) victim = i;
    if (victim < 0) victim = same;
    if (victim >= 0 && victim == same) {
        if (reused) *reused = 2;
        if (a->slot[same].uses > 1) /* it may come back: then it gets a slot of its own */
            a->victims[a->nvictim++ % AFFINITY_VICTIMS] = a->slot[same].key;
    }
    /* else the least recently used one-shot conversation */
    for (int i = 0; i < a->nslots && victim < 0; i++) {
        if (a->slot[i].uses != 1) continue;
        int best = i;
        for (int j = i + 1; j < a->nslots; j++)
            if (a->slot[j].uses == 1 && a->slot[j].last < a->slot[best].last) best = j;
        victim = best;
    }
    /* else the least recently used */
    if (victim < 0) {
        victim = 0;
        for (int i = 1; i < a->nslots; i++)
            if (a->slot[i].last < a->slot[victim].last) victim = i;
    }
    a->slot[victim].key = key;
    a->slot[victim].kind = kind;
    a->slot[victim].last = a->clock;
    a->slot[victim].last_ms = now_ms;
    a->slot[victim].uses = 1;
    a->slot[victim].inflight = now_ms > 0 ? 1 : 0;
    return victim;
}

void affinity_done(affinity *a, int slot, uint64_t key, double now_ms)
{
    if (key == 0) key = 1;
    if (slot < 0 || slot >= a->nslots || a->slot[slot].key != key) return;
    if (a->slot[slot].inflight > 0) a->slot[slot].inflight--;
    a->slot[slot].last_ms = now_ms;
}
