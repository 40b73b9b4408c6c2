/*
 * count_tokens: POST /v1/messages/count_tokens (shell). Asks the backend
 * the message would go to (plan.h): a pass-through backend counts the
 * request itself (the Claude API's answer is relayed as it is); llama.cpp
 * counts it with its own template and tokenizer (llama_tok.h); any other
 * backend, or any failure, gets the estimate, calibrated by what the
 * backend's usage reported so far.
 *
 *   body ─▶ plan_first ─▶ pass-through count_tokens | llama_tok | estimate ─▶ {"input_tokens":N}
 */
#ifndef ANYCLAUDE_COUNT_TOKENS_H
#define ANYCLAUDE_COUNT_TOKENS_H

#include "exchange.h"

/* Answer POST /v1/messages/count_tokens on s (its head is checked, its
 * body read). */
void count_tokens_handle(server *s, httpd_req *req);

#endif
