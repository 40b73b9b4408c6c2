/*
 * fuzz_request: the request translator (src/core/xlate_request.c) on arbitrary
 * bytes: xlate_request_build and xlate_request_count_tokens.
 *
 * The whole input is the client's body (golden requests are seeds as they
 * are). Checks, for two option sets:
 *   - determinism: building twice gives identical bytes and info, also when
 *     `out` already holds bytes (offsets in info are relative to the start);
 *   - on success the output is one JSON object with "messages" last, the
 *     info offsets lie inside it (messages_off <= system_end <= length, the
 *     two id_slot characters are a space-padded number), estimate >= 1;
 *   - on failure `out` is untouched, info zeroed and err says why;
 *   - count_tokens succeeds whenever build does (it does not need
 *     max_tokens) with the same estimate;
 *   - a build through the tools cache (xlate_tools_cache, kept across
 *     inputs) gives the bytes and estimate a build without it gives.
 * The output buffer is capped (OUT_MAX) so memory stays bounded; ETOOBIG is
 * then an expected answer.
 */
#include "xlate_request.h"
#include "xlate_tools.h"
#include "fuzz_util.h"

#define OUT_MAX ((size_t)1 << 20)

static const char prefix[] = "PREFIX-BYTES";

static void info_eq(const xlate_request_info *a, const xlate_request_info *b)
{
    FUZZ_CHECK(a->stream == b->stream && strcmp(a->model, b->model) == 0 &&
                   a->input_estimate == b->input_estimate && a->kind_hash == b->kind_hash &&
                   a->first_hash == b->first_hash && a->messages_off == b->messages_off &&
                   a->system_end == b->system_end && a->id_slot_off == b->id_slot_off,
               "info differs between two builds (or with a non-empty out)");
    FUZZ_CHECK(!a->tools == !b->tools, "info.tools differs");
    if (a->tools) {
        /* printed, not cJSON_Compare: that is false for an object with a
         * duplicate key even against itself */
        char *pa = cJSON_PrintUnformatted(a->tools), *pb = cJSON_PrintUnformatted(b->tools);
        FUZZ_CHECK(pa && pb && strcmp(pa, pb) == 0, "info.tools differs");
        cJSON_free(pa);
        cJSON_free(pb);
    }
}

static int info_zero(const xlate_request_info *i)
{
    static const xlate_request_info z;
    return memcmp(i, &z, sizeof z) == 0;
}

static void one(const char *body, size_t len, const xlate_request_opts *o)
{
    buf a, b;
    xlate_request_info ia, ib;
    char ea[256], eb[256];
    buf_init(&a, OUT_MAX);
    buf_init(&b, OUT_MAX + sizeof prefix - 1);
    if (buf_append(&b, prefix, sizeof prefix - 1)) abort();
    memset(ea, 'x', sizeof ea);

    int ra = xlate_request_build(body, len, o, &a, &ia, ea, sizeof ea);
    int rb = xlate_request_build(body, len, o, &b, &ib, eb, sizeof eb);
    FUZZ_CHECK(memchr(ea, '\0', sizeof ea), "err not NUL-terminated");
    FUZZ_CHECK(ra == 0 || ra == XLATE_EINVALID || ra == XLATE_ETOOBIG, "unexpected return %d", ra);
    FUZZ_CHECK(ra == rb, "two builds returned %d and %d", ra, rb);
    FUZZ_CHECK(b.len >= sizeof prefix - 1 && memcmp(b.data, prefix, sizeof prefix - 1) == 0,
               "the bytes already in out were changed");
    if (ra) {
        FUZZ_CHECK(a.len == 0 && b.len == sizeof prefix - 1, "failed build left output");
        FUZZ_CHECK(info_zero(&ia) && info_zero(&ib), "failed build left info");
        FUZZ_CHECK(ea[0], "failed build (%d) without a message", ra);
        FUZZ_CHECK(strcmp(ea, eb) == 0, "error messages differ: %s | %s", ea, eb);
        goto out;
    }
    if (a.len != b.len - (sizeof prefix - 1) ||
        memcmp(a.data, b.data + sizeof prefix - 1, a.len) != 0) {
        buf bb;
        buf_init(&bb, 0);
        buf_append(&bb, b.data + sizeof prefix - 1, b.len - (sizeof prefix - 1));
        fuzz_show_diff("first", &a, "second", &bb);
        buf_free(&bb);
        FUZZ_CHECK(0, "the same body gave different bytes");
    }
    info_eq(&ia, &ib);

    cJSON *j = cJSON_ParseWithLength(a.data, a.len);
    FUZZ_CHECK(cJSON_IsObject(j), "output is not a JSON object: %.300s", a.data);
    const cJSON *last = j->child;
    while (last && last->next)
        last = last->next;
    FUZZ_CHECK(last && last->string && strcmp(last->string, "messages") == 0 && cJSON_IsArray(last),
               "\"messages\" is not the last member");
    const cJSON *m;
    cJSON_ArrayForEach(m, last)
    {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        FUZZ_CHECK(cJSON_IsString(role), "message without a role");
    }
    cJSON_Delete(j);

    FUZZ_CHECK(ia.messages_off <= ia.system_end && ia.system_end <= a.len,
               "offsets out of range: messages_off %zu system_end %zu len %zu", ia.messages_off,
               ia.system_end, a.len);
    FUZZ_CHECK(ia.messages_off >= 13 &&
                   memcmp(a.data + ia.messages_off - 12, "\"messages\":[", 12) == 0,
               "messages_off %zu does not follow \"messages\":[", ia.messages_off);
    FUZZ_CHECK(ia.system_end == ia.messages_off || a.data[ia.messages_off] == '{',
               "system_end without a message at messages_off");
    if (o->use_id_slot) {
        FUZZ_CHECK(ia.id_slot_off > 0 && ia.id_slot_off + 2 <= a.len, "id_slot_off %zu",
                   ia.id_slot_off);
        char c0 = a.data[ia.id_slot_off], c1 = a.data[ia.id_slot_off + 1];
        FUZZ_CHECK((c0 == ' ' || (c0 >= '0' && c0 <= '9')) && c1 >= '0' && c1 <= '9',
                   "id_slot characters are '%c%c'", c0, c1);
    } else {
        FUZZ_CHECK(ia.id_slot_off == 0, "id_slot_off set without use_id_slot");
    }
    FUZZ_CHECK(ia.input_estimate >= 1, "estimate %ld", ia.input_estimate);

    long tokens = -1;
    char et[256];
    int rt = xlate_request_count_tokens(body, len, &tokens, et, sizeof et);
    FUZZ_CHECK(rt == 0 || (rt == XLATE_ETOOBIG && o->model),
               "count_tokens failed (%d: %s) where build succeeded", rt, et);
    /* text-only: images are placeholder text, not counted as images */
    if (rt == 0 && !o->model && !o->use_id_slot && !o->cache_prompt && !o->text_only)
        FUZZ_CHECK(tokens == ia.input_estimate, "count_tokens %ld, build estimate %ld", tokens,
                   ia.input_estimate);
    /* a text-only backend never gets an image part */
    if (o->text_only)
        FUZZ_CHECK(!memmem(a.data + ia.messages_off, a.len - ia.messages_off, "\"image_url\"", 11),
                   "image_url sent");
out:
    xlate_request_info_free(&ia);
    xlate_request_info_free(&ib);
    buf_free(&a);
    buf_free(&b);
}

