/*
 * metrics: the gateway's counters and histograms, rendered in Prometheus
 * text format for GET /metrics (pure: the shell records, this module adds
 * and prints).
 */
#ifndef ANYCLAUDE_METRICS_H
#define ANYCLAUDE_METRICS_H

#include "buf.h"

#define METRICS_BUCKETS 12

typedef struct metrics_hist {
    unsigned long long count[METRICS_BUCKETS + 1]; /* last: +Inf */
    double sum;
    unsigned long long n;
} metrics_hist;

typedef struct metrics {
    unsigned long long requests_messages, requests_count_tokens, requests_models, requests_health;
    unsigned long long responses_ok, responses_error;
    unsigned long long tokens_in, tokens_out, tokens_cached;
    unsigned long long errors[8]; /* by type, see metrics_error_index */
    unsigned long long client_disconnects;
    unsigned long long warm_starts;
    long active_streams;
    metrics_hist ttft;     /* seconds to first content token */
    metrics_hist upstream; /* seconds for the whole upstream request */
} metrics;

/* Count an error by Anthropic type. */
void metrics_error(metrics *m, const char *type);
/* Record an observation in seconds. */
void metrics_observe(metrics_hist *h, double seconds);
/* Append the Prometheus text exposition. Returns 0 or a BUF_* code. */
int metrics_render(const metrics *m, buf *out);

#endif
