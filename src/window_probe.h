/*
 * window_probe: ask each backend for its context window and model name
 * (shell: blocking libcurl calls, made before the event loop runs, by the
 * launcher, `serve` and doctor). window.c reads the answers.
 *
 *   llamacpp  GET /props
 *   lmstudio  GET /api/v0/models (loaded_context_length), else /api/v1/models
 *   others    GET /v1/models (vLLM max_model_len, llama.cpp meta.n_ctx), then
 *             /props, /api/v0/models, Ollama's /api/ps and /api/show
 *   claude    nothing: Claude Code knows its own models
 */
#ifndef ANYCLAUDE_WINDOW_PROBE_H
#define ANYCLAUDE_WINDOW_PROBE_H

#include "routes.h"

/* Probe backend b unless its window is configured: sets b->context_window,
 * b->window_source and b->detected_model when the backend tells. ca: the
 * global CA bundle or NULL. Returns 1 when the window is known. */
int window_probe_backend(route_backend *b, const char *ca);

/* Probe every backend some route uses. */
void window_probe_all(routes *r, const char *ca);

/* The window Claude Code should be told: the smallest known window among
 * the default route's pool. Returns 0 when none is known; *which (may be
 * NULL) is set to that backend's index. */
long window_default(const routes *r, int *which);

#endif
