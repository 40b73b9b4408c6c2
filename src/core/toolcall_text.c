/*
 * toolcall_text: recover tool calls and reasoning that a model wrote as
 * content text (see toolcall_text.h for the formats). Sits inside the stream
 * translator: content deltas in, text / thinking / tool events out. Pure.
 *
 * How it works. Every fed byte is appended to `pend`, the bytes not yet
 * decided, and a loop of step functions consumes decided bytes from its
 * front. Each mode's step looks at pend and either decides a prefix (emits
 * it as text or thinking, drops it, or turns it into calls), switches mode,
 * or says it needs more bytes. A step decides only what no further byte
 * could change, so the outcome does not depend on how the input was split;
 * `final` (set by finish) is the one point where "no more bytes" is known.
 * In particular a phase moves on only past a complete marker: a partial
 * one (MK_PART) means "wait", never "go on and let the next phase look".
 *
 *   TEXT ──<tool_call>──▶ TAG ─┐   ──<function=──▶ FUNC ─┐
 *        ──[TOOL_CALLS]─▶ MISTRAL ─┤ ──{ at start, <|python_tag|>─▶ LLAMA ─┤
 *        ──```──▶ FENCE ─┤ (a JSON call, else FENCE_TEXT until the closing ```)
 *        ──`──▶ INLINE (until the matching ` or a newline)
 *        ──<think>──▶ THINK (until </think>)
 *   region modes: once the region's end is known, its bytes are recognised
 *   as a whole: calls → sink.tool and back to TEXT; otherwise the region
 *   goes out as text, byte for byte.
 *
 * Regions scan incrementally (`scan` remembers how far they looked), so a
 * long call fed in small pieces costs linear time. A region that would make
 * pend exceed max_buffer is released as text, and the rest of it passes
 * through as text too (PASS), so that a huge call never turns into markers.
 */
#include "toolcall_text.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "toolargs.h"

#define DEFAULT_MAX_BUFFER (1024 * 1024)
#define MIN_MAX_BUFFER 64
#define MAX_FENCE_INFO 32
#define MAX_NAME 128
#define ERR_SINK (-100) /* internal: a callback failed, see t->cb_rc */

enum mode {
    M_TEXT,
    M_INLINE,
    M_FENCE_TEXT,
    M_THINK,
    M_LEAD,
    M_TAG,
    M_FUNC,
    M_MISTRAL,
    M_LLAMA,
    M_FENCE,
    M_PASS,
};

/* phases of the region modes */
enum {
    T_START, /* TAG: before the body's first byte */
    T_NAME,  /* TAG: a GLM tool name */
    T_UNTIL, /* TAG: a GLM (or fenced) body, until </tool_call> */
    T_QWEN,  /* TAG: a Qwen3-Coder body */
    T_JSON,  /* TAG: a JSON body */
    T_AFTER, /* TAG: after the JSON body, expecting </tool_call> */
    U_NAME,  /* FUNC: NAME> of <function=NAME> */
    U_UNTIL, /* FUNC: until </function> */
    U_AFTER, /* FUNC: after it, an optional </tool_call> */
    MI_START,
    MI_JSON,  /* MISTRAL: [..] or {..} */
    MI_NAME,  /* MISTRAL: NAME of NAME[ARGS]{..} */
    MI_SEP,   /* MISTRAL: [ARGS] or [CALL_ID] */
    MI_ID,    /* MISTRAL: the call id */
    MI_ARGS,  /* MISTRAL: before the arguments' { */
    MI_AJSON, /* MISTRAL: the arguments */
    L_START,  /* LLAMA: before the { */
    L_KEY,    /* LLAMA: after {, expecting a quote */
    L_JSON,
    F_INFO, /* FENCE: the info string */
    F_BODY, /* FENCE: before the body's first byte */
    F_JSON,
    F_CLOSE, /* FENCE: after the JSON, expecting the closing fence */
};

/* text markers */
enum {
    K_TOOL_CALL,
    K_FUNCTION,
    K_PYTAG,
    K_THINK_OPEN,
    K_THINK_CLOSE,
    K_MISTRAL,
    K_TICKS,
    K_BRACE,
    K_STRAY_CLOSE, /* </tool_call> right after a call: dropped */
};
enum { MK_NONE, MK_PART, MK_FULL };

static const struct {
    const char *s;
    size_t len;
    int kind;
    int tools; /* needs tool recovery on (else needs think tags on) */
} text_marks[] = {
    {"<tool_call>", 11, K_TOOL_CALL, 1},    {"<function=", 10, K_FUNCTION, 1},
    {"<|python_tag|>", 14, K_PYTAG, 1},     {"[TOOL_CALLS]", 12, K_MISTRAL, 1},
    {"<think>", 7, K_THINK_OPEN, 0},        {"</think>", 8, K_THINK_CLOSE, 0},
    {"</tool_call>", 12, K_STRAY_CLOSE, 1},
};

/* Incremental bracket matcher over JSON-ish text (" and ' strings). */
typedef struct jscan {
    int depth;
    char quote;
    char esc;
} jscan;
enum { JS_MORE, JS_END, JS_STOP };

typedef struct call {
    const char *name; /* the declared name, borrowed from tools */
    size_t name_len;
    char *args;
    size_t args_len;
} call;

typedef struct calls {
    call *v;
    int n, cap;
} calls;

struct toolcall_text {
    toolcall_text_sink sink;
    const cJSON *tools; /* NULL: recovery off */
    size_t max_buffer;
    buf pend;
    int mode;
    int think; /* toolcall_text_think */
    size_t lead_max;
    int at_start;    /* a bare JSON call may start here */
    int drop_ws;     /* whitespace here follows a recognised element */
    int line_start;  /* pend[0] starts a line (fence closing) */
    size_t tick_len; /* backticks of the open inline span or fence */
    /* region */
    int phase;
    size_t bstart;     /* body start */
    size_t scan;       /* next byte to look at */
    size_t m1, m2, m3; /* phase marks */
    jscan js;
    int inval; /* Qwen3-Coder: inside a <parameter=..> value */
    /* PASS */
    const char *pass_lit; /* NULL: pass until js closes */
    size_t pass_len;

    int started, finished, dead, cb_rc;
    int ncalls;
    toolcall_text_stats st;
};

/* ---------------------------------------------------------------------- */
/* Small helpers                                                          */
/* ---------------------------------------------------------------------- */

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

/* Does p[0..n) match lit fully, as a prefix of it (more bytes could finish
 * it), or not at all? */
static int match(const char *p, size_t n, const char *lit, size_t ll)
{
    size_t m = n < ll ? n : ll;
    if (memcmp(p, lit, m) != 0) return MK_NONE;
    return n >= ll ? MK_FULL : MK_PART;
}

static int match_s(const char *p, size_t n, const char *lit)
{
    return match(p, n, lit, strlen(lit));
}

/* First occurrence of lit in p[from..n): MK_FULL with *at its index, or
 * MK_PART with *at where an incomplete occurrence starts at the end, or
 * MK_NONE with *at = n. */
