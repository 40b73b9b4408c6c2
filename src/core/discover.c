/*
 * discover: naming a local model server from its answers (see discover.h).
 * Each server family has a tell that the others lack:
 *   Ollama      /api/version answers {"version": "..."}
 *   LM Studio   /api/v0/models lists models with "state"/"compatibility_type";
 *               its /v1/models says "owned_by": "organization_owner"
 *   llama.cpp   /props has "default_generation_settings" (or "total_slots");
 *               its /v1/models says "owned_by": "llamacpp"
 *   vLLM        /v1/models says "owned_by": "vllm" (with "max_model_len")
 *   MLX-LM      /v1/models entries carry only id, object, created (no
 *               "owned_by"), and every other path is a 404
 * Anything else that lists /v1/models is a generic OpenAI-compatible server.
 */
#include "discover.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const discover_paths[DISCOVER_NPATHS] = {"/v1/models", "/props", "/api/version",
                                                     "/api/v0/models", "/version"};

const int discover_default_ports[] = {8081, 8080, 1234, 11434, 8000};
const int discover_ndefault_ports = (int)(sizeof discover_default_ports / sizeof(int));

static cJSON *parse_ok(const discover_answer *a)
{
    if (a->status < 200 || a->status > 299 || !a->body) return NULL;
    cJSON *j = cJSON_ParseWithLength(a->body, a->len);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static long num_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 1e12 ? (long)v->valuedouble
                                                                            : 0;
}

/* Models from /v1/models into out; returns the owned_by all entries share
 * ("" when none has one, "*" when they differ), or NULL when not a list. */
static const char *read_models(const cJSON *j, discover_found *out, long *max_model_len)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
    if (!cJSON_IsArray(data)) return NULL;
    const char *owner = "";
    int first = 1, cut = 0;
    size_t n = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, data)
    {
        const char *id = str_of(m, "id");
        if (!id) continue;
        const char *ob = str_of(m, "owned_by");
        if (first)
            owner = ob ? ob : "";
        else if (strcmp(owner, ob ? ob : "") != 0)
            owner = "*";
        first = 0;
        if (!*max_model_len) *max_model_len = num_of(m, "max_model_len");
        const char *sep = out->nmodels ? ", " : "";
        if (!cut && n + strlen(sep) + strlen(id) + 6 < sizeof out->models)
            n += (size_t)snprintf(out->models + n, sizeof out->models - n, "%s%s", sep, id);
        else if (!cut) {
            snprintf(out->models + n, sizeof out->models - n, ", ...");
            cut = 1;
        }
        out->nmodels++;
    }
    return owner;
}

/* LM Studio's /api/v0/models: the loaded model's context, and whether the
 * list looks like LM Studio's at all. */
static int lmstudio_models(const cJSON *j, long *ctx)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
    if (!cJSON_IsArray(data)) return 0;
    int seen = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, data)
    {
        const char *state = str_of(m, "state");
        if (!state && !str_of(m, "compatibility_type")) continue;
        seen = 1;
        if (state && strcmp(state, "loaded") == 0 && !*ctx) {
            *ctx = num_of(m, "loaded_context_length");
            if (!*ctx) *ctx = num_of(m, "max_context_length");
        }
    }
    return seen;
}

static int is_2xx(const discover_answer *a)
{
    return a->status >= 200 && a->status <= 299;
}

