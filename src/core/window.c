/*
 * window: context windows from backend answers, and the plan the launcher
 * follows (see window.h).
 */
#include "window.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *window_src_name(enum window_src src)
{
    switch (src) {
    case WINDOW_LLAMACPP_PROPS:
        return "llama.cpp /props";
    case WINDOW_LMSTUDIO:
        return "LM Studio's loaded context length";
    case WINDOW_MODELS:
        return "/v1/models";
    case WINDOW_OLLAMA_PS:
        return "Ollama /api/ps";
    case WINDOW_OLLAMA_SHOW:
        return "Ollama num_ctx";
    }
    return "?";
}

static long num(const cJSON *o, const char *key)
{
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e9) return 0;
    return (long)v->valuedouble;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* A model name without its directory and .gguf (llama.cpp reports paths). */
static void set_model(window_found *out, const char *name)
{
    if (!name) return;
    const char *slash = strrchr(name, '/');
    if (slash && slash[1] && strstr(name, ".gguf")) name = slash + 1;
    size_t l = strlen(name);
    if (l > 5 && strcmp(name + l - 5, ".gguf") == 0) l -= 5;
    if (l >= sizeof out->model) l = sizeof out->model - 1;
    memcpy(out->model, name, l);
    out->model[l] = '\0';
}

static int named(const cJSON *m, const char *want, const char *k1, const char *k2)
{
    const char *a = str(m, k1), *b = k2 ? str(m, k2) : NULL;
    return (a && strcmp(a, want) == 0) || (b && strcmp(b, want) == 0);
}

/* The entry of arr named want (by k1 or k2), else the first for which ok()
 * holds, else NULL. */
static const cJSON *pick(const cJSON *arr, const char *want, const char *k1, const char *k2,
                         int (*ok)(const cJSON *))
{
    const cJSON *m;
    if (!cJSON_IsArray(arr)) return NULL;
    if (want && *want) {
        cJSON_ArrayForEach(m, arr) if (named(m, want, k1, k2)) return m;
    }
    cJSON_ArrayForEach(m, arr) if (!ok || ok(m)) return m;
    return NULL;
}

static int lms_v0_loaded(const cJSON *m)
{
    const char *s = str(m, "state");
    return s && strcmp(s, "loaded") == 0;
}

static int lms_v1_loaded(const cJSON *m)
{
    const cJSON *li = cJSON_GetObjectItemCaseSensitive(m, "loaded_instances");
    return cJSON_GetArraySize(li) > 0;
}

static void parse_lmstudio(const cJSON *j, const char *want, window_found *out)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
    if (cJSON_IsArray(data)) { /* v0 */
        const cJSON *m = pick(data, want, "id", NULL, lms_v0_loaded);
        if (!m || !lms_v0_loaded(m)) return; /* a model that is not loaded has no window yet */
        set_model(out, str(m, "id"));
        out->train = num(m, "max_context_length");
        out->window = num(m, "loaded_context_length");
        return;
    }
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(j, "models"); /* v1 */
    const cJSON *m = pick(models, want, "key", "id", lms_v1_loaded);
    if (!m || !lms_v1_loaded(m)) return;
    set_model(out, str(m, "key"));
    out->train = num(m, "max_context_length");
    const cJSON *li =
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "loaded_instances"), 0);
    out->window = num(cJSON_GetObjectItemCaseSensitive(li, "config"), "context_length");
}

/* vLLM: data[].max_model_len; llama.cpp: data[].meta.n_ctx (per slot). */
static void parse_models(const cJSON *j, const char *want, window_found *out)
{
    const cJSON *m = pick(cJSON_GetObjectItemCaseSensitive(j, "data"), want, "id", NULL, NULL);
    if (!m) return;
    set_model(out, str(m, "id"));
    const char *own = str(m, "owned_by");
    if (own) snprintf(out->owner, sizeof out->owner, "%.31s", own);
    out->window = num(m, "max_model_len");
    if (!out->window) out->window = num(m, "context_length"); /* some OpenAI-style servers */
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(m, "meta");
    if (!out->window) out->window = num(meta, "n_ctx");
    out->train = num(meta, "n_ctx_train");
}

