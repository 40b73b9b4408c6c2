/*
 * slotfiles: the index of a gateway's slot checkpoints (see slotfiles.h).
 */
#include "slotfiles.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void slotfiles_parse(slotfiles *s, const char *text, size_t n)
{
    memset(s, 0, sizeof *s);
    const char *p = text, *end = text + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[160];
        if (len < sizeof line) {
            memcpy(line, p, len);
            line[len] = '\0';
            int i, used = 0, used6 = 0;
            uint64_t kind, server, conv = 0;
            long tokens;
            long long saved;
            int got = sscanf(line, "%d %16" SCNx64 " %16" SCNx64 " %ld %lld%n %16" SCNx64 "%n", &i,
                             &kind, &server, &tokens, &saved, &used, &conv, &used6);
            if (got == 6) used = used6;
            if ((got == 5 || got == 6) && used == (int)len && i >= 0 && i < SLOTFILES_MAX && kind &&
                tokens >= 0 && saved >= 0)
                s->f[i] = (slotfile){kind, server, tokens, saved, got == 6 ? conv : 0};
        }
        p += len + 1;
    }
}

int slotfiles_format(const slotfiles *s, char *out, size_t n)
{
    size_t at = 0;
    if (n) out[0] = '\0';
    for (int i = 0; i < SLOTFILES_MAX; i++) {
        const slotfile *f = &s->f[i];
        if (!f->kind) continue;
        int w =
            snprintf(out + at, n - at, "%d %016" PRIx64 " %016" PRIx64 " %ld %lld %016" PRIx64 "\n",
                     i, f->kind, f->server, f->tokens, f->saved, f->conv);
        if (w < 0 || (size_t)w >= n - at) return -1;
        at += (size_t)w;
    }
    return n ? (int)at : -1;
}

int slotfiles_find(const slotfiles *s, uint64_t kind, uint64_t server)
{
    if (!kind || !server) return -1;
    for (int i = 0; i < SLOTFILES_MAX; i++)
        if (s->f[i].kind == kind && s->f[i].server == server && s->f[i].tokens > 0) return i;
    return -1;
}

int slotfiles_newest(const slotfiles *s, uint64_t server, int *out)
{
    int n = 0;
    if (!server) return 0;
    for (int i = 0; i < SLOTFILES_MAX; i++) {
        if (!s->f[i].kind || s->f[i].server != server || s->f[i].tokens <= 0) continue;
        int at = n++;
        while (at > 0 && s->f[out[at - 1]].saved < s->f[i].saved) { /* insertion, newest first */
            out[at] = out[at - 1];
            at--;
        }
        out[at] = i;
    }
    return n;
}

int slotfiles_pick(const slotfiles *s, uint64_t kind, uint64_t conv, uint64_t server)
{
    int unused = -1, oldest = 0;
    for (int i = 0; i < SLOTFILES_MAX; i++) {
        const slotfile *f = &s->f[i];
        if (f->kind && f->server == server && f->conv == conv && (conv || f->kind == kind))
            return i;
        if (!f->kind && unused < 0) unused = i;
        if (f->saved < s->f[oldest].saved) oldest = i;
    }
    return unused >= 0 ? unused : oldest;
}

void slotfiles_put(slotfiles *s, int i, uint64_t kind, uint64_t conv, uint64_t server, long tokens,
                   long long now)
{
    if (i < 0 || i >= SLOTFILES_MAX || !kind) return;
    s->f[i] = (slotfile){kind, server, tokens < 0 ? 0 : tokens, now, conv};
}

void slotfiles_drop(slotfiles *s, int i)
{
    if (i >= 0 && i < SLOTFILES_MAX) memset(&s->f[i], 0, sizeof s->f[i]);
}
