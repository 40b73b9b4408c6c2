/*
 * backends: probes, warm start, health checks and load of each configured
 * backend (see backends.h).
 */
#include "backends.h"
#include "timeouts.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <utime.h>

#include "anthropic.h"
#include "backend_probe.h"
#include "checkpoint.h"
#include "ledger.h"
#include "log.h"
#include "monotime.h"
#include "passthru.h"
#include "servertools.h"
#include "toolsearch.h"
#include "slotfiles.h"

enum probe_kind { P_PROPS, P_SLOTS, P_WARM, P_MODELS, P_HEALTH, P_SAVE, P_RESTORE };

static void probe_done(bk_probe *p, int ok, long status, const char *err, const cJSON *j);

/* A probe of this file's (its kind in p->ud), answered by probe_done. */
static bk_probe *probe_new(backend_rt *b, enum probe_kind kind, size_t max_body)
{
    bk_probe *p = bk_probe_new(b, probe_done, max_body);
    if (p) {
        p->ud = (void *)(intptr_t)kind;
        p->health = kind == P_HEALTH;
    }
    return p;
}

static enum probe_kind probe_kind(const bk_probe *p)
{
    return (enum probe_kind)(intptr_t)p->ud;
}

/* ---- small accessors -------------------------------------------------------- */

const char *backend_model(const backend_rt *b, const char *target_model)
{
    if (target_model && *target_model) return target_model;
    if (b->cfg->model[0]) return b->cfg->model;
    return b->auto_model[0] ? b->auto_model : NULL;
}

passthru_opts backend_passthru_opts(const backend_rt *b, const char *target_model)
{
    passthru_opts po = {.model = backend_model(b, target_model),
                        .max_tokens_cap = b->all->cfg->max_tokens,
                        .lead_system = 1};
    return po;
}

/* ---- up and down -------------------------------------------------------------- */

void backend_mark_down(backend_rt *b, const char *why)
{
    if (!b->checked || !b->up) return;
    b->up = 0;
    if (b->all->pool) pool_forget(b->all->pool, b->idx);
    log_line(0, "backend %s is down (%s): it leaves its pools until a health check passes",
             b->cfg->name, why);
}

static void mark_up(backend_rt *b)
{
    if (b->up) return;
    b->up = 1;
    log_line(0, "backend %s is back: its health check passed", b->cfg->name);
}

void backend_outcome(backend_rt *b, long status)
{
    if (status < 500) {
        if (status >= 200 && status < 300) b->ejections = 0;
        b->fails_5xx = 0;
        return;
    }
    if (!b->checked || ++b->fails_5xx < BACKEND_OUTLIER_5XX) return;
    double secs = 30.0 * (double)(1 << (b->ejections < 4 ? b->ejections : 4));
    if (secs > 300) secs = 300;
    b->ejections++;
    b->fails_5xx = 0;
    b->ejected_until = monotime_ms() + secs * 1000;
    if (b->all->pool) pool_forget(b->all->pool, b->idx);
    log_line(0,
             "backend %s answered %d requests in a row with 5xx (last HTTP %ld): out of its pools "
             "for %.0f s although its health check passes",
             b->cfg->name, BACKEND_OUTLIER_5XX, status, secs);
}

int backend_usable(const backend_rt *b)
{
    return b->up && monotime_ms() >= b->ejected_until;
}

/* Files of backend b in the state directory: warm-<b>-<kind>.json (a saved
 * prefix per kind) and slots-<server>.txt (the slot ledger, shared by every
 * gateway that talks to that server). */
static uint64_t backend_hash(const backend_rt *b)
{
    const char *name = b->cfg->mode->name;
    uint64_t h = affinity_hash(AFFINITY_HASH_INIT, name, strlen(name));
    h = affinity_hash(h, b->cfg->url, strlen(b->cfg->url));
    return affinity_hash(h, b->cfg->model, strlen(b->cfg->model));
}

static void warm_prefix(const backend_rt *b, char *out, size_t n)
{
    snprintf(out, n, "warm-%016llx-", (unsigned long long)backend_hash(b));
}

static void warm_path(const backend_rt *b, uint64_t kind, char *out, size_t n)
{
    char pre[64];
    warm_prefix(b, pre, sizeof pre);
    snprintf(out, n, "%s/%s%016llx.json", b->all->cfg->state_dir, pre, (unsigned long long)kind);
}

/* Warm start for every local kind of backend: OpenAI-compatible ones get
 * the saved prefix translated, `anthropic` ones (llama-server's, LM
 * Studio's /v1/messages) get it rewritten as their requests are; never the
 * Claude API (claude mode). */
