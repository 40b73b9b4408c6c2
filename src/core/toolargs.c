/*
 * toolargs: repair and schema coercion of tool-call arguments (see
 * toolargs.h). Sits between a backend's tool call (native, or recovered from
 * text by toolcall_text) and the tool_use block the client sees. Pure: no
 * I/O, no globals.
 *
 * The lenient parser does not patch the text in place: it re-tokenizes it
 * and writes a strict JSON rendering (a small state machine per container:
 * expecting key, colon, value or comma), inserting what is missing and
 * dropping what cannot belong, then hands that to cJSON.
 */
#include "toolargs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NORM_MAX_NEST 512
#define COERCE_MAX_DEPTH 64
#define MAX_CANDS 16
#define MAX_DECODE 3

/* ---------------------------------------------------------------------- */
/* Lenient JSON                                                           */
/* ---------------------------------------------------------------------- */

/* What the innermost container (or the top level) expects next. */
enum { S_TOP, S_TOPDONE, S_OKEY, S_OCOLON, S_OVALUE, S_OCOMMA, S_AVALUE, S_ACOMMA };

typedef struct norm {
    buf *out;
    const char *p;
    size_t n;
    size_t i;
    char open[NORM_MAX_NEST];        /* '{' or '[' per level; [0] unused */
    unsigned char st[NORM_MAX_NEST]; /* state per level; [0] is the top */
    int sp;                          /* innermost level */
    int pending_comma;               /* a ',' seen, written before the next item */
    int rc;                          /* first buf error, or TOOLARGS_EPARSE */
    int stop;                        /* the top value is complete, or hopeless */
} norm;

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static void put(norm *z, const char *s, size_t n)
{
    if (z->rc) return;
    int rc = buf_append(z->out, s, n);
    if (rc) z->rc = rc == BUF_ETOOBIG ? TOOLARGS_ETOOBIG : TOOLARGS_ENOMEM;
}

static void putc1(norm *z, char c)
{
    put(z, &c, 1);
}

/* Before writing a scalar or an opener: write any separator the state calls
 * for and advance the state. Returns 1 when the token sits in key position,
 * 0 in value position, -1 when the top value is already complete. */
static int norm_pre(norm *z)
{
    unsigned char *s = &z->st[z->sp];
    int key = 0;
    switch (*s) {
    case S_TOP:
        *s = S_TOPDONE;
        break;
    case S_TOPDONE:
        return -1;
    case S_OKEY:
        if (z->pending_comma) putc1(z, ',');
        *s = S_OCOLON;
        key = 1;
        break;
    case S_OCOLON: /* key then value with no colon */
        putc1(z, ':');
        *s = S_OCOMMA;
        break;
    case S_OVALUE:
        *s = S_OCOMMA;
        break;
    case S_OCOMMA: /* value then key with no comma */
        putc1(z, ',');
        *s = S_OCOLON;
        key = 1;
        break;
    case S_AVALUE:
        if (z->pending_comma) putc1(z, ',');
        *s = S_ACOMMA;
        break;
    case S_ACOMMA:
        putc1(z, ',');
        break;
    }
    z->pending_comma = 0;
    return key;
}

static void norm_close_top(norm *z)
{
    if (z->open[z->sp] == '{') {
        if (z->st[z->sp] == S_OCOLON)
            put(z, ":null", 5);
        else if (z->st[z->sp] == S_OVALUE)
            put(z, "null", 4);
        putc1(z, '}');
    } else {
        putc1(z, ']');
    }
    z->pending_comma = 0;
    z->sp--;
}

static void norm_close(norm *z, char c)
{
    char want = c == '}' ? '{' : '[';
    int k = z->sp;
    while (k > 0 && z->open[k] != want)
        k--;
    if (k == 0) return; /* stray closer */
    while (z->sp >= k)
        norm_close_top(z);
}

static int is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A quote that may end the string: it does when what follows (after
 * whitespace) can follow a string, else it is an unescaped inner quote. */
static int norm_quote_closes(const norm *z, size_t i)
{
    size_t j = i + 1;
    while (j < z->n && is_ws(z->p[j]))
        j++;
    if (j >= z->n) return 1;
    return strchr(",:}]\"'/", z->p[j]) != NULL;
}

