/* Tests for src/routes.c: the config's backends and routes parse with
 * errors that name the key at fault; requests match the first route of
 * their class in written order; facts come from the request body. */
#include <stdlib.h>

#include "routes.h"
#include "test.h"

static const char *fake_env(const char *name)
{
    if (strcmp(name, "GPU_KEY") == 0) return "sk-gpu";
    if (strcmp(name, "ANTHROPIC_API_KEY") == 0) return "sk-ant-env";
    return NULL;
}

static int parse(routes *r, const char *json, char *err, size_t n)
{
    cJSON *j = cJSON_Parse(json);
    if (!j) return -2;
    int rc = routes_parse(r, cJSON_GetObjectItemCaseSensitive(j, "backends"),
                          cJSON_GetObjectItemCaseSensitive(j, "routes"), 3000, fake_env, "cfg.json",
                          err, n);
    cJSON_Delete(j);
    return rc;
}

static const char *FULL =
    "{\"backends\":{"
    "\"small\":{\"mode\":\"mlx-lm\"},"
    "\"gpu1\":{\"mode\":\"llamacpp\",\"url\":\"http://g1:8080/v1/\",\"model\":\"qwen\"},"
    "\"gpu2\":{\"mode\":\"llamacpp\",\"url\":\"http://g2:8080/v1\",\"apiKeyEnv\":\"GPU_KEY\","
    "\"slots\":4},"
    "\"llamacpp\":{\"url\":\"http://old:8080/v1\"},"
    "\"claude\":{\"mode\":\"claude\"},"
    "\"vllm\":{\"mode\":\"anthropic\",\"url\":\"http://v:8000\",\"caFile\":\"/ca.pem\"}},"
    "\"routes\":["
    "{\"when\":\"background\",\"to\":\"small\"},"
    "{\"when\":\"longContext\",\"over\":60000,\"to\":\"claude,claude-sonnet-4-5\"},"
    "{\"when\":\"thinking\",\"to\":\"vllm,qwen3-32b\",\"fallback\":[\"claude\"]},"
    "{\"when\":\"subagent\",\"to\":\"small\"},"
    "{\"when\":\"default\",\"to\":[\"gpu1\",\"gpu2\",\"llamacpp\"],\"fallback\":[\"claude\"]}]}";

TEST(routes_parse_full)
{
    routes r;
    char err[600] = "";
    REQUIRE(parse(&r, FULL, err, sizeof err) == 0);
    CHECK(r.configured == 1);
    CHECK(r.health_ms == 3000);
    CHECK(r.nbackends == 6);
    CHECK(r.nroutes == 5);
    int g1 = routes_backend_index(&r, "gpu1"), g2 = routes_backend_index(&r, "gpu2");
    int old = routes_backend_index(&r, "llamacpp"), cl = routes_backend_index(&r, "claude");
    int small = routes_backend_index(&r, "small"), v = routes_backend_index(&r, "vllm");
    REQUIRE(g1 >= 0 && g2 >= 0 && old >= 0 && cl >= 0 && small >= 0 && v >= 0);
    CHECK_STR(r.backends[g1].url, "http://g1:8080/v1"); /* trailing / dropped */
    CHECK_STR(r.backends[g1].model, "qwen");
    CHECK_STR(r.backends[g2].api_key, "sk-gpu");
    CHECK(r.backends[g2].slots == 4);
    CHECK(r.backends[g1].slots == -1);
    CHECK_STR(r.backends[old].mode->name, "llamacpp"); /* mode from the entry's name */
    CHECK_STR(r.backends[cl].url, "https://api.anthropic.com");
    CHECK_STR(r.backends[cl].api_key, "sk-ant-env"); /* claude: ANTHROPIC_API_KEY */
    CHECK_STR(r.backends[small].url, "http://localhost:8081/v1");
    CHECK_STR(r.backends[small].api_key, "mlx-lm"); /* the mode's default key */
    CHECK_STR(r.backends[v].ca_file, "/ca.pem");
    CHECK(r.backends[v].mode->passthru == MODE_ANTHROPIC);
    const route *d = &r.r[4];
    CHECK(d->when == ROUTE_DEFAULT);
    CHECK(d->npool == 3 && d->pool[0].backend == g1 && d->pool[2].backend == old);
    CHECK(d->nfallback == 1 && d->fallback[0].backend == cl);
    CHECK(r.r[1].when == ROUTE_LONG && r.r[1].over == 60000);
    CHECK_STR(r.r[1].pool[0].model, "claude-sonnet-4-5");
    CHECK_STR(r.r[2].pool[0].model, "qwen3-32b");
    CHECK_STR(r.r[0].pool[0].model, "");
    CHECK(routes_need_facts(&r));
    CHECK(routes_need_body(&r));
    CHECK(routes_default(&r) == &r.r[4]);
    int alt;
    CHECK(routes_uses(&r, g1, &alt) && alt);     /* in the default pool */
    CHECK(routes_uses(&r, small, &alt) && !alt); /* alone in its routes */
    CHECK(routes_uses(&r, cl, &alt) && alt);     /* a fallback */
}