int backend_warm_on(const backend_rt *b)
{
    const config *c = b->all->cfg;
    return c->warm && c->state_dir[0] && b->cfg->mode->passthru != MODE_CLAUDE;
}

/* Write slot (0..99) into the two characters xlate_request reserved. */
static void write_slot(char *at, int slot)
{
    unsigned v = slot < 0 ? 0u : slot > 99 ? 99u : (unsigned)slot;
    at[0] = v >= 10 ? (char)('0' + v / 10) : ' ';
    at[1] = (char)('0' + v % 10);
}

/* The slot ledger (ledger.h) is kept only when slots are in use. */
static const char *ledger_dir(const backend_rt *b)
{
    return b->use_slots ? b->all->cfg->state_dir : "";
}

/* ---- slots ------------------------------------------------------------------------ */

int backend_pin_slot(backend_rt *b, uint64_t conv_key, buf *upbody, const xlate_request_info *info,
                     int agent, int *reuse, int *warm_hit)
{
    *warm_hit = 0;
    backend_warm_stop(b);
    int lock = ledger_hold(ledger_dir(b), b->cfg->url);
    ledger_sync(ledger_dir(b), b->cfg->url, &b->aff);
    int slot = affinity_slot(&b->aff, conv_key, info->kind_hash,
                             (info->short_conv ? AFFINITY_SHORT : 0) | (agent ? AFFINITY_AGENT : 0),
                             reuse, monotime_ms());
    if (slot < 0) {
        ledger_unlock(lock);
        return -1;
    }
    write_slot(upbody->data + info->id_slot_off, slot);
    if (*reuse == 2 && b->primed[slot] == info->kind_hash) *warm_hit = 1;
    if (*reuse != 1) b->primed[slot] = 0;
    ledger_write(ledger_dir(b), b->cfg->url, slot, info->kind_hash, 0, conv_key);
    ledger_unlock(lock);
    return slot;
}

static int warm_send(backend_rt *b, const char *path, uint64_t spare_kind);

/* How long the backend must stay idle before a spare slot is primed: the
 * next request of a tool loop comes sooner, and then nothing is primed. */
#define IDLE_PRIME_MS 1000

static int slot_copy_start(backend_rt *b, int src, uint64_t kind);

static void spare_prime(backend_rt *b, uint64_t kind)
{
    char path[700];
    warm_path(b, kind, path, sizeof path);
    if (access(path, R_OK) == 0) warm_send(b, path, kind);
}

static void idle_prime(evutil_socket_t fd, short what, void *arg)
{
    backend_rt *b = arg;
    uint64_t kind = b->spare_kind;
    b->spare_kind = 0;
    if (!kind || b->inflight > 0 || b->probe) return;
    if (slot_copy_start(b, b->spare_slot, kind)) return;
    spare_prime(b, kind);
}

void backend_slot_done(backend_rt *b, int slot, uint64_t conv_key)
{
    affinity_done(&b->aff, slot, conv_key, monotime_ms());
    /* The backend is idle now (this request is the last in flight): prime
     * a free slot with this conversation's prefix, so the next new
     * conversation of its kind (a second terminal, a session while this
     * one lives) starts warm instead of cold in an empty slot. */
    if (slot < 0 || slot >= b->aff.nslots || b->aff.slot[slot].key != (conv_key ? conv_key : 1))
        return;
    if (b->inflight > 1 || b->probe || !backend_warm_on(b) || !b->use_slots) return;
    /* not from here: this may run inside a curl callback, where libcurl
     * refuses a new transfer (CURLM_RECURSIVE_API_CALL) */
    b->spare_kind = b->aff.slot[slot].kind;
    b->spare_slot = slot;
    /* a -p session or subagent may be over now, and the next one starts
     * within a second: prime at once; an interactive turn after a grace */
    long ms = b->aff.slot[slot].is_short ? 0 : IDLE_PRIME_MS;
    struct timeval grace = {ms / 1000, (ms % 1000) * 1000};
    event_base_once(b->all->base, -1, EV_TIMEOUT, idle_prime, b, &grace);
}

int backend_warming(const backend_rt *b)
{
    return b->probe && b->probe->done == probe_done && probe_kind(b->probe) == P_WARM;
}

void backend_warm_stop(backend_rt *b)
{
    b->warm_next = b->nwarm;
    b->restore_next = SLOTFILES_MAX;
}

/* Keep the BACKEND_WARM_KINDS newest warm files of b; fill b->warm_files
 * with them, newest first. */
