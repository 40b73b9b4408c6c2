/*
 * h1: strict HTTP/1.1 request framing (RFC 9112), pure: bytes in, verdicts
 * out, no sockets. httpd.c drives it from its connections; the fuzz target
 * (tests/fuzz/fuzz_h1.c) and the differential test against Node's llhttp
 * (tests/fault/framing.test.mjs via `anyclaude h1check`... see h1_parse_all)
 * drive it from plain byte strings.
 *
 *   bytes ─▶ h1_scan_feed (find the end of the head, CRLF only, linear)
 *         ─▶ h1_parse_head (request line and fields, in place)
 *         ─▶ h1_body_feed (Content-Length or chunked body, push parser)
 *
 * What is refused (with the status a server should answer): a bare LF or a
 * CR not followed by LF anywhere in the head or chunk framing (400); a
 * method or field name that is not a token, a control character (other
 * than tab in values) or a space where none belongs (400); obs-fold (400);
 * a version other than HTTP/1.0 and HTTP/1.1 (505 when it is HTTP/d.d,
 * else 400); a missing (1.1) or repeated Host (400); a Content-Length that
 * is not only digits, or given twice (400); Transfer-Encoding other than
 * exactly "chunked" (501), on HTTP/1.0 or together with Content-Length
 * (400); a chunk size that is not only hex digits (400); more than
 * H1_MAX_HEADERS fields (431).
 */
#ifndef ANYCLAUDE_H1_H
#define ANYCLAUDE_H1_H

#include <stddef.h>
#include <stdint.h>

#define H1_MAX_HEADERS 100

/* ---- finding the end of the head ----------------------------------------- */

typedef struct h1_scan {
    size_t off;  /* bytes seen so far */
    size_t lead; /* leading empty lines (CRLF pairs) to skip before the head */
    int st;
} h1_scan;

void h1_scan_init(h1_scan *s);
/* Feed the next n bytes of the connection (those after the bytes fed
 * before). Returns 0 when more is needed (*used = n), -1 when the framing is
 * broken (bare LF, CR without LF), or the total length of the head counted
 * from the first byte ever fed, including s->lead leading CRLFs and the
 * final empty line; *used is then how many of these n bytes it took. Each
 * byte is looked at once. */
long h1_scan_feed(h1_scan *s, const char *p, size_t n, size_t *used);

/* ---- the head ------------------------------------------------------------- */

typedef struct h1_head {
    char *method, *target;        /* NUL-terminated, inside the parsed buffer */
    int minor;                    /* 0 (HTTP/1.0) or 1 */
    char *names[H1_MAX_HEADERS];  /* as sent */
    char *values[H1_MAX_HEADERS]; /* leading and trailing whitespace removed */
    int n;
    const char *host;    /* NULL: none (only possible on HTTP/1.0) */
    int chunked;         /* Transfer-Encoding: chunked */
    int has_length;      /* Content-Length given */
    uint64_t length;     /* its value */
    int keep_alive;      /* after Connection and the version */
    int expect_continue; /* Expect: 100-continue */
} h1_head;

/* Parse a head found by h1_scan_feed: p[0..len) starting at the request line
 * (the leading CRLFs skipped) and ending with the empty line. The buffer is
 * modified (NULs written); h points into it. Returns 0, or the HTTP status
 * to answer (400, 431, 501, 505) with a one-line reason in err. */
int h1_parse_head(char *p, size_t len, h1_head *h, char *err, size_t errlen);

/* Case-insensitive lookup; NULL when absent. */
const char *h1_header(const h1_head *h, const char *name);

/* ---- the body ------------------------------------------------------------- */

typedef struct h1_body {
    int chunked;
    uint64_t left;  /* Content-Length left, or the current chunk's left */
    uint64_t total; /* body bytes so far */
    uint64_t max;   /* over this: 413 */
    int st;         /* chunked: where in the framing */
    int ndigits;    /* chunked: size digits of the current line */
    size_t line;    /* chunked: bytes of the current size or trailer line */
    size_t trailer; /* chunked: trailer bytes so far */
} h1_body;

/* Body bytes as they are decoded. Return 0 to go on, anything else stops
 * h1_body_feed with 500. */
typedef int (*h1_sink_fn)(void *ud, const char *p, size_t n);

void h1_body_init(h1_body *b, const h1_head *h, uint64_t max);
/* Feed bytes after the head. Returns 0 when more is needed, 1 when the body
 * is complete (*used says how many bytes of p it took: the rest belongs to
 * the next request), or an HTTP status (400, 413, 500) with the reason in
 * err. */
int h1_body_feed(h1_body *b, const char *p, size_t n, size_t *used, h1_sink_fn sink, void *ud,
                 char *err, size_t errlen);

/* ---- whole byte strings (fuzzing, the differential test) ------------------ */

/* One request found by h1_parse_all. */
typedef void (*h1_request_fn)(void *ud, const h1_head *h, const char *body, size_t body_len);

/* Parse p[0..n) as a sequence of pipelined requests, as httpd would (heads up
 * to max_head bytes, bodies up to max_body), calling fn for each complete
 * one. Returns 0 when every byte was used by complete requests, 1 when the
 * input ends inside a request (incomplete), or the HTTP status of the first
 * error (err says why). */
int h1_parse_all(const char *p, size_t n, size_t max_head, uint64_t max_body, h1_request_fn fn,
                 void *ud, char *err, size_t errlen);

/* Write s (n bytes) into out as printable ASCII: bytes outside 0x20..0x7e
 * and backslashes become \xHH. Always NUL-terminates (out may be cut).
 * For logging request targets and other client-chosen text. */
void h1_escape(const char *s, size_t n, char *out, size_t outlen);

#endif
