/*
 * main: the command line. One table (subcommands below) says what each
 * subcommand runs and what it needs first: `anyclaude serve` runs the
 * gateway alone; `anyclaude [options] [-- claude args]` runs the gateway and
 * Claude Code together (launcher.c); `anyclaude doctor` checks the setup
 * (doctor.c); `anyclaude statusline` prints Claude Code's status line
 * (statusline.c). cli.c parses the options, config.c resolves them.
 */
#include <curl/curl.h>
#include <errno.h>
#include <sys/stat.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "doctor.h"
#include "launcher.h"
#include "log.h"
#include "modelcheck.h"
#include "probe.h"
#include "server.h"
#include "statusline.h"
#include "version.h"
#include "window_probe.h"

static const char *env_lookup(const char *name)
{
    return getenv(name);
}

/* Raise the soft file-descriptor limit to the hard one (macOS starts at
 * 256, Linux at 1024): every client and every upstream request holds one.
 * server.c keeps its connection cap below what this leaves. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max) return;
    rlim_t want = rl.rlim_max;
#ifdef OPEN_MAX
    if (want > OPEN_MAX) want = OPEN_MAX; /* macOS refuses more than OPEN_MAX */
#endif
    if (want > (1u << 20)) want = 1u << 20;
    if (want <= rl.rlim_cur) return;
    rl.rlim_cur = want;
    setrlimit(RLIMIT_NOFILE, &rl);
}

/* libevent's own warnings (e.g. accept errors), rate-limited: a fault that
 * repeats in a tight loop must not flood the log. */
static void libevent_log(int severity, const char *msg)
{
    static time_t window;
    static int lines;
    static unsigned long dropped;
    if (severity < EVENT_LOG_WARN) return;
    time_t now = time(NULL);
    if (now - window >= 10) {
        if (dropped) log_line(0, "libevent: %lu more messages suppressed", dropped);
        window = now;
        lines = 0;
        dropped = 0;
    }
    if (lines++ < 5)
        log_line(0, "libevent: %s", msg);
    else
        dropped++;
}

typedef struct serve_ctx {
    struct event_base *base;
    server *srv;
    long drain_ms;
    int signals;
} serve_ctx;

static void stopped(void *arg)
{
    event_base_loopbreak(((serve_ctx *)arg)->base);
}

/* Drained: save the conversations' slots for the next start, then stop. */
static void drained(void *arg)
{
    serve_ctx *c = arg;
    server_checkpoint(c->srv, stopped, c);
}

/* First SIGTERM/SIGINT: drain (server_drain), then exit 0. A second one:
 * end what is left at once. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    serve_ctx *c = arg;
    if (c->signals++ == 0) {
        log_line(0, "signal %d: draining (up to %ld s; send it again to stop at once)", (int)sig,
                 c->drain_ms / 1000);
        server_drain(c->srv, c->drain_ms, drained, c);
        return;
    }
    log_line(0, "signal %d again: stopping now", (int)sig);
    server_cut_all(c->srv, "anyclaude was stopped; retry");
    event_base_loopbreak(c->base);
}

/* Run the gateway until SIGINT/SIGTERM (then drain, see on_signal). */
static int cmd_serve(const config *cfg, const cli_args *a)
{
    int rc = 1;
    char err[512];
    struct event_base *base = event_base_new();
    server *srv = NULL;
    struct event *sint = NULL, *sterm = NULL;
    if (!base) {
        fprintf(stderr, "anyclaude: cannot create the event loop\n");
        goto out;
    }
    srv = server_new(base, cfg, err, sizeof err);
    if (!srv) {
        fprintf(stderr, "anyclaude: %s\n", err);
        goto out;
    }
    static serve_ctx ctx;
    ctx = (serve_ctx){base, srv, cfg->drain_s * 1000, 0};
    sint = evsignal_new(base, SIGINT, on_signal, &ctx);
    sterm = evsignal_new(base, SIGTERM, on_signal, &ctx);
    evsignal_add(sint, NULL);
    evsignal_add(sterm, NULL);
    const routes *rs = &cfg->routing;
    if (rs->configured) {
        char names[1200] = "";
        for (int i = 0; i < rs->nbackends; i++) {
            size_t l = strlen(names);
            snprintf(names + l, sizeof names - l, "%s%s=%s:%s", i ? "," : "", rs->backends[i].name,
                     rs->backends[i].mode->name, rs->backends[i].url);
        }
        fprintf(stderr, "anyclaude %s listening on http://%s:%d routes=%d backends=%s\n",
                ANYCLAUDE_VERSION, strchr(cfg->host, ':') ? "[::1]" : cfg->host, server_port(srv),
                rs->nroutes, names);
    } else {
        fprintf(stderr, "anyclaude %s listening on http://%s:%d mode=%s backend=%s\n",
                ANYCLAUDE_VERSION, strchr(cfg->host, ':') ? "[::1]" : cfg->host, server_port(srv),
                cfg->mode->name, cfg->backend);
    }
    fflush(stderr);
    event_base_dispatch(base);
    rc = 0;
out:
    if (sint) event_free(sint);
    if (sterm) event_free(sterm);
    server_free(srv);
    if (base) event_base_free(base);
    return rc;
}

static int cmd_launch(const config *cfg, const cli_args *a)
{
    return launcher_run(cfg, a->pass, a->npass);
}

static int cmd_doctor(const config *cfg, const cli_args *a)
{
    return doctor_run(cfg);
}

/* reads Claude Code's session JSON on stdin; takes no options */
static int cmd_statusline(const config *cfg, const cli_args *a)
{
    return statusline_run();
}