static void warm_list(backend_rt *b, int prune)
{
    const char *dir = b->all->cfg->state_dir;
    char pre[64];
    warm_prefix(b, pre, sizeof pre);
    struct {
        char path[700];
        time_t t;
    } f[BACKEND_WARM_KINDS + 1];
    int n = 0;
    b->nwarm = b->warm_next = 0;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (strncmp(de->d_name, pre, strlen(pre)) != 0 || l < 5 ||
            strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        char path[700];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path ||
            stat(path, &st) != 0)
            continue;
        /* insertion into f, newest first; the one pushed past the end is pruned */
        int j = n < BACKEND_WARM_KINDS + 1 ? n++ : n;
        if (j == BACKEND_WARM_KINDS + 1) {
            if (st.st_mtime <= f[BACKEND_WARM_KINDS].t) {
                if (prune) remove(path);
                continue;
            }
            if (prune) remove(f[BACKEND_WARM_KINDS].path);
            j = BACKEND_WARM_KINDS;
        }
        while (j > 0 && f[j - 1].t < st.st_mtime) {
            f[j] = f[j - 1];
            j--;
        }
        snprintf(f[j].path, sizeof f[j].path, "%s", path);
        f[j].t = st.st_mtime;
    }
    closedir(d);
    if (n == BACKEND_WARM_KINDS + 1) {
        if (prune) remove(f[BACKEND_WARM_KINDS].path);
        n = BACKEND_WARM_KINDS;
    }
    for (int i = 0; i < n; i++)
        memcpy(b->warm_files[i], f[i].path, sizeof b->warm_files[i]);
    b->nwarm = n;
}

/* Remember the system prompt and tools of each kind of conversation with
 * tools, so the next start can prefill them (warm start). A kind's file is
 * written once and touched when that kind is seen again (the newest kinds
 * are primed first). */
void backend_warm_save(backend_rt *b, const char *body, size_t len, uint64_t kind)
{
    if (!backend_warm_on(b) || kind == b->saved_kind) return;
    b->saved_kind = kind;
    char path[700], tmp[720];
    warm_path(b, kind, path, sizeof path);
    if (utime(path, NULL) == 0) return;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) return;
    cJSON *w = anthropic_warm_prefix(root);
    cJSON_Delete(root);
    if (!w) return;
    char *txt = cJSON_PrintUnformatted(w);
    cJSON_Delete(w);
    if (!txt) return;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f) {
        int ok = fputs(txt, f) >= 0;
        if (fclose(f) == 0 && ok && rename(tmp, path) == 0)
            log_line(2, "warm start: saved the prompt prefix of %s to %s", b->cfg->name, path);
        else
            remove(tmp);
    }
    cJSON_free(txt);
    warm_list(b, 1);
    backend_warm_stop(b);
}

/* ---- slot copy (llama-server --slot-save-path) ----------------------------------
 *
 * When the backend goes idle and some slots are free, the slot of the
 * conversation that just ran is saved (POST /slots/N?action=save) and
 * restored into each free slot (action=restore): no prefill, and every slot
 * then holds at least the start of the system prompt, so a new conversation
 * of another kind (a new project) is not placed in an empty slot. (llama-server
 * never loads a prompt from --cache-ram into a slot a request is pinned to.)
 * A server without --slot-save-path answers 501: the gateway then primes a
 * spare slot by prefilling, as before. One file per source slot,
 * anyclaude-<server hash>-<slot>.bin in the server's --slot-save-path. */

static int copy_probe(backend_rt *b, enum probe_kind kind, int src, int dst, uint64_t copy_kind)
{
    bk_probe *p = probe_new(b, kind, 1u << 16);
    if (!p) return 0;
    uint64_t h = affinity_hash(AFFINITY_HASH_INIT, b->cfg->url, strlen(b->cfg->url));
    char name[64];
    snprintf(name, sizeof name, "anyclaude-%016llx-%d.bin", (unsigned long long)h, src);
    if (bk_probe_slot_action(p, kind == P_SAVE ? "save" : "restore", kind == P_SAVE ? src : dst,
                             name) < 0) {
        bk_probe_free(p);
        return 0;
    }
    p->slot = dst;
    p->src = src;
    p->copy_kind = copy_kind;
    bk_probe_start(p, "POST", TIMEOUT_SLOT_COPY_MS);
    return 1;
}

/* Start copying slot src (holding a prefix of kind) into the free slots:
 * 1 when the save started, 0 when there is nothing to do or no way to. */
static int slot_copy_start(backend_rt *b, int src, uint64_t kind)
{
    if (b->copy_off || !b->use_slots || src < 0 || src >= b->aff.nslots) return 0;
    int lock = ledger_hold(ledger_dir(b), b->cfg->url);
    ledger_sync(ledger_dir(b), b->cfg->url, &b->aff);
    int nfree = 0;
    for (int i = 0; i < b->aff.nslots; i++)
        nfree += !b->aff.slot[i].key && !b->aff.slot[i].foreign;
    ledger_unlock(lock);
    if (!nfree) return 0;
    return copy_probe(b, P_SAVE, src, -1, kind);
}

