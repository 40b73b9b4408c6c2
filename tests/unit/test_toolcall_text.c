/*
 * Tests for src/toolcall_text.c: the golden corpus under
 * tests/golden/toolcall (each case fed whole, split in two at every byte,
 * and one byte at a time), streaming behaviour (what is released when), and
 * a brute-force run of random bytes and marker fragments in random splits.
 *
 * Golden case NAME: NAME.txt is the model's content (one trailing newline,
 * if any, is not part of it); NAME.tools.json the tools (default:
 * default.tools.json); NAME.opts optional words: "lead" (THINK_LEAD),
 * "open" (THINK_OPEN), "nothink" (THINK_OFF), "max=N" (max_buffer); NAME.out
 * the expected events, one per line, adjacent text merged:
 *   text "json-escaped"  |  thinking "json-escaped"  |  tool NAME {args}
 * ANYCLAUDE_UPDATE_GOLDEN=1 rewrites the .out files from the current output.
 */
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "toolcall_text.h"
#include "test.h"

/* ---- recording sink ---------------------------------------------------- */

typedef struct ev {
    int kind; /* 0 text, 1 thinking, 2 tool */
    buf a;    /* text, or tool name */
    buf b;    /* tool args */
} ev;

typedef struct rec {
    ev *v;
    int n, cap;
    int fail_after; /* >0: the Nth callback fails */
    int ncb;
} rec;

static ev *rec_push(rec *r, int kind)
{
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 16;
        ev *v = realloc(r->v, (size_t)cap * sizeof *v);
        if (!v) abort();
        r->v = v;
        r->cap = cap;
    }
    ev *e = &r->v[r->n++];
    e->kind = kind;
    buf_init(&e->a, 0);
    buf_init(&e->b, 0);
    return e;
}

static int rec_chunk(rec *r, int kind, const char *p, size_t n)
{
    if (r->fail_after && ++r->ncb >= r->fail_after) return -42;
    ev *e = (r->n && r->v[r->n - 1].kind == kind) ? &r->v[r->n - 1] : rec_push(r, kind);
    if (buf_append(&e->a, p, n)) abort();
    return 0;
}

static int on_text(void *ud, const char *p, size_t n)
{
    if (n == 0) test_failed_checks++; /* never called with nothing */
    return rec_chunk(ud, 0, p, n);
}

static int on_think(void *ud, const char *p, size_t n)
{
    return rec_chunk(ud, 1, p, n);
}

static int on_tool(void *ud, const char *name, size_t nl, const char *args, size_t al)
{
    rec *r = ud;
    if (r->fail_after && ++r->ncb >= r->fail_after) return -42;
    ev *e = rec_push(r, 2);
    if (buf_append(&e->a, name, nl) || buf_append(&e->b, args, al)) abort();
    return 0;
}

static void rec_free(rec *r)
{
    for (int k = 0; k < r->n; k++) {
        buf_free(&r->v[k].a);
        buf_free(&r->v[k].b);
    }
    free(r->v);
    memset(r, 0, sizeof *r);
}

/* s as a JSON string (as cJSON writes it, but NUL bytes kept). */
static void json_str(buf *out, const buf *s)
{
    static const char special[] = "\"\\\n\r\t\b\f", letter[] = "\"\\nrtbf";
    buf_appends(out, "\"");
    for (size_t k = 0; k < s->len; k++) {
        unsigned char c = (unsigned char)s->data[k];
        const char *sp = c ? strchr(special, c) : NULL;
        if (sp) {
            char e[2] = {'\\', letter[sp - special]};
            buf_append(out, e, 2);
        } else if (c < 0x20) {
            buf_appendf(out, "\\u%04x", c);
        } else {
            buf_append(out, &c, 1);
        }
    }
    buf_appends(out, "\"");
}

/* One line per event. */
static void rec_render(const rec *r, buf *out)
{
    for (int k = 0; k < r->n; k++) {
        const ev *e = &r->v[k];
        if (e->kind == 2) {
            buf_appendf(out, "tool %s %s\n", e->a.data, e->b.data);
        } else {
            buf_appends(out, e->kind ? "thinking " : "text ");
            json_str(out, &e->a);
            buf_appends(out, "\n");
        }
    }
}

