/*
 * xlate_tools: the Anthropic "tools" array → the upstream "tools" array
 * (pure). Function tools are sorted by name (ties in client order) so the
 * bytes do not depend on the order the client sent; tools without an
 * input_schema (Anthropic server tools) have no OpenAI form and are left
 * out. Used by xlate_request.
 *
 * Deferred tools (Claude Code's tool search, see toolsearch.h) are declared
 * only once the conversation loads them, after every other tool, so loading
 * one mid-conversation leaves the system prompt and the tools before it,
 * the backend's cached prefix, byte for byte as they were. (Declared, not
 * only shown in ToolSearch's result, so that a backend whose grammar allows
 * calls to declared tools only can call it.)
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
    int deferred; /* defer_loading (and loaded): written after the others */
} xlate_tool_ref;

/* Validate "tools" (NULL: none) and collect the function tools, sorted,
 * deferred ones only when messages load them (toolsearch_loaded). *refs is
 * malloc'd (caller frees; NULL when *n is 0). Returns 0, XLATE_EINVALID
 * naming the tool, or XLATE_ENOMEM. */
int xlate_tools_collect(xctx *c, const cJSON *tools, const cJSON *messages, xlate_tool_ref **refs,
                        int *n);
/* Write refs as the upstream "tools" array value through c->w (counted in
 * the estimate). Returns 0 or an XLATE code. */
int xlate_tools_write(xctx *c, const xlate_tool_ref *refs, int n);

/* The last few translated "tools" arrays, kept by the caller across
 * requests: Claude Code sends the same tools on every turn, and comparing
 * two trees costs a small part of writing one (escaping every description,
 * printing every schema). An entry is the client's array (a copy) and the
 * bytes xlate_tools_write made of it; a hit needs the same tree in every
 * field (jparse_same), so the bytes are the ones a write would make. */
#define XLATE_TOOLS_CACHE_N 4                  /* main loop, -p, subagents, background */
#define XLATE_TOOLS_CACHE_MAX_BYTES (1u << 20) /* larger arrays are written each time */
typedef struct xlate_tools_cache xlate_tools_cache;
xlate_tools_cache *xlate_tools_cache_new(void);
void xlate_tools_cache_free(xlate_tools_cache *tc);
/* Parsing a body without parsing its tools again (jparse_member_reuse; the
 * callers are shell code): xlate_tools_cache_find is a jparse_reuse_fn
 * (ud: the cache) that finds the entry whose text starts at p. A parse that
 * took its "tools" from the cache (the member is a reference to the
 * entry's children) holds that entry with xlate_tools_cache_hold (child:
 * the reference's child) until its tree is freed, then releases it: a held
 * entry is never evicted. hold returns the entry for release, or -1. */
const cJSON *xlate_tools_cache_find(void *tc, const char *p, size_t avail, size_t *n);
int xlate_tools_cache_hold(xlate_tools_cache *tc, const cJSON *child);
void xlate_tools_cache_release(xlate_tools_cache *tc, int entry);
/* Hits and misses so far (for the tests and the profile). */
void xlate_tools_cache_stats(const xlate_tools_cache *tc, long *hits, long *misses);
/* xlate_tools_write for the array tools (whose function tools are refs),
 * through the cache when tc is not NULL. */
int xlate_tools_write_cached(xctx *c, xlate_tools_cache *tc, const cJSON *tools,
                             const xlate_tool_ref *refs, int n);

#endif
