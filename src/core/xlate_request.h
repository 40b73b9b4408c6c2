/*
 * xlate_request: Anthropic Messages request → OpenAI Chat Completions request
 * (pure). Validates the Anthropic body as it goes, so a bad field becomes a
 * 400 naming it.
 *
 * client body ─▶ xlate_request_build ─▶ upstream JSON bytes (+ facts the
 * shell needs: stream flag, client model name, input-token estimate, tools)
 *
 * Deterministic: the same body and options always give the same bytes, and
 * keys are written in a fixed order with "messages" last, so a conversation
 * that grows by a turn becomes bytes that extend the previous request's.
 */
#ifndef ANYCLAUDE_XLATE_REQUEST_H
#define ANYCLAUDE_XLATE_REQUEST_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "xlate_ctx.h" /* XLATE_E* codes, XLATE_IMAGE_LEFT_OUT */

struct xlate_tools_cache;

typedef struct xlate_request_opts {
    const char *model;                     /* model sent upstream; NULL: omit the field */
    struct xlate_tools_cache *tools_cache; /* translated tools kept across requests
                                              (xlate_tools.h); NULL: none */
    long max_tokens_cap;                   /* clamp max_tokens to this; <= 0: no clamp */
    int cache_prompt;                      /* add "cache_prompt": true (llama.cpp) */
    int use_id_slot; /* add "id_slot": id_slot, two characters wide (llama.cpp slot
                        affinity; see info.id_slot_off to set it later) */
    int id_slot;
    /* a top-level string field for an engine's cache routing (e.g. "user",
     * "prompt_cache_key") and its value; NULL: none */
    const char *affinity_field, *affinity_value;
    int text_only; /* the backend takes text only: each image becomes XLATE_IMAGE_LEFT_OUT
                      (in the user turn and inside tool results alike) */
} xlate_request_opts;

typedef struct xlate_request_info {
    int stream;          /* the client asked for SSE */
    char model[256];     /* the client's "model", echoed back in responses */
    long input_estimate; /* estimated prompt tokens, >= 1 */
    cJSON *tools;        /* the Anthropic "tools" array, or NULL: borrowed from the caller's
                            parsed tree (xlate_request_build_parsed with a tree: it must
                            outlive this info), else a copy owned here */
    int tools_owned;     /* tools is a copy, freed by xlate_request_info_free */
    uint64_t kind_hash;  /* hash of the rendered system prompt and tools */
    uint64_t first_hash; /* kind_hash extended by the first conversational message */
    size_t messages_off; /* offset in the output where the first message starts */
    size_t system_end;   /* offset where the system message ends (== messages_off if none) */
    size_t id_slot_off;  /* offset of id_slot's two characters ("%2d"), 0 if not written */
    int short_conv;      /* Claude Code's billing block says claude -p (cc_entrypoint=sdk-...)
                            or a subagent (cc_is_subagent=true): a conversation that is
                            over once idle */
} xlate_request_info;

/* Parse and validate an Anthropic /v1/messages body (len bytes, need not be
 * NUL-terminated) and append the upstream request JSON to out.
 * Returns 0; XLATE_EINVALID with a message naming the field in err; or
 * XLATE_ENOMEM / XLATE_ETOOBIG. info is filled on success (free it with
 * xlate_request_info_free) and zeroed on failure. */
int xlate_request_build(const char *body, size_t len, const xlate_request_opts *opts, buf *out,
                        xlate_request_info *info, char *err, size_t errlen);
void xlate_request_info_free(xlate_request_info *info);

/* A body the caller already parsed, so it is parsed once per request: root
 * and end as cJSON_ParseWithLengthOpts(body, len, &end, 0) returned them
 * (root may be NULL or not an object: the same errors follow as from a parse
 * here). root is only read, and must outlive the call only. */
typedef struct xlate_parsed {
    const cJSON *root;
    const char *end;
    const char *tools; /* the text of root's "tools" (jparse_member), or NULL */
    size_t tools_len;
} xlate_parsed;

/* xlate_request_build and xlate_request_count_tokens for a parsed body (pb
 * NULL: parse body here). body and len are still needed for the checks. */
int xlate_request_build_parsed(const xlate_parsed *pb, const char *body, size_t len,
                               const xlate_request_opts *opts, buf *out, xlate_request_info *info,
                               char *err, size_t errlen);
int xlate_request_count_tokens_parsed(const xlate_parsed *pb, const char *body, size_t len,
                                      long *tokens, char *err, size_t errlen);

/* Estimate the prompt tokens of an Anthropic /v1/messages/count_tokens body.
 * Returns 0 and sets *tokens, or XLATE_EINVALID with err. */
int xlate_request_count_tokens(const char *body, size_t len, long *tokens, char *err,
                               size_t errlen);

#endif