/* "num_ctx   8192" on a line of Ollama's parameters text. */
static long ollama_num_ctx(const char *params)
{
    for (const char *p = params; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        if (n > 7 && strncmp(p, "num_ctx", 7) == 0 && (p[7] == ' ' || p[7] == '\t')) {
            char tmp[32];
            const char *v = p + 7;
            while (v < p + n && (*v == ' ' || *v == '\t'))
                v++;
            size_t vl = (size_t)(p + n - v);
            if (vl > 0 && vl < sizeof tmp) {
                memcpy(tmp, v, vl);
                tmp[vl] = '\0';
                char *end;
                long x = strtol(tmp, &end, 10);
                if (end != tmp && x > 0 && x < 1000000000) return x;
            }
        }
        p = eol ? eol + 1 : NULL;
    }
    return 0;
}

static void parse_ollama_show(const cJSON *j, window_found *out)
{
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(j, "model_info");
    const cJSON *it;
    if (!cJSON_IsObject(info)) info = NULL; /* an array's items have no names */
    cJSON_ArrayForEach(it, info)
    {
        size_t l = strlen(it->string);
        if (l > 15 && strcmp(it->string + l - 15, ".context_length") == 0 && cJSON_IsNumber(it) &&
            it->valuedouble >= 1 && it->valuedouble < 1e9)
            out->train = (long)it->valuedouble;
    }
    long n = ollama_num_ctx(str(j, "parameters"));
    out->window = n ? n : WINDOW_OLLAMA_DEFAULT;
    if (out->train && out->window > out->train) out->window = out->train;
}

int window_parse(enum window_src src, const char *body, size_t len, const char *want,
                 window_found *out)
{
    memset(out, 0, sizeof *out);
    cJSON *j = body ? cJSON_ParseWithLength(body, len) : NULL;
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return -1;
    }
    switch (src) {
    case WINDOW_LLAMACPP_PROPS: {
        /* in llama.cpp's server the slot's n_ctx is already per slot: the
         * context over the slots, or all of it with --kv-unified, capped by
         * --kv-unified-per-slot and the model's training context */
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(j, "default_generation_settings");
        out->window = num(g, "n_ctx");
        const char *a = str(j, "model_alias");
        set_model(out, a ? a : str(j, "model_path"));
        break;
    }
    case WINDOW_LMSTUDIO:
        parse_lmstudio(j, want, out);
        break;
    case WINDOW_MODELS:
        parse_models(j, want, out);
        break;
    case WINDOW_OLLAMA_PS: {
        const cJSON *m =
            pick(cJSON_GetObjectItemCaseSensitive(j, "models"), want, "name", "model", NULL);
        set_model(out, str(m, "name"));
        out->window = num(m, "context_length");
        break;
    }
    case WINDOW_OLLAMA_SHOW:
        parse_ollama_show(j, out);
        break;
    }
    cJSON_Delete(j);
    if (out->train && out->window > out->train) out->window = out->train;
    return out->window > 0 ? 0 : -1;
}

int window_parse_version(const char *s, int v[3])
{
    while (s && *s && (*s < '0' || *s > '9'))
        s++;
    if (!s || !*s) return -1;
    char *end;
    for (int i = 0; i < 3; i++) {
        long x = strtol(s, &end, 10);
        if (end == s || x < 0 || x > 100000) return -1;
        v[i] = (int)x;
        s = end;
        if (i < 2) {
            if (*s != '.') return -1;
            s++;
        }
    }
    return 0;
}

static int version_at_least(const int *v, int a, int b, int c)
{
    if (!v) return 1;
    if (v[0] != a) return v[0] > a;
    if (v[1] != b) return v[1] > b;
    return v[2] >= c;
}