static void expect_error(const char *json, const char *needle)
{
    routes r;
    char err[600] = "";
    int rc = parse(&r, json, err, sizeof err);
    CHECK(rc == -1);
    if (!strstr(err, needle)) {
        fprintf(stderr, "  error \"%s\" lacks \"%s\"\n", err, needle);
        test_failed_checks++;
    }
}

TEST(routes_parse_errors)
{
    const char *B = "\"backends\":{\"a\":{\"mode\":\"openai\",\"url\":\"http://a/v1\"}}";
    char j[1024];
#define E(routes_json, needle)                                                                     \
    snprintf(j, sizeof j, "{%s,\"routes\":%s}", B, routes_json);                                   \
    expect_error(j, needle)
    E("[{\"when\":\"background\",\"to\":\"a\"}]", "\"when\": \"default\"");
    E("[{\"when\":\"default\",\"to\":\"nope\"}]", "no backend named \"nope\"; defined: a");
    E("[{\"when\":\"sometimes\",\"to\":\"a\"}]", "unknown class \"sometimes\"");
    E("[{\"to\":\"a\"}]", "when: missing");
    E("[{\"when\":\"default\"}]", "routes[0]\".to: missing");
    E("[{\"when\":\"longContext\",\"to\":\"a\"},{\"when\":\"default\",\"to\":\"a\"}]",
      "longContext needs \"over\"");
    E("[{\"when\":\"default\",\"to\":\"a\",\"over\":5}]", "only longContext");
    E("[{\"when\":\"default\",\"to\":\"a\",\"extra\":1}]", "unknown key");
    E("[{\"when\":\"default\",\"to\":[\"a\",\"a\"]}]", "listed twice");
    E("[{\"when\":\"default\",\"to\":[]}]", "expected \"backend\"");
    E("[{\"when\":\"default\",\"to\":\",m\"}]", "bad backend name");
    E("[]", "expected a list");
    E("{}", "expected a list");
#undef E
    expect_error("{\"backends\":{\"x\":{\"url\":\"http://x\"}},\"routes\":[{\"when\":\"default\","
                 "\"to\":\"x\"}]}",
                 "\"backends.x\": needs a \"mode\"");
    expect_error(
        "{\"backends\":{\"x\":{\"mode\":\"gpt\"}},\"routes\":[{\"when\":\"default\",\"to\":"
        "\"x\"}]}",
        "unknown \"mode\"");
    expect_error("{\"backends\":{\"x\":{\"mode\":\"openai\"}},\"routes\":[{\"when\":\"default\","
                 "\"to\":\"x\"}]}",
                 "mode openai needs a \"url\"");
    expect_error("{\"backends\":{\"x\":{\"mode\":\"openai\",\"url\":\"ftp://x\"}},\"routes\":[]}",
                 "malformed URL");
    expect_error("{\"backends\":{\"x\":{\"mode\":\"openai\",\"url\":\"http://x\",\"apiKeyEnv\":"
                 "\"UNSET_VAR\"}},\"routes\":[]}",
                 "UNSET_VAR is not set");
    expect_error("{\"backends\":{\"x\":{\"mode\":\"openai\",\"url\":\"http://x\",\"port\":1}},"
                 "\"routes\":[]}",
                 "unknown key");
    expect_error("{\"backends\":{\"x\":{\"mode\":\"llamacpp\",\"slots\":99}},\"routes\":[]}",
                 "slots");
    expect_error("{\"backends\":{\"a,b\":{\"mode\":\"llamacpp\"}},\"routes\":[]}",
                 "bad backend name");
    expect_error("{\"backends\":{\"a\\\"b\":{\"mode\":\"llamacpp\"}},\"routes\":[]}",
                 "bad backend name");
    /* a key with a newline still makes a one-line error */
    expect_error("{\"backends\":{\"a\":{\"mode\":\"llamacpp\",\"x\\ny\":1}},\"routes\":[]}",
                 "\"backends.a.x?y\": unknown key");
    expect_error("{\"backends\":[],\"routes\":[]}", "expected an object");
}

TEST(routes_parse_absent)
{
    routes r;
    char err[100];
    cJSON *b = cJSON_Parse("{\"llamacpp\":{\"url\":\"http://x\"}}");
    CHECK(routes_parse(&r, b, NULL, 0, fake_env, "f", err, sizeof err) == 0);
    CHECK(r.configured == 0 && r.nroutes == 0 && r.health_ms == 5000);
    cJSON_Delete(b);
}