typedef struct opts {
    const cJSON *tools;
    size_t max;
    toolcall_text_think think;
} opts;

/* Feed p in the pieces given by cuts (ascending offsets), render events.
 * Returns 0, or -1 when accounting or a call failed. */
static int run_split(const opts *o, const char *p, size_t n, const size_t *cuts, size_t ncuts,
                     buf *out, toolcall_text_stats *stats, int *ncalls)
{
    rec r = {0};
    toolcall_text_sink sink = {on_text, on_think, on_tool, &r};
    toolcall_text *t = toolcall_text_new(o->tools, o->max, &sink);
    int rc = -1;
    if (!t) goto out;
    if (o->think && toolcall_text_set_think(t, o->think, 0)) goto out;
    size_t at = 0;
    for (size_t k = 0; k <= ncuts; k++) {
        size_t end = k < ncuts ? cuts[k] : n;
        if (toolcall_text_feed(t, p + at, end - at)) goto out;
        at = end;
    }
    if (toolcall_text_finish(t)) goto out;
    toolcall_text_get_stats(t, stats);
    if (ncalls) *ncalls = toolcall_text_calls(t);
    rec_render(&r, out);
    rc = stats->held == 0 && stats->fed == n &&
                 stats->text + stats->thinking + stats->consumed == stats->fed
             ? 0
             : -1;
out:
    toolcall_text_free(t);
    rec_free(&r);
    return rc;
}

static int run_bytes(const opts *o, const char *p, size_t n, buf *out)
{
    size_t *cuts = malloc((n + 1) * sizeof *cuts);
    toolcall_text_stats st;
    for (size_t k = 0; k + 1 < n; k++)
        cuts[k] = k + 1;
    int rc = run_split(o, p, n, cuts, n > 1 ? n - 1 : 0, out, &st, NULL);
    free(cuts);
    return rc;
}

/* ---- golden corpus ------------------------------------------------------ */

static void read_opts(const char *path, opts *o)
{
    char *s = test_read_file(path, NULL);
    if (!s) return;
    if (strstr(s, "lead")) o->think = TOOLCALL_TEXT_THINK_LEAD;
    if (strstr(s, "open")) o->think = TOOLCALL_TEXT_THINK_OPEN;
    if (strstr(s, "nothink")) o->think = TOOLCALL_TEXT_THINK_OFF;
    const char *m = strstr(s, "max=");
    if (m) o->max = strtoul(m + 4, NULL, 10);
    free(s);
}

/* dir/name+suffix, malloc'd. */
static char *case_path(const char *dir, const char *name, const char *suffix)
{
    buf b;
    buf_init(&b, 0);
    buf_appendf(&b, "%s/%s%s", dir, name, suffix);
    return buf_detach(&b, NULL);
}

/* Run one case every way; 1 when all agree with the expected output. */
static int golden_case(const char *dir, const char *name, const cJSON *deftools, int update)
{
    char *path = NULL;
    int ok = 0;
    cJSON *tools = NULL;
    char *txt = NULL, *want = NULL;
    buf got, alt;
    buf_init(&got, 0);
    buf_init(&alt, 0);

    free(path);
    path = case_path(dir, name, ".txt");
    size_t n = 0;
    txt = test_read_file(path, &n);
    if (!txt) goto out;
    if (n && txt[n - 1] == '\n') n--;
    free(path);
    path = case_path(dir, name, ".tools.json");
    char *tj = test_read_file(path, NULL);
    if (tj) {
        tools = cJSON_Parse(tj);
        free(tj);
        if (!tools) {
            fprintf(stderr, "  %s: bad tools file\n", name);
            goto out;
        }
    }
    opts o = {tools ? tools : deftools, 1 << 20, TOOLCALL_TEXT_THINK_TAGS};
    free(path);
    path = case_path(dir, name, ".opts");
    read_opts(path, &o);

    toolcall_text_stats st;
    if (run_split(&o, txt, n, NULL, 0, &got, &st, NULL)) {
        fprintf(stderr, "  %s: whole: feed failed or bytes unaccounted\n", name);
        goto out;
    }
    free(path);
    path = case_path(dir, name, ".out");
    if (update) golden_write(path, got.data ? got.data : "", got.len);
    want = test_read_file(path, NULL);
    if (!want) {
        fprintf(stderr, "  %s: no %s.out; got:\n%s", name, name, got.data ? got.data : "");
        goto out;
    }
    if (strcmp(want, got.data ? got.data : "") != 0) {
        fprintf(stderr, "  %s (whole):\n    got:\n%s    want:\n%s", name, got.data ? got.data : "",
                want);
        goto out;
    }
    for (size_t cut = 1; cut < n; cut++) {
        buf_reset(&alt);
        if (run_split(&o, txt, n, &cut, 1, &alt, &st, NULL) ||
            strcmp(want, alt.data ? alt.data : "")) {
            fprintf(stderr, "  %s (split at %zu):\n    got:\n%s", name, cut,
                    alt.data ? alt.data : "");
            goto out;
        }
    }
    buf_reset(&alt);
    if (run_bytes(&o, txt, n, &alt) || strcmp(want, alt.data ? alt.data : "")) {
        fprintf(stderr, "  %s (byte by byte):\n    got:\n%s", name, alt.data ? alt.data : "");
        goto out;
    }
    ok = 1;
out:
    free(path);
    cJSON_Delete(tools);
    free(txt);
    free(want);
    buf_free(&got);
    buf_free(&alt);
    return ok;
}

