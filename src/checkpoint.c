/*
 * checkpoint: slots saved when the gateway stops, restored at the next
 * start (see checkpoint.h).
 */
#include "checkpoint.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend_probe.h"
#include "ledger.h"
#include "log.h"
#include "monotime.h"
#include "slotfiles.h"
#include "timeouts.h"

uint64_t checkpoint_server_id(const cJSON *props)
{
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(props, "model_path");
    if (!cJSON_IsString(path) || !path->valuestring[0]) return 0;
    const cJSON *ftype = cJSON_GetObjectItemCaseSensitive(props, "model_ftype");
    const cJSON *gen = cJSON_GetObjectItemCaseSensitive(props, "default_generation_settings");
    const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(gen, "n_ctx");
    char id[1200];
    snprintf(id, sizeof id, "%s\n%s\n%.0f", path->valuestring,
             cJSON_IsString(ftype) ? ftype->valuestring : "",
             cJSON_IsNumber(ctx) ? ctx->valuedouble : 0.0);
    uint64_t h = affinity_hash(AFFINITY_HASH_INIT, id, strlen(id));
    return h ? h : 1;
}

int checkpoint_on(const backend_rt *b)
{
    const config *c = b->all->cfg;
    return b->use_slots && b->server_id && c->warm && c->state_dir[0] && !b->copy_off;
}

int checkpoint_mirror_on(const backend_rt *b)
{
    const config *c = b->all->cfg;
    return !b->use_slots && b->mirror_slots > 0 && b->server_id && c->warm && c->state_dir[0] &&
           !b->copy_off && b->cfg->mode->passthru != MODE_CLAUDE;
}

#define MIRROR_KINDS 0x4d4952524f520000ULL /* "MIRROR", then slot + 1 */
#define MIRROR_MAX 64                      /* slots mirror_empty has a bit for */

uint64_t checkpoint_mirror_kind(int slot)
{
    return MIRROR_KINDS + (uint64_t)slot + 1;
}

static uint64_t url_hash(const backend_rt *b)
{
    return affinity_hash(AFFINITY_HASH_INIT, b->cfg->url, strlen(b->cfg->url));
}

static void index_path(const backend_rt *b, char *out, size_t n)
{
    snprintf(out, n, "%s/checkpoints-%016llx.txt", b->all->cfg->state_dir,
             (unsigned long long)url_hash(b));
}

static void file_name(const backend_rt *b, int i, char *out, size_t n)
{
    snprintf(out, n, "anyclaude-%016llx-c%d.bin", (unsigned long long)url_hash(b), i);
}

static void index_read(const backend_rt *b, slotfiles *s)
{
    char path[900], text[SLOTFILES_MAX * 128];
    index_path(b, path, sizeof path);
    size_t n = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        n = fread(text, 1, sizeof text, f);
        fclose(f);
    }
    slotfiles_parse(s, text, n);
}

