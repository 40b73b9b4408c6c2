/*
 * routes: the route table, its parser and the matcher (see routes.h).
 */
#include "routes.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "servertools.h"
#include "timeouts.h"

static const char *const when_names[] = {"background",  "thinking", "longContext", "subagent",
                                         "serverTools", "vision",   "default"};

const char *routes_when_name(enum route_when w)
{
    return when_names[w];
}

void route_backend_url(const route_backend *b, const char *what, char *out, size_t n)
{
    const char *u = b->url;
    size_t l = strlen(u);
    int v1 = l >= 3 && strcmp(u + l - 3, "/v1") == 0;
    if (what[0] == '/') /* llama.cpp's /props, /tokenize...; LM Studio's /api/v0 */
        snprintf(out, n, "%.*s%s", (int)(v1 ? l - 3 : l), u, what);
    else if (b->mode->passthru)
        snprintf(out, n, "%s%s/%s", u, v1 ? "" : "/v1", what);
    else
        snprintf(out, n, "%s/%s", u, strcmp(what, "chat") == 0 ? "chat/completions" : what);
}

int routes_backend_index(const routes *r, const char *name)
{
    for (int i = 0; i < r->nbackends; i++)
        if (strcmp(r->backends[i].name, name) == 0) return i;
    return -1;
}

static int set_str(char *dst, size_t n, const char *v)
{
    size_t l = strlen(v);
    if (l >= n) return -1;
    memcpy(dst, v, l + 1);
    return 0;
}

static void strip_slashes(char *url)
{
    size_t l = strlen(url);
    while (l > 0 && url[l - 1] == '/')
        url[--l] = '\0';
}

void routes_single(routes *r, const char *name, const mode_profile *mode, const char *url,
                   const char *api_key, const char *model, int slots)
{
    memset(r, 0, sizeof *r);
    r->health_ms = TIMEOUT_HEALTH_INTERVAL_MS;
    r->nbackends = 1;
    route_backend *b = &r->backends[0];
    snprintf(b->name, sizeof b->name, "%s", name);
    b->mode = mode;
    snprintf(b->url, sizeof b->url, "%s", url);
    snprintf(b->api_key, sizeof b->api_key, "%s", api_key);
    snprintf(b->model, sizeof b->model, "%s", model);
    b->slots = slots;
    b->vision = -1;
    r->nroutes = 1;
    r->r[0].when = ROUTE_DEFAULT;
    r->r[0].npool = 1;
    r->r[0].pool[0].backend = 0;
}

/* A header name anyclaude may set for engine routers: a token of letters,
 * digits and '-', and none that carries credentials, framing or the
 * Anthropic protocol. */
static int affinity_header_ok(const char *v)
{
    static const char *const reserved[] = {
        "authorization",     "x-api-key", "host",    "connection", "keep-alive",
        "transfer-encoding", "te",        "upgrade", "expect",     "proxy-authorization"};
    size_t n = strlen(v);
    if (n == 0 || n > 63) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
              (v[i] >= '0' && v[i] <= '9') || v[i] == '-'))
            return 0;
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcasecmp(v, reserved[i]) == 0) return 0;
    return strncasecmp(v, "content-", 8) != 0 && strncasecmp(v, "anthropic-", 10) != 0;
}

/* One backend entry: {"mode", "url"|"backend", "model", "apiKey", "apiKeyEnv", "caFile",
 * "slots", "vision"}. An entry named after a mode may leave out "mode". */
