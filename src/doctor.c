/*
 * doctor: setup checks (see doctor.h). Backend probes are blocking requests
 * (backend_http; nothing else runs yet); the round trip runs the real gateway
 * on an event loop and sends it a request through the upstream module.
 */
#include "doctor.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend_http.h"
#include "buf.h"
#include "launcher.h"
#include "launcher_cc.h"
#include "modelcheck.h"
#include "probe.h"
#include "server.h"
#include "upstream.h"
#include "window.h"
#include "timeouts.h"

static int failures;

static void verdict(int ok, const char *what, const char *detail, const char *fix)
{
    printf("%s %s%s%s\n", ok ? "[ ok ]" : "[FAIL]", what, detail && *detail ? ": " : "",
           detail ? detail : "");
    if (!ok) {
        failures++;
        if (fix) printf("       fix: %s\n", fix);
    }
    fflush(stdout);
}

/* Blocking GET to backend be, with doctor's timeouts (3 s to connect, 10 s
 * in all); returns the HTTP status (0: no answer, reason in err). */
static long http_get(const char *url, const route_backend *be, const char *ca, buf *out, char *err,
                     size_t errlen)
{
    return backend_http(be, ca, url, NULL, TIMEOUT_CHECK_CONNECT_MS, TIMEOUT_CHECK_MS, out, err,
                        errlen);
}

static void check_claude(const config *cfg)
{
    char path[1024];
    if (launcher_find_claude(cfg, path, sizeof path) < 0) {
        verdict(0, "claude", cfg->claude[0] ? cfg->claude : "not found on PATH nor in ~/.local/bin",
                "install Claude Code: scripts/install-claude.sh in anyclaude's source installs "
                "the current native binary into ~/.local (or pass --claude PATH)");
        return;
    }
    char ver[256] = "";
    launcher_claude_version(path, ver, sizeof ver);
    char d[1400];
    snprintf(d, sizeof d, "%s (%s)", path, ver[0] ? ver : "version unknown");
    verdict(ver[0] != '\0', "claude", d,
            "reinstall Claude Code: scripts/install-claude.sh --force (anyclaude's source)");
}

static const char *start_hint(const route_backend *b)
{
    const char *m = b->mode->name;
    if (strcmp(m, "mlx-lm") == 0)
        return "start the model server: mlx_lm.server --model <model> --port 8081 (or set "
               "MLX_LM_URL / --backend to where it listens)";
    if (strcmp(m, "lmstudio") == 0)
        return "open LM Studio, load a model and start its server (Developer tab, port 1234), or "
               "set "
               "LMSTUDIO_URL / --backend";
    if (strcmp(m, "llamacpp") == 0)
        return "start llama-server --jinja -m <model.gguf> --port 8080 (or set LLAMACPP_URL / "
               "--backend)";
    if (strcmp(m, "claude") == 0)
        return "check the network path to the Claude API (proxy, firewall) and --ca-file";
    if (strcmp(m, "anthropic") == 0)
        return "start the server (llama-server, LM Studio, Ollama, vLLM) and check its URL; "
               "anthropic mode sends URL/v1/messages";
    return "check OPENAI_BASE_URL / --backend and that the service is up";
}

