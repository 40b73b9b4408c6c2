/*
 * llama_tok: count a prompt with llama.cpp's own chat template and
 * tokenizer (shell). The request is translated already (an OpenAI chat
 * body); /apply-template renders it exactly as a completion would, and
 * /tokenize counts what it rendered.
 *
 *   chat body ─▶ POST /apply-template ─▶ {"prompt"} ─▶ POST /tokenize ─▶ {"tokens"} ─▶ done(n)
 *
 * Used by count_tokens (the answer) and by /v1/messages (message_start's
 * exact count, asked alongside the real request).
 */
#ifndef ANYCLAUDE_LLAMA_TOK_H
#define ANYCLAUDE_LLAMA_TOK_H

#include <stddef.h>

#include "backends.h"
#include "buf.h"
#include "upstream.h"

typedef struct llama_tok llama_tok;

/* The count: n >= 0 tokens, or n < 0 with the step that failed ("apply-template
 * failed", "tokenize failed"). Called once, from the loop, after the
 * counter has freed itself: the caller drops its pointer here. */
typedef void (*llama_tok_done_fn)(void *ud, long n, const char *failed);

/* Start counting body (copied) on backend b. header: one more "Name: value"
 * line for both requests (an engine router's affinity header), or NULL.
 * Returns the counter, or NULL when the first request could not start
 * (done is then never called). */
llama_tok *llama_tok_start(upstream *up, const backend_rt *b, const char *body, size_t len,
                           const char *header, llama_tok_done_fn done, void *ud);
/* Stop counting: no callback after this. NULL is a no-op. */
void llama_tok_cancel(llama_tok *t);

#endif
