/*
 * window: context windows from recorded backend answers (tests/golden/window),
 * the plan the launcher follows, ccenv's variables, and the status line.
 */
#include <stdlib.h>

#include "ccenv.h"
#include "convstat.h"
#include "window.h"
#include "test.h"

static int parse_file(enum window_src src, const char *name, const char *want, window_found *f)
{
    char path[512];
    snprintf(path, sizeof path, "%s/golden/window/%s", test_dir(), name);
    size_t len = 0;
    char *body = test_read_file(path, &len);
    if (!body) {
        fprintf(stderr, "  missing %s\n", path);
        return -2;
    }
    int rc = window_parse(src, body, len, want, f);
    free(body);
    return rc;
}

/* The answer in tests/golden/window/NAME (asked for model want) gives this
 * window, and this training length and model name unless 0 / NULL. */
static void check_window(enum window_src src, const char *name, const char *want, long window,
                         long train, const char *model)
{
    window_found f;
    memset(&f, 0, sizeof f);
    int rc = parse_file(src, name, want, &f);
    if (rc != 0 || f.window != window || (train && f.train != train) ||
        (model && strcmp(f.model, model) != 0)) {
        fprintf(stderr,
                "  %s: rc %d, window %ld train %ld model \"%s\"; want window %ld train %ld "
                "model \"%s\"\n",
                name, rc, f.window, f.train, f.model, window, train, model ? model : "(any)");
        test_failed_checks++;
    }
}

TEST(window_llamacpp_props_per_slot)
{
    /* recorded from llama-server (node-llama-cpp 3.21.1's llama.cpp) run with
     * -c 32768 --parallel 2: the slot's 16384 */
    check_window(WINDOW_LLAMACPP_PROPS, "llamacpp_props.json", NULL, 16384, 0,
                 "random-llama-e64-l2-s1-b3be7457");
    /* the same with --kv-unified: every slot may use all 32768 */
    check_window(WINDOW_LLAMACPP_PROPS, "llamacpp_props_kv_unified.json", NULL, 32768, 0, NULL);
    /* its /v1/models says the same (meta.n_ctx), for openai/anthropic mode */
    check_window(WINDOW_MODELS, "llamacpp_models.json", NULL, 16384, 0, NULL);
}

TEST(window_lmstudio_loaded_context)
{
    /* LM Studio's default load, not the model's 262144 */
    check_window(WINDOW_LMSTUDIO, "lmstudio_v0_models.json", NULL, 4096, 262144,
                 "qwen3-coder-30b-a3b-instruct");
    /* a model that is not loaded has no window yet */
    window_found f;
    CHECK(parse_file(WINDOW_LMSTUDIO, "lmstudio_v0_models.json", "qwen2-vl-7b-instruct", &f) < 0);
    check_window(WINDOW_LMSTUDIO, "lmstudio_v1_models.json", NULL, 32768, 0,
                 "qwen/qwen3-coder-30b");
}

TEST(window_ollama)
{
    check_window(WINDOW_OLLAMA_PS, "ollama_ps.json", "qwen3-coder:30b", 8192, 0, NULL);
    /* no num_ctx: Ollama's default, not the model's 262144 */
    check_window(WINDOW_OLLAMA_SHOW, "ollama_show_default.json", NULL, WINDOW_OLLAMA_DEFAULT,
                 262144, NULL);
    check_window(WINDOW_OLLAMA_SHOW, "ollama_show_num_ctx.json", NULL, 65536, 0, NULL);
}

TEST(window_vllm_models)
{
    check_window(WINDOW_MODELS, "vllm_models.json", NULL, 65536, 0,
                 "Qwen/Qwen3-Coder-30B-A3B-Instruct");
}

TEST(window_bad_answers)
{
    window_found f;
    const char *bad[] = {"",
                         "[]",
                         "{",
                         "{\"default_generation_settings\":{\"n_ctx\":\"big\"}}",
                         "{\"default_generation_settings\":{\"n_ctx\":-5}}",
                         "{\"data\":[{\"id\":\"m\"}]}",
                         "{\"models\":{}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(window_parse(WINDOW_LLAMACPP_PROPS, bad[i], strlen(bad[i]), NULL, &f) < 0);
        CHECK(window_parse(WINDOW_MODELS, bad[i], strlen(bad[i]), NULL, &f) < 0);
        CHECK(window_parse(WINDOW_LMSTUDIO, bad[i], strlen(bad[i]), NULL, &f) < 0);
        CHECK(window_parse(WINDOW_OLLAMA_PS, bad[i], strlen(bad[i]), NULL, &f) < 0);
    }
}

