/*
 * xlate_content: one Anthropic content block, checked and turned into text
 * for the request translator: block types (known, skipped, unknown), text
 * blocks, images checked for a text-only backend, documents and search
 * results inlined as text, and the placeholder line for what cannot be
 * sent. Pure; errors name the block's path (messages.N.content.K).
 * Used by xlate_messages.
 */
#ifndef ANYCLAUDE_XLATE_CONTENT_H
#define ANYCLAUDE_XLATE_CONTENT_H

#include <cjson/cJSON.h>

#include "buf.h"
#include "xlate_ctx.h"

/* Is t a block type this gateway knows (including those it drops)? */
int xlate_content_known(const char *t);
/* Check that blk at path is an object with a string "type" and set *type.
 * A type this gateway does not know is accepted (see
 * xlate_content_unknown_text). Returns 0 or XLATE_EINVALID (err set). */
int xlate_content_type(xctx *c, const cJSON *blk, const char *path, const char **type);
/* For a block of a type this gateway does not know: its "text" when it
 * carries a non-empty string one (sent as text), else NULL (it becomes a
 * placeholder). NULL for known types too. Borrowed. */
const cJSON *xlate_content_unknown_text(const cJSON *blk, const char *type);
/* Append to dst (after "\n" when *any; sets *any) the placeholder for a
 * block of this type: XLATE_IMAGE_LEFT_OUT for an image, a line naming the
 * type otherwise. Depends only on the type, so the prefix stays cached.
 * Returns 0 or an XLATE code. */
int xlate_content_left_out(buf *dst, int *any, const char *type);
/* The string "text" of a text block at path into *text (borrowed).
 * Returns 0 or XLATE_EINVALID. */
int xlate_content_text(xctx *c, const cJSON *blk, const char *path, const cJSON **text);
/* Validate an image block at path (base64 with a media_type, or url)
 * without using it. Returns 0 or XLATE_EINVALID. */
int xlate_content_check_image(xctx *c, const cJSON *blk, const char *path);
/* Append the text of a document or search_result block (type) at path to
 * dst. Plain-text and content-list documents are inlined with their title;
 * PDFs, URLs and files are refused (XLATE_EINVALID naming the source type).
 * Returns 0 or an XLATE code. */
int xlate_content_doc(xctx *c, const cJSON *blk, const char *type, const char *path, buf *dst);

#endif
