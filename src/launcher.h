/*
 * launcher: the default command. Starts the gateway on a free loopback port
 * in this process and runs `claude` against it with the environment that
 * makes it work offline and without prompts; the terminal belongs to claude,
 * gateway logs go to a file, and anyclaude exits with claude's status.
 */
#ifndef ANYCLAUDE_LAUNCHER_H
#define ANYCLAUDE_LAUNCHER_H

#include <stddef.h>

#include "config.h"

/* Run claude with args (borrowed). Returns claude's exit status (128+N when
 * it died of signal N), or 1 with a message on stderr when it could not
 * start. */
int launcher_run(const config *cfg, char *const *args, int nargs);
/* Find the claude binary: cfg->claude when set, else `claude` on PATH, else
 * ~/.local/bin/claude.
 * Writes the path into out and returns 0, or -1. */
int launcher_find_claude(const config *cfg, char *out, size_t outlen);
/* The state directory for logs and traces ($XDG_STATE_HOME/anyclaude or
 * ~/.local/state/anyclaude), created if missing. Returns 0 or -1. */
int launcher_state_dir(char *out, size_t outlen);

#endif
