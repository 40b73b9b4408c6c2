/* Tests for src/config.c and src/cli.c: precedence (flags > environment >
 * config file > defaults), each mode's defaults and variables, and the
 * one-line message for every bad value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "test.h"

static int resolve(config *c, const char *const *env, const config_flag *f, size_t nf, char *err)
{
    test_env = env;
    config_defaults(c);
    return config_resolve(c, f, nf, test_getenv, err, 512);
}

static const char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/anyclaude-test-%d.json", (int)getpid());
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

TEST(config_defaults_are_mlx_lm)
{
    config c;
    char err[512];
    const char *env[] = {"HOME=/nonexistent", NULL};
    REQUIRE(resolve(&c, env, NULL, 0, err) == 0);
    CHECK_STR(c.mode->name, "mlx-lm");
    CHECK_STR(c.backend, "http://localhost:8081/v1");
    CHECK_STR(c.api_key, "mlx-lm");
    CHECK_STR(c.model, "");
    CHECK_STR(c.host, "127.0.0.1");
    CHECK(c.max_tokens == 16384);
    CHECK(c.port == -1);
}

TEST(config_mode_defaults)
{
    config c;
    char err[512];
    const char *env1[] = {"HOME=/nonexistent", "ANYCLAUDE_MODE=lmstudio", NULL};
    REQUIRE(resolve(&c, env1, NULL, 0, err) == 0);
    CHECK_STR(c.backend, "http://localhost:1234/v1");
    const char *env2[] = {"HOME=/nonexistent", "ANYCLAUDE_MODE=llamacpp", NULL};
    REQUIRE(resolve(&c, env2, NULL, 0, err) == 0);
    CHECK_STR(c.backend, "http://localhost:8080/v1");
    CHECK(c.mode->cache_prompt == 1);
    const char *env3[] = {"HOME=/nonexistent", "ANYCLAUDE_MODE=openai",
                          "OPENAI_BASE_URL=https://api.example.com/v1/", "OPENAI_API_KEY=sk-abc",
                          NULL};
    REQUIRE(resolve(&c, env3, NULL, 0, err) == 0);
    CHECK_STR(c.backend, "https://api.example.com/v1");
    CHECK_STR(c.api_key, "sk-abc");
}

TEST(config_original_environment)
{
    config c;
    char err[512];
    const char *env[] = {"HOME=/nonexistent",
                         "ANYCLAUDE_MODE=mlx-lm",
                         "MLX_LM_URL=http://127.0.0.1:9999/v1",
                         "MLX_LM_API_KEY=k1",
                         "MLX_LM_MODEL=qwen",
                         "ANYCLAUDE_DEBUG=2",
                         "ANYCLAUDE_PORT=7000",
                         "ANYCLAUDE_MAX_OUTPUT_TOKENS=4096",
                         NULL};
    REQUIRE(resolve(&c, env, NULL, 0, err) == 0);
    CHECK_STR(c.backend, "http://127.0.0.1:9999/v1");
    CHECK_STR(c.api_key, "k1");
    CHECK_STR(c.model, "qwen");
    CHECK(c.debug == 2);
    CHECK(c.port == 7000);
    CHECK(c.max_tokens == 4096);
}

TEST(config_precedence_flags_env_file)
{
    config c;
    char err[512];
    const char *path = write_tmp("{\"mode\":\"llamacpp\",\"port\":1111,\"model\":\"from-file\","
                                 "\"backends\":{\"llamacpp\":{\"backend\":\"http://file:1/v1\"}},"
                                 "\"debug\":1}");
    char envcfg[128];
    snprintf(envcfg, sizeof envcfg, "ANYCLAUDE_CONFIG=%s", path);
    /* file only */
    const char *env1[] = {envcfg, NULL};
    REQUIRE(resolve(&c, env1, NULL, 0, err) == 0);
    CHECK_STR(c.mode->name, "llamacpp");
    CHECK_STR(c.backend, "http://file:1/v1");
    CHECK(c.port == 1111);
    CHECK_STR(c.model, "from-file");
    /* environment beats file */
    const char *env2[] = {envcfg, "ANYCLAUDE_PORT=2222", "LLAMACPP_URL=http://env:2/v1",
                          "LLAMACPP_MODEL=from-env", NULL};
    REQUIRE(resolve(&c, env2, NULL, 0, err) == 0);
    CHECK(c.port == 2222);
    CHECK_STR(c.backend, "http://env:2/v1");
    CHECK_STR(c.model, "from-env");
    CHECK(c.debug == 1);
    /* flags beat environment */
    config_flag f[] = {{"port", "3333"}, {"backend", "http://flag:3/v1"}, {"model", "from-flag"}};
    REQUIRE(resolve(&c, env2, f, 3, err) == 0);
    CHECK(c.port == 3333);
    CHECK_STR(c.backend, "http://flag:3/v1");
    CHECK_STR(c.model, "from-flag");
    /* a mode flag switches which variables name the backend */
    const char *env3[] = {envcfg, "LLAMACPP_URL=http://env:2/v1", "LMSTUDIO_URL=http://lms:4/v1",
                          NULL};
    config_flag f2[] = {{"mode", "lmstudio"}};
    REQUIRE(resolve(&c, env3, f2, 1, err) == 0);
    CHECK_STR(c.mode->name, "lmstudio");
    CHECK_STR(c.backend, "http://lms:4/v1");
    unlink(path);
}

