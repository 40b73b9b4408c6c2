/*
 * toolcall_text: tool calls (and reasoning) that local models write as text
 * in the content stream instead of structured tool_calls. A pure push-style
 * parser: the stream translator (xlate_stream) feeds it every content-text
 * delta, and it calls back with plain text (at once, in order), leaked
 * reasoning, and complete recovered tool calls whose arguments have been
 * repaired and coerced by toolargs.
 *
 *   upstream content deltas ─▶ toolcall_text_feed ─▶ sink.text / sink.thinking / sink.tool
 *
 * Recognised (only calls to tools declared in `tools` count; anything else
 * stays text, byte for byte):
 *   <tool_call>{"name":..,"arguments":{..}|"json"}</tool_call>      Hermes / Qwen2.5
 *   <tool_call><function=N><parameter=K>v</parameter></function></tool_call>
 *                                              Qwen3-Coder (also without <tool_call>)
 *   <tool_call>N<arg_key>k</arg_key><arg_value>v</arg_value></tool_call>   GLM
 *   [TOOL_CALLS][{"name":..,"arguments":..},..]   and   [TOOL_CALLS]N[ARGS]{..}  Mistral
 *   {"name":..,"parameters"|"arguments":..} first in the content (or after a
 *     call, or after <|python_tag|>)                                 Llama 3
 *   a ``` or ```json fence opening a line and holding nothing but such a
 *     JSON call (also inside <tool_call>)
 *   <think>..</think> → thinking; a stray </think> is dropped (see
 *     toolcall_text_set_think for reasoning that starts without <think>)
 * Inside `inline code` (up to the end of its line) and fenced code blocks
 * nothing is recognised. Qwen3-Coder parameter values may hold any markup:
 * only a </parameter> followed by the next <parameter= or </function> ends
 * one. Whitespace around recognised calls, at the ends of reasoning and
 * after it is dropped, and so is a stray </tool_call> right after a call;
 * whitespace before <think> stays text.
 *
 * Streaming: bytes are held only while they could still begin or belong to
 * one of the above; the events (after merging adjacent text) do not depend
 * on how the input is split. At most max_buffer bytes are ever held: past
 * that the held bytes are released as text, and so is the rest of that call.
 */
#ifndef ANYCLAUDE_TOOLCALL_TEXT_H
#define ANYCLAUDE_TOOLCALL_TEXT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define TOOLCALL_TEXT_ENOMEM (-1)
#define TOOLCALL_TEXT_EDONE (-2) /* fed after finish, or after an earlier failure */

typedef struct toolcall_text toolcall_text;

/* Callbacks return 0 to go on; any other value stops the parser and is
 * returned by the feed/finish call that made the callback. Pointers are
 * valid only during the call. */
typedef struct toolcall_text_sink {
    /* plain text, in order (possibly in several pieces) */
    int (*text)(void *ud, const char *p, size_t n);
    /* reasoning leaked into content; NULL: reasoning is dropped */
    int (*thinking)(void *ud, const char *p, size_t n);
    /* one complete call: the declared tool's name and its arguments as a
     * compact JSON object (never empty; "{}" when there were none) */
    int (*tool)(void *ud, const char *name, size_t name_len, const char *args_json,
                size_t args_len);
    void *ud;
} toolcall_text_sink;

/* Make a parser. tools: the request's Anthropic tools array, borrowed (it
 * must outlive the parser); NULL or empty turns tool-call recovery off (text
 * then passes through unchanged apart from <think> handling). max_buffer:
 * the most bytes held at once (0: 1 MiB; at least 64 is used). sink is
 * copied; sink->text and sink->tool must be set. Returns NULL on allocation
 * failure or a bad sink. */
toolcall_text *toolcall_text_new(const cJSON *tools, size_t max_buffer,
                                 const toolcall_text_sink *sink);

typedef enum toolcall_text_think {
    /* default: <think>..</think> anywhere is reasoning; text streams at once */
    TOOLCALL_TEXT_THINK_TAGS = 0,
    /* the content starts inside reasoning (the chat template already wrote
     * <think>): everything up to the first </think> is reasoning */
    TOOLCALL_TEXT_THINK_OPEN,
    /* maybe so: hold up to lead_max leading bytes; if </think> turns up
     * among them they are reasoning, else (a <think>, a tool-call marker,
     * lead_max bytes without one, or the end) they are processed normally.
     * Costs streaming latency for answers that are not reasoning. */
    TOOLCALL_TEXT_THINK_LEAD,
    /* think tags are plain text */
    TOOLCALL_TEXT_THINK_OFF,
} toolcall_text_think;

/* Choose how reasoning is recognised (see the enum). Only before the first
 * feed; returns 0, or TOOLCALL_TEXT_EDONE when input was already fed.
 * lead_max is used by THINK_LEAD only (0 or more than max_buffer: max_buffer). */
int toolcall_text_set_think(toolcall_text *t, toolcall_text_think mode, size_t lead_max);

/* Push n content bytes (any split, any bytes). Calls the sink for whatever
 * became decidable. Returns 0, a callback's nonzero value, or a
 * TOOLCALL_TEXT_* code; after a nonzero return the parser is dead and
 * further calls return TOOLCALL_TEXT_EDONE. */
int toolcall_text_feed(toolcall_text *t, const char *p, size_t n);

/* The content is over: release what is held. An unterminated call is
 * emitted when it can be repaired (missing closing tags, braces or quotes),
 * else it goes out as text; unterminated reasoning goes out as reasoning.
 * Same returns as feed; a second finish returns 0 and does nothing. */
int toolcall_text_finish(toolcall_text *t);

/* Free the parser (held bytes are discarded; call finish first to get
 * them). NULL is a no-op. Not from inside a sink callback. */
void toolcall_text_free(toolcall_text *t);

/* How many tool calls have been emitted so far. */
int toolcall_text_calls(const toolcall_text *t);

typedef struct toolcall_text_stats {
    size_t fed;      /* bytes fed */
    size_t text;     /* bytes passed to sink.text */
    size_t thinking; /* bytes of reasoning (passed to sink.thinking or dropped) */
    size_t consumed; /* bytes of recognised calls, tags and the whitespace around them */
    size_t held;     /* bytes held right now; after finish fed = text + thinking + consumed */
} toolcall_text_stats;

void toolcall_text_get_stats(const toolcall_text *t, toolcall_text_stats *st);

#endif