/* The next free slot gets the saved copy (after the save, or a restore). */
static void slot_copy_next(backend_rt *b, int src, uint64_t kind)
{
    if (b->inflight > 0) return; /* a real request came: it goes first */
    int lock = ledger_hold(ledger_dir(b), b->cfg->url);
    ledger_sync(ledger_dir(b), b->cfg->url, &b->aff);
    int dst = affinity_fill(&b->aff, kind, monotime_ms());
    if (dst >= 0) {
        b->primed[dst] = kind;
        ledger_write(ledger_dir(b), b->cfg->url, dst, kind, 1, 0);
    }
    ledger_unlock(lock);
    if (dst >= 0 && !copy_probe(b, P_RESTORE, src, dst, kind)) {
        b->primed[dst] = 0;
        affinity_external(&b->aff, dst, AFFINITY_EXT_EMPTY, 0);
    }
}

/* A save or restore answered. */
static void slot_copy_done(bk_probe *p, int ok, long status, const char *err, const cJSON *j)
{
    backend_rt *b = p->b;
    if (ok && status == 200) {
        const cJSON *n =
            cJSON_GetObjectItemCaseSensitive(j, probe_kind(p) == P_SAVE ? "n_saved" : "n_restored");
        if (probe_kind(p) == P_SAVE)
            log_line(1, "slot copy: saved slot %d of %s (%.0f tokens) in %.0f ms", p->src,
                     b->cfg->name, cJSON_IsNumber(n) ? n->valuedouble : -1.0,
                     monotime_ms() - p->t0);
        else
            log_line(0,
                     "slot copy: slot %d of %s now holds slot %d's prefix (%.0f tokens, %.0f ms)",
                     p->slot, b->cfg->name, p->src, cJSON_IsNumber(n) ? n->valuedouble : -1.0,
                     monotime_ms() - p->t0);
        slot_copy_next(b, p->src, p->copy_kind);
        return;
    }
    if (probe_kind(p) == P_RESTORE && p->slot >= 0) { /* the slot holds nothing claimable */
        b->primed[p->slot] = 0;
        affinity_external(&b->aff, p->slot, AFFINITY_EXT_EMPTY, 0);
    }
    if (ok && (status == 501 || status == 404 || status == 405)) {
        b->copy_off = 1;
        log_line(0,
                 "slot copy off for %s (HTTP %ld): start llama-server with --slot-save-path DIR "
                 "to fill empty slots by copying instead of prefilling",
                 b->cfg->name, status);
    } else {
        log_line(1, "slot copy failed on %s (HTTP %ld%s%s)", b->cfg->name, status,
                 err && *err ? ": " : "", err ? err : "");
    }
    if (probe_kind(p) == P_SAVE && b->inflight == 0) spare_prime(b, p->copy_kind);
}

/* The saved prefix to an `anthropic` backend: rewritten as relay.c rewrites
 * its requests (billing block out, the environment block ahead of the first
 * user turn, server tools out, the model), so the server's cache holds the
 * bytes the next request starts with. One cache as far as anyclaude knows
 * (no slots): only the newest kind. */
static int warm_send_messages(backend_rt *b, bk_probe *p, buf *in, const char *path)
{
    cJSON *root = in->data ? cJSON_ParseWithLength(in->data, in->len) : NULL;
    buf_free(in);
    passthru_opts po = backend_passthru_opts(b, NULL);
    if (!root) {
        log_line(1, "warm start: ignoring %s (not JSON)", path);
        bk_probe_free(p);
        return 0;
    }
    servertools_strip(root);
    int rc = toolsearch_localize(root) < 0 ? BUF_ENOMEM : passthru_rewrite(root, &po, &p->reqbody);
    cJSON_Delete(root);
    if (rc) {
        bk_probe_free(p);
        return 0;
    }
    route_backend_url(b->cfg, "messages", p->url, sizeof p->url);
    log_line(1, "warm start: prefilling a saved prompt prefix on %s (%zu bytes)", b->cfg->name,
             p->reqbody.len);
    bk_probe_start(p, "POST", TIMEOUT_PREFILL_MS);
    return 1;
}

static void warm_start(backend_rt *b);

