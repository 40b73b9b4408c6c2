/*
 * server: the HTTP front (libevent evhttp). Routes requests, reads bodies,
 * runs each /v1/messages exchange from client body to upstream request to
 * translated reply, writes chunked SSE, and cancels the upstream request the
 * moment a client goes away.
 *
 *   evhttp request ─▶ route ─▶ xlate_request ─▶ upstream ─▶ xlate_stream ─▶ chunked reply
 */
#ifndef ANYCLAUDE_SERVER_H
#define ANYCLAUDE_SERVER_H

#include <stddef.h>

#include "config.h"

struct event_base;
typedef struct server server;

/* Bind cfg->host:cfg->port (port 0: a free port) and serve on base. Returns
 * NULL with a one-line reason in err when it cannot listen. cfg is borrowed
 * for the server's life. */
server *server_new(struct event_base *base, const config *cfg, char *err, size_t errlen);
/* The port actually bound. */
int server_port(const server *s);
/* Requests in flight (messages, models, health). */
int server_active(const server *s);
/* Monotonic milliseconds, for durations (the server's and its backends'). */
double server_now_ms(void);
/* Stop listening, cancel every exchange, free. NULL is a no-op. */
void server_free(server *s);

#endif
