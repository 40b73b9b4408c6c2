/*
 * openai: the OpenAI Chat Completions side as it comes back from a backend:
 * stream chunks and whole chat.completion answers, read out of their cJSON
 * form (choices, usage, llama.cpp timings, finish reasons, stop strings,
 * error payloads) and given their Anthropic meaning (stop_reason, token
 * counts). Pure; used by xlate_stream (chunks) and xlate_response (answers).
 *
 *   chunk / answer bytes ─▶ openai_parse ─▶ cJSON ─▶ openai_* readers
 *     ─▶ xlate_stream / xlate_response
 */
#ifndef ANYCLAUDE_OPENAI_H
#define ANYCLAUDE_OPENAI_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "buf.h"
#include "jparse.h"

#define OPENAI_MAX_ERROR_MSG 1024 /* bytes of a backend's text quoted in an error */

/* Token counts as the backend reported them; -1 where unknown. */
typedef struct openai_usage {
    long prompt, completion, cached;
    long t_prompt_n, t_cache_n, t_predicted_n; /* llama.cpp "timings" */
    double t_prompt_ms;                        /* llama.cpp prefill time, -1 unknown */
} openai_usage;

/* Parse exactly [s, s+n) as JSON (trailing whitespace allowed). Returns a
 * new tree (caller frees with cJSON_Delete), NULL when it is not JSON. */
cJSON *openai_parse(const char *s, size_t n);
/* The same in arena a (a stream chunk's tree): read only, gone at
 * jparse_arena_drop(a). */
cJSON *openai_parse_in(jparse_arena *a, const char *s, size_t n);
/* A non-empty string member of o, or NULL. Borrowed. */
const char *openai_str(const cJSON *o, const char *key);
/* A non-negative number member of o (capped at 1e15), or -1. */
long openai_long(const cJSON *o, const char *key);
/* The choice with "index" 0 (or without an index) in root's "choices", or
 * NULL. Borrowed. */
const cJSON *openai_first_choice(const cJSON *root);

/* The reasoning text of a delta or a message: "reasoning_content", else
 * "reasoning" (MLX-LM); NULL when neither is a non-empty string. Borrowed. */
const char *openai_reasoning(const cJSON *o);

/* Every count unknown (-1). */
void openai_usage_init(openai_usage *u);
/* Pick up "usage" and llama.cpp's "timings" from a chunk or an answer;
 * counts it does not carry are left as they were. */
void openai_usage_read(openai_usage *u, const cJSON *root);
/* Anthropic semantics: *in = prompt - cached, *cached = cached prompt
 * tokens, *outp = completion tokens. Without a prompt count *in is
 * estimate; without a completion count *outp is counted. */
void openai_usage_final(const openai_usage *u, long estimate, long counted, long *in, long *cached,
                        long *outp);

/* The Anthropic stop_reason a finish_reason maps to ("length" max_tokens,
 * "tool_calls"/"function_call" tool_use, anything else end_turn); NULL for
 * NULL. Static strings. */
const char *openai_finish_map(const char *fr);
/* The stop_reason to show: tool_use when a tool_use block was sent (any_tool);
 * a mapped tool_use without one ends the turn; a matched stop string
 * (stop_seq) beats a plain stop; else mapped, or end_turn. Static strings. */
const char *openai_stop_reason(const char *mapped, int any_tool, const char *stop_seq);
/* The stop string that ended the answer (vLLM's choice.stop_reason as a
 * string, llama.cpp's "stopping_word"), or NULL. Borrowed. */
const char *openai_stop_string(const cJSON *root, const cJSON *choice);

/* The readable message of an error payload j ({"error":{...}},
 * {"error":"..."}, or a bare {"message":...} / {"detail":...}; j may be
 * NULL) into msg (NUL-terminated, cut to msglen); without one, raw (rawlen
 * bytes, control bytes shown as spaces). *overloaded is set when its words
 * say overloaded, unavailable or busy. */
void openai_error_message(const cJSON *j, const char *raw, size_t rawlen, char *msg, size_t msglen,
                          int *overloaded);
/* Append an answer's message.content as text to t: a string, or the "text"
 * of each part of an array. Returns 0 or a BUF_* code. */
int openai_message_text(const cJSON *msg, buf *t);

#endif
