/*
 * access: Host, Origin, Content-Type and token checks (see access.h). Pure.
 */
#include "access.h"

#include <string.h>
#include <strings.h>

static int all_digits(const char *p, size_t n)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9') return 0;
    return 1;
}

static int is_ipv4(const char *p, size_t n)
{
    int parts = 0;
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && p[j] != '.')
            j++;
        if (j - i < 1 || j - i > 3 || !all_digits(p + i, j - i)) return 0;
        parts++;
        i = j + 1;
    }
    return parts == 4;
}

static int same(const char *a, size_t n, const char *b)
{
    return strlen(b) == n && strncasecmp(a, b, n) == 0;
}

int access_host_ok(const char *host, const char *listen_host, int port)
{
    if (!host) return 0;
    size_t len = strlen(host), name_len;
    const char *colon;
    if (host[0] == '[') {
        const char *rb = memchr(host, ']', len);
        if (!rb) return 0;
        name_len = (size_t)(rb - host) + 1;
        colon = rb[1] == ':' ? rb + 1 : NULL;
        if (!colon && rb[1]) return 0;
    } else {
        colon = strchr(host, ':');
        name_len = colon ? (size_t)(colon - host) : len;
    }
    long p = 80;
    if (colon) {
        size_t pl = len - (size_t)(colon + 1 - host);
        if (!all_digits(colon + 1, pl) || pl > 5) return 0;
        p = 0;
        for (size_t i = 0; i < pl; i++)
            p = p * 10 + (colon[1 + i] - '0');
    }
    if (p != port) return 0;
    if (same(host, name_len, "127.0.0.1") || same(host, name_len, "localhost") ||
        same(host, name_len, "[::1]"))
        return 1;
    if (listen_host && *listen_host) {
        if (strchr(listen_host, ':')) {
            size_t ll = strlen(listen_host);
            if (name_len == ll + 2 && host[0] == '[' && strncasecmp(host + 1, listen_host, ll) == 0)
                return 1;
        } else if (same(host, name_len, listen_host)) {
            return 1;
        }
        int wildcard = strcmp(listen_host, "0.0.0.0") == 0 || strcmp(listen_host, "::") == 0;
        if (wildcard && (is_ipv4(host, name_len) || host[0] == '[')) return 1;
    }
    return 0;
}

int access_origin_ok(const char *origin, const char *allowed)
{
    if (!origin || !allowed) return 0;
    size_t ol = strlen(origin);
    const char *p = allowed;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        size_t k = n;
        while (k > 0 && p[k - 1] == ' ')
            k--;
        while (k > 0 && p[k - 1] == '/') /* "http://x:1/" names the same origin */
            k--;
        if (k == 1 && p[0] == '*') return 1;
        if (k && k == ol && strncasecmp(p, origin, k) == 0) return 1;
        p += n;
    }
    return 0;
}

int access_is_json(const char *ctype)
{
    if (!ctype) return 0;
    if (strncasecmp(ctype, "application/json", 16) != 0) return 0;
    char c = ctype[16];
    return c == '\0' || c == ';' || c == ' ' || c == '\t';
}

int access_token_equal(const char *tok, const char *k)
{
    if (!k) return 0;
    size_t lt = strlen(tok), lk = strlen(k);
    unsigned char diff = (unsigned char)(lt != lk);
    for (size_t i = 0; i < lt; i++)
        diff |= (unsigned char)(tok[i] ^ (i < lk ? k[i] : 0));
    return diff == 0;
}
