/*
 * xlate_tools: the Anthropic "tools" array → the upstream "tools" array
 * (pure). Function tools are sorted by name (ties in client order) so the
 * bytes do not depend on the order the client sent; tools without an
 * input_schema (Anthropic server tools) have no OpenAI form and are left
 * out. Used by xlate_request.
 */
#ifndef ANYCLAUDE_XLATE_TOOLS_H
#define ANYCLAUDE_XLATE_TOOLS_H

#include <cjson/cJSON.h>

#include "xlate_ctx.h"

/* A function tool to write: its name, its object, its client index. */
typedef struct xlate_tool_ref {
    const char *name;
    const cJSON *tool;
    int idx;
} xlate_tool_ref;

/* Validate "tools" (NULL: none) and collect the function tools, sorted.
 * *refs is malloc'd (caller frees; NULL when *n is 0). Returns 0,
 * XLATE_EINVALID naming the tool, or XLATE_ENOMEM. */
int xlate_tools_collect(xctx *c, const cJSON *tools, xlate_tool_ref **refs, int *n);
/* Write refs as the upstream "tools" array value through c->w (counted in
 * the estimate). Returns 0 or an XLATE code. */
int xlate_tools_write(xctx *c, const xlate_tool_ref *refs, int n);

#endif
