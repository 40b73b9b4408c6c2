/*
 * pool: cache-aware choice among equivalent backends (see pool.h).
 */
#include "pool.h"

#include <string.h>

#include "anthropic.h"

#include "affinity.h"
#include "rendezvous.h"
#include "toolsearch.h"

void pool_init(pool_state *p)
{
    memset(p, 0, sizeof *p);
}

static pool_entry *set_of(pool_entry *t, int sets, uint64_t key)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ULL;
    return &t[(h >> 32) % (uint64_t)sets * POOL_WAYS];
}

static const pool_entry *find(const pool_entry *t, int sets, uint64_t key)
{
    if (!key) return NULL;
    const pool_entry *s = set_of((pool_entry *)t, sets, key);
    for (int i = 0; i < POOL_WAYS; i++)
        if (s[i].key == key) return &s[i];
    return NULL;
}

/* Insert or update; returns the backend the key held before (-1: none) and
 * sets *evicted to the backend of an entry pushed out (-1: none). */
static int put(pool_entry *t, int sets, uint64_t key, int b, uint64_t now, int *evicted)
{
    *evicted = -1;
    if (!key) return -1;
    pool_entry *s = set_of(t, sets, key), *victim = &s[0];
    for (int i = 0; i < POOL_WAYS; i++) {
        if (s[i].key == key) {
            int old = s[i].backend;
            s[i].backend = b;
            s[i].last = now;
            return old;
        }
        if (victim->key && (!s[i].key || s[i].last < victim->last)) victim = &s[i];
    }
    if (victim->key) *evicted = victim->backend;
    victim->key = key;
    victim->backend = b;
    victim->last = now;
    return -1;
}

static int member_up(const pool_member *m, int n, int b)
{
    for (int i = 0; i < n; i++)
        if (m[i].backend == b) return m[i].up;
    return 0;
}

/* a before b in the least-loaded order? */
static int lighter(const pool_state *p, const pool_member *a, const pool_member *b, int kind_b)
{
    if (a->inflight != b->inflight) return a->inflight < b->inflight;
    if (p->convs[a->backend] != p->convs[b->backend])
        return p->convs[a->backend] < p->convs[b->backend];
    if (kind_b >= 0 && (a->backend == kind_b) != (b->backend == kind_b))
        return a->backend == kind_b;
    return 0;
}

static int order_by_knowledge(const pool_state *p, const pool_member *m, int n, uint64_t conv_key,
                              const uint64_t *prefix, int nprefix, int *out,
                              enum pool_reason *reason, int *depth)
{
    int first = -1;
    *reason = POOL_LEAST_LOADED;
    *depth = 0;
    const pool_entry *e = find(p->conv, POOL_CONV_SETS, conv_key);
    if (e && member_up(m, n, e->backend)) {
        first = e->backend;
        *reason = POOL_STICKY;
    }
    for (int i = nprefix - 1; first < 0 && i >= 1; i--) {
        e = find(p->prefix, POOL_PREFIX_SETS, prefix[i]);
        if (e && member_up(m, n, e->backend)) {
            first = e->backend;
            *reason = POOL_PREFIX;
            *depth = i;
        }
    }
    e = nprefix > 0 ? find(p->prefix, POOL_PREFIX_SETS, prefix[0]) : NULL;
    int kind_b = e ? e->backend : -1;
    /* insertion sort of the healthy members, least loaded first */
    const pool_member *sorted[POOL_MAX_BACKENDS];
    int k = 0;
    for (int i = 0; i < n && k < POOL_MAX_BACKENDS; i++) {
        if (!m[i].up || m[i].backend < 0 || m[i].backend >= POOL_MAX_BACKENDS) continue;
        int j = k++;
        while (j > 0 && lighter(p, &m[i], sorted[j - 1], kind_b)) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = &m[i];
    }
    int c = 0;
    if (first >= 0) out[c++] = first;
    for (int i = 0; i < k; i++)
        if (sorted[i]->backend != first) out[c++] = sorted[i]->backend;
    if (first < 0 && c > 0 && out[0] == kind_b) *reason = POOL_SAME_PROMPT;
    return c;
}

/* The deepest prefix of the request that member b is known to hold (0: none). */
static int known_depth(const pool_state *p, int b, const uint64_t *prefix, int nprefix)
{
    for (int i = nprefix - 1; i >= 1; i--) {
        const pool_entry *e = find(p->prefix, POOL_PREFIX_SETS, prefix[i]);
        if (e && e->backend == b) return i;
    }
    return 0;
}

