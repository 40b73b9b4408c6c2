/* Tests for src/modelcheck.c: the configured model against a /models list,
 * and the one-line refusal that names what the server serves. */
#include <string.h>

#include "modelcheck.h"
#include "test.h"

TEST(modelcheck_listed_exact_names)
{
    /* mlx_lm.server's own format (Python json.dumps spacing) */
    static const char one[] = "{\"object\": \"list\", \"data\": [{\"id\": "
                              "\"mlx-community/Qwen3-Coder-30B-A3B-Instruct-4bit\", \"object\": "
                              "\"model\", \"created\": 1}]}";
    char served[256];
    CHECK(modelcheck_listed(one, strlen(one), "mlx-community/Qwen3-Coder-30B-A3B-Instruct-4bit",
                            served, sizeof served) == 1);
    /* a prefix or a substring is not the name: the server would try to download it */
    CHECK(modelcheck_listed(one, strlen(one), "mlx-community/Qwen3-Coder", served, sizeof served) ==
          0);
    CHECK_STR(served, "\"mlx-community/Qwen3-Coder-30B-A3B-Instruct-4bit\"");
    CHECK(modelcheck_listed(one, strlen(one), "claude-opus-5-5", served, sizeof served) == 0);
    static const char two[] = "{\"data\":[{\"id\":\"a\"},{\"id\":\"b\"},{\"x\":1}]}";
    CHECK(modelcheck_listed(two, strlen(two), "c", served, sizeof served) == 0);
    CHECK_STR(served, "\"a\", \"b\"");
    CHECK(modelcheck_listed("{}", 2, "a", served, sizeof served) == -1);
    CHECK(modelcheck_listed("not json", 8, "a", served, sizeof served) == -1);
    /* a tiny buffer is cut, never overrun */
    char small[5];
    CHECK(modelcheck_listed(two, strlen(two), "c", small, sizeof small) == 0);
    CHECK(strlen(small) < sizeof small);
}

/* LM Studio's /api/v0/models (its documented format): "type" says whether a
 * model takes images. */
TEST(modelcheck_lmstudio_vision_types)
{
    static const char j[] =
        "{\"object\":\"list\",\"data\":[{\"id\":\"qwen2-vl-7b-instruct\",\"type\":\"vlm\","
        "\"state\":\"not-loaded\"},{\"id\":\"qwen3-coder\",\"type\":\"llm\",\"state\":"
        "\"loaded\"},{\"id\":\"nomic\",\"type\":\"embeddings\",\"state\":\"loaded\"}]}";
    CHECK(modelcheck_lmstudio_vision(j, strlen(j), "") == 0); /* the loaded one */
    CHECK(modelcheck_lmstudio_vision(j, strlen(j), NULL) == 0);
    CHECK(modelcheck_lmstudio_vision(j, strlen(j), "qwen2-vl-7b-instruct") == 1);
    CHECK(modelcheck_lmstudio_vision(j, strlen(j), "nomic") == -1);
    CHECK(modelcheck_lmstudio_vision(j, strlen(j), "absent") == -1);
    CHECK(modelcheck_lmstudio_vision("[]", 2, "") == -1);
    CHECK(modelcheck_lmstudio_vision(NULL, 0, "") == -1);
}

/* llama-server's /props (llama.cpp as bundled by node-llama-cpp 3.21.1):
 * modalities.vision is true only with an --mmproj. */
TEST(modelcheck_llamacpp_vision_props)
{
    static const char no[] = "{\"total_slots\":2,\"modalities\":{\"vision\":false,\"video\":false,"
                             "\"audio\":false}}";
    static const char yes[] = "{\"modalities\":{\"vision\":true}}";
    CHECK(modelcheck_llamacpp_vision(no, strlen(no)) == 0);
    CHECK(modelcheck_llamacpp_vision(yes, strlen(yes)) == 1);
    CHECK(modelcheck_llamacpp_vision("{\"total_slots\":1}", 17) == -1);
    CHECK(modelcheck_llamacpp_vision("oops", 4) == -1);
}

TEST(modelcheck_message_one_line)
{
    char err[1024];
    const mode_profile *mlx = mode_find("mlx-lm");
    REQUIRE(mlx != NULL);
    modelcheck_message(err, sizeof err, "claude-opus-5-5", "http://localhost:8081/v1",
                       "\"mlx-community/Q\"", mlx);
    CHECK(strstr(err, "model \"claude-opus-5-5\" is not served by http://localhost:8081/v1") ==
          err);
    CHECK(strstr(err, "has loaded \"mlx-community/Q\"") != NULL);
    CHECK(strstr(err, "MLX_LM_MODEL") != NULL);
    CHECK(strstr(err, "unload") != NULL);
    modelcheck_message(err, sizeof err, "x\ny", "http://h/v1", "\"a\", \"b\"", mlx);
    CHECK(strchr(err, '\n') == NULL);
    CHECK(strstr(err, "lists \"a\", \"b\"") != NULL);
    CHECK(modelcheck_applies(mlx) && modelcheck_applies(mode_find("lmstudio")));
    CHECK(!modelcheck_applies(mode_find("llamacpp")) && !modelcheck_applies(mode_find("openai")));
}
