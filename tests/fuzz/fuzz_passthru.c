/*
 * fuzz_passthru: the pure parts of routing and pass-through on arbitrary
 * bytes: passthru's answer observer (src/passthru.c), and, when the input
 * is a JSON object, routes_facts, pool_prefix_hashes and passthru_rewrite.
 *
 * Input: a 2-byte header (cut position, little endian, mod len+1), then the
 * payload.
 * - Observer: fed whole, and in two pieces at the cut; the stats must be
 *   identical (an SSE stream's meaning does not depend on its split), and
 *   stop_reason, when set, is a NUL-terminated string within its buffer.
 * - JSON as a config file: routes_parse accepts it or says why in one line;
 *   an accepted table matches every request to a route whose targets name
 *   backends that exist.
 * - JSON: the facts' estimate is >= 0; prefix hashes are deterministic, at
 *   least 1 and never 0; the rewrite gives JSON that parses, with no
 *   billing-header block left in a "system" array, max_tokens within the cap
 *   when it is a number, and the model set.
 * - JSON, provenance (src/provenance.c) and server tools: after the claude
 *   rewrite no assistant thinking block has a foreign signature, after the
 *   local one none has a signature and no redacted_thinking is left; a
 *   second pass of either changes nothing (the rewrites are stable, so a
 *   growing conversation stays a growing request); after servertools_strip
 *   no server tool is left; after toolsearch_localize no deferred tool nor
 *   tool_reference is left, and a second pass changes nothing.
 */
#include "passthru.h"
#include "pool.h"
#include "provenance.h"
#include "routes.h"
#include "servertools.h"
#include "toolsearch.h"
#include "fuzz_util.h"

static void observe(const char *p, size_t len, size_t cut, passthru_obs *o)
{
    passthru_obs_init(o, 4096);
    passthru_obs_feed(o, p, cut);
    passthru_obs_feed(o, p + cut, len - cut);
}

static void same_stats(const passthru_obs *a, const passthru_obs *b)
{
    FUZZ_CHECK(
        a->st.input_tokens == b->st.input_tokens && a->st.cached_tokens == b->st.cached_tokens &&
            a->st.output_tokens == b->st.output_tokens && a->st.usage_known == b->st.usage_known &&
            a->st.first_content == b->st.first_content && a->error == b->error,
        "observer stats depend on the split");
    FUZZ_CHECK((a->st.stop_reason == NULL) == (b->st.stop_reason == NULL), "stop_reason differs");
    if (a->st.stop_reason) {
        FUZZ_CHECK(memchr(a->stop, 0, sizeof a->stop) != NULL, "stop_reason not terminated");
        FUZZ_CHECK(strcmp(a->st.stop_reason, b->st.stop_reason) == 0, "stop_reason differs");
    }
}

static void json_checks(const char *p, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(p, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return;
    }
    route_facts f;
    routes_facts(root, 0, 1, &f);
    FUZZ_CHECK(f.est_tokens >= 0 && f.model != NULL, "bad facts");
    static routes rt;
    char err[512] = "";
    const cJSON *rj = cJSON_GetObjectItemCaseSensitive(root, "routes");
    int rc = routes_parse(&rt, cJSON_GetObjectItemCaseSensitive(root, "backends"), rj, 0, NULL,
                          "fuzz.json", err, sizeof err);
    if (rc < 0) {
        FUZZ_CHECK(err[0] && !strchr(err, '\n'), "config error not one line: %s", err);
    } else if (rt.configured) {
        const route *r = routes_match(&rt, &f);
        FUZZ_CHECK(r && r->npool >= 1, "no route");
        for (int i = 0; i < r->npool; i++)
            FUZZ_CHECK(r->pool[i].backend >= 0 && r->pool[i].backend < rt.nbackends, "bad target");
        for (int i = 0; i < r->nfallback; i++)
            FUZZ_CHECK(r->fallback[i].backend >= 0 && r->fallback[i].backend < rt.nbackends,
                       "bad fallback");
    }
    uint64_t h1[64], h2[64];
    int n1 = pool_prefix_hashes(root, h1, 64), n2 = pool_prefix_hashes(root, h2, 64);
    FUZZ_CHECK(n1 >= 1 && n1 <= 64 && n1 == n2, "prefix hash count %d %d", n1, n2);
    for (int i = 0; i < n1; i++)
        FUZZ_CHECK(h1[i] == h2[i] && h1[i] != 0, "prefix hash %d", i);
    buf out;
    buf_init(&out, 1u << 24);
    passthru_opts o = {"fuzz-model", 100, 1};
    if (passthru_rewrite(root, &o, &out) == 0) {
        cJSON *j = cJSON_ParseWithLength(out.data ? out.data : "", out.len);
        FUZZ_CHECK(j != NULL, "rewrite is not JSON: %.*s", (int)(out.len > 200 ? 200 : out.len),
                   out.data ? out.data : "");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
        FUZZ_CHECK(cJSON_IsString(m) && strcmp(m->valuestring, "fuzz-model") == 0, "model not set");
        const cJSON *mt = cJSON_GetObjectItemCaseSensitive(j, "max_tokens");
        FUZZ_CHECK(!cJSON_IsNumber(mt) || mt->valuedouble <= 100 ||
                       mt->valuedouble != mt->valuedouble,
                   "max_tokens not clamped");
        const cJSON *sys = cJSON_GetObjectItemCaseSensitive(j, "system");
        for (const cJSON *b = cJSON_IsArray(sys) ? sys->child : NULL; b; b = b->next) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "text");
            FUZZ_CHECK(!cJSON_IsString(t) ||
                           strncmp(t->valuestring, "x-anthropic-billing-header:", 27) != 0,
                       "billing block left");
        }
        cJSON_Delete(j);
    }
    buf_free(&out);
    cJSON_Delete(root);
}