static int parse_backend(route_backend *b, const cJSON *e, routes_getenv_fn ge, const char *src,
                         char *err, size_t errlen)
{
    const char *name = e->string;
    /* names go into headers, metric labels and log lines */
    size_t nl = strlen(name);
    if (nl == 0 || nl >= sizeof b->name ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != nl) {
        snprintf(err, errlen,
                 "%s: \"backends\": bad backend name \"%.80s\"; use up to 63 letters, digits, "
                 "'.', '_' or '-'",
                 src, name);
        return -1;
    }
    if (!cJSON_IsObject(e)) {
        snprintf(err, errlen,
                 "%s: \"backends.%s\": expected an object like {\"mode\": "
                 "\"llamacpp\", \"url\": \"http://host:8080/v1\"}",
                 src, name);
        return -1;
    }
    snprintf(b->name, sizeof b->name, "%s", name);
    b->slots = -1;
    b->vision = -1;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "mode");
    b->mode = cJSON_IsString(m) ? mode_find(m->valuestring) : m ? NULL : mode_find(name);
    if (!b->mode) {
        snprintf(err, errlen, "%s: \"backends.%s\": %s; accepted modes: %s", src, name,
                 m ? "unknown \"mode\"" : "needs a \"mode\"", mode_names());
        return -1;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, e)
    {
        const char *k = it->string;
        if (strcmp(k, "mode") == 0) continue;
        static const char *const known[] = {
            "slots",     "url",    "backend",        "model",         "apiKey", "api_key",
            "apiKeyEnv", "caFile", "affinityHeader", "affinityField", "vision", "contextWindow"};
        int is_known = 0;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            is_known |= !strcmp(k, known[i]);
        if (!is_known) {
            snprintf(
                err, errlen,
                "%s: \"backends.%s.%s\": unknown key; accepted: mode, url, "
                "model, apiKey, apiKeyEnv, caFile, slots, affinityHeader, affinityField, vision, "
                "contextWindow",
                src, name, k);
            return -1;
        }
        if (strcmp(k, "contextWindow") == 0) {
            if (!cJSON_IsNumber(it) || it->valuedouble < 1024 || it->valuedouble > 1e8) {
                snprintf(err, errlen,
                         "%s: \"backends.%s.contextWindow\": expected tokens, 1024 to 100000000",
                         src, name);
                return -1;
            }
            b->context_window = (long)it->valuedouble;
            b->window_configured = 1;
            snprintf(b->window_source, sizeof b->window_source, "config");
            continue;
        }
        if (strcmp(k, "slots") == 0) {
            if (cJSON_IsString(it) && strcmp(it->valuestring, "auto") == 0) {
                b->slots = -1;
                continue;
            }
            if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 64) {
                snprintf(err, errlen,
                         "%s: \"backends.%s.slots\": expected \"auto\", 0 (off) or "
                         "1 to 64",
                         src, name);
                return -1;
            }
            b->slots = (int)it->valuedouble;
            continue;
        }
        if (strcmp(k, "vision") == 0) {
            if (cJSON_IsBool(it)) {
                b->vision = cJSON_IsTrue(it);
                continue;
            }
            if (cJSON_IsString(it) && strcmp(it->valuestring, "auto") == 0) {
                b->vision = -1;
                continue;
            }
            snprintf(err, errlen,
                     "%s: \"backends.%s.vision\": expected true (the server takes images), "
                     "false (text only) or \"auto\"",
                     src, name);
            return -1;
        }
        if (!cJSON_IsString(it)) {
            snprintf(err, errlen, "%s: \"backends.%s.%s\": expected a string", src, name, k);
            return -1;
        }
        const char *v = it->valuestring;
        int bad = 0;
        if (strcmp(k, "url") == 0 || strcmp(k, "backend") == 0) {
            if (routes_check_url(v) || set_str(b->url, sizeof b->url, v)) {
                snprintf(err, errlen,
                         "%s: \"backends.%s.%s\": malformed URL \"%.200s\"; expected "
                         "http(s)://host[:port][/path]",
                         src, name, k, v);
                return -1;
            }
            strip_slashes(b->url);
        } else if (strcmp(k, "model") == 0) {
            bad = set_str(b->model, sizeof b->model, routes_model_is_loaded(v) ? "" : v);
        } else if (strcmp(k, "apiKey") == 0 || strcmp(k, "api_key") == 0) {
            bad = set_str(b->api_key, sizeof b->api_key, v);
        } else if (strcmp(k, "apiKeyEnv") == 0) {
            const char *kv = ge ? ge(v) : NULL;
            if (!kv || !*kv) {
                snprintf(err, errlen,
                         "%s: \"backends.%s.apiKeyEnv\": %.100s is not set; export "
                         "it or use \"apiKey\"",
                         src, name, v);
                return -1;
            }
            bad = set_str(b->api_key, sizeof b->api_key, kv);
        } else if (strcmp(k, "caFile") == 0) {
            bad = set_str(b->ca_file, sizeof b->ca_file, v);
        } else if (strcmp(k, "affinityHeader") == 0) {
            if (!affinity_header_ok(v) ||
                set_str(b->affinity_header, sizeof b->affinity_header, v)) {
                snprintf(err, errlen,
                         "%s: \"backends.%s.affinityHeader\": \"%.100s\" is not a header name "
                         "anyclaude may set (letters, digits and -, at most 63; not one of "
                         "Authorization, x-api-key, Host, Content-*, Connection, "
                         "Transfer-Encoding, anthropic-*)",
                         src, name, v);
                return -1;
            }
        } else if (strcmp(k, "affinityField") == 0) {
            if (strcmp(v, "user") != 0 && strcmp(v, "prompt_cache_key") != 0) {
                snprintf(err, errlen,
                         "%s: \"backends.%s.affinityField\": \"%.100s\"; accepted: user, "
                         "prompt_cache_key",
                         src, name, v);
                return -1;
            }
            set_str(b->affinity_field, sizeof b->affinity_field, v);
        } else {
            snprintf(
                err, errlen,
                "%s: \"backends.%s.%s\": unknown key; accepted: mode, url, "
                "model, apiKey, apiKeyEnv, caFile, slots, affinityHeader, affinityField, vision, "
                "contextWindow",
                src, name, k);
            return -1;
        }
        if (bad) {
            snprintf(err, errlen, "%s: \"backends.%s.%s\": value too long", src, name, k);
            return -1;
        }
    }
    if (b->affinity_field[0] && b->mode->passthru) {
        snprintf(err, errlen,
                 "%s: \"backends.%s.affinityField\": only for OpenAI-compatible modes; mode "
                 "%s sends the client's body (use \"affinityHeader\")",
                 src, name, b->mode->name);
        return -1;
    }
    if (!b->url[0]) {
        if (!b->mode->default_backend) {
            snprintf(err, errlen, "%s: \"backends.%s\": mode %s needs a \"url\"", src, name,
                     b->mode->name);
            return -1;
        }
        snprintf(b->url, sizeof b->url, "%s", b->mode->default_backend);
    }
    if (!b->api_key[0]) {
        const char *kv = ge && b->mode->key_env ? ge(b->mode->key_env) : NULL;
        if (kv && *kv && strcmp(b->mode->name, "claude") == 0)
            set_str(b->api_key, sizeof b->api_key, kv);
        else if (b->mode->default_key)
            set_str(b->api_key, sizeof b->api_key, b->mode->default_key);
    }
    return 0;
}

