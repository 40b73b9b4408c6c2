/*
 * convstat: the last turn of each recent conversation, as the status line
 * shows it (pure). messages.c records a turn when its answer ends; GET
 * /anyclaude/status (server.c) answers with one conversation's last turn;
 * `anyclaude statusline` (statusline.c) prints it as one line.
 *
 *   answer ends ─▶ convstat_put ─▶ table of CONVSTAT_MAX ─▶ convstat_get ─▶ JSON ─▶ one line
 */
#ifndef ANYCLAUDE_CONVSTAT_H
#define ANYCLAUDE_CONVSTAT_H

#include <stddef.h>

#include "buf.h"

#define CONVSTAT_MAX 64

typedef struct convstat_turn {
    char session[96];  /* Claude Code's session id, "" none */
    char backend[64];  /* the backend that answered */
    char mode[16];     /* its mode */
    char model[256];   /* the model it ran */
    long window;       /* its context window, 0 unknown */
    long prompt;       /* prompt tokens (prefilled + cached) */
    long cached;       /* of which served from the backend's cache */
    long output;       /* tokens generated */
    int usage_known;   /* prompt/cached are the backend's numbers, not an estimate */
    double prefill_ms; /* time to prefill the uncached part, < 0 unknown */
    double gen_ms;     /* time from the first token to the end, < 0 unknown */
    double at_ms;      /* when the answer ended (monotonic ms) */
} convstat_turn;

typedef struct convstat {
    convstat_turn t[CONVSTAT_MAX];
    int n;
} convstat;

/* Record a turn: replaces the same session's entry, else takes a free one,
 * else the oldest. */
void convstat_put(convstat *c, const convstat_turn *t);

/* The last turn of session (NULL or "": the newest of all), or NULL. */
const convstat_turn *convstat_get(const convstat *c, const char *session);

/* The status JSON for t (NULL: no turn yet; then backend/mode/model/window
 * describe where the next request goes). now_ms: for the age. Returns 0 or
 * a BUF_ error. */
int convstat_json(const convstat_turn *t, const char *backend, const char *mode, const char *model,
                  long window, double now_ms, buf *out);

/* The status line for a status JSON object's text (one line, no newline);
 * "" when the JSON is not one. */
void convstat_line(const char *json, size_t len, char *out, size_t n);

#endif
