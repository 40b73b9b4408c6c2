/*
 * httpd: HTTP/1.1 server on bufferevents (see httpd.h for why not evhttp).
 *
 * A connection cycles through:
 *   HEAD (reading request line + headers) ─▶ BODY (Content-Length or chunked)
 *   ─▶ BUSY (handler owns the request; reading continues, so EOF is noticed
 *   at once and bytes of a next request are only buffered) ─▶ after the reply,
 *   back to HEAD (keep-alive) or closed.
 * Errors httpd detects itself (malformed request, headers or body too big,
 * timeouts before a request is complete) are answered with the JSON body the
 * owner provides and the connection is closed.
 */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "buf.h"
#include "dlist.h"
#include "h1.h"
#include "timeouts.h"

#define MAX_PIPELINE_BACKLOG (256 * 1024) /* unread replies: stop reading the connection */

enum conn_state { ST_HEAD, ST_CHECK, ST_BODY, ST_BUSY, ST_CLOSING };

typedef struct conn conn;

struct httpd_req {
    conn *c;
    char *method, *path, *query; /* query: after '?', "" if none */
    h1_head h;
    buf head; /* storage for the request line and headers */
    buf body;
    buf out_headers;
    int http10;
    int keep_alive;
    int chunked_reply; /* 1 during a chunked reply */
    int finished;
    httpd_close_fn on_close;
    void *close_ud;
    httpd_drain_fn on_drain;
    void *drain_ud;
};

struct conn {
    httpd *h;
    struct bufferevent *bev;
    enum conn_state st;
    httpd_req *req;
    h1_scan scan;
    h1_body body;
    int close_after; /* close once the output drains */
    int lingering;   /* write side shut; reading and discarding until EOF */
    int paused;      /* reading stopped: the client does not read its replies */
    size_t discarded;
    struct event *next_ev;  /* runs the next pipelined request on a fresh loop turn */
    struct event *deadline; /* the whole request (head and body) must arrive by then */
    int deadline_on;
    conn *next, *prev;
};

struct httpd {
    struct event_base *base;
    struct evconnlistener *lis;
    httpd_limits lim;
    httpd_handler_fn handler;
    httpd_head_fn head_check;
    void *ud;
    int port;
    int nconns;
    int accept_off;          /* listener disabled: at the cap, or pausing after an error */
    struct event *accept_ev; /* re-enables accepting after an error pause */
    int draining;            /* no listener; every reply closes its connection */
    conn *conns;
};

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void on_input(conn *c);

static const char *status_text(int st)
{
    switch (st) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 421:
        return "Misdirected Request";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    case 529:
        return "Overloaded";
    default:
        return "Status";
    }
}

static void req_free(httpd_req *r)
{
    if (!r) return;
    buf_free(&r->head);
    buf_free(&r->body);
    buf_free(&r->out_headers);
    free(r);
}

static void update_accepting(httpd *h)
{
    int want =
        h->nconns < h->lim.max_conns && !(h->accept_ev && evtimer_pending(h->accept_ev, NULL));
    if (!h->lis || want == !h->accept_off) return;
    if (want)
        evconnlistener_enable(h->lis);
    else
        evconnlistener_disable(h->lis);
    h->accept_off = !want;
}

static void conn_free(conn *c)
{
    httpd *h = c->h;
    httpd_req *r = c->req;
    c->req = NULL;
    if (r) {
        r->c = NULL;
        if (!r->finished && c->st == ST_BUSY && r->on_close) {
            httpd_close_fn fn = r->on_close;
            r->on_close = NULL;
            fn(r, r->close_ud);
        }
        req_free(r);
    }
    if (c->bev) bufferevent_free(c->bev);
    if (c->next_ev) event_free(c->next_ev);
    if (c->deadline) event_free(c->deadline);
    DLIST_UNLINK(h->conns, c);
    h->nconns--;
    free(c);
    update_accepting(h);
}