/* "backend" or "backend,model". */
static int parse_target(const routes *r, route_target *t, const cJSON *v, const char *where,
                        char *err, size_t errlen)
{
    if (!cJSON_IsString(v) || !*v->valuestring) {
        snprintf(err, errlen, "%s: expected \"backend\" or \"backend,model\"", where);
        return -1;
    }
    const char *s = v->valuestring;
    const char *comma = strchr(s, ',');
    size_t nl = comma ? (size_t)(comma - s) : strlen(s);
    char name[64];
    if (nl == 0 || nl >= sizeof name) {
        snprintf(err, errlen, "%s: bad backend name in \"%.100s\"", where, s);
        return -1;
    }
    memcpy(name, s, nl);
    name[nl] = '\0';
    t->backend = routes_backend_index(r, name);
    if (t->backend < 0) {
        char names[600] = "";
        for (int i = 0; i < r->nbackends; i++) {
            size_t l = strlen(names);
            snprintf(names + l, sizeof names - l, "%s%s", i ? ", " : "", r->backends[i].name);
        }
        snprintf(err, errlen, "%s: no backend named \"%s\"; defined: %s", where, name,
                 names[0] ? names : "none (add a \"backends\" object)");
        return -1;
    }
    t->model[0] = '\0';
    if (comma && set_str(t->model, sizeof t->model, comma + 1)) {
        snprintf(err, errlen, "%s: model name too long", where);
        return -1;
    }
    return 0;
}

