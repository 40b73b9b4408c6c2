/*
 * h1: strict HTTP/1.1 request framing (see h1.h). Pure.
 */
#include "h1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

/* ---- character classes (RFC 9110 5.6.2, 5.5) ------------------------------ */

static int is_tchar(unsigned char c)
{
    if (c >= '0' && c <= '9') return 1;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar, SP or HTAB: what a field value may hold */
static int is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* request-target: visible ASCII only (no spaces, controls or obs-text) */
static int is_target_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* ---- head scanner --------------------------------------------------------- */

enum { S_LEAD, S_LEAD_CR, S_LINE, S_CR, S_LSTART, S_LSTART_CR, S_BAD };

void h1_scan_init(h1_scan *s)
{
    memset(s, 0, sizeof *s);
    s->st = S_LEAD;
}

long h1_scan_feed(h1_scan *s, const char *p, size_t n, size_t *used)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        s->off++;
        switch (s->st) {
        case S_LEAD:
            s->st = c == '\r' ? S_LEAD_CR : c == '\n' ? S_BAD : S_LINE;
            break;
        case S_LEAD_CR:
            if (c != '\n') {
                s->st = S_BAD;
                break;
            }
            s->lead = s->off;
            s->st = S_LEAD;
            break;
        case S_LINE:
            if (c == '\r') s->st = S_CR;
            if (c == '\n') s->st = S_BAD;
            break;
        case S_CR:
            s->st = c == '\n' ? S_LSTART : S_BAD;
            break;
        case S_LSTART:
            s->st = c == '\r' ? S_LSTART_CR : c == '\n' ? S_BAD : S_LINE;
            break;
        case S_LSTART_CR:
            if (c != '\n') {
                s->st = S_BAD;
                break;
            }
            *used = i + 1;
            s->st = S_LEAD;
            return (long)s->off;
        default:
            break;
        }
        if (s->st == S_BAD) {
            *used = i + 1;
            return -1;
        }
    }
    *used = n;
    return 0;
}

/* ---- head parser ---------------------------------------------------------- */

static int fail(char *err, size_t errlen, int status, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return status;
}

/* Does the comma-separated list v hold the token tok (case-insensitive)? */
static int list_has(const char *v, const char *tok)
{
    size_t tl = strlen(tok);
    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        size_t n = strcspn(v, ",");
        size_t k = n;
        while (k > 0 && (v[k - 1] == ' ' || v[k - 1] == '\t'))
            k--;
        if (k == tl && strncasecmp(v, tok, tl) == 0) return 1;
        v += n;
    }
    return 0;
}

static int parse_request_line(char *p, char *eol, h1_head *h, char *err, size_t errlen)
{
    char *q = p;
    while (q < eol && is_tchar((unsigned char)*q))
        q++;
    if (q == p || q >= eol || *q != ' ')
        return fail(err, errlen, 400, "malformed request line: the method is not a token");
    *q++ = '\0';
    h->method = p;
    char *t = q;
    while (q < eol && is_target_char((unsigned char)*q))
        q++;
    if (q == t || q >= eol || *q != ' ')
        return fail(err, errlen, 400,
                    "malformed request line: the target is empty or holds a space or a control "
                    "character");
    *q++ = '\0';
    h->target = t;
    size_t vl = (size_t)(eol - q);
    if (vl == 8 && memcmp(q, "HTTP/1.1", 8) == 0)
        h->minor = 1;
    else if (vl == 8 && memcmp(q, "HTTP/1.0", 8) == 0)
        h->minor = 0;
    else if (vl == 8 && memcmp(q, "HTTP/", 5) == 0 && q[5] >= '0' && q[5] <= '9' && q[6] == '.' &&
             q[7] >= '0' && q[7] <= '9')
        return fail(err, errlen, 505, "HTTP version not supported: only HTTP/1.0 and HTTP/1.1");
    else
        return fail(err, errlen, 400, "malformed request line: bad HTTP version");
    return 0;
}

