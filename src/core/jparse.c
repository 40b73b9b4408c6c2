/*
 * jparse: cJSON_ParseWithLengthOpts(s, len, &end, 0), faster (see jparse.h).
 *
 * Why: on the request path the gateway parses the client's whole body once
 * (up to megabytes of tool results). cJSON 1.7.15 walks every string twice a
 * byte at a time (to find its end, then to copy it); here plain runs are
 * found a word at a time and copied with memcpy. The tree built is cJSON's
 * own (nodes from cJSON_CreateNull, strings from cJSON_malloc), freed with
 * cJSON_Delete as usual; or, by jparse_in, the same tree in an arena (a
 * stream chunk's: two malloc calls a node saved, and the free at its end).
 *
 * Sameness: for any input this parses, the tree (types, valueint,
 * valuedouble, strings, keys, order, the head's prev link to the last child)
 * and *end are what cJSON builds; tests/unit/test_jparse.c compares both on
 * every golden input and on cut and mangled variants. Anything it does not
 * handle the same way by construction (a BOM, deep nesting, long numbers, any
 * syntax error) is handed whole to cJSON, so errors and their positions are
 * cJSON's.
 */
#include "jparse.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JP_MAX_DEPTH 512 /* deeper: cJSON decides (its own limit is 1000) */

typedef struct jp {
    const char *p;   /* next byte */
    const char *end; /* one past the input */
    int depth;
    jparse_arena *arena;   /* jparse_in: nodes and strings from here */
    const char *want;      /* jparse_member: the top-level key whose text is wanted */
    const char *vp, *ve;   /* its value's text, once found */
    jparse_reuse_fn reuse; /* jparse_member_reuse */
    void *ud;
    int reused;
} jp;

static cJSON *value(jp *j);

/* ---- where nodes and strings come from: cJSON's allocator, or an arena ---- */

#define JP_BLOCK 8192 /* an arena block's usual size (a stream chunk's tree fits) */

/* A new block in front, for n bytes (rounded) at least. */
static __attribute__((noinline)) void *arena_grow(jparse_arena *a, size_t n)
{
    size_t cap = n > JP_BLOCK ? n : JP_BLOCK;
    struct jparse_block *b = malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->cap = cap;
    b->used = n;
    b->next = a->blocks;
    a->blocks = b;
    return b->mem;
}

/* n bytes, 16-aligned; inline, as a chunk's tree takes some twenty */
static inline void *arena_alloc(jparse_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct jparse_block *b = a->blocks;
    if (!b || b->cap - b->used < n) return arena_grow(a, n);
    void *p = b->mem + b->used;
    b->used += n;
    return p;
}

static char *str_alloc(jp *j, size_t n)
{
    return j->arena ? arena_alloc(j->arena, n) : cJSON_malloc(n);
}

static void str_free(jp *j, char *s)
{
    if (!j->arena) cJSON_free(s);
}

/* A node of type t, every other field zero, as cJSON_CreateNull's. */
static cJSON *node(jp *j, int t)
{
    cJSON *v;
    if (!j->arena) {
        v = cJSON_CreateNull();
    } else if ((v = arena_alloc(j->arena, sizeof *v))) {
        memset(v, 0, sizeof *v);
    }
    if (v) v->type = t;
    return v;
}

static void node_free(jp *j, cJSON *v)
{
    if (!j->arena) cJSON_Delete(v);
}

/* cJSON_CreateNumber's fields: valueint saturates at INT_MAX and INT_MIN. */
static cJSON *number_node(jp *j, double d)
{
    if (!j->arena) return cJSON_CreateNumber(d);
    cJSON *v = node(j, cJSON_Number);
    if (!v) return NULL;
    v->valuedouble = d;
    v->valueint = d >= INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;
    return v;
}

void jparse_arena_drop(jparse_arena *a)
{
    if (a->heap) cJSON_Delete(a->heap);
    a->heap = NULL;
    struct jparse_block *b = a->blocks;
    while (b && b->next) { /* keep the oldest block: the usual one */
        struct jparse_block *n = b->next;
        free(b);
        b = n;
    }
    a->blocks = b;
    if (b) b->used = 0;
}

void jparse_arena_free(jparse_arena *a)
{
    jparse_arena_drop(a);
    free(a->blocks);
    a->blocks = NULL;
}

static void skip_ws(jp *j)
{
    /* cJSON's whitespace is every byte up to and including ' ' */
    while (j->p < j->end && (unsigned char)*j->p <= 32)
        j->p++;
}

