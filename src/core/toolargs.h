/*
 * toolargs: a tool call's arguments, repaired and coerced to the tool's
 * input_schema. Used for native tool_calls (xlate_stream, once a call's
 * streamed arguments are complete) and for calls recovered from text
 * (toolcall_text). Pure: bytes and cJSON in, JSON text out.
 *
 *   args text ─▶ strict parse ─(fails)▶ lenient repair ─▶ decode double-encoding
 *             ─▶ coerce by input_schema ─▶ compact JSON object text
 *
 * Repairs: trailing and missing commas, unclosed strings/braces/brackets at
 * the end, single-quoted strings, unquoted keys, Python True/False/None,
 * raw control characters and bad escapes inside strings, // and block
 * comments, trailing garbage after the object. Coercion: "5" → 5 for integer
 * and number, "true"/"false" → booleans, a string holding JSON → array or
 * object, a number or boolean → string, an object or array → its JSON text
 * where a string is wanted; nested properties, array items, anyOf/oneOf and
 * type lists (the first type the value already fits wins, else the first
 * type it converts to). Properties the schema does not name are left alone.
 */
#ifndef ANYCLAUDE_TOOLARGS_H
#define ANYCLAUDE_TOOLARGS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "buf.h"

#define TOOLARGS_EPARSE (-1)  /* not JSON, even after repair */
#define TOOLARGS_ENOTOBJ (-2) /* JSON, but not an object */
#define TOOLARGS_ENOMEM (-3)
#define TOOLARGS_ETOOBIG (-4) /* the result does not fit in out's maximum */

/* Repair `args` (len bytes, any content) into a JSON object, coerce it by
 * input_schema (may be NULL: no coercion) and append its compact text to out.
 * Empty or all-whitespace args become {}. A JSON string whose content is an
 * object (double encoding, up to three levels) is decoded. Returns 0; or a
 * TOOLARGS_* code with a readable reason in err (NUL-terminated, truncated to
 * errlen; err may be NULL) and out unchanged, when no object can be made: the
 * caller should then pass the raw text on rather than drop it. */
int toolargs_repair(const char *args, size_t len, const cJSON *input_schema, buf *out, char *err,
                    size_t errlen);

/* Parse `p` (n bytes) as JSON, repairing damage as toolargs_repair does.
 * Returns a new value of any type (caller frees with cJSON_Delete), or NULL
 * when nothing can be made of it (including empty input). */
cJSON *toolargs_parse(const char *p, size_t n);

/* Coerce the members of the object `args` in place by `schema` (an
 * input_schema; NULL or a schema without properties changes nothing).
 * Returns 0, or TOOLARGS_ENOMEM (args then holds a partly coerced value). */
int toolargs_coerce(cJSON *args, const cJSON *schema);

/* Make the value of one property from raw text (a Qwen3-Coder <parameter> or
 * GLM <arg_value> body) by its property schema: the text as a string, then
 * coerced as above (so a string-typed or unknown property keeps the text
 * verbatim). Returns a new value (caller frees), NULL on allocation failure. */
cJSON *toolargs_value_from_text(const char *p, size_t n, const cJSON *prop_schema);

/* The tool named name (name_len bytes) in an Anthropic tools array
 * ([{"name":..,"input_schema":..},..]): an exact match, else the only
 * case-insensitive match. Returns a borrowed pointer into tools, or NULL. */
const cJSON *toolargs_find_tool(const cJSON *tools, const char *name, size_t name_len);

/* The input_schema of the tool named name (see toolargs_find_tool), or NULL
 * when there is no such tool or it has no input_schema. Borrowed. */
const cJSON *toolargs_find_schema(const cJSON *tools, const char *name, size_t name_len);

/* Move *p past the JSON whitespace (space, tab, CR, LF) that starts the n
 * bytes there and return the length left without the whitespace that ends
 * them. */
size_t toolargs_trim(const char **p, size_t n);

/* Append the text shown in place of a call to tool `name` whose arguments
 * (raw, n bytes) cannot be used: "[tool call NAME with unparseable
 * arguments: RAW]". Returns 0 or a BUF_* code. */
int toolargs_unusable_text(buf *t, const char *name, const char *raw, size_t n);
/* Append the text shown in place of a call that never got a name, with
 * what arrived as its arguments (raw, n bytes): "[tool call without a
 * name: RAW]". Returns 0 or a BUF_* code. */
int toolargs_nameless_text(buf *t, const char *raw, size_t n);

#endif