/* Returns 1 when the backend answered its model list. */
static int check_backend(const config *cfg, const route_backend *be)
{
    char url[700], err[CURL_ERROR_SIZE + 64] = "", d[1600], what[120];
    if (cfg->routing.configured)
        snprintf(what, sizeof what, "backend %s answers", be->name);
    else
        snprintf(what, sizeof what, "backend answers");
    const char *ca = be->ca_file[0] ? be->ca_file : cfg->ca_file[0] ? cfg->ca_file : NULL;
    buf b;
    buf_init(&b, 4u << 20);
    route_backend_url(be, "models", url, sizeof url);
    long st = http_get(url, be, ca, &b, err, sizeof err);
    if (st == 0) {
        snprintf(d, sizeof d, "%s: %s (mode %s)", be->url, err, be->mode->name);
        verdict(0, what, d, start_hint(be));
        buf_free(&b);
        return 0;
    }
    if (be->mode->passthru == MODE_CLAUDE && !be->api_key[0] && (st == 401 || st == 403)) {
        snprintf(d, sizeof d,
                 "%s (HTTP %ld without a key: requests use the client's own "
                 "credentials)",
                 be->url, st);
        verdict(1, what, d, NULL);
        buf_free(&b);
        return 1;
    }
    if (st == 401 || st == 403) {
        snprintf(d, sizeof d, "%s refused the API key (HTTP %ld)", url, st);
        verdict(0, what, d,
                cfg->routing.configured
                    ? "set the backend's \"apiKey\" or \"apiKeyEnv\" in the config file"
                    : "set the key with --api-key or the mode's *_API_KEY variable");
        buf_free(&b);
        return 0;
    }
    if (st == 404) {
        snprintf(d, sizeof d, "%s is not an %s API (HTTP 404)", url,
                 be->mode->passthru ? "Anthropic-compatible" : "OpenAI-compatible");
        verdict(0, what, d,
                be->mode->passthru
                    ? "give the server's base URL (anyclaude adds /v1/messages); check the port "
                      "and the mode"
                    : "the backend URL usually ends in /v1 (e.g. http://localhost:8081/v1); "
                      "check the port and the mode (--mode)");
        buf_free(&b);
        return 0;
    }
    snprintf(d, sizeof d, "%s (HTTP %ld)", be->url, st);
    verdict(st >= 200 && st < 300, what, d, start_hint(be));
    if (st < 200 || st >= 300) {
        buf_free(&b);
        return 0;
    }
    cJSON *j = cJSON_ParseWithLength(b.data ? b.data : "", b.len);
    const cJSON *data = j ? cJSON_GetObjectItemCaseSensitive(j, "data") : NULL;
    buf names;
    buf_init(&names, 4096);
    const cJSON *m;
    int n = 0;
    if (cJSON_IsArray(data)) {
        cJSON_ArrayForEach(m, data)
        {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
            if (!cJSON_IsString(id)) continue;
            buf_appendf(&names, "%s%s", n++ ? ", " : "", id->valuestring);
        }
    }
    verdict(n > 0, "models served", n ? names.data : "the backend lists no model",
            "load a model in the backend");
    int refused = 0; /* a name the server would unload its model for: no round trip */
    if (n > 0 && be->model[0]) {
        char served[900], msg[1400];
        int listed = modelcheck_listed(b.data, b.len, be->model, served, sizeof served);
        if (listed == 1) {
            verdict(1, "configured model", be->model, NULL);
        } else if (modelcheck_applies(be->mode)) {
            modelcheck_message(msg, sizeof msg, be->model, be->url, served, be->mode);
            verdict(0, "configured model", msg,
                    "unset the model (or set it to current-model), or name one the server lists");
            refused = 1;
        } else {
            printf("       note: configured model \"%s\" is not in that list\n", be->model);
        }
    }
    if (!be->mode->passthru)
        printf("[ -- ] images: %s\n",
               route_backend_text_only(be)
                   ? "each becomes a one-line note (this backend takes text only; --vision on "
                     "or \"vision\": true if its model can see)"
                   : "sent to the backend (--vision off or \"vision\": false if its model cannot "
                     "see them)");
    if (strcmp(be->mode->name, "mlx-lm") == 0)
        printf("[ -- ] prompt cache: mlx_lm.server keeps 10 prompts by default, and each request "
               "of a thinking model takes one; 10 or more subagent requests while the main "
               "conversation waits (one subagent with 10 tool calls, or 4 at once) evict it. If "
               "memory allows, start it with --prompt-cache-size 24 (--prompt-cache-bytes bounds "
               "the total); see docs/backends/mlx-lm.md\n");
    buf_free(&names);
    cJSON_Delete(j);
    buf_free(&b);
    if (refused) return 0;
    if (be->mode->passthru == MODE_CLAUDE) return 1;
    /* the context window main asked every backend for (window_probe.c) */
    if (be->context_window > 0) {
        char fix[800];
        window_too_small_line(be->context_window, be->mode->name, fix, sizeof fix);
        snprintf(d, sizeof d, "%ld tokens (%s)", be->context_window, be->window_source);
        verdict(be->context_window >= WINDOW_MIN, "context window", d, fix);
    } else {
        printf("[ -- ] context window: this backend does not report it; set \"contextWindow\" in "
               "the config or --context-window N so Claude Code compacts in time\n");
    }
    return 1;
}

