/* Tests for src/provenance.c: a request bound for the Claude API loses the
 * thinking the API did not sign, and thinking goes off for a tool loop that
 * has no signed thinking; a request bound for a local server loses
 * signatures and redacted thinking. */
#include <stdlib.h>

#include "provenance.h"
#include "test.h"

typedef int (*fit_fn)(cJSON *, provenance_stats *);

/* Run fn on `in`; returns the rewritten JSON (malloc'd) and sets *n. */
static char *fit(fit_fn fn, const char *in, int *n, provenance_stats *st)
{
    cJSON *j = cJSON_Parse(in);
    *n = -9;
    if (!j) return NULL;
    int needed = provenance_claude_needed(j);
    *n = fn(j, st);
    /* the read-only test agrees with the rewrite */
    if (fn == provenance_for_claude) CHECK(needed == (*n > 0));
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

#define LOCAL_THINK                                                                                \
    "{\"type\":\"thinking\",\"thinking\":\"local\",\"signature\":\"anyclaude-sig-msg_1\"}"
#define API_THINK "{\"type\":\"thinking\",\"thinking\":\"api\",\"signature\":\"EqQBCkYIAxgC\"}"
#define REDACTED "{\"type\":\"redacted_thinking\",\"data\":\"EmwKAhgBEgy\"}"
#define TOOL_USE "{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"Read\",\"input\":{}}"
#define TOOL_RESULT "{\"type\":\"tool_result\",\"tool_use_id\":\"t1\",\"content\":\"x\"}"

TEST(provenance_foreign_signatures)
{
    cJSON *b = cJSON_Parse(LOCAL_THINK);
    CHECK(provenance_foreign_signature(b));
    cJSON_Delete(b);
    b = cJSON_Parse(API_THINK);
    CHECK(!provenance_foreign_signature(b));
    cJSON_Delete(b);
    b = cJSON_Parse("{\"type\":\"thinking\",\"thinking\":\"x\",\"signature\":\"\"}");
    CHECK(provenance_foreign_signature(b));
    cJSON_Delete(b);
    b = cJSON_Parse("{\"type\":\"thinking\",\"thinking\":\"x\"}");
    CHECK(provenance_foreign_signature(b));
    cJSON_Delete(b);
}

TEST(provenance_claude_drops_local_thinking_keeps_api_thinking)
{
    int n = -9;
    provenance_stats st;
    char *s =
        fit(provenance_for_claude,
            "{\"thinking\":{\"type\":\"adaptive\"},\"messages\":["
            "{\"role\":\"user\",\"content\":\"hi\"},"
            "{\"role\":\"assistant\",\"content\":[" LOCAL_THINK ",{\"type\":\"text\",\"text\":"
            "\"a\"}]},"
            "{\"role\":\"user\",\"content\":\"more\"},"
            "{\"role\":\"assistant\",\"content\":[" API_THINK "," REDACTED
            ",{\"type\":\"text\",\"text\":\"b\"}]},"
            "{\"role\":\"user\",\"content\":\"go\"}]}",
            &n, &st);
    CHECK(n == 1);
    CHECK(st.thinking_dropped == 1 && !st.thinking_disabled);
    CHECK_STR(s, "{\"thinking\":{\"type\":\"adaptive\"},\"messages\":["
                 "{\"role\":\"user\",\"content\":\"hi\"},"
                 "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"a\"}]},"
                 "{\"role\":\"user\",\"content\":\"more\"},"
                 "{\"role\":\"assistant\",\"content\":[" API_THINK "," REDACTED
                 ",{\"type\":\"text\",\"text\":\"b\"}]},"
                 "{\"role\":\"user\",\"content\":\"go\"}]}");
    free(s);
}

TEST(provenance_claude_untouched_body_reports_no_change)
{
    int n = -9;
    const char *in = "{\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024},\"messages\":["
                     "{\"role\":\"user\",\"content\":\"hi\"},"
                     "{\"role\":\"assistant\",\"content\":[" API_THINK "," TOOL_USE "]},"
                     "{\"role\":\"user\",\"content\":[" TOOL_RESULT "]}]}";
    char *s = fit(provenance_for_claude, in, &n, NULL);
    CHECK(n == 0);
    CHECK_STR(s, in);
    free(s);
}

TEST(provenance_claude_tool_loop_without_signed_thinking_turns_thinking_off)
{
    int n = -9;
    provenance_stats st;
    char *s = fit(provenance_for_claude,
                  "{\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024},"
                  "\"context_management\":{\"edits\":[{\"type\":\"clear_thinking_20251015\"}]},"
                  "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
                  "{\"role\":\"assistant\",\"content\":[" LOCAL_THINK "," TOOL_USE "]},"
                  "{\"role\":\"user\",\"content\":[" TOOL_RESULT "]}]}",
                  &n, &st);
    CHECK(n == 2);
    CHECK(st.thinking_disabled == 1 && st.thinking_dropped == 1);
    CHECK_STR(s, "{\"thinking\":{\"type\":\"disabled\"},"
                 "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
                 "{\"role\":\"assistant\",\"content\":[" TOOL_USE "]},"
                 "{\"role\":\"user\",\"content\":[" TOOL_RESULT "]}]}");
    free(s);
    /* other context edits stay */
    s = fit(provenance_for_claude,
            "{\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024},"
            "\"context_management\":{\"edits\":[{\"type\":\"clear_thinking_20251015\"},"
            "{\"type\":\"clear_tool_uses_20250919\"}]},"
            "\"messages\":[{\"role\":\"assistant\",\"content\":[" TOOL_USE "]},"
            "{\"role\":\"user\",\"content\":[" TOOL_RESULT "]}]}",
            &n, &st);
    CHECK(n == 1);
    CHECK_STR(s, "{\"thinking\":{\"type\":\"disabled\"},"
                 "\"context_management\":{\"edits\":[{\"type\":\"clear_tool_uses_20250919\"}]},"
                 "\"messages\":[{\"role\":\"assistant\",\"content\":[" TOOL_USE "]},"
                 "{\"role\":\"user\",\"content\":[" TOOL_RESULT "]}]}");
    free(s);
    /* adaptive thinking may skip thinking: left on */
    s = fit(provenance_for_claude,
            "{\"thinking\":{\"type\":\"adaptive\"},"
            "\"messages\":[{\"role\":\"assistant\",\"content\":[" TOOL_USE "]},"
            "{\"role\":\"user\",\"content\":[" TOOL_RESULT "]}]}",
            &n, &st);
    CHECK(n == 0 && !st.thinking_disabled);
    free(s);
    /* not a tool loop (the user wrote text): thinking stays on */
    s = fit(provenance_for_claude,
            "{\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024},"
            "\"messages\":[{\"role\":\"assistant\",\"content\":[" LOCAL_THINK ",{\"type\":"
            "\"text\",\"text\":\"done\"}]},{\"role\":\"user\",\"content\":\"next\"}]}",
            &n, &st);
    CHECK(n == 1 && !st.thinking_disabled);
    free(s);
}

TEST(provenance_claude_thinking_only_turn_keeps_a_block)
{
    int n = -9;
    provenance_stats st;
    char *s = fit(provenance_for_claude,
                  "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
                  "{\"role\":\"assistant\",\"content\":[" LOCAL_THINK "]},"
                  "{\"role\":\"user\",\"content\":\"again\"}]}",
                  &n, &st);
    CHECK(n == 1 && st.emptied_filled == 1);
    CHECK(s && strstr(s, "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"("));
    free(s);
}

TEST(provenance_local_gets_no_signatures_nor_redacted)
{
    int n = -9;
    provenance_stats st;
    char *s = fit(provenance_for_local,
                  "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
                  "{\"role\":\"assistant\",\"content\":[" API_THINK "," REDACTED "," TOOL_USE "]},"
                  "{\"role\":\"user\",\"content\":[" TOOL_RESULT "]}]}",
                  &n, &st);
    CHECK(n == 2 && st.redacted_dropped == 1 && st.signatures_removed == 1);
    CHECK_STR(s, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
                 "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"api\","
                 "\"signature\":\"\"}," TOOL_USE "]},"
                 "{\"role\":\"user\",\"content\":[" TOOL_RESULT "]}]}");
    free(s);
    /* a second pass changes nothing: the rewrite is stable */
    cJSON *j = cJSON_Parse("{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":"
                           "\"thinking\",\"thinking\":\"x\",\"signature\":\"\"}]}]}");
    CHECK(provenance_for_local(j, NULL) == 0);
    cJSON_Delete(j);
}