/* Index (0..7) of the first '"' or '\\' among the 8 bytes at s, or 8. */
static size_t first_quote_or_backslash(const char *s)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t w;
    memcpy(&w, s, sizeof w);
    uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
    uint64_t hit = (((q - ones) & ~q) | ((bs - ones) & ~bs)) & high;
    if (!hit) return 8;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
    return (size_t)__builtin_ctzll(hit) >> 3;
#else
    size_t k = 0;
    while (s[k] != '"' && s[k] != '\\')
        k++;
    return k;
#endif
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* A \u escape at s (s[0] == '\\', s[1] == 'u'), as cJSON decodes it: a lone
 * low surrogate, or a high one not followed by \u and a low one, fails.
 * Writes the UTF-8 at d; returns the escape's length in the input, 0 on
 * failure. */
static size_t unicode_escape(const char *s, const char *end, char **d)
{
    unsigned first, cp;
    size_t used = 6;
    if (end - s < 6 || hex4(s + 2, &first)) return 0;
    if (first >= 0xDC00 && first <= 0xDFFF) return 0;
    if (first >= 0xD800 && first <= 0xDBFF) {
        unsigned second;
        if (end - s < 12 || s[6] != '\\' || s[7] != 'u' || hex4(s + 8, &second)) return 0;
        if (second < 0xDC00 || second > 0xDFFF) return 0;
        cp = 0x10000 + (((first & 0x3FF) << 10) | (second & 0x3FF));
        used = 12;
    } else {
        cp = first;
    }
    unsigned char *o = (unsigned char *)*d;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        *d += 1;
    } else if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        *d += 2;
    } else if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        *d += 3;
    } else {
        o[0] = (unsigned char)(0xF0 | (cp >> 18));
        o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (unsigned char)(0x80 | (cp & 0x3F));
        *d += 4;
    }
    return used;
}

#if defined(__SSE2__)
#include <emmintrin.h>
/* Bit i set for each of the 16 bytes at s that is '"' (with quote) or '\\'. */
static inline unsigned mask16(const char *s, int quote)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
    __m128i m = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    if (quote) m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
    return (unsigned)_mm_movemask_epi8(m);
}
#endif

/* The first '"' or '\\' in [q, e), or e. */
static const char *find_quote_or_backslash(const char *q, const char *e)
{
#if defined(__SSE2__)
    while (e - q >= 16) {
        unsigned m = mask16(q, 1);
        if (m) return q + __builtin_ctz(m);
        q += 16;
    }
#endif
    while (e - q >= 8) {
        size_t k = first_quote_or_backslash(q);
        q += k;
        if (k < 8) return q;
    }
    while (q < e && *q != '"' && *q != '\\')
        q++;
    return q;
}

/* Copy [*r, q) to *d up to its first backslash (or q), advancing both. The
 * copy may write up to 15 bytes past what it keeps, never past d + (q - *r):
 * the decoded string is never longer than its source. */
static void copy_plain(const char **r, char **d, const char *q)
{
    const char *s = *r;
    char *o = *d;
#if defined(__SSE2__)
    while (q - s >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
        _mm_storeu_si128((__m128i *)(void *)o, v);
        unsigned m = mask16(s, 0);
        if (m) {
            unsigned k = (unsigned)__builtin_ctz(m);
            *r = s + k;
            *d = o + k;
            return;
        }
        s += 16;
        o += 16;
    }
#endif
    const char *bs = memchr(s, '\\', (size_t)(q - s));
    if (!bs) bs = q;
    memcpy(o, s, (size_t)(bs - s));
    *d = o + (bs - s);
    *r = bs;
}

/* A string at j->p (on its opening quote): a NUL-terminated copy from
 * str_alloc, or NULL (bad escape, no closing quote, out of memory). */