/* Send the saved prefix in path as a one-token prefill. At start
 * (spare_kind 0): into a free slot, unless a slot already holds that kind;
 * in the background (spare_kind: the kind of a conversation that just
 * ended): into a free slot, unless a prefix of that kind is already
 * claimable. Returns 1 when a prefill started, 0 when skipped, -1 when no
 * slot is free. */
static int warm_send(backend_rt *b, const char *path, uint64_t spare_kind)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    buf in;
    buf_init(&in, 16u << 20);
    char chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(&in, chunk, r) != BUF_OK) break;
    fclose(f);
    bk_probe *p = probe_new(b, P_WARM, 1u << 20);
    if (!p) {
        buf_free(&in);
        return -1;
    }
    if (b->cfg->mode->passthru) return warm_send_messages(b, p, &in, path);
    xlate_request_opts o = {
        .model = backend_model(b, NULL),
        .max_tokens_cap = b->all->cfg->max_tokens,
        .cache_prompt = b->cfg->mode->cache_prompt,
        .use_id_slot = b->use_slots,
        .text_only = route_backend_text_only(b->cfg),
    };
    xlate_request_info info;
    char err[256];
    int rc = xlate_request_build(in.data ? in.data : "", in.len, &o, &p->reqbody, &info, err,
                                 sizeof err);
    buf_free(&in);
    if (rc < 0) {
        log_line(1, "warm start: ignoring %s (%s)", path, err);
        bk_probe_free(p);
        return 0;
    }
    if (b->use_slots && info.id_slot_off) {
        int lock = ledger_hold(ledger_dir(b), b->cfg->url);
        ledger_sync(ledger_dir(b), b->cfg->url,
                    &b->aff); /* never prime a slot another gateway has taken since */
        int held = spare_kind ? -1 : affinity_holds(&b->aff, info.kind_hash);
        if (held >= 0)
            log_line(1, "warm start: %s slot %d already holds the prefix of %s", b->cfg->name, held,
                     path);
        if (held >= 0 || (spare_kind && spare_kind != info.kind_hash)) {
            ledger_unlock(lock);
            xlate_request_info_free(&info);
            bk_probe_free(p);
            return 0;
        }
        p->slot = spare_kind ? affinity_prime_spare(&b->aff, spare_kind, monotime_ms())
                             : affinity_prime(&b->aff, info.kind_hash, monotime_ms());
        if (p->slot < 0) { /* no free slot, or (spare) a claimable prefix exists */
            ledger_unlock(lock);
            xlate_request_info_free(&info);
            bk_probe_free(p);
            return spare_kind ? 0 : -1;
        }
        write_slot(p->reqbody.data + info.id_slot_off, p->slot);
        b->primed[p->slot] = info.kind_hash;
        ledger_write(ledger_dir(b), b->cfg->url, p->slot, info.kind_hash, 1, 0);
        ledger_unlock(lock);
    }
    xlate_request_info_free(&info);
    route_backend_url(b->cfg, "chat", p->url, sizeof p->url);
    if (p->slot >= 0)
        log_line(1, "%s: prefilling a saved prompt prefix on %s into slot %d (%zu bytes)",
                 spare_kind ? "idle priming" : "warm start", b->cfg->name, p->slot, p->reqbody.len);
    else
        log_line(1, "warm start: prefilling a saved prompt prefix on %s (%zu bytes)", b->cfg->name,
                 p->reqbody.len);
    bk_probe_start(p, "POST", TIMEOUT_PREFILL_MS);
    return 1;
}

/* ---- mirror checkpoints (anthropic, openai modes; checkpoint.h) ------------------ */

/* Before the first warm start of an `anthropic` or `openai` backend: is it
 * a llama-server (GET /props)? `openai` mode then places slots (unless
 * --slots 0), with or without warm start; `anthropic` mode keeps slot-id
 * checkpoints, which need warm start. 1 when that probe started. */
static int mirror_probe(backend_rt *b)
{
    const mode_profile *m = b->cfg->mode;
    int openai = strcmp(m->name, "openai") == 0;
    if (b->mirror_probed || !(m->passthru == MODE_ANTHROPIC || openai) ||
        !(backend_warm_on(b) || (openai && b->cfg->slots != 0)))
        return 0;
    b->mirror_probed = 1;
    bk_probe *p = probe_new(b, P_PROPS, 1u << 20);
    if (!p) return 0;
    route_backend_url(b->cfg, "/props", p->url, sizeof p->url);
    return bk_probe_start(p, "GET", TIMEOUT_HEALTH_PROBE_MS) == 0;
}

/* Prefill the next saved prefix on the backend (at start, newest kind
 * first): with slots, each kind the server does not already hold goes into
 * a free slot until none is left or a real request arrives; without, only
 * the newest (one cache). */
