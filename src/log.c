/*
 * log: leveled lines to stderr or a file, with secret redaction (see log.h).
 */
#include "log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_level;
static FILE *g_out;
static char **g_secrets; /* every registered secret, no fixed cap */
static int g_nsecrets, g_cap;
static int g_warnings;

int log_init(int level, const char *path)
{
    g_level = level;
    if (path) {
        FILE *f = fopen(path, "a");
        if (!f) return -1;
        setvbuf(f, NULL, _IOLBF, 0);
        if (g_out && g_out != stderr) fclose(g_out);
        g_out = f;
    }
    return 0;
}

int log_level(void)
{
    return g_level;
}

int log_warnings(void)
{
    return g_warnings;
}

void log_add_secret(const char *secret)
{
    if (!secret || strlen(secret) < 4) return;
    for (int i = 0; i < g_nsecrets; i++)
        if (strcmp(g_secrets[i], secret) == 0) return;
    if (g_nsecrets == g_cap) {
        int ncap = g_cap ? 2 * g_cap : 8;
        char **n = realloc(g_secrets, (size_t)ncap * sizeof *n);
        if (!n) return;
        g_secrets = n;
        g_cap = ncap;
    }
    char *c = strdup(secret);
    if (c) g_secrets[g_nsecrets++] = c;
}

static void mask_run(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = '*';
}

void log_redact_secrets(char *p, size_t n)
{
    for (int i = 0; i < g_nsecrets; i++) {
        size_t k = strlen(g_secrets[i]);
        char *q = p, *end = p + n;
        while ((size_t)(end - q) >= k && (q = memmem(q, (size_t)(end - q), g_secrets[i], k))) {
            mask_run(q, k);
            q += k;
        }
    }
}

void log_redact(char *s)
{
    for (int i = 0; i < g_nsecrets; i++) {
        size_t n = strlen(g_secrets[i]);
        char *p = s;
        while ((p = strstr(p, g_secrets[i]))) {
            mask_run(p, n);
            p += n;
        }
    }
    char *p = s;
    while ((p = strstr(p, "Bearer "))) {
        p += 7;
        size_t n = strcspn(p, " \t\r\n\",'");
        mask_run(p, n);
        p += n;
    }
    p = s;
    while ((p = strstr(p, "sk-"))) {
        size_t n =
            strspn(p + 3, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_");
        /* a key starts a word: "<task-notification>" is not one */
        unsigned char before = p > s ? (unsigned char)p[-1] : ' ';
        int word = p > s && (isalnum(before) || before == '_' || before == '-');
        if (n >= 8 && !word) mask_run(p + 3, n);
        p += 3 + n;
    }
}

void log_line(int level, const char *fmt, ...)
{
    if (level > g_level) return;
    if (level == 0) g_warnings++;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_redact(msg);
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%H:%M:%S", &tm);
    fprintf(g_out ? g_out : stderr, "[anyclaude %s] %s\n", ts, msg);
}

void log_close(void)
{
    if (g_out && g_out != stderr) fclose(g_out);
    g_out = NULL;
    for (int i = 0; i < g_nsecrets; i++)
        free(g_secrets[i]);
    free(g_secrets);
    g_secrets = NULL;
    g_nsecrets = g_cap = 0;
}

/* A trace keeps the tail of each section back until the next write of the
 * same label, so a secret split across two reads is still whole when it is
 * redacted. */
struct log_trace {
    FILE *f;
    char label[32];
    char *carry;
    size_t ncarry;
};

static size_t longest_secret(void)
{
    size_t m = 0;
    for (int i = 0; i < g_nsecrets; i++)
        if (strlen(g_secrets[i]) > m) m = strlen(g_secrets[i]);
    return m < 64 ? 64 : m; /* 64: room for "Bearer " + a token, "sk-..." */
}

static void trace_emit(log_trace *t, const char *data, size_t len, int final)
{
    size_t keep = final ? 0 : longest_secret();
    size_t total = t->ncarry + len;
    char *all = malloc(total + 1);
    if (!all) return;
    if (t->ncarry) memcpy(all, t->carry, t->ncarry);
    if (len) memcpy(all + t->ncarry, data, len);
    all[total] = '\0';
    /* redaction works on C strings: a NUL inside data ends what is checked */
    log_redact(all);
    size_t out = total > keep ? total - keep : 0;
    if (out) fwrite(all, 1, out, t->f);
    free(t->carry);
    t->carry = NULL;
    t->ncarry = 0;
    if (total > out) {
        t->carry = malloc(total - out);
        if (t->carry) {
            memcpy(t->carry, all + out, total - out);
            t->ncarry = total - out;
        }
    }
    free(all);
}

log_trace *log_trace_open(const char *dir, const char *id)
{
    if (g_level < 3 || !dir || !*dir) return NULL;
    char path[1024], ts[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y%m%d-%H%M%S", &tm);
    snprintf(path, sizeof path, "%s/%s-%s.trace", dir, ts, id);
    log_trace *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->f = fopen(path, "w");
    if (!t->f) {
        free(t);
        return NULL;
    }
    log_line(3, "trace: %s", path);
    return t;
}

void log_trace_write(log_trace *t, const char *label, const char *data, size_t len)
{
    if (!t) return;
    if (strncmp(t->label, label, sizeof t->label - 1) != 0) {
        if (t->label[0]) {
            trace_emit(t, NULL, 0, 1);
            fputc('\n', t->f);
        }
        snprintf(t->label, sizeof t->label, "%s", label);
        fprintf(t->f, "--- %s\n", label);
    }
    trace_emit(t, data, len, 0);
}

void log_trace_close(log_trace *t)
{
    if (!t) return;
    trace_emit(t, NULL, 0, 1);
    fputc('\n', t->f);
    fclose(t->f);
    free(t->carry);
    free(t);
}
