/*
 * launcher: gateway + claude in one command (see launcher.h).
 *
 * The child inherits the terminal untouched. The parent keeps serving on its
 * event loop; Ctrl-C reaches claude through the terminal's process group
 * (the parent ignores SIGINT so it keeps serving claude's last requests),
 * SIGTERM and SIGHUP are forwarded, and SIGCHLD ends the loop.
 */
#include "launcher.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jsonfile.h"
#include "launcher_cc.h"
#include "log.h"
#include "probe.h"
#include "server.h"
#include "window_probe.h"
#include "timeouts.h"

static int is_exec(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

int launcher_find_claude(const config *cfg, char *out, size_t outlen)
{
    if (cfg->claude[0]) {
        if (!is_exec(cfg->claude)) return -1;
        snprintf(out, outlen, "%s", cfg->claude);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        if (n > 0 && n < outlen - 8) {
            snprintf(out, outlen, "%.*s/claude", (int)n, path);
            if (is_exec(out)) return 0;
        }
        path += n;
        if (*path == ':') path++;
    }
    /* where scripts/install-claude.sh (and Anthropic's installer) put it,
     * when ~/.local/bin is not on PATH */
    const char *home = getenv("HOME");
    if (home && *home) {
        snprintf(out, outlen, "%s/.local/bin/claude", home);
        if (is_exec(out)) return 0;
    }
    return -1;
}

static int mkdir_p(char *p)
{
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST) return -1;
        *s = '/';
    }
    return mkdir(p, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

int launcher_state_dir(char *out, size_t outlen)
{
    const char *x = getenv("XDG_STATE_HOME");
    const char *h = getenv("HOME");
    if (x && *x)
        snprintf(out, outlen, "%s/anyclaude", x);
    else if (h && *h)
        snprintf(out, outlen, "%s/.local/state/anyclaude", h);
    else
        snprintf(out, outlen, "/tmp/anyclaude-%d", (int)getuid());
    return mkdir_p(out);
}

/* Claude Code shows first-run screens until ~/.claude.json says onboarding
 * is done; an API-key user has no reason to see them. Set the flag, keeping
 * the rest of the file. A file that is not JSON is left alone. */
static void mark_onboarded(void)
{
    const char *h = getenv("HOME");
    if (!h || !*h) return;
    char path[1024], tmp[1100];
    snprintf(path, sizeof path, "%s/.claude.json", h);
    cJSON *j = NULL;
    FILE *f = fopen(path, "rb");
    if (f) {
        j = jsonfile_read(f, 64u << 20); /* a larger file is left alone */
        fclose(f);
        if (!cJSON_IsObject(j)) {
            cJSON_Delete(j);
            return;
        }
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "hasCompletedOnboarding"))) {
            cJSON_Delete(j);
            return;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(j, "hasCompletedOnboarding");
    } else {
        j = cJSON_CreateObject();
    }
    cJSON_AddBoolToObject(j, "hasCompletedOnboarding", 1);
    char *txt = cJSON_Print(j);
    cJSON_Delete(j);
    if (!txt) return;
    snprintf(tmp, sizeof tmp, "%s.anyclaude-%d", path, (int)getpid());
    f = fopen(tmp, "wb");
    if (f) {
        int ok = fputs(txt, f) >= 0;
        ok = (fclose(f) == 0) && ok;
        if (ok && rename(tmp, path) == 0)
            log_line(1, "marked Claude Code onboarding complete in %s", path);
        else
            unlink(tmp);
    }
    cJSON_free(txt);
}

typedef struct run_state {
    struct event_base *base;
    server *srv;
    pid_t child;
    int status;
    int exited;
} run_state;

static void stop_loop(void *arg)
{
    event_base_loopbreak(((run_state *)arg)->base);
}

/* Saving the conversations' slots at exit is taking a while (a real
 * model's KV cache is gigabytes): say so, and that Ctrl-C skips it. */