TEST(window_ollama_show_odd_model_info)
{
    /* /api/show with "model_info" not an object (found by the window
     * fuzzer: an array's items have no names, and strlen(NULL) crashed):
     * Ollama's default window, no training length */
    const char *odd[] = {"{\"model_info\":[\"completion\",\"tools\"]}",
                         "{\"model_info\":[{\"x.context_length\":4096}]}", "{\"model_info\":7}",
                         "{\"model_info\":\"qwen3.context_length\"}",
                         "{\"model_info\":{\"qwen3.context_length\":\"big\"}}"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        window_found f;
        CHECK(window_parse(WINDOW_OLLAMA_SHOW, odd[i], strlen(odd[i]), NULL, &f) == 0);
        CHECK(f.window == WINDOW_OLLAMA_DEFAULT && f.train == 0);
    }
}

TEST(window_version)
{
    int v[3];
    CHECK(window_parse_version("2.1.328 (Claude Code)", v) == 0);
    CHECK(v[0] == 2 && v[1] == 1 && v[2] == 328);
    CHECK(window_parse_version("claude 1.0", v) < 0);
    CHECK(window_parse_version("", v) < 0);
}

TEST(window_plan_32k)
{
    int v[3] = {2, 1, 328};
    window_plan p;
    window_plan_make(32768, 16384, v, &p);
    CHECK(!p.too_small);
    CHECK(p.max_output == 4096);
    CHECK(p.compact_window == 100000); /* Claude Code's floor */
    /* Claude Code compacts where a reply and the compaction request still fit */
    CHECK(p.threshold > 14000);
    CHECK(p.threshold + p.max_output + p.file_read_max <= 32768);
    CHECK(p.file_read_max == 2048);
    CHECK(p.threshold == window_cc_threshold(p.compact_window, atof(p.compact_pct), p.max_output));
}

TEST(window_plan_large_and_small)
{
    int v[3] = {2, 1, 328};
    window_plan p;
    window_plan_make(262144, 16384, v, &p);
    CHECK(p.compact_window == 262144);
    CHECK(p.max_output == 16384);
    CHECK(p.threshold + p.max_output <= 262144);
    window_plan_make(8192, 16384, v, &p);
    CHECK(p.too_small);
    window_plan_make(0, 16384, v, &p); /* unknown: only the output limit */
    CHECK(!p.too_small && p.compact_window == 0 && p.max_output == 16384);
    int old[3] = {2, 0, 50}; /* a claude that was never checked: no compaction variables */
    window_plan_make(32768, 16384, old, &p);
    CHECK(!p.compact_supported && p.compact_window == 0 && p.max_output == 4096);
    char line[800];
    window_too_small_line(8192, "llamacpp", line, sizeof line);
    CHECK(strstr(line, "8192") && strstr(line, "-c 32768") && !strchr(line, '\n'));
    window_too_small_line(4096, "openai", line, sizeof line);
    CHECK(strstr(line, "num_ctx") && strstr(line, "Context Length"));
}

static const char *user_env(const char *n)
{
    if (strcmp(n, "CLAUDE_CODE_MAX_OUTPUT_TOKENS") == 0) return "4000";
    return NULL;
}

TEST(ccenv_user_wins)
{
    int v[3] = {2, 1, 328};
    window_plan p;
    window_plan_make(32768, 16384, v, &p);
    ccenv_in in = {.plan = &p,
                   .window_source = "llama.cpp /props",
                   .mode = "llamacpp",
                   .model = "qwen",
                   .self = "/usr/bin/anyclaude",
                   .getenv_fn = user_env};
    ccenv e;
    ccenv_build(&in, &e);
    int seen = 0;
    for (int i = 0; i < e.n; i++) {
        if (!strcmp(e.v[i].name, "CLAUDE_CODE_MAX_OUTPUT_TOKENS")) {
            CHECK(e.v[i].user);
            CHECK_STR(e.v[i].value, "4000");
            seen++;
        }
        if (!strcmp(e.v[i].name, "CLAUDE_AUTOCOMPACT_PCT_OVERRIDE")) {
            CHECK(!e.v[i].user);
            seen++;
        }
        if (!strcmp(e.v[i].name, "ANTHROPIC_CUSTOM_MODEL_OPTION")) {
            CHECK_STR(e.v[i].value, "qwen");
            seen++;
        }
    }
    CHECK(seen == 3);
    CHECK(strstr(e.settings, "'/usr/bin/anyclaude' statusline") != NULL);
    in.user_statusline = 1; /* the user's own status line wins */
    ccenv_build(&in, &e);
    CHECK(e.settings[0] == '\0');
}