/* What a subcommand needs before it runs. */
enum {
    SUB_BARE = 1,       /* no options, no configuration: run at once
                           (with cfg and a NULL) */
    SUB_MODELCHECK = 2, /* refuse to start when the backend lacks the model */
    SUB_WINDOWS = 4,    /* ask every backend its context window first (the
                           launcher asks itself, once its log file is open) */
};

typedef struct subcommand {
    const char *name; /* argv[1]; NULL: the default command (no name given) */
    unsigned needs;   /* SUB_* */
    int port;         /* the listen port when none is configured (0: any free) */
    int (*run)(const config *cfg, const cli_args *a);
} subcommand;

/* clang-format off */
static const subcommand subcommands[] = {
    {"serve",      SUB_MODELCHECK | SUB_WINDOWS, ANYCLAUDE_SERVE_PORT, cmd_serve},
    {"doctor",     SUB_WINDOWS,                  0,                    cmd_doctor},
    {"statusline", SUB_BARE,                     0,                    cmd_statusline},
    {NULL,         SUB_MODELCHECK,               0,                    cmd_launch},
};
/* clang-format on */

static const subcommand *subcommand_find(int argc, char **argv)
{
    size_t n = sizeof subcommands / sizeof subcommands[0];
    for (size_t i = 0; i + 1 < n; i++)
        if (argc > 1 && strcmp(argv[1], subcommands[i].name) == 0) return &subcommands[i];
    return &subcommands[n - 1];
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    event_set_log_callback(libevent_log);
    const subcommand *sub = subcommand_find(argc, argv);
    if (sub->needs & SUB_BARE) return sub->run(NULL, NULL);
    int skip = sub->name ? 2 : 1;
    cli_args a;
    char err[1024];
    int rc = cli_parse(argc - skip, argv + skip, sub->name, &a, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "anyclaude: %s\n", err);
        return 2;
    }
    if (a.help) {
        cli_print_help(stdout);
        return 0;
    }
    if (a.version) {
        printf("anyclaude %s\n", ANYCLAUDE_VERSION);
        return 0;
    }
    config cfg;
    config_defaults(&cfg);
    if (config_resolve(&cfg, a.flags, a.nflags, env_lookup, err, sizeof err) < 0) {
        fprintf(stderr, "anyclaude: %s\n", err);
        return 2;
    }
    if (cfg.mode_auto) {
        char note[800];
        curl_global_init(CURL_GLOBAL_DEFAULT);
        rc = probe_resolve_auto(&cfg, a.flags, a.nflags, env_lookup, note, sizeof note, err,
                                sizeof err);
        curl_global_cleanup();
        if (rc < 0) {
            fprintf(stderr, "anyclaude: %s\n", err);
            return rc == -2 ? 2 : 1;
        }
        fprintf(stderr, "anyclaude: %s\n", note);
    }
    if (cli_check_exposure(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "anyclaude: %s\n", err);
        return 2;
    }
    /* every key from every source (flags, variables, apiKey, apiKeyEnv);
     * a mode's public placeholder key ("mlx-lm") is no secret */
    if (cfg.api_key[0] &&
        !(cfg.mode->default_key && strcmp(cfg.api_key, cfg.mode->default_key) == 0))
        log_add_secret(cfg.api_key);
    if (cfg.auth_token[0]) log_add_secret(cfg.auth_token);
    for (int i = 0; i < cfg.routing.nbackends; i++) {
        const route_backend *b = &cfg.routing.backends[i];
        if (!(b->mode->default_key && strcmp(b->api_key, b->mode->default_key) == 0))
            log_add_secret(b->api_key);
    }
    for (size_t i = 0; i < a.nflags; i++)
        if (strcmp(a.flags[i].name, "api-key") == 0 || strcmp(a.flags[i].name, "auth-token") == 0)
            fprintf(stderr,
                    "anyclaude: warning: --%s puts the secret in the process list (ps) and "
                    "shell history; prefer the environment (%s) or the config file\n",
                    a.flags[i].name,
                    strcmp(a.flags[i].name, "api-key") == 0 ? cfg.mode->key_env
                                                            : "ANYCLAUDE_AUTH_TOKEN");
    log_init(cfg.debug, NULL);
    {
        char dir[512];
        if (launcher_state_dir(dir, sizeof dir) == 0)
            snprintf(cfg.state_dir, sizeof cfg.state_dir, "%s", dir);
    }
    if (cfg.debug >= 3) {
        char dir[512];
        if (launcher_state_dir(dir, sizeof dir) == 0) {
            snprintf(cfg.trace_dir, sizeof cfg.trace_dir, "%s/traces", dir);
            if (mkdir(cfg.trace_dir, 0700) < 0 && errno != EEXIST) cfg.trace_dir[0] = '\0';
        }
        if (!cfg.trace_dir[0])
            fprintf(stderr, "anyclaude: cannot create a trace directory; traces are off\n");
        else
            fprintf(stderr, "anyclaude: writing full traces (keys redacted) to %s\n",
                    cfg.trace_dir);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if ((sub->needs & SUB_MODELCHECK) && modelcheck_run(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "anyclaude: %s\n", err);
        curl_global_cleanup();
        log_close();
        return 2;
    }
    modelcheck_vision(&cfg);
    /* every backend's context window (configured, or asked for); the
     * launcher asks once its log file is open */
    if (sub->needs & SUB_WINDOWS)
        window_probe_all(&cfg.routing, cfg.ca_file[0] ? cfg.ca_file : NULL);
    if (cfg.port < 0) cfg.port = sub->port;
    rc = sub->run(&cfg, &a);
    curl_global_cleanup();
    log_close();
    return rc;
}
