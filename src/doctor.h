/*
 * doctor: `anyclaude doctor`. Checks, one verdict a line, that claude is
 * installed, that the backend answers and what it serves, and that a request
 * makes the round trip through the gateway; prints the fix to try for each
 * failure.
 */
#ifndef ANYCLAUDE_DOCTOR_H
#define ANYCLAUDE_DOCTOR_H

#include "buf.h"
#include "config.h"

/* Blocking GET of url from backend be (its key in the header its API reads;
 * ca: CA bundle, NULL the system's), the body appended to out. Returns the
 * HTTP status, or 0 with the reason in err. */
long doctor_http_get(const char *url, const route_backend *be, const char *ca, buf *out, char *err,
                     size_t errlen);

/* Run every check. Returns 0 when all pass, 1 otherwise. */
int doctor_run(const config *cfg);

#endif