/* Inactivity timeout (keep-alive idle); 0: none. */
static void set_timeout(conn *c, int ms)
{
    if (ms <= 0) {
        bufferevent_set_timeouts(c->bev, NULL, NULL);
        return;
    }
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    bufferevent_set_timeouts(c->bev, &tv, NULL);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg);

/* A deadline for the request now arriving (not reset by further bytes). */
static void arm_deadline(conn *c, int ms)
{
    if (!c->deadline) c->deadline = evtimer_new(c->h->base, deadline_cb, c);
    if (!c->deadline) return;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(c->deadline, &tv);
    c->deadline_on = 1;
}

static void clear_deadline(conn *c)
{
    if (c->deadline) evtimer_del(c->deadline);
    c->deadline_on = 0;
}

/* Read from the client unless its unread replies are piling up (a client
 * that pipelines and never reads); the input side is capped by the read
 * high-watermark set at accept. */
static void update_reading(conn *c)
{
    size_t out = evbuffer_get_length(bufferevent_get_output(c->bev));
    int pause = c->st == ST_HEAD && out > MAX_PIPELINE_BACKLOG;
    if (pause == c->paused) return;
    c->paused = pause;
    if (pause)
        bufferevent_disable(c->bev, EV_READ);
    else
        bufferevent_enable(c->bev, EV_READ);
}

/* Is s fit for a header value (no control characters but tab)? A backend's
 * Content-Type with a bare CR must not split our reply's headers. */
static int clean_value(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f) return 0;
    return 1;
}

/* Write the status line and headers. */
static void write_head(httpd_req *r, int status, const char *ctype, long long clen)
{
    struct evbuffer *out = bufferevent_get_output(r->c->bev);
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status, status_text(status));
    if (ctype)
        evbuffer_add_printf(out, "Content-Type: %s\r\n",
                            clean_value(ctype) ? ctype : "application/octet-stream");
    if (status == 204)
        ; /* no body, no length (RFC 9110 8.6) */
    else if (clen >= 0)
        evbuffer_add_printf(out, "Content-Length: %lld\r\n", clen);
    else if (!r->http10)
        evbuffer_add(out, "Transfer-Encoding: chunked\r\n", 28);
    if (r->out_headers.len) evbuffer_add(out, r->out_headers.data, r->out_headers.len);
    if (r->c->h->draining) r->keep_alive = 0;
    evbuffer_add_printf(out, "Connection: %s\r\n\r\n", r->keep_alive ? "keep-alive" : "close");
}

/* An error httpd detects itself: JSON body, then close. */
static void fail_conn(conn *c, int status, const char *msg)
{
    httpd *h = c->h;
    char body[1024];
    size_t n = 0;
    if (h->lim.error_body) n = h->lim.error_body(status, msg, body, sizeof body);
    if (n == 0 || n >= sizeof body) n = (size_t)snprintf(body, sizeof body, "%s", msg);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: "
                        "%zu\r\nConnection: close\r\n\r\n",
                        status, status_text(status), n);
    evbuffer_add(out, body, n);
    if (c->req) {
        req_free(c->req);
        c->req = NULL;
    }
    c->st = ST_CLOSING;
    c->close_after = 1;
    /* keep reading (and discarding) so that a client still uploading does
     * not get a reset that would destroy this answer; see linger() */
    c->paused = 0;
    bufferevent_enable(c->bev, EV_READ);
    struct timeval wt = {10, 0};
    bufferevent_set_timeouts(c->bev, NULL, &wt);
    arm_deadline(c, TIMEOUT_CLOSING_MS);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    c->deadline_on = 0;
    if (c->st == ST_HEAD || c->st == ST_BODY)
        fail_conn(c, 408, "request not received in time");
    else if (c->st == ST_CLOSING)
        conn_free(c);
}

static void dispatch(conn *c)
{
    c->st = ST_BUSY;
    clear_deadline(c);
    set_timeout(c, 0); /* the handler may take minutes; EOF still arrives */
    c->h->handler(c->req, c->h->ud);
}

