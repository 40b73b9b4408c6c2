/*
 * via: request loops between gateways (pure). Every request a gateway sends
 * upstream carries VIA_HEADER: the ids of the gateways it has already passed
 * through, its own last ("a1b2..., c3d4..."). A gateway that finds its own id
 * in an incoming request's list is talking to itself: a backend URL points
 * back at it (directly, or through other gateways). Without this, the
 * request would go round until the concurrency limit, and the user would
 * read "at its limit of 1024 concurrent requests" instead of the cause.
 * Chaining different gateways (a laptop's anyclaude in front of a team's
 * `anyclaude serve`) stays allowed up to VIA_MAX_HOPS.
 *
 *   incoming list + own id ─▶ via_looped ─▶ refuse (508)
 *   incoming list + own id ─▶ via_line   ─▶ "x-anyclaude-via: ..." upstream
 */
#ifndef ANYCLAUDE_VIA_H
#define ANYCLAUDE_VIA_H

#include <stddef.h>

#define VIA_HEADER "x-anyclaude-via"
#define VIA_ID_LEN 16  /* hex digits of a gateway's id */
#define VIA_MAX_HOPS 8 /* gateways one request may pass through */
#define VIA_LINE_MAX (sizeof VIA_HEADER + 2 + VIA_MAX_HOPS * (VIA_ID_LEN + 2) + 1)

/* Has this request looped? 1 when list (the incoming header's value, NULL:
 * none) names self, or already names VIA_MAX_HOPS gateways; else 0. Ids are
 * compared whole (case-insensitive), separated by commas and blanks. */
int via_looped(const char *list, const char *self);

/* The header line for a request sent on behalf of one that came with list
 * (NULL: a request of the gateway's own): VIA_HEADER ": " list ", " self,
 * with any malformed or excess entries of list dropped, so the line stays
 * within VIA_LINE_MAX. Returns out. */
char *via_line(const char *list, const char *self, char *out, size_t n);

#endif