static void saving_slow(evutil_socket_t fd, short what, void *arg)
{
    fprintf(stderr, "anyclaude: saving the model's cache for the next start (Ctrl-C skips)\n");
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
    run_state *st = arg;
    int status;
    pid_t p;
    while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
        if (p == st->child && !st->exited) {
            st->status = status;
            st->exited = 1;
            /* save the conversations' slots for the next start, then stop */
            struct timeval slow = {1, 0};
            event_base_once(st->base, -1, EV_TIMEOUT, saving_slow, NULL, &slow);
            server_checkpoint(st->srv, stop_loop, st);
        }
    }
}

static void on_forward(evutil_socket_t sig, short what, void *arg)
{
    run_state *st = arg;
    if (st->exited) /* claude is gone: stop now, without saving the cache */
        event_base_loopbreak(st->base);
    else if (st->child > 0)
        kill(st->child, (int)sig);
}

static void on_ignore(evutil_socket_t sig, short what, void *arg)
{
    /* Ctrl-C: claude got it from the terminal and decides what it means;
     * once claude has exited, it skips saving the cache */
    run_state *st = arg;
    if (st->exited) event_base_loopbreak(st->base);
}

/* With --model, Claude Code shows and sends that name. Without it Claude
 * Code keeps its own model names: the gateway decides what goes upstream
 * either way, and a name Claude Code does not know makes it warn and assume
 * a 1M-token context. Variables the user set win. */
static void set_model_env(const config *cfg)
{
    if (!cfg->model[0]) return;
    const char *m = cfg->model;
    const char *vars[] = {"ANTHROPIC_MODEL", "ANTHROPIC_SMALL_FAST_MODEL",
                          "ANTHROPIC_DEFAULT_OPUS_MODEL", "ANTHROPIC_DEFAULT_SONNET_MODEL",
                          "ANTHROPIC_DEFAULT_HAIKU_MODEL"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        setenv(vars[i], m, 0);
}

/* No mode was chosen and the backend does not answer: look on the usual
 * local ports. Returns 1 (after saying which flags use it) when a server
 * was found there, so the user reruns with them; 0 to go on. */
static int found_elsewhere(const config *cfg)
{
    if (cfg->routing.configured || cfg->mode_explicit ||
        probe_answers(cfg->backend, TIMEOUT_BACKEND_UP_MS))
        return 0;
    discover_found f[DISCOVER_MAX_PORTS];
    char pt[160], d[600];
    int n = probe_find(f, DISCOVER_MAX_PORTS, pt, sizeof pt);
    if (n < 0) {
        fprintf(stderr, "anyclaude: warning: nothing answers at %s; not looking elsewhere: %s\n",
                cfg->backend, pt);
        return 0;
    }
    if (n == 0) {
        fprintf(stderr,
                "anyclaude: warning: nothing answers at %s (mode %s; no --mode given), nor on "
                "localhost ports %s; start your model server (anyclaude doctor helps)\n",
                cfg->backend, cfg->mode->name, pt);
        return 0;
    }
    fprintf(stderr, "anyclaude: nothing answers at %s (mode %s; no --mode given), but:\n",
            cfg->backend, cfg->mode->name);
    for (int i = 0; i < n; i++) {
        discover_describe(&f[i], d, sizeof d);
        fprintf(stderr, "  found %s: run anyclaude %s\n", d, f[i].flags);
    }
    fprintf(stderr,
            "anyclaude: or run anyclaude --mode auto (or \"mode\": \"auto\" in the config "
            "file) to use %s; or --mode %s to start anyway with %s\n",
            f[discover_pick(f, n)].name, cfg->mode->name, cfg->backend);
    return 1;
}

/* A fresh random token for this run: the gateway requires it, and only the
 * claude started here is given it. */
static int random_token(char *out, size_t outlen)
{
    unsigned char r[24];
    arc4random_buf(r, sizeof r);
    if (outlen < 2 * sizeof r + 1) return -1;
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
    return 0;
}

/* Is v one of the backends' keys (not a mode's public placeholder)? */
static int is_backend_key(const config *cfg, const char *v)
{
    const routes *rs = &cfg->routing;
    for (int i = 0; i < rs->nbackends; i++) {
        const route_backend *b = &rs->backends[i];
        if (!b->api_key[0] ||
            (b->mode->default_key && strcmp(b->api_key, b->mode->default_key) == 0))
            continue;
        if (strcmp(b->api_key, v) == 0) return 1;
    }
    return cfg->api_key[0] && strcmp(cfg->api_key, v) == 0 &&
           !(cfg->mode->default_key && strcmp(cfg->api_key, cfg->mode->default_key) == 0);
}

/* In the child: remove the backends' key variables from the environment
 * claude gets (its Bash tool could read them), keeping `keep` (Claude
 * Code's own credential in claude mode). */
static void drop_key_env(const config *cfg, const char *keep)
{
    extern char **environ;
    char names[64][128];
    int n = 0;
    const routes *rs = &cfg->routing;
    for (char **e = environ; e && *e && n < 64; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || (size_t)(eq - *e) >= sizeof names[0]) continue;
        int named = 0;
        for (int i = 0; i < rs->nbackends; i++)
            named |= rs->backends[i].mode->key_env &&
                     strlen(rs->backends[i].mode->key_env) == (size_t)(eq - *e) &&
                     strncmp(rs->backends[i].mode->key_env, *e, (size_t)(eq - *e)) == 0;
        if (!named && !is_backend_key(cfg, eq + 1)) continue;
        snprintf(names[n], sizeof names[0], "%.*s", (int)(eq - *e), *e);
        if (keep && strcmp(names[n], keep) == 0) continue;
        n++;
    }
    for (int i = 0; i < n; i++)
        unsetenv(names[i]);
}

