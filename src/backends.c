/*
 * backends: probes, warm start, health checks and load of each configured
 * backend (see backends.h).
 */
#include "backends.h"

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"

enum probe_kind { P_PROPS, P_WARM, P_MODELS, P_HEALTH };

typedef struct bk_probe {
    backend_rt *b;
    upstream_req *req;
    buf body;
    buf reqbody;
    enum probe_kind kind;
    double t0;
    int slot;
    char url[700];
} bk_probe;

/* ---- small accessors -------------------------------------------------------- */

const char *backend_model(const backend_rt *b, const char *target_model)
{
    if (target_model && *target_model) return target_model;
    if (b->cfg->model[0]) return b->cfg->model;
    return b->auto_model[0] ? b->auto_model : NULL;
}

const char *backend_key(const backend_rt *b)
{
    return b->cfg->api_key[0] ? b->cfg->api_key : NULL;
}

const char *backend_ca(const backend_rt *b)
{
    if (b->cfg->ca_file[0]) return b->cfg->ca_file;
    return b->all->cfg->ca_file[0] ? b->all->cfg->ca_file : NULL;
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

/* ---- probes ---------------------------------------------------------------------- */

static void probe_free(bk_probe *p)
{
    if (!p) return;
    buf_free(&p->body);
    buf_free(&p->reqbody);
    free(p);
}

static int probe_data(void *ud, const char *d, size_t n)
{
    return buf_append(&((bk_probe *)ud)->body, d, n) == BUF_OK ? 0 : 1;
}

static void probe_done(void *ud, int ok, int refused, long status, const char *err);

static bk_probe *probe_new(backend_rt *b, enum probe_kind kind, size_t max_body)
{
    bk_probe *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->b = b;
    p->kind = kind;
    p->slot = -1;
    buf_init(&p->body, max_body);
    buf_init(&p->reqbody, 64u << 20);
    return p;
}

static void probe_start(bk_probe *p, const char *method, long total_ms)
{
    backend_rt *b = p->b;
    upstream_opts o = {
        .method = method,
        .url = p->url,
        .body = p->reqbody.data,
        .body_len = p->reqbody.len,
        .bearer = backend_key(b),
        .ca_file = backend_ca(b),
        .connect_timeout_ms = 3000,
        .total_timeout_ms = total_ms,
    };
    const char *hdrs[2] = {NULL, NULL};
    char xkey[600];
    if (b->cfg->mode->passthru && backend_key(b)) {
        snprintf(xkey, sizeof xkey, "x-api-key: %s", backend_key(b));
        hdrs[0] = xkey;
        o.headers = hdrs;
        if (b->cfg->mode->passthru == MODE_CLAUDE) o.bearer = NULL;
    }
    upstream_cbs cbs = {.on_data = probe_data, .on_done = probe_done};
    p->t0 = server_now_ms();
    if (p->kind == P_HEALTH)
        b->health = p;
    else
        b->probe = p;
    p->req = upstream_start(b->all->up, &o, &cbs, p);
    if (!p->req) {
        if (p->kind == P_HEALTH)
            b->health = NULL;
        else
            b->probe = NULL;
        probe_free(p);
    }
}

static void warm_path(const backend_rt *b, char *out, size_t n)
{
    const config *c = b->all->cfg;
    const char *name = b->cfg->mode->name;
    uint64_t h = affinity_hash(AFFINITY_HASH_INIT, name, strlen(name));
    h = affinity_hash(h, b->cfg->url, strlen(b->cfg->url));
    h = affinity_hash(h, b->cfg->model, strlen(b->cfg->model));
    snprintf(out, n, "%s/warm-%016llx.json", c->state_dir, (unsigned long long)h);
}

static int warm_on(const backend_rt *b)
{
    const config *c = b->all->cfg;
    return c->warm && c->state_dir[0] && !b->cfg->mode->passthru;
}

/* Write slot (0..99) into the two characters xlate_request reserved. */
static void write_slot(char *at, int slot)
{
    unsigned v = slot < 0 ? 0u : slot > 99 ? 99u : (unsigned)slot;
    at[0] = v >= 10 ? (char)('0' + v / 10) : ' ';
    at[1] = (char)('0' + v % 10);
}

int backend_pin_slot(backend_rt *b, uint64_t conv_key, buf *upbody, const xlate_request_info *info,
                     int *reuse, int *warm_hit)
{
    *warm_hit = 0;
    int slot = affinity_slot(&b->aff, conv_key, info->kind_hash, reuse, server_now_ms());
    if (slot < 0) return -1;
    write_slot(upbody->data + info->id_slot_off, slot);
    if (slot == b->warm_slot && info->kind_hash == b->warm_kind) {
        *warm_hit = 1;
        b->warm_slot = -1;
    }
    return slot;
}

void backend_slot_done(backend_rt *b, int slot, uint64_t conv_key)
{
    affinity_done(&b->aff, slot, conv_key, server_now_ms());
}

/* Remember the system prompt and tools of the newest conversation with
 * tools, so the next start can prefill them (warm start). Written only when
 * they change. */
void backend_warm_save(backend_rt *b, const char *body, size_t len, const xlate_request_info *info)
{
    if (!warm_on(b) || info->kind_hash == b->saved_kind) return;
    b->saved_kind = info->kind_hash;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) return;
    cJSON *w = cJSON_CreateObject();
    cJSON_AddStringToObject(w, "model", "anyclaude-warm-start");
    cJSON_AddNumberToObject(w, "max_tokens", 1);
    cJSON *sys = cJSON_DetachItemFromObjectCaseSensitive(root, "system");
    if (sys) cJSON_AddItemToObject(w, "system", sys);
    cJSON *tools = cJSON_DetachItemFromObjectCaseSensitive(root, "tools");
    if (tools) cJSON_AddItemToObject(w, "tools", tools);
    cJSON *msgs = cJSON_AddArrayToObject(w, "messages");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", "hi");
    cJSON_AddItemToArray(msgs, m);
    char *txt = cJSON_PrintUnformatted(w);
    cJSON_Delete(w);
    cJSON_Delete(root);
    if (!txt) return;
    char path[700], tmp[720];
    warm_path(b, path, sizeof path);
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
}

