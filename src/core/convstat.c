/*
 * convstat: recent conversations' last turns and the status line text
 * (see convstat.h).
 */
#include "convstat.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

void convstat_put(convstat *c, const convstat_turn *t)
{
    int at = -1;
    for (int i = 0; i < c->n && at < 0; i++)
        if (t->session[0] && strcmp(c->t[i].session, t->session) == 0) at = i;
    if (at < 0 && c->n < CONVSTAT_MAX) at = c->n++;
    if (at < 0) {
        at = 0;
        for (int i = 1; i < c->n; i++)
            if (c->t[i].at_ms < c->t[at].at_ms) at = i;
    }
    c->t[at] = *t;
}

const convstat_turn *convstat_get(const convstat *c, const char *session)
{
    const convstat_turn *best = NULL;
    for (int i = 0; i < c->n; i++) {
        if (session && *session) {
            if (strcmp(c->t[i].session, session) == 0) return &c->t[i];
        } else if (!best || c->t[i].at_ms > best->at_ms) {
            best = &c->t[i];
        }
    }
    return best;
}

int convstat_json(const convstat_turn *t, const char *backend, const char *mode, const char *model,
                  long window, double now_ms, buf *out)
{
    cJSON *o = cJSON_CreateObject();
    if (t) {
        backend = t->backend;
        mode = t->mode;
        model = t->model;
        window = t->window;
    }
    cJSON_AddStringToObject(o, "backend", backend ? backend : "");
    cJSON_AddStringToObject(o, "mode", mode ? mode : "");
    cJSON_AddStringToObject(o, "model", model ? model : "");
    if (window > 0) cJSON_AddNumberToObject(o, "window", (double)window);
    if (t) {
        cJSON *turn = cJSON_AddObjectToObject(o, "last_turn");
        cJSON_AddStringToObject(turn, "session", t->session);
        cJSON_AddNumberToObject(turn, "prompt_tokens", (double)t->prompt);
        cJSON_AddNumberToObject(turn, "cached_tokens", (double)t->cached);
        cJSON_AddNumberToObject(turn, "output_tokens", (double)t->output);
        cJSON_AddBoolToObject(turn, "usage_known", t->usage_known);
        /* what the conversation holds now: the prompt and the answer */
        cJSON_AddNumberToObject(turn, "context_tokens", (double)(t->prompt + t->output));
        if (t->prompt > 0)
            cJSON_AddNumberToObject(turn, "cache_share", (double)t->cached / (double)t->prompt);
        long prefilled = t->prompt - t->cached;
        if (t->prefill_ms > 0 && prefilled > 0)
            cJSON_AddNumberToObject(turn, "prefill_tps",
                                    1000.0 * (double)prefilled / t->prefill_ms);
        if (t->gen_ms >= 20 && t->output > 1) /* shorter is a burst, not a speed */
            cJSON_AddNumberToObject(turn, "gen_tps", 1000.0 * (double)t->output / t->gen_ms);
        cJSON_AddNumberToObject(turn, "age_s", (now_ms - t->at_ms) / 1000.0);
    }
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    int rc = txt ? buf_appends(out, txt) : BUF_ENOMEM;
    cJSON_free(txt);
    return rc;
}

/* 14234 → "14.2k", 999 → "999", 131072 → "131k" */
static void kfmt(double v, char *out, size_t n)
{
    if (v >= 100000)
        snprintf(out, n, "%.0fk", v / 1000);
    else if (v >= 1000)
        snprintf(out, n, "%.1fk", v / 1000);
    else
        snprintf(out, n, "%.0f", v);
}

static double numv(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* Append " · "-separated parts while they fit. */
static void part(char *out, size_t n, const char *s)
{
    size_t l = strlen(out);
    if (l + strlen(s) + 8 >= n) return;
    snprintf(out + l, n - l, "%s%s", l ? " · " : "", s);
}

void convstat_line(const char *json, size_t len, char *out, size_t n)
{
    out[0] = '\0';
    cJSON *j = cJSON_ParseWithLength(json, len);
    const cJSON *be = j ? cJSON_GetObjectItemCaseSensitive(j, "backend") : NULL;
    if (!cJSON_IsObject(j) || !cJSON_IsString(be)) {
        cJSON_Delete(j);
        return;
    }
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(j, "model");
    const cJSON *mo = cJSON_GetObjectItemCaseSensitive(j, "mode");
    const cJSON *turn = cJSON_GetObjectItemCaseSensitive(j, "last_turn");
    char s[300], a[32], b[32];
    /* control bytes from a backend's model name must not reach the terminal */
    snprintf(s, sizeof s, "%.120s",
             cJSON_IsString(md) && md->valuestring[0] ? md->valuestring : be->valuestring);
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    part(out, n, s);
    snprintf(s, sizeof s, "%.60s", cJSON_IsString(mo) ? mo->valuestring : "");
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    if (s[0]) part(out, n, s);
    double window = numv(j, "window", 0);
    double ctx = numv(turn, "context_tokens", -1);
    if (ctx >= 0 && window > 0) {
        kfmt(ctx, a, sizeof a);
        kfmt(window, b, sizeof b);
        snprintf(s, sizeof s, "ctx %s/%s (%.0f%%)", a, b, 100.0 * ctx / window);
        part(out, n, s);
    } else if (ctx >= 0) {
        kfmt(ctx, a, sizeof a);
        snprintf(s, sizeof s, "ctx %s", a);
        part(out, n, s);
    } else if (window > 0) {
        kfmt(window, b, sizeof b);
        snprintf(s, sizeof s, "window %s", b);
        part(out, n, s);
    }
    double share = numv(turn, "cache_share", -1);
    if (share >= 0) {
        snprintf(s, sizeof s, "cache %.1f%%", 100.0 * share);
        part(out, n, s);
    }
    double pf = numv(turn, "prefill_tps", -1), gen = numv(turn, "gen_tps", -1);
    if (pf > 0) {
        kfmt(pf, a, sizeof a);
        snprintf(s, sizeof s, "prefill %s tok/s", a);
        part(out, n, s);
    }
    if (gen > 0) {
        snprintf(s, sizeof s, "gen %.1f tok/s", gen);
        part(out, n, s);
    }
    cJSON_Delete(j);
}
