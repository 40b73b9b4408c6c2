/*
 * upstream: HTTP requests to the backend, driven by libcurl's multi-socket
 * API on the gateway's libevent loop (the hiperfifo pattern). One upstream
 * per process; many requests in flight. Moves bytes only: what they mean is
 * the translators' business.
 *
 *   server ─▶ upstream_start ─▶ curl ─▶ on_headers, on_data..., on_done
 *   server ─▶ upstream_cancel (client gone): the connection closes at once
 */
#ifndef ANYCLAUDE_UPSTREAM_H
#define ANYCLAUDE_UPSTREAM_H

#include <stddef.h>

#include "via.h"

struct curl_slist;
struct event_base;
typedef struct upstream upstream;
typedef struct upstream_req upstream_req;

typedef struct upstream_cbs {
    /* The TCP (or TLS) connection to the backend is up and the request is
     * being sent. May be NULL. */
    void (*on_connected)(void *ud);
    /* Response status line and headers have arrived. Return 0 to go on. */
    int (*on_headers)(void *ud, long status);
    /* One header of the final response (after on_headers' status line,
     * before on_headers); name and value without CR/LF. May be NULL. */
    void (*on_header)(void *ud, const char *name, size_t nlen, const char *value, size_t vlen);
    /* Body bytes, in order. Return 0 to go on; 2 when the caller has all it
     * needs (the rest of the body is read and dropped so the connection can
     * be reused, and on_done is not called); anything else aborts the
     * transfer (no on_done either). */
    int (*on_data)(void *ud, const char *p, size_t n);
    /* The transfer is over: ok=1 when the whole response arrived; otherwise
     * err is a one-line reason and refused=1 when the backend could not be
     * reached at all (connection refused, DNS failure, connect timeout).
     * Called exactly once unless the request was cancelled; the request is
     * freed right after it returns. */
    void (*on_done)(void *ud, int ok, int refused, long status, const char *err);
} upstream_cbs;

typedef struct upstream_opts {
    const char *method; /* "GET" or "POST" */
    const char *url;
    const char *body; /* POST body, borrowed until on_done/cancel */
    size_t body_len;
    const char *bearer;         /* API key sent as Authorization: Bearer; NULL: none */
    const char *const *headers; /* more "Name: value" lines, NULL-terminated; NULL: none */
    const char *ca_file;        /* CA bundle for TLS; NULL: the system's */
    int sse;                    /* ask for text/event-stream */
    long connect_timeout_ms;    /* 0: 10 s */
    long total_timeout_ms;      /* 0: none */
    const char *via; /* the client request's VIA_HEADER value (NULL: none, or a request of the
                        gateway's own); every request carries the list with this gateway added */
    int as_client;   /* a client's request to a gateway (doctor's round trip to the gateway it
                        started in this process): no VIA_HEADER, else it would be refused */
} upstream_opts;

/* Create the driver on `base`. NULL on failure. */
upstream *upstream_new(struct event_base *base);
/* Cancel every request in flight (no callbacks) and free. NULL is a no-op. */
void upstream_free(upstream *u);
/* Start a request. Returns a handle, or NULL (on_done is then not called). */
upstream_req *upstream_start(upstream *u, const upstream_opts *o, const upstream_cbs *cbs,
                             void *ud);
/* Abort a request: no callback fires after this returns and the socket is
 * closed. Safe to call from inside the request's own callbacks. NULL is a
 * no-op. */
void upstream_cancel(upstream_req *r);
/* Backpressure: pause (1) or resume (0) receiving the answer. A pause
 * takes effect at the next piece of data (which is kept, not lost, and
 * delivered after the resume); resuming may run on_data at once. NULL or a
 * cancelled request: no-op. */
void upstream_pause(upstream_req *r, int pause);
/* The options every HTTP request to a backend shares, on a libcurl easy
 * handle (upstream's own requests and backend_http's blocking ones): url,
 * where the answer's body goes, the error buffer (CURL_ERROR_SIZE bytes),
 * the timeouts (total_ms 0: none) and no signals. */
typedef size_t (*upstream_write_fn)(char *p, size_t size, size_t n, void *ud);
void upstream_easy_common(void *easy, const char *url, upstream_write_fn write, void *ud,
                          char *errbuf, long connect_ms, long total_ms);
/* This gateway process's id in VIA_HEADER lists (VIA_ID_LEN hex digits,
 * random, fixed for the process's life). */
const char *upstream_self(void);
/* Append line to the header list *h: 0, or -1 when libcurl could not (out
 * of memory), *h then as it was: the caller fails the request rather than
 * send it without the line. */
int upstream_header(struct curl_slist **h, const char *line);
/* Append the VIA_HEADER line for a request on behalf of list (NULL: the
 * gateway's own) to *h, as upstream_header does. */
int upstream_via(struct curl_slist **h, const char *list);
/* Requests in flight. */
int upstream_active(const upstream *u);

#endif