/* A conversation with a key: the healthy members in rendezvous order. */
static int order_by_rendezvous(const pool_state *p, const pool_member *m, int n, uint64_t conv_key,
                               const uint64_t *prefix, int nprefix, int *out,
                               enum pool_reason *reason, int *depth)
{
    uint64_t ids[POOL_MAX_BACKENDS] = {0}, scores[POOL_MAX_BACKENDS];
    int which[POOL_MAX_BACKENDS], idx[POOL_MAX_BACKENDS];
    int k = 0;
    for (int i = 0; i < n && k < POOL_MAX_BACKENDS; i++) {
        if (!m[i].up || m[i].backend < 0 || m[i].backend >= POOL_MAX_BACKENDS) continue;
        ids[k] = m[i].id ? m[i].id : rendezvous_score(0x5eed, (uint64_t)m[i].backend + 1);
        which[k++] = i;
    }
    rendezvous_order(conv_key, ids, k, idx, scores);
    for (int i = 0; i < k; i++)
        out[i] = m[which[idx[i]]].backend;
    *reason = POOL_RENDEZVOUS;
    *depth = 0;
    if (k == 0) return 0;
    const pool_entry *e = find(p->conv, POOL_CONV_SETS, conv_key);
    if (e) *reason = e->backend == out[0] ? POOL_STICKY : POOL_MOVED;
    *depth = known_depth(p, out[0], prefix, nprefix);
    return k;
}

int pool_order(const pool_state *p, const pool_member *m, int n, uint64_t conv_key,
               const uint64_t *prefix, int nprefix, int *out, enum pool_reason *reason, int *depth)
{
    if (conv_key)
        return order_by_rendezvous(p, m, n, conv_key, prefix, nprefix, out, reason, depth);
    return order_by_knowledge(p, m, n, conv_key, prefix, nprefix, out, reason, depth);
}

uint64_t pool_conversation_key(const uint64_t *prefix, int nprefix)
{
    if (nprefix <= 0) return 0;
    return nprefix > 1 ? prefix[1] : prefix[0];
}

void pool_learn(pool_state *p, int b, uint64_t conv_key, const uint64_t *prefix, int nprefix)
{
    if (b < 0 || b >= POOL_MAX_BACKENDS) return;
    uint64_t now = ++p->clock;
    int ev;
    int old = put(p->conv, POOL_CONV_SETS, conv_key, b, now, &ev);
    if (conv_key && old != b) {
        p->convs[b]++;
        if (old >= 0) p->convs[old]--;
    }
    if (ev >= 0) p->convs[ev]--;
    for (int i = 0; i < nprefix; i++)
        put(p->prefix, POOL_PREFIX_SETS, prefix[i], b, now, &ev);
}

void pool_forget(pool_state *p, int b)
{
    for (size_t i = 0; i < sizeof p->conv / sizeof p->conv[0]; i++)
        if (p->conv[i].key && p->conv[i].backend == b) p->conv[i].key = 0;
    for (size_t i = 0; i < sizeof p->prefix / sizeof p->prefix[0]; i++)
        if (p->prefix[i].key && p->prefix[i].backend == b) p->prefix[i].key = 0;
    if (b >= 0 && b < POOL_MAX_BACKENDS) p->convs[b] = 0;
}

/* ---- prefix hashes ---------------------------------------------------------- */

static uint64_t hash_json(uint64_t h, const cJSON *v, int depth)
{
    if (!v || depth > 64) return h;
    unsigned char tag = (unsigned char)(v->type & 0xff);
    h = affinity_hash(h, &tag, 1);
    if (cJSON_IsString(v)) return affinity_hash(h, v->valuestring, strlen(v->valuestring) + 1);
    if (cJSON_IsNumber(v)) return affinity_hash(h, &v->valuedouble, sizeof v->valuedouble);
    for (const cJSON *c = v->child; c; c = c->next) {
        if (c->string) {
            if (strcmp(c->string, "cache_control") == 0) continue;
            h = affinity_hash(h, c->string, strlen(c->string) + 1);
        }
        h = hash_json(h, c, depth + 1);
    }
    return affinity_hash(h, "}", 1);
}

/* The tools as hash_json hashes them, without the deferred ones (Claude
 * Code's tool search, toolsearch.h): loading one mid-conversation does not
 * make it another conversation, and the prefix a backend caches (deferred
 * tools are written after the others) stays the one it was. */
static uint64_t hash_tools(uint64_t h, const cJSON *tools)
{
    if (!cJSON_IsArray(tools)) return hash_json(h, tools, 0);
    unsigned char tag = (unsigned char)(tools->type & 0xff);
    h = affinity_hash(h, &tag, 1);
    for (const cJSON *c = tools->child; c; c = c->next)
        if (!toolsearch_deferred(c)) h = hash_json(h, c, 1);
    return affinity_hash(h, "}", 1);
}

int pool_prefix_hashes(const cJSON *root, uint64_t *out, int max)
{
    uint64_t h = AFFINITY_HASH_INIT;
    const cJSON *sys = cJSON_GetObjectItemCaseSensitive(root, "system");
    if (cJSON_IsArray(sys)) {
        for (const cJSON *b = sys->child; b; b = b->next)
            if (!anthropic_is_billing_block(b)) h = hash_json(h, b, 0);
    } else {
        h = hash_json(h, sys, 0);
    }
    h = affinity_hash(h, "\ntools", 6);
    h = hash_tools(h, cJSON_GetObjectItemCaseSensitive(root, "tools"));
    int n = 0;
    if (max < 1) return 0;
    out[n++] = h ? h : 1;
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    for (const cJSON *m = cJSON_IsArray(msgs) ? msgs->child : NULL; m && n < max; m = m->next) {
        h = hash_json(h, m, 0);
        out[n++] = h ? h : 1;
    }
    return n;
}
