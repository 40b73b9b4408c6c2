/*
 * jw: the JSON writer (see jw.h). Every function appends to the caller's
 * buf and records the first error; none allocates beyond the buf's growth
 * (numbers are formatted on the stack).
 */
#include "jw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(jw *w, buf *b)
{
    w->b = b;
    w->mark = b->len;
    w->rc = 0;
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

/* A number as cJSON_PrintUnformatted writes it (%1.15g, or %1.17g when
 * that does not read back): an integer of up to 15 digits, which %1.15g
 * writes as its digits, here; every other one (-0 among them) by cJSON
 * itself, so the format is its own. */
static void cjson_num(jw *w, const cJSON *v)
{
    double d = v->valuedouble;
    if (d > -1e15 && d < 1e15 && d == (double)(long long)d && !(d == 0 && signbit(d))) {
        jw_num(w, d); /* integral: its digits */
        return;
    }
    cJSON one = *v;
    one.next = one.prev = NULL;
    one.string = NULL;
    char *s = cJSON_PrintUnformatted(&one);
    if (!s) {
        if (!w->rc) w->rc = BUF_ENOMEM;
        return;
    }
    jw_lit(w, s);
    cJSON_free(s);
}

static void value_at(jw *w, const cJSON *v, int depth)
{
    if (w->rc) return;
    if (depth > 1000) {
        w->rc = BUF_ETOOBIG;
        return;
    }
    switch (v->type & 0xFF) {
    case cJSON_NULL:
        jw_lit(w, "null");
        return;
    case cJSON_False:
        jw_lit(w, "false");
        return;
    case cJSON_True:
        jw_lit(w, "true");
        return;
    case cJSON_Number:
        cjson_num(w, v);
        return;
    case cJSON_String:
        jw_cstr(w, v->valuestring ? v->valuestring : "");
        return;
    case cJSON_Raw:
        if (!v->valuestring) {
            w->rc = BUF_ENOMEM;
            return;
        }
        jw_lit(w, v->valuestring);
        return;
    case cJSON_Array:
        jw_raw(w, "[", 1);
        for (const cJSON *c = v->child; c; c = c->next) {
            if (c != v->child) jw_raw(w, ",", 1);
            value_at(w, c, depth + 1);
        }
        jw_raw(w, "]", 1);
        return;
    case cJSON_Object:
        jw_raw(w, "{", 1);
        for (const cJSON *c = v->child; c; c = c->next) {
            if (c != v->child) jw_raw(w, ",", 1);
            jw_cstr(w, c->string ? c->string : "");
            jw_raw(w, ":", 1);
            value_at(w, c, depth + 1);
        }
        jw_raw(w, "}", 1);
        return;
    default:
        w->rc = BUF_ENOMEM;
    }
}

void jw_value(jw *w, const cJSON *v)
{
    if (!v) {
        if (!w->rc) w->rc = BUF_ENOMEM;
        return;
    }
    value_at(w, v, 0);
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
