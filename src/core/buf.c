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

int buf_append_grow(buf *b, const void *p, size_t n)
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

/* 0: as is; 'u': \u00xx; else the letter after the backslash */
static const unsigned char *json_escape_tab(void)
{
    static unsigned char tab[256];
    static int init;
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
    return tab;
}

/* Index (0..7) of the first of the 8 bytes at s that needs an escape (below
 * 0x20, '"' or '\\'), or 8 when none does. The word tests are the usual
 * has-zero-byte ones: a borrow can only mark bytes above a true match, so
 * the lowest marked byte is always one. */
static inline size_t first_special(const char *s)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t w;
    memcpy(&w, s, sizeof w);
    uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
    uint64_t hit = (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & high;
    if (!hit) return 8;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
    return (size_t)__builtin_ctzll(hit) >> 3;
#else
    size_t k = 0;
    while (k < 8 && (unsigned char)s[k] >= 0x20 && s[k] != '"' && s[k] != '\\')
        k++;
    return k;
#endif
}

#if defined(__SSE2__)
#include <emmintrin.h>
/* As first_special, for the 16 bytes at s (16 when none needs an escape). */
static inline size_t first_special16(const char *s)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
    __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v); /* v <= 0x1f */
    __m128i q = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
    __m128i b = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(ctl, _mm_or_si128(q, b)));
    return m ? (size_t)__builtin_ctz(m) : 16;
}
#endif

/* Append the escaped form of byte ch at d; returns the new end. */
static inline char *put_escaped(char *d, const unsigned char *tab, unsigned char ch)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char t = tab[ch];
    if (!t) {
        *d++ = (char)ch;
    } else if (t == 'u') {
        memcpy(d, "\\u00", 4);
        d[4] = hex[ch >> 4];
        d[5] = hex[ch & 15];
        d += 6;
    } else {
        d[0] = '\\';
        d[1] = (char)t;
        d += 2;
    }
    return d;
}

/* Write the escaped s[0, n) and the closing quote from d, while the output
 * stays within lim (NULL: the room is known to be enough). Returns the end,
 * or NULL when lim might be passed. */
static char *escape_into(char *d, const char *lim, const unsigned char *tab, const char *s,
                         size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
#if defined(__SSE2__)
    while (i + 16 <= n) {
        /* room for the rest plain, and for this block's escape */
        if (lim && (size_t)(lim - d) < n - i + 6) return NULL;
        size_t k = first_special16(s + i);
        memcpy(d, s + i, 16);
        d += k;
        i += k;
        if (k < 16) d = put_escaped(d, tab, u[i++]);
    }
#endif
    while (i + 8 <= n) {
        /* room for the rest plain, and for this word's escape */
        if (lim && (size_t)(lim - d) < n - i + 6) return NULL;
        size_t k = first_special(s + i);
        memcpy(d, s + i, 8);
        d += k;
        i += k;
        if (k < 8) d = put_escaped(d, tab, u[i++]);
    }
    if (lim && (size_t)(lim - d) < 6 * (n - i) + 1) return NULL;
    for (; i < n; i++)
        d = put_escaped(d, tab, u[i]);
    *d++ = '"';
    return d;
}

int buf_append_json_string(buf *b, const char *s, size_t n)
{
    const unsigned char *tab = json_escape_tab();
    /* one pass into room for a quarter more than the input (most text);
     * text that escapes more is sized exactly first */
    if (n < SIZE_MAX / 4) {
        size_t room = n + n / 4 + 16;
        if (buf_reserve(b, room) == BUF_OK) {
            char *start = b->data + b->len;
            *start = '"';
            char *d = escape_into(start + 1, start + room, tab, s, n);
            if (d) {
                b->len += (size_t)(d - start);
                b->data[b->len] = '\0';
                return BUF_OK;
            }
        }
    }
    const unsigned char *u = (const unsigned char *)s;
    size_t out = n + 2, i = 0;
    while (i + 8 <= n) {
        size_t k = first_special(s + i);
        i += k;
        if (k < 8) out += tab[u[i++]] == 'u' ? 5 : 1;
    }
    for (; i < n; i++)
        out += tab[u[i]] ? (tab[u[i]] == 'u' ? 5 : 1) : 0;
    int rc = buf_reserve(b, out);
    if (rc) return rc;
    char *start = b->data + b->len;
    *start = '"';
    escape_into(start + 1, NULL, tab, s, n); /* exactly out bytes */
    b->len += out;
    b->data[b->len] = '\0';
    return BUF_OK;
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
