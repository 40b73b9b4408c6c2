/*
 * argstream: stream a tool call's arguments, repairing only what needs it
 * (see argstream.h). A small state machine over the top level of one JSON
 * object; values below the top level are handled whole by toolargs.
 */
#include "argstream.h"

#include <stdlib.h>
#include <string.h>

#include "toolargs.h"

enum st {
    AS_START,    /* before the '{' */
    AS_KEY,      /* expecting a key, ',' or '}' */
    AS_KEYSTR,   /* inside a key string */
    AS_COLON,    /* after a key */
    AS_VALSTART, /* after the ':' */
    AS_STR,      /* streaming a string value */
    AS_HOLD,     /* holding a value until it is complete */
    AS_AFTER,    /* after a value: ',' or '}' */
    AS_DONE,     /* the object is closed */
    AS_FALLBACK, /* not well-formed: repaired whole at the end */
};

struct argstream {
    const cJSON *props; /* the schema's "properties", or NULL */
    const cJSON *schema;
    buf raw;
    size_t pos; /* raw bytes scanned */
    enum st st;
    int opened;   /* "{" sent */
    int nsent;    /* members sent */
    int repaired; /* something was changed */
    cJSON *sent_keys;
    char *key; /* the current member's key, decoded */
    buf keyjson;
    size_t key_start, val_start;
    int esc, uhex;            /* string scanning */
    int depth, in_str, h_esc; /* AS_HOLD scanning */
};

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

argstream *argstream_new(const cJSON *schema, size_t max)
{
    argstream *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->schema = cJSON_IsObject(schema) ? schema : NULL;
    const cJSON *p = a->schema ? cJSON_GetObjectItemCaseSensitive(a->schema, "properties") : NULL;
    a->props = cJSON_IsObject(p) ? p : NULL;
    buf_init(&a->raw, max);
    buf_init(&a->keyjson, 0);
    a->sent_keys = cJSON_CreateArray();
    if (!a->sent_keys) {
        free(a);
        return NULL;
    }
    return a;
}

void argstream_free(argstream *a)
{
    if (!a) return;
    buf_free(&a->raw);
    buf_free(&a->keyjson);
    cJSON_Delete(a->sent_keys);
    free(a->key);
    free(a);
}

int argstream_started(const argstream *a)
{
    return a->opened;
}

const char *argstream_raw(const argstream *a, size_t *n)
{
    *n = a->raw.len;
    return a->raw.data ? a->raw.data : "";
}

/* Does the schema let a string value of `key` through unchanged? */
static int streams_as_string(const argstream *a, const char *key)
{
    const cJSON *ps = a->props ? cJSON_GetObjectItemCaseSensitive(a->props, key) : NULL;
    if (!ps) return 1; /* coercion leaves properties the schema does not name alone */
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(ps, "type");
    return cJSON_IsString(t) && strcmp(t->valuestring, "string") == 0;
}

static int already_sent(const argstream *a, const char *key)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, a->sent_keys)
    {
        if (strcmp(k->valuestring, key) == 0) return 1;
    }
    return 0;
}

static int note_sent(argstream *a, const char *key)
{
    cJSON *s = cJSON_CreateString(key);
    if (!s) return BUF_ENOMEM;
    cJSON_AddItemToArray(a->sent_keys, s);
    a->nsent++;
    return 0;
}

/* The key string raw[key_start..end) is complete: decode it. */
static int take_key(argstream *a, size_t end)
{
    cJSON *k = cJSON_ParseWithLength(a->raw.data + a->key_start, end - a->key_start);
    free(a->key);
    a->key = NULL;
    if (!cJSON_IsString(k)) {
        cJSON_Delete(k);
        return 1;
    }
    a->key = strdup(k->valuestring);
    char *printed = cJSON_PrintUnformatted(k);
    cJSON_Delete(k);
    if (!a->key || !printed) {
        cJSON_free(printed);
        return BUF_ENOMEM;
    }
    buf_reset(&a->keyjson);
    int rc = buf_appends(&a->keyjson, printed);
    cJSON_free(printed);
    return rc;
}

