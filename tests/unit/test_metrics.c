/* Tests for src/metrics.c: Prometheus text with cumulative buckets. */
#include <string.h>

#include "metrics.h"
#include "test.h"

TEST(metrics_render_prometheus)
{
    metrics m;
    memset(&m, 0, sizeof m);
    m.requests_messages = 3;
    m.tokens_in = 100;
    m.tokens_cached = 900;
    m.active_streams = 2;
    metrics_error(&m, "overloaded_error");
    metrics_error(&m, "overloaded_error");
    metrics_error(&m, "weird");
    metrics_observe(&m.ttft, 0.004);
    metrics_observe(&m.ttft, 0.2);
    metrics_observe(&m.ttft, 100);
    buf b;
    buf_init(&b, 0);
    REQUIRE(metrics_render(&m, &b) == 0);
    CHECK(strstr(b.data, "anyclaude_requests_total{endpoint=\"messages\"} 3\n") != NULL);
    CHECK(strstr(b.data, "anyclaude_cache_hit_ratio 0.900000\n") != NULL);
    CHECK(strstr(b.data, "anyclaude_active_streams 2\n") != NULL);
    CHECK(strstr(b.data, "anyclaude_errors_total{type=\"overloaded_error\"} 2\n") != NULL);
    CHECK(strstr(b.data, "anyclaude_errors_total{type=\"api_error\"} 1\n") != NULL);
    CHECK(strstr(b.data, "anyclaude_ttft_seconds_bucket{le=\"0.005\"} 1\n") != NULL);
    CHECK(strstr(b.data, "anyclaude_ttft_seconds_bucket{le=\"0.25\"} 2\n") != NULL);
    CHECK(strstr(b.data, "anyclaude_ttft_seconds_bucket{le=\"30\"} 2\n") != NULL);
    CHECK(strstr(b.data, "anyclaude_ttft_seconds_bucket{le=\"+Inf\"} 3\n") != NULL);
    CHECK(strstr(b.data, "anyclaude_ttft_seconds_count 3\n") != NULL);
    buf_free(&b);
}