TEST(routes_single_table)
{
    routes r;
    routes_single(&r, "llamacpp", mode_find("llamacpp"), "http://h:8080/v1", "k", "m", 2);
    CHECK(r.nbackends == 1 && r.nroutes == 1);
    CHECK(r.r[0].when == ROUTE_DEFAULT && r.r[0].npool == 1 && r.r[0].nfallback == 0);
    CHECK_STR(r.backends[0].name, "llamacpp");
    CHECK(r.backends[0].slots == 2);
    CHECK(!routes_need_facts(&r));
    CHECK(!routes_need_body(&r));
    CHECK(routes_default(&r) == &r.r[0]);
    int alt;
    CHECK(routes_uses(&r, 0, &alt) && !alt);
    CHECK(!routes_uses(&r, 1, NULL));
    routes_single(&r, "claude", mode_find("claude"), "https://api.anthropic.com", "", "", -1);
    CHECK(routes_need_body(&r)); /* a pass-through target */
    route_facts f = {"claude-haiku-4-5", 1, 1, 1000000, 1, 1};
    CHECK(routes_match(&r, &f) == &r.r[0]);
}

static const route *match_json(const routes *r, const char *body, int subagent)
{
    cJSON *j = cJSON_Parse(body);
    route_facts f;
    routes_facts(j, subagent, 1, &f);
    const route *rt = routes_match(r, &f);
    cJSON_Delete(j);
    return rt;
}

TEST(routes_match_classes_in_written_order)
{
    routes r;
    char err[600];
    REQUIRE(parse(&r, FULL, err, sizeof err) == 0);
    const char *plain = "{\"model\":\"claude-sonnet-4-5\",\"messages\":[{\"role\":\"user\","
                        "\"content\":\"hi\"}]}";
    CHECK(match_json(&r, plain, 0) == &r.r[4]);
    CHECK(match_json(&r, plain, 1) == &r.r[3]); /* subagent */
    CHECK(match_json(&r, "{\"model\":\"claude-HAIKU-4-5-20251001\",\"messages\":[]}", 0) ==
          &r.r[0]);
    CHECK(match_json(&r, "{\"model\":\"claude-haiku-4-5\",\"messages\":[]}", 1) == &r.r[0]);
    CHECK(match_json(&r,
                     "{\"model\":\"m\",\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":"
                     "1024},\"messages\":[]}",
                     1) == &r.r[2]); /* thinking is listed before subagent */
    /* Claude Code 2.1 sends adaptive thinking on every main-loop request */
    CHECK(match_json(&r, "{\"model\":\"m\",\"thinking\":{\"type\":\"adaptive\"},\"messages\":[]}",
                     0) == &r.r[4]);
    CHECK(match_json(&r, "{\"model\":\"m\",\"thinking\":{\"type\":\"disabled\"},\"messages\":[]}",
                     0) == &r.r[4]);
    /* long: ~4 bytes a token */
    size_t n = 300000;
    char *big = malloc(n + 200);
    REQUIRE(big);
    int k = snprintf(big, 200,
                     "{\"model\":\"claude-haiku-4-5\",\"messages\":[{\"role\":\"user\","
                     "\"content\":\"");
    memset(big + k, 'a', n);
    strcpy(big + k + n, "\"}]}");
    CHECK(match_json(&r, big, 0) == &r.r[0]); /* background is listed first */
    memcpy(big + 17, "opus1", 5);             /* claude-opus1-4-5 */
    CHECK(match_json(&r, big, 0) == &r.r[1]);
    free(big);
}

/* "vision": a request with an image anywhere in its messages, a tool
 * result's included; listed before default, it takes those requests to a
 * backend that can see them. */