static int sink_body(void *ud, const char *p, size_t n)
{
    return buf_append(&((httpd_req *)ud)->body, p, n) == BUF_OK ? 0 : 1;
}

/* The rest of a Content-Length body, straight from the socket while it has
 * bytes, never past the body's end. libevent 2.1 reads at most 4 KiB per
 * readable event whatever max_single_read says (EVBUFFER_MAX_READ): a 1 MiB
 * body took 257 passes through the event loop, and as many callbacks. EOF
 * and errors are left for the bufferevent to find on its next read (the
 * socket stays readable); its read timeout restarts on each event, which
 * begins with its own read. Returns as read_body. */
static int read_body_direct(conn *c)
{
    static char chunk[256 * 1024]; /* one event loop, one reader at a time */
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    char err[160];
    while (c->body.left > 0) {
        size_t want = c->body.left < sizeof chunk ? (size_t)c->body.left : sizeof chunk;
        ssize_t got = recv(fd, chunk, want, 0);
        if (got <= 0) return 0;
        size_t used = 0;
        int rc =
            h1_body_feed(&c->body, chunk, (size_t)got, &used, sink_body, c->req, err, sizeof err);
        if (rc == 1) return 1;
        if (rc != 0) {
            fail_conn(c, rc, err);
            return -1;
        }
    }
    return 1;
}

/* Feed buffered input to the body decoder. Returns 1 when the body is
 * complete, 0 when more is needed, -1 after fail_conn. */
static int read_body(conn *c, struct evbuffer *in)
{
    char err[160];
    while (evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1) return 0;
        size_t used = 0;
        int rc = h1_body_feed(&c->body, v.iov_base, v.iov_len, &used, sink_body, c->req, err,
                              sizeof err);
        evbuffer_drain(in, used);
        if (rc == 1) return 1;
        if (rc != 0) {
            fail_conn(c, rc, err);
            return -1;
        }
    }
    if (c->body.chunked) return 0;
    return c->body.left == 0 ? 1 : read_body_direct(c);
}

/* Scan buffered input for the end of the head, from where the last scan
 * stopped (each byte is looked at once). Returns the head length, 0 when
 * incomplete, -1 when the framing is broken. */
static long scan_head(conn *c, struct evbuffer *in)
{
    size_t len = evbuffer_get_length(in);
    while (c->scan.off < len) {
        struct evbuffer_ptr ptr;
        if (evbuffer_ptr_set(in, &ptr, c->scan.off, EVBUFFER_PTR_SET) < 0) return 0;
        struct evbuffer_iovec v[8];
        int nv = evbuffer_peek(in, -1, &ptr, v, 8);
        if (nv > 8) nv = 8;
        if (nv <= 0) return 0;
        for (int i = 0; i < nv; i++) {
            size_t used;
            long hl = h1_scan_feed(&c->scan, v[i].iov_base, v[i].iov_len, &used);
            if (hl != 0) return hl;
        }
    }
    return 0;
}

/* The head is complete (hl bytes, c->scan.lead of them empty lines): parse
 * it, run the owner's check, and get ready for the body. Returns 0 to go on
 * reading the body, -1 when the request is answered or the connection
 * failed. */