static int find_lit(const char *p, size_t n, size_t from, const char *lit, size_t ll, size_t *at)
{
    size_t i = from;
    while (i < n) {
        const char *q = memchr(p + i, lit[0], n - i);
        if (!q) break;
        i = (size_t)(q - p);
        int r = match(p + i, n - i, lit, ll);
        if (r != MK_NONE) {
            *at = i;
            return r;
        }
        i++;
    }
    *at = n;
    return MK_NONE;
}

static size_t skip_ws(const char *p, size_t n, size_t i)
{
    while (i < n && is_ws(p[i]))
        i++;
    return i;
}

static size_t tick_run(const char *p, size_t n, size_t i)
{
    size_t k = i;
    while (k < n && p[k] == '`')
        k++;
    return k - i;
}

static void jscan_init(jscan *js)
{
    js->depth = 0;
    js->quote = 0;
    js->esc = 0;
}

/* Advance over p[*pi..n). JS_END: the value opened at the first byte closed
 * (*pi just past it); JS_STOP: `stop` found outside strings (*pi at it);
 * JS_MORE: needs more bytes (*pi = n). */
static int jscan_run(jscan *js, const char *p, size_t n, size_t *pi, char stop)
{
    size_t i = *pi;
    int rc = JS_MORE;
    for (; i < n; i++) {
        char c = p[i];
        if (js->quote) {
            if (js->esc)
                js->esc = 0;
            else if (c == '\\')
                js->esc = 1;
            else if (c == js->quote)
                js->quote = 0;
            continue;
        }
        if (c == '"' || c == '\'') {
            js->quote = c;
        } else if (c == '{' || c == '[') {
            js->depth++;
        } else if (c == '}' || c == ']') {
            if (--js->depth <= 0) {
                i++;
                rc = JS_END;
                break;
            }
        } else if (stop && c == stop) {
            rc = JS_STOP;
            break;
        }
    }
    *pi = i;
    return rc;
}

static void calls_free(calls *c)
{
    for (int k = 0; k < c->n; k++)
        free(c->v[k].args);
    free(c->v);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* ---------------------------------------------------------------------- */
/* Emitting                                                               */
/* ---------------------------------------------------------------------- */

static int sink_rc(toolcall_text *t, int rc)
{
    if (!rc) return 0;
    t->cb_rc = rc;
    return ERR_SINK;
}

/* Pass pend[0..n) to sink.text and drop it. */
static int emit_text(toolcall_text *t, size_t n)
{
    if (n == 0) return 0;
    const char *p = t->pend.data;
    for (size_t k = 0; k < n && t->at_start; k++)
        if (!is_ws(p[k])) t->at_start = 0;
    t->line_start = p[n - 1] == '\n';
    int rc = t->sink.text(t->sink.ud, p, n);
    t->st.text += n;
    buf_consume(&t->pend, n);
    return sink_rc(t, rc);
}

static int emit_think(toolcall_text *t, size_t n)
{
    if (n == 0) return 0;
    int rc = t->sink.thinking ? t->sink.thinking(t->sink.ud, t->pend.data, n) : 0;
    t->st.thinking += n;
    buf_consume(&t->pend, n);
    return sink_rc(t, rc);
}

static void drop(toolcall_text *t, size_t n)
{
    if (n == 0) return;
    t->line_start = t->pend.data[n - 1] == '\n';
    t->st.consumed += n;
    buf_consume(&t->pend, n);
}

/* Text: the region pend[0..end) was not a call. */
static int region_fail(toolcall_text *t, size_t end, int next_mode)
{
    t->mode = next_mode;
    int rc = emit_text(t, end);
    return rc ? rc : 1;
}

/* The region pend[0..end) was the calls in c: emit them, drop it. */
static int region_calls(toolcall_text *t, size_t end, calls *c)
{
    int rc = 0;
    for (int k = 0; k < c->n && !rc; k++) {
        rc = t->sink.tool(t->sink.ud, c->v[k].name, c->v[k].name_len, c->v[k].args,
                          c->v[k].args_len);
        t->ncalls++;
    }
    drop(t, end);
    t->mode = M_TEXT;
    t->at_start = 1;
    t->drop_ws = 1;
    rc = sink_rc(t, rc);
    return rc ? rc : 1;
}

/* ---------------------------------------------------------------------- */
/* Recognising a complete region                                          */
/* ---------------------------------------------------------------------- */

static int calls_add(toolcall_text *t, calls *c, const cJSON *tool, cJSON *args_obj,
                     const char *args, size_t args_len)
{
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(tool, "input_schema");
    if (!cJSON_IsObject(schema)) schema = NULL;
    buf b;
    buf_init(&b, t->max_buffer);
    int rc;
    if (args_obj) {
        char *txt = cJSON_PrintUnformatted(args_obj);
        rc = txt ? toolargs_repair(txt, strlen(txt), schema, &b, NULL, 0) : TOOLARGS_ENOMEM;
        cJSON_free(txt);
    } else {
        rc = toolargs_repair(args, args_len, schema, &b, NULL, 0);
    }
    if (rc) goto out;
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 4;
        call *v = realloc(c->v, (size_t)cap * sizeof *v);
        if (!v) {
            rc = TOOLARGS_ENOMEM;
            goto out;
        }
        c->v = v;
        c->cap = cap;
    }
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(tool, "name");
    call *k = &c->v[c->n++];
    k->name = nm->valuestring;
    k->name_len = strlen(nm->valuestring);
    k->args = buf_detach(&b, &k->args_len);
    if (!k->args) {
        c->n--;
        rc = TOOLARGS_ENOMEM;
    }
out:
    buf_free(&b);
    return rc;
}

/* One call object: {"name":N,"arguments"|"parameters":A} or
 * {"function":{"name":N,"arguments":A}}; A an object or JSON text. */
static int call_from_obj(toolcall_text *t, const cJSON *o, int require_args, calls *c)
{
    if (!cJSON_IsObject(o)) return -1;
    const cJSON *holder = o;
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(o, "function");
    if (!cJSON_IsString(nm) && cJSON_IsObject(fn)) {
        holder = fn;
        nm = cJSON_GetObjectItemCaseSensitive(fn, "name");
    } else if (!cJSON_IsString(nm) && cJSON_IsString(fn)) {
        nm = fn;
    }
    if (!cJSON_IsString(nm) || !nm->valuestring) return -1;
    const cJSON *tool = toolargs_find_tool(t->tools, nm->valuestring, strlen(nm->valuestring));
    if (!tool) return -1;
    static const char *keys[] = {"arguments", "parameters", "args", "input"};
    const cJSON *a = NULL;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0] && !a; k++)
        a = cJSON_GetObjectItemCaseSensitive(holder, keys[k]);
    if (!a && require_args) return -1;
    if (!a || cJSON_IsNull(a)) return calls_add(t, c, tool, NULL, "", 0);
    if (cJSON_IsString(a))
        return calls_add(t, c, tool, NULL, a->valuestring, strlen(a->valuestring));
    if (cJSON_IsObject(a)) return calls_add(t, c, tool, (cJSON *)a, NULL, 0);
    return -1;
}