static int parse_length(const char *v, uint64_t *out)
{
    uint64_t n = 0;
    if (!*v) return -1;
    for (; *v; v++) {
        if (*v < '0' || *v > '9') return -1;
        if (n > (UINT64_MAX - 9) / 10) return -1;
        n = n * 10 + (uint64_t)(*v - '0');
    }
    *out = n;
    return 0;
}

int h1_parse_head(char *p, size_t len, h1_head *h, char *err, size_t errlen)
{
    memset(h, 0, sizeof *h);
    if (len < 4 || memcmp(p + len - 4, "\r\n\r\n", 4) != 0)
        return fail(err, errlen, 400, "malformed request head");
    char *end = p + len - 2; /* the final empty line's CRLF */
    char *eol = memchr(p, '\r', (size_t)(end - p));
    if (!eol || eol[1] != '\n') return fail(err, errlen, 400, "malformed request head");
    for (char *q = p; q < eol; q++)
        if (*q == '\0' || *q == '\n')
            return fail(err, errlen, 400, "control character in the request line");
    int rc = parse_request_line(p, eol, h, err, errlen);
    if (rc) return rc;
    int nhost = 0, ncl = 0, nte = 0;
    const char *te = NULL, *cl = NULL;
    p = eol + 2;
    while (p < end) {
        eol = memchr(p, '\r', (size_t)(end - p));
        if (!eol || eol[1] != '\n') return fail(err, errlen, 400, "malformed header line");
        if (*p == ' ' || *p == '\t')
            return fail(err, errlen, 400, "folded header lines (obs-fold) are not accepted");
        char *q = p;
        while (q < eol && is_tchar((unsigned char)*q))
            q++;
        if (q == p || q >= eol || *q != ':')
            return fail(err, errlen, 400,
                        "malformed header line: the field name is not a token followed by ':'");
        *q = '\0';
        char *v = q + 1;
        for (char *x = v; x < eol; x++)
            if (!is_value_char((unsigned char)*x))
                return fail(err, errlen, 400, "control character in a header value");
        while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
        char *ve = eol;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        *ve = '\0';
        *eol = '\0';
        if (h->n >= H1_MAX_HEADERS) {
            snprintf(err, errlen, "more than %d header fields", H1_MAX_HEADERS);
            return 431;
        }
        h->names[h->n] = p;
        h->values[h->n] = v;
        h->n++;
        if (strcasecmp(p, "Host") == 0) {
            nhost++;
            h->host = v;
        } else if (strcasecmp(p, "Content-Length") == 0) {
            ncl++;
            cl = v;
        } else if (strcasecmp(p, "Transfer-Encoding") == 0) {
            nte++;
            te = v;
        }
        p = eol + 2;
    }
    if (nhost > 1) return fail(err, errlen, 400, "more than one Host header");
    if (nhost == 0 && h->minor == 1)
        return fail(err, errlen, 400, "no Host header (HTTP/1.1 needs one)");
    if (nhost && !h->host[0]) return fail(err, errlen, 400, "empty Host header");
    if (ncl > 1) return fail(err, errlen, 400, "more than one Content-Length header");
    if (nte > 1) return fail(err, errlen, 400, "more than one Transfer-Encoding header");
    if (nte && ncl) return fail(err, errlen, 400, "both Content-Length and Transfer-Encoding");
    if (te) {
        if (h->minor == 0)
            return fail(err, errlen, 400, "Transfer-Encoding in an HTTP/1.0 request");
        if (strcasecmp(te, "chunked") != 0)
            return fail(err, errlen, 501,
                        "unsupported Transfer-Encoding: only \"chunked\" is accepted");
        h->chunked = 1;
    }
    if (cl) {
        if (parse_length(cl, &h->length) < 0)
            return fail(err, errlen, 400, "malformed Content-Length: digits only");
        h->has_length = 1;
    }
    h->keep_alive = h->minor == 1;
    const char *conn = h1_header(h, "Connection");
    if (conn && list_has(conn, "close"))
        h->keep_alive = 0;
    else if (conn && list_has(conn, "keep-alive"))
        h->keep_alive = 1;
    const char *ex = h1_header(h, "Expect");
    h->expect_continue = ex && strcasecmp(ex, "100-continue") == 0;
    return 0;
}

