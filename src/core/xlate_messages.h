/*
 * xlate_messages: the "messages" array of the upstream request, written
 * from the Anthropic system prompt and messages (pure). Each message is
 * written as soon as it is translated; only the newest user message is held
 * ("pending", in the context), because a role:"system" message after it is
 * merged into it. Tool results become role:"tool" messages; thinking is
 * dropped; the role:"system" messages before the first assistant turn lead
 * the first user message (rendering by volatility, see lead_text).
 * Used by xlate_request; content blocks come from xlate_content.
 */
#ifndef ANYCLAUDE_XLATE_MESSAGES_H
#define ANYCLAUDE_XLATE_MESSAGES_H

#include <cjson/cJSON.h>

#include "xlate_ctx.h"

/* Write the system message (system: the request's "system", may be NULL)
 * and every message of msgs (the checked, non-empty "messages" array) as
 * the elements of the upstream "messages" array, through c->w. Returns 0,
 * XLATE_EINVALID with c's err naming the field, or XLATE_ENOMEM /
 * XLATE_ETOOBIG. */
int xlate_messages_write(xctx *c, const cJSON *system, const cJSON *msgs);
/* Release what the pending user message holds (after success or failure). */
void xlate_messages_free(xctx *c);

#endif
