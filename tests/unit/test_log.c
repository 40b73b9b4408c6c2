/* Tests for src/log.c's redaction: registered secrets, Bearer tokens and
 * sk- keys are masked; words that merely contain "sk-" are not. */
#include "log.h"
#include "test.h"

TEST(log_redact_keys_not_words)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"key sk-ant-api03-abcdefgh123 and \"sk-proj_ABCDEFGHIJ\" end",
         "key sk-********************* and \"sk-***************\" end"},
        {"<task-notification> a-task-abcdefghijk disk-abcdefghijkl",
         "<task-notification> a-task-abcdefghijk disk-abcdefghijkl"},
        {"Authorization: Bearer tok123, next", "Authorization: Bearer ******, next"},
        {"short sk-abc stays", "short sk-abc stays"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "%s", cases[i].in);
        log_redact(line);
        CHECK_STR(line, cases[i].want);
    }
    log_add_secret("my-configured-secret");
    char e[] = "echo:my-configured-secret!";
    log_redact(e);
    CHECK_STR(e, "echo:********************!");
    char f[] = "xx my-configured-secret yy";
    log_redact_secrets(f, sizeof f - 1);
    CHECK_STR(f, "xx ******************** yy");
}