static void warm_start(backend_rt *b)
{
    if (mirror_probe(b) || !backend_warm_on(b) || checkpoint_restore_next(b, warm_start)) return;
    while (b->warm_next < b->nwarm) {
        const char *path = b->warm_files[b->warm_next++];
        if (!b->use_slots) backend_warm_stop(b);
        int rc = warm_send(b, path, 0);
        if (rc > 0) return;
        if (rc < 0) {
            backend_warm_stop(b);
            return;
        }
    }
}

/* /slots answered: slots the server holds nothing in are free, whatever the
 * ledger says (the server restarted). */
static void slots_seen(backend_rt *b, const cJSON *j)
{
    int lock = ledger_hold(ledger_dir(b), b->cfg->url);
    ledger_sync(ledger_dir(b), b->cfg->url, &b->aff);
    const cJSON *s;
    cJSON_ArrayForEach(s, j)
    {
        int holds, id = bk_slot_entry(s, AFFINITY_MAX_SLOTS, &holds);
        if (id >= 0 && !holds) {
            affinity_external(&b->aff, id, AFFINITY_EXT_EMPTY, 0);
            /* else the next sync would bring the gone prefix back */
            ledger_forget(ledger_dir(b), b->cfg->url, id);
        }
    }
    ledger_unlock(lock);
}

/* Ask llama.cpp which slots hold a prompt (GET /slots). */
static void slots_probe(backend_rt *b)
{
    bk_probe *p = probe_new(b, P_SLOTS, 4u << 20);
    if (!p) return;
    route_backend_url(b->cfg, "/slots", p->url, sizeof p->url);
    bk_probe_start(p, "GET", TIMEOUT_HEALTH_PROBE_MS);
}

static void health_done(bk_probe *p, int ok, long status, const char *err)
{
    backend_rt *b = p->b;
    if (ok && status >= 200 && status < 300) {
        mark_up(b);
    } else {
        char why[300];
        if (ok)
            snprintf(why, sizeof why, "health check %.200s answered HTTP %ld", p->url, status);
        else
            snprintf(why, sizeof why, "health check %.150s: %.120s", p->url, err);
        backend_mark_down(b, why);
    }
}

/* A warm-start prefill answered. */
static void warm_done(bk_probe *p, long status, const char *err, const cJSON *j)
{
    backend_rt *b = p->b;
    const cJSON *u = j ? cJSON_GetObjectItemCaseSensitive(j, "usage") : NULL;
    const cJSON *pt = u ? cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens") : NULL;
    const cJSON *d = u ? cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens_details") : NULL;
    const cJSON *ct = d ? cJSON_GetObjectItemCaseSensitive(d, "cached_tokens") : NULL;
    if (u && !pt) { /* an Anthropic answer (`anthropic` mode) */
        pt = cJSON_GetObjectItemCaseSensitive(u, "input_tokens");
        ct = cJSON_GetObjectItemCaseSensitive(u, "cache_read_input_tokens");
    }
    if (j && cJSON_IsNumber(pt)) {
        b->all->m->warm_starts++;
        char slot[32] = "";
        if (p->slot >= 0) snprintf(slot, sizeof slot, " into slot %d", p->slot);
        log_line(0,
                 "warm start: prefilled a saved system prompt and tools on %s "
                 "(%.0f tokens, %.0f already cached) in %.0f ms%s",
                 b->cfg->name, pt->valuedouble, cJSON_IsNumber(ct) ? ct->valuedouble : 0.0,
                 monotime_ms() - p->t0, slot);
        return;
    }
    if (p->slot >= 0) { /* the slot holds nothing claimable: free it again */
        b->primed[p->slot] = 0;
        if (b->aff.slot[p->slot].over) affinity_external(&b->aff, p->slot, AFFINITY_EXT_EMPTY, 0);
    }
    log_line(1,
             "warm start failed on %s (HTTP %ld%s%s); the first request will prefill "
             "from cold",
             b->cfg->name, status, err && *err ? ": " : "", err ? err : "");
}

/* /props answered (llama.cpp): its slots, and what identifies the model
 * and context it runs (checkpoints are kept for that alone). */
