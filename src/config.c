/*
 * config: settings resolution (see config.h). Order of application:
 * defaults < config file < environment < flags; the mode is resolved first
 * because it decides which environment variables name the backend.
 */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jsonfile.h"
#include "timeouts.h"

/* a config file longer than this is refused (as not JSON) */
#define CONFIG_MAX_FILE (1u << 20)

void config_defaults(config *c)
{
    memset(c, 0, sizeof *c);
    c->mode = mode_default();
    snprintf(c->host, sizeof c->host, "127.0.0.1");
    c->port = -1;
    c->max_tokens = 16384;
    c->max_body = 32u * 1024 * 1024;
    c->ping_ms = TIMEOUT_PING_MS;
    c->max_streams = 1024;
    c->slots = -1;
    c->warm = 1;
    c->tool_recovery = -1;
    c->vision = -1;
    c->health_ms = TIMEOUT_HEALTH_INTERVAL_MS;
    c->upstream_idle_s = TIMEOUT_UPSTREAM_IDLE_S;
    c->request_timeout_s = TIMEOUT_REQUEST_S;
    c->request_deadline_s = TIMEOUT_REQUEST_DEADLINE_S;
    c->drain_s = TIMEOUT_DRAIN_S;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int copy(char *dst, size_t n, const char *src)
{
    if (strlen(src) >= n) return -1;
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

/* Setting names shared by flags, environment and config file. */
enum key {
    K_MODE,
    K_BACKEND,
    K_KEY,
    K_MODEL,
    K_HOST,
    K_PORT,
    K_MAXTOK,
    K_MAXBODY,
    K_PING,
    K_STREAMS,
    K_DEBUG,
    K_CLAUDE,
    K_AUTH,
    K_SLOTS,
    K_WARM,
    K_TOOLREC,
    K_VISION,
    K_CAFILE,
    K_HEALTH,
    K_WINDOW,
    K_ORIGINS,
    K_IDLE,
    K_REQTIME,
    K_DEADLINE,
    K_DRAIN,
    K_NONE
};

/* Each setting's names: the flag (without --), the config-file key (and an
 * older spelling), and the environment variable (the backend, key and model
 * variables are the mode's own). The order is the environment's order of
 * application. */
static const struct setting_name {
    enum key k;
    const char *flag, *file, *file_alias, *env;
} setting_names[] = {
    {K_MODE, "mode", "mode", NULL, NULL},
    {K_BACKEND, "backend", "backend", NULL, NULL},
    {K_KEY, "api-key", "apiKey", "api_key", NULL},
    {K_MODEL, "model", "model", NULL, NULL},
    {K_HOST, "host", "host", NULL, "ANYCLAUDE_HOST"},
    {K_PORT, "port", "port", NULL, "ANYCLAUDE_PORT"},
    {K_MAXTOK, "max-tokens", "maxOutputTokens", "max_tokens", "ANYCLAUDE_MAX_OUTPUT_TOKENS"},
    {K_MAXBODY, "max-body", "maxBody", NULL, "ANYCLAUDE_MAX_BODY"},
    {K_PING, "ping-ms", "pingMs", NULL, "ANYCLAUDE_PING_MS"},
    {K_STREAMS, "max-streams", "maxStreams", NULL, "ANYCLAUDE_MAX_STREAMS"},
    {K_DEBUG, "debug", "debug", NULL, "ANYCLAUDE_DEBUG"},
    {K_CLAUDE, "claude", "claude", NULL, "ANYCLAUDE_CLAUDE"},
    {K_AUTH, "auth-token", "authToken", NULL, "ANYCLAUDE_AUTH_TOKEN"},
    {K_SLOTS, "slots", "slots", NULL, "ANYCLAUDE_SLOTS"},
    {K_WARM, "warm-start", "warmStart", NULL, "ANYCLAUDE_WARM_START"},
    {K_TOOLREC, "tool-recovery", "toolRecovery", NULL, "ANYCLAUDE_TOOL_RECOVERY"},
    {K_VISION, "vision", "vision", NULL, "ANYCLAUDE_VISION"},
    {K_CAFILE, "ca-file", "caFile", NULL, "ANYCLAUDE_CA_FILE"},
    {K_ORIGINS, "allowed-origins", "allowedOrigins", NULL, "ANYCLAUDE_ALLOWED_ORIGINS"},
    {K_IDLE, "upstream-idle-timeout", "upstreamIdleTimeout", NULL,
     "ANYCLAUDE_UPSTREAM_IDLE_TIMEOUT"},
    {K_REQTIME, "request-timeout", "requestTimeout", NULL, "ANYCLAUDE_REQUEST_TIMEOUT"},
    {K_DEADLINE, "request-deadline", "requestDeadline", NULL, "ANYCLAUDE_REQUEST_DEADLINE"},
    {K_WINDOW, "context-window", "contextWindow", NULL, "ANYCLAUDE_CONTEXT_WINDOW"},
    {K_DRAIN, "drain-timeout", "drainTimeout", NULL, "ANYCLAUDE_DRAIN_TIMEOUT"},
    {K_HEALTH, NULL, "healthCheckMs", NULL, NULL},
};
#define NSETTINGS (sizeof setting_names / sizeof setting_names[0])

static int same(const char *a, const char *b)
{
    return a && strcmp(a, b) == 0;
}

static enum key flag_key(const char *name)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (same(setting_names[i].flag, name)) return setting_names[i].k;
    return K_NONE;
}

/* The numeric settings: where each goes, its bounds and what the line for a
 * bad value says ("SRC: bad WHAT "V"; expected EXPECT"). */
enum num_type { NUM_INT, NUM_LONG, NUM_SIZE };
static const struct num_key {
    enum key k;
    size_t off;
    enum num_type type;
    long lo, hi;
    const char *what, *expect;
} num_keys[] = {
    {K_PORT, offsetof(config, port), NUM_INT, 0, 65535, "port", "0 (any free port) to 65535"},
    {K_MAXTOK, offsetof(config, max_tokens), NUM_LONG, 1, 100000000, "max output tokens",
     "a positive integer"},
    {K_MAXBODY, offsetof(config, max_body), NUM_SIZE, 1024, 1L << 31, "body limit",
     "bytes, 1024 to 2147483648"},
    {K_PING, offsetof(config, ping_ms), NUM_LONG, 10, 600000, "ping interval", "10 to 600000 ms"},
    {K_STREAMS, offsetof(config, max_streams), NUM_INT, 1, 100000, "max streams", "1 to 100000"},
    {K_DEBUG, offsetof(config, debug), NUM_INT, 0, 3, "debug level", "0, 1, 2 or 3"},
    {K_HEALTH, offsetof(config, health_ms), NUM_LONG, 100, 3600000, "health-check interval",
     "100 to 3600000 ms"},
    {K_WINDOW, offsetof(config, context_window), NUM_LONG, 1024, 100000000, "context window",
     "tokens, 1024 to 100000000"},
    {K_DRAIN, offsetof(config, drain_s), NUM_LONG, 0, 86400, "drain timeout", "0 to 86400 seconds"},
    {K_SLOTS, offsetof(config, slots), NUM_INT, 0, 64, "slot count", "auto, 0 (off) or 1 to 64"},
    {K_IDLE, offsetof(config, upstream_idle_s), NUM_LONG, 0, 86400, "timeout",
     "seconds, 0 (none) to 86400"},
    {K_REQTIME, offsetof(config, request_timeout_s), NUM_LONG, 0, 86400, "timeout",
     "seconds, 0 (none) to 86400"},
    {K_DEADLINE, offsetof(config, request_deadline_s), NUM_LONG, 1, 3600, "request deadline",
     "seconds, 1 to 3600"},
};

static int apply_number(config *c, enum key k, const char *v, const char *src, char *err,
                        size_t errlen)
{
    for (size_t i = 0; i < sizeof num_keys / sizeof num_keys[0]; i++) {
        const struct num_key *nk = &num_keys[i];
        if (nk->k != k) continue;
        long n;
        if (parse_long(v, nk->lo, nk->hi, &n)) {
            snprintf(err, errlen, "%s: bad %s \"%s\"; expected %s", src, nk->what, v, nk->expect);
            return -1;
        }
        char *field = (char *)c + nk->off;
        if (nk->type == NUM_INT)
            *(int *)(void *)field = (int)n;
        else if (nk->type == NUM_SIZE)
            *(size_t *)(void *)field = (size_t)n;
        else
            *(long *)(void *)field = n;
        return 0;
    }
    snprintf(err, errlen, "%s: unknown setting", src);
    return -1;
}

/* on/off (1/0, true/false), and auto (-1) where allowed; -2: none of these. */
static int parse_switch(const char *v, int allow_auto)
{
    if (allow_auto && strcmp(v, "auto") == 0) return -1;
    if (strcmp(v, "1") == 0 || strcmp(v, "on") == 0 || strcmp(v, "true") == 0) return 1;
    if (strcmp(v, "0") == 0 || strcmp(v, "off") == 0 || strcmp(v, "false") == 0) return 0;
    return -2;
}

/* Apply one setting; `src` names where it came from for the error line. */
static int apply(config *c, enum key k, const char *v, const char *src, char *err, size_t errlen)
{
    switch (k) {
    case K_MODE: {
        /* auto: the default mode's settings until probe_resolve_auto finds a server */
        const mode_profile *m = strcmp(v, "auto") == 0 ? mode_default() : mode_find(v);
        if (!m) {
            snprintf(err, errlen, "%s: unknown mode \"%s\"; accepted: %s, auto", src, v,
                     mode_names());
            return -1;
        }
        c->mode = m;
        c->mode_auto = strcmp(v, "auto") == 0;
        c->mode_explicit = 1;
        return 0;
    }
    case K_BACKEND: {
        if (routes_check_url(v) || copy(c->backend, sizeof c->backend, v)) {
            snprintf(err, errlen,
                     "%s: malformed backend URL \"%s\"; expected http(s)://host[:port][/path], "
                     "e.g. http://localhost:8081/v1",
                     src, v);
            return -1;
        }
        size_t l = strlen(c->backend);
        while (l > 0 && c->backend[l - 1] == '/')
            c->backend[--l] = '\0';
        return 0;
    }
    case K_KEY:
        if (copy(c->api_key, sizeof c->api_key, v)) goto toolong;
        return 0;
    case K_MODEL:
        if (routes_model_is_loaded(v)) v = ""; /* the server's own model: send none */
        if (copy(c->model, sizeof c->model, v)) goto toolong;
        return 0;
    case K_HOST:
        if (!*v || copy(c->host, sizeof c->host, v)) goto toolong;
        return 0;
    case K_CLAUDE:
        if (copy(c->claude, sizeof c->claude, v)) goto toolong;
        return 0;
    case K_AUTH:
        if (copy(c->auth_token, sizeof c->auth_token, v)) goto toolong;
        return 0;
    case K_CAFILE:
        if (!*v || copy(c->ca_file, sizeof c->ca_file, v)) goto toolong;
        return 0;
    case K_SLOTS:
        if (strcmp(v, "auto") == 0) {
            c->slots = -1;
            return 0;
        }
        return apply_number(c, k, v, src, err, errlen);
    case K_WARM:
    case K_TOOLREC:
    case K_VISION: {
        int on = parse_switch(v, k == K_VISION);
        if (on == -2) {
            snprintf(err, errlen, "%s: bad value \"%s\"; expected on%s", src, v,
                     k == K_VISION ? ", off or auto" : " or off");
            return -1;
        }
        *(k == K_WARM ? &c->warm : k == K_TOOLREC ? &c->tool_recovery : &c->vision) = on;
        return 0;
    }
    case K_ORIGINS:
        /* comma-separated origins, e.g. "http://localhost:3000,https://x.example" */
        if (copy(c->allowed_origins, sizeof c->allowed_origins, v)) goto toolong;
        return 0;
    default: /* the numbers (num_keys), and K_NONE: "unknown setting" */
        return apply_number(c, k, v, src, err, errlen);
    }
toolong:
    snprintf(err, errlen, "%s: value empty or too long", src);
    return -1;
}

static const char *flag_value(const config_flag *f, size_t n, const char *name)
{
    const char *v = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].name, name) == 0) v = f[i].value;
    return v;
}

