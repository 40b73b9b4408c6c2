/*
 * sse: incremental Server-Sent Events parser (see sse.h). First stage of the
 * stream path: upstream bytes from `upstream` come in here, dispatched
 * events go to `xlate_stream`. Pure: no I/O, no allocation beyond its bufs.
 *
 * Bytes are cut into lines as they arrive; a line that spans chunks is
 * collected in p->line, a line wholly inside one chunk is processed in
 * place. A \r that ends a chunk sets last_cr so that a \n opening the next
 * chunk is swallowed: the callbacks are the same however the input is split.
 */
#include "sse.h"

#include <string.h>

void sse_parser_init(sse_parser *p, size_t max, sse_event_fn on_event, sse_comment_fn on_comment,
                     void *ud)
{
    buf_init(&p->line, max);
    buf_init(&p->data, max);
    buf_init(&p->event, max);
    p->has_data = 0;
    p->last_cr = 0;
    p->max = max;
    p->on_event = on_event;
    p->on_comment = on_comment;
    p->ud = ud;
}

void sse_parser_free(sse_parser *p)
{
    if (!p) return;
    buf_free(&p->line);
    buf_free(&p->data);
    buf_free(&p->event);
    p->has_data = 0;
    p->last_cr = 0;
}

static int map_buf_rc(int rc)
{
    return rc == BUF_ETOOBIG ? SSE_ETOOLONG : rc;
}

/* A blank line: hand the pending event over (if it has data) and reset. */
static int dispatch(sse_parser *p)
{
    int rc = 0;
    if (p->has_data && p->on_event) {
        const char *ev = p->event.data ? p->event.data : "";
        const char *data = p->data.data ? p->data.data : "";
        rc = p->on_event(p->ud, ev, p->event.len, data, p->data.len);
    }
    buf_reset(&p->data);
    buf_reset(&p->event);
    p->has_data = 0;
    return rc;
}

/* One complete line without its terminator. */
static int process_line(sse_parser *p, const char *s, size_t n)
{
    if (n == 0) return dispatch(p);
    if (s[0] == ':') return p->on_comment ? p->on_comment(p->ud, s + 1, n - 1) : 0;

    const char *colon = memchr(s, ':', n);
    size_t name_len = colon ? (size_t)(colon - s) : n;
    const char *val = colon ? colon + 1 : s + n;
    size_t val_len = (size_t)(s + n - val);
    if (val_len > 0 && val[0] == ' ') {
        val++;
        val_len--;
    }
    int rc = 0;
    if (name_len == 4 && memcmp(s, "data", 4) == 0) {
        if (p->has_data) rc = buf_append(&p->data, "\n", 1);
        if (!rc) rc = buf_append(&p->data, val, val_len);
        p->has_data = 1;
        return map_buf_rc(rc);
    }
    if (name_len == 5 && memcmp(s, "event", 5) == 0) {
        buf_reset(&p->event);
        return map_buf_rc(buf_append(&p->event, val, val_len));
    }
    /* id, retry and unknown fields do not matter to a translator. */
    return 0;
}

/* A line ended: process p->line + s[0..n) as one line. */
static int end_line(sse_parser *p, const char *s, size_t n)
{
    int rc;
    if (p->line.len == 0) return process_line(p, s, n);
    rc = map_buf_rc(buf_append(&p->line, s, n));
    if (rc) return rc;
    rc = process_line(p, p->line.data, p->line.len);
    buf_reset(&p->line);
    return rc;
}

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Index of the first '\n' or '\r' in s[i, len), or len. */
static size_t find_eol(const char *s, size_t i, size_t len)
{
#if defined(__SSE2__)
    const __m128i nl = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
    while (len - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        unsigned m =
            (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, nl), _mm_cmpeq_epi8(v, cr)));
        if (m) return i + (size_t)__builtin_ctz(m);
        i += 16;
    }
#endif
    while (i < len && s[i] != '\n' && s[i] != '\r')
        i++;
    return i;
}

int sse_parser_feed(sse_parser *p, const char *bytes, size_t len)
{
    size_t i = 0;
    if (len == 0) return 0;
    if (p->last_cr) {
        p->last_cr = 0;
        if (bytes[0] == '\n') i = 1;
    }
    while (i < len) {
        size_t start = i;
        i = find_eol(bytes, i, len);
        if (i == len) {
            /* No terminator in this chunk: keep the partial line. */
            if (p->max && i - start > p->max - p->line.len) return SSE_ETOOLONG;
            return map_buf_rc(buf_append(&p->line, bytes + start, i - start));
        }
        if (p->max && i - start > p->max - p->line.len) return SSE_ETOOLONG;
        int rc = end_line(p, bytes + start, i - start);
        if (bytes[i] == '\r') {
            if (i + 1 == len)
                p->last_cr = 1;
            else if (bytes[i + 1] == '\n')
                i++;
        }
        i++;
        if (rc) return rc;
    }
    return 0;
}

int sse_parser_finish(sse_parser *p)
{
    int rc = 0;
    p->last_cr = 0;
    if (p->line.len) {
        rc = process_line(p, p->line.data, p->line.len);
        buf_reset(&p->line);
        if (rc) return rc;
    }
    if (p->has_data) rc = dispatch(p);
    return rc;
}