static int recog_json(toolcall_text *t, const char *p, size_t n, int require_args, int allow_array,
                      calls *c)
{
    cJSON *v = toolargs_parse(p, n);
    int rc = -1;
    if (cJSON_IsObject(v)) {
        rc = call_from_obj(t, v, require_args, c);
    } else if (cJSON_IsArray(v) && allow_array && v->child) {
        const cJSON *e;
        rc = 0;
        cJSON_ArrayForEach(e, v)
        {
            rc = call_from_obj(t, e, require_args, c);
            if (rc) break;
        }
    }
    cJSON_Delete(v);
    return rc;
}

/* Raw parameter text: strip one leading and one trailing newline. */
static void strip_newline(const char **p, size_t *n)
{
    if (*n && (*p)[0] == '\n') {
        (*p)++;
        (*n)--;
    } else if (*n >= 2 && (*p)[0] == '\r' && (*p)[1] == '\n') {
        (*p) += 2;
        (*n) -= 2;
    }
    if (*n && (*p)[*n - 1] == '\n') {
        (*n)--;
        if (*n && (*p)[*n - 1] == '\r') (*n)--;
    }
}

/* obj[key] = value made from raw text by the tool's property schema. */
static int set_param(cJSON *obj, const cJSON *schema, const char *key, size_t kl, const char *val,
                     size_t vl)
{
    char *k = malloc(kl + 1);
    if (!k) return -1;
    memcpy(k, key, kl);
    k[kl] = '\0';
    const cJSON *props = schema ? cJSON_GetObjectItemCaseSensitive(schema, "properties") : NULL;
    const cJSON *ps = cJSON_IsObject(props) ? cJSON_GetObjectItemCaseSensitive(props, k) : NULL;
    cJSON *v = toolargs_value_from_text(val, vl, ps);
    int rc = -1;
    if (v) {
        if (cJSON_GetObjectItemCaseSensitive(obj, k))
            rc = cJSON_ReplaceItemInObjectCaseSensitive(obj, k, v) ? 0 : -1;
        else
            rc = cJSON_AddItemToObject(obj, k, v) ? 0 : -1;
        if (rc) cJSON_Delete(v);
    }
    free(k);
    return rc;
}

static const cJSON *tool_named(toolcall_text *t, const char *p, size_t n)
{
    n = toolargs_trim(&p, n);
    if (n == 0 || n > MAX_NAME || memchr(p, '<', n) || memchr(p, '\n', n)) return NULL;
    return toolargs_find_tool(t->tools, p, n);
}

/* Could p[0..n) still grow into a declared tool's name? */
static int tool_prefix(const toolcall_text *t, const char *p, size_t n)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, t->tools)
    {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (cJSON_IsString(nm) && strlen(nm->valuestring) >= n &&
            strncasecmp(nm->valuestring, p, n) == 0)
            return 1;
    }
    return 0;
}

/* Index of lit in p[from..n), or n. */
static size_t find_full(const char *p, size_t n, size_t from, const char *lit)
{
    size_t at;
    return find_lit(p, n, from, lit, strlen(lit), &at) == MK_FULL ? at : n;
}

/* Is the </parameter> at p[i] the value's end? It is when what follows
 * (after whitespace) is the next <parameter=, </function> or the end;
 * otherwise the value holds that text literally. MK_PART: cannot tell yet. */
static int param_close_at(const char *p, size_t n, size_t i, int final)
{
    size_t j = skip_ws(p, n, i + 12);
    if (j >= n) return final ? MK_FULL : MK_PART;
    int a = match_s(p + j, n - j, "<parameter=");
    int b = match_s(p + j, n - j, "</function>");
    if (a == MK_FULL || b == MK_FULL) return MK_FULL;
    if ((a == MK_PART || b == MK_PART) && !final) return MK_PART;
    return MK_NONE;
}

/* <function=NAME><parameter=K>v</parameter>...</function>, one or more. */
static int recog_qwen(toolcall_text *t, const char *p, size_t n, calls *c)
{
    size_t i = skip_ws(p, n, 0);
    if (i >= n) return -1;
    while (i < n) {
        if (match_s(p + i, n - i, "<function=") != MK_FULL) return -1;
        i += 10;
        size_t gt = i;
        while (gt < n && p[gt] != '>' && p[gt] != '\n')
            gt++;
        if (gt >= n || p[gt] != '>') return -1;
        const cJSON *tool = tool_named(t, p + i, gt - i);
        if (!tool) return -1;
        const cJSON *schema = cJSON_GetObjectItemCaseSensitive(tool, "input_schema");
        cJSON *obj = cJSON_CreateObject();
        if (!obj) return -1;
        int rc = 0, closed = 0;
        i = gt + 1;
        for (;;) {
            i = skip_ws(p, n, i);
            if (i >= n) break;
            if (match_s(p + i, n - i, "</function>") == MK_FULL) {
                i += 11;
                closed = 1;
                break;
            }
            if (match_s(p + i, n - i, "<parameter=") != MK_FULL) {
                rc = -1;
                break;
            }
            size_t ks = i + 11, ke = ks;
            while (ke < n && p[ke] != '>' && p[ke] != '<')
                ke++;
            if (ke >= n || p[ke] != '>') {
                rc = -1;
                break;
            }
            const char *key = p + ks;
            size_t kl = toolargs_trim(&key, ke - ks);
            size_t vs = ke + 1;
            size_t e1 = find_full(p, n, vs, "</parameter>");
            while (e1 < n && param_close_at(p, n, e1, 1) != MK_FULL)
                e1 = find_full(p, n, e1 + 1, "</parameter>");
            size_t e2 = find_full(p, n, vs, "<parameter=");
            size_t e3 = find_full(p, n, vs, "</function>");
            size_t ve, next;
            if (e1 < n) { /* values may hold markup: only a missing close falls back */
                ve = e1;
                next = e1 + 12;
            } else {
                ve = e2 < e3 ? e2 : e3;
                next = ve;
            }
            const char *val = p + vs;
            size_t vl = ve - vs;
            strip_newline(&val, &vl);
            if (kl == 0 || set_param(obj, schema, key, kl, val, vl)) {
                rc = -1;
                break;
            }
            i = next;
        }
        if (!rc) rc = calls_add(t, c, tool, obj, NULL, 0);
        cJSON_Delete(obj);
        if (rc) return -1;
        i = skip_ws(p, n, i);
        if (!closed) break;
    }
    return skip_ws(p, n, i) == n ? 0 : -1;
}