static void props_seen(backend_rt *b, const cJSON *j, const char *url)
{
    const cJSON *n = j ? cJSON_GetObjectItemCaseSensitive(j, "total_slots") : NULL;
    if (!b->cfg->mode->cache_prompt) { /* mirror_probe's: a llama-server? */
        if (cJSON_IsNumber(n) && n->valuedouble >= 1 && n->valuedouble <= 1e6) {
            b->server_id = checkpoint_server_id(j);
            /* anthropic mode (its /v1/messages drops id_slot), or slots off
             * (replicas behind a load balancer: llama-server places): follow
             * its slots */
            if (b->cfg->mode->passthru || b->cfg->slots == 0) {
                b->mirror_slots = (int)n->valuedouble;
                return;
            }
            /* `openai` mode: llama-server's /v1/chat/completions takes id_slot,
             * so conversations are placed as in llamacpp mode (left to itself,
             * llama-server puts two sessions of one kind into one slot, by
             * similarity, and they evict each other every turn) */
            affinity_init(&b->aff, (int)n->valuedouble);
            b->use_slots = 1;
            log_line(1,
                     "%s is a llama-server with %d slots: each conversation keeps its own "
                     "(id_slot)",
                     b->cfg->name, b->aff.nslots);
        }
        return;
    }
    if (cJSON_IsNumber(n) && n->valuedouble >= 1 && n->valuedouble <= 1e6) {
        affinity_init(&b->aff, (int)n->valuedouble);
        b->use_slots = 1;
        log_line(1, "llama.cpp %s has %d slots: each conversation keeps its own (id_slot)",
                 b->cfg->name, b->aff.nslots);
    } else {
        log_line(1, "slot affinity off for %s: %s did not say how many slots there are",
                 b->cfg->name, url);
    }
    b->server_id = checkpoint_server_id(j);
}

static void probe_done(bk_probe *p, int ok, long status, const char *err, const cJSON *j)
{
    backend_rt *b = p->b;
    enum probe_kind kind = probe_kind(p);
    if (kind == P_HEALTH) {
        health_done(p, ok, status, err);
        return;
    }
    if (kind == P_SAVE || kind == P_RESTORE) {
        slot_copy_done(p, ok, status, err, j);
        return;
    }
    if (kind == P_MODELS) {
        const cJSON *data = j ? cJSON_GetObjectItemCaseSensitive(j, "data") : NULL;
        const cJSON *first = cJSON_IsArray(data) ? cJSON_GetArrayItem(data, 0) : NULL;
        const cJSON *id = first ? cJSON_GetObjectItemCaseSensitive(first, "id") : NULL;
        if (cJSON_IsString(id) && strlen(id->valuestring) < sizeof b->auto_model) {
            snprintf(b->auto_model, sizeof b->auto_model, "%s", id->valuestring);
            log_line(0, "no model given for %s: using %s, the first model %s lists", b->cfg->name,
                     b->auto_model, p->url);
        } else {
            log_line(0,
                     "no model given for %s and %s did not list one (%s); requests go without "
                     "a model name",
                     b->cfg->name, p->url, ok ? "no model list" : err);
        }
    } else if (kind == P_PROPS) {
        props_seen(b, j, p->url);
        if (b->use_slots || checkpoint_mirror_on(b)) {
            slots_probe(b);
            return;
        }
    } else if (kind == P_SLOTS) {
        if (checkpoint_mirror_on(b)) {
            if (cJSON_IsArray(j) && checkpoint_mirror_restore(b, j, warm_start)) return;
        } else if (cJSON_IsArray(j))
            slots_seen(b, j);
        else
            ledger_sync(ledger_dir(b), b->cfg->url, &b->aff);
    } else { /* warm start finished */
        warm_done(p, status, err, j);
    }
    warm_start(b); /* the next kind, if any */
}

/* At start: learn the backend's slots (llama.cpp) or model (openai), then
 * warm start. */
static void backend_probe(backend_rt *b)
{
    const route_backend *c = b->cfg;
    if (c->mode->passthru) {
        /* an `anthropic` backend: the saved prefix, nothing to learn first */
        if (backend_warm_on(b)) {
            warm_list(b, 0);
            warm_start(b);
        }
        return;
    }
    if (backend_warm_on(b)) warm_list(b, 0);
    if (c->slots > 0 && c->mode->cache_prompt) {
        affinity_init(&b->aff, c->slots);
        b->use_slots = 1;
    }
    if (!c->model[0] && strcmp(c->mode->name, "openai") == 0) {
        bk_probe *p = probe_new(b, P_MODELS, 4u << 20);
        if (!p) return;
        route_backend_url(b->cfg, "models", p->url, sizeof p->url);
        bk_probe_start(p, "GET", TIMEOUT_HEALTH_PROBE_MS);
        return;
    }
    if (c->slots < 0 && c->mode->cache_prompt) {
        bk_probe *p = probe_new(b, P_PROPS, 1u << 20);
        if (!p) return;
        route_backend_url(b->cfg, "/props", p->url, sizeof p->url);
        bk_probe_start(p, "GET", TIMEOUT_HEALTH_PROBE_MS);
        return;
    }
    if (b->use_slots) {
        slots_probe(b);
        return;
    }
    warm_start(b);
}

