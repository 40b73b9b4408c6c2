/*
 * relay.c: the floor of any gateway, for bench/overhead's "relay" path: a
 * process that forwards bytes and does nothing else. It reads a client's
 * request (head and Content-Length body), writes those bytes unchanged to
 * the backend over one kept-alive connection, and forwards every read of
 * the backend's chunked reply to the client at once, until the last chunk.
 * No parsing of the body, no translation, no allocation per request: what
 * a request pays here (two more loopback transfers, the wake-ups of one
 * more process) every gateway pays, so anyclaude's added time minus the
 * relay's is anyclaude's own work. A process per client connection (forked
 * at accept, so it keeps the parent's scheduling), blocking sockets,
 * TCP_NODELAY both ways.
 *
 *   cc -O2 -o relay relay.c && ./relay PORT BACKEND_PORT   (prints "listening PORT")
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_MAX (4u << 20)

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One request from c (head + Content-Length body) into buf; its length, 0
 * at EOF, -1 on error. */
static long read_request(int c, char *buf)
{
    size_t have = 0, need = 0;
    for (;;) {
        if (have >= BUF_MAX) return -1;
        ssize_t r = recv(c, buf + have, BUF_MAX - have, 0);
        if (r <= 0) return have ? -1 : 0;
        have += (size_t)r;
        if (!need) {
            char *end = memmem(buf, have, "\r\n\r\n", 4);
            if (!end) continue;
            size_t head = (size_t)(end + 4 - buf);
            size_t len = 0;
            for (char *l = buf; l < end; l = strstr(l, "\r\n") + 2)
                if (strncasecmp(l, "content-length:", 15) == 0) len = strtoul(l + 15, NULL, 10);
            need = head + len;
        }
        if (have >= need) return (long)have;
    }
}

/* Forward the backend's reply to c until its last chunk; 0 or -1. */
static int relay_reply(int b, int c, char *buf)
{
    char tail[8] = {0}; /* the last bytes seen, across reads */
    for (;;) {
        ssize_t r = recv(b, buf, BUF_MAX, 0);
        if (r <= 0) return -1;
        if (write_all(c, buf, (size_t)r) != 0) return -1;
        size_t k = (size_t)r < 7 ? (size_t)r : 7;
        memmove(tail, tail + k, 7 - k);
        memcpy(tail + 7 - k, buf + r - k, k);
        if (memcmp(tail, "\r\n0\r\n\r\n", 7) == 0 || (r >= 5 && memcmp(buf, "0\r\n\r\n", 5) == 0 && r == 5))
            return 0;
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: relay PORT BACKEND_PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int port = atoi(argv[1]), bport = atoi(argv[2]), one = 1;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 64) != 0) {
        perror("relay: listen");
        return 1;
    }
    printf("listening %d\n", port);
    fflush(stdout);
    signal(SIGCHLD, SIG_IGN); /* children reap themselves */
    for (;;) {
        int c = accept(ls, NULL, NULL);
        if (c < 0) continue;
        if (fork() != 0) { /* a process per connection, as idle keep-alive ones wait */
            close(c);
            continue;
        }
        close(ls);
        char *buf = malloc(BUF_MAX);
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int b = buf ? dial(bport) : -1;
        long n;
        while (b >= 0 && (n = read_request(c, buf)) > 0) {
            if (write_all(b, buf, (size_t)n) != 0 || relay_reply(b, c, buf) != 0) break;
        }
        _exit(0);
    }
}
