/*
 * toolsearch: Claude Code's tool search, for backends that cannot run it
 * (pure). Claude Code (2.1.328, 2.1.332) sends MCP tools as deferred ("defer_loading":
 * true, with a "DeferredToolPlaceholder" that keeps the feature on), names
 * them in a reminder, and loads one with its ToolSearch tool, whose result
 * is a tool_reference block. The Claude API shows the model a deferred tool
 * only from the reference on. A local backend knows none of this: it would
 * show the placeholder as a tool, and lose the reference.
 *
 *   xlate_tools / xlate_messages (OpenAI-family modes): a deferred tool is
 *       declared once loaded, after all others; a reference becomes the
 *       tool's definition as text (toolsearch_definition)
 *   toolsearch_localize (anthropic mode): the same, on the request itself
 *   pool_prefix_hashes: deferred tools are not part of a conversation's
 *       identity, so loading one keeps its backend and slot
 */
#ifndef ANYCLAUDE_TOOLSEARCH_H
#define ANYCLAUDE_TOOLSEARCH_H

#include <cjson/cJSON.h>

#include "buf.h"

/* Is this "tools" element deferred ("defer_loading": true)? */
int toolsearch_deferred(const cJSON *tool);

/* Is the deferred tool name loaded in messages: named by a tool_reference
 * in a tool_result (ToolSearch's answer), or already called by a tool_use
 * (a call the conversation made, whatever removed its reference since)? */
int toolsearch_loaded(const cJSON *messages, const char *name);

/* The element of tools (an Anthropic "tools" array) named name that has an
 * input_schema, or NULL. */
const cJSON *toolsearch_find(const cJSON *tools, const char *name);

/* Append tool's definition, in the form ToolSearch's description promises
 * the model ("<functions><function>{"description":...,"name":...,
 * "parameters":...}</function></functions>"), to out. Its bytes depend only
 * on the tool, so every turn renders the same text. Returns BUF_OK or a
 * BUF_E* code. */
int toolsearch_definition(const cJSON *tool, buf *out);

/* For a local Anthropic-compatible backend, in place: unloaded deferred
 * tools are removed, loaded ones moved after the others without
 * "defer_loading", and each tool_reference to a declared tool becomes a
 * text block with its definition (one to no declared tool is removed).
 * Returns how many changes, or -1 when out of memory. */
int toolsearch_localize(cJSON *root);

#endif