/* Slot copy: with --slot-save-path, POST /slots/N?action=save works, and
 * the gateway fills empty slots by copying the slot that just ran instead
 * of prefilling. Asked with a file name llama-server refuses (400 when the
 * action is on, 501 when off), so nothing is written. */
static void check_slot_copy(const route_backend *be, const char *ca)
{
    char url[700], err[CURL_ERROR_SIZE + 64] = "";
    buf b;
    buf_init(&b, 1u << 16);
    route_backend_url(be, "/slots/0?action=save", url, sizeof url);
    long st = backend_http(be, ca, url, "{\"filename\":\"../anyclaude-doctor\"}", 3000L, 10000L, &b,
                           err, sizeof err);
    buf_free(&b);
    if (st == 400 || st == 200)
        printf("[ ok ] llama.cpp slot copy: on (--slot-save-path): empty slots get a copy of the "
               "slot that just ran, no prefill; conversations are saved when anyclaude stops and "
               "restored after llama-server restarts\n");
    else
        printf("[ -- ] llama.cpp slot copy: off (HTTP %ld): empty slots are primed by prefilling; "
               "start llama-server with --slot-save-path DIR to copy instead (a new project's "
               "first turn then finds the shared start of the system prompt in every slot, and "
               "conversations survive a restart of llama-server)\n",
               st);
}

/* The llama-server flags slot placement needs (llamacpp mode, and openai
 * mode when the backend turns out to be a llama-server): several slots
 * (--parallel: one per conversation, subagents and background requests
 * beside it), the /slots endpoint (the gateway reads which slots hold a
 * prompt at start), and what /props cannot show: --cache-ram kept on and
 * --kv-unified off. */
static void check_llamacpp_slots(const config *cfg, const route_backend *be)
{
    int openai = strcmp(be->mode->name, "openai") == 0;
    int anthropic = be->mode->passthru == MODE_ANTHROPIC;
    if (!be->mode->cache_prompt && !openai && !anthropic) return;
    char url[700], err[CURL_ERROR_SIZE + 64] = "", d[300];
    const char *ca = be->ca_file[0] ? be->ca_file : cfg->ca_file[0] ? cfg->ca_file : NULL;
    buf b;
    buf_init(&b, 4u << 20);
    route_backend_url(be, "/props", url, sizeof url);
    cJSON *j = http_get(url, be, ca, &b, err, sizeof err) == 200
                   ? cJSON_ParseWithLength(b.data ? b.data : "", b.len)
                   : NULL;
    buf_free(&b);
    const cJSON *n = j ? cJSON_GetObjectItemCaseSensitive(j, "total_slots") : NULL;
    const cJSON *ep = j ? cJSON_GetObjectItemCaseSensitive(j, "endpoint_slots") : NULL;
    /* not a count (or none we could cast): treated as not said */
    if (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble > 1e6) {
        if (be->mode->cache_prompt)
            printf("[ -- ] llama.cpp slots: %s did not say (not llama-server?)\n", url);
        cJSON_Delete(j);
        return;
    }
    int slots = (int)n->valuedouble;
    if (anthropic) {
        /* its /v1/messages drops id_slot: llama-server places by similarity */
        if (slots >= 2)
            printf("[ -- ] llama.cpp slots: %s is a llama-server with %d slots, and anthropic mode "
                   "cannot choose one for a conversation: two sessions of one project share a "
                   "slot and re-prefill every turn. For two terminals at once use --mode "
                   "llamacpp (or openai) with the same server\n",
                   be->url, slots);
        cJSON_Delete(j);
        return;
    }
    snprintf(d, sizeof d, "%d (--parallel)%s", slots,
             slots < 2 ? "; subagents and background requests will evict the main conversation"
                       : "");
    verdict(slots >= 2, "llama.cpp slots", d,
            "start llama-server with --parallel 2 or more (one slot per conversation, one for "
            "subagents and background requests; -c is shared among them)");
    if (cJSON_IsBool(ep))
        verdict(cJSON_IsTrue(ep), "llama.cpp /slots endpoint",
                cJSON_IsTrue(ep) ? "on: warm start sees which slots still hold a prompt" : "off",
                "drop --no-slots");
    printf("       note: keep --cache-ram on (default 8192 MiB: idle slots are kept in host "
           "memory) and --kv-unified off (it clears idle slots whenever another slot starts, "
           "so pinned conversations re-prefill)\n");
    cJSON_Delete(j);
    if (slots >= 2) check_slot_copy(be, ca);
}

