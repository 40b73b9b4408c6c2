/*
 * jw: the JSON writer (see jw.h). Every function appends to the caller's
 * buf and records the first error; none allocates beyond the buf's growth
 * (numbers are formatted on the stack).
 */
#include "jw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(jw *w, buf *b)
{
    w->b = b;
    w->mark = b->len;
    w->rc = 0;
}

void jw_raw(jw *w, const char *s, size_t n)
{
    if (!w->rc) w->rc = buf_append(w->b, s, n);
}

void jw_lit(jw *w, const char *s)
{
    jw_raw(w, s, strlen(s));
}

void jw_str(jw *w, const char *s, size_t n)
{
    if (!w->rc) w->rc = buf_append_json_string(w->b, s, n);
}

void jw_cstr(jw *w, const char *s)
{
    if (s)
        jw_str(w, s, strlen(s));
    else
        jw_raw(w, "null", 4);
}

/* Decimal digits of v into the end of s[size]; returns where they start. */
static char *fmt_ll(char *s, size_t size, long long v)
{
    char *p = s + size;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--p = '-';
    return p;
}

void jw_long(jw *w, long v)
{
    char s[24];
    char *p = fmt_ll(s, sizeof s, v);
    jw_raw(w, p, (size_t)(s + sizeof s - p));
}

int jw_is_integral(double d)
{
    return d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double)(long long)d;
}

void jw_num(jw *w, double d)
{
    char s[40];
    if (jw_is_integral(d)) {
        char *p = fmt_ll(s, sizeof s, (long long)d);
        jw_raw(w, p, (size_t)(s + sizeof s - p));
        return;
    }
    snprintf(s, sizeof s, "%.15g", d);
    if (strtod(s, NULL) != d) snprintf(s, sizeof s, "%.17g", d);
    jw_lit(w, s);
}

void jw_key(jw *w, int *first, const char *key)
{
    if (!*first) jw_raw(w, ",", 1);
    *first = 0;
    jw_str(w, key, strlen(key));
    jw_raw(w, ":", 1);
}

int jw_finish(jw *w)
{
    if (w->rc) {
        w->b->len = w->mark;
        if (w->b->data) w->b->data[w->mark] = '\0';
    }
    return w->rc;
}