int discover_identify(int port, const discover_answer *ans, discover_found *out)
{
    memset(out, 0, sizeof *out);
    out->port = port;
    cJSON *models = parse_ok(&ans[DISCOVER_P_MODELS]);
    long mlen = 0;
    const char *owner = models ? read_models(models, out, &mlen) : NULL;
    if (!owner) {
        cJSON_Delete(models);
        memset(out, 0, sizeof *out);
        return 0;
    }
    cJSON *props = parse_ok(&ans[DISCOVER_P_PROPS]);
    cJSON *ollama = parse_ok(&ans[DISCOVER_P_OLLAMA]);
    cJSON *lms = parse_ok(&ans[DISCOVER_P_LMSTUDIO]);
    long ctx = 0;
    int default_port = 0;
    if (ollama && str_of(ollama, "version")) {
        out->kind = DISCOVER_OLLAMA;
    } else if ((lms && lmstudio_models(lms, &ctx)) || strcmp(owner, "organization_owner") == 0) {
        out->kind = DISCOVER_LMSTUDIO;
        default_port = 1234;
    } else if ((props && (cJSON_GetObjectItemCaseSensitive(props, "default_generation_settings") ||
                          cJSON_GetObjectItemCaseSensitive(props, "total_slots"))) ||
               strcmp(owner, "llamacpp") == 0) {
        out->kind = DISCOVER_LLAMACPP;
        default_port = 8080;
        const cJSON *g =
            props ? cJSON_GetObjectItemCaseSensitive(props, "default_generation_settings") : NULL;
        if (g) ctx = num_of(g, "n_ctx");
    } else if (strcmp(owner, "vllm") == 0) {
        out->kind = DISCOVER_VLLM;
        ctx = mlen;
    } else if (owner[0] == '\0' && !is_2xx(&ans[DISCOVER_P_PROPS]) &&
               !is_2xx(&ans[DISCOVER_P_OLLAMA]) && !is_2xx(&ans[DISCOVER_P_LMSTUDIO]) &&
               !is_2xx(&ans[DISCOVER_P_VERSION])) {
        out->kind = DISCOVER_MLX;
        default_port = 8081;
    } else {
        out->kind = DISCOVER_OPENAI;
    }
    static const struct {
        const char *name, *mode;
    } names[] = {{"", ""},
                 {"MLX-LM", "mlx-lm"},
                 {"LM Studio", "lmstudio"},
                 {"llama.cpp llama-server", "llamacpp"},
                 {"Ollama", "openai"},
                 {"vLLM", "openai"},
                 {"an OpenAI-compatible server", "openai"}};
    out->name = names[out->kind].name;
    out->mode = names[out->kind].mode;
    out->context = ctx;
    snprintf(out->url, sizeof out->url, "http://localhost:%d/v1", port);
    if (default_port == port)
        snprintf(out->flags, sizeof out->flags, "--mode %s", out->mode);
    else
        snprintf(out->flags, sizeof out->flags, "--mode %s --backend %s", out->mode, out->url);
    cJSON_Delete(models);
    cJSON_Delete(props);
    cJSON_Delete(ollama);
    cJSON_Delete(lms);
    return 1;
}

int discover_parse_ports(const char *spec, int *ports, int max, char *err, size_t errlen)
{
    int n = 0;
    const char *p = spec;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || v < 1 || v > 65535 || (*end && *end != ',' && *end != ' ')) {
            snprintf(err, errlen,
                     "ANYCLAUDE_DISCOVER_PORTS: bad port list \"%.100s\"; expected ports "
                     "separated by commas, e.g. 8081,1234",
                     spec);
            return -1;
        }
        if (n == max) {
            snprintf(err, errlen, "ANYCLAUDE_DISCOVER_PORTS: at most %d ports", max);
            return -1;
        }
        ports[n++] = (int)v;
        p = end;
    }
    if (n == 0) {
        snprintf(err, errlen,
                 "ANYCLAUDE_DISCOVER_PORTS: no port in \"%.100s\"; expected e.g. 8081,1234", spec);
        return -1;
    }
    return n;
}

int discover_pick(const discover_found *f, int n)
{
    for (int i = 0; i < n; i++)
        if (f[i].nmodels > 0) return i;
    return n > 0 ? 0 : -1;
}

size_t discover_describe(const discover_found *f, char *out, size_t outlen)
{
    int w = snprintf(out, outlen, "%s at %s (%s%s)", f->name, f->url,
                     f->nmodels ? "models: " : "no model listed", f->nmodels ? f->models : "");
    return w < 0 ? 0 : (size_t)w < outlen ? (size_t)w : outlen - 1;
}
