/*
 * xlate_response: a whole (non-streaming) OpenAI chat.completion answer →
 * one Anthropic message (pure). The counterpart of xlate_stream for
 * "stream": false requests; it takes the same options and gives the same
 * stats, and its content blocks are the ones a client accumulating
 * xlate_stream's events would hold.
 *
 * backend body ─▶ openai_parse ─▶ content blocks (reasoning, text through
 *   toolcall_text, tool calls through toolargs) ─▶ Anthropic message JSON
 */
#ifndef ANYCLAUDE_XLATE_RESPONSE_H
#define ANYCLAUDE_XLATE_RESPONSE_H

#include <stddef.h>

#include "buf.h"
#include "xlate_stream.h"

#define XLATE_RESPONSE_EBODY (-22) /* not a usable chat completion (err says why) */

/* Translate a whole OpenAI chat.completion body (len bytes) into one
 * Anthropic message JSON appended to out. Uses opts like the streaming
 * path (model, msg_id, tools; with tool_recovery, content text goes through
 * toolcall_text and native arguments through toolargs_repair). Returns 0
 * and fills st (may be NULL); or XLATE_RESPONSE_EBODY (the backend's error
 * message or what is missing in err) or a BUF_* code, with out unchanged. */
int xlate_response_build(const char *body, size_t len, const xlate_stream_opts *opts, buf *out,
                         xlate_stream_stats *st, char *err, size_t errlen);

#endif