/* Append `"key":` (with the comma before it when needed). */
static int put_key(argstream *a, buf *out)
{
    int rc = a->nsent ? buf_append(out, ",", 1) : 0;
    if (!rc) rc = buf_append(out, a->keyjson.data, a->keyjson.len);
    if (!rc) rc = buf_append(out, ":", 1);
    return rc;
}

/* A held value raw[val_start..end) is complete: coerce it by its property
 * schema and send the member. Returns 0, 1 (cannot be used: fall back), or
 * <0. */
static int send_held(argstream *a, size_t end, buf *out)
{
    buf obj, fixed;
    int rc;
    if (already_sent(a, a->key)) return 1;
    buf_init(&obj, 0);
    buf_init(&fixed, 0);
    rc = buf_append(&obj, "{", 1);
    if (!rc) rc = buf_append(&obj, a->keyjson.data, a->keyjson.len);
    if (!rc) rc = buf_append(&obj, ":", 1);
    if (!rc) rc = buf_append(&obj, a->raw.data + a->val_start, end - a->val_start);
    if (!rc) rc = buf_append(&obj, "}", 1);
    if (rc) goto out;
    int r = toolargs_repair(obj.data, obj.len, a->schema, &fixed, NULL, 0);
    if (r == TOOLARGS_ENOMEM) {
        rc = BUF_ENOMEM;
        goto out;
    }
    cJSON *j = r == 0 ? cJSON_ParseWithLength(fixed.data, fixed.len) : NULL;
    int one = cJSON_IsObject(j) && j->child && !j->child->next && j->child->string &&
              strcmp(j->child->string, a->key) == 0;
    if (one) {
        /* did coercion or repair change the value? */
        cJSON *orig = cJSON_ParseWithLength(obj.data, obj.len);
        if (!orig || !cJSON_Compare(orig, j, 1)) a->repaired = 1;
        cJSON_Delete(orig);
    }
    cJSON_Delete(j);
    if (!one) {
        rc = 1;
        goto out;
    }
    /* fixed is {"key":value}: send its inside */
    rc = a->nsent ? buf_append(out, ",", 1) : 0;
    if (!rc) rc = buf_append(out, fixed.data + 1, fixed.len - 2);
    if (!rc) rc = note_sent(a, a->key);
out:
    buf_free(&obj);
    buf_free(&fixed);
    return rc;
}

/* One byte of a string value being streamed. */
static int str_byte(argstream *a, char c, buf *out)
{
    static const char hexd[] = "0123456789abcdef";
    if (a->uhex > 0) {
        if (is_hex(c)) {
            a->uhex--;
            return buf_append(out, &c, 1);
        }
        while (a->uhex > 0) { /* a cut \u escape: pad it */
            a->uhex--;
            int rc = buf_append(out, "0", 1);
            if (rc) return rc;
        }
        a->repaired = 1;
    }
    if (a->esc) {
        a->esc = 0;
        if (strchr("\"\\/bfnrt", c) && c) {
            char e[2] = {'\\', c};
            return buf_append(out, e, 2);
        }
        if (c == 'u') {
            a->uhex = 4;
            return buf_append(out, "\\u", 2);
        }
        a->repaired = 1; /* a bad escape: keep the backslash as text */
        int rc = buf_append(out, "\\\\", 2);
        if (rc) return rc;
    }
    if (c == '\\') {
        a->esc = 1;
        return 0;
    }
    if (c == '"') {
        a->st = AS_AFTER;
        return buf_append(out, "\"", 1);
    }
    if ((unsigned char)c < 0x20) {
        a->repaired = 1;
        char e[6] = {'\\', 'u', '0', '0', hexd[(c >> 4) & 15], hexd[c & 15]};
        if (c == '\n') return buf_append(out, "\\n", 2);
        if (c == '\t') return buf_append(out, "\\t", 2);
        if (c == '\r') return buf_append(out, "\\r", 2);
        return buf_append(out, e, 6);
    }
    return buf_append(out, &c, 1);
}

