/*
 * relay: the pass-through side of an exchange (anthropic and claude
 * modes): the client's body as the target needs it, and the backend's
 * answer headers relayed back.
 *
 *   client body ─▶ relay_start ─▶ upstream ─▶ relay_keep_header ─▶ relay_reply_headers
 *                                             ─▶ relay_observe (each byte) ─▶ client
 *
 * messages.c drives the answer (commit, fallback on a held 429/5xx,
 * failures), as for a translated one.
 */
#ifndef ANYCLAUDE_RELAY_H
#define ANYCLAUDE_RELAY_H

#include <stddef.h>

#include "exchange.h"

/* Send the current attempt (ex->cur.bk, a pass-through backend; ex->cur.pt
 * set) to target t with callbacks cbs: the client's body (anthropic mode:
 * rewritten for the cache, without server tools and the API's signatures;
 * claude mode: unchanged unless t names a model or the conversation holds
 * thinking the API did not sign), the client's query string in claude
 * mode, outhdrs.h's headers. On failure the client gets an error and the
 * exchange is freed. */
void relay_start(exchange *ex, const route_target *t, const upstream_cbs *cbs);

/* Pass-through answers: keep the headers a client of the Anthropic API
 * reads (content-type, request-id, anthropic-*, retry-after,
 * x-should-retry)... */
void relay_keep_header(exchange *ex, const char *n, size_t nl, const char *v, size_t vl);
/* ...and add them to the reply (with our request-id when the backend sent
 * none, and anyclaude-backend). */
void relay_reply_headers(exchange *ex);

/* Bytes of a committed pass-through answer on their way to the client:
 * read its numbers (passthru_obs: usage, stop reason) and remember its last
 * bytes. */
void relay_observe(exchange *ex, const char *p, size_t n);
/* A committed pass-through stream fails: append an `event: error` to
 * ex->out, after a blank line when the stream was cut mid-event. */
void relay_error_event(exchange *ex, const char *type, const char *msg);

#endif
