/*
 * golden: what the golden-file tests (tests/golden/SUITE/) share: the sorted
 * list of a suite's cases, update mode and writing an expectation (see
 * test.h).
 */
#include <dirent.h>
#include <stdlib.h>

#include "test.h"

int golden_update(void)
{
    const char *u = getenv("ANYCLAUDE_UPDATE_GOLDEN");
    return u && *u && strcmp(u, "0") != 0;
}

int golden_write(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    int rc = fclose(f);
    return w == len && rc == 0 ? 0 : -1;
}

int test_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int skipped(const char *f, const char *const *skip)
{
    for (; skip && *skip; skip++)
        if (test_ends_with(f, *skip)) return 1;
    return 0;
}

size_t golden_list(const char *dir, const char *suffix, const char *const *skip, char ***names)
{
    size_t n = 0, cap = 0, sl = strlen(suffix);
    char **v = NULL;
    DIR *d = opendir(dir);
    struct dirent *e;
    *names = NULL;
    if (!d) return 0;
    while ((e = readdir(d))) {
        const char *f = e->d_name;
        size_t l = strlen(f);
        if (f[0] == '.' || l <= sl || !test_ends_with(f, suffix) || skipped(f, skip)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        v[n] = malloc(l - sl + 1);
        if (!v[n]) break;
        memcpy(v[n], f, l - sl);
        v[n][l - sl] = '\0';
        n++;
    }
    closedir(d);
    if (n) qsort(v, n, sizeof *v, cmp_names);
    *names = v;
    return n;
}

void golden_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int golden_each_json(const char *dir, int (*fn)(const char *path, char *text, size_t n, void *ctx),
                     void *ctx, int *files)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int bad = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (!test_ends_with(de->d_name, ".json")) {
            bad += golden_each_json(path, fn, ctx, files); /* a subfolder (or not: opendir fails) */
            continue;
        }
        size_t n = 0;
        char *s = test_read_file(path, &n);
        if (!s) continue;
        (*files)++;
        bad += fn(path, s, n, ctx);
        free(s);
    }
    closedir(d);
    return bad;
}