TEST(routes_match_vision)
{
    routes r;
    char err[600];
    const char *cfg = "{\"backends\":{\"mlx\":{\"mode\":\"mlx-lm\"},\"vl\":{\"mode\":\"lmstudio\","
                      "\"vision\":true}},\"routes\":[{\"when\":\"vision\",\"to\":\"vl\"},{\"when\":"
                      "\"default\",\"to\":\"mlx\"}]}";
    REQUIRE(parse(&r, cfg, err, sizeof err) == 0);
    CHECK(r.r[0].when == ROUTE_VISION);
    CHECK_STR(routes_when_name(ROUTE_VISION), "vision");
    CHECK(routes_need_facts(&r));
    const char *img = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                      "\"text\",\"text\":\"see\"},{\"type\":\"image\",\"source\":{}}]}]}";
    const char *in_tool = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{"
                          "\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"content\":[{\"type\":"
                          "\"image\",\"source\":{}}]}]}]}";
    const char *text = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                       "\"text\",\"text\":\"image\"}]},{\"role\":\"user\",\"content\":\"x\"}]}";
    CHECK(match_json(&r, img, 0) == &r.r[0]);
    CHECK(match_json(&r, in_tool, 0) == &r.r[0]);
    CHECK(match_json(&r, text, 0) == &r.r[1]);
    CHECK(route_backend_text_only(&r.backends[0]) && !route_backend_text_only(&r.backends[1]));
}

TEST(routes_facts_estimate)
{
    cJSON *j = cJSON_Parse("{\"model\":\"x\",\"system\":[{\"type\":\"text\",\"text\":\"0123456789"
                           "0123456789\"}],\"tools\":[{\"name\":\"Read\",\"description\":\"reads\","
                           "\"input_schema\":{}}],\"messages\":[{\"role\":\"user\",\"content\":"
                           "\"hello world\"}],\"max_tokens\":5}");
    route_facts f;
    routes_facts(j, 0, 1, &f);
    CHECK_STR(f.model, "x");
    CHECK(!f.thinking && !f.subagent);
    CHECK(f.est_tokens > 10 && f.est_tokens < 60);
    /* unsized: the same facts without the estimate */
    route_facts u;
    routes_facts(j, 0, 0, &u);
    CHECK_STR(u.model, "x");
    CHECK(u.est_tokens == 0 && u.server_tools == f.server_tools && u.images == f.images);
    cJSON_Delete(j);
    j = cJSON_Parse("{\"messages\":[]}");
    routes_facts(j, 0, 1, &f);
    CHECK_STR(f.model, "");
    cJSON_Delete(j);
}

TEST(route_backend_url_per_mode)
{
    static const struct {
        const char *mode, *url, *path, *want;
    } cases[] = {
        {"llamacpp", "http://h:8080/v1", "chat", "http://h:8080/v1/chat/completions"},
        {"llamacpp", "http://h:8080/v1", "models", "http://h:8080/v1/models"},
        {"llamacpp", "http://h:8080/v1", "/props", "http://h:8080/props"},
        {"anthropic", "http://h:8080", "messages", "http://h:8080/v1/messages"},
        {"anthropic", "http://h:8080", "/props", "http://h:8080/props"},
        {"anthropic", "http://h:8080/v1", "messages/count_tokens",
         "http://h:8080/v1/messages/count_tokens"},
        {"anthropic", "http://h:8080/v1", "/api/v0/models", "http://h:8080/api/v0/models"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        route_backend b;
        memset(&b, 0, sizeof b);
        char u[700];
        b.mode = mode_find(cases[i].mode);
        snprintf(b.url, sizeof b.url, "%s", cases[i].url);
        route_backend_url(&b, cases[i].path, u, sizeof u);
        CHECK_STR(u, cases[i].want);
    }
}

TEST(routes_server_tools_class)
{
    routes r;
    char err[600];
    REQUIRE(parse(&r,
                  "{\"backends\":{\"local\":{\"mode\":\"llamacpp\",\"url\":\"http://a:8080/v1\"},"
                  "\"claude\":{\"mode\":\"claude\"}},"
                  "\"routes\":[{\"when\":\"serverTools\",\"to\":\"claude\"},"
                  "{\"when\":\"default\",\"to\":\"local\"}]}",
                  err, sizeof err) == 0);
    CHECK(r.r[0].when == ROUTE_SERVER_TOOLS);
    CHECK_STR(routes_when_name(r.r[0].when), "serverTools");
    /* Claude Code's WebSearch side request */
    CHECK(match_json(&r,
                     "{\"model\":\"m\",\"tools\":[{\"type\":\"web_search_20250305\",\"name\":"
                     "\"web_search\",\"max_uses\":8}],\"tool_choice\":{\"type\":\"tool\",\"name\":"
                     "\"web_search\"},\"messages\":[]}",
                     0) == &r.r[0]);
    CHECK(match_json(&r,
                     "{\"model\":\"m\",\"tools\":[{\"name\":\"Read\",\"input_schema\":{}},"
                     "{\"type\":\"web_fetch_20250910\",\"name\":\"web_fetch\"}],\"messages\":[]}",
                     0) == &r.r[0]);
    /* client tools, Anthropic-defined client tools (bash_*), none: default */
    CHECK(match_json(&r,
                     "{\"model\":\"m\",\"tools\":[{\"name\":\"Read\",\"input_schema\":{}},"
                     "{\"type\":\"bash_20250124\",\"name\":\"bash\"}],\"messages\":[]}",
                     0) == &r.r[1]);
    CHECK(match_json(&r, "{\"model\":\"m\",\"messages\":[]}", 0) == &r.r[1]);
    /* the error for an unknown class names it */
    CHECK(parse(&r,
                "{\"backends\":{\"a\":{\"mode\":\"claude\"}},\"routes\":[{\"when\":\"web\","
                "\"to\":\"a\"}]}",
                err, sizeof err) < 0);
    CHECK(strstr(err, "serverTools") != NULL);
}