/* The configured backend is down and no mode was chosen: say what does
 * answer on the usual local ports, and the flags that use it. */
static void report_found(void)
{
    discover_found f[DISCOVER_MAX_PORTS];
    char pt[160], d[600];
    int n = probe_find(f, DISCOVER_MAX_PORTS, pt, sizeof pt);
    if (n < 0) {
        printf("[ -- ] other model servers: not looked for: %s\n", pt);
        return;
    }
    if (n == 0) {
        printf("[ -- ] other model servers: none answers on localhost ports %s\n", pt);
        return;
    }
    for (int i = 0; i < n; i++) {
        discover_describe(&f[i], d, sizeof d);
        printf("[ ok ] found %s\n       use it: anyclaude %s\n", d, f[i].flags);
    }
    printf("       or: anyclaude --mode auto (uses %s)\n", f[discover_pick(f, n)].name);
}

typedef struct trip {
    struct event_base *base;
    buf body;
    long status;
    int ok;
    char err[300];
} trip;

static int trip_hdr(void *ud, long st)
{
    ((trip *)ud)->status = st;
    return 0;
}
static int trip_data(void *ud, const char *p, size_t n)
{
    return buf_append(&((trip *)ud)->body, p, n) == BUF_OK ? 0 : 1;
}
static void trip_done(void *ud, int ok, int refused, long status, const char *err)
{
    trip *t = ud;
    t->ok = ok;
    t->status = status;
    snprintf(t->err, sizeof t->err, "%s", err);
    event_base_loopbreak(t->base);
}