static const char *automode_value;
static const char *automode_env(const char *n)
{
    return strcmp(n, "CLAUDE_CODE_AUTO_MODE_SERVER") == 0 ? automode_value : NULL;
}

/* CLAUDE_CODE_AUTO_MODE_SERVER off (as Claude Code reads it) with a local
 * backend: a warning saying what auto mode's own classifier costs there. */
TEST(ccenv_automode_server_off_warns)
{
    int v[3] = {2, 1, 332};
    window_plan p;
    window_plan_make(32768, 16384, v, &p);
    ccenv_in in = {.plan = &p, .mode = "llamacpp", .model = "qwen", .getenv_fn = automode_env};
    ccenv e;
    const char *off[] = {"0", "false", "", "off", "no", " 2 ", "\x1b[31m"};
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
        automode_value = off[i];
        ccenv_build(&in, &e);
        CHECK(strstr(e.warning, "CLAUDE_CODE_AUTO_MODE_SERVER=") != NULL);
        CHECK(strstr(e.warning, "32768-token window") != NULL); /* 31k prompts do not fit */
        CHECK(strchr(e.warning, '\x1b') == NULL && strchr(e.warning, '\n') == NULL);
    }
    const char *on[] = {"1", "true", "YES", " on ", NULL};
    for (size_t i = 0; i < sizeof on / sizeof on[0]; i++) {
        automode_value = on[i];
        ccenv_build(&in, &e);
        CHECK(e.warning[0] == '\0');
    }
    automode_value = "0";
    window_plan_make(131072, 16384, v, &p); /* it fits, but costs minutes a check */
    ccenv_build(&in, &e);
    CHECK(strstr(e.warning, "minutes of prefill") != NULL);
    in.mode = "claude"; /* the Claude API runs the check itself: nothing to say */
    ccenv_build(&in, &e);
    CHECK(e.warning[0] == '\0');
}

TEST(convstat_table_and_line)
{
    convstat c;
    memset(&c, 0, sizeof c);
    convstat_turn t;
    memset(&t, 0, sizeof t);
    for (int i = 0; i < CONVSTAT_MAX + 5; i++) {
        snprintf(t.session, sizeof t.session, "s%d", i);
        t.at_ms = i;
        convstat_put(&c, &t);
    }
    CHECK(c.n == CONVSTAT_MAX);
    CHECK(convstat_get(&c, "s0") == NULL); /* the oldest went */
    REQUIRE(convstat_get(&c, NULL) != NULL);
    CHECK_STR(convstat_get(&c, NULL)->session, "s68");
    snprintf(t.session, sizeof t.session, "abc");
    snprintf(t.backend, sizeof t.backend, "gpu1");
    snprintf(t.mode, sizeof t.mode, "llamacpp");
    snprintf(t.model, sizeof t.model, "qwen3\x1b[31m");
    t.window = 32768;
    t.prompt = 14000;
    t.cached = 13900;
    t.output = 234;
    t.prefill_ms = 50;
    t.gen_ms = 2000;
    t.at_ms = 1000;
    buf b;
    buf_init(&b, 0);
    CHECK(convstat_json(&t, NULL, NULL, NULL, 0, 2000, &b) == 0);
    char line[400];
    convstat_line(b.data, b.len, line, sizeof line);
    CHECK(strstr(line, "qwen3?[31m") != NULL); /* no escape byte reaches the terminal */
    CHECK(strstr(line, "ctx 14.2k/32.8k (43%)") != NULL);
    CHECK(strstr(line, "cache 99.3%") != NULL);
    CHECK(strstr(line, "prefill 2.0k tok/s") != NULL);
    CHECK(strstr(line, "gen 117.0 tok/s") != NULL);
    buf_free(&b);
    convstat_line("not json", 8, line, sizeof line);
    CHECK(line[0] == '\0');
}
