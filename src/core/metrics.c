/*
 * metrics: counters, histograms and their Prometheus rendering (see
 * metrics.h). No I/O.
 */
#include "metrics.h"

#include <string.h>

static const double bounds[METRICS_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                               0.5,   1,    2.5,   5,    10,  30};
static const char *const error_types[8] = {
    "invalid_request_error", "authentication_error", "permission_error", "not_found_error",
    "request_too_large",     "rate_limit_error",     "api_error",        "overloaded_error"};

void metrics_error(metrics *m, const char *type)
{
    for (int i = 0; i < 8; i++)
        if (strcmp(error_types[i], type) == 0) {
            m->errors[i]++;
            return;
        }
    m->errors[6]++; /* api_error */
}

void metrics_observe(metrics_hist *h, double s)
{
    int i = 0;
    while (i < METRICS_BUCKETS && s > bounds[i])
        i++;
    h->count[i]++;
    h->sum += s;
    h->n++;
}

static int hist(buf *out, const char *name, const char *help, const metrics_hist *h)
{
    int rc = buf_appendf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    unsigned long long cum = 0;
    for (int i = 0; i < METRICS_BUCKETS && !rc; i++) {
        cum += h->count[i];
        rc = buf_appendf(out, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], cum);
    }
    cum += h->count[METRICS_BUCKETS];
    if (!rc) rc = buf_appendf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
    if (!rc) rc = buf_appendf(out, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name, h->n);
    return rc;
}

int metrics_render(const metrics *m, buf *out)
{
    int rc = buf_appendf(
        out,
        "# HELP anyclaude_requests_total Requests received, by endpoint.\n"
        "# TYPE anyclaude_requests_total counter\n"
        "anyclaude_requests_total{endpoint=\"messages\"} %llu\n"
        "anyclaude_requests_total{endpoint=\"count_tokens\"} %llu\n"
        "anyclaude_requests_total{endpoint=\"models\"} %llu\n"
        "anyclaude_requests_total{endpoint=\"health\"} %llu\n"
        "# HELP anyclaude_responses_total Message requests finished, by outcome.\n"
        "# TYPE anyclaude_responses_total counter\n"
        "anyclaude_responses_total{outcome=\"ok\"} %llu\n"
        "anyclaude_responses_total{outcome=\"error\"} %llu\n"
        "# HELP anyclaude_tokens_total Tokens: prompt tokens prefilled (input), served from the "
        "backend's cache (cached), generated (output).\n"
        "# TYPE anyclaude_tokens_total counter\n"
        "anyclaude_tokens_total{kind=\"input\"} %llu\n"
        "anyclaude_tokens_total{kind=\"cached\"} %llu\n"
        "anyclaude_tokens_total{kind=\"output\"} %llu\n"
        "# HELP anyclaude_cache_hit_ratio Share of prompt tokens served from the backend's cache.\n"
        "# TYPE anyclaude_cache_hit_ratio gauge\n"
        "anyclaude_cache_hit_ratio %.6f\n"
        "# HELP anyclaude_active_streams Requests in flight.\n"
        "# TYPE anyclaude_active_streams gauge\n"
        "anyclaude_active_streams %ld\n"
        "# HELP anyclaude_client_disconnects_total Clients that left before their answer ended.\n"
        "# TYPE anyclaude_client_disconnects_total counter\n"
        "anyclaude_client_disconnects_total %llu\n"
        "# HELP anyclaude_warm_starts_total Prefix prefills sent to the backend at start.\n"
        "# TYPE anyclaude_warm_starts_total counter\n"
        "anyclaude_warm_starts_total %llu\n"
        "# HELP anyclaude_errors_total Errors returned to clients, by type.\n"
        "# TYPE anyclaude_errors_total counter\n",
        m->requests_messages, m->requests_count_tokens, m->requests_models, m->requests_health,
        m->responses_ok, m->responses_error, m->tokens_in, m->tokens_cached, m->tokens_out,
        m->tokens_in + m->tokens_cached
            ? (double)m->tokens_cached / (double)(m->tokens_in + m->tokens_cached)
            : 0.0,
        m->active_streams, m->client_disconnects, m->warm_starts);
    for (int i = 0; i < 8 && !rc; i++)
        rc = buf_appendf(out, "anyclaude_errors_total{type=\"%s\"} %llu\n", error_types[i],
                         m->errors[i]);
    if (!rc)
        rc = hist(out, "anyclaude_ttft_seconds", "Time from request to the first content token.",
                  &m->ttft);
    if (!rc)
        rc = hist(out, "anyclaude_upstream_seconds", "Duration of backend requests.", &m->upstream);
    return rc;
}