static int take_head(conn *c, struct evbuffer *in, size_t hl)
{
    httpd *h = c->h;
    char err[200];
    evbuffer_drain(in, c->scan.lead);
    hl -= c->scan.lead;
    h1_scan_init(&c->scan);
    httpd_req *r = calloc(1, sizeof *r);
    if (!r) {
        fail_conn(c, 500, "out of memory");
        return -1;
    }
    r->c = c;
    buf_init(&r->head, h->lim.max_header + 1);
    buf_init(&r->body, h->lim.max_body);
    buf_init(&r->out_headers, 16384);
    c->req = r;
    if (buf_append(&r->head, evbuffer_pullup(in, (ev_ssize_t)hl), hl) != BUF_OK) {
        fail_conn(c, 500, "out of memory");
        return -1;
    }
    evbuffer_drain(in, hl);
    int st = h1_parse_head(r->head.data, r->head.len, &r->h, err, sizeof err);
    if (st) {
        fail_conn(c, st, err);
        return -1;
    }
    r->method = r->h.method;
    r->path = r->h.target;
    r->http10 = r->h.minor == 0;
    r->keep_alive = r->h.keep_alive;
    char *hash = strchr(r->path, '#');
    if (hash) *hash = '\0';
    char *q = strchr(r->path, '?');
    r->query = q ? q + 1 : (char *)"";
    if (q) *q = '\0';
    if (r->h.has_length && r->h.length > h->lim.max_body) {
        char m[200];
        snprintf(m, sizeof m,
                 "request body of %llu bytes is over the limit of %zu bytes "
                 "(--max-body / ANYCLAUDE_MAX_BODY)",
                 (unsigned long long)r->h.length, h->lim.max_body);
        fail_conn(c, 413, m);
        return -1;
    }
    h1_body_init(&c->body, &r->h, h->lim.max_body);
    /* auth, route and method are decided before the body is read (or
     * 100 Continue invites it): a refused request costs its head only */
    c->st = ST_CHECK;
    if (h->head_check) {
        h->head_check(r, h->ud);
        if (c->st != ST_CHECK) return -1; /* answered (r is gone) */
    }
    if (r->h.expect_continue && (c->body.chunked || c->body.left))
        evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
    c->st = ST_BODY;
    return 0;
}

static void on_input(conn *c)
{
    httpd *h = c->h;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    if (c->st == ST_HEAD) {
        update_reading(c);
        if (c->paused || evbuffer_get_length(in) == 0) return;
        if (!c->deadline_on) arm_deadline(c, h->lim.header_timeout_ms);
        long hl = scan_head(c, in);
        if (hl < 0) {
            fail_conn(c, 400, "malformed request head: lines must end in CRLF (bare LF or CR)");
            return;
        }
        if (hl == 0) {
            if (c->scan.off - c->scan.lead > h->lim.max_header)
                fail_conn(c, 431, "request headers too large");
            return;
        }
        if ((size_t)hl - c->scan.lead > h->lim.max_header) {
            fail_conn(c, 431, "request headers too large");
            return;
        }
        if (take_head(c, in, (size_t)hl) < 0) return;
    }
    if (c->st == ST_BODY) {
        int rc = read_body(c, in);
        if (rc == 1) dispatch(c);
        return;
    }
    if (c->st == ST_CLOSING) {
        size_t n = evbuffer_get_length(in);
        evbuffer_drain(in, n);
        c->discarded += n;
        if (c->discarded > 4 * h->lim.max_body + (64u << 20)) conn_free(c);
    }
    /* BUSY: leave bytes buffered (bounded by the read watermark) */
}

static void next_cb(evutil_socket_t fd, short what, void *arg)
{
    on_input(arg);
}

static void schedule_next(conn *c)
{
    if (!c->next_ev) c->next_ev = event_new(c->h->base, -1, 0, next_cb, c);
    if (c->next_ev) event_active(c->next_ev, 0, 0);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    on_input(arg);
}

/* The answer is out: shut our side and wait (bounded) for the client's EOF,
 * discarding what it still sends. Closing at once while the client is still
 * uploading makes the kernel reset the connection, and the reset can reach
 * the client before it has read our answer (a 413 for a huge body). */
