/*
 * backend_probe: one small HTTP exchange the gateway itself starts with a
 * backend (shell): a start-up probe (/props, /slots, /models), a warm-start
 * prefill, a slot save or restore, a health check. At most one of each
 * sort per backend: b->health for health checks, b->probe for the rest.
 *
 *   bk_probe_new(b, done) ─▶ fill url, reqbody, fields ─▶ bk_probe_start
 *     ─▶ answer ─▶ done(p, ok, status, err, JSON of a 200 answer) ─▶ freed
 */
#ifndef ANYCLAUDE_BACKEND_PROBE_H
#define ANYCLAUDE_BACKEND_PROBE_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "backend_rt.h"
#include "buf.h"

typedef struct bk_probe bk_probe;
/* The exchange ended: ok (a complete HTTP answer, status its status) or
 * not (err says why); j: the answer parsed when it was a 200 with JSON,
 * else NULL. The slot (b->probe or b->health) is free again; p is freed
 * when this returns. */
typedef void (*bk_probe_done_fn)(bk_probe *p, int ok, long status, const char *err, const cJSON *j);

struct bk_probe {
    backend_rt *b;
    upstream_req *req;
    bk_probe_done_fn done;
    int health; /* a health check (b->health), else b->probe */
    buf body;   /* the answer, up to the bound given to bk_probe_new */
    buf reqbody;
    double t0;
    int slot;           /* the slot it fills (warm start, restore), or -1 */
    int src;            /* slot copy: the slot copied */
    uint64_t copy_kind; /* slot copy, checkpoint: the kind of prefix moved */
    void *ud;           /* for done */
    bk_probe *then;     /* a probe not started yet that this one may stand in for:
                           freed with it, unless done takes it (clear the field) */
    char url[700];
};

/* A probe of b answered by done, reading at most max_body bytes of answer;
 * NULL when out of memory. */
bk_probe *bk_probe_new(backend_rt *b, bk_probe_done_fn done, size_t max_body);
/* Send it (method, p->url, p->reqbody) with b's key and CA, within
 * total_ms; it takes b->health or b->probe. On failure to start, p is
 * freed and done is never called: returns -1, else 0. */
int bk_probe_start(bk_probe *p, const char *method, long total_ms);
/* Make p llama-server's POST /slots/<slot>?action=<action> (save or
 * restore) of the file filename in its --slot-save-path: 0, or -1 when out
 * of memory (p unchanged but for its url; free it). */
int bk_probe_slot_action(bk_probe *p, const char *action, int slot, const char *filename);
/* One entry s of llama-server's GET /slots answer: its slot id when it is
 * 0..max-1 (else -1), and in *holds whether the slot holds a prompt
 * (n_prompt_tokens >= 1; a server that does not say holds nothing). */
int bk_slot_entry(const cJSON *s, int max, int *holds);
/* Free a probe that was never started. */
void bk_probe_free(bk_probe *p);
/* Stop the probe in *pp, if any (done is not called), and clear *pp. */
void bk_probe_cancel(bk_probe **pp);

#endif
