/*
 * provenance: who made each block of a conversation, and what each kind of
 * backend may be sent (pure; see docs/routing.md, "Mixed conversations").
 *
 * A Claude Code session can be served turn by turn by different backends: a
 * local model now, the Claude API next. The history then holds blocks the
 * gateway made (a local model's thinking, signed `anyclaude-sig-<id>`) and
 * blocks the API made (signed thinking, opaque redacted_thinking). Before a
 * request leaves, this module makes it valid for where it goes:
 *
 *   request ─▶ provenance_for_claude ─▶ the Claude API   (claude mode)
 *   request ─▶ provenance_for_local  ─▶ a local /v1/messages server (anthropic mode)
 *
 * OpenAI-family backends never see thinking at all (xlate_request drops it).
 * Both rewrites are deterministic and append-stable: a conversation that
 * grows by a turn becomes a request that extends the previous one, so the
 * API's prefix check on the thinking it signed keeps passing.
 */
#ifndef ANYCLAUDE_PROVENANCE_H
#define ANYCLAUDE_PROVENANCE_H

#include <cjson/cJSON.h>

/* The signature prefix of thinking blocks the gateway makes (xlate_stream). */
#define PROVENANCE_SIG_PREFIX "anyclaude-sig-"

typedef struct provenance_stats {
    int thinking_dropped;   /* thinking blocks the API did not sign, removed */
    int redacted_dropped;   /* redacted_thinking blocks removed (local backends) */
    int signatures_removed; /* signatures taken off thinking blocks (local backends) */
    int emptied_filled;     /* assistant messages left empty, given a placeholder text */
    int thinking_disabled;  /* 1: thinking turned off for this request */
} provenance_stats;

/* 1 when a thinking block's signature is not one the Claude API could have
 * made: missing, not a string, empty, or the gateway's own prefix. */
int provenance_foreign_signature(const cJSON *thinking_block);

/* Make a request (parsed, modified in place) valid for the Claude API:
 * - assistant thinking blocks with a foreign signature are removed (an
 *   assistant message left with no content gets one placeholder text
 *   block, so the API's "non-empty content" rule holds);
 * - when thinking is {"type":"enabled"} and the request continues a tool
 *   loop (the last message is a user turn with tool_result blocks) whose
 *   assistant message does not start with a thinking or redacted_thinking
 *   block, thinking is set to {"type":"disabled"} for this request, and
 *   context_management edits that need thinking (clear_thinking_*) go too.
 * Adaptive thinking lets the model skip thinking, so it needs no change.
 * Returns the number of changes made (0: the body can go unchanged), or -1
 * when out of memory (root is then partly rewritten). st may be NULL. */
int provenance_for_claude(cJSON *root, provenance_stats *st);

/* Would provenance_for_claude change this request? Read-only, so a body
 * that needs nothing can be forwarded as it came without a copy. */
int provenance_claude_needed(const cJSON *root);

/* Make a request safe for a local Anthropic-compatible server: remove
 * redacted_thinking blocks (opaque API data) and the signature of every
 * thinking block (it becomes ""), keeping the thinking text. Returns the number of changes,
 * or -1 when out of memory. st may be NULL. */
int provenance_for_local(cJSON *root, provenance_stats *st);

#endif
