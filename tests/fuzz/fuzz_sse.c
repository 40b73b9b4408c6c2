/*
 * fuzz_sse: the incremental SSE parser (src/sse.c) on arbitrary bytes.
 *
 * Input: a 4-byte header, then the stream.
 *   hdr[0..1]  cut position (little endian, mod len+1) for a two-piece feed
 *   hdr[2]     line/event bound: 16 + hdr[2] * 16 bytes (16..4096)
 *   hdr[3]     seed for a third feed in random pieces of 0..17 bytes
 * The stream is fed whole, in two pieces, and in random pieces, each then
 * finished; the recorded callbacks and the first nonzero return must be
 * byte-identical in all three (sse.h: "Output is identical however the
 * input is split"). Also: every event's data fits the bound.
 */
#include "sse.h"
#include "fuzz_util.h"

typedef struct rec {
    buf log;
    size_t max;
} rec;

static int on_event(void *ud, const char *ev, size_t evn, const char *data, size_t n)
{
    rec *r = ud;
    FUZZ_CHECK(ev && data, "NULL pointer passed to on_event");
    FUZZ_CHECK(n <= r->max && evn <= r->max, "event past the bound: data %zu event %zu max %zu", n,
               evn, r->max);
    FUZZ_CHECK(ev[evn] == '\0' && data[n] == '\0', "event/data not NUL-terminated");
    if (buf_appendf(&r->log, "E%zu:", evn) || buf_append(&r->log, ev, evn) ||
        buf_appendf(&r->log, "D%zu:", n) || buf_append(&r->log, data, n) ||
        buf_append(&r->log, "\n", 1))
        abort();
    return 0;
}

static int on_comment(void *ud, const char *text, size_t n)
{
    rec *r = ud;
    FUZZ_CHECK(n <= r->max, "comment past the bound: %zu max %zu", n, r->max);
    if (buf_appendf(&r->log, "C%zu:", n) || buf_append(&r->log, text, n) ||
        buf_append(&r->log, "\n", 1))
        abort();
    return 0;
}

/* Feed p in pieces ending at cuts[0..ncuts) then len; finish. */
static int run(const char *p, size_t len, const size_t *cuts, size_t ncuts, size_t max, rec *r)
{
    sse_parser ps;
    int rc = 0;
    size_t at = 0;
    buf_init(&r->log, 0);
    r->max = max;
    sse_parser_init(&ps, max, on_event, on_comment, r);
    for (size_t k = 0; k <= ncuts && !rc; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        rc = sse_parser_feed(&ps, p + at, end - at);
        at = end;
    }
    if (!rc) rc = sse_parser_finish(&ps);
    FUZZ_CHECK(rc == 0 || rc == SSE_ETOOLONG, "unexpected return %d", rc);
    /* the line buffer never holds more than the bound */
    FUZZ_CHECK(ps.line.len <= max && ps.data.len <= max && ps.event.len <= max,
               "parser holds more than max");
    sse_parser_free(&ps);
    return rc;
}

FUZZ_TARGET(4)
{
    size_t max = 16 + (size_t)in->hdr[2] * 16;
    size_t cut = fuzz_u16(in, 0) % (len + 1);

    rec whole, two, many;
    int rw = run(p, len, NULL, 0, max, &whole);
    int r2 = run(p, len, &cut, 1, max, &two);

    size_t ncuts, *cuts = fuzz_random_cuts(len, 0x12345u + in->hdr[3], 17, &ncuts);
    int rm = run(p, len, cuts, ncuts, max, &many);
    free(cuts);

    if (rw != r2 || whole.log.len != two.log.len ||
        (whole.log.len && memcmp(whole.log.data, two.log.data, whole.log.len))) {
        fprintf(stderr, "whole rc %d, split at %zu rc %d\n", rw, cut, r2);
        fuzz_show_diff("whole", &whole.log, "split", &two.log);
        FUZZ_CHECK(0, "sse events depend on the split (two pieces)");
    }
    if (rw != rm || whole.log.len != many.log.len ||
        (whole.log.len && memcmp(whole.log.data, many.log.data, whole.log.len))) {
        fprintf(stderr, "whole rc %d, random pieces rc %d\n", rw, rm);
        fuzz_show_diff("whole", &whole.log, "pieces", &many.log);
        FUZZ_CHECK(0, "sse events depend on the split (random pieces)");
    }
    buf_free(&whole.log);
    buf_free(&two.log);
    buf_free(&many.log);
    return 0;
}