static cJSON *load_file(const char *path, int required, char *err, size_t errlen, int *failed)
{
    *failed = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (required || errno != ENOENT) {
            snprintf(err, errlen, "config file %s: %s; pass a readable JSON file with --config",
                     path, strerror(errno));
            *failed = 1;
        }
        return NULL;
    }
    cJSON *j = jsonfile_read(fp, CONFIG_MAX_FILE);
    fclose(fp);
    if (!cJSON_IsObject(j)) {
        snprintf(err, errlen,
                 "config file %s: not a JSON object; expected e.g. {\"mode\":\"llamacpp\","
                 "\"backend\":\"http://localhost:8080/v1\"}",
                 path);
        cJSON_Delete(j);
        *failed = 1;
        return NULL;
    }
    return j;
}

/* Map a config-file key to a setting key. */
static enum key file_key(const char *name)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (same(setting_names[i].file, name) || same(setting_names[i].file_alias, name))
            return setting_names[i].k;
    return K_NONE;
}

static int apply_json(config *c, enum key k, const cJSON *v, const char *src, char *err,
                      size_t errlen)
{
    char num[32];
    if (k == K_ORIGINS && cJSON_IsArray(v)) {
        char all[sizeof c->allowed_origins] = "";
        const cJSON *o;
        cJSON_ArrayForEach(o, v)
        {
            size_t l = strlen(all);
            if (!cJSON_IsString(o) ||
                (size_t)snprintf(all + l, sizeof all - l, "%s%s", l ? "," : "", o->valuestring) >=
                    sizeof all - l) {
                snprintf(err, errlen, "%s: expected a list of origins (strings), not too long",
                         src);
                return -1;
            }
        }
        return apply(c, k, all, src, err, errlen);
    }
    if (cJSON_IsString(v)) return apply(c, k, v->valuestring, src, err, errlen);
    if (cJSON_IsBool(v)) return apply(c, k, cJSON_IsTrue(v) ? "1" : "0", src, err, errlen);
    if (cJSON_IsNumber(v)) {
        snprintf(num, sizeof num, "%.0f", v->valuedouble);
        return apply(c, k, num, src, err, errlen);
    }
    snprintf(err, errlen, "%s: expected a string or a number", src);
    return -1;
}

