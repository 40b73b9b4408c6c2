/*
 * fuzz_toolcall: text tool-call recovery (src/toolcall_text.c, which repairs
 * arguments with src/toolargs.c) on arbitrary content text.
 *
 * Input: a 6-byte header, then the model's content text.
 *   hdr[0] & 3   think mode: TAGS, OPEN, LEAD, OFF
 *   hdr[0] & 4   no tools (recovery off)
 *   hdr[0] & 8   sink.thinking NULL (reasoning dropped)
 *   hdr[1]       max_buffer: 0 → default (1 MiB), else hdr[1] * 8 (values
 *                under 64 test the clamp)
 *   hdr[2]       lead_max for THINK_LEAD (0 → max_buffer)
 *   hdr[3]       seed for the random-piece feed
 *   hdr[4..5]    cut position (little endian, mod len+1) for a two-piece feed
 * Checks (toolcall_text.h): events, after merging adjacent text and adjacent
 * thinking, are the same for the whole, two-piece, random-piece and
 * byte-at-a-time feeds; accounting: held 0 after finish and fed = text +
 * thinking + consumed, text/thinking equal the bytes passed to the sink;
 * sink.text never gets 0 bytes; a tool event names a declared tool and its
 * arguments are a compact JSON object; calls() counts them; without tools
 * and with THINK_OFF the text comes out byte for byte; a failing callback
 * stops the parser (its value returned, then TOOLCALL_TEXT_EDONE); feeding
 * after finish and set_think after a feed return TOOLCALL_TEXT_EDONE; a
 * second finish does nothing.
 */
#include "toolcall_text.h"
#include "fuzz_util.h"

static const char tools_json[] =
    "[{\"name\":\"Write\",\"input_schema\":{\"type\":\"object\",\"properties\":{"
    "\"file_path\":{\"type\":\"string\"},\"content\":{\"type\":\"string\"}},"
    "\"required\":[\"file_path\",\"content\"]}},"
    "{\"name\":\"Bash\",\"input_schema\":{\"type\":\"object\",\"properties\":{"
    "\"command\":{\"type\":\"string\"},\"timeout\":{\"type\":\"number\"}},"
    "\"required\":[\"command\"]}},"
    "{\"name\":\"Edit\",\"input_schema\":{\"type\":\"object\",\"properties\":{"
    "\"file_path\":{\"type\":\"string\"},\"old_string\":{\"type\":\"string\"},"
    "\"new_string\":{\"type\":\"string\"},\"replace_all\":{\"type\":\"boolean\"}}}},"
    FUZZ_TOOL_READ "," FUZZ_TOOL_TODOWRITE ","
    "{\"name\":\"Mixed\",\"input_schema\":{\"type\":\"object\",\"properties\":{"
    "\"n\":{\"type\":[\"integer\",\"string\"]},\"o\":{\"anyOf\":[{\"type\":\"object\"},"
    "{\"type\":\"null\"}]},\"f\":{\"type\":\"boolean\"},\"a\":{\"type\":\"array\","
    "\"items\":{\"type\":\"number\"}}}}},"
    "{\"name\":\"NoSchema\"}]";

static cJSON *tools;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    tools = cJSON_Parse(tools_json);
    return tools ? 0 : -1;
}

typedef struct rec {
    buf log;  /* merged events: T<len>:text / H<len>:thinking / C<name> <args> */
    int last; /* kind of the last log entry: 'T', 'H', 'C' or 0 */
    size_t last_hdr, last_len;
    size_t text_bytes, think_bytes;
    int ncalls, ncb, fail_at;
    const cJSON *tools;
} rec;

/* Append p to the log, merging with the previous entry of the same kind.
 * The entry header is fixed-width so it can be rewritten in place. */
static void rec_piece(rec *r, int kind, const char *p, size_t n)
{
    if (r->last != kind) {
        r->last_hdr = r->log.len;
        r->last_len = 0;
        if (buf_appendf(&r->log, "\n%c%020zu:", kind, (size_t)0)) abort();
        r->last = kind;
    }
    if (buf_append(&r->log, p, n)) abort();
    r->last_len += n;
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%020zu", r->last_len);
    memcpy(r->log.data + r->last_hdr + 2, tmp, 20);
}