static int parse_targets(const routes *r, route_target *ts, int *n, const cJSON *v,
                         const char *where, char *err, size_t errlen)
{
    *n = 0;
    if (cJSON_IsString(v)) {
        *n = 1;
        return parse_target(r, &ts[0], v, where, err, errlen);
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0) {
        snprintf(err, errlen, "%s: expected \"backend\", \"backend,model\" or a list of them",
                 where);
        return -1;
    }
    if (cJSON_GetArraySize(v) > ROUTES_MAX_TARGETS) {
        snprintf(err, errlen, "%s: at most %d targets", where, ROUTES_MAX_TARGETS);
        return -1;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (parse_target(r, &ts[*n], it, where, err, errlen)) return -1;
        for (int i = 0; i < *n; i++)
            if (ts[i].backend == ts[*n].backend) {
                snprintf(err, errlen, "%s: backend \"%s\" is listed twice", where,
                         r->backends[ts[*n].backend].name);
                return -1;
            }
        (*n)++;
    }
    return 0;
}

static int parse_route(routes *r, route *rt, const cJSON *e, int idx, const char *src, char *err,
                       size_t errlen)
{
    char where[640];
    snprintf(where, sizeof where, "%s: \"routes[%d]\"", src, idx);
    if (!cJSON_IsObject(e)) {
        snprintf(err, errlen,
                 "%s: expected an object like {\"when\": \"default\", \"to\": "
                 "\"backend\"}",
                 where);
        return -1;
    }
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(e, "when");
    int found = -1;
    for (int i = 0; cJSON_IsString(w) && i < (int)(sizeof when_names / sizeof when_names[0]); i++)
        if (strcmp(w->valuestring, when_names[i]) == 0) found = i;
    if (found < 0) {
        snprintf(err, errlen,
                 "%s.when: %s%.60s%s; accepted: background, thinking, longContext, "
                 "subagent, serverTools, vision, default",
                 where,
                 !w                  ? "missing"
                 : cJSON_IsString(w) ? "unknown class \""
                                     : "expected a string",
                 cJSON_IsString(w) ? w->valuestring : "", cJSON_IsString(w) ? "\"" : "");
        return -1;
    }
    rt->when = (enum route_when)found;
    const cJSON *it;
    cJSON_ArrayForEach(it, e)
    {
        const char *k = it->string;
        if (strcmp(k, "when") && strcmp(k, "to") && strcmp(k, "fallback") && strcmp(k, "over")) {
            snprintf(err, errlen, "%s.%s: unknown key; accepted: when, to, fallback, over", where,
                     k);
            return -1;
        }
    }
    const cJSON *over = cJSON_GetObjectItemCaseSensitive(e, "over");
    if (rt->when == ROUTE_LONG) {
        if (!cJSON_IsNumber(over) || over->valuedouble < 1 || over->valuedouble > 1e9) {
            snprintf(err, errlen, "%s.over: longContext needs \"over\": a token count, e.g. 60000",
                     where);
            return -1;
        }
        rt->over = (long)over->valuedouble;
    } else if (over) {
        snprintf(err, errlen, "%s.over: only longContext routes take \"over\"", where);
        return -1;
    }
    char w2[700];
    snprintf(w2, sizeof w2, "%s.to", where);
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(e, "to");
    if (!to) {
        snprintf(err, errlen, "%s: missing; name a backend (\"to\": \"name\" or \"name,model\")",
                 w2);
        return -1;
    }
    if (parse_targets(r, rt->pool, &rt->npool, to, w2, err, errlen)) return -1;
    const cJSON *fb = cJSON_GetObjectItemCaseSensitive(e, "fallback");
    snprintf(w2, sizeof w2, "%s.fallback", where);
    if (fb && parse_targets(r, rt->fallback, &rt->nfallback, fb, w2, err, errlen)) return -1;
    return 0;
}

static int parse_all(routes *r, const cJSON *backends, const cJSON *routes_json, long health_ms,
                     routes_getenv_fn ge, const char *src, char *err, size_t errlen);

int routes_parse(routes *r, const cJSON *backends, const cJSON *routes_json, long health_ms,
                 routes_getenv_fn ge, const char *src, char *err, size_t errlen)
{
    int rc = parse_all(r, backends, routes_json, health_ms, ge, src, err, errlen);
    /* one line whatever the file's keys contain */
    for (char *p = err; rc && errlen && *p; p++)
        if ((unsigned char)*p < 0x20) *p = '?';
    return rc;
}