/* Prefill the saved prefix on the backend, once, at start. */
static void warm_start(backend_rt *b)
{
    if (!warm_on(b)) return;
    char path[700];
    warm_path(b, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) return;
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
        return;
    }
    xlate_request_opts o = {
        .model = backend_model(b, NULL),
        .max_tokens_cap = b->all->cfg->max_tokens,
        .cache_prompt = b->cfg->mode->cache_prompt,
        .use_id_slot = b->use_slots,
        .text_only = route_backend_text_only(b->cfg),
    };
    xlate_request_info info;
    char err[256];
    if (xlate_request_build(in.data ? in.data : "", in.len, &o, &p->reqbody, &info, err,
                            sizeof err) < 0) {
        log_line(1, "warm start: ignoring %s (%s)", path, err);
        buf_free(&in);
        probe_free(p);
        return;
    }
    buf_free(&in);
    if (b->use_slots && info.id_slot_off) {
        p->slot = affinity_slot(&b->aff, info.first_hash, info.kind_hash, NULL, server_now_ms());
        /* a prefill meant to be taken over: it does not make the slot busy */
        affinity_done(&b->aff, p->slot, info.first_hash, server_now_ms());
        if (p->slot >= 0) write_slot(p->reqbody.data + info.id_slot_off, p->slot);
        b->warm_slot = p->slot;
        b->warm_kind = info.kind_hash;
    }
    xlate_request_info_free(&info);
    route_backend_url(b->cfg, "chat", p->url, sizeof p->url);
    log_line(1, "warm start: prefilling the last session's prompt prefix on %s (%zu bytes)",
             b->cfg->name, p->reqbody.len);
    probe_start(p, "POST", 600000);
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

static void probe_done(void *ud, int ok, int refused, long status, const char *err)
{
    bk_probe *p = ud;
    backend_rt *b = p->b;
    if (p->kind == P_HEALTH) {
        b->health = NULL;
        health_done(p, ok, status, err);
        probe_free(p);
        return;
    }
    b->probe = NULL;
    cJSON *j = ok && status == 200
                   ? cJSON_ParseWithLength(p->body.data ? p->body.data : "", p->body.len)
                   : NULL;
    if (p->kind == P_MODELS) {
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
    } else if (p->kind == P_PROPS) {
        const cJSON *n = j ? cJSON_GetObjectItemCaseSensitive(j, "total_slots") : NULL;
        if (cJSON_IsNumber(n) && n->valuedouble >= 1 && n->valuedouble <= 1e6) {
            affinity_init(&b->aff, (int)n->valuedouble);
            b->use_slots = 1;
            log_line(1, "llama.cpp %s has %d slots: each conversation keeps its own (id_slot)",
                     b->cfg->name, b->aff.nslots);
        } else {
            log_line(1, "slot affinity off for %s: %s did not say how many slots there are",
                     b->cfg->name, p->url);
        }
    } else { /* warm start finished */
        const cJSON *u = j ? cJSON_GetObjectItemCaseSensitive(j, "usage") : NULL;
        const cJSON *pt = u ? cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens") : NULL;
        const cJSON *d = u ? cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens_details") : NULL;
        const cJSON *ct = d ? cJSON_GetObjectItemCaseSensitive(d, "cached_tokens") : NULL;
        if (j && cJSON_IsNumber(pt)) {
            b->all->m->warm_starts++;
            char slot[32] = "";
            if (p->slot >= 0) snprintf(slot, sizeof slot, " into slot %d", p->slot);
            log_line(0,
                     "warm start: prefilled the last session's system prompt and tools on %s "
                     "(%.0f tokens, %.0f already cached) in %.0f ms%s",
                     b->cfg->name, pt->valuedouble, cJSON_IsNumber(ct) ? ct->valuedouble : 0.0,
                     server_now_ms() - p->t0, slot);
        } else {
            b->warm_slot = -1;
            log_line(1,
                     "warm start failed on %s (HTTP %ld%s%s); the first request will prefill "
                     "from cold",
                     b->cfg->name, status, err && *err ? ": " : "", err ? err : "");
        }
        cJSON_Delete(j);
        probe_free(p);
        return;
    }
    cJSON_Delete(j);
    probe_free(p);
    warm_start(b);
}