static void each_block(const cJSON *root, void (*fn)(const cJSON *blk))
{
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    for (const cJSON *m = cJSON_IsArray(msgs) ? msgs->child : NULL; m; m = m->next) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!cJSON_IsString(role) || strcmp(role->valuestring, "assistant") != 0 ||
            !cJSON_IsArray(c))
            continue;
        for (const cJSON *b = c->child; b; b = b->next)
            fn(b);
    }
}

static int is_type(const cJSON *b, const char *t)
{
    const cJSON *v = cJSON_IsObject(b) ? cJSON_GetObjectItemCaseSensitive(b, "type") : NULL;
    return cJSON_IsString(v) && strcmp(v->valuestring, t) == 0;
}

static void claude_ok(const cJSON *b)
{
    FUZZ_CHECK(!is_type(b, "thinking") || !provenance_foreign_signature(b),
               "foreign thinking left for the API");
}

static void local_ok(const cJSON *b)
{
    const cJSON *s = cJSON_IsObject(b) ? cJSON_GetObjectItemCaseSensitive(b, "signature") : NULL;
    FUZZ_CHECK(!is_type(b, "redacted_thinking"), "redacted thinking left for a local server");
    FUZZ_CHECK(!is_type(b, "thinking") || (cJSON_IsString(s) && !s->valuestring[0]),
               "a signature left for a local server");
}

/* No tool_reference naming a tool is left in any tool result. */
static void no_reference(const cJSON *root)
{
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    for (const cJSON *m = cJSON_IsArray(msgs) ? msgs->child : NULL; m; m = m->next) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
        for (const cJSON *b = cJSON_IsArray(c) ? c->child : NULL; b; b = b->next) {
            const cJSON *inner = cJSON_GetObjectItemCaseSensitive(b, "content");
            if (!is_type(b, "tool_result") || !cJSON_IsArray(inner)) continue;
            for (const cJSON *x = inner->child; x; x = x->next) {
                const cJSON *n = cJSON_GetObjectItemCaseSensitive(x, "tool_name");
                FUZZ_CHECK(!is_type(x, "tool_reference") || !cJSON_IsString(n),
                           "a tool_reference left after localize");
            }
        }
    }
}

static void provenance_checks(const char *p, size_t len)
{
    cJSON *a = cJSON_ParseWithLength(p, len), *b = cJSON_ParseWithLength(p, len);
    if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
        int needed = provenance_claude_needed(a), n = provenance_for_claude(a, NULL);
        if (n >= 0) {
            FUZZ_CHECK(needed == (n > 0), "provenance_claude_needed disagrees (%d, %d)", needed, n);
            each_block(a, claude_ok);
            FUZZ_CHECK(provenance_for_claude(a, NULL) == 0, "claude rewrite not stable");
        }
        if (provenance_for_local(b, NULL) >= 0) {
            each_block(b, local_ok);
            FUZZ_CHECK(provenance_for_local(b, NULL) == 0, "local rewrite not stable");
        }
        servertools_strip(b);
        servertools_info si;
        servertools_scan(b, &si);
        FUZZ_CHECK(si.server == 0, "server tool left after strip");
        if (toolsearch_localize(b) >= 0) {
            const cJSON *tools = cJSON_GetObjectItemCaseSensitive(b, "tools");
            for (const cJSON *t = cJSON_IsArray(tools) ? tools->child : NULL; t; t = t->next)
                FUZZ_CHECK(!toolsearch_deferred(t), "a deferred tool left after localize");
            no_reference(b);
            FUZZ_CHECK(toolsearch_localize(b) == 0, "toolsearch_localize not stable");
        }
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
}

FUZZ_TARGET(2)
{
    size_t cut = fuzz_u16(in, 0) % (len + 1);
    passthru_obs a, b;
    observe(p, len, len, &a);
    observe(p, len, cut, &b);
    same_stats(&a, &b);
    passthru_obs_free(&a);
    passthru_obs_free(&b);
    json_checks(p, len);
    provenance_checks(p, len);
    return 0;
}