static void linger(conn *c)
{
    if (c->lingering) return;
    c->lingering = 1;
    shutdown(bufferevent_getfd(c->bev), SHUT_WR);
    struct timeval rt = {5, 0};
    bufferevent_set_timeouts(c->bev, &rt, NULL);
    c->paused = 0;
    bufferevent_enable(c->bev, EV_READ);
    if (!c->deadline_on) arm_deadline(c, TIMEOUT_CLOSING_MS);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    if (c->close_after && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        linger(c);
        return;
    }
    if (c->st == ST_BUSY && c->req && c->req->on_drain) {
        c->req->on_drain(c->req, c->req->drain_ud);
        return;
    }
    /* output drained: parse requests that waited for it */
    if (c->st == ST_HEAD) {
        update_reading(c);
        if (evbuffer_get_length(bufferevent_get_input(bev)) > 0) schedule_next(c);
    }
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    conn *c = arg;
    if (what & BEV_EVENT_TIMEOUT) {
        if ((what & BEV_EVENT_READING) && c->st == ST_HEAD && c->req == NULL &&
            evbuffer_get_length(bufferevent_get_input(bev)) == 0) {
            conn_free(c); /* idle keep-alive connection */
            return;
        }
        if ((what & BEV_EVENT_READING) && (c->st == ST_HEAD || c->st == ST_BODY)) {
            fail_conn(c, 408, "request not received in time");
            return;
        }
    }
    conn_free(c); /* EOF, error, write timeout */
}

static void accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa, int slen,
                      void *arg)
{
    httpd *h = arg;
    if (h->nconns >= h->lim.max_conns) {
        evutil_closesocket(fd);
        update_accepting(h);
        return;
    }
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        evutil_closesocket(fd);
        return;
    }
    c->h = h;
    c->bev = bufferevent_socket_new(h->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        evutil_closesocket(fd);
        free(c);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    h1_scan_init(&c->scan);
    DLIST_PUSH(h->conns, c);
    h->nconns++;
    bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    /* (libevent 2.1 still reads at most 4 KiB per pass: see read_body_direct) */
    bufferevent_set_max_single_read(c->bev, 1024 * 1024);
    /* the input cap in every state: reading stops while this much waits */
    bufferevent_setwatermark(c->bev, EV_READ, 0, h->lim.max_header + 1024 * 1024);
    set_timeout(c, h->lim.header_timeout_ms);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    update_accepting(h);
}

static void accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    update_accepting(arg);
}

/* accept() failed (usually out of file descriptors): stop accepting for a
 * moment instead of spinning on a listener that stays readable. */
static void accept_error_cb(struct evconnlistener *lis, void *arg)
{
    httpd *h = arg;
    int e = EVUTIL_SOCKET_ERROR();
    static time_t last;
    static unsigned long suppressed;
    time_t now = time(NULL);
    if (now - last >= 10) {
        fprintf(stderr, "anyclaude: cannot accept connections (%s)%s; pausing accepts briefly\n",
                evutil_socket_error_to_string(e), suppressed ? " (repeated)" : "");
        last = now;
        suppressed = 0;
    } else {
        suppressed++;
    }
    if (!h->accept_ev) h->accept_ev = evtimer_new(h->base, accept_resume_cb, h);
    if (!h->accept_ev) return;
    struct timeval tv = {0, TIMEOUT_ACCEPT_PAUSE_MS * 1000};
    evtimer_add(h->accept_ev, &tv);
    update_accepting(h);
}