static void check_round_trip(const config *cfg)
{
    config *local = malloc(sizeof *local); /* about 100 KiB: not on the stack */
    if (!local) {
        verdict(0, "round trip through the gateway", "out of memory", NULL);
        return;
    }
    *local = *cfg;
    local->port = 0;
    snprintf(local->host, sizeof local->host, "127.0.0.1");
    local->auth_token[0] = '\0';
    char err[512], url[128], d[1200];
    struct event_base *base = event_base_new();
    server *srv = base ? server_new(base, local, err, sizeof err) : NULL;
    upstream *up = base ? upstream_new(base) : NULL;
    if (!srv || !up) {
        verdict(0, "round trip through the gateway", srv ? "cannot start a client" : err, NULL);
        goto out;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/messages", server_port(srv));
    /* a Claude API default route needs a model it knows */
    const routes *rs = &cfg->routing;
    const route *def = routes_default(rs);
    int claude = rs->backends[def->pool[0].backend].mode->passthru == MODE_CLAUDE;
    const char *body = claude ? "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":16,\"messages\":"
                                "[{\"role\":\"user\",\"content\":\"Say OK.\"}]}"
                              : "{\"model\":\"anyclaude-doctor\",\"max_tokens\":16,\"messages\":"
                                "[{\"role\":\"user\",\"content\":\"Say OK.\"}]}";
    trip t = {.base = base};
    buf_init(&t.body, 1u << 20);
    upstream_opts o = {.method = "POST",
                       .url = url,
                       .body = body,
                       .body_len = strlen(body),
                       .total_timeout_ms = TIMEOUT_DOCTOR_TRIP_MS,
                       .as_client = 1};
    upstream_cbs cbs = {.on_headers = trip_hdr, .on_data = trip_data, .on_done = trip_done};
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (!upstream_start(up, &o, &cbs, &t)) {
        verdict(0, "round trip through the gateway", "cannot start the request", NULL);
        buf_free(&t.body);
        goto out;
    }
    printf("[ .. ] round trip: asking the model for a short answer (a cold model can take a "
           "minute)\n");
    fflush(stdout);
    event_base_dispatch(base);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    cJSON *j = cJSON_ParseWithLength(t.body.data ? t.body.data : "", t.body.len);
    const cJSON *type = j ? cJSON_GetObjectItemCaseSensitive(j, "type") : NULL;
    int good = t.ok && t.status == 200 && cJSON_IsString(type) &&
               strcmp(type->valuestring, "message") == 0;
    if (good) {
        snprintf(d, sizeof d, "an answer in %.1f s", secs);
        verdict(1, "round trip through the gateway", d, NULL);
        if (secs > 20)
            printf("       note: slow; the first request after loading a model prefills from cold. "
                   "Follow-ups reuse the backend's prompt cache.\n");
    } else {
        const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
        const cJSON *msg = e ? cJSON_GetObjectItemCaseSensitive(e, "message") : NULL;
        snprintf(d, sizeof d, "HTTP %ld: %s", t.status,
                 cJSON_IsString(msg) ? msg->valuestring : (t.err[0] ? t.err : "no valid message"));
        verdict(0, "round trip through the gateway", d,
                "run with --debug 2 and check the backend's own log; see README Troubleshooting");
    }
    cJSON_Delete(j);
    buf_free(&t.body);
out:
    upstream_free(up);
    server_free(srv);
    if (base) event_base_free(base);
    free(local);
}

/* One line per route: its class and each target with its verdict. */
static int check_routes(const config *cfg, const int *ok)
{
    const routes *r = &cfg->routing;
    int default_ok = 0;
    for (int i = 0; i < r->nroutes; i++) {
        const route *rt = &r->r[i];
        char d[1500], what[80];
        size_t n = 0;
        int any = 0;
        for (int k = 0; k < rt->npool + rt->nfallback && n < sizeof d - 200; k++) {
            const route_target *t = k < rt->npool ? &rt->pool[k] : &rt->fallback[k - rt->npool];
            any |= ok[t->backend];
            n += (size_t)snprintf(d + n, sizeof d - n, "%s%s%s%s%s (%s)",
                                  k == 0           ? "to "
                                  : k == rt->npool ? "; fallback "
                                                   : ", ",
                                  r->backends[t->backend].name, t->model[0] ? "," : "", t->model,
                                  "", ok[t->backend] ? "ok" : "down");
        }
        if (rt->when == ROUTE_LONG)
            snprintf(what, sizeof what, "route %d %s (over %ld tokens)", i + 1,
                     routes_when_name(rt->when), rt->over);
        else
            snprintf(what, sizeof what, "route %d %s", i + 1, routes_when_name(rt->when));
        verdict(any, what, d, "start one of its backends, or fix the route in the config file");
        if (rt->when == ROUTE_DEFAULT && any) default_ok = 1;
    }
    return default_ok;
}

int doctor_run(const config *cfg)
{
    failures = 0;
    const routes *r = &cfg->routing;
    if (r->configured)
        printf("anyclaude doctor: %d backends, %d routes, config %s\n", r->nbackends, r->nroutes,
               cfg->config_file);
    else
        printf("anyclaude doctor: mode %s%s, backend %s%s%s\n", cfg->mode->name,
               cfg->mode_auto ? " (found by --mode auto)" : "", cfg->backend,
               cfg->config_file[0] ? ", config " : "", cfg->config_file);
    check_claude(cfg);
    int ok[ROUTES_MAX_BACKENDS] = {0};
    for (int i = 0; i < r->nbackends; i++) {
        if (!routes_uses(r, i, NULL))
            printf("[ -- ] backend %s: no route uses it\n", r->backends[i].name);
        else if ((ok[i] = check_backend(cfg, &r->backends[i])))
            check_llamacpp_slots(cfg, &r->backends[i]);
    }
    if (!r->configured && !ok[0] && !cfg->mode_explicit) report_found();
    int go = r->configured ? check_routes(cfg, ok) : ok[0];
    const route *def = routes_default(r);
    const route_backend *first = &r->backends[def->pool[0].backend];
    if (go && first->mode->passthru == MODE_CLAUDE && !first->api_key[0])
        printf("[ -- ] round trip: skipped; %s uses the client's own Claude credentials\n",
               first->name);
    else if (go)
        check_round_trip(cfg);
    printf("%s\n", failures ? "doctor: some checks failed (see fix: lines above)"
                            : "doctor: all checks passed");
    return failures ? 1 : 0;
}
