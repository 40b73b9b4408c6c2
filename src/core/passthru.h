/*
 * passthru: the pure parts of the two modes that speak /v1/messages upstream
 * (see docs/routing.md). The request side rewrites only what keeps a
 * backend's prefix cache hitting (anthropic mode); the answer side reads an
 * Anthropic stream or message as it passes, unchanged, for the log line and
 * metrics.
 *
 *   client body ─▶ passthru_rewrite ─▶ upstream body       (anthropic mode)
 *   upstream bytes ─▶ client, and ─▶ passthru_obs_feed ─▶ stats
 */
#ifndef ANYCLAUDE_PASSTHRU_H
#define ANYCLAUDE_PASSTHRU_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "buf.h"
#include "sse.h"
#include "xlate_stream.h"

typedef struct passthru_opts {
    const char *model;   /* replaces the client's model; NULL keeps it */
    long max_tokens_cap; /* clamp max_tokens; <= 0: no clamp */
    int lead_system;     /* move role:"system" messages before the first assistant turn
                            into the first user turn, ahead of its own blocks */
} passthru_opts;

/* Rewrite a parsed request in place (drop the x-anthropic-billing-header
 * system block, clamp max_tokens, set the model; with lead_system, render by
 * volatility: Claude Code's environment block, a role:"system" message after
 * the first user turn's words, becomes that turn's leading text block
 * "<system-reminder>\nTEXT\n</system-reminder>", the same text the OpenAI
 * modes render, so a new session's prompt differs from the last one's only
 * from the user's words on) and append it to out.
 * Returns 0, or a BUF_E* code. */
int passthru_rewrite(cJSON *root, const passthru_opts *o, buf *out);

/* Watches an Anthropic answer go by. */
typedef struct passthru_obs {
    sse_parser sse;
    xlate_stream_stats st;
    char stop[32]; /* stop_reason storage */
    int error;     /* an `event: error` went by */
} passthru_obs;

void passthru_obs_init(passthru_obs *o, size_t max_line);
/* Streamed answer bytes, in order, however split. */
void passthru_obs_feed(passthru_obs *o, const char *p, size_t n);
/* A whole (non-streamed) message body. */
void passthru_obs_message(passthru_obs *o, const char *body, size_t len);
void passthru_obs_free(passthru_obs *o);

#endif