httpd *httpd_new(struct event_base *base, const char *host, int port, const httpd_limits *lim,
                 httpd_handler_fn handler, void *ud, char *err, size_t errlen)
{
    httpd *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->base = base;
    h->lim = *lim;
    if (!h->lim.max_header) h->lim.max_header = 64 * 1024;
    if (!h->lim.max_conns) h->lim.max_conns = 4096;
    if (!h->lim.header_timeout_ms) h->lim.header_timeout_ms = TIMEOUT_REQUEST_DEADLINE_S * 1000;
    if (!h->lim.idle_timeout_ms) h->lim.idle_timeout_ms = TIMEOUT_KEEPALIVE_MS;
    h->handler = handler;
    h->ud = ud;
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    char addr[200];
    /* evutil_parse_sockaddr_port refuses port 0: parse with 1, then set it */
    if (strchr(host, ':'))
        snprintf(addr, sizeof addr, "[%s]:1", host);
    else
        snprintf(addr, sizeof addr, "%s:1", strcmp(host, "localhost") == 0 ? "127.0.0.1" : host);
    memset(&ss, 0, sizeof ss);
    if (port < 0 || port > 65535 ||
        evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sl) < 0) {
        snprintf(err, errlen, "cannot listen on %s: not an IP address (use e.g. 127.0.0.1)", host);
        free(h);
        return NULL;
    }
    if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
    h->lis = evconnlistener_new_bind(
        base, accept_cb, h, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 1024,
        (struct sockaddr *)&ss, sl);
    if (!h->lis) {
        snprintf(err, errlen,
                 "cannot listen on %s:%d (%s); pick another port with --port or ANYCLAUDE_PORT",
                 host, port, strerror(errno));
        free(h);
        return NULL;
    }
    evconnlistener_set_error_cb(h->lis, accept_error_cb);
    struct sockaddr_storage bound;
    socklen_t bl = sizeof bound;
    if (getsockname(evconnlistener_get_fd(h->lis), (struct sockaddr *)&bound, &bl) == 0) {
        if (bound.ss_family == AF_INET)
            h->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
        else if (bound.ss_family == AF_INET6)
            h->port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
    }
    return h;
}

void httpd_set_head_check(httpd *h, httpd_head_fn fn)
{
    h->head_check = fn;
}

int httpd_port(const httpd *h)
{
    return h->port;
}

int httpd_connections(const httpd *h)
{
    return h->nconns;
}

void httpd_drain(httpd *h)
{
    if (h->draining) return;
    h->draining = 1;
    if (h->lis) evconnlistener_free(h->lis);
    h->lis = NULL;
}

size_t httpd_unsent(const httpd *h)
{
    size_t n = 0;
    for (const conn *c = h->conns; c; c = c->next)
        if (!c->lingering) n += evbuffer_get_length(bufferevent_get_output(c->bev));
    return n;
}

void httpd_flush(httpd *h)
{
    for (conn *c = h->conns; c; c = c->next) {
        struct evbuffer *out = bufferevent_get_output(c->bev);
        if (evbuffer_get_length(out) == 0) continue;
        evbuffer_unfreeze(out, 1);
        evbuffer_write(out, bufferevent_getfd(c->bev));
        evbuffer_freeze(out, 1);
    }
}

void httpd_free(httpd *h)
{
    if (!h) return;
    if (h->lis) evconnlistener_free(h->lis);
    h->lis = NULL;
    if (h->accept_ev) event_free(h->accept_ev);
    h->accept_ev = NULL;
    while (h->conns)
        conn_free(h->conns);
    free(h);
}

const char *httpd_req_method(const httpd_req *r)
{
    return r->method;
}

const char *httpd_req_path(const httpd_req *r)
{
    return r->path;
}

const char *httpd_req_query(const httpd_req *r)
{
    return r->query ? r->query : "";
}

int httpd_req_header_at(const httpd_req *r, int i, const char **name, const char **value)
{
    if (i < 0 || i >= r->h.n) return 0;
    *name = r->h.names[i];
    *value = r->h.values[i];
    return 1;
}

const char *httpd_req_header(const httpd_req *r, const char *name)
{
    return h1_header(&r->h, name);
}

const char *httpd_req_host(const httpd_req *r)
{
    return r->h.host;
}

int httpd_req_has_body(const httpd_req *r)
{
    return r->h.chunked || r->h.length > 0;
}

void httpd_req_on_drain(httpd_req *r, httpd_drain_fn fn, void *ud)
{
    r->on_drain = fn;
    r->drain_ud = ud;
}

size_t httpd_req_queued(const httpd_req *r)
{
    return r->c ? evbuffer_get_length(bufferevent_get_output(r->c->bev)) : 0;
}