const char *h1_header(const h1_head *h, const char *name)
{
    for (int i = 0; i < h->n; i++)
        if (strcasecmp(h->names[i], name) == 0) return h->values[i];
    return NULL;
}

/* ---- body ----------------------------------------------------------------- */

enum {
    B_SIZE,      /* chunk-size digits */
    B_EXT,       /* chunk extension, up to CR */
    B_SIZE_LF,   /* LF after the size line */
    B_DATA,      /* chunk data */
    B_DATA_CR,   /* CR after data */
    B_DATA_LF,   /* LF after data */
    B_TRAILER,   /* a trailer line (or the final empty line) */
    B_TRAILER_LF /* LF ending a trailer line */
};

#define MAX_CHUNK_LINE 4096
#define MAX_TRAILERS 16384

void h1_body_init(h1_body *b, const h1_head *h, uint64_t max)
{
    memset(b, 0, sizeof *b);
    b->chunked = h->chunked;
    b->left = h->chunked ? 0 : h->length;
    b->max = max;
    b->st = B_SIZE;
}

int h1_body_feed(h1_body *b, const char *p, size_t n, size_t *used, h1_sink_fn sink, void *ud,
                 char *err, size_t errlen)
{
    size_t i = 0;
    int rc = 0;
    if (!b->chunked) {
        size_t take = n < b->left ? n : (size_t)b->left;
        if (take && sink(ud, p, take)) {
            *used = take;
            return fail(err, errlen, 500, "out of memory reading the request body");
        }
        b->left -= take;
        b->total += take;
        *used = take;
        return b->left == 0;
    }
    while (i < n && rc == 0) {
        unsigned char c = (unsigned char)p[i];
        switch (b->st) {
        case B_SIZE: {
            int d = hexval(c);
            if (d >= 0) {
                if ((b->left >> 56) != 0 || b->ndigits >= MAX_CHUNK_LINE) {
                    rc = fail(err, errlen, 400, "malformed chunk size: too long");
                    break;
                }
                b->left = b->left * 16 + (uint64_t)d;
                b->ndigits++;
                i++;
                break;
            }
            if (b->ndigits == 0 || (c != ';' && c != '\r')) {
                rc = fail(err, errlen, 400, "malformed chunk size: hex digits only");
                break;
            }
            if (b->left > b->max || b->total + b->left > b->max) {
                rc = fail(err, errlen, 413, "request body too large");
                break;
            }
            b->st = c == ';' ? B_EXT : B_SIZE_LF;
            b->line = 0;
            i++;
            break;
        }
        case B_EXT:
            if (c == '\r') {
                b->st = B_SIZE_LF;
            } else if (!is_value_char(c) || ++b->line > MAX_CHUNK_LINE) {
                rc = fail(err, errlen, 400, "malformed chunk extension");
                break;
            }
            i++;
            break;
        case B_SIZE_LF:
            if (c != '\n') {
                rc = fail(err, errlen, 400, "malformed chunk size line: CRLF expected");
                break;
            }
            i++;
            b->ndigits = 0;
            if (b->left == 0) {
                b->st = B_TRAILER;
                b->line = 0;
            } else {
                b->st = B_DATA;
            }
            break;
        case B_DATA: {
            size_t take = n - i < b->left ? n - i : (size_t)b->left;
            if (sink(ud, p + i, take)) {
                rc = fail(err, errlen, 500, "out of memory reading the request body");
                break;
            }
            b->left -= take;
            b->total += take;
            i += take;
            if (b->left == 0) b->st = B_DATA_CR;
            break;
        }
        case B_DATA_CR:
        case B_DATA_LF:
            if (c != (b->st == B_DATA_CR ? '\r' : '\n')) {
                rc = fail(err, errlen, 400, "malformed chunked body: CRLF expected after the data");
                break;
            }
            b->st = b->st == B_DATA_CR ? B_DATA_LF : B_SIZE;
            i++;
            break;
        case B_TRAILER:
            if (c == '\r') {
                b->st = B_TRAILER_LF;
            } else if (!is_value_char(c) || ++b->trailer > MAX_TRAILERS) {
                rc = fail(err, errlen, 400, "malformed or too large chunked trailer");
                break;
            } else {
                b->line++;
            }
            i++;
            break;
        case B_TRAILER_LF:
            if (c != '\n') {
                rc = fail(err, errlen, 400, "malformed chunked trailer: CRLF expected");
                break;
            }
            i++;
            if (b->line == 0) {
                *used = i;
                return 1;
            }
            b->line = 0;
            b->st = B_TRAILER;
            break;
        default:
            rc = fail(err, errlen, 500, "bad body state");
            break;
        }
    }
    *used = i;
    return rc;
}

