/*
 * server: the gateway (shell). Listens (httpd), checks each request's head,
 * and hands it to its endpoint: /v1/messages (messages.c),
 * /v1/messages/count_tokens (count_tokens.c), /v1/models and /health
 * (models.c), /metrics and /anyclaude/status (here). Owns the upstream
 * driver and the backends' live state; drains for rolling restarts.
 *
 *   httpd request ─▶ head check ─▶ endpoint ─▶ exchange ─▶ plan ─▶ upstream ─▶ reply
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
/* Rolling restarts. server_drain: stop accepting (the listening socket
 * closes, so a load balancer's new connections go elsewhere), answer
 * requests that still arrive on kept-alive connections (each then closes)
 * with 503: /health with {"status":"draining"}, the others with an
 * overloaded_error, and let the
 * requests in flight finish for up to deadline_ms; then end each one left
 * (a started stream with an `event: error` of type overloaded_error, a
 * request not yet answered with that error as its status). done(arg) runs
 * from the loop once nothing is in flight and the replies are written (or
 * 2 s later). A second call does nothing. */
typedef void (*server_drained_fn)(void *arg);
void server_drain(server *s, long deadline_ms, server_drained_fn done, void *arg);
/* The gateway is stopping and nothing is in flight: save the slots its
 * conversations hold for the next start (checkpoint.h), then done(arg),
 * from the loop or at once, within TIMEOUT_CHECKPOINT_MS. */
void server_checkpoint(server *s, server_drained_fn done, void *arg);
/* End every request in flight now, as the drain deadline does, and write
 * what the sockets take at once (for a second signal: exit right after). */
void server_cut_all(server *s, const char *why);
/* Stop listening, cancel every exchange, free. NULL is a no-op. */
void server_free(server *s);

#endif