/* One byte of a held value; sets *end when the value ended at this byte
 * (a ',' or the object's '}' at the top). */
static int hold_byte(argstream *a, char c, int *end)
{
    *end = 0;
    if (a->in_str) {
        if (a->h_esc)
            a->h_esc = 0;
        else if (c == '\\')
            a->h_esc = 1;
        else if (c == '"')
            a->in_str = 0;
        return 0;
    }
    if (c == '"') {
        a->in_str = 1;
    } else if (c == '{' || c == '[') {
        a->depth++;
    } else if (c == '}' || c == ']') {
        if (a->depth == 0 && c == '}') *end = 1;
        if (a->depth > 0) a->depth--;
    } else if (c == ',' && a->depth == 0) {
        *end = 1;
    }
    return 0;
}

static int scan(argstream *a, buf *out)
{
    int rc = 0;
    while (a->pos < a->raw.len && !rc) {
        size_t i = a->pos;
        char c = a->raw.data[i];
        a->pos++;
        switch (a->st) {
        case AS_START:
            if (is_ws(c)) break;
            if (c != '{') {
                a->st = AS_FALLBACK;
                break;
            }
            a->opened = 1;
            a->st = AS_KEY;
            rc = buf_append(out, "{", 1);
            break;
        case AS_KEY:
            if (is_ws(c)) break;
            if (c == ',') { /* a stray comma */
                a->repaired = 1;
                break;
            }
            if (c == '}') {
                if (a->nsent) a->repaired = 1; /* a trailing comma */
                a->st = AS_DONE;
                rc = buf_append(out, "}", 1);
                break;
            }
            if (c != '"') {
                a->st = AS_FALLBACK;
                break;
            }
            a->key_start = i;
            a->esc = 0;
            a->st = AS_KEYSTR;
            break;
        case AS_KEYSTR:
            if (a->esc) {
                a->esc = 0;
            } else if (c == '\\') {
                a->esc = 1;
            } else if (c == '"') {
                rc = take_key(a, i + 1);
                if (rc == 1) {
                    rc = 0;
                    a->st = AS_FALLBACK;
                } else {
                    a->st = AS_COLON;
                }
            }
            break;
        case AS_COLON:
            if (is_ws(c)) break;
            a->st = c == ':' ? AS_VALSTART : AS_FALLBACK;
            break;
        case AS_VALSTART:
            if (is_ws(c)) break;
            if (c == '"' && streams_as_string(a, a->key) && !already_sent(a, a->key)) {
                rc = put_key(a, out);
                if (!rc) rc = note_sent(a, a->key);
                if (!rc) rc = buf_append(out, "\"", 1);
                a->esc = 0;
                a->uhex = 0;
                a->st = AS_STR;
                break;
            }
            a->val_start = i;
            a->depth = 0;
            a->in_str = c == '"';
            a->h_esc = 0;
            a->st = AS_HOLD;
            if (c == '{' || c == '[') a->depth = 1;
            break;
        case AS_STR:
            rc = str_byte(a, c, out);
            break;
        case AS_HOLD: {
            int end;
            hold_byte(a, c, &end);
            if (!end) break;
            rc = send_held(a, i, out);
            if (rc == 1) {
                rc = 0;
                a->st = AS_FALLBACK;
                break;
            }
            if (rc) break;
            if (c == '}') {
                a->st = AS_DONE;
                rc = buf_append(out, "}", 1);
            } else {
                a->st = AS_KEY;
            }
            break;
        }
        case AS_AFTER:
            if (is_ws(c)) break;
            if (c == ',') {
                a->st = AS_KEY;
            } else if (c == '}') {
                a->st = AS_DONE;
                rc = buf_append(out, "}", 1);
            } else if (c == '"') { /* a missing comma */
                a->repaired = 1;
                a->key_start = i;
                a->esc = 0;
                a->st = AS_KEYSTR;
            } else {
                a->st = AS_FALLBACK;
            }
            break;
        case AS_DONE:
        case AS_FALLBACK:
            a->pos = a->raw.len; /* nothing more to scan */
            break;
        }
    }
    return rc;
}

