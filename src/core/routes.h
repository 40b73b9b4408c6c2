/*
 * routes: named backends and the routes that choose among them (pure; see
 * docs/routing.md). Parsed from the config file's "backends" and "routes";
 * without "routes" there is one backend (the top-level mode and URL) and a
 * default route to it.
 *
 *   request facts ─▶ routes_match ─▶ route ─▶ its pool, then its fallbacks
 */
#ifndef ANYCLAUDE_ROUTES_H
#define ANYCLAUDE_ROUTES_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "mode.h"

#define ROUTES_MAX_BACKENDS 16
#define ROUTES_MAX_ROUTES 16
#define ROUTES_MAX_TARGETS 8 /* per pool, and per fallback list */

typedef struct route_backend {
    char name[64];
    const mode_profile *mode;
    char url[512];            /* base URL without a trailing / */
    char api_key[512];        /* "" = none */
    char model[256];          /* "" = none configured */
    char ca_file[512];        /* "" = the system's CAs (or the global --ca-file) */
    int slots;                /* llama.cpp slot affinity: -1 auto, 0 off, N */
    long context_window;      /* tokens per request: "contextWindow", else detected; 0 unknown */
    int window_configured;    /* context_window came from the config, not the backend */
    char window_source[64];   /* where context_window came from, for messages */
    char detected_model[256]; /* the model the backend says it serves, "" unknown */
    char affinity_header[64]; /* header carrying the conversation's affinity key ("" none) */
    char affinity_field[32];  /* OpenAI body field carrying it ("user", "prompt_cache_key") */
    int vision;               /* images reach it: -1 the mode's default, 0 no, 1 yes */
} route_backend;

typedef struct route_target {
    int backend;     /* index into routes.backends */
    char model[256]; /* "" = the backend's own model */
} route_target;

enum route_when {
    ROUTE_BACKGROUND,
    ROUTE_THINKING,
    ROUTE_LONG,
    ROUTE_SUBAGENT,
    ROUTE_SERVER_TOOLS,
    ROUTE_VISION,
    ROUTE_DEFAULT
};

typedef struct route {
    enum route_when when;
    long over; /* longContext: more than this many estimated prompt tokens */
    int npool;
    route_target pool[ROUTES_MAX_TARGETS];
    int nfallback;
    route_target fallback[ROUTES_MAX_TARGETS];
} route;

typedef struct routes {
    int nbackends;
    route_backend backends[ROUTES_MAX_BACKENDS];
    int nroutes;
    route r[ROUTES_MAX_ROUTES];
    int configured; /* 1: the config file had "routes" */
    long health_ms; /* pool health-check interval */
} routes;

/* What routing needs to know about a request. */
typedef struct route_facts {
    const char *model; /* the client's model, "" if none */
    int thinking;      /* thinking enabled */
    int subagent;      /* sent by a subagent */
    long est_tokens;   /* estimated prompt tokens */
    int server_tools;  /* Anthropic server tools in "tools" (servertools.h) */
    int images;        /* an image block anywhere in the messages (tool results too) */
} route_facts;

typedef const char *(*routes_getenv_fn)(const char *name);

/* Parse the config file's "backends" and "routes" (either may be NULL).
 * Returns 0 and sets r->configured when "routes" is present, 0 with
 * r->nroutes == 0 when it is not, or -1 with one line in err naming the
 * key at fault and what is accepted. `src` names the file for messages. */
int routes_parse(routes *r, const cJSON *backends, const cJSON *routes_json, long health_ms,
                 routes_getenv_fn ge, const char *src, char *err, size_t errlen);

/* The single-backend table: one backend `name` and a default route to it. */
void routes_single(routes *r, const char *name, const mode_profile *mode, const char *url,
                   const char *api_key, const char *model, int slots);

/* The first route (in written order) that matches; never NULL for a valid
 * table (there is always a default). */
const route *routes_match(const routes *r, const route_facts *f);

/* Facts from a parsed Anthropic request body and its headers' subagent flag.
 * With sized 0, est_tokens is left 0 (a walk over every text of the request
 * that only routing by size and pass-through targets read). */
void routes_facts(const cJSON *root, int subagent_header, int sized, route_facts *f);

/* "background", "thinking", ... */
const char *routes_when_name(enum route_when w);

/* Does any route need request facts (more than the default route)? */
int routes_need_facts(const routes *r);
/* Does routing need the parsed request body: request facts, a pool's
 * prefixes, or a pass-through target's rewrite? */
int routes_need_body(const routes *r);
/* The default route (a valid table has one). */
const route *routes_default(const routes *r);
/* Does some route name backend b? *alternatives (may be NULL) is set when
 * one of those routes has more than one target. */
int routes_uses(const routes *r, int b, int *alternatives);

/* URL of `what` on backend b: "chat" (OpenAI chat completions), "models",
 * "messages" (Anthropic; the base URL may end in /v1 or not), or a path at
 * the server's root such as "/props" (the base URL without its /v1). */
void route_backend_url(const route_backend *b, const char *what, char *out, size_t n);

/* Does backend b take text only (images become placeholders)? Its "vision"
 * setting, else its mode's default. */
int route_backend_text_only(const route_backend *b);

/* The index of backend `name`, or -1. */
int routes_backend_index(const routes *r, const char *name);

/* Does this configured model name mean "whatever the server has loaded"
 * (empty, or "current-model", the value the original tool's guide told
 * MLX-LM users to export)? Then no model is sent. */
int routes_model_is_loaded(const char *name);

/* Check that url is http(s)://host[:port][/path]. Returns 0 or -1. */
int routes_check_url(const char *url);

#endif
