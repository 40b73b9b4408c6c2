/*
 * test.h: the unit tests' tiny harness. TEST(name) defines and registers a
 * test; CHECK(cond) records a failure and goes on; REQUIRE(cond) returns.
 * tests/unit/main.c runs them all and prints "N passed, N failed".
 */
#ifndef ANYCLAUDE_TEST_H
#define ANYCLAUDE_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
extern int test_failed_checks;
/* Directory holding tests/ (set from the ANYCLAUDE_TESTS env or "tests"). */
const char *test_dir(void);
/* Read a whole file; returns malloc'd NUL-terminated bytes or NULL. */
char *test_read_file(const char *path, size_t *len);
/* A fake environment for config_resolve and friends: test_getenv looks
 * NAME up in test_env, a NULL-terminated list of "NAME=VALUE" strings. */
extern const char *const *test_env;
const char *test_getenv(const char *name);
/* xorshift64: the next pseudo-random number from *state (not 0), for
 * tests that generate inputs reproducibly. */
uint32_t test_rand(uint64_t *state);
/* Does s end in suffix? */
int test_ends_with(const char *s, const char *suffix);

/* Golden files (tests/unit/golden.c). The cases in dir: the sorted names
 * of its files that end in suffix, without it, leaving out dotfiles and
 * names ending in one of skip (a NULL-terminated list; skip may be NULL).
 * Returns the count; *names is malloc'd, free it with golden_free. */
size_t golden_list(const char *dir, const char *suffix, const char *const *skip, char ***names);
void golden_free(char **names, size_t n);
/* Every *.json file under dir, at any depth: fn(path, text, len, ctx) with
 * the file's text (fn may change it; freed after). Returns the sum of fn's
 * returns (the failures); *files counts the files read. */
int golden_each_json(const char *dir, int (*fn)(const char *path, char *text, size_t n, void *ctx),
                     void *ctx, int *files);
/* Update mode: ANYCLAUDE_UPDATE_GOLDEN set, not empty, not "0": the tests
 * rewrite the expectations they check instead. */
int golden_update(void);
/* Write (data, len) to path; 0 or -1. */
int golden_write(const char *path, const char *data, size_t len);

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
