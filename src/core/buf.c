/*
 * buf: growable byte buffer with a hard maximum (see buf.h). Used by every
 * module in the flow; it does no I/O.
 */
#include "buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t buf_limit(const buf *b)
{
    return b->max ? b->max : SIZE_MAX / 2;
}

void buf_init(buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void buf_free(buf *b)
{
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_reset(buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

static int buf_reserve(buf *b, size_t extra)
{
    if (extra > buf_limit(b) - b->len) return BUF_ETOOBIG;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return BUF_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap * 2;
    char *p = realloc(b->data, cap);
    if (!p) return BUF_ENOMEM;
    b->data = p;
    b->cap = cap;
    return BUF_OK;
}

int buf_append(buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return BUF_OK;
}

int buf_appends(buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_vappendf(buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return BUF_ENOMEM;
    int rc = buf_reserve(b, (size_t)n);
    if (rc) return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return BUF_OK;
}

int buf_appendf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int buf_append_json_string(buf *b, const char *s, size_t n)
{
    /* 0: as is; 'u': \u00xx; else the letter after the backslash */
    static unsigned char tab[256];
    static int init;
    static const char hex[] = "0123456789abcdef";
    if (!init) {
        for (int i = 0; i < 0x20; i++)
            tab[i] = 'u';
        tab['"'] = '"';
        tab['\\'] = '\\';
        tab['\b'] = 'b';
        tab['\f'] = 'f';
        tab['\n'] = 'n';
        tab['\r'] = 'r';
        tab['\t'] = 't';
        init = 1;
    }
    size_t run = 0;
    int rc = buf_append(b, "\"", 1);
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char t = tab[(unsigned char)s[i]];
        if (!t) continue;
        rc = buf_append(b, s + run, i - run);
        if (rc) break;
        if (t == 'u') {
            unsigned char ch = (unsigned char)s[i];
            char u[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            rc = buf_append(b, u, 6);
        } else {
            char e[2] = {'\\', (char)t};
            rc = buf_append(b, e, 2);
        }
        run = i + 1;
    }
    if (!rc) rc = buf_append(b, s + run, n - run);
    if (!rc) rc = buf_append(b, "\"", 1);
    return rc;
}

void buf_consume(buf *b, size_t n)
{
    if (n >= b->len) {
        buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *buf_detach(buf *b, size_t *len)
{
    char *p = b->data;
    if (len) *len = b->len;
    if (!p) p = calloc(1, 1);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