TEST(config_xdg_file)
{
    config c;
    char err[512];
    char dir[128], file[200];
    snprintf(dir, sizeof dir, "/tmp/anyclaude-xdg-%d", (int)getpid());
    snprintf(file, sizeof file, "%s/anyclaude", dir);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", file);
    REQUIRE(system(cmd) == 0);
    snprintf(file, sizeof file, "%s/anyclaude/config.json", dir);
    FILE *fp = fopen(file, "w");
    REQUIRE(fp != NULL);
    fputs("{\"mode\":\"lmstudio\"}", fp);
    fclose(fp);
    char xdg[200];
    snprintf(xdg, sizeof xdg, "XDG_CONFIG_HOME=%s", dir);
    const char *env[] = {xdg, NULL};
    REQUIRE(resolve(&c, env, NULL, 0, err) == 0);
    CHECK_STR(c.mode->name, "lmstudio");
    CHECK_STR(c.config_file, file);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* Every bad value stops with one line naming what is wrong and what is
 * accepted. */
TEST(config_bad_values)
{
    config c;
    char err[512];
    struct {
        const char *env;
        const char *want;
    } cases[] = {
        {"ANYCLAUDE_MODE=ollama",
         "ANYCLAUDE_MODE: unknown mode \"ollama\"; accepted: mlx-lm, lmstudio, llamacpp, openai"},
        {"MLX_LM_URL=localhost:8081", "MLX_LM_URL: malformed backend URL \"localhost:8081\"; "
                                      "expected http(s)://host[:port][/path]"},
        {"MLX_LM_URL=http://host:99999/v1", "malformed backend URL"},
        {"ANYCLAUDE_PORT=http",
         "ANYCLAUDE_PORT: bad port \"http\"; expected 0 (any free port) to 65535"},
        {"ANYCLAUDE_DEBUG=9", "ANYCLAUDE_DEBUG: bad debug level \"9\"; expected 0, 1, 2 or 3"},
        {"ANYCLAUDE_MAX_OUTPUT_TOKENS=-5",
         "ANYCLAUDE_MAX_OUTPUT_TOKENS: bad max output tokens \"-5\""},
        {"ANYCLAUDE_CONFIG=/nonexistent/x.json",
         "config file /nonexistent/x.json: No such file or directory; pass a readable JSON file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *env[] = {"HOME=/nonexistent", cases[i].env, NULL};
        err[0] = '\0';
        CHECK(resolve(&c, env, NULL, 0, err) == -1);
        if (!strstr(err, cases[i].want)) {
            fprintf(stderr, "  case %s: got \"%s\"\n", cases[i].env, err);
            CHECK(0);
        }
        CHECK(strchr(err, '\n') == NULL);
    }
    const char *env[] = {"HOME=/nonexistent", "ANYCLAUDE_MODE=openai", NULL};
    CHECK(resolve(&c, env, NULL, 0, err) == -1);
    CHECK(
        strstr(err, "mode openai needs a backend URL: pass --backend URL or set OPENAI_BASE_URL") !=
        NULL);
    const char *path = write_tmp("{\"mode\": llamacpp}");
    char envcfg[128];
    snprintf(envcfg, sizeof envcfg, "ANYCLAUDE_CONFIG=%s", path);
    const char *env2[] = {envcfg, NULL};
    CHECK(resolve(&c, env2, NULL, 0, err) == -1);
    CHECK(strstr(err, "not a JSON object") != NULL);
    write_tmp("{\"colour\":\"red\"}");
    CHECK(resolve(&c, env2, NULL, 0, err) == -1);
    CHECK(strstr(err, "\"colour\": unknown key; accepted: mode, backend") != NULL);
    unlink(path);
    config_flag f[] = {{"backend", "ftp://x"}};
    const char *env3[] = {"HOME=/nonexistent", NULL};
    CHECK(resolve(&c, env3, f, 1, err) == -1);
    CHECK(strstr(err, "--backend: malformed backend URL \"ftp://x\"") != NULL);
}

TEST(cli_parse_passes_unknown_to_claude)
{
    char *argv[] = {"anyclaude",   "--mode",         "llamacpp",   "-p",
                    "fix the bug", "--allowedTools", "Write,Bash", "--port=9000",
                    "--",          "--mode",         "x",          NULL};
    cli_args a;
    char err[256];
    REQUIRE(cli_parse(10, argv + 1, NULL, &a, err, sizeof err) == 0);
    REQUIRE(a.nflags == 2);
    CHECK_STR(a.flags[0].name, "mode");
    CHECK_STR(a.flags[0].value, "llamacpp");
    CHECK_STR(a.flags[1].name, "port");
    CHECK_STR(a.flags[1].value, "9000");
    REQUIRE(a.npass == 6);
    CHECK_STR(a.pass[0], "-p");
    CHECK_STR(a.pass[1], "fix the bug");
    CHECK_STR(a.pass[2], "--allowedTools");
    CHECK_STR(a.pass[3], "Write,Bash");
    CHECK_STR(a.pass[4], "--mode");
    CHECK_STR(a.pass[5], "x");
}

TEST(cli_parse_serve_rejects_unknown)
{
    char *argv[] = {"anyclaude", "serve", "--bogus", NULL};
    cli_args a;
    char err[256];
    CHECK(cli_parse(1, argv + 2, "serve", &a, err, sizeof err) == -1);
    CHECK(strstr(err, "unknown option \"--bogus\" for serve") != NULL);
    char *argv2[] = {"anyclaude", "serve", "--port", NULL};
    CHECK(cli_parse(1, argv2 + 2, "serve", &a, err, sizeof err) == -1);
    CHECK(strstr(err, "--port needs a value") != NULL);
}

TEST(cli_exposure_needs_token)
{
    config c;
    config_defaults(&c);
    char err[512];
    CHECK(cli_check_exposure(&c, err, sizeof err) == 0);
    snprintf(c.host, sizeof c.host, "0.0.0.0");
    CHECK(cli_check_exposure(&c, err, sizeof err) == -1);
    CHECK(strstr(err, "--auth-token") != NULL);
    snprintf(c.auth_token, sizeof c.auth_token, "secret-token");
    CHECK(cli_check_exposure(&c, err, sizeof err) == 0);
}

TEST(config_routes_from_file)
{
    config c;
    char err[512] = "";
    const char *path = write_tmp(
        "{\"mode\":\"openai\",\"healthCheckMs\":250,\"caFile\":\"/etc/ca.pem\",\"backends\":{"
        "\"a\":{\"mode\":\"llamacpp\",\"url\":\"http://a:8080/v1\"},\"c\":{\"mode\":\"claude\"}},"
        "\"routes\":[{\"when\":\"background\",\"to\":\"c,claude-haiku-4-5\"},"
        "{\"when\":\"default\",\"to\":\"a\",\"fallback\":[\"c\"]}]}");
    config_flag f[] = {{"config", path}};
    const char *env[] = {"HOME=/nonexistent", "ANTHROPIC_API_KEY=sk-ant-x", NULL};
    /* openai mode has no default URL: with routes that is not an error */
    REQUIRE(resolve(&c, env, f, 1, err) == 0);
    CHECK(c.routing.configured);
    CHECK(c.routing.nbackends == 2 && c.routing.nroutes == 2);
    CHECK(c.routing.health_ms == 250);
    CHECK_STR(c.ca_file, "/etc/ca.pem");
    CHECK_STR(c.routing.backends[1].api_key, "sk-ant-x");
    CHECK(c.tool_recovery == -1); /* follows each backend's mode */
    /* a flag wins over the file's caFile; the environment too */
    config_flag f2[] = {{"config", path}, {"ca-file", "/flag.pem"}};
    REQUIRE(resolve(&c, env, f2, 2, err) == 0);
    CHECK_STR(c.ca_file, "/flag.pem");
    const char *env2[] = {"HOME=/nonexistent", "ANYCLAUDE_CA_FILE=/env.pem", NULL};
    REQUIRE(resolve(&c, env2, f, 1, err) == 0);
    CHECK_STR(c.ca_file, "/env.pem");
    /* a bad route is one line naming the file and the key */
    path = write_tmp("{\"backends\":{\"a\":{\"mode\":\"llamacpp\"}},\"routes\":[{\"when\":"
                     "\"subagent\",\"to\":\"a\"}]}");
    config_flag f3[] = {{"config", path}};
    CHECK(resolve(&c, env, f3, 1, err) == -1);
    CHECK(strstr(err, "\"when\": \"default\"") != NULL);
    CHECK(strchr(err, '\n') == NULL);
    path = write_tmp("{\"healthCheckMs\":5}");
    CHECK(resolve(&c, env, f3, 1, err) == -1);
    CHECK(strstr(err, "health-check interval") != NULL);
    unlink(path);
}

/* "current-model" (the original tool's documented default) and an empty
 * value mean the loaded model: no model is sent. "vision" sets whether
 * images reach the backend; mlx-lm takes text only by default. */
TEST(config_current_model_and_vision)
{
    config c;
    char err[512];
    const char *env[] = {"HOME=/nonexistent", "MLX_LM_MODEL=current-model", NULL};
    REQUIRE(resolve(&c, env, NULL, 0, err) == 0);
    CHECK_STR(c.model, "");
    CHECK_STR(c.routing.backends[0].model, "");
    CHECK(route_backend_text_only(&c.routing.backends[0]) == 1);
    const char *env2[] = {"HOME=/nonexistent", "MLX_LM_MODEL=mlx-community/Q", NULL};
    config_flag on[] = {{"vision", "on"}};
    REQUIRE(resolve(&c, env2, on, 1, err) == 0);
    CHECK_STR(c.model, "mlx-community/Q");
    CHECK(route_backend_text_only(&c.routing.backends[0]) == 0);
    config_flag lm[] = {{"mode", "lmstudio"}};
    REQUIRE(resolve(&c, env2, lm, 1, err) == 0);
    CHECK(route_backend_text_only(&c.routing.backends[0]) == 0);
    const char *env3[] = {"HOME=/nonexistent", "ANYCLAUDE_VISION=off", NULL};
    REQUIRE(resolve(&c, env3, lm, 1, err) == 0);
    CHECK(route_backend_text_only(&c.routing.backends[0]) == 1);
    config_flag bad[] = {{"vision", "maybe"}};
    CHECK(resolve(&c, env2, bad, 1, err) == -1);
    CHECK(strstr(err, "expected on, off or auto") != NULL);
    const char *path = write_tmp("{\"backends\":{\"m\":{\"mode\":\"mlx-lm\",\"vision\":true,"
                                 "\"model\":\"current-model\"},\"l\":{\"mode\":\"lmstudio\","
                                 "\"vision\":false}},\"routes\":[{\"when\":\"default\",\"to\":"
                                 "[\"m\",\"l\"]}]}");
    config_flag f[] = {{"config", path}};
    REQUIRE(resolve(&c, env, f, 1, err) == 0);
    CHECK(route_backend_text_only(&c.routing.backends[0]) == 0);
    CHECK_STR(c.routing.backends[0].model, "");
    CHECK(route_backend_text_only(&c.routing.backends[1]) == 1);
    path = write_tmp("{\"backends\":{\"m\":{\"mode\":\"mlx-lm\",\"vision\":3}},\"routes\":[{"
                     "\"when\":\"default\",\"to\":\"m\"}]}");
    CHECK(resolve(&c, env, f, 1, err) == -1);
    CHECK(strstr(err, "backends.m.vision") != NULL);
    unlink(path);
}

TEST(config_single_backend_table)
{
    config c;
    char err[512];
    const char *env[] = {"HOME=/nonexistent", "LLAMACPP_URL=http://h:9/v1", NULL};
    config_flag f[] = {{"mode", "llamacpp"}, {"model", "q"}, {"slots", "3"}};
    REQUIRE(resolve(&c, env, f, 3, err) == 0);
    CHECK(!c.routing.configured);
    CHECK(c.routing.nbackends == 1 && c.routing.nroutes == 1);
    CHECK_STR(c.routing.backends[0].name, "llamacpp");
    CHECK_STR(c.routing.backends[0].url, "http://h:9/v1");
    CHECK_STR(c.routing.backends[0].model, "q");
    CHECK(c.routing.backends[0].slots == 3);
    config_flag g[] = {{"mode", "claude"}};
    const char *env2[] = {"HOME=/nonexistent", "ANTHROPIC_API_KEY=sk-ant-y", NULL};
    REQUIRE(resolve(&c, env2, g, 1, err) == 0);
    CHECK_STR(c.backend, "https://api.anthropic.com");
    CHECK_STR(c.routing.backends[0].api_key, "sk-ant-y");
    CHECK(c.routing.backends[0].mode->passthru == MODE_CLAUDE);
    config_flag h[] = {{"mode", "anthropic"}};
    CHECK(resolve(&c, env2, h, 1, err) == -1);
    CHECK(strstr(err, "ANYCLAUDE_ANTHROPIC_URL") != NULL);
}

TEST(config_context_window)
{
    config c;
    char err[512];
    const char *env[] = {"ANYCLAUDE_CONTEXT_WINDOW=65536", "HOME=/nonexistent", NULL};
    REQUIRE(resolve(&c, env, NULL, 0, err) == 0);
    CHECK(c.routing.backends[0].context_window == 65536);
    CHECK(c.routing.backends[0].window_configured);
    config_flag f[] = {{"context-window", "32768"}};
    REQUIRE(resolve(&c, env, f, 1, err) == 0); /* the flag wins */
    CHECK(c.routing.backends[0].context_window == 32768);
    const char *none[] = {"HOME=/nonexistent", NULL};
    REQUIRE(resolve(&c, none, NULL, 0, err) == 0);
    CHECK(c.routing.backends[0].context_window == 0 && !c.routing.backends[0].window_configured);
    config_flag bad[] = {{"context-window", "100"}};
    CHECK(resolve(&c, none, bad, 1, err) < 0);
    CHECK(strstr(err, "expected tokens, 1024 to 100000000") != NULL);
    const char *file = write_tmp("{\"backends\":{\"a\":{\"mode\":\"llamacpp\",\"contextWindow\":"
                                 "40960}},\"routes\":[{\"when\":\"default\",\"to\":\"a\"}]}");
    config_flag cf[] = {{"config", file}};
    REQUIRE(resolve(&c, none, cf, 1, err) == 0);
    CHECK(c.routing.backends[0].context_window == 40960);
}

/* "auto" is a mode value everywhere a mode is read; it and every other
 * mode value mark the mode as chosen (no discovery hints then). */
TEST(config_mode_auto)
{
    config c;
    char err[512];
    const char *env0[] = {"HOME=/nonexistent", NULL};
    REQUIRE(resolve(&c, env0, NULL, 0, err) == 0);
    CHECK(c.mode_auto == 0 && c.mode_explicit == 0);
    config_flag f[] = {{"mode", "auto"}};
    REQUIRE(resolve(&c, env0, f, 1, err) == 0);
    CHECK(c.mode_auto == 1 && c.mode_explicit == 1);
    const char *env1[] = {"HOME=/nonexistent", "ANYCLAUDE_MODE=auto", NULL};
    REQUIRE(resolve(&c, env1, NULL, 0, err) == 0);
    CHECK(c.mode_auto == 1);
    const char *env2[] = {"HOME=/nonexistent", "ANYCLAUDE_MODE=lmstudio", NULL};
    REQUIRE(resolve(&c, env2, NULL, 0, err) == 0);
    CHECK(c.mode_auto == 0 && c.mode_explicit == 1);
    config_flag bad[] = {{"mode", "lmstudo"}};
    CHECK(resolve(&c, env2, bad, 1, err) == -1);
    CHECK(strstr(err, "accepted: mlx-lm, lmstudio, llamacpp, openai, anthropic, claude, auto") !=
          NULL);
}
