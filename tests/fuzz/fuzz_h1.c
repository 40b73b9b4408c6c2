/*
 * fuzz_h1: httpd's request framing (src/h1.c) on arbitrary bytes.
 *
 * Input: a 2-byte header (cut position, little endian, mod len+1), then the
 * bytes a client sends on one connection.
 * - h1_parse_all over the whole input: a verdict (0, 1 incomplete, or an
 *   HTTP status 400/413/431/500/501/505) and, per request, the method,
 *   target, field count and body.
 * - The same bytes arriving in two reads split at the cut, fed the way
 *   httpd feeds them (the scanner sees each byte once, across reads; the
 *   body decoder gets each read's bytes): the same requests, the same
 *   bodies and the same verdict.
 * - Every accepted head obeys the rules: method a token, target without
 *   spaces or controls, names tokens, values without CR, LF or NUL, at most
 *   one Host, not both Content-Length and chunked.
 */
#include "h1.h"
#include "fuzz_util.h"

#define MAX_HEAD 4096
#define MAX_BODY 65536

typedef struct record {
    buf log; /* one line per request: method, target, fields, body */
} record;

static void check_head(const h1_head *h)
{
    FUZZ_CHECK(h->method && *h->method, "empty method");
    for (const char *p = h->method; *p; p++)
        FUZZ_CHECK(*p > 0x20 && *p < 0x7f && !strchr("()<>@,;:\\\"/[]?={} \t", *p),
                   "method not a token");
    for (const char *p = h->target; *p; p++)
        FUZZ_CHECK((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f, "bad target byte");
    int hosts = 0;
    for (int i = 0; i < h->n; i++) {
        FUZZ_CHECK(*h->names[i], "empty name");
        for (const char *p = h->names[i]; *p; p++)
            FUZZ_CHECK(*p > 0x20 && *p < 0x7f && *p != ':', "bad name byte");
        for (const char *p = h->values[i]; *p; p++)
            FUZZ_CHECK(*p != '\r' && *p != '\n', "CR or LF in a value");
        hosts += strcasecmp(h->names[i], "host") == 0;
    }
    FUZZ_CHECK(hosts <= 1 && (hosts == 1 || h->minor == 0), "Host count %d", hosts);
    FUZZ_CHECK(!(h->chunked && h->has_length), "both lengths");
}

static void on_req(void *ud, const h1_head *h, const char *body, size_t n)
{
    record *r = ud;
    check_head(h);
    buf_appendf(&r->log, "%s %s %d %d|", h->method, h->target, h->n, h->minor);
    buf_append(&r->log, body, n);
    buf_append(&r->log, "\n", 1);
}

static int sink(void *ud, const char *p, size_t n)
{
    return buf_append((buf *)ud, p, n) == BUF_OK ? 0 : 1;
}

/* The bytes in two reads, as httpd sees them: input accumulates; the
 * scanner continues from where it stopped; a head is parsed from a copy;
 * body bytes are fed as they come. Returns the verdict like h1_parse_all. */
static int two_reads(const char *p, size_t n, size_t cut, record *r)
{
    buf in, head, body;
    buf_init(&in, n + 1);
    buf_init(&head, MAX_HEAD + 1);
    buf_init(&body, MAX_BODY + 1);
    h1_scan sc;
    h1_scan_init(&sc);
    h1_head h;
    h1_body b;
    int in_body = 0, rc = 0;
    char err[200];
    size_t pieces[2] = {cut, n - cut}, at = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        buf_append(&in, p + at, pieces[k]);
        at += pieces[k];
        for (;;) {
            if (!in_body) {
                if (in.len == 0) break;
                size_t used;
                long hl = h1_scan_feed(&sc, in.data + (sc.off), in.len - sc.off, &used);
                if (hl < 0) {
                    rc = 400;
                    break;
                }
                if (hl == 0) {
                    if (sc.off - sc.lead > MAX_HEAD) rc = 431;
                    break;
                }
                if ((size_t)hl - sc.lead > MAX_HEAD) {
                    rc = 431;
                    break;
                }
                buf_reset(&head);
                buf_append(&head, in.data + sc.lead, (size_t)hl - sc.lead);
                buf_consume(&in, (size_t)hl);
                h1_scan_init(&sc);
                rc = h1_parse_head(head.data, head.len, &h, err, sizeof err);
                if (rc) break;
                if (h.has_length && h.length > MAX_BODY) {
                    rc = 413;
                    break;
                }
                h1_body_init(&b, &h, MAX_BODY);
                buf_reset(&body);
                in_body = 1;
            }
            size_t used = 0;
            int br = h1_body_feed(&b, in.data ? in.data : "", in.len, &used, sink, &body, err,
                                  sizeof err);
            buf_consume(&in, used);
            if (br == 0) break;
            if (br != 1) {
                rc = br;
                break;
            }
            in_body = 0;
            on_req(r, &h, body.data ? body.data : "", body.len);
        }
    }
    if (rc == 0 && (in_body || (in.len > sc.lead))) rc = 1;
    buf_free(&in);
    buf_free(&head);
    buf_free(&body);
    return rc;
}

FUZZ_TARGET(2)
{
    size_t cut = fuzz_u16(in, 0) % (len + 1);
    record a, b;
    buf_init(&a.log, 1u << 24);
    buf_init(&b.log, 1u << 24);
    char err[200] = "";
    int ra = h1_parse_all(p, len, MAX_HEAD, MAX_BODY, on_req, &a, err, sizeof err);
    FUZZ_CHECK(ra == 0 || ra == 1 || ra == 400 || ra == 413 || ra == 431 || ra == 501 || ra == 505,
               "verdict %d", ra);
    FUZZ_CHECK(ra < 400 || (err[0] && !strchr(err, '\n')), "no reason for %d", ra);
    int rb = two_reads(p, len, cut, &b);
    FUZZ_CHECK(ra == rb, "verdict %d whole, %d in two reads (cut %zu)", ra, rb, cut);
    FUZZ_CHECK(a.log.len == b.log.len &&
                   (a.log.len == 0 || memcmp(a.log.data, b.log.data, a.log.len) == 0),
               "requests differ when split at %zu", cut);
    char esc[64];
    h1_escape(p, len < 40 ? len : 40, esc, sizeof esc);
    FUZZ_CHECK(strlen(esc) < sizeof esc, "escape overflow");
    buf_free(&a.log);
    buf_free(&b.log);
    return 0;
}