static int parse_all(routes *r, const cJSON *backends, const cJSON *routes_json, long health_ms,
                     routes_getenv_fn ge, const char *src, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->health_ms = health_ms > 0 ? health_ms : 5000;
    if (!routes_json) return 0;
    if (backends && !cJSON_IsObject(backends)) {
        snprintf(err, errlen, "%s: \"backends\": expected an object of named backends", src);
        return -1;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, backends)
    {
        if (r->nbackends == ROUTES_MAX_BACKENDS) {
            snprintf(err, errlen, "%s: \"backends\": at most %d", src, ROUTES_MAX_BACKENDS);
            return -1;
        }
        if (routes_backend_index(r, e->string) >= 0) {
            snprintf(err, errlen, "%s: \"backends.%s\" is defined twice", src, e->string);
            return -1;
        }
        if (parse_backend(&r->backends[r->nbackends], e, ge, src, err, errlen)) return -1;
        r->nbackends++;
    }
    if (!cJSON_IsArray(routes_json) || cJSON_GetArraySize(routes_json) == 0) {
        snprintf(err, errlen,
                 "%s: \"routes\": expected a list like [{\"when\": \"default\", "
                 "\"to\": \"backend\"}]",
                 src);
        return -1;
    }
    if (cJSON_GetArraySize(routes_json) > ROUTES_MAX_ROUTES) {
        snprintf(err, errlen, "%s: \"routes\": at most %d", src, ROUTES_MAX_ROUTES);
        return -1;
    }
    int idx = 0, have_default = 0;
    cJSON_ArrayForEach(e, routes_json)
    {
        if (parse_route(r, &r->r[r->nroutes], e, idx++, src, err, errlen)) return -1;
        if (r->r[r->nroutes].when == ROUTE_DEFAULT) have_default = 1;
        r->nroutes++;
    }
    if (!have_default) {
        snprintf(err, errlen,
                 "%s: \"routes\": add a route {\"when\": \"default\", \"to\": "
                 "\"backend\"} for requests no other route takes",
                 src);
        return -1;
    }
    r->configured = 1;
    return 0;
}

static int contains_ci(const char *s, const char *needle)
{
    size_t n = strlen(needle);
    for (; *s; s++) {
        size_t i = 0;
        while (i < n && s[i] && tolower((unsigned char)s[i]) == needle[i])
            i++;
        if (i == n) return 1;
    }
    return 0;
}

const route *routes_match(const routes *r, const route_facts *f)
{
    for (int i = 0; i < r->nroutes; i++) {
        const route *rt = &r->r[i];
        switch (rt->when) {
        case ROUTE_BACKGROUND:
            if (f->model && contains_ci(f->model, "haiku")) return rt;
            break;
        case ROUTE_THINKING:
            if (f->thinking) return rt;
            break;
        case ROUTE_LONG:
            if (f->est_tokens > rt->over) return rt;
            break;
        case ROUTE_SUBAGENT:
            if (f->subagent) return rt;
            break;
        case ROUTE_SERVER_TOOLS:
            if (f->server_tools) return rt;
            break;
        case ROUTE_VISION:
            if (f->images) return rt;
            break;
        case ROUTE_DEFAULT:
            return rt;
        }
    }
    return r->nroutes ? &r->r[r->nroutes - 1] : NULL;
}

int routes_need_facts(const routes *r)
{
    return r->nroutes > 1 || (r->nroutes == 1 && r->r[0].when != ROUTE_DEFAULT);
}

int routes_need_body(const routes *r)
{
    int need = routes_need_facts(r);
    for (int i = 0; i < r->nroutes; i++) {
        const route *rt = &r->r[i];
        need |= rt->npool > 1;
        for (int k = 0; k < rt->npool + rt->nfallback; k++) {
            const route_target *t = k < rt->npool ? &rt->pool[k] : &rt->fallback[k - rt->npool];
            need |= r->backends[t->backend].mode->passthru != 0;
        }
    }
    return need;
}

const route *routes_default(const routes *r)
{
    for (int i = 0; i < r->nroutes; i++)
        if (r->r[i].when == ROUTE_DEFAULT) return &r->r[i];
    return r->nroutes ? &r->r[r->nroutes - 1] : NULL;
}

