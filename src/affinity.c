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

int affinity_slot(affinity *a, uint64_t key, uint64_t kind, int *reused)
{
    if (reused) *reused = 0;
    if (a->nslots == 0) return -1;
    if (key == 0) key = 1;
    a->clock++;
    int victim = -1;
    for (int i = 0; i < a->nslots; i++) {
        if (a->slot[i].key == key) {
            a->slot[i].last = a->clock;
            a->slot[i].uses++;
            if (reused) *reused = 1;
            return i;
        }
    }
    /* the least recently used slot of the same kind: its prefix is ours */
    for (int i = 0; i < a->nslots; i++)
        if (a->slot[i].key && a->slot[i].kind == kind &&
            (victim < 0 || a->slot[i].last < a->slot[victim].last))
            victim = i;
    if (victim >= 0 && reused) *reused = 2;
    /* a free slot */
    for (int i = 0; i < a->nslots && victim < 0; i++)
        if (a->slot[i].key == 0) victim = i;
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
    a->slot[victim].uses = 1;
    return victim;
}