/* The translated tools kept across inputs (xlate_tools_cache, one for the
 * whole run, so inputs evict and hit each other's entries) give exactly the
 * bytes and estimate a build without it gives. */
static void through_cache(const char *body, size_t len, const xlate_request_opts *o)
{
    static xlate_tools_cache *tc;
    if (!tc && !(tc = xlate_tools_cache_new())) abort();
    xlate_request_opts co = *o;
    co.tools_cache = tc;
    buf a, b;
    xlate_request_info ia, ib;
    char ea[256], eb[256];
    buf_init(&a, OUT_MAX);
    buf_init(&b, OUT_MAX);
    int ra = xlate_request_build(body, len, o, &a, &ia, ea, sizeof ea);
    int rb = xlate_request_build(body, len, &co, &b, &ib, eb, sizeof eb);
    FUZZ_CHECK(ra == rb || ra == XLATE_ETOOBIG || rb == XLATE_ETOOBIG,
               "without the tools cache %d, through it %d", ra, rb);
    if (ra == 0 && rb == 0) {
        if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
            fuzz_show_diff("without the cache", &a, "through it", &b);
        FUZZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
                   "the tools cache changed the bytes");
        FUZZ_CHECK(ia.input_estimate == ib.input_estimate, "the tools cache changed the estimate");
    }
    if (ra == 0) xlate_request_info_free(&ia);
    if (rb == 0) xlate_request_info_free(&ib);
    buf_free(&a);
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    static const xlate_request_opts plain = {.model = NULL};
    static const xlate_request_opts full = {.model = "local-model",
                                            .max_tokens_cap = 4096,
                                            .cache_prompt = 1,
                                            .use_id_slot = 1,
                                            .id_slot = 7,
                                            .affinity_field = "user",
                                            .affinity_value = "ac-0123456789abcdef"};
    static const xlate_request_opts text_only = {.model = NULL, .text_only = 1};
    one(body, size, &plain);
    one(body, size, &full);
    one(body, size, &text_only);
    through_cache(body, size, &plain);

    /* count_tokens alone (no max_tokens needed): must not crash or leak */
    long tokens = -1;
    char err[128];
    int rc = xlate_request_count_tokens(body, size, &tokens, err, sizeof err);
    FUZZ_CHECK(rc == 0 ? tokens >= 1 : (rc < 0 && err[0]), "count_tokens %d tokens %ld", rc,
               tokens);
    /* NULL info and a zero-length err buffer are allowed */
    buf out;
    buf_init(&out, OUT_MAX);
    xlate_request_build(body, size, &full, &out, NULL, NULL, 0);
    buf_free(&out);
    return 0;
}