int routes_uses(const routes *r, int b, int *alternatives)
{
    int used = 0;
    if (alternatives) *alternatives = 0;
    for (int i = 0; i < r->nroutes; i++) {
        const route *rt = &r->r[i];
        for (int k = 0; k < rt->npool + rt->nfallback; k++) {
            const route_target *t = k < rt->npool ? &rt->pool[k] : &rt->fallback[k - rt->npool];
            if (t->backend != b) continue;
            used = 1;
            if (alternatives && rt->npool + rt->nfallback > 1) *alternatives = 1;
        }
    }
    return used;
}

/* Bytes of text in a JSON value: strings, numbers and keys (a cheap stand-in
 * for its tokens; about 4 bytes a token). */
static size_t text_bytes(const cJSON *v, int depth)
{
    if (!v || depth > 64) return 0;
    size_t n = v->string ? strlen(v->string) : 0;
    if (cJSON_IsString(v)) return n + strlen(v->valuestring);
    if (cJSON_IsNumber(v) || cJSON_IsBool(v)) return n + 4;
    for (const cJSON *c = v->child; c; c = c->next)
        n += text_bytes(c, depth + 1);
    return n;
}

/* Does a message list hold an image block, in a message's content or in a
 * tool_result's content? */
static int has_image(const cJSON *msgs)
{
    const cJSON *m, *b, *c;
    cJSON_ArrayForEach(m, msgs)
    {
        cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(m, "content"))
        {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "type");
            if (!cJSON_IsString(t)) continue;
            if (strcmp(t->valuestring, "image") == 0) return 1;
            if (strcmp(t->valuestring, "tool_result") != 0) continue;
            cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(b, "content"))
            {
                const cJSON *ct = cJSON_GetObjectItemCaseSensitive(c, "type");
                if (cJSON_IsString(ct) && strcmp(ct->valuestring, "image") == 0) return 1;
            }
        }
    }
    return 0;
}

void routes_facts(const cJSON *root, int subagent_header, int sized, route_facts *f)
{
    memset(f, 0, sizeof *f);
    f->model = "";
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (cJSON_IsString(m)) f->model = m->valuestring;
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(root, "thinking");
    const cJSON *tt = cJSON_IsObject(th) ? cJSON_GetObjectItemCaseSensitive(th, "type") : NULL;
    /* "adaptive" is Claude Code 2.1's default on every main-loop request:
     * only an explicit budget ("enabled") marks a thinking request */
    f->thinking = cJSON_IsString(tt) && strcmp(tt->valuestring, "enabled") == 0;
    f->subagent = subagent_header;
    servertools_info st;
    servertools_scan(root, &st);
    f->server_tools = st.server;
    if (sized) {
        size_t bytes = text_bytes(cJSON_GetObjectItemCaseSensitive(root, "system"), 0) +
                       text_bytes(cJSON_GetObjectItemCaseSensitive(root, "messages"), 0) +
                       text_bytes(cJSON_GetObjectItemCaseSensitive(root, "tools"), 0);
        f->est_tokens = (long)((bytes + 3) / 4);
    }
    f->images = has_image(cJSON_GetObjectItemCaseSensitive(root, "messages"));
}

int route_backend_text_only(const route_backend *b)
{
    return b->vision >= 0 ? !b->vision : b->mode->text_only;
}

int routes_model_is_loaded(const char *name)
{
    return !name || !*name || strcmp(name, "current-model") == 0;
}

int routes_check_url(const char *url)
{
    const char *p;
    if (strncmp(url, "http://", 7) == 0)
        p = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        p = url + 8;
    else
        return -1;
    size_t host = strcspn(p, ":/?#");
    if (host == 0) return -1;
    for (size_t i = 0; i < host; i++) {
        char ch = p[i];
        if (ch <= ' ' || ch == '@' || ch == '\\') return -1;
    }
    p += host;
    if (*p == ':') {
        p++;
        size_t d = strspn(p, "0123456789");
        if (d == 0 || d > 5) return -1;
        long port = strtol(p, NULL, 10);
        if (port < 1 || port > 65535) return -1;
        p += d;
    }
    if (*p && *p != '/') return -1;
    for (; *p; p++)
        if (*p <= ' ') return -1;
    return 0;
}
