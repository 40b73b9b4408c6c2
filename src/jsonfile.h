/*
 * jsonfile: a JSON file read whole, with a bound on its size (the config
 * file, Claude Code's ~/.claude.json).
 */
#ifndef ANYCLAUDE_JSONFILE_H
#define ANYCLAUDE_JSONFILE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>

/* Read fp to its end, at most max bytes, and parse it. Returns the JSON
 * value, or NULL when it is not JSON (a file longer than max is cut there,
 * so it is not JSON either) or memory ran out. Does not close fp. */
cJSON *jsonfile_read(FILE *fp, size_t max);

#endif
