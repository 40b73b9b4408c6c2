/*
 * modelcheck: the configured model against the backend's /models (see
 * modelcheck.h). modelcheck_listed is pure; modelcheck_run asks each backend
 * once with a blocking GET, before the event loop starts.
 */
#include "modelcheck.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "backend_http.h"
#include "log.h"
#include "timeouts.h"

int modelcheck_listed(const char *json, size_t len, const char *model, char *served, size_t n)
{
    cJSON *j = cJSON_ParseWithLength(json ? json : "", len);
    const cJSON *data = j ? cJSON_GetObjectItemCaseSensitive(j, "data") : NULL;
    if (served && n) served[0] = '\0';
    if (!cJSON_IsArray(data)) {
        cJSON_Delete(j);
        return -1;
    }
    int found = 0, k = 0;
    size_t used = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, data)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
        if (!cJSON_IsString(id)) continue;
        if (strcmp(id->valuestring, model) == 0) found = 1;
        if (served && used + 1 < n) {
            int w = snprintf(served + used, n - used, "%s\"%s\"", k ? ", " : "", id->valuestring);
            used = w < 0 ? n : used + (size_t)w;
            if (used >= n) used = n - 1;
        }
        k++;
    }
    cJSON_Delete(j);
    return found;
}

int modelcheck_lmstudio_vision(const char *json, size_t len, const char *model)
{
    cJSON *j = cJSON_ParseWithLength(json ? json : "", len);
    const cJSON *m, *data = j ? cJSON_GetObjectItemCaseSensitive(j, "data") : NULL;
    int r = -1;
    if (!cJSON_IsArray(data)) data = NULL;
    cJSON_ArrayForEach(m, data)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(m, "state");
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(m, "type");
        int mine = model && *model ? cJSON_IsString(id) && strcmp(id->valuestring, model) == 0
                                   : cJSON_IsString(st) && strcmp(st->valuestring, "loaded") == 0;
        if (!mine || !cJSON_IsString(ty)) continue;
        if (strcmp(ty->valuestring, "vlm") == 0) r = 1;
        if (strcmp(ty->valuestring, "llm") == 0) r = 0;
        break;
    }
    cJSON_Delete(j);
    return r;
}

int modelcheck_llamacpp_vision(const char *json, size_t len)
{
    cJSON *j = cJSON_ParseWithLength(json ? json : "", len);
    const cJSON *m = j ? cJSON_GetObjectItemCaseSensitive(j, "modalities") : NULL;
    const cJSON *v = m ? cJSON_GetObjectItemCaseSensitive(m, "vision") : NULL;
    int r = cJSON_IsBool(v) ? cJSON_IsTrue(v) : -1;
    cJSON_Delete(j);
    return r;
}

void modelcheck_vision(config *cfg)
{
    routes *r = &cfg->routing;
    for (int b = 0; b < r->nbackends; b++) {
        route_backend *be = &r->backends[b];
        int lms = strcmp(be->mode->name, "lmstudio") == 0;
        int llama = strcmp(be->mode->name, "llamacpp") == 0;
        if (!(lms || llama) || be->vision >= 0 || !routes_uses(r, b, NULL)) continue;
        char url[700], cerr[300] = "";
        buf body;
        buf_init(&body, 4u << 20);
        route_backend_url(be, lms ? "/api/v0/models" : "/props", url, sizeof url);
        const char *ca = be->ca_file[0] ? be->ca_file : cfg->ca_file[0] ? cfg->ca_file : NULL;
        if (backend_http(be, ca, url, NULL, TIMEOUT_CHECK_CONNECT_MS, TIMEOUT_CHECK_MS, &body, cerr,
                         sizeof cerr) == 200) {
            int v = lms ? modelcheck_lmstudio_vision(body.data, body.len, be->model)
                        : modelcheck_llamacpp_vision(body.data, body.len);
            if (v >= 0) be->vision = v;
            log_line(1, "%s: the model %s images%s", be->name,
                     v < 0 ? "may or may not take"
                     : v   ? "takes"
                           : "does not take",
                     v == 0 ? "; they become a one-line note" : "");
        }
        buf_free(&body);
    }
}

int modelcheck_applies(const mode_profile *m)
{
    return strcmp(m->name, "mlx-lm") == 0 || strcmp(m->name, "lmstudio") == 0;
}

void modelcheck_message(char *err, size_t errlen, const char *model, const char *url,
                        const char *served, const mode_profile *m)
{
    int mlx = strcmp(m->name, "mlx-lm") == 0;
    int one = served[0] && !strstr(served, "\", \"");
    snprintf(err, errlen,
             "model \"%.200s\" is not served by %.200s, which %s %.600s (%s); leave --model "
             "and %s unset, or set current-model, to use the model it has loaded",
             model, url,
             one         ? "has loaded"
             : served[0] ? "lists"
                         : "lists",
             served[0] ? served : "no model",
             mlx ? "sending that name would make MLX-LM unload its model to try to download it"
                 : "load that model in the server first, or name one it lists",
             m->model_env);
    for (char *p = err; *p; p++)
        if ((unsigned char)*p < 0x20) *p = '?';
}

/* Check one backend against the names in names[0..n). */
static int check_one(const config *cfg, const route_backend *be, const char *const *names, int n,
                     char *err, size_t errlen)
{
    char url[700], cerr[300] = "";
    char served[900];
    buf body;
    buf_init(&body, 4u << 20);
    route_backend_url(be, "models", url, sizeof url);
    const char *ca = be->ca_file[0] ? be->ca_file : cfg->ca_file[0] ? cfg->ca_file : NULL;
    long st = backend_http(be, ca, url, NULL, TIMEOUT_CHECK_CONNECT_MS, TIMEOUT_CHECK_MS, &body,
                           cerr, sizeof cerr);
    int rc = 0;
    if (st != 200) {
        if (st)
            log_line(1, "model check: %s answered HTTP %ld; not checked", url, st);
        else
            log_line(1, "model check: %s: %s; not checked", url, cerr);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        int r = modelcheck_listed(body.data, body.len, names[i], served, sizeof served);
        if (r == 0) {
            modelcheck_message(err, errlen, names[i], be->url, served, be->mode);
            rc = -1;
            goto out;
        }
    }
out:
    buf_free(&body);
    return rc;
}

int modelcheck_run(const config *cfg, char *err, size_t errlen)
{
    const routes *r = &cfg->routing;
    for (int b = 0; b < r->nbackends; b++) {
        const route_backend *be = &r->backends[b];
        if (!modelcheck_applies(be->mode) || !routes_uses(r, b, NULL)) continue;
        const char *names[1 + 2 * ROUTES_MAX_ROUTES * ROUTES_MAX_TARGETS];
        int n = 0;
        if (be->model[0]) names[n++] = be->model;
        for (int i = 0; i < r->nroutes; i++) {
            const route *rt = &r->r[i];
            for (int t = 0; t < rt->npool; t++)
                if (rt->pool[t].backend == b && !routes_model_is_loaded(rt->pool[t].model))
                    names[n++] = rt->pool[t].model;
            for (int t = 0; t < rt->nfallback; t++)
                if (rt->fallback[t].backend == b && !routes_model_is_loaded(rt->fallback[t].model))
                    names[n++] = rt->fallback[t].model;
        }
        if (n && check_one(cfg, be, names, n, err, errlen) < 0) return -1;
    }
    return 0;
}