/* ---- whole byte strings --------------------------------------------------- */

static int sink_buf(void *ud, const char *p, size_t n)
{
    return buf_append((buf *)ud, p, n) == BUF_OK ? 0 : 1;
}

int h1_parse_all(const char *p, size_t n, size_t max_head, uint64_t max_body, h1_request_fn fn,
                 void *ud, char *err, size_t errlen)
{
    size_t pos = 0;
    int rc = 0;
    buf head, body;
    buf_init(&head, max_head + 1);
    buf_init(&body, (size_t)max_body + 1);
    while (pos < n) {
        h1_scan sc;
        h1_scan_init(&sc);
        size_t used = 0;
        long hl = h1_scan_feed(&sc, p + pos, n - pos, &used);
        if (hl < 0) {
            rc = fail(err, errlen, 400, "bare LF or CR without LF in the request head");
            break;
        }
        if (hl == 0) {
            /* only leading empty lines left: nothing more was started */
            if (sc.lead == n - pos) break;
            rc = sc.off - sc.lead > max_head ? fail(err, errlen, 431, "request head too large") : 1;
            break;
        }
        if ((size_t)hl - sc.lead > max_head) {
            rc = fail(err, errlen, 431, "request head too large");
            break;
        }
        buf_reset(&head);
        if (buf_append(&head, p + pos + sc.lead, (size_t)hl - sc.lead) != BUF_OK) {
            rc = fail(err, errlen, 500, "out of memory");
            break;
        }
        pos += (size_t)hl;
        h1_head h;
        rc = h1_parse_head(head.data, head.len, &h, err, errlen);
        if (rc) break;
        if (h.has_length && h.length > max_body) {
            rc = fail(err, errlen, 413, "request body too large");
            break;
        }
        h1_body b;
        h1_body_init(&b, &h, max_body);
        buf_reset(&body);
        rc = h1_body_feed(&b, p + pos, n - pos, &used, sink_buf, &body, err, errlen);
        pos += used;
        if (rc == 0) {
            rc = 1; /* the input ended inside the body */
            break;
        }
        if (rc != 1) break;
        rc = 0;
        if (fn) fn(ud, &h, body.data ? body.data : "", body.len);
    }
    buf_free(&head);
    buf_free(&body);
    return rc;
}

void h1_escape(const char *s, size_t n, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    if (!outlen) return;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            if (k + 1 >= outlen) break;
            out[k++] = (char)c;
        } else {
            if (k + 4 >= outlen) break;
            out[k++] = '\\';
            out[k++] = 'x';
            out[k++] = hex[c >> 4];
            out[k++] = hex[c & 15];
        }
    }
    out[k] = '\0';
}