/* launcher_run with its own copy of the configuration (local): the token
 * it makes up and the windows it asks for go there, not into the caller's. */
static int run(const config *cfg, config *local, char *const *args, int nargs)
{
    char claude[1024], dir[900], logpath[1024], err[512];
    if (launcher_find_claude(cfg, claude, sizeof claude) < 0) {
        if (cfg->claude[0])
            fprintf(stderr,
                    "anyclaude: %s is not an executable file; fix --claude / ANYCLAUDE_CLAUDE\n",
                    cfg->claude);
        else
            fprintf(stderr, "anyclaude: claude not found on PATH nor in ~/.local/bin; install "
                            "Claude Code (scripts/install-claude.sh in anyclaude's source), or "
                            "pass --claude PATH\n");
        return 1;
    }
    if (found_elsewhere(cfg)) return 1;
    logpath[0] = '\0';
    if (launcher_state_dir(dir, sizeof dir) == 0) {
        snprintf(logpath, sizeof logpath, "%s/anyclaude.log", dir);
        if (log_init(cfg->debug, logpath) < 0) logpath[0] = '\0';
    }
    if (!logpath[0]) log_init(cfg->debug, "/dev/null");
    /* the real model: its window, output limit and name (none of this
     * concerns the Claude API, which Claude Code knows) */
    if (!local->auth_token[0]) {
        random_token(local->auth_token, sizeof local->auth_token);
        log_add_secret(local->auth_token);
    }
    window_probe_all(&local->routing, cfg->ca_file[0] ? cfg->ca_file : NULL);
    int pure_claude = !local->routing.configured && cfg->mode->passthru == MODE_CLAUDE;
    ccenv ce;
    memset(&ce, 0, sizeof ce);
    if (!pure_claude && launcher_cc_plan(local, claude, args, nargs, &ce) < 0) return 1;
    struct event_base *base = event_base_new();
    if (!base) {
        fprintf(stderr, "anyclaude: cannot create the event loop\n");
        return 1;
    }
    server *srv = server_new(base, local, err, sizeof err);
    if (!srv) {
        fprintf(stderr, "anyclaude: %s\n", err);
        event_base_free(base);
        return 1;
    }
    const routes *rs = &cfg->routing;
    int uses_claude = 0;
    for (int i = 0; i < rs->nbackends; i++)
        uses_claude |= rs->backends[i].mode->passthru == MODE_CLAUDE;
    if (rs->configured)
        log_line(0, "gateway on http://127.0.0.1:%d routes=%d backends=%d config=%s claude=%s",
                 server_port(srv), rs->nroutes, rs->nbackends, cfg->config_file, claude);
    else
        log_line(0, "gateway on http://127.0.0.1:%d mode=%s backend=%s claude=%s", server_port(srv),
                 cfg->mode->name, cfg->backend, claude);
    mark_onboarded();

    run_state st = {base, srv, -1, 0, 0};
    struct event *ev_chld = evsignal_new(base, SIGCHLD, on_sigchld, &st);
    struct event *ev_term = evsignal_new(base, SIGTERM, on_forward, &st);
    struct event *ev_hup = evsignal_new(base, SIGHUP, on_forward, &st);
    struct event *ev_int = evsignal_new(base, SIGINT, on_ignore, &st);
    struct event *ev_quit = evsignal_new(base, SIGQUIT, on_ignore, &st);
    evsignal_add(ev_chld, NULL);
    evsignal_add(ev_term, NULL);
    evsignal_add(ev_hup, NULL);
    evsignal_add(ev_int, NULL);
    evsignal_add(ev_quit, NULL);

    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "anyclaude: fork failed: %s\n", strerror(errno));
        st.status = 1 << 8;
    } else if (pid == 0) {
        char url[128], hdrs[4096];
        const char *tok = local->auth_token;
        snprintf(url, sizeof url, "http://127.0.0.1:%d", server_port(srv));
        setenv("ANTHROPIC_BASE_URL", url, 1);
        /* With a Claude API backend, Claude Code keeps its own credentials
         * (login or ANTHROPIC_API_KEY) for the gateway to pass on, and
         * proves it may use the gateway with the token in a header of its
         * own (ANTHROPIC_CUSTOM_HEADERS); otherwise the token is its
         * credential. */
        const char *extra = getenv("ANTHROPIC_CUSTOM_HEADERS");
        snprintf(hdrs, sizeof hdrs, "%s%sx-anyclaude-token: %s", extra && *extra ? extra : "",
                 extra && *extra ? "\n" : "", tok);
        setenv("ANTHROPIC_CUSTOM_HEADERS", hdrs, 1);
        int own_creds = uses_claude && !cfg->auth_token[0];
        if (!own_creds) {
            setenv("ANTHROPIC_AUTH_TOKEN", tok, 1);
            unsetenv("ANTHROPIC_API_KEY");
        }
        drop_key_env(cfg, own_creds ? "ANTHROPIC_API_KEY" : NULL);
        setenv("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1", 1);
        setenv("DISABLE_AUTOUPDATER", "1", 1);
        setenv("DISABLE_TELEMETRY", "1", 1);
        setenv("DISABLE_ERROR_REPORTING", "1", 1);
        launcher_cc_apply(&ce); /* output limit, compaction, model option */
        set_model_env(cfg);
        signal(SIGPIPE, SIG_DFL);
        char **argv = calloc((size_t)nargs + 4, sizeof *argv);
        if (!argv) _exit(127);
        int k = 0;
        argv[k++] = claude;
        if (ce.settings[0]) { /* the status line, for this run only */
            argv[k++] = "--settings";
            argv[k++] = ce.settings;
        }
        for (int i = 0; i < nargs; i++)
            argv[k++] = args[i];
        execv(claude, argv);
        fprintf(stderr, "anyclaude: cannot run %s: %s\n", claude, strerror(errno));
        _exit(127);
    } else {
        st.child = pid;
        event_base_dispatch(base);
        if (!st.exited) { /* loop ended otherwise: wait for claude */
            waitpid(pid, &st.status, 0);
        }
    }
    event_free(ev_chld);
    event_free(ev_term);
    event_free(ev_hup);
    event_free(ev_int);
    event_free(ev_quit);
    server_free(srv);
    event_base_free(base);
    if (logpath[0] && (cfg->debug > 0 || log_warnings() > 1))
        fprintf(stderr, "anyclaude: log written to %s\n", logpath);
    if (WIFEXITED(st.status)) return WEXITSTATUS(st.status);
    if (WIFSIGNALED(st.status)) return 128 + WTERMSIG(st.status);
    return 1;
}

int launcher_run(const config *cfg, char *const *args, int nargs)
{
    /* the configuration is about 100 KiB: on the heap, not the stack */
    config *local = malloc(sizeof *local);
    if (!local) {
        fprintf(stderr, "anyclaude: out of memory\n");
        return 1;
    }
    *local = *cfg;
    int rc = run(cfg, local, args, nargs);
    free(local);
    return rc;
}