static int on_text(void *ud, const char *p, size_t n)
{
    rec *r = ud;
    FUZZ_CHECK(n > 0, "sink.text called with 0 bytes");
    FUZZ_CHECK(p, "sink.text called with NULL");
    if (r->fail_at && ++r->ncb >= r->fail_at) return -42;
    r->text_bytes += n;
    rec_piece(r, 'T', p, n);
    return 0;
}

static int on_think(void *ud, const char *p, size_t n)
{
    rec *r = ud;
    FUZZ_CHECK(p || n == 0, "sink.thinking called with NULL");
    if (r->fail_at && ++r->ncb >= r->fail_at) return -42;
    r->think_bytes += n;
    if (n) rec_piece(r, 'H', p, n);
    return 0;
}

static int on_tool(void *ud, const char *name, size_t nl, const char *args, size_t al)
{
    rec *r = ud;
    if (r->fail_at && ++r->ncb >= r->fail_at) return -42;
    FUZZ_CHECK(r->tools, "tool call recovered without tools");
    /* the declared tool's exact name */
    const cJSON *t;
    int found = 0;
    cJSON_ArrayForEach(t, r->tools)
    {
        const cJSON *tn = cJSON_GetObjectItemCaseSensitive(t, "name");
        if (cJSON_IsString(tn) && strlen(tn->valuestring) == nl &&
            memcmp(tn->valuestring, name, nl) == 0)
            found = 1;
    }
    FUZZ_CHECK(found, "tool call to undeclared tool '%.*s'", (int)nl, name);
    FUZZ_CHECK(args && al > 0, "empty args");
    fuzz_check_compact_object("tool args", args, al);
    r->ncalls++;
    r->last = 'C';
    if (buf_appendf(&r->log, "\nC%.*s ", (int)nl, name) || buf_append(&r->log, args, al)) abort();
    return 0;
}

typedef struct cfg {
    const cJSON *tools;
    size_t max_buffer, lead_max;
    toolcall_text_think think;
    int no_thinking_sink;
} cfg;

/* Feed p in pieces ending at cuts[0..ncuts) then len, finish; fill r.
 * fail_at > 0: the fail_at-th callback fails. Returns the first nonzero
 * return of feed/finish (0 if none). */
static int run(const cfg *c, const char *p, size_t len, const size_t *cuts, size_t ncuts, rec *r,
               int fail_at)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->log, 0);
    r->tools = c->tools;
    r->fail_at = fail_at;
    toolcall_text_sink sink = {on_text, c->no_thinking_sink ? NULL : on_think, on_tool, r};
    toolcall_text *t = toolcall_text_new(c->tools, c->max_buffer, &sink);
    if (!t) abort();
    if (c->think != TOOLCALL_TEXT_THINK_TAGS || c->lead_max)
        FUZZ_CHECK(toolcall_text_set_think(t, c->think, c->lead_max) == 0, "set_think failed");
    int rc = 0;
    size_t at = 0;
    for (size_t k = 0; k <= ncuts; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        int r1 = toolcall_text_feed(t, p + at, end - at);
        if (rc) FUZZ_CHECK(r1 == TOOLCALL_TEXT_EDONE, "feed after a failure returned %d", r1);
        if (!rc) rc = r1;
        at = end;
        if (k == 0 && len)
            FUZZ_CHECK(toolcall_text_set_think(t, TOOLCALL_TEXT_THINK_OFF, 0) ==
                           TOOLCALL_TEXT_EDONE,
                       "set_think after a feed did not return EDONE");
    }
    int rf = toolcall_text_finish(t);
    if (rc) FUZZ_CHECK(rf == TOOLCALL_TEXT_EDONE, "finish after a failure returned %d", rf);
    if (!rc) rc = rf;
    FUZZ_CHECK(rc == 0 || rc == -42, "unexpected return %d", rc);

    toolcall_text_stats st;
    toolcall_text_get_stats(t, &st);
    if (!rc) {
        size_t before = r->log.len;
        FUZZ_CHECK(toolcall_text_finish(t) == 0 && r->log.len == before,
                   "second finish did something");
        FUZZ_CHECK(toolcall_text_feed(t, "x", 1) == TOOLCALL_TEXT_EDONE,
                   "feed after finish did not return EDONE");
        FUZZ_CHECK(st.held == 0, "held %zu after finish", st.held);
        FUZZ_CHECK(st.fed == len, "fed %zu of %zu", st.fed, len);
        FUZZ_CHECK(st.text + st.thinking + st.consumed == st.fed,
                   "accounting: text %zu + thinking %zu + consumed %zu != fed %zu", st.text,
                   st.thinking, st.consumed, st.fed);
        FUZZ_CHECK(st.text == r->text_bytes, "stats.text %zu, sink got %zu", st.text,
                   r->text_bytes);
        if (!c->no_thinking_sink)
            FUZZ_CHECK(st.thinking == r->think_bytes, "stats.thinking %zu, sink got %zu",
                       st.thinking, r->think_bytes);
        FUZZ_CHECK(toolcall_text_calls(t) == r->ncalls, "calls() %d, sink got %d",
                   toolcall_text_calls(t), r->ncalls);
    } else {
        FUZZ_CHECK(toolcall_text_feed(t, "x", 1) == TOOLCALL_TEXT_EDONE,
                   "feed after a failure did not return EDONE");
    }
    toolcall_text_free(t);
    return rc;
}

