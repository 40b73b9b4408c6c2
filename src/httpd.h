/*
 * httpd: a small HTTP/1.1 server on libevent bufferevents, the gateway's
 * front door. Chosen over evhttp because the gateway must (a) answer every
 * failure, a body over the limit included, with an Anthropic-format JSON
 * error, and (b) notice at once when a client hangs up while its request is
 * still waiting on the backend, so the upstream request can be cancelled;
 * evhttp 2.1 does neither.
 *
 * What it does: strict RFC 9112 framing (h1.c: CRLF only, token names,
 * no control characters, strict lengths and chunk sizes, one Host),
 * Content-Length and chunked bodies (bounded), Expect: 100-continue,
 * keep-alive, whole replies and chunked streaming replies. Limits: a
 * deadline for each request's head and body (not an inactivity timer), an
 * idle timeout between requests, a cap on buffered input in every state,
 * reading stops while a client leaves its replies unread, a connection cap
 * (accepting pauses at the cap and, briefly, after accept errors such as
 * running out of file descriptors).
 * The owner's head check runs once the head is parsed, before the body is
 * read or 100 Continue is sent, so a refused request costs only its head.
 * One request at a time per connection (no pipelining in parallel: bytes of a
 * next request wait until the current reply is finished).
 */
#ifndef ANYCLAUDE_HTTPD_H
#define ANYCLAUDE_HTTPD_H

#include <stddef.h>

struct event_base;
typedef struct httpd httpd;
typedef struct httpd_req httpd_req;

/* A complete request arrived. The handler must eventually reply
 * (httpd_reply, or httpd_reply_start ... httpd_reply_end), unless the
 * client goes away first (see httpd_req_on_close). */
typedef void (*httpd_handler_fn)(httpd_req *r, void *ud);
/* The head of a request arrived (its body has not been read). Either reply
 * now (httpd_reply: an error; a connection whose body was not read is then
 * closed) or return without replying to let the body be read and the
 * handler run. */
typedef void (*httpd_head_fn)(httpd_req *r, void *ud);
/* The client's unsent output drained (see httpd_req_on_drain). */
typedef void (*httpd_drain_fn)(httpd_req *r, void *ud);
/* The client closed (or the connection failed) before the reply was
 * finished. r is freed right after this returns; do not reply. */
typedef void (*httpd_close_fn)(httpd_req *r, void *ud);
/* Build the error body for a failure detected by httpd itself (413, 431,
 * 400): append JSON to the given buf-like sink via the writer. */
typedef size_t (*httpd_error_fn)(int status, const char *msg, char *out, size_t outlen);

typedef struct httpd_limits {
    size_t max_body;           /* request body bytes */
    size_t max_header;         /* request line + headers bytes (default 64 KiB) */
    int max_conns;             /* open connections (default 4096) */
    int header_timeout_ms;     /* deadline for a whole request, head and body, counted from
                                  its first byte (default 60 s) */
    int idle_timeout_ms;       /* keep-alive idle (default 120 s) */
    httpd_error_fn error_body; /* JSON body for httpd's own errors */
} httpd_limits;

/* Listen on host:port (port 0: a free port) and serve on base. NULL with a
 * reason in err on failure. */
httpd *httpd_new(struct event_base *base, const char *host, int port, const httpd_limits *lim,
                 httpd_handler_fn handler, void *ud, char *err, size_t errlen);
/* Set the head check (called with the same ud as the handler). */
void httpd_set_head_check(httpd *h, httpd_head_fn fn);
int httpd_port(const httpd *h);
int httpd_connections(const httpd *h);
/* Start draining: close the listening socket (new connections are
 * refused, so a load balancer sends them elsewhere) and end every
 * connection after its next reply (Connection: close). Requests in
 * progress go on; a kept-alive connection may still ask one more thing
 * (a load balancer's health check, which then learns of the drain). */
void httpd_drain(httpd *h);
/* Bytes of replies still queued for clients (not yet written). */
size_t httpd_unsent(const httpd *h);
/* Write what is queued for every client now, as far as the sockets take it
 * without blocking (before closing them all at once). */
void httpd_flush(httpd *h);
/* Close every connection (close callbacks fire) and stop listening. */
void httpd_free(httpd *h);

/* Request accessors; strings are NUL-terminated and live as long as r. */
const char *httpd_req_method(const httpd_req *r);
const char *httpd_req_path(const httpd_req *r);                     /* without the query string */
const char *httpd_req_query(const httpd_req *r);                    /* after '?', "" if none */
const char *httpd_req_header(const httpd_req *r, const char *name); /* case-insensitive; NULL */
/* The i-th request header (0-based); returns 0 past the last. */
int httpd_req_header_at(const httpd_req *r, int i, const char **name, const char **value);
const char *httpd_req_body(const httpd_req *r, size_t *len);
/* The Host header (NULL: none, HTTP/1.0 only). */
const char *httpd_req_host(const httpd_req *r);
/* Does the request carry a body (chunked or Content-Length > 0)? */
int httpd_req_has_body(const httpd_req *r);
/* Bytes of the reply still queued for the client. */
size_t httpd_req_queued(const httpd_req *r);
/* Call fn when the queued reply has been written out (for backpressure:
 * pause the producer while httpd_req_queued is high, resume here). */
void httpd_req_on_drain(httpd_req *r, httpd_drain_fn fn, void *ud);
/* Register the callback for a client that leaves before the reply ends. */
void httpd_req_on_close(httpd_req *r, httpd_close_fn fn, void *ud);

/* Add a response header (before the reply starts). */
void httpd_add_header(httpd_req *r, const char *name, const char *value);
/* Send a whole reply; r is finished (and may be freed) after this. */
void httpd_reply(httpd_req *r, int status, const char *ctype, const char *body, size_t len);
/* Start a chunked reply (status, content type, added headers). */
void httpd_reply_start(httpd_req *r, int status, const char *ctype);
/* Send one chunk. Returns the bytes still queued for the client after it,
 * so the caller can tell a client that does not read. */
size_t httpd_reply_chunk(httpd_req *r, const char *p, size_t n);
/* End a chunked reply; r is finished after this. */
void httpd_reply_end(httpd_req *r);
/* Close the connection now, without ending the reply (the client sees a
 * cut stream, not a complete one); r is freed and no close callback runs. */
void httpd_abort(httpd_req *r);

#endif
