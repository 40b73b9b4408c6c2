/*
 * messages: the life of one POST /v1/messages exchange (shell): its route
 * and plan, each attempt (translated for an OpenAI-family target, relayed
 * for a pass-through one), fallback to the next target before the stream
 * starts, the stream itself, and its accounting.
 *
 *   messages_handle ─▶ plan ─▶ attempt ─▶ upstream ─▶ xlate_stream / relay ─▶ client
 */
#ifndef ANYCLAUDE_MESSAGES_H
#define ANYCLAUDE_MESSAGES_H

#include "exchange.h"

/* Answer POST /v1/messages on s (its head is checked, its body read). */
void messages_handle(server *s, httpd_req *req);
/* End a /v1/messages exchange now with an error: an HTTP error before its
 * stream started, an `event: error` after (frees the exchange). */
void messages_cut(exchange *ex, const char *type, const char *msg);

#endif
