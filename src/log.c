/*
 * log: leveled lines to stderr or a file, with secret redaction (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_level;
static FILE *g_out;
static char *g_secrets[8];
static int g_nsecrets;
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
    if (!secret || strlen(secret) < 4 || g_nsecrets >= 8) return;
    for (int i = 0; i < g_nsecrets; i++)
        if (strcmp(g_secrets[i], secret) == 0) return;
    char *c = strdup(secret);
    if (c) g_secrets[g_nsecrets++] = c;
}

static void mask_run(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = '*';
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
        size_t n = strspn(p + 3, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_");
        if (n >= 8) mask_run(p + 3, n);
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
    for (int i = 0; i < g_nsecrets; i++) free(g_secrets[i]);
    g_nsecrets = 0;
}

struct log_trace {
    FILE *f;
};

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
    char *copy = malloc(len + 1);
    if (!copy) return;
    memcpy(copy, data, len);
    copy[len] = '\0';
    /* redaction works on C strings: a NUL inside data ends the section */
    log_redact(copy);
    fprintf(t->f, "--- %s (%zu bytes)\n%s\n", label, len, copy);
    free(copy);
}

void log_trace_close(log_trace *t)
{
    if (!t) return;
    fclose(t->f);
    free(t);
}
