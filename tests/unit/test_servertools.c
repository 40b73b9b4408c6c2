/* Tests for src/servertools.c: which tools are server tools, stripping them
 * for a local backend, and the gateway's own answer (a well-formed message,
 * streamed and whole, with the tool's error result and how to enable it). */
#include <stdlib.h>

#include "servertools.h"
#include "test.h"

#define WEBSEARCH_REQ                                                                              \
    "{\"model\":\"claude-opus-5-5\",\"tools\":[{\"type\":\"web_search_20250305\",\"name\":"        \
    "\"web_search\",\"max_uses\":8}],\"tool_choice\":{\"type\":\"tool\",\"name\":\"web_search\"}," \
    "\"messages\":[{\"role\":\"user\",\"content\":\"Perform a web search for the query: x\"}]}"

TEST(servertools_scan_and_maybe)
{
    servertools_info si;
    cJSON *j = cJSON_Parse(WEBSEARCH_REQ);
    servertools_scan(j, &si);
    CHECK(si.server == 1 && si.client == 0);
    CHECK_STR(si.first, "web_search");
    CHECK_STR(si.type, "web_search_20250305");
    cJSON_Delete(j);
    CHECK(servertools_maybe(WEBSEARCH_REQ, strlen(WEBSEARCH_REQ)));
    const char *plain = "{\"tools\":[{\"name\":\"Read\",\"input_schema\":{}}]}";
    CHECK(!servertools_maybe(plain, strlen(plain)));
}

TEST(servertools_strip_for_local)
{
    cJSON *j = cJSON_Parse("{\"tools\":[{\"name\":\"Read\",\"input_schema\":{}},{\"type\":"
                           "\"web_fetch_20250910\",\"name\":\"web_fetch\"}],\"tool_choice\":{"
                           "\"type\":\"tool\",\"name\":\"web_fetch\"}}");
    CHECK(servertools_strip(j) == 1);
    char *s = cJSON_PrintUnformatted(j);
    CHECK_STR(s, "{\"tools\":[{\"name\":\"Read\",\"input_schema\":{}}]}");
    free(s);
    CHECK(servertools_strip(j) == 0);
    cJSON_Delete(j);
    j = cJSON_Parse(WEBSEARCH_REQ);
    CHECK(servertools_strip(j) == 1);
    CHECK(!cJSON_GetObjectItemCaseSensitive(j, "tools"));
    cJSON_Delete(j);
}

TEST(servertools_answer_whole_and_streamed)
{
    servertools_info si;
    cJSON *j = cJSON_Parse(WEBSEARCH_REQ);
    servertools_scan(j, &si);
    cJSON_Delete(j);
    buf out;
    buf_init(&out, 0);
    REQUIRE(servertools_answer(&si, "msg_abc", "claude-opus-5-5", "qwen", 0, &out) == 0);
    cJSON *m = cJSON_ParseWithLength(out.data, out.len);
    REQUIRE(m);
    cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
    CHECK(cJSON_GetArraySize(c) == 3);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(c, 0), "type")->valuestring,
              "server_tool_use");
    cJSON *res = cJSON_GetArrayItem(c, 1);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(res, "type")->valuestring, "web_search_tool_result");
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(res, "tool_use_id")->valuestring, "srvtoolu_abc");
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(res, "content"),
                                               "error_code")
                  ->valuestring,
              "unavailable");
    const char *text =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(c, 2), "text")->valuestring;
    CHECK(strstr(text, "Web search is not available") && strstr(text, "\"qwen\"") &&
          strstr(text, "serverTools"));
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(m, "stop_reason")->valuestring, "end_turn");
    cJSON_Delete(m);
    buf_reset(&out);
    REQUIRE(servertools_answer(&si, "msg_abc", "claude-opus-5-5", "qwen", 1, &out) == 0);
    buf_append(&out, "", 1);
    const char *order[] = {"message_start",       "content_block_start", "content_block_stop",
                           "content_block_start", "content_block_stop",  "content_block_start",
                           "content_block_delta", "content_block_stop",  "message_delta",
                           "message_stop"};
    const char *p = out.data;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "event: %s\n", order[i]);
        const char *q = strstr(p, want);
        CHECK(q != NULL);
        if (!q) break;
        p = q + strlen(want);
    }
    /* every data line is JSON */
    for (const char *d = strstr(out.data, "data: "); d; d = strstr(d + 1, "data: ")) {
        const char *e = strchr(d, '\n');
        cJSON *x = cJSON_ParseWithLength(d + 6, (size_t)(e - d - 6));
        CHECK(x != NULL);
        cJSON_Delete(x);
    }
    buf_free(&out);
}