/* Copy the string opening at z->i (quote " or ') as a strict JSON string. */
static void norm_string(norm *z)
{
    const char *p = z->p;
    char q = p[z->i++];
    putc1(z, '"');
    while (z->i < z->n) {
        char c = p[z->i];
        if (c == '\\') {
            if (z->i + 1 >= z->n) { /* dangling backslash at the end */
                z->i++;
                break;
            }
            char d = p[z->i + 1];
            if (strchr("\"\\/bfnrt", d)) {
                put(z, p + z->i, 2);
                z->i += 2;
            } else if (d == 'u' && z->i + 5 < z->n && is_hex(p[z->i + 2]) && is_hex(p[z->i + 3]) &&
                       is_hex(p[z->i + 4]) && is_hex(p[z->i + 5])) {
                put(z, p + z->i, 6);
                z->i += 6;
            } else if (d == '\'') {
                putc1(z, '\'');
                z->i += 2;
            } else { /* unknown escape: keep the backslash literally */
                put(z, "\\\\", 2);
                z->i++;
            }
            continue;
        }
        if (c == q) {
            if (norm_quote_closes(z, z->i)) {
                z->i++;
                putc1(z, '"');
                return;
            }
            if (q == '"')
                put(z, "\\\"", 2);
            else
                putc1(z, c);
            z->i++;
            continue;
        }
        if (c == '"') {
            put(z, "\\\"", 2);
        } else if ((unsigned char)c < 0x20) {
            char esc[8];
            switch (c) {
            case '\n':
                put(z, "\\n", 2);
                break;
            case '\r':
                put(z, "\\r", 2);
                break;
            case '\t':
                put(z, "\\t", 2);
                break;
            case '\b':
                put(z, "\\b", 2);
                break;
            case '\f':
                put(z, "\\f", 2);
                break;
            default:
                snprintf(esc, sizeof esc, "\\u%04x", (unsigned)(unsigned char)c);
                put(z, esc, 6);
            }
        } else {
            putc1(z, c);
        }
        z->i++;
    }
    putc1(z, '"'); /* unterminated at the end: close it */
}

/* Write s (n bytes, no quotes or control characters inside: an identifier
 * or number token) as a JSON string. */
static void norm_quoted(norm *z, const char *s, size_t n)
{
    putc1(z, '"');
    put(z, s, n);
    putc1(z, '"');
}

/* JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int number_ok(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i >= n || !is_digit(s[i])) return 0;
    if (s[i] == '0')
        i++;
    else
        while (i < n && is_digit(s[i]))
            i++;
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !is_digit(s[i])) return 0;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= n || !is_digit(s[i])) return 0;
        while (i < n && is_digit(s[i]))
            i++;
    }
    return i == n;
}

static void norm_number(norm *z)
{
    size_t s = z->i;
    while (z->i < z->n && (is_digit(z->p[z->i]) || strchr("+-.eE", z->p[z->i])))
        z->i++;
    const char *t = z->p + s;
    size_t n = z->i - s;
    int pre = norm_pre(z);
    if (pre < 0) {
        z->stop = 1;
        return;
    }
    if (pre == 1) {
        norm_quoted(z, t, n);
        return;
    }
    /* tolerate +1, .5, -.5 and 1. */
    char tmp[64];
    size_t m = 0;
    if (n < sizeof tmp - 2) {
        size_t k = 0;
        if (t[k] == '+') k++;
        if (k < n && t[k] == '-') tmp[m++] = t[k++];
        if (k < n && t[k] == '.') tmp[m++] = '0';
        for (; k < n; k++)
            tmp[m++] = t[k];
        if (m && tmp[m - 1] == '.') m--;
        if (number_ok(tmp, m)) {
            put(z, tmp, m);
            return;
        }
    }
    norm_quoted(z, t, n);
}

static void norm_ident(norm *z)
{
    size_t s = z->i;
    while (z->i < z->n && (is_alpha(z->p[z->i]) || is_digit(z->p[z->i])))
        z->i++;
    const char *t = z->p + s;
    size_t n = z->i - s;
    int pre = norm_pre(z);
    if (pre < 0) {
        z->stop = 1;
        return;
    }
    if (pre == 0) {
        static const struct {
            const char *word;
            const char *json;
        } lit[] = {{"true", "true"},    {"True", "true"},      {"TRUE", "true"},
                   {"false", "false"},  {"False", "false"},    {"FALSE", "false"},
                   {"null", "null"},    {"None", "null"},      {"NULL", "null"},
                   {"nil", "null"},     {"undefined", "null"}, {"NaN", "null"},
                   {"Infinity", "null"}};
        for (size_t k = 0; k < sizeof lit / sizeof lit[0]; k++) {
            if (strlen(lit[k].word) == n && memcmp(lit[k].word, t, n) == 0) {
                put(z, lit[k].json, strlen(lit[k].json));
                return;
            }
        }
    }
    norm_quoted(z, t, n);
}