const char *httpd_req_body(const httpd_req *r, size_t *len)
{
    *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

void httpd_req_on_close(httpd_req *r, httpd_close_fn fn, void *ud)
{
    r->on_close = fn;
    r->close_ud = ud;
}

void httpd_add_header(httpd_req *r, const char *name, const char *value)
{
    if (strpbrk(name, "\r\n:") || !clean_value(name) || !clean_value(value)) return;
    buf_appendf(&r->out_headers, "%s: %s\r\n", name, value);
}

/* The reply is complete: go back to reading, or close. */
static void finish(httpd_req *r)
{
    conn *c = r->c;
    r->finished = 1;
    if (!c) return;
    c->req = NULL;
    /* answered from the head check: a body that was not read ends the
     * connection (its bytes would be taken for the next request) */
    int keep = r->keep_alive && !c->h->draining && !(c->st == ST_CHECK && httpd_req_has_body(r));
    req_free(r);
    if (!keep) {
        c->st = ST_CLOSING;
        c->close_after = 1;
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) linger(c);
        return;
    }
    c->st = ST_HEAD;
    clear_deadline(c);
    set_timeout(c, c->h->lim.idle_timeout_ms);
    /* A pipelined request waits for a fresh loop turn: running it from here
     * would nest one call chain per buffered request (thousands overflow
     * the stack), and a reply finished inside libcurl's callback must not
     * start a new upstream transfer from within it. */
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) schedule_next(c);
}

void httpd_reply(httpd_req *r, int status, const char *ctype, const char *body, size_t len)
{
    if (!r->c) {
        r->finished = 1;
        return;
    }
    if (r->c->st == ST_CHECK && httpd_req_has_body(r)) r->keep_alive = 0;
    write_head(r, status, ctype, (long long)len);
    if (len && strcmp(r->method, "HEAD") != 0)
        evbuffer_add(bufferevent_get_output(r->c->bev), body, len);
    finish(r);
}

void httpd_reply_start(httpd_req *r, int status, const char *ctype)
{
    if (!r->c) return;
    if (r->http10) r->keep_alive = 0; /* no chunking: the close ends the body */
    r->chunked_reply = 1;
    write_head(r, status, ctype, -1);
}

size_t httpd_reply_chunk(httpd_req *r, const char *p, size_t n)
{
    if (!r->c) return 0;
    struct evbuffer *out = bufferevent_get_output(r->c->bev);
    if (n) {
        if (r->http10) {
            evbuffer_add(out, p, n);
        } else {
            char head[2 * sizeof n + 2]; /* the size in hex, CRLF: no printf per chunk */
            size_t k = sizeof head - 2;
            for (size_t v = n; v; v >>= 4)
                head[--k] = "0123456789abcdef"[v & 15];
            size_t hl = sizeof head - 2 - k;
            memmove(head, head + k, hl);
            memcpy(head + hl, "\r\n", 2);
            evbuffer_add(out, head, hl + 2);
            evbuffer_add(out, p, n);
            evbuffer_add(out, "\r\n", 2);
        }
        /* write through now: libcurl may read a whole fast upstream stream in
         * one curl_multi_socket_action(), and the loop would only write after
         * it. The socket bufferevent keeps its output's start frozen except
         * in its own write callback; we do its work early. */
        evbuffer_unfreeze(out, 1);
        evbuffer_write(out, bufferevent_getfd(r->c->bev));
        evbuffer_freeze(out, 1);
    }
    return evbuffer_get_length(out);
}

void httpd_abort(httpd_req *r)
{
    conn *c = r->c;
    r->finished = 1;
    r->on_close = NULL;
    if (!c) return;
    conn_free(c); /* frees r */
}

void httpd_reply_end(httpd_req *r)
{
    if (r->c && r->chunked_reply && !r->http10)
        evbuffer_add(bufferevent_get_output(r->c->bev), "0\r\n\r\n", 5);
    finish(r);
}
