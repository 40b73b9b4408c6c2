/*
 * launcher_cc: the launcher's side of telling Claude Code about the real
 * model (shell): runs `claude --version`, reads the user's Claude Code
 * settings files (never writes them), turns the backend's window into a
 * plan (window.h) and the variables and settings (ccenv.h), refuses a
 * window too small to work in, and applies the result in the child.
 */
#ifndef ANYCLAUDE_LAUNCHER_CC_H
#define ANYCLAUDE_LAUNCHER_CC_H

#include <stddef.h>

#include "ccenv.h"
#include "config.h"

/* `claude --version`'s first line into out ("" when it printed nothing).
 * Returns 0 or -1. */
int launcher_claude_version(const char *claude, char *out, size_t n);

/* Decide what to tell claude (at path `claude`, run with args). Logs each
 * decision (debug level 1). Returns 0, or -1 after printing the one-line
 * "too small" message on stderr: claude must not start. */
int launcher_cc_plan(const config *cfg, const char *claude, char *const *args, int nargs,
                     ccenv *out);

/* In the child, before exec: set the variables the user did not set. */
void launcher_cc_apply(const ccenv *ce);

#endif