static void norm_comment(norm *z)
{
    const char *p = z->p;
    if (z->i + 1 < z->n && p[z->i + 1] == '/') {
        while (z->i < z->n && p[z->i] != '\n')
            z->i++;
    } else if (z->i + 1 < z->n && p[z->i + 1] == '*') {
        z->i += 2;
        while (z->i + 1 < z->n && !(p[z->i] == '*' && p[z->i + 1] == '/'))
            z->i++;
        z->i = z->i + 2 <= z->n ? z->i + 2 : z->n;
    } else {
        z->i++;
    }
}

/* Render p[0..n) as strict JSON into out. Returns 0 or a TOOLARGS_* code. */
static int norm_run(const char *p, size_t n, buf *out)
{
    norm z;
    memset(&z, 0, sizeof z);
    z.out = out;
    z.p = p;
    z.n = n;
    z.st[0] = S_TOP;
    while (z.i < n && !z.stop && !z.rc) {
        char c = p[z.i];
        if (is_ws(c)) {
            z.i++;
        } else if (c == '{' || c == '[') {
            int pre = norm_pre(&z);
            if (pre != 0 || z.sp + 1 >= NORM_MAX_NEST) { /* opener as a key, or too deep */
                if (pre > 0) z.rc = TOOLARGS_EPARSE;
                z.stop = 1;
                break;
            }
            z.sp++;
            z.open[z.sp] = c;
            z.st[z.sp] = c == '{' ? S_OKEY : S_AVALUE;
            putc1(&z, c);
            z.i++;
        } else if (c == '}' || c == ']') {
            norm_close(&z, c);
            z.i++;
        } else if (c == ':') {
            if (z.st[z.sp] == S_OCOLON) {
                putc1(&z, ':');
                z.st[z.sp] = S_OVALUE;
            }
            z.i++;
        } else if (c == ',') {
            unsigned char *s = &z.st[z.sp];
            if (*s == S_OCOMMA) {
                *s = S_OKEY;
                z.pending_comma = 1;
            } else if (*s == S_ACOMMA) {
                *s = S_AVALUE;
                z.pending_comma = 1;
            } else if (*s == S_OVALUE) { /* "key": , */
                put(&z, "null", 4);
                *s = S_OKEY;
                z.pending_comma = 1;
            } else if (*s == S_OCOLON) { /* "key" , */
                put(&z, ":null", 5);
                *s = S_OKEY;
                z.pending_comma = 1;
            }
            z.i++;
        } else if (c == '"' || c == '\'') {
            int pre = norm_pre(&z);
            if (pre < 0) {
                z.stop = 1;
                break;
            }
            norm_string(&z);
        } else if (is_digit(c) || c == '-' || c == '+' || c == '.') {
            norm_number(&z);
        } else if (is_alpha(c)) {
            norm_ident(&z);
        } else if (c == '/') {
            norm_comment(&z);
        } else {
            z.i++; /* a byte that has no place in JSON */
        }
        if (z.sp == 0 && z.st[0] == S_TOPDONE) z.stop = 1;
    }
    while (z.sp > 0)
        norm_close_top(&z);
    if (!z.rc && z.st[0] != S_TOPDONE) z.rc = TOOLARGS_EPARSE;
    return z.rc;
}

size_t toolargs_trim(const char **p, size_t n)
{
    while (n && is_ws(**p)) {
        (*p)++;
        n--;
    }
    while (n && is_ws((*p)[n - 1]))
        n--;
    return n;
}

cJSON *toolargs_parse(const char *p, size_t n)
{
    if (!p) return NULL;
    n = toolargs_trim(&p, n);
    if (n == 0) return NULL;
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(p, n, &end, 0);
    if (v) {
        const char *e = p + n;
        while (end && end < e && is_ws(*end))
            end++;
        if (end == e) return v;
        cJSON_Delete(v);
    }
    buf b;
    buf_init(&b, 0);
    v = NULL;
    if (norm_run(p, n, &b) == 0 && b.len) v = cJSON_ParseWithLength(b.data, b.len);
    buf_free(&b);
    return v;
}

