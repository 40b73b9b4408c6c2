/*
 * upstream: libcurl multi-socket on libevent (see upstream.h).
 *
 * curl tells us which sockets to watch (socket_cb) and when to wake it
 * (timer_cb); libevent tells curl what happened (curl_multi_socket_action).
 * Callbacks into the server run inside curl's write/header callbacks, so
 * cancellation from inside them only marks the request; marked requests are
 * removed from the multi handle once curl has returned.
 */
#include "upstream.h"

#define UPSTREAM_UPLOAD_MIN (64 * 1024)
#define UPSTREAM_UPLOAD_MAX (2 * 1024 * 1024)
#include "timeouts.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "dlist.h"
#include "via.h"
struct upstream_req {
    upstream *u;
    CURL *easy;
    struct curl_slist *headers;
    upstream_cbs cbs;
    void *ud;
    long status;
    int headers_seen;
    int cancelled; /* no more callbacks; remove when safe */
    int drain;     /* no more callbacks, but let the transfer end (the connection is reused) */
    size_t drained;
    int connected;
    int want_pause; /* the caller asked for a pause */
    int paused;     /* curl holds the transfer (CURL_WRITEFUNC_PAUSE) */
    char errbuf[CURL_ERROR_SIZE];
    upstream_req *next, *prev;
};

struct upstream {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    upstream_req *reqs;
    int nreqs;
    int depth; /* > 0 while inside curl_multi_socket_action */
};

typedef struct sock_ctx {
    struct event *ev;
    upstream *u;
} sock_ctx;

static void req_unlink_free(upstream_req *r)
{
    upstream *u = r->u;
    DLIST_UNLINK(u->reqs, r);
    u->nreqs--;
    curl_multi_remove_handle(u->multi, r->easy);
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r);
}

static void sweep_cancelled(upstream *u)
{
    upstream_req *r = u->reqs;
    while (r) {
        upstream_req *next = r->next;
        if (r->cancelled) req_unlink_free(r);
        r = next;
    }
}

static int refused_code(CURLcode c)
{
    return c == CURLE_COULDNT_CONNECT || c == CURLE_COULDNT_RESOLVE_HOST ||
           c == CURLE_COULDNT_RESOLVE_PROXY || c == CURLE_OPERATION_TIMEDOUT;
}

static void check_done(upstream *u)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(u->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        upstream_req *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (!r) continue;
        CURLcode code = m->data.result;
        if (!r->cancelled && !r->drain) {
            char err[CURL_ERROR_SIZE + 64];
            err[0] = '\0';
            if (code != CURLE_OK) {
                snprintf(err, sizeof err, "%s",
                         r->errbuf[0] ? r->errbuf : curl_easy_strerror(code));
            }
            int refused = code != CURLE_OK && !r->connected && refused_code(code);
            r->cancelled = 1; /* no more callbacks */
            u->depth++;       /* a cancel from inside on_done only marks */
            r->cbs.on_done(r->ud, code == CURLE_OK, refused, r->status, err);
            u->depth--;
        }
        req_unlink_free(r);
    }
}

static void run_action(upstream *u, curl_socket_t fd, int mask)
{
    int running;
    u->depth++;
    curl_multi_socket_action(u->multi, fd, mask, &running);
    u->depth--;
    if (u->depth == 0) {
        check_done(u);
        sweep_cancelled(u);
    }
}

static void event_cb(evutil_socket_t fd, short what, void *arg)
{
    upstream *u = arg;
    int mask = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    run_action(u, fd, mask);
}

static void timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
    run_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
    upstream *u = arg;
    if (timeout_ms < 0) {
        evtimer_del(u->timer);
        return 0;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(u->timer, &tv);
    return 0;
}