static char *string(jp *j)
{
    const char *s = ++j->p, *e = j->end, *q = s;
    int escapes = 0;
    /* the closing quote: a backslash hides the byte after it (as in cJSON) */
    for (;;) {
        q = find_quote_or_backslash(q, e);
        if (q >= e) return NULL;
        if (*q == '"') break;
        if (q + 1 >= e) return NULL;
        escapes = 1;
        q += 2;
    }
    size_t n = (size_t)(q - s);
    char *out = str_alloc(j, n + 1);
    if (!out) return NULL;
    if (!escapes) {
        memcpy(out, s, n);
        out[n] = '\0';
        j->p = q + 1;
        return out;
    }
    char *d = out;
    const char *r = s;
    while (r < q) {
        copy_plain(&r, &d, q);
        if (r >= q) break;
        switch (r[1]) {
        case 'b':
            *d++ = '\b';
            break;
        case 'f':
            *d++ = '\f';
            break;
        case 'n':
            *d++ = '\n';
            break;
        case 'r':
            *d++ = '\r';
            break;
        case 't':
            *d++ = '\t';
            break;
        case '"':
        case '\\':
        case '/':
            *d++ = r[1];
            break;
        case 'u': {
            /* cJSON reads the escape against the closing quote it found */
            size_t used = unicode_escape(r, q, &d);
            if (!used) {
                str_free(j, out);
                return NULL;
            }
            r += used;
            continue;
        }
        default:
            str_free(j, out);
            return NULL;
        }
        r += 2;
    }
    *d = '\0';
    j->p = q + 1;
    return out;
}

static cJSON *number(jp *j)
{
    /* cJSON copies the run of number characters (at most 63), then strtod */
    char tmp[64];
    size_t n = 0;
    const char *p = j->p;
    while (p + n < j->end && n < sizeof tmp - 1) {
        char c = p[n];
        if (!((c >= '0' && c <= '9') || c == '+' || c == '-' || c == 'e' || c == 'E' || c == '.'))
            break;
        tmp[n++] = c;
    }
    if (n == sizeof tmp - 1) return NULL; /* as long as cJSON's buffer: let it decide */
    /* an integer of up to 15 digits (a stream chunk's created, index...) is
     * exact in a double: the value strtod would give, without strtod */
    size_t neg = n && tmp[0] == '-', k = neg;
    uint64_t iv = 0;
    while (k < n && k - neg < 16 && tmp[k] >= '0' && tmp[k] <= '9')
        iv = iv * 10 + (uint64_t)(tmp[k++] - '0');
    if (k == n && k > neg && k - neg <= 15) {
        j->p += n;
        return number_node(j, neg ? -(double)iv : (double)iv);
    }
    tmp[n] = '\0';
    char *after = NULL;
    double d = strtod(tmp, &after);
    if (after == tmp) return NULL;
    j->p += after - tmp;
    return number_node(j, d);
}

static cJSON *literal(jp *j, const char *word, size_t n, int type)
{
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0) return NULL;
    j->p += n;
    cJSON *v = node(j, type);
    if (!v) return NULL;
    if (type == cJSON_True) v->valueint = 1;
    return v;
}

/* Link child after *last under parent (cJSON's head->prev is the tail). */
static void append(cJSON *parent, cJSON **last, cJSON *child)
{
    if (!*last) {
        parent->child = child;
    } else {
        (*last)->next = child;
        child->prev = *last;
    }
    *last = child;
    parent->child->prev = child;
}

static cJSON *array(jp *j)
{
    cJSON *a = node(j, cJSON_Array), *last = NULL;
    if (!a) return NULL;
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return a;
    }
    for (;;) {
        skip_ws(j);
        cJSON *v = value(j);
        if (!v) goto fail;
        append(a, &last, v);
        skip_ws(j);
        if (j->p >= j->end) goto fail;
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p != ']') goto fail;
        j->p++;
        return a;
    }
fail:
    node_free(j, a);
    return NULL;
}

/* The value at j->p as a reference to a tree parsed before from the same
 * text (jparse_member_reuse), past it; NULL when there is none. */
static cJSON *reference(jp *j)
{
    size_t n = 0;
    const cJSON *t = j->reuse(j->ud, j->p, (size_t)(j->end - j->p), &n);
    if (!t || !n || n > (size_t)(j->end - j->p)) return NULL;
    cJSON *v = cJSON_IsArray(t)    ? cJSON_CreateArrayReference(t->child)
               : cJSON_IsObject(t) ? cJSON_CreateObjectReference(t->child)
                                   : NULL;
    if (!v) return NULL;
    j->p += n;
    j->reused = 1;
    return v;
}

static cJSON *object(jp *j)
{
    cJSON *o = node(j, cJSON_Object), *last = NULL;
    if (!o) return NULL;
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return o;
    }
    for (;;) {
        skip_ws(j);
        if (j->p >= j->end || *j->p != '"') goto fail;
        char *key = string(j);
        if (!key) goto fail;
        skip_ws(j);
        if (j->p >= j->end || *j->p != ':') {
            str_free(j, key);
            goto fail;
        }
        j->p++;
        skip_ws(j);
        const char *vstart = j->p;
        /* the first member of that name, as cJSON's lookups find it */
        int wanted = j->want && j->depth == 1 && !j->vp && strcmp(key, j->want) == 0;
        cJSON *v = wanted && j->reuse ? reference(j) : NULL;
        if (!v) v = value(j);
        if (!v) {
            str_free(j, key);
            goto fail;
        }
        if (wanted) {
            j->vp = vstart;
            j->ve = j->p;
        }
        v->string = key;
        append(o, &last, v);
        skip_ws(j);
        if (j->p >= j->end) goto fail;
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p != '}') goto fail;
        j->p++;
        return o;
    }
