/*
 * argstream: one native tool call's arguments, streamed to the client as
 * they arrive and repaired only where they need it (pure; used by
 * xlate_stream when tool recovery is on).
 *
 *   argument fragments ─▶ argstream_feed ─▶ JSON text for input_json_delta now
 *   end of the call    ─▶ argstream_finish ─▶ the rest, closing the object
 *
 * The arguments are read as a JSON object member by member. A member whose
 * value is a string and whose property the input_schema types as "string"
 * (or does not name) streams at once, byte for byte, with only what strict
 * JSON forbids inside a string fixed on the way (raw control characters,
 * bad escapes). Any other value is held until it is complete, then coerced
 * by its property schema (toolargs) and sent. Text that is not a well-formed
 * object (single quotes, unquoted keys, a missing brace...) stops the
 * streaming: at the end the whole text is repaired by toolargs_repair and
 * the members not yet sent follow. What the client gets always concatenates
 * to one valid JSON object.
 */
#ifndef ANYCLAUDE_ARGSTREAM_H
#define ANYCLAUDE_ARGSTREAM_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "buf.h"

#define ARGSTREAM_EUNUSABLE (-30) /* finish: nothing sent, and no object can be made */
#define ARGSTREAM_ETOOBIG (-31)   /* more raw text than the bound */

typedef struct argstream argstream;

/* schema: the tool's input_schema (borrowed; NULL: no coercion). max: bound
 * on the raw argument text kept. NULL on allocation failure. */
argstream *argstream_new(const cJSON *schema, size_t max);
void argstream_free(argstream *a);

/* Push raw argument bytes (any split). Appends to out what can be sent now
 * (possibly nothing). Returns 0, ARGSTREAM_ETOOBIG, or a BUF_E* code. */
int argstream_feed(argstream *a, const char *p, size_t n, buf *out);

/* The call is complete: append the rest of the JSON object. Returns 0 when
 * everything was used (*repaired: 1 when anything was changed), 1 when the
 * object was closed but some trailing text could not be used, or
 * ARGSTREAM_EUNUSABLE when nothing was sent and no object can be made of the
 * text (the caller shows argstream_raw instead), or a BUF_E* code. */
int argstream_finish(argstream *a, buf *out, int *repaired);

/* Has any byte been sent (the object opened)? */
int argstream_started(const argstream *a);
/* All raw text fed so far. */
const char *argstream_raw(const argstream *a, size_t *n);

#endif