/* NAME<arg_key>k</arg_key><arg_value>v</arg_value>...  or  NAME\n{json} */
static int recog_glm(toolcall_text *t, const char *p, size_t n, calls *c)
{
    size_t e = 0;
    while (e < n && p[e] != '<' && p[e] != '\n' && p[e] != '{')
        e++;
    const cJSON *tool = tool_named(t, p, e);
    if (!tool) return -1;
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(tool, "input_schema");
    size_t i = skip_ws(p, n, e);
    if (i < n && p[i] == '{') return calls_add(t, c, tool, NULL, p + i, n - i) ? -1 : 0;
    cJSON *obj = cJSON_CreateObject();
    if (!obj) return -1;
    int rc = 0;
    for (;;) {
        i = skip_ws(p, n, i);
        if (i >= n) break;
        if (match_s(p + i, n - i, "<arg_key>") != MK_FULL) {
            rc = -1;
            break;
        }
        size_t ks = i + 9;
        size_t ke = find_full(p, n, ks, "</arg_key>");
        if (ke >= n) {
            rc = -1;
            break;
        }
        const char *key = p + ks;
        size_t kl = toolargs_trim(&key, ke - ks);
        i = skip_ws(p, n, ke + 10);
        if (match_s(p + i, n - i, "<arg_value>") != MK_FULL) {
            rc = -1;
            break;
        }
        size_t vs = i + 11;
        size_t ve = find_full(p, n, vs, "</arg_value>");
        const char *val = p + vs;
        size_t vl = ve - vs;
        strip_newline(&val, &vl);
        if (kl == 0 || set_param(obj, schema, key, kl, val, vl)) {
            rc = -1;
            break;
        }
        i = ve < n ? ve + 12 : n;
    }
    if (!rc) rc = calls_add(t, c, tool, obj, NULL, 0);
    cJSON_Delete(obj);
    return rc ? -1 : 0;
}

/* The body of <tool_call>..</tool_call>: JSON (perhaps in a ``` fence),
 * Qwen3-Coder or GLM. */
static int recog_tag_body(toolcall_text *t, const char *p, size_t n, calls *c)
{
    size_t i = skip_ws(p, n, 0);
    if (i >= n) return -1;
    if (p[i] == '`') {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t k = tick_run(p, n, i);
        if (k < 3 || !nl) return -1;
        size_t e = n;
        while (e > 0 && is_ws(p[e - 1]))
            e--;
        size_t close = e;
        while (close > 0 && p[close - 1] == '`')
            close--;
        if (e - close < k || close < (size_t)(nl - p)) return -1;
        i = skip_ws(p, close, (size_t)(nl - p) + 1);
        if (i >= close || p[i] != '{') return -1;
        return recog_json(t, p + i, close - i, 0, 0, c);
    }
    if (p[i] == '{' || p[i] == '[') return recog_json(t, p + i, n - i, 0, 1, c);
    if (match_s(p + i, n - i, "<function=") == MK_FULL) return recog_qwen(t, p + i, n - i, c);
    return recog_glm(t, p + i, n - i, c);
}

/* Recognise pend[from..to) with fn; calls → drop pend[0..end), else text
 * up to fail_end (fail_end <= end) in mode fail_mode. */
typedef int (*recog_fn)(toolcall_text *t, const char *p, size_t n, calls *c);

static int region_done(toolcall_text *t, recog_fn fn, size_t from, size_t to, size_t end,
                       size_t fail_end, int fail_mode)
{
    calls c = {0};
    int rc = fn(t, t->pend.data + from, to - from, &c);
    if (rc == 0 && c.n > 0)
        rc = region_calls(t, end, &c);
    else
        rc = region_fail(t, fail_end, fail_mode);
    calls_free(&c);
    return rc;
}

static int recog_json_any(toolcall_text *t, const char *p, size_t n, calls *c)
{
    return recog_json(t, p, n, 0, 1, c);
}

static int recog_json_call(toolcall_text *t, const char *p, size_t n, calls *c)
{
    return recog_json(t, p, n, 1, 0, c);
}

/* ---------------------------------------------------------------------- */
/* Steps: >0 progress, 0 needs more bytes, <0 error                        */
/* ---------------------------------------------------------------------- */

static void region_begin(toolcall_text *t, int mode, int phase, size_t scan)
{
    t->mode = mode;
    t->phase = phase;
    t->scan = scan;
    t->bstart = scan;
    t->m1 = t->m2 = t->m3 = 0;
    t->inval = 0;
    jscan_init(&t->js);
}

/* What starts at p[0] in text: MK_FULL with kind and length, MK_PART, or
 * MK_NONE. */
static int match_text(const toolcall_text *t, const char *p, size_t n, int final, int at_start,
                      int *kind, size_t *len)
{
    char c = p[0];
    if (c == '`') {
        size_t k = tick_run(p, n, 0);
        if (k == n && !final) return MK_PART;
        *kind = K_TICKS;
        *len = k;
        return MK_FULL;
    }
    if (c == '{') {
        if (!t->tools || !at_start) return MK_NONE;
        *kind = K_BRACE;
        *len = 1;
        return MK_FULL;
    }
    int part = 0;
    for (size_t k = 0; k < sizeof text_marks / sizeof text_marks[0]; k++) {
        if (text_marks[k].tools ? !t->tools : t->think == TOOLCALL_TEXT_THINK_OFF) continue;
        if (text_marks[k].kind == K_STRAY_CLOSE && !(at_start && t->ncalls)) continue;
        int r = match(p, n, text_marks[k].s, text_marks[k].len);
        if (r == MK_FULL) {
            *kind = text_marks[k].kind;
            *len = text_marks[k].len;
            return MK_FULL;
        }
        if (r == MK_PART) part = 1;
    }
    return part && !final ? MK_PART : MK_NONE;
}

/* A marker of `kind` and `len` bytes starts at pend[ws], after whitespace;
 * bol: it starts a line (only spaces or tabs before it on its line). */
static int start_structure(toolcall_text *t, int kind, size_t ws, size_t len, int bol)
{
    int rc = 0;
    switch (kind) {
    case K_THINK_OPEN:
    case K_THINK_CLOSE: /* a stray close: its reasoning already went out as text */
        /* whitespace before the tag stays text unless nothing but
         * whitespace came before it */
        if (t->at_start)
            drop(t, ws);
        else
            rc = emit_text(t, ws);
        if (rc) break;
        drop(t, len);
        if (kind == K_THINK_OPEN) {
            t->mode = M_THINK;
            t->drop_ws = 1;
        } else {
            t->drop_ws = t->at_start;
        }
        break;
    case K_TICKS: /* a fence opens a line; elsewhere it is inline code */
        t->tick_len = len;
        if (len >= 3 && bol && t->tools) {
            region_begin(t, M_FENCE, F_INFO, ws + len);
            t->m1 = ws + len; /* info start */
        } else {
            t->mode = len >= 3 && bol ? M_FENCE_TEXT : M_INLINE;
            rc = emit_text(t, ws + len);
        }
        break;
    case K_TOOL_CALL:
        region_begin(t, M_TAG, T_START, ws + len);
        break;
    case K_STRAY_CLOSE:
        drop(t, ws + len);
        t->drop_ws = 1;
        break;
    case K_FUNCTION:
        region_begin(t, M_FUNC, U_NAME, ws + len);
        t->bstart = ws;
        break;
    case K_PYTAG:
        region_begin(t, M_LLAMA, L_START, ws + len);
        break;
    case K_BRACE:
        region_begin(t, M_LLAMA, L_START, ws);
        break;
    case K_MISTRAL:
        region_begin(t, M_MISTRAL, MI_START, ws + len);
        break;
    }
    return rc ? rc : 1;
}