TEST(toolcall_text_golden)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/golden/toolcall", test_dir());
    char *path = case_path(dir, "default", ".tools.json");
    char *dj = test_read_file(path, NULL);
    free(path);
    REQUIRE(dj != NULL);
    cJSON *deftools = cJSON_Parse(dj);
    free(dj);
    REQUIRE(deftools != NULL);
    int update = golden_update();
    char **names;
    size_t nn = golden_list(dir, ".txt", NULL, &names);
    int handled = 0;
    for (size_t k = 0; k < nn; k++) {
        int ok = golden_case(dir, names[k], deftools, update);
        handled += ok;
        CHECK(ok);
    }
    golden_free(names, nn);
    cJSON_Delete(deftools);
    printf("toolcall corpus: %d/%zu cases handled (%.0f%%), each fed whole, split in two at every "
           "byte, and byte by byte\n",
           handled, nn, nn ? 100.0 * handled / nn : 0.0);
    CHECK(nn >= 40);
}

/* ---- streaming behaviour ------------------------------------------------ */

static const char *tools_json =
    "[{\"name\":\"Bash\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"command\":{"
    "\"type\":\"string\"},\"timeout\":{\"type\":\"number\"}}}},"
    "{\"name\":\"Write\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"file_path\":{"
    "\"type\":\"string\"},\"content\":{\"type\":\"string\"}}}}]";

static int feed_s(toolcall_text *t, const char *s)
{
    return toolcall_text_feed(t, s, strlen(s));
}

typedef struct live {
    rec r;
    toolcall_text *t;
} live;

static void live_open(live *l, const cJSON *tools)
{
    memset(l, 0, sizeof *l);
    toolcall_text_sink sink = {on_text, on_think, on_tool, &l->r};
    l->t = toolcall_text_new(tools, 0, &sink);
}

/* Everything emitted so far, rendered. */
static const char *live_seen(live *l, buf *b)
{
    buf_reset(b);
    rec_render(&l->r, b);
    return b->data ? b->data : "";
}

static void live_close(live *l)
{
    toolcall_text_free(l->t);
    rec_free(&l->r);
}

