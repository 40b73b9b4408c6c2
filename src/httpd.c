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

#include "buf.h"

#define MAX_HEADERS 100

enum conn_state { ST_HEAD, ST_BODY, ST_BUSY, ST_CLOSING };

typedef struct conn conn;

struct httpd_req {
    conn *c;
    char *method, *path, *query; /* query: after '?', "" if none */
    char *names[MAX_HEADERS], *values[MAX_HEADERS];
    int nheaders;
    buf head; /* storage for method, path and headers */
    buf body;
    buf out_headers;
    int http10;
    int keep_alive;
    int chunked_reply; /* 1 during a chunked reply */
    int finished;
    httpd_close_fn on_close;
    void *close_ud;
};

struct conn {
    httpd *h;
    struct bufferevent *bev;
    enum conn_state st;
    httpd_req *req;
    int body_chunked;
    size_t body_left; /* Content-Length left, or current chunk left */
    int chunk_phase;  /* chunked: 0 size line, 1 data, 2 CRLF after data, 3 trailers */
    int close_after;  /* close once the output drains */
    int lingering;    /* write side shut; reading and discarding until EOF */
    size_t discarded;
    struct event *next_ev; /* runs the next pipelined request on a fresh loop turn */
    conn *next, *prev;
};

struct httpd {
    struct event_base *base;
    struct evconnlistener *lis;
    httpd_limits lim;
    httpd_handler_fn handler;
    void *ud;
    int port;
    int nconns;
    int draining; /* no listener; every reply closes its connection */
    conn *conns;
};

static void conn_read_cb(struct bufferevent *bev, void *arg);

static const char *status_text(int st)
{
    switch (st) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
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
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
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
    if (c->prev)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    h->nconns--;
    free(c);
}

static void set_timeout(conn *c, int ms)
{
    if (ms <= 0) {
        bufferevent_set_timeouts(c->bev, NULL, NULL);
        return;
    }
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    bufferevent_set_timeouts(c->bev, &tv, NULL);
}

/* Write the status line and headers. */
static void write_head(httpd_req *r, int status, const char *ctype, long long clen)
{
    struct evbuffer *out = bufferevent_get_output(r->c->bev);
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status, status_text(status));
    if (ctype) evbuffer_add_printf(out, "Content-Type: %s\r\n", ctype);
    if (clen >= 0)
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
    struct timeval rt = {10, 0}, wt = {10, 0};
    bufferevent_set_timeouts(c->bev, &rt, &wt);
}

/* Parse the buffered head (request line + headers, ending in a blank line). */
static int parse_head(conn *c, httpd_req *r, char *err, size_t errlen)
{
    char *p = r->head.data;
    char *end = p + r->head.len;
    char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) return -1;
    *eol = '\0';
    if (eol > p && eol[-1] == '\r') eol[-1] = '\0';
    char *sp1 = strchr(p, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        snprintf(err, errlen, "malformed request line");
        return -1;
    }
    *sp1 = '\0';
    *sp2 = '\0';
    r->method = p;
    r->path = sp1 + 1;
    r->http10 = sp2[8] == '0';
    r->keep_alive = !r->http10;
    char *h = strchr(r->path, '#');
    if (h) *h = '\0';
    char *q = strchr(r->path, '?');
    r->query = q ? q + 1 : sp2; /* sp2 is now "" */
    if (q) *q = '\0';
    p = eol + 1;
    while (p < end) {
        eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) break;
        *eol = '\0';
        if (eol > p && eol[-1] == '\r') eol[-1] = '\0';
        if (*p == '\0') break; /* blank line */
        if (*p == ' ' || *p == '\t') {
            snprintf(err, errlen, "folded header lines are not accepted");
            return -1;
        }
        char *colon = strchr(p, ':');
        if (!colon || colon == p || colon[-1] == ' ' || colon[-1] == '\t') {
            /* "Name : value" is refused: proxies disagree on what it means */
            snprintf(err, errlen, "malformed header line");
            return -1;
        }
        for (char *vp = colon + 1; *vp; vp++)
            if (*vp == '\r') {
                snprintf(err, errlen, "control character in a header value");
                return -1;
            }
        if (r->nheaders >= MAX_HEADERS) {
            snprintf(err, errlen, "more than %d headers", MAX_HEADERS);
            return -1;
        }
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vl = strlen(v);
        while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            v[--vl] = '\0';
        r->names[r->nheaders] = p;
        r->values[r->nheaders] = v;
        r->nheaders++;
        p = eol + 1;
    }
    return 0;
}

static void dispatch(conn *c)
{
    c->st = ST_BUSY;
    set_timeout(c, 0); /* the handler may take minutes; EOF still arrives */
    c->h->handler(c->req, c->h->ud);
}

/* Read body bytes from input. Returns 1 when the body is complete, 0 when
 * more is needed, -1 after fail_conn. */