static int step_text(toolcall_text *t, int final)
{
    const char *p = t->pend.data;
    size_t n = t->pend.len;
    if (t->drop_ws) {
        size_t k = skip_ws(p, n, 0);
        if (k) {
            drop(t, k);
            return 1;
        }
        if (n == 0) return 0;
        t->drop_ws = 0;
    }
    size_t run = 0, i = 0;
    int bol = t->line_start;
    while (i < n) {
        char c = p[i];
        if (is_ws(c)) {
            if (c == '\n') bol = 1;
            i++;
            continue;
        }
        if (c != '<' && c != '[' && c != '`' && c != '{') {
            run = ++i;
            bol = 0;
            continue;
        }
        int kind = 0;
        size_t len = 0;
        int r = match_text(t, p + i, n - i, final, t->at_start && run == 0, &kind, &len);
        if (r == MK_NONE) {
            run = ++i;
            bol = 0;
            continue;
        }
        if (run > 0) { /* text before it goes out first */
            int rc = emit_text(t, run);
            return rc ? rc : 1;
        }
        if (r == MK_PART) return 0;
        return start_structure(t, kind, i, len, bol);
    }
    if (run > 0 || (final && n > 0)) {
        int rc = emit_text(t, final ? n : run);
        return rc ? rc : 1;
    }
    return 0; /* only whitespace: it may precede a call */
}

static int step_inline(toolcall_text *t, int final)
{
    const char *p = t->pend.data;
    size_t n = t->pend.len, i = 0;
    int rc;
    while (i < n) {
        if (p[i] == '\n') { /* inline code does not cross lines */
            t->mode = M_TEXT;
            rc = emit_text(t, i);
            return rc ? rc : 1;
        }
        if (p[i] == '`') {
            size_t k = tick_run(p, n, i);
            if (i + k == n && !final) {
                rc = emit_text(t, i);
                return rc ? rc : (i > 0);
            }
            if (k == t->tick_len) {
                t->mode = M_TEXT;
                rc = emit_text(t, i + k);
                return rc ? rc : 1;
            }
            i += k;
            continue;
        }
        i++;
    }
    rc = emit_text(t, n);
    return rc ? rc : (n > 0);
}

static int step_fence_text(toolcall_text *t, int final)
{
    const char *p = t->pend.data;
    size_t n = t->pend.len, i = 0;
    int ls = t->line_start, rc;
    while (i < n) {
        if (ls) {
            size_t j = i;
            while (j < n && (p[j] == ' ' || p[j] == '\t'))
                j++;
            size_t k = j + tick_run(p, n, j);
            if (k == n && !final) {
                rc = emit_text(t, i);
                return rc ? rc : (i > 0);
            }
            if (k - j >= t->tick_len) {
                t->mode = M_TEXT;
                rc = emit_text(t, k);
                return rc ? rc : 1;
            }
            ls = 0;
            i = k;
            continue;
        }
        if (p[i] == '\n') ls = 1;
        i++;
    }
    rc = emit_text(t, n);
    return rc ? rc : (n > 0);
}

/* Reasoning between pend[0] and `end`, without the whitespace at its ends
 * (leading whitespace is dropped by drop_ws as it comes). */
static int emit_think_trimmed(toolcall_text *t, size_t end)
{
    size_t k = end;
    while (k > 0 && is_ws(t->pend.data[k - 1]))
        k--;
    int rc = emit_think(t, k);
    if (!rc) drop(t, end - k);
    return rc;
}

static int step_think(toolcall_text *t, int final)
{
    const char *p = t->pend.data;
    size_t n = t->pend.len, at;
    int rc;
    if (t->drop_ws) {
        size_t k = skip_ws(p, n, 0);
        if (k) {
            drop(t, k);
            return 1;
        }
        if (n == 0) return 0;
        t->drop_ws = 0;
    }
    int r = find_lit(p, n, 0, "</think>", 8, &at);
    if (r == MK_FULL) {
        rc = emit_think_trimmed(t, at);
        if (rc) return rc;
        drop(t, 8);
        t->mode = M_TEXT;
        t->drop_ws = 1;
        return 1;
    }
    if (final) {
        rc = emit_think_trimmed(t, n);
        return rc ? rc : (n > 0);
    }
    /* hold a possible </think> and the whitespace before it */
    size_t k = r == MK_PART ? at : n;
    while (k > 0 && is_ws(p[k - 1]))
        k--;
    rc = emit_think(t, k);
    return rc ? rc : (k > 0);
}

/* THINK_LEAD: hold the start until </think> decides it was reasoning. */
static int step_lead(toolcall_text *t, int final)
{
    static const char *marks[] = {"</think>",   "<think>",      "<tool_call>",
                                  "<function=", "[TOOL_CALLS]", "<|python_tag|>"};
    const char *p = t->pend.data;
    size_t n = t->pend.len;
    size_t first = skip_ws(p, n, 0);
    if (first < n && p[first] == '{' && t->tools) { /* a bare JSON call, not reasoning */
        t->mode = M_TEXT;
        return 1;
    }
    size_t i = t->scan;
    for (; i < n; i++) {
        if (i >= t->lead_max) {
            t->mode = M_TEXT;
            return 1;
        }
        if (p[i] != '<' && p[i] != '[') continue;
        int part = 0;
        for (size_t k = 0; k < sizeof marks / sizeof marks[0]; k++) {
            if (k >= 2 && !t->tools) break;
            int r = match_s(p + i, n - i, marks[k]);
            if (r == MK_FULL) {
                if (k == 0) {
                    size_t lead = skip_ws(p, i, 0);
                    drop(t, lead);
                    int rc = emit_think_trimmed(t, i - lead);
                    if (rc) return rc;
                    drop(t, 8);
                    t->drop_ws = 1;
                }
                t->mode = M_TEXT;
                t->scan = 0;
                return 1;
            }
            if (r == MK_PART) part = 1;
        }
        if (part && !final) {
            t->scan = i;
            return 0;
        }
    }
    t->scan = i;
    if (final) {
        t->mode = M_TEXT;
        t->scan = 0;
        return 1;
    }
    return 0;
}

enum { QS_MORE, QS_END, QS_FUNC_END };

/* Find where a Qwen3-Coder body ends, from t->scan. Inside a parameter value
 * only </parameter> counts, or </function> directly followed by
 * </tool_call> (the value's </parameter> is missing), so values may hold
 * any markup. Outside values, in a <tool_call>: </tool_call>, or a new
 * <tool_call> (this one's close is missing); bare: </function>.
 * QS_END / QS_FUNC_END set *body_end and *end; at `final` the end of pend
 * is the end. */
