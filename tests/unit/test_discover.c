/* Tests for src/discover.c: naming a local model server from its answers.
 * Golden cases live in tests/golden/discover/CASE/: `port`, one file per
 * path answered (v1_models.json, props.json, api_version.json,
 * api_v0_models.json, version.json: HTTP 200 with that body, or the status
 * in NAME.status; a missing file is a 404), and expected.txt (the name,
 * mode, flags, models and context found, or "none"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discover.h"
#include "test.h"

static const char *const files[DISCOVER_NPATHS] = {"v1_models", "props", "api_version",
                                                   "api_v0_models", "version"};

static void run_case(const char *name)
{
    char path[600];
    char *bodies[DISCOVER_NPATHS] = {0};
    discover_answer ans[DISCOVER_NPATHS];
    for (int i = 0; i < DISCOVER_NPATHS; i++) {
        size_t len = 0;
        snprintf(path, sizeof path, "%s/golden/discover/%s/%s.json", test_dir(), name, files[i]);
        bodies[i] = test_read_file(path, &len);
        ans[i].status = bodies[i] ? 200 : 404;
        ans[i].body = bodies[i] ? bodies[i] : "Not Found";
        ans[i].len = bodies[i] ? len : 9;
        snprintf(path, sizeof path, "%s/golden/discover/%s/%s.status", test_dir(), name, files[i]);
        char *st = test_read_file(path, NULL);
        if (st) ans[i].status = strtol(st, NULL, 10);
        free(st);
    }
    snprintf(path, sizeof path, "%s/golden/discover/%s/port", test_dir(), name);
    char *port = test_read_file(path, NULL);
    snprintf(path, sizeof path, "%s/golden/discover/%s/expected.txt", test_dir(), name);
    char *want = test_read_file(path, NULL);
    CHECK(port && want);
    discover_found f;
    char got[1200];
    if (port && discover_identify((int)strtol(port, NULL, 10), ans, &f))
        snprintf(got, sizeof got, "name: %s\nmode: %s\nflags: %s\nmodels: %s\ncontext: %ld\n",
                 f.name, f.mode, f.flags, f.models, f.context);
    else
        snprintf(got, sizeof got, "none\n");
    CHECK_STR(got, want ? want : "");
    if (want && strcmp(got, want) != 0) fprintf(stderr, "  (golden case discover/%s)\n", name);
    for (int i = 0; i < DISCOVER_NPATHS; i++)
        free(bodies[i]);
    free(port);
    free(want);
}

TEST(discover_golden)
{
    char dir[512], **names;
    snprintf(dir, sizeof dir, "%s/golden/discover", test_dir());
    size_t n = golden_list(dir, "", NULL, &names);
    for (size_t i = 0; i < n; i++)
        run_case(names[i]);
    golden_free(names, n);
    CHECK(n >= 8);
}

static discover_answer ok(const char *body)
{
    return (discover_answer){200, body, strlen(body)};
}

static void none(discover_answer *a)
{
    for (int i = 0; i < DISCOVER_NPATHS; i++)
        a[i] = (discover_answer){404, "Not Found", 9};
}

TEST(discover_tells)
{
    discover_answer a[DISCOVER_NPATHS];
    discover_found f;
    /* nothing on /v1/models: not a server anyclaude can use */
    none(a);
    CHECK(discover_identify(8081, a, &f) == 0);
    /* a connection refused everywhere */
    for (int i = 0; i < DISCOVER_NPATHS; i++)
        a[i] = (discover_answer){0, NULL, 0};
    CHECK(discover_identify(8081, a, &f) == 0);
    /* llama-server told by its /props alone */
    none(a);
    a[DISCOVER_P_MODELS] =
        ok("{\"object\":\"list\",\"data\":[{\"id\":\"m.gguf\",\"object\":\"model\"}]}");
    a[DISCOVER_P_PROPS] =
        ok("{\"default_generation_settings\":{\"n_ctx\":8192},\"total_slots\":1}");
    REQUIRE(discover_identify(8080, a, &f) == 1);
    CHECK(f.kind == DISCOVER_LLAMACPP);
    CHECK_STR(f.flags, "--mode llamacpp");
    CHECK(f.context == 8192);
    /* the same list without /props on 8080 is MLX-LM's (its default port) */
    a[DISCOVER_P_PROPS] = (discover_answer){404, "Not Found", 9};
    REQUIRE(discover_identify(8080, a, &f) == 1);
    CHECK(f.kind == DISCOVER_MLX);
    CHECK_STR(f.flags, "--mode mlx-lm --backend http://localhost:8080/v1");
    /* llama-server by owned_by on another port, with the URL to use */
    a[DISCOVER_P_MODELS] =
        ok("{\"data\":[{\"id\":\"m\",\"object\":\"model\",\"owned_by\":\"llamacpp\"}]}");
    REQUIRE(discover_identify(9000, a, &f) == 1);
    CHECK(f.kind == DISCOVER_LLAMACPP);
    CHECK_STR(f.flags, "--mode llamacpp --backend http://localhost:9000/v1");
    CHECK_STR(f.url, "http://localhost:9000/v1");
    /* LM Studio by owned_by alone (its /api/v0 answered an error object) */
    a[DISCOVER_P_MODELS] =
        ok("{\"data\":[{\"id\":\"q\",\"object\":\"model\",\"owned_by\":\"organization_owner\"}]}");
    a[DISCOVER_P_LMSTUDIO] = ok("{\"error\":\"Unexpected endpoint or method.\"}");
    REQUIRE(discover_identify(1234, a, &f) == 1);
    CHECK(f.kind == DISCOVER_LMSTUDIO);
    CHECK_STR(f.flags, "--mode lmstudio");
    /* an empty list is still a server, with no model to name */
    a[DISCOVER_P_MODELS] = ok("{\"object\":\"list\",\"data\":[]}");
    REQUIRE(discover_identify(8081, a, &f) == 1);
    CHECK(f.nmodels == 0);
    char d[300];
    discover_describe(&f, d, sizeof d);
    CHECK(strstr(d, "no model listed") != NULL);
    /* Ollama's /api/version wins over everything else it might say */
    a[DISCOVER_P_MODELS] = ok("{\"data\":[{\"id\":\"x\",\"owned_by\":\"llamacpp\"}]}");
    a[DISCOVER_P_OLLAMA] = ok("{\"version\":\"0.9.0\"}");
    REQUIRE(discover_identify(11434, a, &f) == 1);
    CHECK(f.kind == DISCOVER_OLLAMA);
}

