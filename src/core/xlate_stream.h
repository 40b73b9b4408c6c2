/*
 * xlate_stream: OpenAI Chat Completions stream → Anthropic Messages stream
 * (pure state machine). Design note: docs/xlate_stream.md.
 *
 * upstream SSE bytes ─▶ xlate_stream_feed ─▶ (sse parser) ─▶ per-chunk JSON
 *   ─▶ content_block_start/delta/stop, message_delta, message_stop ─▶ out
 *
 * The caller writes `out` to the client after each call. Nothing here
 * touches a socket or a clock; pings are the shell's (xlate_stream_ping).
 * The options and stats below also serve the whole-answer build
 * (xlate_response.h).
 */
#ifndef ANYCLAUDE_XLATE_STREAM_H
#define ANYCLAUDE_XLATE_STREAM_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "buf.h"

typedef struct xlate_stream xlate_stream;

#define XLATE_STREAM_DEFAULT_MAX_TOOL_ARGS ((size_t)4 << 20) /* max_tool_args 0 means this */
/* At most this many tool calls in one answer; a generated tool id that a
 * backend already used moves on by this much (see anthropic_tool_id). */
#define XLATE_STREAM_MAX_TOOL_CALLS 1024

typedef struct xlate_stream_opts {
    const char *model;    /* model name shown to the client */
    const char *msg_id;   /* "msg_..." id for message_start; tool ids derive from it */
    long input_estimate;  /* prompt tokens estimate for message_start, >= 1 */
    const cJSON *tools;   /* the request's Anthropic tools (may be NULL); borrowed */
    size_t max_line;      /* bound on one upstream SSE line / event */
    size_t max_tool_args; /* bound on one tool call's buffered arguments */
    int tool_recovery;    /* recover tool calls written as text (needs tools) */
} xlate_stream_opts;

/* Create a translator; opts strings are copied. NULL on allocation failure. */
xlate_stream *xlate_stream_new(const xlate_stream_opts *opts);
void xlate_stream_free(xlate_stream *xs);

/* Replace the prompt-token estimate (e.g. with the backend tokenizer's
 * count) before message_start is written; values < 1 are ignored. */
void xlate_stream_set_estimate(xlate_stream *xs, long tokens);
/* Append message_start. Call once, before anything else. Returns 0 or <0. */
int xlate_stream_begin(xlate_stream *xs, buf *out);
/* Push raw upstream bytes (any split). Appends whatever Anthropic events
 * became complete. Returns 0; or <0 after appending an `event: error`
 * (api_error) when the upstream sent an error object, garbage, or a line past
 * max_line: the stream is then over and later calls do nothing. */
int xlate_stream_feed(xlate_stream *xs, const char *bytes, size_t len, buf *out);
/* Upstream closed. If the stream finished properly (a finish_reason or
 * [DONE] was seen) closes open blocks and appends message_delta and
 * message_stop, returning 0; otherwise appends an `event: error` api_error
 * ("backend stream ended before the answer was complete") and returns <0. */
int xlate_stream_end(xlate_stream *xs, buf *out);
/* Append `event: error` of the given type and message and mark the stream
 * over (used by the shell for transport failures). */
int xlate_stream_fail(xlate_stream *xs, const char *type, const char *msg, buf *out);
/* Append a ping event (`event: ping\ndata: {"type": "ping"}\n\n`). */
int xlate_stream_ping(buf *out);
/* 1 once message_stop or an error event has been appended. */
int xlate_stream_over(const xlate_stream *xs);

typedef struct xlate_stream_stats {
    long input_tokens;       /* from upstream usage, else the estimate */
    long output_tokens;      /* from upstream usage, else counted chunks */
    long cached_tokens;      /* upstream cached prompt tokens (0 if unknown) */
    const char *stop_reason; /* NULL until known */
    int first_content;       /* 1 once any content delta was produced */
    int usage_known;         /* the backend reported prompt tokens (not the estimate) */
    double prefill_ms;       /* backend's prefill time (llama.cpp timings), -1 unknown */
    /* With tool_recovery (and tools): native calls whose arguments had to be
     * repaired or coerced to the tool's input_schema; native calls whose
     * arguments could not be repaired (shown as a text block instead); calls
     * recovered from text. All 0 with recovery off. */
    int tool_repairs, tool_failures;
    int tool_recovered;
} xlate_stream_stats;
void xlate_stream_get_stats(const xlate_stream *xs, xlate_stream_stats *st);

#endif
