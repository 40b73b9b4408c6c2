/*
 * servertools: Anthropic server tools (web_search_*, web_fetch_*,
 * code_execution_*, tool_search_tool_*), which the Claude API runs itself
 * and no local backend can (pure; see docs/routing.md, "Server tools").
 *
 *   request ─▶ servertools_scan ─▶ route class serverTools
 *          └─▶ (no route to the Claude API) servertools_answer: an honest
 *              answer from the gateway instead of a model that "searched 0 times"
 *
 * Claude Code's WebSearch tool sends a side request whose only tool is
 * web_search_20250305, forced with tool_choice. A local model given that
 * request can only make up an answer; the gateway answers it instead with
 * the server tool's own error result ("unavailable") and a text that says
 * why and how to enable it, which Claude Code hands to the main model as the
 * tool's result. In a request that also has client tools, server tools are
 * left out of what a local backend gets (servertools_strip).
 */
#ifndef ANYCLAUDE_SERVERTOOLS_H
#define ANYCLAUDE_SERVERTOOLS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "buf.h"

typedef struct servertools_info {
    int server;     /* server tools in "tools" */
    int client;     /* other tools */
    char first[64]; /* the first server tool's name ("web_search"), "" if none */
    char type[64];  /* and its type ("web_search_20250305") */
} servertools_info;

/* Is this "tools" element an Anthropic server tool? */
int servertools_is_server_tool(const cJSON *tool);

/* Count the request's server and client tools. */
void servertools_scan(const cJSON *root, servertools_info *info);

/* Could the body (raw bytes) name a server tool? A cheap test before
 * parsing: 0 means surely not. */
int servertools_maybe(const char *body, size_t len);

/* Remove the server tools from the request's "tools" (for a local
 * Anthropic-compatible backend). Returns how many were removed. */
int servertools_strip(cJSON *root);

/* The gateway's own answer to a server-tool request that reached a backend
 * which cannot run it: a message with the server tool's call, its error
 * result (error_code "unavailable") and a text block naming `backend` and
 * how to enable the tool. stream: SSE events (message_start ... message_stop);
 * else one message JSON. Returns 0 or a BUF_E* code. */
int servertools_answer(const servertools_info *info, const char *msg_id, const char *model,
                       const char *backend, int stream, buf *out);

#endif
