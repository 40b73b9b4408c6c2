/*
 * test.h: the unit tests' tiny harness. TEST(name) defines and registers a
 * test; CHECK(cond) records a failure and goes on; REQUIRE(cond) returns.
 * tests/unit/main.c runs them all and prints "N passed, N failed".
 */
#ifndef ANYCLAUDE_TEST_H
#define ANYCLAUDE_TEST_H

#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
extern int test_failed_checks;
/* Directory holding tests/ (set from the ANYCLAUDE_TESTS env or "tests"). */
const char *test_dir(void);
/* Read a whole file; returns malloc'd NUL-terminated bytes or NULL. */
char *test_read_file(const char *path, size_t *len);

#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void test_reg_##name(void)                                 \
    {                                                                                              \
        test_register(#name, test_##name);                                                         \
    }                                                                                              \
    static void test_##name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);             \
            test_failed_checks++;                                                                  \
        }                                                                                          \
    } while (0)

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: REQUIRE(%s) failed\n", __FILE__, __LINE__, #cond);           \
            test_failed_checks++;                                                                  \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            fprintf(stderr, "  %s:%d: %s == %s failed:\n    got:  %s\n    want: %s\n", __FILE__,   \
                    __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                     \
            test_failed_checks++;                                                                  \
        }                                                                                          \
    } while (0)

#endif
