/*
 * xlate_tools: the tools array for the upstream request (see xlate_tools.h).
 */
#include "xlate_tools.h"

#include <stdlib.h>
#include <string.h>

#include "jparse.h"
#include "toolsearch.h"

static int tool_cmp(const void *a, const void *b)
{
    const xlate_tool_ref *x = a, *y = b;
    if (x->deferred != y->deferred) return x->deferred - y->deferred;
    int r = strcmp(x->name, y->name);
    return r ? r : (x->idx > y->idx) - (x->idx < y->idx);
}

int xlate_tools_collect(xctx *c, const cJSON *tools, const cJSON *messages, xlate_tool_ref **refs,
                        int *n)
{
    const cJSON *t;
    int i = 0, count = 0;
    *refs = NULL;
    *n = 0;
    if (!tools) return 0;
    int size = cJSON_GetArraySize(tools);
    xlate_tool_ref *r = size ? malloc((size_t)size * sizeof *r) : NULL;
    if (size && !r) return XLATE_ENOMEM;
    cJSON_ArrayForEach(t, tools)
    {
        const cJSON *name = get(t, "name"), *type = get(t, "type");
        const cJSON *schema = get(t, "input_schema"), *desc = get(t, "description");
        int rc = 0;
        if (!cJSON_IsObject(t))
            rc = FAIL(c, "tools.%d: must be an object", i);
        else if (!is_nonempty_str(name))
            rc = FAIL(c, "tools.%d.name: must be a non-empty string", i);
        else if (type && !is_str(type))
            rc = FAIL(c, "tools.%d.type: must be a string", i);
        else if (schema && !cJSON_IsObject(schema))
            rc = FAIL(c, "tools.%d.input_schema: must be an object", i);
        else if (!schema && (!type || strcmp(type->valuestring, "custom") == 0))
            rc = FAIL(c, "tools.%d.input_schema: field required", i);
        else if (desc && !is_str(desc))
            rc = FAIL(c, "tools.%d.description: must be a string", i);
        if (rc) {
            free(r);
            return rc;
        }
        int deferred = toolsearch_deferred(t);
        if (schema && (!deferred || toolsearch_loaded(messages, name->valuestring))) {
            r[count].name = name->valuestring;
            r[count].tool = t;
            r[count].idx = i;
            r[count].deferred = deferred;
            count++;
        }
        i++;
    }
    if (count) qsort(r, (size_t)count, sizeof *r, tool_cmp);
    if (!count) {
        free(r);
        r = NULL;
    }
    *refs = r;
    *n = count;
    return 0;
}

int xlate_tools_write(xctx *c, const xlate_tool_ref *refs, int n)
{
    size_t start = c->w.b->len;
    jw_raw(&c->w, "[", 1);
    for (int i = 0; i < n; i++) {
        const cJSON *desc = get(refs[i].tool, "description");
        const cJSON *schema = get(refs[i].tool, "input_schema");
        if (!schema) return XLATE_ENOMEM;
        if (i) jw_raw(&c->w, ",", 1);
        jw_lit(&c->w, "{\"type\":\"function\",\"function\":{\"name\":");
        jw_cstr(&c->w, refs[i].name);
        if (desc) {
            jw_lit(&c->w, ",\"description\":");
            jw_cstr(&c->w, desc->valuestring);
        }
        jw_lit(&c->w, ",\"parameters\":");
        jw_value(&c->w, schema); /* as cJSON_PrintUnformatted, without its copies */
        jw_lit(&c->w, "}}");
    }
    jw_raw(&c->w, "]", 1);
    if (!c->w.rc) c->text_bytes += c->w.b->len - start;
    return from_buf_rc(c->w.rc);
}

/* ---- the cache ---------------------------------------------------------------- */

struct xlate_tools_cache {
    struct {
        cJSON *tools; /* the client's array, copied; NULL: empty entry */
        buf src;      /* its text in the body, when the parse gave it */
        buf out;      /* what xlate_tools_write made of it */
        buf loaded;   /* the deferred tools it wrote, each name and a NUL */
        size_t text;  /* what it added to the estimate */
        long used;    /* tick of the last hit or store */
        int refs;     /* requests whose parsed body refers to tools (never evicted then) */
    } e[XLATE_TOOLS_CACHE_N];
    long tick, hits, misses;
};

xlate_tools_cache *xlate_tools_cache_new(void)
{
    return calloc(1, sizeof(xlate_tools_cache));
}

void xlate_tools_cache_free(xlate_tools_cache *tc)
{
    if (!tc) return;
    for (int i = 0; i < XLATE_TOOLS_CACHE_N; i++) {
        cJSON_Delete(tc->e[i].tools);
        buf_free(&tc->e[i].out);
        buf_free(&tc->e[i].src);
        buf_free(&tc->e[i].loaded);
    }
    free(tc);
}

