/*
 * outhdrs: the header lines a request to a backend carries (shell). For a
 * pass-through backend, the client's (claude mode) or the Anthropic version
 * headers (anthropic mode), with the credential policy of docs/routing.md;
 * for every backend, its affinityHeader with the request's affinity value.
 *
 *   client request + backend ─▶ outhdrs_build ─▶ "Name: value" lines ─▶ upstream_start
 */
#ifndef ANYCLAUDE_OUTHDRS_H
#define ANYCLAUDE_OUTHDRS_H

#include <stddef.h>

#include "backends.h"
#include "buf.h"
#include "config.h"
#include "httpd.h"

/* The header the launcher sends the per-run token in (Claude Code's
 * ANTHROPIC_CUSTOM_HEADERS), so that in claude mode Claude Code's own
 * credentials still reach the Claude API; never passed upstream. */
#define OUTHDRS_TOKEN_HEADER "x-anyclaude-token"

/* The conversation's affinity key for engine routers (a backend's
 * affinityHeader / affinityField): "ac-" and 16 hex digits of a hash of
 * Claude Code's session id and agent id, never the ids themselves. Returns
 * 0, or -1 when the request carries no session id (nothing is sent). */
#define OUTHDRS_AFFINITY_LEN 20
int outhdrs_affinity_value(httpd_req *req, char *out, size_t n);

#define OUTHDRS_MAX 69
typedef struct outhdrs {
    buf store;
    size_t off[OUTHDRS_MAX];
    const char *lines[OUTHDRS_MAX + 1];
    int n;
} outhdrs;

/* Header lines to send backend b for req (NULL: a request of the gateway's
 * own, nothing of a client's is sent). cfg: the gateway's settings (its own
 * token is never passed on). Returns h->lines, NULL-terminated; free with
 * outhdrs_free once the request is started (curl copies them). */
const char *const *outhdrs_build(const config *cfg, const backend_rt *b, httpd_req *req,
                                 outhdrs *h);
void outhdrs_free(outhdrs *h);

#endif