/* ---- health checks ------------------------------------------------------------- */

static void health_check(backend_rt *b)
{
    if (b->health) return;
    bk_probe *p = probe_new(b, P_HEALTH, 1u << 20);
    if (!p) return;
    if (b->cfg->mode->cache_prompt)
        route_backend_url(b->cfg, "/health", p->url, sizeof p->url);
    else
        route_backend_url(b->cfg, "models", p->url, sizeof p->url);
    long t = b->all->cfg->routing.health_ms;
    bk_probe_start(p, "GET", t < TIMEOUT_HEALTH_PROBE_MS ? TIMEOUT_HEALTH_PROBE_MS : t);
}

static void health_tick(evutil_socket_t fd, short what, void *arg)
{
    backends *bs = arg;
    for (int i = 0; i < bs->n; i++)
        if (bs->b[i].checked) health_check(&bs->b[i]);
    long ms = bs->cfg->routing.health_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(bs->health_timer, &tv);
}

/* ---- set up and tear down ----------------------------------------------------------- */

int backends_init(backends *bs, struct event_base *base, upstream *up, const config *cfg,
                  metrics *m)
{
    memset(bs, 0, sizeof *bs);
    bs->base = base;
    bs->up = up;
    bs->cfg = cfg;
    bs->m = m;
    const routes *r = &cfg->routing;
    int pools = 0;
    for (int i = 0; i < r->nroutes; i++)
        pools |= r->r[i].npool > 1;
    if (pools) { /* calloc'd zeroes are pool_init's state, and stay untouched until used */
        bs->pool = calloc(1, sizeof *bs->pool);
        if (!bs->pool) return -1;
    }
    bs->n = r->nbackends;
    for (int i = 0; i < bs->n; i++) {
        backend_rt *b = &bs->b[i];
        b->all = bs;
        b->idx = i;
        b->cfg = &r->backends[i];
        b->up = 1;
        b->est_ratio = 1.0;
        affinity_init(&b->aff, 0);
        int alt;
        b->used = routes_uses(r, i, &alt);
        b->checked = alt && b->cfg->mode->passthru != MODE_CLAUDE;
    }
    int any_checked = 0;
    for (int i = 0; i < bs->n; i++) {
        if (bs->b[i].used) backend_probe(&bs->b[i]);
        any_checked |= bs->b[i].checked;
    }
    if (any_checked) {
        bs->health_timer = evtimer_new(base, health_tick, bs);
        if (!bs->health_timer) return -1;
        long ms = r->health_ms;
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(bs->health_timer, &tv);
    }
    return 0;
}

void backends_free(backends *bs)
{
    for (int i = 0; i < bs->n; i++) {
        bk_probe_cancel(&bs->b[i].probe);
        bk_probe_cancel(&bs->b[i].health);
    }
    if (bs->health_timer) event_free(bs->health_timer);
    bs->health_timer = NULL;
    free(bs->pool);
    bs->pool = NULL;
}

/* The per-backend series of /metrics, in order. */
static const struct {
    const char *name, *help, *type;
} backend_series[] = {
    {"anyclaude_backend_requests_total",
     "/v1/messages requests sent to each backend (attempts, fallbacks included).", "counter"},
    {"anyclaude_backend_up",
     "1 while the backend takes requests, 0 after a refused connection or a failed health check.",
     "gauge"},
    {"anyclaude_backend_inflight", "/v1/messages requests in flight on each backend.", "gauge"},
};

static long long backend_series_value(const backend_rt *b, int k)
{
    return k == 0 ? (long long)b->requests : k == 1 ? b->up : b->inflight;
}

int backends_metrics(const backends *bs, buf *out)
{
    int rc = 0;
    for (int k = 0; k < (int)(sizeof backend_series / sizeof backend_series[0]) && !rc; k++) {
        rc = buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", backend_series[k].name,
                         backend_series[k].help, backend_series[k].name, backend_series[k].type);
        for (int i = 0; i < bs->n && !rc; i++)
            if (bs->b[i].used)
                rc = buf_appendf(out, "%s{backend=\"%s\"} %lld\n", backend_series[k].name,
                                 bs->b[i].cfg->name, backend_series_value(&bs->b[i], k));
    }
    if (!rc)
        rc = buf_appendf(out,
                         "# HELP anyclaude_fallbacks_total Requests passed on to the next "
                         "target before their stream started.\n"
                         "# TYPE anyclaude_fallbacks_total counter\n"
                         "anyclaude_fallbacks_total %llu\n",
                         bs->fallbacks);
    return rc;
}
