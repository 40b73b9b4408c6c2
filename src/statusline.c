/*
 * statusline: one line for Claude Code's status bar (see statusline.h).
 */
#include "statusline.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "convstat.h"
#include "timeouts.h"

static size_t collect(char *p, size_t s, size_t n, void *ud)
{
    return buf_append(ud, p, s * n) == BUF_OK ? s * n : 0;
}

/* stdin until EOF, at most 1 MiB and 500 ms: Claude Code writes the JSON
 * and closes; a terminal that never does must not hang the status bar. */
static void read_stdin(buf *in)
{
    char chunk[8192];
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long left = TIMEOUT_STATUSLINE_STDIN_MS -
                    ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        struct pollfd pf = {0, POLLIN, 0};
        if (left <= 0 || poll(&pf, 1, (int)left) <= 0) return;
        ssize_t r = read(0, chunk, sizeof chunk);
        if (r <= 0 || buf_append(in, chunk, (size_t)r) != BUF_OK) return;
    }
}

int statusline_run(void)
{
    const char *base = getenv("ANTHROPIC_BASE_URL");
    if (!base || strncmp(base, "http", 4) != 0) return 0;
    buf in, out;
    buf_init(&in, 1u << 20);
    buf_init(&out, 1u << 20);
    read_stdin(&in);
    char sid[96] = "";
    cJSON *j = in.len ? cJSON_ParseWithLength(in.data, in.len) : NULL;
    const cJSON *s = j ? cJSON_GetObjectItemCaseSensitive(j, "session_id") : NULL;
    if (cJSON_IsString(s) && strlen(s->valuestring) < sizeof sid &&
        strspn(s->valuestring, "0123456789abcdefABCDEF-") == strlen(s->valuestring))
        snprintf(sid, sizeof sid, "%s", s->valuestring);
    cJSON_Delete(j);
    char url[1200], auth[700];
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    snprintf(url, sizeof url, "%.*s/anyclaude/status%s%s", (int)bl, base, sid[0] ? "?session=" : "",
             sid);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *e = curl_easy_init();
    struct curl_slist *h = NULL;
    /* the launcher gives claude (and so this command) the gateway's token
     * in ANTHROPIC_CUSTOM_HEADERS, and as ANTHROPIC_AUTH_TOKEN unless
     * Claude Code keeps its own credentials */
    const char *ch = getenv("ANTHROPIC_CUSTOM_HEADERS");
    const char *gt = ch ? strstr(ch, "x-anyclaude-token:") : NULL;
    if (gt && (gt == ch || gt[-1] == '\n')) {
        size_t n = strcspn(gt, "\r\n");
        if (n < sizeof auth) {
            snprintf(auth, sizeof auth, "%.*s", (int)n, gt);
            h = curl_slist_append(h, auth);
        }
    } else {
        const char *tok = getenv("ANTHROPIC_AUTH_TOKEN");
        if (tok && *tok && strlen(tok) < 600) {
            snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
            h = curl_slist_append(h, auth);
        }
    }
    long status = 0;
    if (e) {
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &out);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)TIMEOUT_STATUSLINE_CONNECT_MS);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)TIMEOUT_STATUSLINE_MS);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
        if (curl_easy_perform(e) == CURLE_OK) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(e);
    }
    curl_slist_free_all(h);
    curl_global_cleanup();
    if (status == 200) {
        char line[600];
        convstat_line(out.data ? out.data : "", out.len, line, sizeof line);
        if (line[0]) printf("%s\n", line);
    }
    buf_free(&in);
    buf_free(&out);
    return 0;
}
