/*
 * ccenv: what the launcher tells Claude Code about the model it really
 * talks to (pure): the environment variables for its context window,
 * compaction point, output limit and model name, and the --settings JSON
 * for the status line, each with the reason it was set. The user's own
 * environment and settings win. launcher.c applies the result.
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
} ccenv;

/* Decide. Never fails; with nothing known it only sets the output limit. */
void ccenv_build(const ccenv_in *in, ccenv *out);

#endif
