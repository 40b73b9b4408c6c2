/*
 * models: the two endpoints that ask a backend for its model list (shell).
 * GET /v1/models answers with the list in the Anthropic shape (the Claude
 * API's own list as it is, in claude mode); GET /health (with the token)
 * answers with the gateway's state and whether that backend answers.
 * Both ask the backend a request without a body would go to (plan.h).
 *
 *   GET /v1/models ─▶ plan_first ─▶ GET {backend}/models ─▶ {"data":[{"type":"model",...}]}
 *   GET /health    ─▶ plan_first ─▶ GET {backend}/models ─▶ {"status":"ok",...,"backend_status"}
 */
#ifndef ANYCLAUDE_MODELS_H
#define ANYCLAUDE_MODELS_H

#include "exchange.h"

/* GET /v1/models. */
void models_handle(server *s, httpd_req *req);
/* GET /health, for a caller with the token (or when none is required). */
void models_handle_health(server *s, httpd_req *req);

#endif