/* ---------------------------------------------------------------------- */
/* Schema coercion                                                        */
/* ---------------------------------------------------------------------- */

typedef struct cand {
    const char *type;
    const cJSON *schema;
} cand;

static void cands_add(cand *c, int *nc, const char *type, const cJSON *s)
{
    if (*nc >= MAX_CANDS) return;
    c[*nc].type = type;
    c[*nc].schema = s;
    (*nc)++;
}

/* The types a schema allows, in order, each with the (sub)schema that says
 * what is inside it. */
static void schema_cands(const cJSON *s, cand *c, int *nc, int depth)
{
    if (!cJSON_IsObject(s) || depth > 8) return;
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(s, "type");
    int any = 0;
    if (cJSON_IsString(ty)) {
        cands_add(c, nc, ty->valuestring, s);
        any = 1;
    } else if (cJSON_IsArray(ty)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, ty)
        {
            if (cJSON_IsString(e)) {
                cands_add(c, nc, e->valuestring, s);
                any = 1;
            }
        }
    }
    static const char *alts[] = {"anyOf", "oneOf", "allOf"};
    for (size_t k = 0; k < sizeof alts / sizeof alts[0]; k++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(s, alts[k]);
        if (!cJSON_IsArray(a)) continue;
        const cJSON *e;
        cJSON_ArrayForEach(e, a)
        {
            int before = *nc;
            schema_cands(e, c, nc, depth + 1);
            if (*nc > before) any = 1;
        }
    }
    if (!any) {
        if (cJSON_GetObjectItemCaseSensitive(s, "properties"))
            cands_add(c, nc, "object", s);
        else if (cJSON_GetObjectItemCaseSensitive(s, "items"))
            cands_add(c, nc, "array", s);
    }
}

/* Whole number (without libm: every finite double past 2^63 is whole). */
static int integral(double d)
{
    if (!isfinite(d)) return 0;
    if (d >= 9.2e18 || d <= -9.2e18) return 1;
    return (double)(long long)d == d;
}

static int fits(const cJSON *v, const char *type)
{
    if (!strcmp(type, "string")) return cJSON_IsString(v);
    if (!strcmp(type, "number")) return cJSON_IsNumber(v);
    if (!strcmp(type, "integer")) return cJSON_IsNumber(v) && integral(v->valuedouble);
    if (!strcmp(type, "boolean")) return cJSON_IsBool(v);
    if (!strcmp(type, "null")) return cJSON_IsNull(v);
    if (!strcmp(type, "array")) return cJSON_IsArray(v);
    if (!strcmp(type, "object")) return cJSON_IsObject(v);
    return 1; /* a type we do not know: take the value as it is */
}

/* A number written as text ("5", " -2.5e3 ", "+7"); 0 when it is not one. */
static int number_from_text(const char *s, double *out)
{
    size_t n = strlen(s);
    n = toolargs_trim(&s, n);
    char tmp[64];
    size_t m = 0;
    if (n == 0 || n >= sizeof tmp) return 0;
    size_t k = 0;
    if (s[k] == '+') k++;
    for (; k < n; k++)
        tmp[m++] = s[k];
    tmp[m] = '\0';
    if (!number_ok(tmp, m)) return 0;
    char *end = NULL;
    double d = strtod(tmp, &end);
    if (end != tmp + m || !isfinite(d)) return 0;
    *out = d;
    return 1;
}