static void index_write(const backend_rt *b, const slotfiles *s)
{
    char path[900], tmp[920], text[SLOTFILES_MAX * 128];
    int n = slotfiles_format(s, text, sizeof text);
    if (n < 0) return;
    index_path(b, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    int ok = fwrite(text, 1, (size_t)n, f) == (size_t)n;
    if (fclose(f) == 0 && ok && rename(tmp, path) == 0) return;
    remove(tmp);
}

enum index_op {
    IX_FIND,  /* the file holding a finished save of kind */
    IX_CLAIM, /* pick a file for a save of conversation conv (0: of kind), mark it under way */
    IX_SAVED, /* the save into file i ended with tokens (0: failed) */
    IX_DROP,  /* file i holds nothing usable */
};

/* Read, change and write the index under the slot ledger's lock (shared by
 * every gateway of the server). Returns the file, or -1. */
static int index_op(const backend_rt *b, enum index_op op, uint64_t kind, uint64_t conv, int i,
                    long tokens)
{
    int lock = ledger_hold(b->all->cfg->state_dir, b->cfg->url);
    slotfiles s;
    index_read(b, &s);
    if (op == IX_FIND) {
        i = slotfiles_find(&s, kind, b->server_id);
    } else if (op == IX_CLAIM) {
        i = slotfiles_pick(&s, kind, conv, b->server_id);
        slotfiles_put(&s, i, kind, conv, b->server_id, 0, (long long)time(NULL));
    } else if (op == IX_SAVED) {
        if (tokens > 0)
            slotfiles_put(&s, i, kind, conv, b->server_id, tokens, (long long)time(NULL));
        else
            slotfiles_drop(&s, i);
    } else {
        slotfiles_drop(&s, i);
    }
    if (op != IX_FIND) index_write(b, &s);
    ledger_unlock(lock);
    return i;
}

/* The file holding kind for b's server (a mirror's slot): writes the name
 * llama-server knows it by into name and returns its number, or -1. */
static int checkpoint_find(const backend_rt *b, uint64_t kind, char *name, size_t n)
{
    if (!checkpoint_mirror_on(b)) return -1;
    int i = index_op(b, IX_FIND, kind, 0, -1, 0);
    if (i >= 0) file_name(b, i, name, n);
    return i;
}

/* ---- restoring at start ------------------------------------------------------------ */

typedef void (*restore_then_fn)(backend_rt *b);

/* Start POST /slots/<slot>?action=restore of file i (name): done answers,
 * then rides along in r->ud. 1 when it started, else 0 (nothing left to
 * free). */
static int restore_start(backend_rt *b, int slot, int i, const char *name, bk_probe_done_fn done,
                         restore_then_fn then)
{
    bk_probe *r = bk_probe_new(b, done, 1u << 16);
    if (!r) return 0;
    r->slot = slot;
    r->src = i;
    r->ud = (void *)then;
    if (bk_probe_slot_action(r, "restore", slot, name) == 0 &&
        bk_probe_start(r, "POST", TIMEOUT_SLOT_COPY_MS) == 0)
        return 1;
    bk_probe_free(r);
    return 0;
}

/* A restore answered: 1 when the slot holds the file's tokens now (logged
 * and counted as a warm start), else 0 (the file, r->src, is forgotten;
 * logged). */
static int restored(bk_probe *r, int ok, long status, const char *err, const cJSON *j)
{
    backend_rt *b = r->b;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "n_restored");
    if (ok && status == 200 && cJSON_IsNumber(n) && n->valuedouble > 0) {
        b->all->m->warm_starts++;
        log_line(0,
                 "warm start: restored slot %d of %s from the checkpoint saved at the last "
                 "stop (%.0f tokens, %.0f ms; no prefill)",
                 r->slot, b->cfg->name, n->valuedouble, monotime_ms() - r->t0);
        return 1;
    }
    index_op(b, IX_DROP, 0, 0, r->src, 0);
    log_line(1, "warm start: restoring slot %d of %s failed (HTTP %ld%s%s)", r->slot, b->cfg->name,
             status, err && *err ? ": " : "", err ? err : "");
    return 0;
}

/* ---- a mirror's slots (anthropic mode) ---- */

static int mirror_restore_next(backend_rt *b, restore_then_fn then);

static void mirror_restore_done(bk_probe *r, int ok, long status, const char *err, const cJSON *j)
{
    backend_rt *b = r->b;
    restore_then_fn then = (restore_then_fn)r->ud;
    /* no saved prefix after a restore: llama-server would place that
     * prefill in the restored slot (the longest common prefix) and cut the
     * conversation back to it */
    if (restored(r, ok, status, err, j)) b->warm_next = b->nwarm;
    if (!mirror_restore_next(b, then)) then(b);
}

/* Restore the next empty slot that has a checkpoint of its own: 1 when a
 * restore started (a slot whose restore cannot start is passed over). */
static int mirror_restore_next(backend_rt *b, restore_then_fn then)
{
    while (b->mirror_next < b->mirror_slots && b->mirror_next < MIRROR_MAX) {
        int i = b->mirror_next++;
        char name[96];
        int file;
        if (!(b->mirror_empty & (1ULL << i)) ||
            (file = checkpoint_find(b, checkpoint_mirror_kind(i), name, sizeof name)) < 0)
            continue;
        log_line(1, "warm start: restoring slot %d of %s from %s", i, b->cfg->name, name);
        if (restore_start(b, i, file, name, mirror_restore_done, then)) return 1;
    }
    return 0;
}