static int read_body(conn *c, struct evbuffer *in)
{
    httpd_req *r = c->req;
    size_t max = c->h->lim.max_body;
    for (;;) {
        if (!c->body_chunked) {
            size_t avail = evbuffer_get_length(in);
            size_t take = avail < c->body_left ? avail : c->body_left;
            if (take) {
                if (buf_append(&r->body, evbuffer_pullup(in, (ev_ssize_t)take), take) != BUF_OK) {
                    fail_conn(c, 500, "out of memory reading the request body");
                    return -1;
                }
                evbuffer_drain(in, take);
                c->body_left -= take;
            }
            return c->body_left == 0;
        }
        if (c->chunk_phase == 0 || c->chunk_phase == 2 || c->chunk_phase == 3) {
            size_t n;
            char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
            if (!line) {
                if (evbuffer_get_length(in) > 4096) {
                    fail_conn(c, 400, "malformed chunked request body");
                    return -1;
                }
                return 0;
            }
            if (c->chunk_phase == 2) { /* CRLF after data */
                int ok = n == 0;
                free(line);
                if (!ok) {
                    fail_conn(c, 400, "malformed chunked request body");
                    return -1;
                }
                c->chunk_phase = 0;
                continue;
            }
            if (c->chunk_phase == 3) { /* trailers until a blank line */
                int blank = n == 0;
                free(line);
                if (blank) return 1;
                continue;
            }
            char *e;
            errno = 0;
            unsigned long long sz = strtoull(line, &e, 16);
            int bad = e == line || errno || (*e && *e != ';' && *e != ' ');
            free(line);
            if (bad) {
                fail_conn(c, 400, "malformed chunk size in the request body");
                return -1;
            }
            if (sz > max || r->body.len + sz > max) {
                fail_conn(c, 413, "request body too large");
                return -1;
            }
            if (sz == 0) {
                c->chunk_phase = 3;
                continue;
            }
            c->body_left = (size_t)sz;
            c->chunk_phase = 1;
        }
        if (c->chunk_phase == 1) {
            size_t avail = evbuffer_get_length(in);
            if (avail == 0) return 0;
            size_t take = avail < c->body_left ? avail : c->body_left;
            if (buf_append(&r->body, evbuffer_pullup(in, (ev_ssize_t)take), take) != BUF_OK) {
                fail_conn(c, 413, "request body too large");
                return -1;
            }
            evbuffer_drain(in, take);
            c->body_left -= take;
            if (c->body_left == 0) c->chunk_phase = 2;
        }
    }
}

static void start_request(conn *c)
{
    httpd *h = c->h;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    for (;;) {
        if (c->st == ST_HEAD) {
            /* skip stray CRLFs between requests */
            while (evbuffer_get_length(in) > 0) {
                unsigned char ch;
                evbuffer_copyout(in, &ch, 1);
                if (ch != '\r' && ch != '\n') break;
                evbuffer_drain(in, 1);
            }
            if (evbuffer_get_length(in) == 0) return;
            struct evbuffer_ptr pos = evbuffer_search(in, "\r\n\r\n", 4, NULL);
            size_t headlen;
            if (pos.pos >= 0) {
                headlen = (size_t)pos.pos + 4;
            } else {
                pos = evbuffer_search(in, "\n\n", 2, NULL);
                if (pos.pos < 0) {
                    if (evbuffer_get_length(in) > h->lim.max_header) {
                        fail_conn(c, 431, "request headers too large");
                    } else {
                        set_timeout(c, h->lim.header_timeout_ms);
                    }
                    return;
                }
                headlen = (size_t)pos.pos + 2;
            }
            if (headlen > h->lim.max_header) {
                fail_conn(c, 431, "request headers too large");
                return;
            }
            httpd_req *r = calloc(1, sizeof *r);
            if (!r) {
                fail_conn(c, 500, "out of memory");
                return;
            }
            r->c = c;
            buf_init(&r->head, h->lim.max_header + 1);
            buf_init(&r->body, h->lim.max_body);
            buf_init(&r->out_headers, 16384);
            c->req = r;
            if (buf_append(&r->head, evbuffer_pullup(in, (ev_ssize_t)headlen), headlen) != BUF_OK) {
                fail_conn(c, 500, "out of memory");
                return;
            }
            evbuffer_drain(in, headlen);
            char err[128];
            if (memchr(r->head.data, '\0', r->head.len)) {
                fail_conn(c, 400, "NUL byte in the request head");
                return;
            }
            if (parse_head(c, r, err, sizeof err) < 0) {
                fail_conn(c, 400, err);
                return;
            }
            /* one body length, stated once: anything else can desynchronise
             * this server from a proxy in front of it */
            int ncl = 0, nte = 0;
            const char *cl0 = NULL;
            for (int i = 0; i < r->nheaders; i++) {
                if (strcasecmp(r->names[i], "Content-Length") == 0) {
                    if (ncl++ && strcmp(cl0, r->values[i]) != 0) {
                        fail_conn(c, 400, "conflicting Content-Length headers");
                        return;
                    }
                    cl0 = r->values[i];
                }
                if (strcasecmp(r->names[i], "Transfer-Encoding") == 0) nte++;
            }
            if (nte > 1 || (nte && ncl)) {
                fail_conn(
                    c, 400,
                    "both Content-Length and Transfer-Encoding, or several Transfer-Encodings");
                return;
            }
            const char *conn_h = httpd_req_header(r, "Connection");
            if (conn_h && strcasecmp(conn_h, "close") == 0) r->keep_alive = 0;
            if (conn_h && strcasecmp(conn_h, "keep-alive") == 0) r->keep_alive = 1;
            const char *te = httpd_req_header(r, "Transfer-Encoding");
            const char *cl = httpd_req_header(r, "Content-Length");
            c->body_chunked = 0;
            c->chunk_phase = 0;
            c->body_left = 0;
            if (te) {
                if (strcasecmp(te, "chunked") != 0) {
                    fail_conn(c, 400, "unsupported Transfer-Encoding");
                    return;
                }
                c->body_chunked = 1;
            } else if (cl) {
                char *e;
                errno = 0;
                unsigned long long n = strtoull(cl, &e, 10);
                if (e == cl || *e || errno || cl[0] == '-') {
                    fail_conn(c, 400, "malformed Content-Length");
                    return;
                }
                if (n > h->lim.max_body) {
                    char m[160];
                    snprintf(m, sizeof m,
                             "request body of %llu bytes is over the limit of %zu bytes "
                             "(--max-body / ANYCLAUDE_MAX_BODY)",
                             n, h->lim.max_body);
                    fail_conn(c, 413, m);
                    return;
                }
                c->body_left = (size_t)n;
            }
            const char *ex = httpd_req_header(r, "Expect");
            if (ex && strcasecmp(ex, "100-continue") == 0 && (c->body_chunked || c->body_left))
                evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
            c->st = ST_BODY;
        }
        if (c->st == ST_BODY) {
            int rc = read_body(c, in);
            if (rc < 0) return;
            if (rc == 0) {
                set_timeout(c, h->lim.header_timeout_ms);
                return;
            }
            dispatch(c);
            return;
        }
        return; /* BUSY or CLOSING: leave bytes buffered */
    }
}

