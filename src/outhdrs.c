/*
 * outhdrs: the header lines of a backend request (see outhdrs.h).
 */
#include "outhdrs.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "rendezvous.h"
#include "via.h"

/* Is this credential the gateway's own (its --auth-token, or the
 * launcher's per-run token, or the placeholder older launchers gave)
 * rather than the user's? */
static int gateway_credential(const config *cfg, const char *v)
{
    if (strncasecmp(v, "Bearer ", 7) == 0) v += 7;
    return strcmp(v, "anyclaude") == 0 ||
           (cfg->auth_token[0] && access_token_equal(cfg->auth_token, v));
}

static int hop_by_hop(const char *n)
{
    static const char *const skip[] = {"host",
                                       OUTHDRS_TOKEN_HEADER,
                                       VIA_HEADER, /* upstream adds the list, this gateway last */
                                       "origin",
                                       "content-length",
                                       "connection",
                                       "keep-alive",
                                       "transfer-encoding",
                                       "te",
                                       "trailer",
                                       "upgrade",
                                       "proxy-authorization",
                                       "proxy-connection",
                                       "expect",
                                       "accept-encoding",
                                       "content-type",
                                       "accept"};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (strcasecmp(n, skip[i]) == 0) return 1;
    return 0;
}

/* One "Name: value" line into h; 0, or -1 when there is no room. */
static int add_line(outhdrs *h, const char *name, const char *value)
{
    if (h->n >= OUTHDRS_MAX) return -1;
    h->off[h->n] = h->store.len;
    if (buf_appendf(&h->store, "%s: %s", name, value) || buf_append(&h->store, "", 1)) return -1;
    h->n++;
    return 0;
}

int outhdrs_affinity_value(httpd_req *req, char *out, size_t n)
{
    const char *sid = httpd_req_header(req, "X-Claude-Code-Session-Id");
    const char *aid = httpd_req_header(req, "x-claude-code-agent-id");
    if (!sid || !*sid || n < OUTHDRS_AFFINITY_LEN) return -1;
    snprintf(out, n, "ac-%016llx", (unsigned long long)rendezvous_session_key(sid, aid));
    return 0;
}

const char *const *outhdrs_build(const config *cfg, const backend_rt *b, httpd_req *req, outhdrs *h)
{
    memset(h, 0, sizeof *h);
    buf_init(&h->store, 256 * 1024);
    int cred = 0;
    const char *name, *value;
    if (b->cfg->mode->passthru == MODE_CLAUDE && req) {
        /* the client's headers, its own credentials included; room is kept
         * for the two lines below */
        for (int i = 0; httpd_req_header_at(req, i, &name, &value) && h->n < OUTHDRS_MAX - 3; i++) {
            if (hop_by_hop(name)) continue;
            int is_cred =
                strcasecmp(name, "x-api-key") == 0 || strcasecmp(name, "authorization") == 0;
            if (is_cred && gateway_credential(cfg, value)) continue;
            cred |= is_cred;
            add_line(h, name, value);
        }
    } else if (b->cfg->mode->passthru) {
        /* anthropic mode: what a Messages server reads; never the client's credentials */
        static const char *const keep[] = {"anthropic-version", "anthropic-beta"};
        for (size_t k = 0; k < sizeof keep / sizeof keep[0]; k++)
            if (req && (value = httpd_req_header(req, keep[k]))) add_line(h, keep[k], value);
        if (backend_key(b)) {
            char bearer[600];
            snprintf(bearer, sizeof bearer, "Bearer %s", backend_key(b));
            add_line(h, "Authorization", bearer);
        }
    }
    if (b->cfg->mode->passthru && !cred && backend_key(b)) add_line(h, "x-api-key", backend_key(b));
    if (b->cfg->mode->passthru == MODE_CLAUDE &&
        (!req || !httpd_req_header(req, "anthropic-version")))
        add_line(h, "anthropic-version", "2023-06-01");
    char aff[OUTHDRS_AFFINITY_LEN];
    if (b->cfg->affinity_header[0] && req && outhdrs_affinity_value(req, aff, sizeof aff) == 0)
        add_line(h, b->cfg->affinity_header, aff);
    for (int i = 0; i < h->n; i++)
        h->lines[i] = h->store.data + h->off[i];
    h->lines[h->n] = NULL;
    return h->lines;
}

void outhdrs_free(outhdrs *h)
{
    buf_free(&h->store);
}