int checkpoint_mirror_restore(backend_rt *b, const cJSON *j, void (*then)(backend_rt *b))
{
    const cJSON *s;
    b->mirror_empty = 0;
    cJSON_ArrayForEach(s, j)
    {
        int holds, id = bk_slot_entry(s, MIRROR_MAX, &holds);
        if (id >= 0 && !holds) b->mirror_empty |= 1ULL << id;
    }
    b->mirror_next = 0;
    return mirror_restore_next(b, then);
}

/* ---- conversations (llamacpp mode, openai mode before a llama-server) ---- */

/* Does a slot hold conversation conv (ours, another gateway's, or a prefix
 * it owns), or, for a file that names no conversation (an index from
 * before), kind? */
static int conv_held(const affinity *a, uint64_t conv, uint64_t kind)
{
    if (!conv) return affinity_holds(a, kind) >= 0;
    for (int i = 0; i < a->nslots; i++) {
        const affinity_slot_state *s = &a->slot[i];
        if (s->over || s->foreign ? s->owner == conv : s->key == conv) return 1;
    }
    return 0;
}

/* A restored slot holds nothing after all: free it for everyone. */
static void restore_undo(backend_rt *b, int slot)
{
    const char *dir = b->all->cfg->state_dir;
    int lock = ledger_hold(dir, b->cfg->url);
    b->primed[slot] = 0;
    affinity_external(&b->aff, slot, AFFINITY_EXT_EMPTY, 0);
    ledger_forget(dir, b->cfg->url, slot);
    ledger_unlock(lock);
}

static void conv_restore_done(bk_probe *r, int ok, long status, const char *err, const cJSON *j)
{
    backend_rt *b = r->b;
    restore_then_fn then = (restore_then_fn)r->ud;
    if (!restored(r, ok, status, err, j)) restore_undo(b, r->slot);
    if (!checkpoint_restore_next(b, then)) then(b);
}

int checkpoint_restore_next(backend_rt *b, void (*then)(backend_rt *b))
{
    const char *dir = b->all->cfg->state_dir;
    while (checkpoint_on(b) && b->restore_next < SLOTFILES_MAX) {
        int lock = ledger_hold(dir, b->cfg->url);
        slotfiles s;
        index_read(b, &s);
        int order[SLOTFILES_MAX];
        int n = slotfiles_newest(&s, b->server_id, order);
        if (b->restore_next >= n) {
            b->restore_next = SLOTFILES_MAX;
            ledger_unlock(lock);
            break;
        }
        int i = order[b->restore_next++];
        const slotfile f = s.f[i];
        /* what another gateway restored or holds since, it keeps */
        ledger_sync(dir, b->cfg->url, &b->aff);
        if ((!f.conv && (f.kind & ~0xffffULL) == MIRROR_KINDS) ||
            conv_held(&b->aff, f.conv, f.kind)) {
            ledger_unlock(lock);
            continue;
        }
        int slot = affinity_fill(&b->aff, f.kind, monotime_ms());
        if (slot < 0) { /* no slot is free: what is left stays on disk */
            b->restore_next = SLOTFILES_MAX;
            ledger_unlock(lock);
            break;
        }
        affinity_owner(&b->aff, slot, f.conv);
        b->primed[slot] = f.kind;
        ledger_write(dir, b->cfg->url, slot, f.kind, 1, f.conv);
        ledger_unlock(lock);
        char name[96];
        file_name(b, i, name, sizeof name);
        log_line(1, "warm start: restoring slot %d of %s from %s (%ld tokens)", slot, b->cfg->name,
                 name, f.tokens);
        if (restore_start(b, slot, i, name, conv_restore_done, then)) return 1;
        restore_undo(b, slot);
        return 0;
    }
    return 0;
}