/* At start: learn the backend's slots (llama.cpp) or model (openai), then
 * warm start. */
static void backend_probe(backend_rt *b)
{
    const route_backend *c = b->cfg;
    if (c->mode->passthru) return;
    if (c->slots > 0 && c->mode->cache_prompt) {
        affinity_init(&b->aff, c->slots);
        b->use_slots = 1;
    }
    if (!c->model[0] && strcmp(c->mode->name, "openai") == 0) {
        bk_probe *p = probe_new(b, P_MODELS, 4u << 20);
        if (!p) return;
        route_backend_url(b->cfg, "models", p->url, sizeof p->url);
        probe_start(p, "GET", 5000);
        return;
    }
    if (c->slots < 0 && c->mode->cache_prompt) {
        bk_probe *p = probe_new(b, P_PROPS, 1u << 20);
        if (!p) return;
        route_backend_url(b->cfg, "/props", p->url, sizeof p->url);
        probe_start(p, "GET", 5000);
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
    probe_start(p, "GET", t < 5000 ? 5000 : t);
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
        b->warm_slot = -1;
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

static void cancel_probe(bk_probe **pp)
{
    bk_probe *p = *pp;
    if (!p) return;
    upstream_cancel(p->req);
    probe_free(p);
    *pp = NULL;
}

void backends_free(backends *bs)
{
    for (int i = 0; i < bs->n; i++) {
        cancel_probe(&bs->b[i].probe);
        cancel_probe(&bs->b[i].health);
    }
    if (bs->health_timer) event_free(bs->health_timer);
    bs->health_timer = NULL;
    free(bs->pool);
    bs->pool = NULL;
}

int backends_metrics(const backends *bs, buf *out)
{
    int rc = buf_appends(out, "# HELP anyclaude_backend_requests_total /v1/messages requests sent "
                              "to each backend (attempts, fallbacks included).\n"
                              "# TYPE anyclaude_backend_requests_total counter\n");
    for (int i = 0; i < bs->n && !rc; i++)
        if (bs->b[i].used)
            rc = buf_appendf(out, "anyclaude_backend_requests_total{backend=\"%s\"} %llu\n",
                             bs->b[i].cfg->name, bs->b[i].requests);
    if (!rc)
        rc = buf_appends(out, "# HELP anyclaude_backend_up 1 while the backend takes requests, 0 "
                              "after a refused connection or a failed health check.\n"
                              "# TYPE anyclaude_backend_up gauge\n");
    for (int i = 0; i < bs->n && !rc; i++)
        if (bs->b[i].used)
            rc = buf_appendf(out, "anyclaude_backend_up{backend=\"%s\"} %d\n", bs->b[i].cfg->name,
                             bs->b[i].up);
    if (!rc)
        rc = buf_appends(out, "# HELP anyclaude_backend_inflight /v1/messages requests in flight "
                              "on each backend.\n# TYPE anyclaude_backend_inflight gauge\n");
    for (int i = 0; i < bs->n && !rc; i++)
        if (bs->b[i].used)
            rc = buf_appendf(out, "anyclaude_backend_inflight{backend=\"%s\"} %d\n",
                             bs->b[i].cfg->name, bs->b[i].inflight);
    if (!rc)
        rc = buf_appendf(out,
                         "# HELP anyclaude_fallbacks_total Requests passed on to the next "
                         "target before their stream started.\n"
                         "# TYPE anyclaude_fallbacks_total counter\n"
                         "anyclaude_fallbacks_total %llu\n",
                         bs->fallbacks);
    return rc;
}
