/*
 * sse: incremental Server-Sent Events parser (pure, push-style).
 *
 * upstream bytes ─▶ sse_parser_feed ─▶ on_event(event, data) / on_comment(text)
 *
 * Follows the WHATWG event-stream rules that matter for LLM backends:
 * lines end in \n, \r\n or \r (a \r at the end of one chunk and \n at the start
 * of the next are one line end); "data:" lines accumulate joined by \n;
 * "event:" sets the type; a single space after the colon is dropped; lines
 * starting with ":" are comments (MLX-LM's ": keepalive n/total"); a blank
 * line dispatches. Output is identical however the input is split.
 */
#ifndef ANYCLAUDE_SSE_H
#define ANYCLAUDE_SSE_H

#include <stddef.h>

#include "buf.h"

#define SSE_ETOOLONG (-10) /* a line or an event's data exceeded max */

/* Called once per dispatched event with data present. event is "" when the
 * stream named none. Pointers are valid only during the call. Return 0 to go
 * on; anything else stops sse_parser_feed, which returns it. */
typedef int (*sse_event_fn)(void *ud, const char *event, size_t event_len, const char *data,
                            size_t data_len);
/* Called per comment line (text after the ':'), may be NULL. */
typedef int (*sse_comment_fn)(void *ud, const char *text, size_t len);

typedef struct sse_parser {
    buf line;
    buf data;
    buf event;
    int has_data;
    int last_cr; /* previous chunk ended in \r */
    size_t max;
    sse_event_fn on_event;
    sse_comment_fn on_comment;
    void *ud;
} sse_parser;

/* Initialise; max bounds a single line and an event's accumulated data. */
void sse_parser_init(sse_parser *p, size_t max, sse_event_fn on_event, sse_comment_fn on_comment,
                     void *ud);
/* Push bytes. Returns 0, SSE_ETOOLONG, BUF_ENOMEM, or a callback's nonzero. */
int sse_parser_feed(sse_parser *p, const char *bytes, size_t len);
/* End of input: a final line without its terminator is processed and a
 * pending event without its blank line is dispatched. Same returns. */
int sse_parser_finish(sse_parser *p);
void sse_parser_free(sse_parser *p);

#endif