TEST(toolcall_text_streams_text_at_once)
{
    cJSON *tools = cJSON_Parse(tools_json);
    live l;
    buf b;
    buf_init(&b, 0);
    live_open(&l, tools);
    REQUIRE(l.t != NULL);
    CHECK(feed_s(l.t, "Hello wor") == 0);
    CHECK_STR(live_seen(&l, &b), "text \"Hello wor\"\n");
    /* a possible marker is held, and released once it cannot be one */
    CHECK(feed_s(l.t, "ld <tool") == 0);
    CHECK_STR(live_seen(&l, &b), "text \"Hello world\"\n");
    CHECK(feed_s(l.t, "box>") == 0);
    CHECK_STR(live_seen(&l, &b), "text \"Hello world <toolbox>\"\n");
    /* a whitespace run is held until what follows is known */
    CHECK(feed_s(l.t, "\n\n<tool_call>{\"name\":\"Bash\",") == 0);
    CHECK_STR(live_seen(&l, &b), "text \"Hello world <toolbox>\"\n");
    CHECK(feed_s(l.t, "\"arguments\":{\"command\":\"ls\"}}</tool_call>") == 0);
    CHECK_STR(live_seen(&l, &b),
              "text \"Hello world <toolbox>\"\ntool Bash {\"command\":\"ls\"}\n");
    CHECK(toolcall_text_calls(l.t) == 1);
    CHECK(feed_s(l.t, "\nDone") == 0);
    CHECK(toolcall_text_finish(l.t) == 0);
    CHECK_STR(live_seen(&l, &b),
              "text \"Hello world <toolbox>\"\ntool Bash {\"command\":\"ls\"}\ntext \"Done\"\n");
    CHECK(toolcall_text_finish(l.t) == 0);
    CHECK(feed_s(l.t, "x") == TOOLCALL_TEXT_EDONE);
    live_close(&l);

    /* each: fed piece by piece, with what has come out after each piece */
    static const struct {
        int tools;
        const char *feed[2], *seen[2];
    } cases[] = {
        /* thinking streams too, holding only a possible </think> */
        {1,
         {"<think>abc</th", "ink>ok"},
         {"thinking \"abc\"\n", "thinking \"abc\"\ntext \"ok\"\n"}},
        /* a leading { is held only while it can still be a call */
        {1, {"{", " x"}, {"", "text \"{ x\"\n"}},
        /* <tool_call> followed by prose gives up at the first non-name byte */
        {1, {"a <tool_call> tag"}, {"text \"a <tool_call> tag\"\n"}},
        /* recovery off: markers are text at once */
        {0,
         {"<tool_call>{\"name\":\"Bash\"}"},
         {"text \"<tool_call>{\\\"name\\\":\\\"Bash\\\"}\"\n"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        live_open(&l, cases[i].tools ? tools : NULL);
        for (int k = 0; k < 2 && cases[i].feed[k]; k++) {
            CHECK(feed_s(l.t, cases[i].feed[k]) == 0);
            CHECK_STR(live_seen(&l, &b), cases[i].seen[k]);
        }
        live_close(&l);
    }

    buf_free(&b);
    cJSON_Delete(tools);
}

TEST(toolcall_text_callback_failure_and_options)
{
    cJSON *tools = cJSON_Parse(tools_json);
    rec r = {0};
    r.fail_after = 2;
    toolcall_text_sink sink = {on_text, on_think, on_tool, &r};
    toolcall_text *t = toolcall_text_new(tools, 0, &sink);
    REQUIRE(t != NULL);
    CHECK(toolcall_text_feed(t, "a<think>b</think>c", 18) == -42);
    CHECK(toolcall_text_feed(t, "d", 1) == TOOLCALL_TEXT_EDONE);
    CHECK(toolcall_text_finish(t) == TOOLCALL_TEXT_EDONE);
    toolcall_text_free(t);
    rec_free(&r);

    toolcall_text_sink bad = {NULL, NULL, on_tool, NULL};
    CHECK(toolcall_text_new(tools, 0, &bad) == NULL);
    toolcall_text_free(NULL);

    /* set_think only before the first feed */
    toolcall_text_sink s2 = {on_text, NULL, on_tool, &r};
    t = toolcall_text_new(tools, 0, &s2);
    CHECK(toolcall_text_set_think(t, TOOLCALL_TEXT_THINK_OPEN, 0) == 0);
    CHECK(toolcall_text_feed(t, "why</think>so", 13) == 0);
    CHECK(toolcall_text_set_think(t, TOOLCALL_TEXT_THINK_TAGS, 0) == TOOLCALL_TEXT_EDONE);
    CHECK(toolcall_text_finish(t) == 0);
    toolcall_text_stats st;
    toolcall_text_get_stats(t, &st);
    CHECK(st.thinking == 3 && st.text == 2); /* NULL thinking sink: dropped, counted */
    toolcall_text_free(t);
    rec_free(&r);
    cJSON_Delete(tools);
}

TEST(toolcall_text_max_buffer)
{
    cJSON *tools = cJSON_Parse(tools_json);
    /* a call larger than max_buffer goes out as text, all of it */
    buf in, got;
    buf_init(&in, 0);
    buf_init(&got, 0);
    buf_appends(&in,
                "<tool_call>{\"name\":\"Write\",\"arguments\":{\"file_path\":\"x\",\"content\":\"");
    for (int k = 0; k < 300; k++)
        buf_appends(&in, "<think>{[");
    buf_appends(&in, "\"}}</tool_call>after");
    opts o = {tools, 256, TOOLCALL_TEXT_THINK_TAGS};
    toolcall_text_stats st;
    int ncalls = -1;
    CHECK(run_split(&o, in.data, in.len, NULL, 0, &got, &st, &ncalls) == 0);
    CHECK(ncalls == 0);
    buf want;
    buf_init(&want, 0);
    buf_appends(&want, "text ");
    json_str(&want, &in);
    buf_appends(&want, "\n");
    CHECK_STR(got.data, want.data);
    buf_reset(&got);
    CHECK(run_bytes(&o, in.data, in.len, &got) == 0);
    CHECK_STR(got.data, want.data);
    /* the same with room enough is one call */
    o.max = 0;
    buf_reset(&got);
    CHECK(run_split(&o, in.data, in.len, NULL, 0, &got, &st, &ncalls) == 0);
    CHECK(ncalls == 1);
    CHECK(strncmp(got.data ? got.data : "", "tool Write ", 11) == 0);
    buf_free(&in);
    buf_free(&got);
    buf_free(&want);
    cJSON_Delete(tools);
}

/* ---- brute force -------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static const char *frags[] = {
    "<tool_call>", "</tool_call>", "<function=Write>", "<function=Bash>", "<parameter=content>",
    "<parameter=timeout>", "</parameter>", "</function>", "[TOOL_CALLS]", "[ARGS]", "[CALL_ID]",
    "<think>", "</think>", "```", "```json\n", "`", "``", "{", "}", "[", "]", "\"", "'", "\\", ":",
    ",", "{\"name\":\"Bash\",\"arguments\":{\"command\":\"ls\"}}",
    "{\"name\":\"Write\",\"parameters\":{\"file_path\":\"a\",\"content\":\"x\"}}", "<arg_key>",
    "</arg_key>", "<arg_value>", "</arg_value>", "<|python_tag|>", "\n", " ", "\n\n", "Write",
    "Bash", "Bash\n", "<", "[", "<tool_", "</thi", "<func", "[TOOL_", "\"name\"", "\"arguments\"",
    "30000", "true", "hello world", "\xc3\xa9", "\xe4\xb8\x96", "\xff", "\0",
    /* whole calls of each format, so that recognition paths are hit too */
    "<tool_call>\n{\"name\": \"Bash\", \"arguments\": {\"command\": \"ls\"}}\n</tool_call>",
    "<tool_call>\n<function=Write>\n<parameter=file_path>\na\n</"
    "parameter>\n<parameter=content>\nx\n"
    "</parameter>\n</function>\n</tool_call>",
    "<tool_call>Bash\n<arg_key>command</arg_key>\n<arg_value>ls</arg_value>\n</tool_call>",
    "[TOOL_CALLS]Bash[ARGS]{\"command\": \"pwd\"}",
    "[TOOL_CALLS][{\"name\":\"Bash\",\"arguments\":{}}]",
    "```json\n{\"name\": \"Bash\", \"arguments\": {\"command\": \"ls\"}}\n```",
    "<|python_tag|>{\"name\": \"Bash\", \"parameters\": {}}", "<think>hm</think>"};

static void random_input(buf *b)
{
    buf_reset(b);
    int parts = (int)(test_rand(&rng_state) % 40);
    for (int k = 0; k < parts; k++) {
        uint32_t r = test_rand(&rng_state) % 10;
        if (r < 7) {
            const char *f = frags[test_rand(&rng_state) % (sizeof frags / sizeof frags[0])];
            buf_append(b, f, *f ? strlen(f) : 1);
        } else {
            int m = (int)(test_rand(&rng_state) % 8);
            for (int j = 0; j < m; j++) {
                char c = (char)(test_rand(&rng_state) & 0xff);
                buf_append(b, &c, 1);
            }
        }
    }
}

/* Concatenated text events (not merged-rendered: raw bytes). */
static int text_only(const opts *o, const char *p, size_t n, buf *out, toolcall_text_stats *st)
{
    rec r = {0};
    toolcall_text_sink sink = {on_text, on_think, on_tool, &r};
    toolcall_text *t = toolcall_text_new(o->tools, o->max, &sink);
    if (o->think) toolcall_text_set_think(t, o->think, 0);
    int rc = toolcall_text_feed(t, p, n);
    if (!rc) rc = toolcall_text_finish(t);
    toolcall_text_get_stats(t, st);
    for (int k = 0; k < r.n; k++)
        if (r.v[k].kind == 0) buf_append(out, r.v[k].a.data, r.v[k].a.len);
    toolcall_text_free(t);
    rec_free(&r);
    return rc;
}

TEST(toolcall_text_brute_force)
{
    cJSON *tools = cJSON_Parse(tools_json);
    buf in, a, bb;
    buf_init(&in, 0);
    buf_init(&a, 0);
    buf_init(&bb, 0);
    static const size_t maxes[] = {64, 97, 256, 4096, 0};
    const char *env_iters = getenv("TC_ITERS");
    int iters = env_iters ? (int)strtol(env_iters, NULL, 10) : 4000, bad_split = 0, bad_acct = 0,
        bad_pass = 0;
    for (int it = 0; it < iters; it++) {
        random_input(&in);
        opts o = {tools, maxes[test_rand(&rng_state) % 5],
                  (toolcall_text_think)(test_rand(&rng_state) % 4)};
        if (test_rand(&rng_state) % 8 == 0) o.tools = NULL;
        toolcall_text_stats st;
        buf_reset(&a);
        if (run_split(&o, in.data, in.len, NULL, 0, &a, &st, NULL)) bad_acct++;
        /* random splits give the same events */
        size_t cuts[16], nc = 0;
        if (in.len > 1) {
            nc = test_rand(&rng_state) % 16;
            for (size_t k = 0; k < nc; k++)
                cuts[k] = 1 + test_rand(&rng_state) % (in.len - 1);
            for (size_t k = 1; k < nc; k++) /* sort */
                for (size_t j = k; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                    size_t x = cuts[j];
                    cuts[j] = cuts[j - 1];
                    cuts[j - 1] = x;
                }
        }
        buf_reset(&bb);
        if (run_split(&o, in.data, in.len, cuts, nc, &bb, &st, NULL)) bad_acct++;
        if (strcmp(a.data ? a.data : "", bb.data ? bb.data : "") != 0) {
            if (bad_split++ < 3) {
                fprintf(stderr, "  split differs (max %zu think %d):\n  whole:\n%s  split:\n%s",
                        o.max, o.think, a.data ? a.data : "", bb.data ? bb.data : "");
            }
        }
        if (it % 7 == 0) {
            buf_reset(&bb);
            if (run_bytes(&o, in.data, in.len, &bb) ||
                strcmp(a.data ? a.data : "", bb.data ? bb.data : ""))
                bad_split++;
        }
        /* nothing recognised: the text is the input, byte for byte */
        buf_reset(&bb);
        text_only(&o, in.data, in.len, &bb, &st);
        if (st.consumed == 0 && st.thinking == 0 &&
            (bb.len != in.len || (in.len && memcmp(bb.data, in.data, in.len))))
            bad_pass++;
        /* recovery and think tags off: always the input */
        opts off = {NULL, o.max, TOOLCALL_TEXT_THINK_OFF};
        buf_reset(&bb);
        text_only(&off, in.data, in.len, &bb, &st);
        if (bb.len != in.len || (in.len && memcmp(bb.data, in.data, in.len))) bad_pass++;
    }
    CHECK(bad_split == 0);
    CHECK(bad_acct == 0);
    CHECK(bad_pass == 0);
    buf_free(&in);
    buf_free(&a);
    buf_free(&bb);
    cJSON_Delete(tools);
}
