/*
 * models: GET /v1/models and the detailed GET /health (see models.h).
 */
#include "models.h"
#include "timeouts.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "outhdrs.h"
#include "version.h"

static int models_data(void *ud, const char *p, size_t n)
{
    exchange *ex = ud;
    return buf_append(&ex->cur.resp, p, n) == BUF_OK ? 0 : 1;
}

static int models_headers(void *ud, long status)
{
    ((exchange *)ud)->cur.up_status = status;
    return 0;
}

/* The answer's model array ("data", or Ollama's "models") when it is a 2xx
 * JSON answer; *in holds the parsed answer (free it). */
static const cJSON *model_array(const exchange *ex, int ok, long status, cJSON **in)
{
    *in = ok && status >= 200 && status < 300
              ? cJSON_ParseWithLength(ex->cur.resp.data ? ex->cur.resp.data : "", ex->cur.resp.len)
              : NULL;
    const cJSON *data = *in ? cJSON_GetObjectItemCaseSensitive(*in, "data") : NULL;
    if (!cJSON_IsArray(data) && *in) data = cJSON_GetObjectItemCaseSensitive(*in, "models");
    return data;
}

/* A model's name: its "id", else its "name" (Ollama); NULL: none. */
static const char *model_id(const cJSON *m)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
    if (!cJSON_IsString(id)) id = cJSON_GetObjectItemCaseSensitive(m, "name");
    return cJSON_IsString(id) ? id->valuestring : NULL;
}

/* Reply with o printed, and free o. */
static void reply_json(exchange *ex, cJSON *o)
{
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    exchange_reply(ex, 200, txt ? txt : "{}", txt ? strlen(txt) : 2);
    cJSON_free(txt);
}

/* ---- GET /health ------------------------------------------------------------ */

static void health_done(void *ud, int ok, int refused, long status, const char *err)
{
    exchange *ex = ud;
    ex->cur.up = NULL;
    server *s = ex->srv;
    cJSON *in;
    const cJSON *data = model_array(ex, ok, status, &in);
    const backend_rt *bk = ex->cur.bk;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "ok");
    cJSON_AddStringToObject(o, "version", ANYCLAUDE_VERSION);
    cJSON_AddStringToObject(o, "mode", bk->cfg->mode->name);
    cJSON_AddStringToObject(o, "backend", bk->cfg->url);
    if (s->cfg->routing.configured) {
        cJSON *all = cJSON_AddArrayToObject(o, "backends");
        for (int i = 0; i < s->bs.n; i++) {
            const backend_rt *x = &s->bs.b[i];
            if (!x->used) continue;
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "name", x->cfg->name);
            cJSON_AddStringToObject(e, "mode", x->cfg->mode->name);
            cJSON_AddStringToObject(e, "url", x->cfg->url);
            cJSON_AddBoolToObject(e, "up", x->up);
            cJSON_AddBoolToObject(e, "health_checked", x->checked);
            cJSON_AddNumberToObject(e, "inflight", x->inflight);
            cJSON_AddItemToArray(all, e);
        }
    }
    cJSON *b = cJSON_AddObjectToObject(o, "backend_status");
    cJSON_AddBoolToObject(b, "reachable", ok && status > 0);
    cJSON_AddBoolToObject(b, "ok", ok && status >= 200 && status < 300);
    if (status) cJSON_AddNumberToObject(b, "http_status", (double)status);
    if (!ok) cJSON_AddStringToObject(b, "error", err);
    if (cJSON_IsArray(data)) {
        cJSON *ids = cJSON_AddArrayToObject(b, "models");
        const cJSON *m;
        cJSON_ArrayForEach(m, data)
        {
            const char *id = model_id(m);
            if (id) cJSON_AddItemToArray(ids, cJSON_CreateString(id));
        }
    }
    cJSON_AddNumberToObject(o, "active_requests", s->active - 1);
    cJSON_Delete(in);
    reply_json(ex, o);
}

/* ---- GET /v1/models ------------------------------------------------------- */

/* A backend's "created" (Unix seconds, any JSON number) as an ISO date,
 * clamped to 1970..9999: a huge or negative value must not be cast to an
 * integer it does not fit, nor leave gmtime_r's answer unset. */