static int qwen_scan(toolcall_text *t, int in_tag, int final, size_t *body_end, size_t *end)
{
    const char *p = t->pend.data;
    size_t n = t->pend.len, i = t->scan;
    while (i < n) {
        const char *q = memchr(p + i, '<', n - i);
        if (!q) break;
        i = (size_t)(q - p);
        int part = 0, r;
        if (!t->inval) {
            if (in_tag) {
                r = match_s(p + i, n - i, "</tool_call>");
                if (r == MK_FULL) {
                    *body_end = i;
                    *end = i + 12;
                    return QS_END;
                }
                part |= r == MK_PART;
                r = match_s(p + i, n - i, "<tool_call>");
                if (r == MK_FULL) {
                    *body_end = *end = i;
                    return QS_END;
                }
                part |= r == MK_PART;
            } else {
                r = match_s(p + i, n - i, "</function>");
                if (r == MK_FULL) {
                    *body_end = *end = i + 11;
                    return QS_FUNC_END;
                }
                part |= r == MK_PART;
            }
            r = match_s(p + i, n - i, "<parameter=");
            if (r == MK_FULL) {
                t->inval = 1;
                i += 11;
                continue;
            }
            part |= r == MK_PART;
        } else {
            r = match_s(p + i, n - i, "</parameter>");
            if (r == MK_FULL) {
                int c = param_close_at(p, n, i, final);
                if (c == MK_FULL) {
                    t->inval = 0;
                    i += 12;
                    continue;
                }
                r = c; /* MK_PART: wait; MK_NONE: part of the value */
            }
            part |= r == MK_PART;
            r = match_s(p + i, n - i, "</function>");
            if (r == MK_FULL) {
                size_t j = skip_ws(p, n, i + 11);
                int r3 = match_s(p + j, n - j, "</tool_call>");
                if (r3 == MK_FULL) {
                    *body_end = i + 11;
                    *end = j + 12;
                    return QS_END;
                }
                part |= r3 == MK_PART;
            }
            part |= r == MK_PART;
        }
        if (part && !final) {
            t->scan = i;
            return QS_MORE;
        }
        i++;
    }
    t->scan = n;
    if (!final) return QS_MORE;
    *body_end = *end = n;
    return QS_END;
}

static int tag_done(toolcall_text *t, size_t body_end, size_t end)
{
    return region_done(t, recog_tag_body, t->bstart, body_end, end, end, M_TEXT);
}

/* After <tool_call>. */
static int step_tag(toolcall_text *t, int final)
{
    const char *p = t->pend.data;
    size_t n = t->pend.len, i = t->scan;
    switch (t->phase) {
    case T_START:
        i = skip_ws(p, n, i);
        t->scan = i;
        if (i >= n) return final ? tag_done(t, n, n) : 0;
        if (p[i] == '{' || p[i] == '[') {
            t->phase = T_JSON;
            return 1;
        }
        if (p[i] == '<' || p[i] == '`') {
            int r = match_s(p + i, n - i, "<function=");
            if (r == MK_PART && !final) return 0;
            t->phase = r == MK_FULL ? T_QWEN : T_UNTIL;
        } else {
            t->m1 = i;
            t->phase = T_NAME;
        }
        return 1;
    case T_NAME: { /* GLM: give up early when this is no declared tool's name */
        while (i < n && name_char(p[i]))
            i++;
        t->scan = i;
        size_t j = i;
        while (j < n && (p[j] == ' ' || p[j] == '\t' || p[j] == '\r'))
            j++;
        if (!tool_prefix(t, p + t->m1, i - t->m1)) return region_fail(t, i, M_TEXT);
        if (j >= n) return final ? tag_done(t, n, n) : 0;
        if ((p[j] != '<' && p[j] != '\n' && p[j] != '{') || !tool_named(t, p + t->m1, i - t->m1))
            return region_fail(t, j, M_TEXT);
        t->scan = j;
        t->phase = T_UNTIL;
        return 1;
    }
    case T_UNTIL:
        while (i < n) {
            const char *q = memchr(p + i, '<', n - i);
            if (!q) break;
            i = (size_t)(q - p);
            int r1 = match_s(p + i, n - i, "</tool_call>");
            int r2 = match_s(p + i, n - i, "<tool_call>");
            if (r1 == MK_FULL) return tag_done(t, i, i + 12);
            if (r2 == MK_FULL) return tag_done(t, i, i);
            if ((r1 == MK_PART || r2 == MK_PART) && !final) {
                t->scan = i;
                return 0;
            }
            i++;
        }
        t->scan = n;
        return final ? tag_done(t, n, n) : 0;
    case T_QWEN: {
        size_t body_end, end;
        if (qwen_scan(t, 1, final, &body_end, &end) == QS_MORE) return 0;
        return tag_done(t, body_end, end);
    }
    case T_JSON:
        for (;;) {
            int r = jscan_run(&t->js, p, n, &i, '<');
            if (r == JS_END) {
                t->m1 = t->scan = i;
                t->phase = T_AFTER;
                return 1;
            }
            if (r == JS_MORE) break;
            int r1 = match_s(p + i, n - i, "</tool_call>");
            int r2 = match_s(p + i, n - i, "<tool_call>");
            if (r1 == MK_FULL) return tag_done(t, i, i + 12);
            if (r2 == MK_FULL) return tag_done(t, i, i);
            if ((r1 == MK_PART || r2 == MK_PART) && !final) {
                t->scan = i;
                return 0;
            }
            i++; /* a stray '<' inside the JSON */
        }
        t->scan = n;
        return final ? tag_done(t, n, n) : 0;
    case T_AFTER:
        while (i < n && (is_ws(p[i]) || p[i] == '}' || p[i] == ']'))
            i++;
        t->scan = i;
        if (i >= n) return final ? tag_done(t, t->m1, t->m1) : 0;
        switch (match_s(p + i, n - i, "</tool_call>")) {
        case MK_FULL:
            return tag_done(t, t->m1, i + 12);
        case MK_PART:
            if (!final) return 0;
        }
        return tag_done(t, t->m1, t->m1); /* no closing tag */
    }
    return -1;
}

static int recog_qwen_body(toolcall_text *t, const char *p, size_t n, calls *c)
{
    return recog_qwen(t, p, n, c);
}

/* A bare <function=..>..</function> (Qwen3-Coder without <tool_call>). */
static int step_func(toolcall_text *t, int final)
{
    const char *p = t->pend.data;
    size_t n = t->pend.len, i = t->scan;
    if (t->phase == U_NAME) { /* give up early when this is no declared tool's name */
        while (i < n && name_char(p[i]))
            i++;
        t->scan = i;
        if (!tool_prefix(t, p + t->bstart + 10, i - t->bstart - 10))
            return region_fail(t, i, M_TEXT);
        if (i >= n) return final ? region_fail(t, n, M_TEXT) : 0;
        if (p[i] != '>' || !tool_named(t, p + t->bstart + 10, i - t->bstart - 10))
            return region_fail(t, i, M_TEXT);
        t->phase = U_UNTIL;
        return 1;
    }
    if (t->phase == U_UNTIL) {
        size_t body_end, end;
        int r = qwen_scan(t, 0, final, &body_end, &end);
        if (r == QS_MORE) return 0;
        if (r == QS_FUNC_END) {
            t->m1 = t->scan = end;
            t->phase = U_AFTER;
            return 1;
        }
        return region_done(t, recog_qwen_body, t->bstart, body_end, end, end, M_TEXT);
    }
    i = skip_ws(p, n, i);
    t->scan = i;
    size_t end = t->m1;
    if (i >= n) {
        if (!final) return 0;
    } else {
        int r = match_s(p + i, n - i, "</tool_call>");
        if (r == MK_PART && !final) return 0;
        if (r == MK_FULL) end = i + 12;
    }
    return region_done(t, recog_qwen_body, t->bstart, t->m1, end, end, M_TEXT);
}

