/*
 * jparse: parse JSON into a cJSON tree, as cJSON_ParseWithLengthOpts(s, len,
 * end, 0) does (same tree, same *end, same errors), in a fraction of the
 * instructions for string-heavy input: the request path's one parse of the
 * client's body (bench/overhead-profile measures it). Pure.
 */
#ifndef ANYCLAUDE_JPARSE_H
#define ANYCLAUDE_JPARSE_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* The value at the start of s[0, len) (whitespace before it skipped); *end
 * (if end) is set just past it, or where cJSON failed. NULL on any error
 * (then the error is cJSON's own: the input is handed to it). Free with
 * cJSON_Delete. */
cJSON *jparse(const char *s, size_t len, const char **end);

#endif
