/* Tests for src/passthru.c: the anthropic-mode rewrite touches only the
 * billing block, max_tokens and the model; the observer reads usage and the
 * stop reason from an Anthropic stream however it is split. */
#include <stdlib.h>

#include "passthru.h"
#include "toolsearch.h"
#include "test.h"

/* passthru_rewrite of in with o: the malloc'd JSON, or NULL. */
static char *rewrite_with(const char *in, const passthru_opts *o)
{
    cJSON *j = cJSON_Parse(in);
    if (!j) return NULL;
    buf out;
    buf_init(&out, 0);
    int rc = passthru_rewrite(j, o, &out);
    cJSON_Delete(j);
    if (rc) {
        buf_free(&out);
        return NULL;
    }
    return out.data;
}

static char *rewrite(const char *in, const char *model, long cap)
{
    passthru_opts o = {model, cap, 0};
    return rewrite_with(in, &o);
}

TEST(passthru_rewrite_cache_stabilizing)
{
    char *s = rewrite("{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":32000,\"system\":[{\"type\":"
                      "\"text\",\"text\":\"x-anthropic-billing-header: cc_version=2.1.328.abc; "
                      "cch=9;\"},{\"type\":\"text\",\"text\":\"You are Claude Code.\"}],"
                      "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true}",
                      "qwen3", 4096);
    CHECK_STR(s, "{\"model\":\"qwen3\",\"max_tokens\":4096,\"system\":[{\"type\":\"text\",\"text\":"
                 "\"You are Claude Code.\"}],\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                 "\"stream\":true}");
    free(s);
    /* nothing to change: same JSON; a string system prompt is left alone */
    s = rewrite("{\"model\":\"m\",\"max_tokens\":100,\"system\":\"x-anthropic-billing-header: k\","
                "\"messages\":[]}",
                NULL, 4096);
    CHECK_STR(s, "{\"model\":\"m\",\"max_tokens\":100,\"system\":\"x-anthropic-billing-header: k\","
                 "\"messages\":[]}");
    free(s);
    /* no model in the request: added; no clamp */
    s = rewrite("{\"max_tokens\":100000,\"messages\":[]}", "m2", 0);
    CHECK_STR(s, "{\"max_tokens\":100000,\"messages\":[],\"model\":\"m2\"}");
    free(s);
}

static char *lead(const char *in)
{
    passthru_opts o = {.lead_system = 1};
    return rewrite_with(in, &o);
}

/* anthropic mode renders by volatility: the environment block (a
 * role:"system" message after the first user turn) leads that turn, in the
 * same form whether it came as blocks (turn 1) or a string (turn 2), so
 * turn 2 still extends turn 1 and a new session differs only from its
 * words on. */
TEST(passthru_rewrite_lead_system)
{
    char *t1 = lead("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
                    "\"<system-reminder>git</system-reminder>\"},{\"type\":\"text\",\"text\":"
                    "\"words\",\"cache_control\":{\"type\":\"ephemeral\"}}]},{\"role\":\"system\","
                    "\"content\":[{\"type\":\"text\",\"text\":\"env\",\"cache_control\":{\"type\":"
                    "\"ephemeral\"}}]}]}");
    CHECK_STR(t1, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
                  "\"<system-reminder>\\nenv\\n</system-reminder>\"},{\"type\":\"text\",\"text\":"
                  "\"<system-reminder>git</system-reminder>\"},{\"type\":\"text\",\"text\":"
                  "\"words\",\"cache_control\":{\"type\":\"ephemeral\"}}]}]}");
    char *t2 = lead("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
                    "\"<system-reminder>git</system-reminder>\"},{\"type\":\"text\",\"text\":"
                    "\"words\",\"cache_control\":{\"type\":\"ephemeral\"}}]},{\"role\":\"system\","
                    "\"content\":\"env\"},{\"role\":\"assistant\",\"content\":\"a\"},{\"role\":"
                    "\"system\",\"content\":\"later\"},{\"role\":\"user\",\"content\":\"q\"}]}");
    REQUIRE(t1 && t2);
    CHECK(strncmp(t1, t2, strlen(t1) - 3) == 0); /* up to the closing "]}]}" */
    /* a system message after the first assistant turn stays where it is */
    CHECK(strstr(t2, "{\"role\":\"system\",\"content\":\"later\"}") != NULL);
    free(t1);
    free(t2);
    /* a string user turn becomes blocks; system messages before it move too */
    char *s = lead("{\"messages\":[{\"role\":\"system\",\"content\":\"a\"},{\"role\":\"user\","
                   "\"content\":\"hi\"},{\"role\":\"system\",\"content\":[{\"type\":\"text\","
                   "\"text\":\"b\"},{\"type\":\"text\",\"text\":\"c\"}]}]}");
    CHECK_STR(s, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
                 "\"<system-reminder>\\na\\n</system-reminder>\"},{\"type\":\"text\",\"text\":"
                 "\"<system-reminder>\\nb\\nc\\n</system-reminder>\"},{\"type\":\"text\",\"text\":"
                 "\"hi\"}]}]}");
    free(s);
    /* nothing to lead: no user turn first, or a system message with an image */
    s = lead("{\"messages\":[{\"role\":\"system\",\"content\":\"a\"}]}");
    CHECK_STR(s, "{\"messages\":[{\"role\":\"system\",\"content\":\"a\"}]}");
    free(s);
    s = lead("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"system\","
             "\"content\":[{\"type\":\"image\"}]}]}");
    CHECK_STR(s, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"system\","
                 "\"content\":[{\"type\":\"image\"}]}]}");
    free(s);
    /* off (claude mode): untouched */
    s = rewrite("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"system\","
                "\"content\":\"env\"}]}",
                NULL, 0);
    CHECK_STR(s, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"system\","
                 "\"content\":\"env\"}]}");
    free(s);
}