int argstream_feed(argstream *a, const char *p, size_t n, buf *out)
{
    int rc = buf_append(&a->raw, p, n);
    if (rc == BUF_ETOOBIG) return ARGSTREAM_ETOOBIG;
    if (rc) return rc;
    return scan(a, out);
}

/* Repair the whole text and send the members not sent yet, then "}". */
static int finish_fallback(argstream *a, buf *out)
{
    buf fixed;
    buf_init(&fixed, 0);
    int r = toolargs_repair(a->raw.data ? a->raw.data : "", a->raw.len, a->schema, &fixed, NULL, 0);
    int rc = 0;
    if (r == TOOLARGS_ENOMEM) {
        buf_free(&fixed);
        return BUF_ENOMEM;
    }
    if (!a->opened) {
        rc = r == 0 ? buf_append(out, fixed.data, fixed.len) : ARGSTREAM_EUNUSABLE;
        if (r == 0) {
            cJSON *orig = cJSON_ParseWithLength(a->raw.data ? a->raw.data : "", a->raw.len);
            cJSON *j = cJSON_ParseWithLength(fixed.data, fixed.len);
            if (!orig || !j || !cJSON_Compare(orig, j, 1)) a->repaired = 1;
            cJSON_Delete(orig);
            cJSON_Delete(j);
        }
        buf_free(&fixed);
        return rc;
    }
    a->repaired = 1;
    cJSON *j = r == 0 ? cJSON_ParseWithLength(fixed.data, fixed.len) : NULL;
    int lost = !j;
    cJSON *m;
    cJSON_ArrayForEach(m, j)
    {
        if (!m->string || already_sent(a, m->string)) continue;
        char *v = cJSON_PrintUnformatted(m);
        cJSON *k = cJSON_CreateString(m->string);
        char *kj = k ? cJSON_PrintUnformatted(k) : NULL;
        cJSON_Delete(k);
        if (!v || !kj) rc = BUF_ENOMEM;
        if (!rc && a->nsent) rc = buf_append(out, ",", 1);
        if (!rc) rc = buf_appends(out, kj);
        if (!rc) rc = buf_append(out, ":", 1);
        if (!rc) rc = buf_appends(out, v);
        if (!rc) rc = note_sent(a, m->string);
        cJSON_free(v);
        cJSON_free(kj);
        if (rc) break;
    }
    cJSON_Delete(j);
    buf_free(&fixed);
    if (!rc) rc = buf_append(out, "}", 1);
    return rc ? rc : lost;
}

int argstream_finish(argstream *a, buf *out, int *repaired)
{
    int rc = 0;
    switch (a->st) {
    case AS_START: /* nothing but whitespace: no arguments */
        rc = buf_append(out, "{}", 2);
        a->opened = 1;
        break;
    case AS_KEY:
    case AS_AFTER:
        a->repaired = 1; /* the object was not closed */
        rc = buf_append(out, "}", 1);
        break;
    case AS_STR:
        a->repaired = 1; /* a string cut short */
        a->esc = 0;
        while (!rc && a->uhex > 0) {
            a->uhex--;
            rc = buf_append(out, "0", 1);
        }
        if (!rc) rc = buf_append(out, "\"}", 2);
        break;
    case AS_HOLD:
        a->repaired = 1;
        rc = send_held(a, a->raw.len, out);
        if (rc == 1) {
            rc = finish_fallback(a, out);
            break;
        }
        if (!rc) rc = buf_append(out, "}", 1);
        break;
    case AS_DONE:
        break;
    case AS_KEYSTR:
    case AS_COLON:
    case AS_VALSTART:
    case AS_FALLBACK:
        rc = finish_fallback(a, out);
        break;
    }
    a->st = AS_DONE;
    *repaired = a->repaired;
    return rc;
}
