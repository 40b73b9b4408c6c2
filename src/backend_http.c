/*
 * backend_http: a blocking libcurl request to a backend (see backend_http.h).
 */
#include "backend_http.h"

#include <curl/curl.h>
#include <stdio.h>

#include "upstream.h"

static size_t collect(char *p, size_t s, size_t n, void *ud)
{
    return buf_append(ud, p, s * n) == BUF_OK ? s * n : 0;
}

long backend_http(const route_backend *be, const char *ca, const char *url, const char *body,
                  long connect_ms, long total_ms, buf *out, char *err, size_t errlen)
{
    int anthropic = be->mode->passthru != 0; /* x-api-key, anthropic-version */
    if (err && errlen) err[0] = '\0';
    CURL *e = curl_easy_init();
    if (!e) {
        if (err) snprintf(err, errlen, "out of memory");
        return 0;
    }
    char eb[CURL_ERROR_SIZE] = "", auth[700];
    struct curl_slist *h = NULL;
    int bad = 0;
    if (be->api_key[0]) {
        snprintf(auth, sizeof auth, anthropic ? "x-api-key: %s" : "Authorization: Bearer %s",
                 be->api_key);
        bad |= upstream_header(&h, auth);
    }
    if (anthropic) bad |= upstream_header(&h, "anthropic-version: 2023-06-01");
    if (body) {
        bad |= upstream_header(&h, "Content-Type: application/json");
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    }
    bad |= upstream_via(&h, NULL);
    if (bad) {
        /* a request without its key or via line is not sent */
        curl_slist_free_all(h);
        curl_easy_cleanup(e);
        if (err) snprintf(err, errlen, "out of memory");
        return 0;
    }
    const char *cafile = be->ca_file[0] ? be->ca_file : ca;
    if (cafile) curl_easy_setopt(e, CURLOPT_CAINFO, cafile);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    upstream_easy_common(e, url, collect, out, eb, connect_ms, total_ms);
    long status = 0;
    CURLcode c = curl_easy_perform(e);
    if (c == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    else if (err)
        snprintf(err, errlen, "%s", eb[0] ? eb : curl_easy_strerror(c));
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return status;
}
