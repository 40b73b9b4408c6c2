/*
 * anthropic: the Messages API's wire shapes that every other module emits:
 * SSE events (`event: X\ndata: {json}\n\n`), error bodies
 * (`{"type":"error","error":{"type":..,"message":..}}`) and the mapping from
 * a backend's HTTP failure to the Anthropic error a client should see.
 * Pure: bytes in, bytes out.
 */
#ifndef ANYCLAUDE_ANTHROPIC_H
#define ANYCLAUDE_ANTHROPIC_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "buf.h"

/* Append one SSE event with a JSON payload. `data` is printed unformatted.
 * Returns 0 or a BUF_* code. */
int anthropic_sse_event(buf *out, const char *event, const cJSON *data);
/* Same with a payload already serialised as JSON text. */
int anthropic_sse_event_raw(buf *out, const char *event, const char *json, size_t len);
/* Append an error body {"type":"error","error":{"type":type,"message":msg}}.
 * msg is JSON-escaped. Returns 0 or a BUF_* code. */
int anthropic_error_json(buf *out, const char *type, const char *msg);
/* Append `event: error` carrying the same error body. */
int anthropic_error_event(buf *out, const char *type, const char *msg);
/* The HTTP status Anthropic uses for an error type (invalid_request_error
 * 400, authentication_error 401, permission_error 403, not_found_error 404,
 * request_too_large 413, rate_limit_error 429, api_error 500,
 * overloaded_error 529; anything else 500). */
int anthropic_error_status(const char *type);

/* Map a backend's non-2xx answer to an Anthropic error.
 * http_status: the backend's status; body/len: its body (may be any bytes).
 * Writes the client-facing status to *status, the error type to *type
 * (a static string) and the message to msg (NUL-terminated, truncated to
 * msglen). A context-length failure (llama.cpp exceed_context_size_error,
 * OpenAI/vLLM "maximum context length", LM Studio "context length of only")
 * becomes 400 with a message starting "prompt is too long: N tokens > M maximum"
 * when both numbers can be found (N and M fall back to 0 when not). */
void anthropic_error_from_backend(long http_status, const char *body, size_t len, int *status,
                                  const char **type, char *msg, size_t msglen);

/* A backend's raw bytes (n of them) quoted in an error message: copied into
 * msg (NUL-terminated, cut to msglen, msglen >= 1), with tab, CR and LF as
 * spaces and other control bytes as ctl. */
void anthropic_quote_raw(const char *raw, size_t n, char ctl, char *msg, size_t msglen);

/* Claude Code's first system block carries per-session (older versions:
 * per-request) values that would put a different token at the start of
 * every prompt: "x-anthropic-billing-header: cc_version=...; cch=...;".
 * Is s such a text? */
#define ANTHROPIC_BILLING_PREFIX "x-anthropic-billing-header:"
int anthropic_is_billing_text(const char *s);
/* Is blk a system block {"type":"text","text":"x-anthropic-billing-header:..."}? */
struct cJSON;
int anthropic_is_billing_block(const struct cJSON *blk);

/* The part of a Claude Code request that the next session of its kind in
 * the same project will repeat, as a request of its own (warm start): its
 * system prompt and tools, then its first user turn without the user's own
 * words: the role:"system" messages before the first assistant turn (the
 * environment block) and the turn's "<system-reminder>" text blocks (git
 * status, attribution). Rendered like the real request, it is a prefix of
 * the next session's first turn up to those words. max_tokens 1. Takes
 * system, tools and messages out of root (root is spent); NULL: no memory. */
struct cJSON *anthropic_warm_prefix(struct cJSON *root);

/* The signature shown on thinking blocks of message msg_id
 * ("anyclaude-sig-" + msg_id). malloc'd (caller frees), NULL on ENOMEM. */
char *anthropic_signature(const char *msg_id);
/* The id shown for the tool call at ordinal of message msg_id: "toolu_" +
 * msg_id without its "msg_" prefix + "_" + ordinal. malloc'd (caller
 * frees), NULL on ENOMEM. */
char *anthropic_tool_id(const char *msg_id, size_t ordinal);

#endif