/* ---- saving at stop --------------------------------------------------------------- */

typedef struct save_job {
    backend_rt *b;
    int slot, file;
    uint64_t kind, conv;
} save_job;

typedef struct saver {
    backends *bs;
    save_job job[ROUTES_MAX_BACKENDS * SLOTFILES_MAX];
    int njobs, next;
    int scan; /* the next backend whose slots to ask (mirror) */
    void (*done)(void *);
    void *arg;
    struct event *deadline;
    int finished;
} saver;

static void save_next(saver *sv);

static void finish(saver *sv)
{
    if (sv->finished) return;
    sv->finished = 1;
    if (sv->deadline) event_free(sv->deadline);
    void (*done)(void *) = sv->done;
    void *arg = sv->arg;
    free(sv);
    done(arg);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    saver *sv = arg;
    log_line(0, "checkpoint: the deadline passed with %d slot save(s) unfinished",
             sv->njobs - sv->next + 1);
    for (int i = 0; i < sv->bs->n; i++) /* the save in flight answers no one */
        bk_probe_cancel(&sv->bs->b[i].probe);
    finish(sv);
}

static void save_done(bk_probe *p, int ok, long status, const char *err, const cJSON *j)
{
    saver *sv = p->ud;
    save_job *jb = &sv->job[sv->next - 1];
    backend_rt *b = jb->b;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "n_saved");
    long tokens =
        ok && status == 200 && cJSON_IsNumber(n) && n->valuedouble > 0 && n->valuedouble < 1e15
            ? (long)n->valuedouble
            : 0;
    index_op(b, IX_SAVED, jb->kind, jb->conv, jb->file, tokens);
    if (tokens > 0)
        log_line(0, "checkpoint: saved slot %d of %s (%ld tokens) in %.0f ms for the next start",
                 jb->slot, b->cfg->name, tokens, monotime_ms() - p->t0);
    else if (ok && (status == 501 || status == 404 || status == 405))
        log_line(1,
                 "checkpoint: %s cannot save slots (HTTP %ld): start llama-server with "
                 "--slot-save-path DIR to keep conversations across its restarts",
                 b->cfg->name, status);
    else
        log_line(0, "checkpoint: saving slot %d of %s failed (HTTP %ld%s%s)", jb->slot,
                 b->cfg->name, status, err && *err ? ": " : "", err ? err : "");
    if (!tokens && ok && status >= 400 && status < 500) b->copy_off = 1;
    save_next(sv);
}

static void save_next(saver *sv)
{
    while (sv->next < sv->njobs) {
        save_job *jb = &sv->job[sv->next++];
        backend_rt *b = jb->b;
        if (b->copy_off) continue;
        bk_probe *p = bk_probe_new(b, save_done, 1u << 16);
        if (!p) continue;
        p->ud = sv;
        p->slot = jb->slot;
        p->copy_kind = jb->kind;
        char name[96];
        jb->file = index_op(b, IX_CLAIM, jb->kind, jb->conv, -1, 0);
        file_name(b, jb->file, name, sizeof name);
        if (bk_probe_slot_action(p, "save", jb->slot, name) < 0) {
            bk_probe_free(p);
            index_op(b, IX_DROP, 0, 0, jb->file, 0);
            continue;
        }
        if (bk_probe_start(p, "POST", TIMEOUT_SLOT_COPY_MS) == 0) return;
        index_op(b, IX_DROP, 0, 0, jb->file, 0);
    }
    finish(sv);
}

/* Is a subagent's conversation of kind on b already planned? */
static int agent_kind_planned(const saver *sv, const backend_rt *b, uint64_t kind)
{
    for (int j = 0; j < sv->njobs; j++)
        if (sv->job[j].b == b && sv->job[j].kind == kind && b->aff.slot[sv->job[j].slot].is_agent)
            return 1;
    return 0;
}

/* Our conversations on b, SLOTFILES_MAX at most, each its own file (two
 * terminals of one kind keep two): the main ones newest first, then
 * subagents', one of each kind (a subagent's conversation never comes
 * back; the next one of its kind finds its system prompt and tools). */