TEST(discover_many_models_cut)
{
    discover_answer a[DISCOVER_NPATHS];
    none(a);
    char body[8192];
    size_t n = (size_t)snprintf(body, sizeof body, "{\"data\":[");
    for (int i = 0; i < 60; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, "%s{\"id\":\"model-number-%02d\"}",
                              i ? "," : "", i);
    snprintf(body + n, sizeof body - n, "]}");
    a[DISCOVER_P_MODELS] = ok(body);
    discover_found f;
    REQUIRE(discover_identify(8081, a, &f) == 1);
    CHECK(f.nmodels == 60);
    CHECK(strlen(f.models) < sizeof f.models);
    size_t l = strlen(f.models);
    CHECK(l > 5 && strcmp(f.models + l - 5, ", ...") == 0);
    CHECK(strncmp(f.models, "model-number-00, model-number-01", 32) == 0);
}

TEST(discover_ports_and_pick)
{
    int p[DISCOVER_MAX_PORTS];
    char err[200];
    CHECK(discover_parse_ports("1234,8081", p, DISCOVER_MAX_PORTS, err, sizeof err) == 2);
    CHECK(p[0] == 1234 && p[1] == 8081);
    CHECK(discover_parse_ports(" 8000 , 11434 ", p, DISCOVER_MAX_PORTS, err, sizeof err) == 2);
    CHECK(p[0] == 8000 && p[1] == 11434);
    CHECK(discover_parse_ports("80x", p, DISCOVER_MAX_PORTS, err, sizeof err) == -1);
    CHECK(strstr(err, "ANYCLAUDE_DISCOVER_PORTS: bad port list \"80x\"") != NULL);
    CHECK(discover_parse_ports("0", p, DISCOVER_MAX_PORTS, err, sizeof err) == -1);
    CHECK(discover_parse_ports("70000", p, DISCOVER_MAX_PORTS, err, sizeof err) == -1);
    CHECK(discover_parse_ports(",", p, DISCOVER_MAX_PORTS, err, sizeof err) == -1);
    CHECK(discover_parse_ports("1,2,3", p, 2, err, sizeof err) == -1);
    /* the real defaults, in order of preference */
    CHECK(discover_ndefault_ports == 5);
    CHECK(discover_default_ports[0] == 8081 && discover_default_ports[1] == 8080 &&
          discover_default_ports[2] == 1234 && discover_default_ports[3] == 11434 &&
          discover_default_ports[4] == 8000);
    discover_found f[3];
    memset(f, 0, sizeof f);
    CHECK(discover_pick(f, 0) == -1);
    CHECK(discover_pick(f, 3) == 0);
    f[2].nmodels = 1;
    CHECK(discover_pick(f, 3) == 2);
    f[1].nmodels = 4;
    CHECK(discover_pick(f, 3) == 1);
}