long window_cc_threshold(long compact_window, double pct, long max_output)
{
    long w = compact_window < WINDOW_CC_COMPACT_MIN ? WINDOW_CC_COMPACT_MIN : compact_window;
    long eff = w - (max_output < 20000 ? max_output : 20000);
    long t = eff - 13000;
    if (pct > 0 && pct <= 100) {
        long p = (long)((double)eff * (pct / 100.0));
        if (p < t) t = p;
    }
    return t;
}

void window_plan_make(long window, long max_tokens, const int *version, window_plan *p)
{
    memset(p, 0, sizeof *p);
    p->window = window;
    p->max_output = max_tokens;
    /* CLAUDE_CODE_AUTO_COMPACT_WINDOW and its 100k floor, and the percentage
     * override, as read from the 2.1.328 binary and checked against it */
    p->compact_supported = version_at_least(version, 2, 1, 197);
    if (window <= 0) return;
    p->too_small = window < WINDOW_MIN;
    /* the reply gets an eighth of the window (at least 4096): an answer cut
     * at max_tokens is an error to Claude Code, so it must be told the
     * limit, and what the reply takes the conversation cannot have. After a
     * compaction Claude Code puts back recently read files (up to 5000
     * tokens each), so the threshold must stay well above the summary. */
    long cap = window / 8 < 4096 ? 4096 : window / 8;
    if (p->max_output > cap) {
        p->max_output = cap;
        p->output_capped = 1;
    }
    if (!p->compact_supported) return;
    /* compact before the backend would refuse: leave room for the reply,
     * for the compaction request's own instructions, and for one turn's
     * growth past the threshold */
    /* one Read may add this much (Claude Code's own limit is 25000 tokens):
     * in a small window a read that crosses the threshold must still leave
     * room for the compaction request's reply */
    if (window / 16 < 25000) p->file_read_max = window / 16 < 2048 ? 2048 : window / 16;
    long target = window - p->max_output - (1024 + window / 32);
    if (target < 1) target = 1;
    if (window >= WINDOW_CC_COMPACT_MIN) {
        p->compact_window = window;
    } else {
        p->compact_window = WINDOW_CC_COMPACT_MIN;
    }
    long eff = p->compact_window - (p->max_output < 20000 ? p->max_output : 20000);
    double pct = 100.0 * (double)target / (double)eff;
    if (pct > 100) pct = 100;
    /* two decimals, rounded down so Claude Code's threshold stays under target */
    long hundredths = (long)(pct * 100.0);
    if (hundredths < 1) hundredths = 1;
    snprintf(p->compact_pct, sizeof p->compact_pct, "%ld.%02ld", hundredths / 100,
             hundredths % 100);
    p->threshold =
        window_cc_threshold(p->compact_window, (double)hundredths / 100.0, p->max_output);
}

void window_too_small_line(long window, const char *mode, char *out, size_t n)
{
    const char *how;
    if (strcmp(mode, "llamacpp") == 0)
        how =
            "restart llama-server with -c 32768 (per slot: with --parallel N give N times that, or "
            "--kv-unified)";
    else if (strcmp(mode, "lmstudio") == 0)
        how = "reload the model in LM Studio with the Context Length slider at 32768 or more";
    else
        how = "load the model with more context (llama-server -c 32768, LM Studio's Context Length "
              "slider, Ollama's num_ctx: OLLAMA_CONTEXT_LENGTH=32768 or PARAMETER num_ctx 32768), "
              "or set \"contextWindow\" if the backend has more than it reports";
    snprintf(out, n,
             "the backend's context window is %ld tokens, too small for Claude Code: its system "
             "prompt and tools take ~%dk tokens and it needs at least %d to work; %s",
             window, WINDOW_CC_PROMPT / 1000, WINDOW_MIN, how);
}