static int socket_cb(CURL *e, curl_socket_t s, int what, void *arg, void *sockp)
{
    upstream *u = arg;
    sock_ctx *sc = sockp;
    if (what == CURL_POLL_REMOVE) {
        if (sc) {
            event_free(sc->ev);
            free(sc);
            curl_multi_assign(u->multi, s, NULL);
        }
        return 0;
    }
    short kind = (short)((what & CURL_POLL_IN ? EV_READ : 0) |
                         (what & CURL_POLL_OUT ? EV_WRITE : 0) | EV_PERSIST);
    if (!sc) {
        sc = calloc(1, sizeof *sc);
        if (!sc) return -1;
        sc->u = u;
        curl_multi_assign(u->multi, s, sc);
    } else {
        event_free(sc->ev);
    }
    sc->ev = event_new(u->base, s, kind, event_cb, u);
    if (!sc->ev) return -1;
    event_add(sc->ev, NULL);
    return 0;
}

static size_t write_cb(char *p, size_t size, size_t n, void *arg)
{
    upstream_req *r = arg;
    if (r->cancelled) return 0;
    if (r->want_pause && !r->drain) {
        r->paused = 1; /* curl keeps this data and hands it back on resume */
        return CURL_WRITEFUNC_PAUSE;
    }
    if (r->drain) {
        /* bounded: a backend that keeps talking after the end is cut off */
        r->drained += size * n;
        return r->drained > (1u << 20) ? 0 : size * n;
    }
    int rc = r->cbs.on_data(r->ud, p, size * n);
    if (rc == 2) { /* the caller is done: read the rest (the last chunk) and keep the connection */
        r->drain = 1;
        return size * n;
    }
    if (rc != 0) {
        r->cancelled = 1;
        return 0;
    }
    return size * n;
}

static size_t header_cb(char *p, size_t size, size_t n, void *arg)
{
    upstream_req *r = arg;
    size_t len = size * n;
    if (r->cancelled) return 0;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* a new status line (also after 100-continue or redirects) */
        long st = 0;
        const char *sp = memchr(p, ' ', len);
        if (sp)
            for (sp++; sp < p + len && *sp >= '0' && *sp <= '9'; sp++)
                st = st * 10 + (*sp - '0');
        r->status = st;
        r->headers_seen = 0;
    } else if (len > 2 && r->status >= 200 && !r->headers_seen && r->cbs.on_header) {
        const char *colon = memchr(p, ':', len);
        if (colon) {
            size_t vl = len - (size_t)(colon + 1 - p);
            const char *v = colon + 1;
            while (vl > 0 && (*v == ' ' || *v == '\t'))
                v++, vl--;
            while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
                vl--;
            r->cbs.on_header(r->ud, p, (size_t)(colon - p), v, vl);
            if (r->cancelled) return 0;
        }
    } else if (len <= 2 && r->status >= 200 && !r->headers_seen) {
        /* blank line: headers complete */
        r->headers_seen = 1;
        if (r->cbs.on_headers && r->cbs.on_headers(r->ud, r->status) != 0) {
            r->cancelled = 1;
            return 0;
        }
    }
    return len;
}

static int prereq_cb(void *arg, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                     int conn_local_port)
{
    upstream_req *r = arg;
    r->connected = 1;
    if (!r->cancelled && r->cbs.on_connected) r->cbs.on_connected(r->ud);
    return r->cancelled ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
}

upstream *upstream_new(struct event_base *base)
{
    upstream *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->base = base;
    u->multi = curl_multi_init();
    u->timer = evtimer_new(base, timer_event_cb, u);
    if (!u->multi || !u->timer) {
        upstream_free(u);
        return NULL;
    }
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, 64L);
    return u;
}

void upstream_free(upstream *u)
{
    if (!u) return;
    while (u->reqs)
        req_unlink_free(u->reqs);
    if (u->multi) curl_multi_cleanup(u->multi);
    if (u->timer) event_free(u->timer);
    free(u);
}

