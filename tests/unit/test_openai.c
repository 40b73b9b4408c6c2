/* Tests for src/core/openai.c: reading what a backend sends back (the golden
 * stream and response cases cover it end to end; these pin the rules). */
#include <string.h>

#include "openai.h"
#include "test.h"

TEST(openai_parse_takes_exactly_the_span)
{
    cJSON *j = openai_parse("{\"a\":1}  \n", 10);
    CHECK(cJSON_IsObject(j));
    cJSON_Delete(j);
    CHECK(openai_parse("{\"a\":1} x", 9) == NULL);
    j = openai_parse("{\"a\":1}{", 7); /* the 8th byte is outside the span */
    CHECK(j != NULL);
    cJSON_Delete(j);
    CHECK(openai_parse("", 0) == NULL);
}

TEST(openai_first_choice_and_reasoning)
{
    const char *s = "{\"choices\":[{\"index\":1,\"delta\":{}},{\"index\":0,\"delta\":"
                    "{\"reasoning\":\"r\",\"reasoning_content\":\"\"}}]}";
    cJSON *j = openai_parse(s, strlen(s));
    const cJSON *c = openai_first_choice(j);
    REQUIRE(c != NULL);
    CHECK(openai_long(c, "index") == 0);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(c, "delta");
    CHECK_STR(openai_reasoning(d), "r"); /* an empty reasoning_content does not count */
    CHECK(openai_str(d, "reasoning_content") == NULL);
    cJSON_Delete(j);
}

TEST(openai_usage_in_anthropic_terms)
{
    const char *s = "{\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":7,"
                    "\"prompt_tokens_details\":{\"cached_tokens\":60}}}";
    openai_usage u;
    long in, cached, out;
    openai_usage_init(&u);
    openai_usage_final(&u, 42, 3, &in, &cached, &out);
    CHECK(in == 42 && cached == 0 && out == 3); /* nothing reported: estimate, counted */
    cJSON *j = openai_parse(s, strlen(s));
    openai_usage_read(&u, j);
    cJSON_Delete(j);
    openai_usage_final(&u, 42, 3, &in, &cached, &out);
    CHECK(in == 40 && cached == 60 && out == 7);
    /* llama.cpp timings alone: prompt = prompt_n + cache_n */
    s = "{\"timings\":{\"prompt_n\":5,\"cache_n\":20,\"predicted_n\":9,\"prompt_ms\":1.5}}";
    openai_usage_init(&u);
    j = openai_parse(s, strlen(s));
    openai_usage_read(&u, j);
    cJSON_Delete(j);
    openai_usage_final(&u, 42, 3, &in, &cached, &out);
    CHECK(in == 5 && cached == 20 && out == 9);
    CHECK(u.t_prompt_ms == 1.5);
}

TEST(openai_stop_reasons)
{
    CHECK(openai_finish_map(NULL) == NULL);
    CHECK_STR(openai_finish_map("length"), "max_tokens");
    CHECK_STR(openai_finish_map("function_call"), "tool_use");
    CHECK_STR(openai_finish_map("content_filter"), "end_turn");
    CHECK_STR(openai_stop_reason("end_turn", 1, NULL), "tool_use");
    CHECK_STR(openai_stop_reason("tool_use", 0, NULL), "end_turn"); /* no usable call */
    CHECK_STR(openai_stop_reason("end_turn", 0, "STOP"), "stop_sequence");
    CHECK_STR(openai_stop_reason("max_tokens", 0, "STOP"), "max_tokens");
    CHECK_STR(openai_stop_reason(NULL, 0, NULL), "end_turn");
}

TEST(openai_error_messages)
{
    char msg[64];
    int over = -1;
    const char *s = "{\"error\":{\"message\":\"model is busy\",\"type\":\"x\"}}";
    cJSON *j = openai_parse(s, strlen(s));
    openai_error_message(j, s, strlen(s), msg, sizeof msg, &over);
    CHECK_STR(msg, "model is busy");
    CHECK(over == 1);
    cJSON_Delete(j);
    openai_error_message(NULL, "bad\n\x01gateway", 12, msg, sizeof msg, &over);
    CHECK_STR(msg, "bad  gateway"); /* raw bytes, control bytes as spaces */
    CHECK(over == 0);
    openai_error_message(NULL, "", 0, msg, sizeof msg, &over);
    CHECK_STR(msg, "backend reported an error");
}