/* [TOOL_CALLS] NAME [CALL_ID] id [ARGS] {..} */
static int recog_mistral_named(toolcall_text *t, const char *p, size_t n, calls *c)
{
    const char *base = t->pend.data;
    const cJSON *tool = tool_named(t, base + t->m1, t->m2 - t->m1);
    if (!tool) return -1;
    return calls_add(t, c, tool, NULL, p, n) ? -1 : 0;
}

static int step_mistral(toolcall_text *t, int final)
{
    const char *p = t->pend.data;
    size_t n = t->pend.len, i = t->scan;
    int r;
    switch (t->phase) {
    case MI_START:
        i = skip_ws(p, n, i);
        t->scan = i;
        if (i >= n) return final ? region_fail(t, n, M_TEXT) : 0;
        if (p[i] == '[' || p[i] == '{') {
            t->m1 = i;
            t->phase = MI_JSON;
        } else if (name_char(p[i])) {
            t->m1 = i;
            t->phase = MI_NAME;
        } else {
            return region_fail(t, i, M_TEXT);
        }
        return 1;
    case MI_JSON:
    case MI_AJSON: {
        size_t from = t->phase == MI_JSON ? t->m1 : t->m3;
        recog_fn fn = t->phase == MI_JSON ? recog_json_any : recog_mistral_named;
        r = jscan_run(&t->js, p, n, &i, 0);
        t->scan = i;
        if (r == JS_END) return region_done(t, fn, from, i, i, i, M_TEXT);
        return final ? region_done(t, fn, from, n, n, n, M_TEXT) : 0;
    }
    case MI_NAME:
        while (i < n && name_char(p[i]))
            i++;
        t->scan = i;
        if (!tool_prefix(t, p + t->m1, i - t->m1)) return region_fail(t, i, M_TEXT);
        if (i >= n) return final ? region_fail(t, n, M_TEXT) : 0;
        t->m2 = i;
        t->phase = MI_SEP;
        return 1;
    case MI_SEP:
        r = match_s(p + i, n - i, "[ARGS]");
        if (r == MK_FULL) {
            t->scan = i + 6;
            t->phase = MI_ARGS;
            return 1;
        }
        if (match_s(p + i, n - i, "[CALL_ID]") == MK_FULL) {
            t->scan = i + 9;
            t->phase = MI_ID;
            return 1;
        }
        if (!final && (r == MK_PART || match_s(p + i, n - i, "[CALL_ID]") == MK_PART)) return 0;
        return region_fail(t, i, M_TEXT);
    case MI_ID:
        while (i < n && name_char(p[i]))
            i++;
        t->scan = i;
        if (i - t->m2 > MAX_NAME) return region_fail(t, i, M_TEXT);
        if (i >= n) return final ? region_fail(t, n, M_TEXT) : 0;
        /* only [ARGS] may follow the id (deciding on a partial "[" here
         * and letting MI_SEP see the rest would accept a second [CALL_ID]
         * only when the input happened to be split after the "[") */
        r = match_s(p + i, n - i, "[ARGS]");
        if (r == MK_FULL) {
            t->scan = i + 6;
            t->phase = MI_ARGS;
            return 1;
        }
        if (r == MK_PART && !final) return 0;
        return region_fail(t, i, M_TEXT);
    case MI_ARGS:
        i = skip_ws(p, n, i);
        t->scan = i;
        if (i >= n) return final ? region_fail(t, n, M_TEXT) : 0;
        if (p[i] != '{') return region_fail(t, i, M_TEXT);
        t->m3 = i;
        t->phase = MI_AJSON;
        return 1;
    }
    return -1;
}

/* A bare JSON call: first in the content, after a call, or after
 * <|python_tag|>. */
static int step_llama(toolcall_text *t, int final)
{
    const char *p = t->pend.data;
    size_t n = t->pend.len, i = t->scan;
    switch (t->phase) {
    case L_START:
        i = skip_ws(p, n, i);
        t->scan = i;
        if (i >= n) return final ? region_fail(t, n, M_TEXT) : 0;
        if (p[i] != '{') return region_fail(t, i, M_TEXT);
        t->m1 = i;
        t->scan = i + 1;
        t->phase = L_KEY;
        return 1;
    case L_KEY:
        i = skip_ws(p, n, i);
        t->scan = i;
        if (i >= n) return final ? region_fail(t, n, M_TEXT) : 0;
        if (p[i] != '"' && p[i] != '\'') return region_fail(t, i, M_TEXT);
        t->scan = t->m1;
        t->phase = L_JSON;
        return 1;
    case L_JSON: {
        int r = jscan_run(&t->js, p, n, &i, 0);
        t->scan = i;
        if (r == JS_END) return region_done(t, recog_json_call, t->m1, i, i, i, M_TEXT);
        return final ? region_done(t, recog_json_call, t->m1, n, n, n, M_TEXT) : 0;
    }
    }
    return -1;
}

static int fence_info_ok(const char *p, size_t n)
{
    static const char *ok[] = {"json", "json5", "tool_call", "tool_code", "javascript", "js"};
    n = toolargs_trim(&p, n);
    if (n == 0) return 1;
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++)
        if (strlen(ok[k]) == n && strncasecmp(ok[k], p, n) == 0) return 1;
    return 0;
}

/* ```info\n{json}\n``` holding nothing but a call. */
static int step_fence(toolcall_text *t, int final)
{
    const char *p = t->pend.data;
    size_t n = t->pend.len, i = t->scan;
    switch (t->phase) {
    case F_INFO: {
        const char *nl = memchr(p + i, '\n', n - i);
        if (!nl) {
            t->scan = n;
            if (n - t->m1 > MAX_FENCE_INFO || final) return region_fail(t, n, M_FENCE_TEXT);
            return 0;
        }
        size_t j = (size_t)(nl - p);
        if (j - t->m1 > MAX_FENCE_INFO || !fence_info_ok(p + t->m1, j - t->m1))
            return region_fail(t, j + 1, M_FENCE_TEXT);
        t->m1 = t->scan = j + 1; /* body start */
        t->phase = F_BODY;
        return 1;
    }
    case F_BODY:
        i = skip_ws(p, n, i);
        t->scan = i;
        if (i >= n && !final) return 0;
        if (i >= n || p[i] != '{') return region_fail(t, t->m1, M_FENCE_TEXT);
        t->m2 = i;
        t->phase = F_JSON;
        return 1;
    case F_JSON: {
        int r = jscan_run(&t->js, p, n, &i, '`');
        t->scan = i;
        if (r != JS_MORE) {
            t->m3 = i;
            t->phase = F_CLOSE;
            return 1;
        }
        return final ? region_done(t, recog_json_call, t->m2, n, n, n, M_FENCE_TEXT) : 0;
    }
    case F_CLOSE: {
        i = skip_ws(p, n, i);
        t->scan = i;
        if (i >= n) {
            if (!final) return 0;
            return region_done(t, recog_json_call, t->m2, t->m3, n, n, M_FENCE_TEXT);
        }
        if (p[i] == '`') {
            size_t k = tick_run(p, n, i);
            if (i + k == n && !final) return 0;
            if (k >= t->tick_len)
                return region_done(t, recog_json_call, t->m2, t->m3, i + k, i + k, M_TEXT);
        }
        return region_fail(t, t->m3, M_FENCE_TEXT);
    }
    }
    return -1;
}

