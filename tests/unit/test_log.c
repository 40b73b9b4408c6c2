/* Tests for src/log.c's redaction: registered secrets, Bearer tokens and
 * sk- keys are masked; words that merely contain "sk-" are not. */
#include "log.h"
#include "test.h"

TEST(log_redact_keys_not_words)
{
    char a[] = "key sk-ant-api03-abcdefgh123 and \"sk-proj_ABCDEFGHIJ\" end";
    log_redact(a);
    CHECK_STR(a, "key sk-********************* and \"sk-***************\" end");
    char b[] = "<task-notification> a-task-abcdefghijk disk-abcdefghijkl";
    log_redact(b);
    CHECK_STR(b, "<task-notification> a-task-abcdefghijk disk-abcdefghijkl");
    char c[] = "Authorization: Bearer tok123, next";
    log_redact(c);
    CHECK_STR(c, "Authorization: Bearer ******, next");
    char d[] = "short sk-abc stays";
    log_redact(d);
    CHECK_STR(d, "short sk-abc stays");
    log_add_secret("my-configured-secret");
    char e[] = "echo:my-configured-secret!";
    log_redact(e);
    CHECK_STR(e, "echo:********************!");
    char f[] = "xx my-configured-secret yy";
    log_redact_secrets(f, sizeof f - 1);
    CHECK_STR(f, "xx ******************** yy");
}
