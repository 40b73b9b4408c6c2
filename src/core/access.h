/*
 * access: who may talk to the gateway (pure). A loopback listener is no
 * boundary against a web browser: any page can post to 127.0.0.1, and a
 * DNS-rebinding page becomes same-origin with it. So a request must name
 * the listener in Host, carry no Origin unless that origin is allowed, send
 * its POST body as application/json (HTML forms and "simple" fetches
 * cannot), and, when a token is set, carry the token. server.c applies
 * these in httpd's head check, before the body is read.
 */
#ifndef ANYCLAUDE_ACCESS_H
#define ANYCLAUDE_ACCESS_H

#include <stddef.h>

/* Does the Host header value name the listener? Accepted: 127.0.0.1,
 * localhost, [::1] and listen_host, each with ":port" (the port may be left
 * out only when it is 80); when listen_host is a wildcard (0.0.0.0, ::),
 * also any IP address literal with the port (a DNS name is what a
 * rebinding attack needs; an address is not). */
int access_host_ok(const char *host, const char *listen_host, int port);

/* Is origin (an Origin header value) in allowed, a comma-separated list of
 * origins ("*" allows every origin)? Case-insensitive, exact otherwise. */
int access_origin_ok(const char *origin, const char *allowed);

/* Is the Content-Type value application/json (parameters allowed)? */
int access_is_json(const char *ctype);

/* Constant-time token comparison (the time does not depend on where they
 * differ); 0 when k is NULL. */
int access_token_equal(const char *tok, const char *k);

#endif