fail:
    node_free(j, o);
    return NULL;
}

static cJSON *value(jp *j)
{
    if (j->p >= j->end) return NULL;
    switch (*j->p) {
    case '"': {
        char *s = string(j);
        if (!s) return NULL;
        cJSON *v = node(j, cJSON_String);
        if (!v) {
            str_free(j, s);
            return NULL;
        }
        v->valuestring = s;
        return v;
    }
    case '{':
    case '[': {
        if (++j->depth > JP_MAX_DEPTH) return NULL;
        cJSON *v = *j->p == '{' ? object(j) : array(j);
        j->depth--;
        return v;
    }
    case 'n':
        return literal(j, "null", 4, cJSON_NULL);
    case 't':
        return literal(j, "true", 4, cJSON_True);
    case 'f':
        return literal(j, "false", 5, cJSON_False);
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) return number(j);
        return NULL;
    }
}

/* jparse's own parse of s[0, len) into j: the value (and *end), or NULL
 * when cJSON must decide (no input, a BOM: cJSON's way; any error). */
static cJSON *own_parse(jp *j, const char *s, size_t len, const char **end)
{
    if (!s || !len || (unsigned char)s[0] == 0xEF) return NULL;
    j->p = s;
    j->end = s + len;
    skip_ws(j);
    cJSON *v = value(j);
    if (v && end) *end = j->p;
    return v;
}

cJSON *jparse_member_reuse(const char *s, size_t len, const char **end, const char *key,
                           const char **vp, size_t *vn, jparse_reuse_fn reuse, void *ud,
                           int *reused)
{
    if (vp) *vp = NULL;
    if (vn) *vn = 0;
    if (reused) *reused = 0;
    jp j = {.want = key, .reuse = key ? reuse : NULL, .ud = ud};
    cJSON *v = own_parse(&j, s, len, end);
    if (!v) return cJSON_ParseWithLengthOpts(s, len, end, 0);
    if (vp && j.vp) {
        *vp = j.vp;
        *vn = (size_t)(j.ve - j.vp);
    }
    if (reused) *reused = j.reused;
    return v;
}

cJSON *jparse_member(const char *s, size_t len, const char **end, const char *key, const char **vp,
                     size_t *vn)
{
    return jparse_member_reuse(s, len, end, key, vp, vn, NULL, NULL, NULL);
}

cJSON *jparse(const char *s, size_t len, const char **end)
{
    return jparse_member(s, len, end, NULL, NULL, NULL);
}

cJSON *jparse_in(jparse_arena *a, const char *s, size_t len, const char **end)
{
    jp j = {.arena = a};
    cJSON *v = own_parse(&j, s, len, end);
    if (v) return v;
    jparse_arena_drop(a); /* what a failed attempt took */
    return a->heap = cJSON_ParseWithLengthOpts(s, len, end, 0);
}

int jparse_same(const cJSON *a, const cJSON *b)
{
    if (!a || !b) return a == b;
    if (a->type != b->type || a->valueint != b->valueint) return 0;
    if (memcmp(&a->valuedouble, &b->valuedouble, sizeof a->valuedouble) != 0) return 0;
    if (!a->valuestring != !b->valuestring) return 0;
    if (a->valuestring && strcmp(a->valuestring, b->valuestring) != 0) return 0;
    if (!a->string != !b->string) return 0;
    if (a->string && strcmp(a->string, b->string) != 0) return 0;
    const cJSON *ca = a->child, *cb = b->child;
    if (!ca != !cb) return 0;
    if (ca && (!ca->prev || !cb->prev)) return 0;
    const cJSON *la = NULL, *lb = NULL;
    for (; ca && cb; ca = ca->next, cb = cb->next) {
        if (!jparse_same(ca, cb)) return 0;
        if ((la && ca->prev != la) || (lb && cb->prev != lb)) return 0;
        la = ca;
        lb = cb;
    }
    if (ca || cb) return 0;
    /* the head links to the tail */
    return !a->child || (a->child->prev == la && b->child->prev == lb);
}
