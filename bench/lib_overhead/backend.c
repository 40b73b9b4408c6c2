/*
 * backend.c: the fast scripted OpenAI-compatible backend bench/overhead
 * measures against by default (bench/lib_overhead/backend.mjs is the same in
 * Node). One thread, epoll, non-blocking sockets, HTTP/1.1 keep-alive.
 *
 * POST .../chat/completions: reads (and discards) the whole request body
 * (Content-Length or chunked), then streams CHUNKS chat.completion.chunk
 * events of a few tokens each, one send() per event with no delay (the rest
 * waits for EPOLLOUT when the socket is full), then a finish_reason chunk, a
 * usage chunk and `data: [DONE]`, as a chunked reply. The reply is rendered
 * once at start. GET /health and .../models answer small JSON; anything else 404.
 *
 *   cc -O2 -o backend backend.c && ./backend PORT [CHUNKS]   (prints "listening PORT")
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 65536

static char *stream_reply; /* headers + every chunked-framed event */
static size_t stream_len;
static size_t *cuts; /* end offset of each send() slice */
static size_t ncuts;

enum { S_HEAD, S_BODY_LEN, S_BODY_CHUNKED, S_WRITE };
enum { CH_SIZE, CH_EXT, CH_DATA, CH_DATA_CRLF, CH_TRAILER };

typedef struct conn {
    int fd;
    int state;
    char head[HEAD_MAX];
    size_t head_len;
    long long body_left;
    int ch_state;
    long long ch_size;
    int ch_line_empty;
    int want_close;
    /* reply */
    const char *out;
    size_t out_len, out_off, cut_idx;
    int out_is_stream;
    char small[512];
} conn;

static int ep;

static void die(const char *m) {
    perror(m);
    exit(1);
}

static void append(char **b, size_t *len, size_t *cap, const char *s, size_t n) {
    if (*len + n > *cap) {
        while (*len + n > *cap) *cap = *cap ? *cap * 2 : 65536;
        *b = realloc(*b, *cap);
        if (!*b) die("realloc");
    }
    memcpy(*b + *len, s, n);
    *len += n;
}

static void render(int chunks) {
    static const char *words[] = {"the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog",
                                  "while", "streaming", "tokens", "from", "a", "local", "model", "to",
                                  "Claude", "Code"};
    const size_t nw = sizeof words / sizeof *words;
    size_t cap = 0, cutcap = (size_t)chunks + 8;
    cuts = calloc(cutcap, sizeof *cuts);
    const char *hdr = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n";
    append(&stream_reply, &stream_len, &cap, hdr, strlen(hdr));
    const char *pre = "{\"id\":\"chatcmpl-bench0001\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
                      "\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":";
    char ev[1024], frame[1100];
    for (int i = -1; i <= chunks + 2; i++) {
        int n;
        if (i == -1)
            n = snprintf(ev, sizeof ev, "data: %s{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n", pre);
        else if (i < chunks)
            n = snprintf(ev, sizeof ev, "data: %s{\"content\":\" %s %s %s\"},\"finish_reason\":null}]}\n\n", pre,
                         words[(3 * i) % nw], words[(3 * i + 1) % nw], words[(3 * i + 2) % nw]);
        else if (i == chunks)
            n = snprintf(ev, sizeof ev, "data: %s{},\"finish_reason\":\"stop\"}]}\n\n", pre);
        else if (i == chunks + 1)
            n = snprintf(ev, sizeof ev,
                         "data: {\"id\":\"chatcmpl-bench0001\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
                         "\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":15000,\"completion_tokens\":%d,"
                         "\"total_tokens\":%d}}\n\n",
                         3 * chunks, 15000 + 3 * chunks);
        else
            n = snprintf(ev, sizeof ev, "data: [DONE]\n\n");
        int fn = snprintf(frame, sizeof frame, "%x\r\n%.*s\r\n%s", n, n, ev, i == chunks + 2 ? "0\r\n\r\n" : "");
        append(&stream_reply, &stream_len, &cap, frame, (size_t)fn);
        cuts[ncuts++] = stream_len;
    }
}

