/*
 * probe: parallel GETs to local ports for discovery (see probe.h). Bounded:
 * at most DISCOVER_MAX_PORTS x DISCOVER_NPATHS requests, each answer capped
 * at 1 MiB, one overall deadline.
 */
#include "probe.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "timeouts.h"

int probe_ports(int *ports, int max, char *err, size_t errlen)
{
    const char *spec = getenv("ANYCLAUDE_DISCOVER_PORTS");
    if (spec && *spec) return discover_parse_ports(spec, ports, max, err, errlen);
    int n = discover_ndefault_ports < max ? discover_ndefault_ports : max;
    memcpy(ports, discover_default_ports, (size_t)n * sizeof *ports);
    return n;
}

void probe_ports_text(const int *ports, int n, char *out, size_t outlen)
{
    size_t w = 0;
    out[0] = '\0';
    for (int i = 0; i < n && w < outlen; i++)
        w += (size_t)snprintf(out + w, outlen - w, "%s%d", i ? ", " : "", ports[i]);
}

static size_t collect(char *p, size_t s, size_t n, void *ud)
{
    return buf_append(ud, p, s * n) == BUF_OK ? s * n : 0;
}

/* A GET into out; local: 300 ms to connect and never through a proxy. */
static CURL *get_handle(const char *url, buf *out, long timeout_ms, int local)
{
    CURL *e = curl_easy_init();
    if (!e) return NULL;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     local && timeout_ms > TIMEOUT_LOCAL_CONNECT_MS ? (long)TIMEOUT_LOCAL_CONNECT_MS
                                                                    : timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (local) curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    return e;
}

int probe_local(const int *ports, int nports, discover_found *found, int max, long timeout_ms)
{
    if (nports > DISCOVER_MAX_PORTS) nports = DISCOVER_MAX_PORTS;
    enum { N = DISCOVER_MAX_PORTS * DISCOVER_NPATHS };
    CURL *h[N] = {0};
    buf body[N];
    long status[N] = {0};
    int nfound = 0;
    CURLM *m = curl_multi_init();
    if (!m) return 0;
    for (int i = 0; i < nports * DISCOVER_NPATHS; i++) {
        char url[128];
        snprintf(url, sizeof url, "http://127.0.0.1:%d%s", ports[i / DISCOVER_NPATHS],
                 discover_paths[i % DISCOVER_NPATHS]);
        buf_init(&body[i], 1u << 20);
        h[i] = get_handle(url, &body[i], timeout_ms, 1);
        if (h[i]) curl_multi_add_handle(m, h[i]);
    }
    int running = 1;
    while (running) {
        if (curl_multi_perform(m, &running) != CURLM_OK) break;
        if (running) curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    for (int i = 0; i < nports * DISCOVER_NPATHS; i++) {
        if (!h[i]) continue;
        long st = 0;
        curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &st);
        status[i] = st;
    }
    for (int p = 0; p < nports && nfound < max; p++) {
        discover_answer ans[DISCOVER_NPATHS];
        for (int k = 0; k < DISCOVER_NPATHS; k++) {
            int i = p * DISCOVER_NPATHS + k;
            ans[k].status = status[i];
            ans[k].body = body[i].data;
            ans[k].len = body[i].len;
        }
        if (discover_identify(ports[p], ans, &found[nfound])) nfound++;
    }
    for (int i = 0; i < nports * DISCOVER_NPATHS; i++) {
        if (h[i]) {
            curl_multi_remove_handle(m, h[i]);
            curl_easy_cleanup(h[i]);
        }
        buf_free(&body[i]);
    }
    curl_multi_cleanup(m);
    return nfound;
}

int probe_find(discover_found *found, int max, char *ports_text, size_t ptlen)
{
    int ports[DISCOVER_MAX_PORTS];
    int n = probe_ports(ports, DISCOVER_MAX_PORTS, ports_text, ptlen);
    if (n < 0) return -1;
    probe_ports_text(ports, n, ports_text, ptlen);
    return probe_local(ports, n, found, max, TIMEOUT_DISCOVER_MS);
}

int probe_answers(const char *base_url, long timeout_ms)
{
    char url[700];
    snprintf(url, sizeof url, "%s/models", base_url);
    buf b;
    buf_init(&b, 4u << 20);
    CURL *e = get_handle(url, &b, timeout_ms, 0);
    if (!e) {
        buf_free(&b);
        return 1; /* cannot tell: assume it answers */
    }
    CURLcode c = curl_easy_perform(e);
    curl_easy_cleanup(e);
    buf_free(&b);
    /* only nothing there is "does not answer": a 401, a 404 or a TLS
     * complaint come from the user's server, set up otherwise */
    return !(c == CURLE_COULDNT_CONNECT || c == CURLE_COULDNT_RESOLVE_HOST ||
             c == CURLE_OPERATION_TIMEDOUT || c == CURLE_RECV_ERROR || c == CURLE_GOT_NOTHING);
}

int probe_resolve_auto(config *c, const config_flag *flags, size_t nflags, config_getenv_fn ge,
                       char *note, size_t notelen, char *err, size_t errlen)
{
    if (note && notelen) note[0] = '\0';
    if (!c->mode_auto) return 0;
    if (c->routing.configured) {
        snprintf(err, errlen,
                 "mode auto picks one local server; with \"routes\" give each backend its mode");
        return -2;
    }
    for (size_t i = 0; i < nflags; i++)
        if (strcmp(flags[i].name, "backend") == 0) {
            snprintf(err, errlen,
                     "--mode auto finds a server on a local port; with --backend %s name its "
                     "mode too (%s)",
                     flags[i].value, mode_names());
            return -2;
        }
    discover_found f[DISCOVER_MAX_PORTS];
    char pt[160];
    int nf = probe_find(f, DISCOVER_MAX_PORTS, pt, sizeof pt);
    if (nf < 0) {
        snprintf(err, errlen, "%s", pt);
        return -2;
    }
    int k = discover_pick(f, nf);
    if (k < 0) {
        snprintf(err, errlen,
                 "mode auto: no model server answers on localhost ports %s (MLX-LM 8081/8080, "
                 "llama-server 8080, LM Studio 1234, Ollama 11434, vLLM 8000); start one, or pass "
                 "--mode and --backend",
                 pt);
        return -1;
    }
    config_flag *nfl = calloc(nflags + 2, sizeof *nfl);
    if (!nfl) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t m = 0;
    for (size_t i = 0; i < nflags; i++)
        if (strcmp(flags[i].name, "mode") != 0) nfl[m++] = flags[i];
    nfl[m++] = (config_flag){"mode", f[k].mode};
    nfl[m++] = (config_flag){"backend", f[k].url};
    config_defaults(c);
    int rc = config_resolve(c, nfl, m, ge, err, errlen);
    free(nfl);
    if (rc < 0) return -2;
    c->mode_auto = 1;
    if (note && notelen) {
        char d[600];
        discover_describe(&f[k], d, sizeof d);
        snprintf(note, notelen, "mode auto: using %s, as with %s", d, f[k].flags);
    }
    return 0;
}
