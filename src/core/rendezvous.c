/*
 * rendezvous: highest-random-weight ordering (see rendezvous.h).
 */
#include "rendezvous.h"

/* MurmurHash3's 64-bit finaliser: every input bit affects every output bit. */
static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

uint64_t rendezvous_id(const char *name, int len)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    for (int i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 1099511628211ULL;
    }
    h = mix(h);
    return h ? h : 1;
}

uint64_t rendezvous_session_key(const char *sid, const char *aid)
{
    uint64_t h = 14695981039346656037ULL;
    for (const char *p = sid; p && *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
    }
    h ^= '\n';
    h *= 1099511628211ULL;
    for (const char *p = aid; p && *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
    }
    return mix(h ^ 0x616e79636c617564ULL);
}

uint64_t rendezvous_score(uint64_t key, uint64_t id)
{
    return mix(mix(key) ^ (id * 0x9E3779B97F4A7C15ULL));
}

int rendezvous_pick(uint64_t key, const uint64_t *ids, int n)
{
    int best = -1;
    uint64_t bs = 0;
    for (int i = 0; i < n; i++) {
        uint64_t s = rendezvous_score(key, ids[i]);
        if (best < 0 || s > bs) {
            best = i;
            bs = s;
        }
    }
    return best;
}

static int before(uint64_t sa, int a, uint64_t sb, int b)
{
    return sa != sb ? sa > sb : a < b;
}

void rendezvous_order(uint64_t key, const uint64_t *ids, int n, int *out, uint64_t *scores)
{
    for (int i = 0; i < n; i++) {
        uint64_t s = rendezvous_score(key, ids[i]);
        int j = i;
        while (j > 0 && before(s, i, scores[j - 1], out[j - 1])) {
            out[j] = out[j - 1];
            scores[j] = scores[j - 1];
            j--;
        }
        out[j] = i;
        scores[j] = s;
    }
}
