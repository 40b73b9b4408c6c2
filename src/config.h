/*
 * config: the gateway's settings, from (highest first) command-line flags,
 * the environment, a JSON config file and the mode's defaults. Pure apart
 * from reading the config file: the environment is passed in as a lookup
 * function so tests can drive it.
 */
#ifndef ANYCLAUDE_CONFIG_H
#define ANYCLAUDE_CONFIG_H

#include <stddef.h>

#include "mode.h"
#include "routes.h"

typedef struct config {
    const mode_profile *mode;
    int mode_explicit;     /* the mode came from a flag, the environment or the file */
    int mode_auto;         /* "auto": probe.c finds the local server (probe_resolve_auto) */
    char backend[512];     /* base URL, e.g. http://localhost:8081/v1 (no trailing /) */
    char api_key[512];     /* "" = none */
    char model[256];       /* "" = none configured */
    char host[128];        /* listen address */
    int port;              /* 0 = pick a free port; -1 = not set (serve: 8082, launcher: free) */
    long max_tokens;       /* clamp on max_tokens sent upstream */
    size_t max_body;       /* request body limit */
    long ping_ms;          /* ping interval while the backend is silent */
    int max_streams;       /* concurrent requests in flight */
    int debug;             /* 0..3 */
    char claude[512];      /* path of the claude binary ("" = search PATH) */
    char config_file[512]; /* the file that was read, "" if none */
    char auth_token[256];  /* required from clients when set */
    char trace_dir[600];   /* where debug level 3 writes traces (set by main) */
    int slots;             /* llama.cpp slot affinity: -1 auto (ask /props), 0 off, N slots */
    int warm;              /* warm start: prefill the last session's prompt prefix at start */
    int tool_recovery;     /* recover tool calls written as text: -1 mode default, 0 off, 1 on */
    int vision;            /* images reach the backend: -1 the mode's default, 0 no (text
                              placeholders), 1 yes */
    char state_dir[512];   /* where the warm-start prefix is kept (set by main) */
    char ca_file[512];     /* CA bundle for TLS backends ("" = the system's) */
    long health_ms;        /* pool health-check interval */
    long context_window;   /* the single backend's window in tokens; 0: ask the backend */
    char allowed_origins[1024]; /* comma-separated Origins browsers may send ("" = none) */
    long upstream_idle_s;       /* no backend byte for this long once the answer started:
                                   fail (0 = never; default 600) */
    long request_timeout_s;     /* a non-streamed request's whole time (0 = none; 1800) */
    long request_deadline_s;    /* a client's request (head and body) must arrive within
                                   this many seconds of its first byte (60) */
    long drain_s;               /* serve: on SIGTERM, seconds requests in flight may take */
    routes routing;             /* named backends and routes; without "routes" in the config
                                   file: one backend (the settings above) and a default route */
} config;

/* Look up an environment variable; returns NULL when unset. */
typedef const char *(*config_getenv_fn)(const char *name);

/* Set defaults (mlx-lm mode, 127.0.0.1, port -1, 16384, 32 MiB, 5000 ms,
 * 1024 streams, debug 0). */
void config_defaults(config *c);

/* One option the command line gave (name without dashes, value). */
typedef struct config_flag {
    const char *name;
    const char *value;
} config_flag;

#define CONFIG_SYSTEM_FILE "/etc/anyclaude/config.json"

/* Resolve the configuration: defaults, then the config file (flag "config",
 * else $ANYCLAUDE_CONFIG, else $XDG_CONFIG_HOME/anyclaude/config.json or
 * ~/.config/anyclaude/config.json when it exists, else
 * $ANYCLAUDE_SYSTEM_CONFIG or /etc/anyclaude/config.json when it exists),
 * then the environment, then flags. Returns 0, or -1 with one line in err saying what is wrong and
 * what is accepted. */
int config_resolve(config *c, const config_flag *flags, size_t nflags, config_getenv_fn getenv_fn,
                   char *err, size_t errlen);

#endif