static void set_nb(int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void conn_close(conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

static void watch(conn *c, int out) {
    /* while blocked on a reply, wait for EPOLLOUT only (no pipelining, so no
     * input to read; a level-triggered EPOLLIN would spin) */
    struct epoll_event e = {.events = out ? EPOLLOUT : EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

static void reply_small(conn *c, int code, const char *body) {
    int n = snprintf(c->small, sizeof c->small,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", code,
                     code == 200 ? "OK" : "Not Found", strlen(body), body);
    c->out = c->small;
    c->out_len = (size_t)n;
    c->out_off = 0;
    c->out_is_stream = 0;
    c->state = S_WRITE;
}

static char req_method[16], req_path[512];

/* Returns 0 when done writing (reply complete), 1 when blocked, -1 on error. */
static int flush_out(conn *c) {
    while (c->out_off < c->out_len) {
        size_t end = c->out_len;
        if (c->out_is_stream) {
            while (c->cut_idx < ncuts && cuts[c->cut_idx] <= c->out_off) c->cut_idx++;
            /* headers go out together with the first event */
            end = cuts[c->cut_idx];
        }
        ssize_t n = send(c->fd, c->out + c->out_off, end - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 1;
            return -1;
        }
        c->out_off += (size_t)n;
    }
    return 0;
}

static void start_reply(conn *c) {
    const char *p = req_path;
    size_t pl = strcspn(p, "?");
    int post = strcmp(req_method, "POST") == 0;
    const char *cc = "/chat/completions";
    size_t ccl = strlen(cc);
    if (post && pl >= ccl && strncmp(p + pl - ccl, cc, ccl) == 0) {
        c->out = stream_reply;
        c->out_len = stream_len;
        c->out_off = 0;
        c->cut_idx = 0;
        c->out_is_stream = 1;
        c->state = S_WRITE;
    } else if (!post && (strncmp(p, "/health", pl) == 0 || strncmp(p, "/v1/health", pl) == 0))
        reply_small(c, 200, "{\"status\":\"ok\"}");
    else if (!post && pl >= 7 && strncmp(p + pl - 7, "/models", 7) == 0)
        reply_small(c, 200, "{\"object\":\"list\",\"data\":[{\"id\":\"m\",\"object\":\"model\"}]}");
    else
        reply_small(c, 404, "{\"error\":{\"message\":\"not found\",\"type\":\"not_found\"}}");
}

/* Parse a complete head in c->head[0..hend). Returns 0 or -1. */
static int parse_head(conn *c, size_t hend) {
    c->head[hend - 1] = 0;
    char *line = c->head, *eol = strstr(line, "\r\n");
    if (!eol) return -1;
    *eol = 0;
    if (sscanf(line, "%15s %511s", req_method, req_path) != 2) return -1;
    c->body_left = 0;
    c->want_close = strstr(line, "HTTP/1.0") != NULL;
    int chunked = 0;
    for (char *h = eol + 2; h < c->head + hend - 2;) {
        char *e = strstr(h, "\r\n");
        if (!e) break;
        *e = 0;
        if (strncasecmp(h, "content-length:", 15) == 0) c->body_left = strtoll(h + 15, NULL, 10);
        else if (strncasecmp(h, "transfer-encoding:", 18) == 0 && strcasestr(h + 18, "chunked")) chunked = 1;
        else if (strncasecmp(h, "connection:", 11) == 0 && strcasestr(h + 11, "close")) c->want_close = 1;
        h = e + 2;
    }
    if (chunked) {
        c->state = S_BODY_CHUNKED;
        c->ch_state = CH_SIZE;
        c->ch_size = 0;
    } else
        c->state = S_BODY_LEN;
    return 0;
}

/* Consume body bytes; returns bytes used, sets state to S_WRITE (via start_reply) when complete. */
static size_t feed_body(conn *c, const char *b, size_t n) {
    size_t i = 0;
    if (c->state == S_BODY_LEN) {
        size_t take = (long long)n < c->body_left ? n : (size_t)c->body_left;
        c->body_left -= (long long)take;
        if (c->body_left == 0) start_reply(c);
        return take;
    }
    while (i < n && c->state == S_BODY_CHUNKED) {
        char ch = b[i];
        switch (c->ch_state) {
        case CH_SIZE:
            if (ch >= '0' && ch <= '9') c->ch_size = c->ch_size * 16 + (ch - '0');
            else if ((ch | 32) >= 'a' && (ch | 32) <= 'f') c->ch_size = c->ch_size * 16 + ((ch | 32) - 'a' + 10);
            else if (ch == '\n') c->ch_state = c->ch_size ? CH_DATA : (c->ch_line_empty = 1, CH_TRAILER);
            else c->ch_state = CH_EXT;
            i++;
            break;
        case CH_EXT:
            if (ch == '\n') c->ch_state = c->ch_size ? CH_DATA : (c->ch_line_empty = 1, CH_TRAILER);
            i++;
            break;
        case CH_DATA: {
            size_t take = (long long)(n - i) < c->ch_size ? n - i : (size_t)c->ch_size;
            c->ch_size -= (long long)take;
            i += take;
            if (c->ch_size == 0) c->ch_state = CH_DATA_CRLF;
            break;
        }
        case CH_DATA_CRLF:
            if (ch == '\n') c->ch_state = CH_SIZE;
            i++;
            break;
        case CH_TRAILER: /* lines until an empty one */
            if (ch == '\n') {
                if (c->ch_line_empty) {
                    i++;
                    start_reply(c);
                    return i;
                }
                c->ch_line_empty = 1;
            } else if (ch != '\r')
                c->ch_line_empty = 0;
            i++;
            break;
        }
    }
    return i;
}

/* Process buffered input in c->head; returns -1 to close. */
static int process(conn *c) {
    for (;;) {
        if (c->state == S_WRITE) {
            int r = flush_out(c);
            if (r < 0) return -1;
            if (r == 1) {
                watch(c, 1);
                return 0;
            }
            watch(c, 0);
            if (c->want_close) return -1;
            c->state = S_HEAD;
            continue;
        }
        if (c->state == S_HEAD) {
            char *e = memmem(c->head, c->head_len, "\r\n\r\n", 4);
            if (!e) return c->head_len >= HEAD_MAX ? -1 : 0;
            size_t hend = (size_t)(e - c->head) + 4;
            char save[HEAD_MAX];
            size_t rest = c->head_len - hend;
            memcpy(save, c->head + hend, rest);
            if (parse_head(c, hend) < 0) return -1;
            memcpy(c->head, save, rest);
            c->head_len = rest;
            if (c->state == S_BODY_LEN && c->body_left == 0) start_reply(c);
            continue;
        }
        /* body states: consume what is buffered */
        if (c->head_len == 0) return 0;
        size_t used = feed_body(c, c->head, c->head_len);
        memmove(c->head, c->head + used, c->head_len - used);
        c->head_len -= used;
    }
}

static void on_readable(conn *c) {
    for (;;) {
        if (c->state == S_BODY_LEN || c->state == S_BODY_CHUNKED) {
            /* read body straight into a scratch buffer */
            static char scratch[1 << 18];
            ssize_t n = recv(c->fd, scratch, sizeof scratch, 0);
            if (n == 0) return conn_close(c);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;
                if (errno == EINTR) continue;
                return conn_close(c);
            }
            size_t used = feed_body(c, scratch, (size_t)n);
            if (used < (size_t)n) { /* bytes of a next request: keep them */
                size_t extra = (size_t)n - used;
                if (extra > HEAD_MAX - c->head_len) return conn_close(c);
                memcpy(c->head + c->head_len, scratch + used, extra);
                c->head_len += extra;
            }
            if (c->state == S_WRITE && process(c) < 0) return conn_close(c);
            continue;
        }
        if (c->state == S_WRITE) { /* do not read while replying (no pipelining needed) */
            char peek;
            ssize_t n = recv(c->fd, &peek, 1, MSG_PEEK);
            if (n == 0) return conn_close(c);
            return;
        }
        ssize_t n = recv(c->fd, c->head + c->head_len, HEAD_MAX - c->head_len, 0);
        if (n == 0) return conn_close(c);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EINTR) continue;
            return conn_close(c);
        }
        c->head_len += (size_t)n;
        if (process(c) < 0) return conn_close(c);
    }
}

static void on_term(int s) {
    (void)s;
    _exit(0);
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 0;
    int chunks = argc > 2 ? atoi(argv[2]) : 500;
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGPIPE, SIG_IGN);
    render(chunks);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    if (listen(ls, 4096) < 0) die("listen");
    socklen_t al = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &al);
    set_nb(ls);
    ep = epoll_create1(0);
    struct epoll_event le = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &le);
    printf("listening %d\n", ntohs(a.sin_port));
    fflush(stdout);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno == EINTR) continue;
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (!c) {
                for (;;) {
                    int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
                    if (fd < 0) break;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conn *nc = calloc(1, sizeof *nc);
                    nc->fd = fd;
                    struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
                }
                continue;
            }
            if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
                conn_close(c);
                continue;
            }
            if (c->state == S_WRITE && (evs[i].events & EPOLLOUT)) {
                if (process(c) < 0) {
                    conn_close(c);
                    continue;
                }
                if (c->state != S_WRITE && c->head_len) { /* buffered next request */
                    if (process(c) < 0) {
                        conn_close(c);
                        continue;
                    }
                }
            }
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP)) on_readable(c);
        }
    }
}
