/*
 * backend_rt: the live state of each configured backend, and the accessors
 * every module that talks to a backend reads it through (shell, data only:
 * backends.c sets it up and keeps it; backend_probe, checkpoint and the
 * request path read and update it).
 */
#ifndef ANYCLAUDE_BACKEND_RT_H
#define ANYCLAUDE_BACKEND_RT_H

#include <stddef.h>
#include <stdint.h>

#include "affinity.h"
#include "config.h"
#include "metrics.h"
#include "pool.h"
#include "upstream.h"

/* Warm prefixes kept per backend, one per kind (system prompt and tools:
 * interactive, claude -p, subagent, background; per project). */
#define BACKEND_WARM_KINDS 4

struct event_base;
struct event;
struct bk_probe;

typedef struct backend_rt {
    struct backends *all;
    int idx;
    const route_backend *cfg;
    int used;            /* a route names it */
    int checked;         /* health-checked: it has alternatives in some route (not claude) */
    int up;              /* 0 after a refused connection or a failed check, until one passes */
    int inflight;        /* /v1/messages requests in flight */
    affinity aff;        /* llama.cpp slots */
    int use_slots;       /* send id_slot */
    double est_ratio;    /* calibration of the token estimate: real / estimated */
    uint64_t saved_kind; /* kind of the prefix last saved for warm start */
    uint64_t primed[AFFINITY_MAX_SLOTS];      /* kind each slot was primed with, 0 none */
    char warm_files[BACKEND_WARM_KINDS][700]; /* saved prefixes to prime, newest first */
    int nwarm, warm_next;                     /* the warm-start queue */
    uint64_t spare_kind;                      /* idle priming scheduled for this kind, 0 none */
    int spare_slot;                           /* the slot holding it (see slot copy) */
    int copy_off;            /* the server cannot save and restore slots (no --slot-save-path) */
    uint64_t server_id;      /* llama.cpp: its model and context (/props); 0 unknown */
    int mirror_slots;        /* anthropic or openai mode before a llama-server: its slots, whose
                                checkpoints are kept by slot id (checkpoint.h); 0 none */
    uint64_t mirror_empty;   /* those of them empty at start (bit per slot) */
    int mirror_next;         /* the next slot to restore at start */
    int restore_next;        /* llamacpp: the next checkpoint to restore at start (newest first) */
    int mirror_probed;       /* /props asked (anthropic, openai modes) */
    char auto_model[256];    /* openai mode without a model: the backend's first model */
    struct bk_probe *probe;  /* start-up probe or warm start in flight */
    struct bk_probe *health; /* health check in flight */
    unsigned long long requests, fallbacks;
    int fails_5xx;        /* 5xx answers in a row (outlier detection) */
    int ejections;        /* ejections in a row: each doubles the time out */
    double ejected_until; /* out of its pools until then (monotime_ms) */
} backend_rt;

typedef struct backends {
    struct event_base *base;
    upstream *up;
    const config *cfg;
    metrics *m;
    int n;
    backend_rt b[ROUTES_MAX_BACKENDS];
    struct event *health_timer;
    pool_state *pool;
    unsigned long long fallbacks; /* requests that went on to another target */
} backends;

/* The backend's API key, or NULL. */
static inline const char *backend_key(const backend_rt *b)
{
    return b->cfg->api_key[0] ? b->cfg->api_key : NULL;
}

/* CA bundle for this backend (its own, else --ca-file), or NULL. */
static inline const char *backend_ca(const backend_rt *b)
{
    if (b->cfg->ca_file[0]) return b->cfg->ca_file;
    return b->all->cfg->ca_file[0] ? b->all->cfg->ca_file : NULL;
}

#endif