static void same(const rec *a, const rec *b, const char *what)
{
    if (a->log.len == b->log.len && (!a->log.len || !memcmp(a->log.data, b->log.data, a->log.len)))
        return;
    fuzz_show_diff("whole", &a->log, what, &b->log);
    FUZZ_CHECK(0, "toolcall_text events depend on the split (%s)", what);
}

FUZZ_TARGET(6)
{
    cfg c;
    c.think = (toolcall_text_think)(in->hdr[0] & 3);
    c.tools = (in->hdr[0] & 4) ? NULL : tools;
    c.no_thinking_sink = (in->hdr[0] & 8) != 0;
    c.max_buffer = (size_t)in->hdr[1] * 8;
    c.lead_max = c.think == TOOLCALL_TEXT_THINK_LEAD ? in->hdr[2] : 0;

    rec whole, two, many, bytes;
    FUZZ_CHECK(run(&c, p, len, NULL, 0, &whole, 0) == 0, "whole run failed");

    size_t cut = fuzz_u16(in, 4) % (len + 1);
    FUZZ_CHECK(run(&c, p, len, &cut, 1, &two, 0) == 0, "split run failed");
    same(&whole, &two, "two pieces");
    buf_free(&two.log);

    size_t ncuts,
           *cuts = fuzz_random_cuts(len, 0x5eedu + in->hdr[3], 1 + in->hdr[3] % 32, &ncuts);
    FUZZ_CHECK(run(&c, p, len, cuts, ncuts, &many, 0) == 0, "random-piece run failed");
    same(&whole, &many, "random pieces");
    buf_free(&many.log);

    if (len <= 2048) {
        for (ncuts = 0; ncuts + 1 < len; ncuts++) cuts[ncuts] = ncuts + 1;
        FUZZ_CHECK(run(&c, p, len, cuts, ncuts, &bytes, 0) == 0, "byte-at-a-time run failed");
        same(&whole, &bytes, "one byte at a time");
        buf_free(&bytes.log);
    }
    free(cuts);

    if (!c.tools && c.think == TOOLCALL_TEXT_THINK_OFF) {
        FUZZ_CHECK(whole.text_bytes == len && whole.ncalls == 0 && whole.think_bytes == 0,
                   "recovery off: text not passed through");
        if (len)
            FUZZ_CHECK(whole.log.len == len + 23 && memcmp(whole.log.data + 23, p, len) == 0,
                       "recovery off: text changed");
    }
    if (!c.tools) FUZZ_CHECK(whole.ncalls == 0, "calls without tools");

    /* a failing callback: the fail_at-th of the whole run's callbacks */
    int total = 0;
    {
        rec count;
        memset(&count, 0, sizeof count);
        /* count callbacks of a whole run (fail_at huge never triggers) */
        run(&c, p, len, NULL, 0, &count, 0x7fffffff);
        total = count.ncb;
        buf_free(&count.log);
    }
    if (total > 0) {
        rec f;
        int k = 1 + (int)(in->hdr[3] % (unsigned)total);
        FUZZ_CHECK(run(&c, p, len, NULL, 0, &f, k) == -42, "callback failure %d/%d not returned",
                   k, total);
        buf_free(&f.log);
    }
    buf_free(&whole.log);
    return 0;
}
