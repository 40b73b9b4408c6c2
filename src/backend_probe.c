/*
 * backend_probe: the gateway's own small exchanges with a backend (see
 * backend_probe.h).
 */
#include "backend_probe.h"

#include <stdio.h>
#include <stdlib.h>

#include "monotime.h"
#include "timeouts.h"

bk_probe *bk_probe_new(backend_rt *b, bk_probe_done_fn done, size_t max_body)
{
    bk_probe *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->b = b;
    p->done = done;
    p->slot = -1;
    p->src = -1;
    buf_init(&p->body, max_body);
    buf_init(&p->reqbody, 64u << 20);
    return p;
}

int bk_probe_slot_action(bk_probe *p, const char *action, int slot, const char *filename)
{
    char path[64];
    snprintf(path, sizeof path, "/slots/%d?action=%s", slot, action);
    route_backend_url(p->b->cfg, path, p->url, sizeof p->url);
    return buf_appendf(&p->reqbody, "{\"filename\":\"%s\"}", filename) == BUF_OK ? 0 : -1;
}

int bk_slot_entry(const cJSON *s, int max, int *holds)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(s, "id");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(s, "n_prompt_tokens");
    *holds = cJSON_IsNumber(n) && n->valuedouble >= 1;
    return cJSON_IsNumber(id) && id->valuedouble >= 0 && id->valuedouble < max
               ? (int)id->valuedouble
               : -1;
}

void bk_probe_free(bk_probe *p)
{
    if (!p) return;
    bk_probe_free(p->then);
    buf_free(&p->body);
    buf_free(&p->reqbody);
    free(p);
}

void bk_probe_cancel(bk_probe **pp)
{
    bk_probe *p = *pp;
    if (!p) return;
    upstream_cancel(p->req);
    bk_probe_free(p);
    *pp = NULL;
}

static bk_probe **holder(bk_probe *p)
{
    return p->health ? &p->b->health : &p->b->probe;
}

static int on_data(void *ud, const char *d, size_t n)
{
    return buf_append(&((bk_probe *)ud)->body, d, n) == BUF_OK ? 0 : 1;
}

static void on_done(void *ud, int ok, int refused, long status, const char *err)
{
    bk_probe *p = ud;
    *holder(p) = NULL;
    cJSON *j = ok && status == 200
                   ? cJSON_ParseWithLength(p->body.data ? p->body.data : "", p->body.len)
                   : NULL;
    p->done(p, ok, status, err, j);
    cJSON_Delete(j);
    bk_probe_free(p);
}

int bk_probe_start(bk_probe *p, const char *method, long total_ms)
{
    backend_rt *b = p->b;
    upstream_opts o = {
        .method = method,
        .url = p->url,
        .body = p->reqbody.data,
        .body_len = p->reqbody.len,
        .bearer = backend_key(b),
        .ca_file = backend_ca(b),
        .connect_timeout_ms = TIMEOUT_CONNECT_MS,
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
    upstream_cbs cbs = {.on_data = on_data, .on_done = on_done};
    p->t0 = monotime_ms();
    *holder(p) = p;
    p->req = upstream_start(b->all->up, &o, &cbs, p);
    if (!p->req) {
        *holder(p) = NULL;
        bk_probe_free(p);
        return -1;
    }
    return 0;
}
