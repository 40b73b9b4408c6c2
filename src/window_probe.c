/*
 * window_probe: backend context windows over HTTP (see window_probe.h).
 */
#include "window_probe.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "backend_http.h"
#include "buf.h"
#include "log.h"
#include "window.h"
#include "timeouts.h"

/* One blocking request to b (GET, or POST with a JSON body). Returns the
 * HTTP status, 0 when nothing answered. Short timeouts: this runs before
 * anything else and a backend that is down must not hold up the start. */
static long get(const route_backend *b, const char *ca, const char *path, const char *body,
                buf *out)
{
    char url[700];
    route_backend_url(b, path, url, sizeof url);
    long status =
        backend_http(b, ca, url, body, TIMEOUT_WINDOW_CONNECT_MS, TIMEOUT_WINDOW_MS, out, NULL, 0);
    log_line(2, "context window probe: %s %s: HTTP %ld", body ? "POST" : "GET", url, status);
    return status;
}

/* Ask path and parse the answer as src. Returns 1 when it gave a window, 0
 * when it answered without one, -1 when nothing answered. *shape (may be
 * NULL) is set when the answer is a JSON object with that key. */
static int ask_shaped(route_backend *b, const char *ca, const char *path, const char *body,
                      enum window_src src, window_found *f, const char *key, int *shape)
{
    buf out;
    buf_init(&out, 8u << 20);
    long st = get(b, ca, path, body, &out);
    int rc = st == 0 ? -1 : 0;
    window_found w;
    memset(&w, 0, sizeof w);
    if (st == 200 && window_parse(src, out.data, out.len, b->model, &w) == 0) {
        *f = w;
        rc = 1;
    } else if (st == 200 && w.model[0] && !f->model[0]) {
        memcpy(f->model, w.model, sizeof f->model);
    }
    if (st == 200 && w.owner[0] && !f->owner[0]) memcpy(f->owner, w.owner, sizeof f->owner);
    if (shape) {
        cJSON *j = st == 200 ? cJSON_ParseWithLength(out.data ? out.data : "", out.len) : NULL;
        *shape = cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, key));
        cJSON_Delete(j);
    }
    buf_free(&out);
    if (rc == 1) snprintf(b->window_source, sizeof b->window_source, "%s", window_src_name(src));
    return rc;
}

static int ask(route_backend *b, const char *ca, const char *path, const char *body,
               enum window_src src, window_found *f)
{
    return ask_shaped(b, ca, path, body, src, f, NULL, NULL);
}

/* Ollama: /api/ps knows the loaded context (newer versions); /api/show
 * knows the model's num_ctx. /api/show is a POST: asked only of a server
 * whose /api/ps answer looks like Ollama's. */
static int ask_ollama(route_backend *b, const char *ca, window_found *f)
{
    int ollama = 0;
    int rc = ask_shaped(b, ca, "/api/ps", NULL, WINDOW_OLLAMA_PS, f, "models", &ollama);
    if (rc != 0 || !ollama) return rc;
    const char *name = b->model[0] ? b->model : f->model;
    if (!name[0]) return 0;
    cJSON *q = cJSON_CreateObject();
    cJSON_AddStringToObject(q, "model", name);
    char *body = cJSON_PrintUnformatted(q);
    cJSON_Delete(q);
    rc = body ? ask(b, ca, "/api/show", body, WINDOW_OLLAMA_SHOW, f) : 0;
    cJSON_free(body);
    return rc;
}

int window_probe_backend(route_backend *b, const char *ca)
{
    if (b->window_configured) return 1;
    if (b->mode->passthru == MODE_CLAUDE) return 0;
    window_found f;
    memset(&f, 0, sizeof f);
    int rc;
    const char *m = b->mode->name;
    if (strcmp(m, "llamacpp") == 0) {
        rc = ask(b, ca, "/props", NULL, WINDOW_LLAMACPP_PROPS, &f);
    } else if (strcmp(m, "lmstudio") == 0) {
        rc = ask(b, ca, "/api/v0/models", NULL, WINDOW_LMSTUDIO, &f);
        if (rc == 0) rc = ask(b, ca, "/api/v1/models", NULL, WINDOW_LMSTUDIO, &f);
    } else {
        /* vLLM and llama-server say it in /v1/models; the others are asked
         * on their own endpoints only when /v1/models names them (owned_by:
         * llama.cpp "llamacpp", LM Studio "organization_owner", Ollama
         * "library"), so no other server gets requests it does not know */
        rc = ask(b, ca, "models", NULL, WINDOW_MODELS, &f);
        if (rc == 0 && strcmp(f.owner, "llamacpp") == 0)
            rc = ask(b, ca, "/props", NULL, WINDOW_LLAMACPP_PROPS, &f);
        else if (rc == 0 && strcmp(f.owner, "organization_owner") == 0)
            rc = ask(b, ca, "/api/v0/models", NULL, WINDOW_LMSTUDIO, &f);
        else if (rc == 0 && (strcmp(f.owner, "library") == 0 || strcmp(f.owner, "ollama") == 0))
            rc = ask_ollama(b, ca, &f);
    }
    if (f.model[0]) snprintf(b->detected_model, sizeof b->detected_model, "%s", f.model);
    if (rc == 1) {
        b->context_window = f.window;
        log_line(1, "backend %s: context window %ld tokens (%s)%s%s", b->name, f.window,
                 b->window_source, f.model[0] ? ", model " : "", f.model);
        return 1;
    }
    log_line(1,
             "backend %s: context window unknown (%s); set \"contextWindow\" or --context-window",
             b->name, rc < 0 ? "no answer" : "the backend does not report it");
    return 0;
}

void window_probe_all(routes *r, const char *ca)
{
    for (int i = 0; i < r->nbackends; i++)
        if (routes_uses(r, i, NULL)) window_probe_backend(&r->backends[i], ca);
}

long window_default(const routes *r, int *which)
{
    const route *d = routes_default(r);
    long w = 0;
    for (int i = 0; d && i < d->npool; i++) {
        const route_backend *b = &r->backends[d->pool[i].backend];
        if (b->context_window > 0 && (w == 0 || b->context_window < w)) {
            w = b->context_window;
            if (which) *which = d->pool[i].backend;
        }
    }
    return w;
}
