/*
 * backend_http: one blocking HTTP request to a configured backend, for the
 * checks that run before the event loop (doctor, the model-name check, the
 * context-window probe). The gateway's own traffic goes through upstream.
 */
#ifndef ANYCLAUDE_BACKEND_HTTP_H
#define ANYCLAUDE_BACKEND_HTTP_H

#include "buf.h"
#include "routes.h"

/* GET url from backend be, or POST body (JSON) when body is not NULL, with
 * be's key in the header its API reads (x-api-key and anthropic-version for
 * pass-through modes, Authorization: Bearer otherwise). ca: the CA bundle to
 * trust when be has none of its own, NULL the system's. The answer's body is
 * appended to out. Returns the HTTP status, or 0 when nothing answered within
 * connect_ms / total_ms, with the reason in err (err may be NULL). */
long backend_http(const route_backend *be, const char *ca, const char *url, const char *body,
                  long connect_ms, long total_ms, buf *out, char *err, size_t errlen);

#endif
