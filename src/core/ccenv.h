/*
 * ccenv: what the launcher tells Claude Code about the model it really
 * talks to (pure): the environment variables for its context window,
 * compaction point, output limit and model name, and the --settings JSON
 * for the status line, each with the reason it was set. The user's own
 * environment and settings win. launcher.c applies the result. It also
 * warns about a setting of the user's that costs a local model dearly
 * (auto mode's own classifier, see ccenv_build).
 *
 *   window plan (window.h) + what the user set ─▶ ccenv_build ─▶ variables, settings
 */
#ifndef ANYCLAUDE_CCENV_H
#define ANYCLAUDE_CCENV_H

#include <stddef.h>

#include "window.h"

#define CCENV_MAX 12

typedef struct ccenv_var {
    const char *name;
    char value[300];
    char why[240];
    int user; /* the user set it: value is theirs and is left alone */
} ccenv_var;

typedef struct ccenv_in {
    const window_plan *plan;
    const char *window_source; /* where the window came from, "" unknown */
    const char *mode;          /* the default backend's mode name */
    const char *model;         /* the real model's name, "" unknown */
    int model_from_flag;       /* model came from --model (ANTHROPIC_MODEL is set to it) */
    const char *self;          /* the anyclaude binary, for the status line command */
    int user_statusline;       /* the user's settings or arguments have a status line */
    int user_compact_setting;  /* the user's settings set autoCompactWindow */
    const char *(*getenv_fn)(const char *name);
} ccenv_in;

typedef struct ccenv {
    ccenv_var v[CCENV_MAX];
    int n;
    char settings[1400]; /* JSON for claude --settings, "" none */
    char settings_why[200];
    char warning[700]; /* a line to show the user before Claude Code starts, "" none */
} ccenv;

/* Auto mode's classifier request, as Claude Code 2.1.332 sends it when
 * its server-side check is off: a ~141k-character system prompt, 30,687
 * tokens in Qwen's tokenizer (33,922 with its messages). */
#define CCENV_CLASSIFIER_TOKENS 31000

/* Decide. Never fails; with nothing known it only sets the output limit. */
void ccenv_build(const ccenv_in *in, ccenv *out);

#endif