#define MAX_PIPELINE_BACKLOG (1024 * 1024) /* unread replies before we stop parsing */

static void next_cb(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    if (c->st != ST_HEAD) return;
    /* a client that pipelines without reading: wait for its output to drain */
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) > MAX_PIPELINE_BACKLOG) return;
    start_request(c);
}

static void schedule_next(conn *c)
{
    if (!c->next_ev) c->next_ev = event_new(c->h->base, -1, 0, next_cb, c);
    if (c->next_ev) event_active(c->next_ev, 0, 0);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    if (c->st == ST_BUSY) {
        /* a next request while this one is in progress: buffer, bounded */
        if (evbuffer_get_length(bufferevent_get_input(bev)) >
            c->h->lim.max_header + c->h->lim.max_body)
            conn_free(c);
        return;
    }
    if (c->st == ST_CLOSING) {
        size_t n = evbuffer_get_length(bufferevent_get_input(bev));
        evbuffer_drain(bufferevent_get_input(bev), n);
        c->discarded += n;
        if (c->discarded > 4 * c->h->lim.max_body + (64u << 20)) conn_free(c);
        return;
    }
    start_request(c);
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
    bufferevent_enable(c->bev, EV_READ);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    if (c->close_after && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        linger(c);
        return;
    }
    /* output drained: parse requests that waited for it */
    if (c->st == ST_HEAD && evbuffer_get_length(bufferevent_get_input(bev)) > 0) schedule_next(c);
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
    c->next = h->conns;
    if (h->conns) h->conns->prev = c;
    h->conns = c;
    h->nconns++;
    bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    /* libevent reads 4 KiB per pass by default: a 1 MiB body took 256 */
    bufferevent_set_max_single_read(c->bev, 1024 * 1024);
    set_timeout(c, h->lim.header_timeout_ms);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
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
    if (!h->lim.header_timeout_ms) h->lim.header_timeout_ms = 60000;
    if (!h->lim.idle_timeout_ms) h->lim.idle_timeout_ms = 120000;
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
    if (i < 0 || i >= r->nheaders) return 0;
    *name = r->names[i];
    *value = r->values[i];
    return 1;
}

const char *httpd_req_header(const httpd_req *r, const char *name)
{
    for (int i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->names[i], name) == 0) return r->values[i];
    return NULL;
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
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) return;
    buf_appendf(&r->out_headers, "%s: %s\r\n", name, value);
}

/* The reply is complete: go back to reading, or close. */
static void finish(httpd_req *r)
{
    conn *c = r->c;
    r->finished = 1;
    if (!c) return;
    c->req = NULL;
    int keep = r->keep_alive && !c->h->draining;
    req_free(r);
    if (!keep) {
        c->st = ST_CLOSING;
        c->close_after = 1;
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) linger(c);
        return;
    }
    c->st = ST_HEAD;
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
            evbuffer_add_printf(out, "%zx\r\n", n);
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