static void iso_time(double t, char *dst, size_t n)
{
    const double last = 253402300799.0; /* 9999-12-31T23:59:59Z */
    time_t tt = (time_t)(t > last ? last : t > 0 ? t : 0);
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(dst, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(dst, n, "1970-01-01T00:00:00Z");
}

static void list_done(void *ud, int ok, int refused, long status, const char *err)
{
    exchange *ex = ud;
    ex->cur.up = NULL;
    const backend_rt *bk = ex->cur.bk;
    if (ok && status > 0 && bk->cfg->mode->passthru == MODE_CLAUDE) {
        /* the Claude API's own list, as it is */
        exchange_reply(ex, (int)status, ex->cur.resp.data ? ex->cur.resp.data : "",
                       ex->cur.resp.len);
        return;
    }
    cJSON *in;
    const cJSON *data = model_array(ex, ok, status, &in);
    if (!cJSON_IsArray(data)) {
        char msg[1200];
        if (!ok || status == 0)
            snprintf(msg, sizeof msg,
                     "backend %s is not reachable (%s). Is the model server running?", bk->cfg->url,
                     err);
        else
            snprintf(msg, sizeof msg, "backend %s (%.700s) answered HTTP %ld without a model list",
                     bk->cfg->name, ex->cur.url, status);
        cJSON_Delete(in);
        exchange_error(ex, ok && status ? "api_error" : "overloaded_error", msg);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "data");
    const cJSON *m;
    const char *first = NULL, *last = NULL;
    cJSON_ArrayForEach(m, data)
    {
        const char *id = model_id(m);
        if (!id) continue;
        const cJSON *cr = cJSON_GetObjectItemCaseSensitive(m, "created");
        char ts[40];
        iso_time(cJSON_IsNumber(cr) ? cr->valuedouble : 0, ts, sizeof ts);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "type", "model");
        cJSON_AddStringToObject(e, "id", id);
        cJSON_AddStringToObject(e, "display_name", id);
        cJSON_AddStringToObject(e, "created_at", ts);
        cJSON_AddItemToArray(arr, e);
        if (!first) first = id;
        last = id;
    }
    cJSON_AddBoolToObject(o, "has_more", 0);
    if (first) {
        cJSON_AddStringToObject(o, "first_id", first);
        cJSON_AddStringToObject(o, "last_id", last);
    } else {
        cJSON_AddNullToObject(o, "first_id");
        cJSON_AddNullToObject(o, "last_id");
    }
    cJSON_Delete(in);
    reply_json(ex, o);
}

/* ---- both: GET {backend}/models --------------------------------------------- */

static void ask_models(server *s, httpd_req *req, enum exchange_kind kind,
                       void (*done)(void *, int, int, long, const char *))
{
    exchange *ex = exchange_new(s, req, kind);
    if (!ex) {
        exchange_error_req(req, "api_error", "out of memory");
        return;
    }
    buf_init(&ex->cur.resp, 4u * 1024 * 1024);
    const route_target *t = plan_first(&s->bs, &s->cfg->routing, NULL, 0);
    backend_rt *b = &s->bs.b[t->backend];
    ex->cur.bk = b;
    b->inflight++;
    route_backend_url(b->cfg, "models", ex->cur.url, sizeof ex->cur.url);
    outhdrs ph;
    upstream_opts uo = {
        .method = "GET",
        .url = ex->cur.url,
        .bearer = b->cfg->mode->passthru ? NULL : backend_key(b),
        /* a health probe sends nothing of the caller's upstream */
        .headers = outhdrs_build(s->cfg, b, kind == EXCHANGE_HEALTH ? NULL : req, &ph),
        .via = httpd_req_header(req, VIA_HEADER),
        .ca_file = backend_ca(b),
        .connect_timeout_ms = TIMEOUT_CONNECT_MS,
        .total_timeout_ms =
            kind == EXCHANGE_HEALTH ? TIMEOUT_HEALTH_PROBE_MS : TIMEOUT_SIDE_REQUEST_MS,
    };
    upstream_cbs cbs = {.on_headers = models_headers, .on_data = models_data, .on_done = done};
    ex->cur.up = upstream_start(s->up, &uo, &cbs, ex);
    outhdrs_free(&ph);
    if (!ex->cur.up) exchange_error(ex, "api_error", "could not start the backend request");
}

void models_handle(server *s, httpd_req *req)
{
    ask_models(s, req, EXCHANGE_MODELS, list_done);
}

void models_handle_health(server *s, httpd_req *req)
{
    ask_models(s, req, EXCHANGE_HEALTH, health_done);
}
