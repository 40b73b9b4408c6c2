/*
 * llama_tok: llama.cpp's /apply-template then /tokenize (see llama_tok.h).
 */
#include "llama_tok.h"
#include "timeouts.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#define TOK_MAX_BODY (64u << 20) /* an answer; a request: the body given, and this */

struct llama_tok {
    upstream *u;
    const backend_rt *b;
    upstream_req *up;
    int step; /* 1 apply-template, 2 tokenize */
    buf req;  /* the request body (curl reads it while sending) */
    buf resp; /* its answer */
    char header[700];
    llama_tok_done_fn done;
    void *ud;
};

/* Step 1 → 2: from an /apply-template answer, the /tokenize request body
 * (appended to out). Returns 0, or -1 when the answer has no prompt. */
static int tokenize_request(const buf *answer, buf *out)
{
    cJSON *j = cJSON_ParseWithLength(answer->data ? answer->data : "", answer->len);
    const cJSON *pr = j ? cJSON_GetObjectItemCaseSensitive(j, "prompt") : NULL;
    cJSON *t = cJSON_IsString(pr) ? cJSON_CreateObject() : NULL;
    char *txt = NULL;
    if (t) {
        cJSON_AddStringToObject(t, "content", pr->valuestring);
        cJSON_AddBoolToObject(t, "add_special", 1);
        txt = cJSON_PrintUnformatted(t);
        cJSON_Delete(t);
    }
    cJSON_Delete(j);
    int rc = txt && buf_appends(out, txt) == BUF_OK ? 0 : -1;
    cJSON_free(txt);
    return rc;
}

/* Step 2: the number of tokens in a /tokenize answer, or -1. */
static long tokenize_count(const buf *answer)
{
    cJSON *j = cJSON_ParseWithLength(answer->data ? answer->data : "", answer->len);
    const cJSON *toks = j ? cJSON_GetObjectItemCaseSensitive(j, "tokens") : NULL;
    long n = cJSON_IsArray(toks) ? cJSON_GetArraySize(toks) : -1;
    cJSON_Delete(j);
    return n;
}

static void tok_free(llama_tok *t)
{
    buf_free(&t->req);
    buf_free(&t->resp);
    free(t);
}

void llama_tok_cancel(llama_tok *t)
{
    if (!t) return;
    upstream_cancel(t->up);
    tok_free(t);
}

/* Free the counter, then tell its owner. */
static void finish(llama_tok *t, long n, const char *failed)
{
    llama_tok_done_fn done = t->done;
    void *ud = t->ud;
    tok_free(t);
    done(ud, n, failed);
}

static int tok_data(void *ud, const char *p, size_t n)
{
    return buf_append(&((llama_tok *)ud)->resp, p, n) == BUF_OK ? 0 : 1;
}

static void tok_done(void *ud, int ok, int refused, long status, const char *err);

static int tok_send(llama_tok *t, const char *path)
{
    char url[700];
    route_backend_url(t->b->cfg, path, url, sizeof url);
    const char *lines[2] = {t->header[0] ? t->header : NULL, NULL};
    upstream_opts uo = {
        .method = "POST",
        .url = url,
        .body = t->req.data,
        .body_len = t->req.len,
        .bearer = backend_key(t->b),
        .headers = t->header[0] ? lines : NULL,
        .ca_file = backend_ca(t->b),
        .connect_timeout_ms = TIMEOUT_CONNECT_MS,
        .total_timeout_ms = TIMEOUT_SIDE_REQUEST_MS,
    };
    upstream_cbs cbs = {.on_data = tok_data, .on_done = tok_done};
    buf_reset(&t->resp);
    t->up = upstream_start(t->u, &uo, &cbs, t);
    return t->up ? 0 : -1;
}

llama_tok *llama_tok_start(upstream *up, const backend_rt *b, const char *body, size_t len,
                           const char *header, llama_tok_done_fn done, void *ud)
{
    llama_tok *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->u = up;
    t->b = b;
    t->done = done;
    t->ud = ud;
    t->step = 1;
    buf_init(&t->req, len + TOK_MAX_BODY);
    buf_init(&t->resp, TOK_MAX_BODY);
    if (header) snprintf(t->header, sizeof t->header, "%s", header);
    if (buf_append(&t->req, body, len) != BUF_OK || tok_send(t, "/apply-template") < 0) {
        tok_free(t);
        return NULL;
    }
    return t;
}

static void tok_done(void *ud, int ok, int refused, long status, const char *err)
{
    llama_tok *t = ud;
    t->up = NULL;
    int good = ok && status == 200;
    buf_reset(&t->req);
    if (t->step == 1) {
        if (!good || tokenize_request(&t->resp, &t->req) < 0) {
            finish(t, -1, "apply-template failed");
            return;
        }
        t->step = 2;
        if (tok_send(t, "/tokenize") < 0) finish(t, -1, "tokenize could not start");
        return;
    }
    long n = good ? tokenize_count(&t->resp) : -1;
    finish(t, n, n >= 0 ? NULL : "tokenize failed");
}