const char *upstream_self(void)
{
    static char id[VIA_ID_LEN + 1];
    if (!id[0]) {
        unsigned long long v = 0;
        if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v)
            v = (unsigned long long)time(NULL) * 0x9e3779b97f4a7c15ULL ^
                (unsigned long long)getpid();
        snprintf(id, sizeof id, "%016llx", v);
    }
    return id;
}

int upstream_header(struct curl_slist **h, const char *line)
{
    struct curl_slist *n = curl_slist_append(*h, line);
    if (!n) return -1;
    *h = n;
    return 0;
}

int upstream_via(struct curl_slist **h, const char *list)
{
    char line[VIA_LINE_MAX];
    return upstream_header(h, via_line(list, upstream_self(), line, sizeof line));
}

void upstream_easy_common(void *easy, const char *url, upstream_write_fn write, void *ud,
                          char *errbuf, long connect_ms, long total_ms)
{
    CURL *e = easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, ud);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    if (total_ms > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
}

upstream_req *upstream_start(upstream *u, const upstream_opts *o, const upstream_cbs *cbs, void *ud)
{
    upstream_req *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->u = u;
    r->cbs = *cbs;
    r->ud = ud;
    r->easy = curl_easy_init();
    if (!r->easy) goto fail;
    CURL *e = r->easy;
    upstream_easy_common(e, o->url, write_cb, r, r->errbuf,
                         o->connect_timeout_ms > 0 ? o->connect_timeout_ms
                                                   : (long)TIMEOUT_UPSTREAM_CONNECT_MS,
                         o->total_timeout_ms);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, prereq_cb);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, r);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, NULL);
    if (upstream_header(&r->headers, "Content-Type: application/json") < 0 ||
        upstream_header(&r->headers,
                        o->sse ? "Accept: text/event-stream" : "Accept: application/json") < 0 ||
        upstream_header(&r->headers, "Expect:") < 0)
        goto fail;
    if (!o->as_client && upstream_via(&r->headers, o->via) < 0) goto fail;
    if (o->bearer && *o->bearer) {
        char h[1024];
        snprintf(h, sizeof h, "Authorization: Bearer %s", o->bearer);
        if (upstream_header(&r->headers, h) < 0) goto fail;
    }
    for (const char *const *h = o->headers; h && *h; h++)
        if (upstream_header(&r->headers, *h) < 0) goto fail;
    if (o->ca_file && *o->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    if (strcmp(o->method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, o->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
        /* libcurl copies a body through its upload buffer (64 KiB), one
         * buffer per pass of the event loop: a 1 MiB body took 16 passes.
         * A buffer the body's size (libcurl allows 2 MiB), held only while
         * this transfer lives, sends it in as few writes as the socket
         * takes. */
        if (o->body_len > UPSTREAM_UPLOAD_MIN) {
            long ul = o->body_len < UPSTREAM_UPLOAD_MAX ? (long)o->body_len : UPSTREAM_UPLOAD_MAX;
            curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, ul);
        }
    }
    DLIST_PUSH(u->reqs, r);
    u->nreqs++;
    if (curl_multi_add_handle(u->multi, e) != CURLM_OK) {
        req_unlink_free(r);
        return NULL;
    }
    return r;
fail:
    if (r->easy) curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r);
    return NULL;
}

void upstream_cancel(upstream_req *r)
{
    if (!r) return;
    r->cancelled = 1;
    if (r->u->depth == 0) req_unlink_free(r);
}

void upstream_pause(upstream_req *r, int pause)
{
    if (!r || r->cancelled) return;
    r->want_pause = pause;
    if (pause || !r->paused) return;
    r->paused = 0;
    upstream *u = r->u;
    /* resuming delivers held data through write_cb at once: cancellation
     * from in there must only mark the request, as inside socket actions */
    u->depth++;
    curl_easy_pause(r->easy, CURLPAUSE_CONT);
    u->depth--;
    if (u->depth == 0) {
        check_done(u);
        sweep_cancelled(u);
    }
}

int upstream_active(const upstream *u)
{
    return u->nreqs;
}