static const char *STREAM =
    "event: message_start\ndata: "
    "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":"
    "\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"m\",\"usage\":{\"input_tokens\":"
    "12,\"cache_creation_input_tokens\":3,\"cache_read_input_tokens\":900,\"output_tokens\":1}}}"
    "\r\n\r\n"
    "event: ping\ndata: {\"type\":\"ping\"}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
    "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
    "{\"type\":\"text_delta\",\"text\":\"Hi \\u00e9\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
    "\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":7}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

static void check_stats(const passthru_obs *o)
{
    CHECK(o->st.usage_known);
    CHECK(o->st.input_tokens == 15);
    CHECK(o->st.cached_tokens == 900);
    CHECK(o->st.output_tokens == 7);
    CHECK(o->st.first_content);
    CHECK_STR(o->st.stop_reason, "end_turn");
    CHECK(!o->error);
}

TEST(passthru_observer_every_split)
{
    size_t n = strlen(STREAM);
    for (size_t cut = 0; cut <= n; cut++) {
        passthru_obs o;
        passthru_obs_init(&o, 1 << 20);
        passthru_obs_feed(&o, STREAM, cut);
        passthru_obs_feed(&o, STREAM + cut, n - cut);
        int before = test_failed_checks;
        check_stats(&o);
        passthru_obs_free(&o);
        if (test_failed_checks != before) {
            fprintf(stderr, "  (split at %zu)\n", cut);
            break;
        }
    }
    passthru_obs o;
    passthru_obs_init(&o, 1 << 20);
    for (size_t i = 0; i < n; i++)
        passthru_obs_feed(&o, STREAM + i, 1);
    check_stats(&o);
    passthru_obs_free(&o);
}

TEST(passthru_observer_error_and_message)
{
    passthru_obs o;
    passthru_obs_init(&o, 1 << 20);
    const char *ev = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                     "\"overloaded_error\",\"message\":\"x\"}}\n\n";
    passthru_obs_feed(&o, ev, strlen(ev));
    CHECK(o.error);
    CHECK(o.st.stop_reason == NULL);
    passthru_obs_free(&o);
    passthru_obs_init(&o, 1 << 20);
    const char *msg = "{\"id\":\"m\",\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":"
                      "\"x\"}],\"stop_reason\":\"max_tokens\",\"usage\":{\"input_tokens\":5,"
                      "\"cache_read_input_tokens\":0,\"output_tokens\":2}}";
    passthru_obs_message(&o, msg, strlen(msg));
    CHECK(o.st.input_tokens == 5 && o.st.output_tokens == 2 && o.st.cached_tokens == 0);
    CHECK_STR(o.st.stop_reason, "max_tokens");
    passthru_obs_message(&o, "not json", 8); /* ignored */
    passthru_obs_free(&o);
    /* a line longer than the limit costs the numbers, nothing else */
    passthru_obs_init(&o, 64);
    passthru_obs_feed(&o, STREAM, strlen(STREAM));
    CHECK(o.st.stop_reason == NULL);
    CHECK(!o.st.usage_known);
    passthru_obs_free(&o);
}

/* anthropic mode and tool search (toolsearch_localize): the placeholder and
 * unloaded deferred tools go, a loaded one moves last without its flag, a
 * reference becomes the definition as text (one to an undeclared tool
 * goes), and a request without deferred tools is left as it was. */
TEST(toolsearch_localize_for_local_backends)
{
    cJSON *r = cJSON_Parse(
        "{\"tools\":[{\"name\":\"mcp__s__echo\",\"description\":\"Echo\",\"input_schema\":"
        "{\"type\":\"object\"},\"defer_loading\":true},{\"name\":\"Read\",\"input_schema\":{}},"
        "{\"name\":\"DeferredToolPlaceholder\",\"input_schema\":{},\"defer_loading\":true},"
        "{\"name\":\"mcp__s__other\",\"input_schema\":{},\"defer_loading\":true}],"
        "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\","
        "\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"ToolSearch\",\"input\":{}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\","
        "\"content\":[{\"type\":\"tool_reference\",\"tool_name\":\"mcp__s__echo\"},{\"type\":"
        "\"tool_reference\",\"tool_name\":\"Nope\"}]}]}]}");
    REQUIRE(r);
    CHECK(toolsearch_localize(r) == 5); /* 3 deferred tools, 2 references */
    char *s = cJSON_PrintUnformatted(r);
    CHECK_STR(
        s, "{\"tools\":[{\"name\":\"Read\",\"input_schema\":{}},{\"name\":\"mcp__s__echo\","
           "\"description\":\"Echo\",\"input_schema\":{\"type\":\"object\"}}],\"messages\":[{"
           "\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":[{"
           "\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"ToolSearch\",\"input\":{}}]},{"
           "\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\","
           "\"content\":[{\"type\":\"text\",\"text\":\"<functions><function>{\\\"description\\\":"
           "\\\"Echo\\\",\\\"name\\\":\\\"mcp__s__echo\\\",\\\"parameters\\\":{\\\"type\\\":"
           "\\\"object\\\"}}</function></functions>\"}]}]}]}");
    free(s);
    cJSON_Delete(r);
    const char *plain = "{\"tools\":[{\"name\":\"Read\",\"input_schema\":{}}],\"messages\":[{"
                        "\"role\":\"user\",\"content\":\"hi\"}]}";
    r = cJSON_Parse(plain);
    REQUIRE(r);
    CHECK(toolsearch_localize(r) == 0);
    s = cJSON_PrintUnformatted(r);
    CHECK_STR(s, plain);
    free(s);
    cJSON_Delete(r);
}