static void plan(saver *sv, backend_rt *b)
{
    const affinity *a = &b->aff;
    int taken[AFFINITY_MAX_SLOTS] = {0};
    for (int k = 0; k < SLOTFILES_MAX; k++) {
        int best = -1;
        for (int i = 0; i < a->nslots; i++) {
            const affinity_slot_state *s = &a->slot[i];
            if (taken[i] || !s->key || !s->kind || s->over || s->foreign || s->inflight) continue;
            if (s->is_agent && agent_kind_planned(sv, b, s->kind)) continue;
            if (best < 0 || s->is_agent < a->slot[best].is_agent ||
                (s->is_agent == a->slot[best].is_agent && s->last_ms > a->slot[best].last_ms))
                best = i;
        }
        if (best < 0) break;
        taken[best] = 1;
        sv->job[sv->njobs++] = (save_job){b, best, -1, a->slot[best].kind, a->slot[best].key};
    }
}

/* Mirror: the SLOTFILES_MAX most recently used slots holding a prompt and
 * not busy, from GET /slots. */
static void plan_mirror(saver *sv, backend_rt *b, const cJSON *slots)
{
    int taken[AFFINITY_MAX_SLOTS] = {0};
    for (int k = 0; k < SLOTFILES_MAX; k++) {
        int best = -1;
        double best_task = -1;
        const cJSON *s;
        cJSON_ArrayForEach(s, slots)
        {
            const cJSON *task = cJSON_GetObjectItemCaseSensitive(s, "id_task");
            int holds, i = bk_slot_entry(s, AFFINITY_MAX_SLOTS, &holds);
            if (i < 0 || !holds ||
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "is_processing")))
                continue;
            double t = cJSON_IsNumber(task) ? task->valuedouble : 0;
            if (!taken[i] && t > best_task) {
                best = i;
                best_task = t;
            }
        }
        if (best < 0) break;
        taken[best] = 1;
        sv->job[sv->njobs++] = (save_job){b, best, -1, checkpoint_mirror_kind(best), 0};
    }
}

static void scan_next(saver *sv);

static void scan_done(bk_probe *p, int ok, long status, const char *err, const cJSON *j)
{
    saver *sv = p->ud;
    if (cJSON_IsArray(j)) plan_mirror(sv, p->b, j);
    scan_next(sv);
}

/* Ask each mirror backend which slots hold a prompt, one at a time; then
 * save. */
static void scan_next(saver *sv)
{
    while (sv->scan < sv->bs->n) {
        backend_rt *b = &sv->bs->b[sv->scan++];
        if (!b->used || !checkpoint_mirror_on(b)) continue;
        bk_probe *p = bk_probe_new(b, scan_done, 4u << 20);
        if (!p) continue;
        p->ud = sv;
        route_backend_url(b->cfg, "/slots", p->url, sizeof p->url);
        if (bk_probe_start(p, "GET", TIMEOUT_HEALTH_PROBE_MS) == 0) return;
    }
    save_next(sv);
}

void checkpoint_save_all(backends *bs, long deadline_ms, void (*done)(void *), void *arg)
{
    saver *sv = calloc(1, sizeof *sv);
    if (!sv) {
        done(arg);
        return;
    }
    sv->bs = bs;
    sv->done = done;
    sv->arg = arg;
    int scans = 0;
    for (int i = 0; i < bs->n; i++) {
        backend_rt *b = &bs->b[i];
        int mirror = b->used && checkpoint_mirror_on(b);
        if (!mirror && (!b->used || !checkpoint_on(b))) continue;
        bk_probe_cancel(&b->probe); /* a warm start or slot copy: moot now */
        if (mirror)
            scans++;
        else
            plan(sv, b);
    }
    if (sv->njobs || scans) {
        sv->deadline = evtimer_new(bs->base, on_deadline, sv);
        struct timeval tv = {deadline_ms / 1000, (deadline_ms % 1000) * 1000};
        if (sv->deadline) evtimer_add(sv->deadline, &tv);
    }
    scan_next(sv);
}