const cJSON *xlate_tools_cache_find(void *tc_, const char *p, size_t avail, size_t *n)
{
    xlate_tools_cache *tc = tc_;
    for (int i = 0; tc && i < XLATE_TOOLS_CACHE_N; i++) {
        size_t len = tc->e[i].src.len;
        if (tc->e[i].tools && len && len <= avail && memcmp(tc->e[i].src.data, p, len) == 0) {
            *n = len;
            return tc->e[i].tools;
        }
    }
    return NULL;
}

int xlate_tools_cache_hold(xlate_tools_cache *tc, const cJSON *child)
{
    for (int i = 0; tc && child && i < XLATE_TOOLS_CACHE_N; i++)
        if (tc->e[i].tools && tc->e[i].tools->child == child) {
            tc->e[i].refs++;
            return i;
        }
    return -1;
}

void xlate_tools_cache_release(xlate_tools_cache *tc, int entry)
{
    if (tc && entry >= 0 && entry < XLATE_TOOLS_CACHE_N && tc->e[entry].refs > 0)
        tc->e[entry].refs--;
}

void xlate_tools_cache_stats(const xlate_tools_cache *tc, long *hits, long *misses)
{
    *hits = tc ? tc->hits : 0;
    *misses = tc ? tc->misses : 0;
}

static int xlate_tools_write_keyed(xctx *c, xlate_tools_cache *tc, const cJSON *tools,
                                   const xlate_tool_ref *refs, int n, const buf *loaded);

int xlate_tools_write_cached(xctx *c, xlate_tools_cache *tc, const cJSON *tools,
                             const xlate_tool_ref *refs, int n)
{
    if (!tc || !tools) return xlate_tools_write(c, refs, n);
    /* the same tools write differently once a deferred one is referenced:
     * which ones were is part of the key */
    buf loaded;
    buf_init(&loaded, 0);
    for (int i = 0; i < n; i++)
        if (refs[i].deferred &&
            buf_append(&loaded, refs[i].name, strlen(refs[i].name) + 1) != BUF_OK) {
            buf_free(&loaded);
            return xlate_tools_write(c, refs, n);
        }
    int rc = xlate_tools_write_keyed(c, tc, tools, refs, n, &loaded);
    buf_free(&loaded);
    return rc;
}

static int xlate_tools_write_keyed(xctx *c, xlate_tools_cache *tc, const cJSON *tools,
                                   const xlate_tool_ref *refs, int n, const buf *loaded)
{
    tc->tick++;
    const char *t = c->tools_text;
    size_t tn = c->tools_text_len;
    for (int i = 0; i < XLATE_TOOLS_CACHE_N; i++) {
        if (!tc->e[i].tools) continue;
        if (tc->e[i].loaded.len != loaded->len ||
            (loaded->len && memcmp(tc->e[i].loaded.data, loaded->data, loaded->len) != 0))
            continue;
        /* the same text is the same tree (a memcmp, not a walk of both) */
        if (t && tc->e[i].src.len) {
            if (tc->e[i].src.len != tn || memcmp(tc->e[i].src.data, t, tn) != 0) continue;
        } else if (!jparse_same(tc->e[i].tools, tools)) {
            continue;
        }
        jw_raw(&c->w, tc->e[i].out.data, tc->e[i].out.len);
        if (c->w.rc) return from_buf_rc(c->w.rc);
        c->text_bytes += tc->e[i].text;
        tc->e[i].used = tc->tick;
        tc->hits++;
        return 0;
    }
    tc->misses++;
    size_t start = c->w.b->len, text0 = c->text_bytes;
    int rc = xlate_tools_write(c, refs, n);
    size_t len = c->w.b->len - start;
    if (rc || len > XLATE_TOOLS_CACHE_MAX_BYTES) return rc;
    /* keep it in the least recently used entry no request refers to (a
     * failed copy keeps nothing; a copy that differed from its source would
     * only never hit) */
    int v = -1;
    for (int i = 0; i < XLATE_TOOLS_CACHE_N; i++)
        if (!tc->e[i].refs && (v < 0 || tc->e[i].used < tc->e[v].used)) v = i;
    if (v < 0) return 0;
    cJSON_Delete(tc->e[v].tools);
    tc->e[v].tools = cJSON_Duplicate(tools, 1);
    buf_reset(&tc->e[v].out);
    buf_reset(&tc->e[v].src);
    buf_reset(&tc->e[v].loaded);
    if (!tc->e[v].tools || buf_append(&tc->e[v].out, c->w.b->data + start, len) != BUF_OK ||
        (t && tn && buf_append(&tc->e[v].src, t, tn) != BUF_OK) ||
        (loaded->len && buf_append(&tc->e[v].loaded, loaded->data, loaded->len) != BUF_OK)) {
        buf_reset(&tc->e[v].src);
        cJSON_Delete(tc->e[v].tools);
        tc->e[v].tools = NULL;
        return 0;
    }
    tc->e[v].text = c->text_bytes - text0;
    tc->e[v].used = tc->tick;
    return 0;
}