static int word_is(const char *s, const char *w)
{
    size_t n = strlen(s);
    n = toolargs_trim(&s, n);
    return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

/* A new value of `type` made from v, or NULL when v does not convert. */
static cJSON *convert(const cJSON *v, const char *type)
{
    if (cJSON_IsString(v) && v->valuestring) {
        const char *s = v->valuestring;
        double d;
        if (!strcmp(type, "integer")) {
            if (number_from_text(s, &d) && integral(d)) return cJSON_CreateNumber(d);
        } else if (!strcmp(type, "number")) {
            if (number_from_text(s, &d)) return cJSON_CreateNumber(d);
        } else if (!strcmp(type, "boolean")) {
            if (word_is(s, "true")) return cJSON_CreateTrue();
            if (word_is(s, "false")) return cJSON_CreateFalse();
        } else if (!strcmp(type, "null")) {
            if (word_is(s, "null") || word_is(s, "none")) return cJSON_CreateNull();
        } else if (!strcmp(type, "array") || !strcmp(type, "object")) {
            cJSON *j = toolargs_parse(s, strlen(s));
            if (j && fits(j, type)) return j;
            cJSON_Delete(j);
        }
        return NULL;
    }
    if (strcmp(type, "string") != 0) return NULL;
    if (cJSON_IsNumber(v) || cJSON_IsBool(v) || cJSON_IsArray(v) || cJSON_IsObject(v)) {
        /* numbers and booleans as their JSON text; structures pretty-printed
         * (an object given where file content was wanted) */
        cJSON *copy = cJSON_Duplicate(v, 1);
        if (!copy) return NULL;
        char *txt = (cJSON_IsArray(v) || cJSON_IsObject(v)) ? cJSON_Print(copy)
                                                            : cJSON_PrintUnformatted(copy);
        cJSON_Delete(copy);
        if (!txt) return NULL;
        cJSON *r = cJSON_CreateString(txt);
        cJSON_free(txt);
        return r;
    }
    return NULL;
}

static cJSON *coerce_value(cJSON *v, const cJSON *schema, int depth);

/* Replace child of parent by nv, keeping its key. */
static void replace_child(cJSON *parent, cJSON *child, cJSON *nv)
{
    if (child->string) {
        size_t kl = strlen(child->string);
        char *k = cJSON_malloc(kl + 1);
        if (!k) {
            cJSON_Delete(nv);
            return;
        }
        memcpy(k, child->string, kl + 1);
        nv->string = k;
        nv->type &= ~cJSON_StringIsConst;
    }
    if (!cJSON_ReplaceItemViaPointer(parent, child, nv)) cJSON_Delete(nv);
}

/* Coerce what is inside an object or array by the schema it matched. */
static void descend(cJSON *v, const cJSON *schema, int depth)
{
    if (depth > COERCE_MAX_DEPTH) return;
    if (cJSON_IsObject(v)) {
        const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
        if (!cJSON_IsObject(props)) return;
        cJSON *child = v->child;
        while (child) {
            cJSON *next = child->next;
            const cJSON *ps =
                child->string ? cJSON_GetObjectItemCaseSensitive(props, child->string) : NULL;
            if (ps) {
                cJSON *nv = coerce_value(child, ps, depth + 1);
                if (nv) replace_child(v, child, nv);
            }
            child = next;
        }
    } else if (cJSON_IsArray(v)) {
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(schema, "items");
        const cJSON *tuple = cJSON_IsArray(items) ? items->child : NULL;
        if (!cJSON_IsObject(items) && !tuple) return;
        cJSON *child = v->child;
        while (child) {
            cJSON *next = child->next;
            const cJSON *is = cJSON_IsObject(items) ? items : tuple;
            if (is) {
                cJSON *nv = coerce_value(child, is, depth + 1);
                if (nv) replace_child(v, child, nv);
            }
            if (tuple) tuple = tuple->next;
            child = next;
        }
    }
}

/* Returns a new value to replace v with, or NULL to keep v (whose insides
 * may have been coerced in place). */
static cJSON *coerce_value(cJSON *v, const cJSON *schema, int depth)
{
    if (depth > COERCE_MAX_DEPTH) return NULL;
    cand c[MAX_CANDS];
    int nc = 0;
    schema_cands(schema, c, &nc, 0);
    for (int k = 0; k < nc; k++) {
        if (fits(v, c[k].type)) {
            descend(v, c[k].schema, depth);
            return NULL;
        }
    }
    for (int k = 0; k < nc; k++) {
        cJSON *nv = convert(v, c[k].type);
        if (nv) {
            descend(nv, c[k].schema, depth);
            return nv;
        }
    }
    return NULL;
}

int toolargs_coerce(cJSON *args, const cJSON *schema)
{
    if (!cJSON_IsObject(args)) return TOOLARGS_ENOTOBJ;
    if (cJSON_IsObject(schema)) descend(args, schema, 0);
    return 0;
}

cJSON *toolargs_value_from_text(const char *p, size_t n, const cJSON *prop_schema)
{
    char *s = malloc(n + 1);
    if (!s) return NULL;
    if (n) memcpy(s, p, n);
    s[n] = '\0';
    cJSON *v = cJSON_CreateString(s);
    free(s);
    if (!v || !prop_schema) return v;
    cJSON *nv = coerce_value(v, prop_schema, 0);
    if (nv) {
        cJSON_Delete(v);
        return nv;
    }
    return v;
}

/* ---------------------------------------------------------------------- */
/* Repair                                                                 */
/* ---------------------------------------------------------------------- */

static const char *json_type_name(const cJSON *v)
{
    if (cJSON_IsArray(v)) return "array";
    if (cJSON_IsString(v)) return "string";
    if (cJSON_IsNumber(v)) return "number";
    if (cJSON_IsBool(v)) return "boolean";
    if (cJSON_IsNull(v)) return "null";
    return "value";
}

int toolargs_repair(const char *args, size_t len, const cJSON *input_schema, buf *out, char *err,
                    size_t errlen)
{
    int rc = 0;
    cJSON *v = NULL;
    char *txt = NULL;
    const char *p = args ? args : "";
    size_t n = toolargs_trim(&p, args ? len : 0);
    if (err && errlen) err[0] = '\0';

    if (n == 0) {
        v = cJSON_CreateObject();
    } else {
        v = toolargs_parse(p, n);
        if (!v) {
            rc = TOOLARGS_EPARSE;
            if (err) snprintf(err, errlen, "tool arguments are not JSON");
            goto out;
        }
    }
    if (!v) {
        rc = TOOLARGS_ENOMEM;
        goto out;
    }
    for (int k = 0; k < MAX_DECODE && cJSON_IsString(v); k++) {
        const char *s = v->valuestring ? v->valuestring : "";
        const char *q = s;
        cJSON *inner =
            toolargs_trim(&q, strlen(s)) == 0 ? cJSON_CreateObject() : toolargs_parse(s, strlen(s));
        if (!inner) break;
        cJSON_Delete(v);
        v = inner;
    }
    if (!cJSON_IsObject(v)) {
        rc = TOOLARGS_ENOTOBJ;
        if (err)
            snprintf(err, errlen, "tool arguments are a JSON %s, not an object", json_type_name(v));
        goto out;
    }
    toolargs_coerce(v, input_schema);
    txt = cJSON_PrintUnformatted(v);
    if (!txt) {
        rc = TOOLARGS_ENOMEM;
        goto out;
    }
    int brc = buf_append(out, txt, strlen(txt));
    if (brc) {
        rc = brc == BUF_ETOOBIG ? TOOLARGS_ETOOBIG : TOOLARGS_ENOMEM;
        if (err) snprintf(err, errlen, "tool arguments are too large");
    }
out:
    if (rc == TOOLARGS_ENOMEM && err && !err[0]) snprintf(err, errlen, "out of memory");
    cJSON_free(txt);
    cJSON_Delete(v);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Tools                                                                  */
/* ---------------------------------------------------------------------- */

const cJSON *toolargs_find_tool(const cJSON *tools, const char *name, size_t name_len)
{
    if (!cJSON_IsArray(tools) || !name) return NULL;
    const cJSON *t, *folded = NULL;
    int nfolded = 0;
    cJSON_ArrayForEach(t, tools)
    {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(t, "name");
        if (!cJSON_IsString(nm) || !nm->valuestring) continue;
        size_t l = strlen(nm->valuestring);
        if (l != name_len) continue;
        if (memcmp(nm->valuestring, name, l) == 0) return t;
        if (strncasecmp(nm->valuestring, name, l) == 0) {
            folded = t;
            nfolded++;
        }
    }
    return nfolded == 1 ? folded : NULL;
}

const cJSON *toolargs_find_schema(const cJSON *tools, const char *name, size_t name_len)
{
    const cJSON *t = toolargs_find_tool(tools, name, name_len);
    const cJSON *s = t ? cJSON_GetObjectItemCaseSensitive(t, "input_schema") : NULL;
    return cJSON_IsObject(s) ? s : NULL;
}

/* The text shown instead of a call that never got a name. */
int toolargs_nameless_text(buf *t, const char *raw, size_t n)
{
    int rc = buf_appends(t, "[tool call without a name: ");
    if (!rc) rc = buf_append(t, raw, n);
    if (!rc) rc = buf_appends(t, "]");
    return rc;
}

/* The text shown instead of a named call whose arguments cannot be used. */
int toolargs_unusable_text(buf *t, const char *name, const char *raw, size_t n)
{
    int rc = buf_appends(t, "[tool call ");
    if (!rc) rc = buf_appends(t, name);
    if (!rc) rc = buf_appends(t, " with unparseable arguments: ");
    if (!rc) rc = buf_append(t, raw, n);
    if (!rc) rc = buf_appends(t, "]");
    return rc;
}