/* After an overflow: the rest of a call that went out as text. */
static int step_pass(toolcall_text *t, int final)
{
    const char *p = t->pend.data;
    size_t n = t->pend.len, i = 0;
    int rc;
    if (!t->pass_lit) {
        int r = jscan_run(&t->js, p, n, &i, 0);
        if (r == JS_END || final) t->mode = M_TEXT;
        rc = emit_text(t, i);
        return rc ? rc : (i > 0 || t->mode == M_TEXT);
    }
    size_t at;
    int r = find_lit(p, n, 0, t->pass_lit, t->pass_len, &at);
    if (r == MK_FULL) {
        t->mode = M_TEXT;
        rc = emit_text(t, at + t->pass_len);
        return rc ? rc : 1;
    }
    if (final) {
        t->mode = M_TEXT;
        at = n;
    }
    rc = emit_text(t, at);
    return rc ? rc : (at > 0 || final);
}

/* The step function of each mode. */
static int (*const steps[])(toolcall_text *, int) = {
    [M_TEXT] = step_text,   [M_INLINE] = step_inline,   [M_FENCE_TEXT] = step_fence_text,
    [M_THINK] = step_think, [M_LEAD] = step_lead,       [M_TAG] = step_tag,
    [M_FUNC] = step_func,   [M_MISTRAL] = step_mistral, [M_LLAMA] = step_llama,
    [M_FENCE] = step_fence, [M_PASS] = step_pass,
};

static int step(toolcall_text *t, int final)
{
    if (t->mode < 0 || (size_t)t->mode >= sizeof steps / sizeof steps[0] || !steps[t->mode])
        return -1;
    return steps[t->mode](t, final);
}

static int process(toolcall_text *t, int final)
{
    int rc;
    while ((rc = step(t, final)) > 0) {
    }
    if (rc < 0) return rc;
    if (final && t->pend.len) { /* every step decides at the end; be safe anyway */
        t->mode = M_TEXT;
        rc = emit_text(t, t->pend.len);
    }
    return rc;
}

/* pend is full and undecided: release it as text. */
static int overflow(toolcall_text *t)
{
    int mode = t->mode, phase = t->phase;
    if (mode == M_LEAD) { /* give up waiting for </think> */
        t->mode = M_TEXT;
        t->scan = 0;
        return 0;
    }
    if (mode == M_THINK) return emit_think(t, t->pend.len);
    if (mode == M_INLINE || mode == M_FENCE_TEXT) return emit_text(t, t->pend.len);
    t->mode = M_TEXT;
    if (mode == M_TAG && phase != T_AFTER) {
        t->mode = M_PASS;
        t->pass_lit = "</tool_call>";
        t->pass_len = 12;
    } else if (mode == M_FUNC && phase == U_UNTIL) {
        t->mode = M_PASS;
        t->pass_lit = "</function>";
        t->pass_len = 11;
    } else if ((mode == M_MISTRAL && (phase == MI_JSON || phase == MI_AJSON)) ||
               (mode == M_LLAMA && phase == L_JSON)) {
        t->mode = M_PASS;
        t->pass_lit = NULL; /* js goes on from where it was */
    } else if (mode == M_FENCE) {
        t->mode = M_FENCE_TEXT;
    }
    return emit_text(t, t->pend.len);
}

/* ---------------------------------------------------------------------- */
/* Public                                                                 */
/* ---------------------------------------------------------------------- */

toolcall_text *toolcall_text_new(const cJSON *tools, size_t max_buffer,
                                 const toolcall_text_sink *sink)
{
    if (!sink || !sink->text || !sink->tool) return NULL;
    toolcall_text *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->sink = *sink;
    t->tools = cJSON_IsArray(tools) && tools->child ? tools : NULL;
    t->max_buffer = max_buffer ? max_buffer : DEFAULT_MAX_BUFFER;
    if (t->max_buffer < MIN_MAX_BUFFER) t->max_buffer = MIN_MAX_BUFFER;
    buf_init(&t->pend, t->max_buffer);
    t->mode = M_TEXT;
    t->at_start = 1;
    t->line_start = 1;
    return t;
}

int toolcall_text_set_think(toolcall_text *t, toolcall_text_think mode, size_t lead_max)
{
    if (t->started || t->dead) return TOOLCALL_TEXT_EDONE;
    t->think = mode;
    t->mode = mode == TOOLCALL_TEXT_THINK_OPEN   ? M_THINK
              : mode == TOOLCALL_TEXT_THINK_LEAD ? M_LEAD
                                                 : M_TEXT;
    size_t cap = t->max_buffer - 16;
    t->lead_max = lead_max == 0 || lead_max > cap ? cap : lead_max;
    t->scan = 0;
    t->drop_ws = mode == TOOLCALL_TEXT_THINK_OPEN;
    return 0;
}

static int fail(toolcall_text *t, int rc)
{
    t->dead = 1;
    if (rc == ERR_SINK) return t->cb_rc;
    return rc == BUF_ENOMEM || rc == TOOLARGS_ENOMEM ? TOOLCALL_TEXT_ENOMEM : rc;
}

int toolcall_text_feed(toolcall_text *t, const char *p, size_t n)
{
    if (t->dead || t->finished) return TOOLCALL_TEXT_EDONE;
    t->started = 1;
    while (n > 0) {
        size_t room = t->max_buffer - t->pend.len;
        int rc;
        if (room == 0) {
            rc = overflow(t);
            if (rc) return fail(t, rc);
            rc = process(t, 0);
            if (rc < 0) return fail(t, rc);
            continue;
        }
        size_t take = n < room ? n : room;
        rc = buf_append(&t->pend, p, take);
        if (rc) return fail(t, TOOLCALL_TEXT_ENOMEM);
        t->st.fed += take;
        p += take;
        n -= take;
        rc = process(t, 0);
        if (rc < 0) return fail(t, rc);
    }
    return 0;
}

int toolcall_text_finish(toolcall_text *t)
{
    if (t->dead) return TOOLCALL_TEXT_EDONE;
    if (t->finished) return 0;
    t->finished = 1;
    int rc = process(t, 1);
    if (rc < 0) return fail(t, rc);
    return 0;
}

void toolcall_text_free(toolcall_text *t)
{
    if (!t) return;
    buf_free(&t->pend);
    free(t);
}

int toolcall_text_calls(const toolcall_text *t)
{
    return t->ncalls;
}

void toolcall_text_get_stats(const toolcall_text *t, toolcall_text_stats *st)
{
    *st = t->st;
    st->held = t->pend.len;
}