int config_resolve(config *c, const config_flag *flags, size_t nflags, config_getenv_fn ge,
                   char *err, size_t errlen)
{
    char src[600];
    int rc = -1;
    cJSON *file = NULL;
    /* 1. the config file */
    const char *path = flag_value(flags, nflags, "config");
    int required = path != NULL;
    if (!path && ge("ANYCLAUDE_CONFIG")) {
        path = ge("ANYCLAUDE_CONFIG");
        required = 1;
    }
    char def[512];
    if (!path) {
        const char *xdg = ge("XDG_CONFIG_HOME");
        const char *home = ge("HOME");
        if (xdg && *xdg)
            snprintf(def, sizeof def, "%s/anyclaude/config.json", xdg);
        else if (home && *home)
            snprintf(def, sizeof def, "%s/.config/anyclaude/config.json", home);
        else
            def[0] = '\0';
        if (def[0]) path = def;
    }
    if (path) {
        int failed;
        file = load_file(path, required, err, errlen, &failed);
        if (failed) goto out;
        if (file) copy(c->config_file, sizeof c->config_file, path);
    }
    if (!file && !required) {
        /* no user config: the system-wide one (a service's) */
        const char *sys = ge("ANYCLAUDE_SYSTEM_CONFIG");
        path = sys && *sys ? sys : CONFIG_SYSTEM_FILE;
        int failed;
        file = load_file(path, 0, err, errlen, &failed);
        if (failed) goto out;
        if (file) copy(c->config_file, sizeof c->config_file, path);
    }
    /* 2. the mode, since it decides which variables name the backend */
    const char *fm = flag_value(flags, nflags, "mode");
    const char *em = ge("ANYCLAUDE_MODE");
    const cJSON *jm = file ? cJSON_GetObjectItemCaseSensitive(file, "mode") : NULL;
    if (fm) {
        if (apply(c, K_MODE, fm, "--mode", err, errlen)) goto out;
    } else if (em && *em) {
        if (apply(c, K_MODE, em, "ANYCLAUDE_MODE", err, errlen)) goto out;
    } else if (jm) {
        snprintf(src, sizeof src, "%s: \"mode\"", path);
        if (apply_json(c, K_MODE, jm, src, err, errlen)) goto out;
    }
    /* 3. the rest of the file: top-level keys, then the mode's own section
     * ("backends": {"llamacpp": {"backend": ..., "model": ...}}) */
    if (file) {
        const cJSON *it;
        cJSON_ArrayForEach(it, file)
        {
            if (strcmp(it->string, "mode") == 0 || strcmp(it->string, "backends") == 0 ||
                strcmp(it->string, "routes") == 0)
                continue;
            enum key k = file_key(it->string);
            snprintf(src, sizeof src, "%s: \"%s\"", path, it->string);
            if (k == K_NONE) {
                snprintf(err, errlen,
                         "%s: unknown key; accepted: mode, backend, apiKey, model, host, port, "
                         "maxOutputTokens, maxBody, pingMs, maxStreams, debug, claude, authToken, "
                         "slots, warmStart, toolRecovery, vision, caFile, healthCheckMs, "
                         "allowedOrigins, upstreamIdleTimeout, requestTimeout, requestDeadline, "
                         "drainTimeout, contextWindow, backends, routes",
                         src);
                goto out;
            }
            if (apply_json(c, k, it, src, err, errlen)) goto out;
        }
        const cJSON *bs = cJSON_GetObjectItemCaseSensitive(file, "backends");
        const cJSON *mine =
            cJSON_IsObject(bs) ? cJSON_GetObjectItemCaseSensitive(bs, c->mode->name) : NULL;
        const cJSON *rs = cJSON_GetObjectItemCaseSensitive(file, "routes");
        if (rs && routes_parse(&c->routing, bs, rs, c->health_ms, ge, path, err, errlen)) goto out;
        /* the older per-mode section; with routes, backends are named entries */
        if (!rs && cJSON_IsObject(mine)) {
            cJSON_ArrayForEach(it, mine)
            {
                enum key k = file_key(it->string);
                snprintf(src, sizeof src, "%s: \"backends.%s.%s\"", path, c->mode->name,
                         it->string);
                if (k == K_NONE || k == K_MODE) {
                    snprintf(err, errlen, "%s: unknown key; accepted: backend, apiKey, model", src);
                    goto out;
                }
                if (apply_json(c, k, it, src, err, errlen)) goto out;
            }
        }
    }
    /* 4. the environment */
    const struct {
        const char *name;
        enum key k;
    } mode_env[] = {
        {c->mode->url_env, K_BACKEND},
        {c->mode->key_env, K_KEY},
        {c->mode->model_env, K_MODEL},
    };
    for (size_t i = 0; i < sizeof mode_env / sizeof mode_env[0]; i++) {
        const char *v = ge(mode_env[i].name);
        if (v && *v && apply(c, mode_env[i].k, v, mode_env[i].name, err, errlen)) goto out;
    }
    for (size_t i = 0; i < NSETTINGS; i++) {
        const char *name = setting_names[i].env;
        const char *v = name ? ge(name) : NULL;
        if (v && *v && apply(c, setting_names[i].k, v, name, err, errlen)) goto out;
    }
    /* 5. flags */
    for (size_t i = 0; i < nflags; i++) {
        if (strcmp(flags[i].name, "config") == 0 || strcmp(flags[i].name, "mode") == 0) continue;
        enum key k = flag_key(flags[i].name);
        snprintf(src, sizeof src, "--%s", flags[i].name);
        if (apply(c, k, flags[i].value, src, err, errlen)) goto out;
    }
    /* 6. mode defaults for what is still unset */
    if (!c->backend[0] && c->routing.configured) {
        /* routes name their own backends; the top-level one is unused */
    } else if (!c->backend[0]) {
        if (!c->mode->default_backend) {
            snprintf(err, errlen,
                     "mode %s needs a backend URL: pass --backend URL or set %s "
                     "(e.g. https://api.example.com/v1)",
                     c->mode->name, c->mode->url_env);
            goto out;
        }
        copy(c->backend, sizeof c->backend, c->mode->default_backend);
    }
    if (!c->api_key[0] && c->mode->default_key)
        copy(c->api_key, sizeof c->api_key, c->mode->default_key);
    /* with routes, an unset tool recovery follows each backend's mode */
    if (c->tool_recovery < 0 && !c->routing.configured) c->tool_recovery = c->mode->local;
    if (c->routing.configured)
        c->routing.health_ms = c->health_ms;
    else {
        routes_single(&c->routing, c->mode->name, c->mode, c->backend, c->api_key, c->model,
                      c->slots);
        c->routing.backends[0].vision = c->vision;
        route_backend *b = &c->routing.backends[0];
        if (c->context_window > 0) {
            b->context_window = c->context_window;
            b->window_configured = 1;
            snprintf(b->window_source, sizeof b->window_source, "configured");
        }
    }
    rc = 0;
out:
    cJSON_Delete(file);
    /* one line whatever the file's keys contain */
    for (char *p = err; rc && errlen && *p; p++)
        if ((unsigned char)*p < 0x20) *p = '?';
    return rc;
}
