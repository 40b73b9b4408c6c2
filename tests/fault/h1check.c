/*
 * h1check: run httpd's request framing (src/h1.c) over the bytes on stdin,
 * with httpd's limits, and print the verdict as one JSON line:
 *   {"verdict":0|1|STATUS,"error":"...","requests":[{"method":...,
 *    "target":...,"body":"<hex>"}...]}
 * verdict 0: every byte was used by complete requests; 1: the input ends
 * inside a request; otherwise the HTTP status httpd answers. Used by
 * tests/fault/framing.test.mjs to compare with Node's llhttp.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "h1.h"

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void on_req(void *ud, const h1_head *h, const char *body, size_t n)
{
    int *count = ud;
    printf("%s{\"method\":", (*count)++ ? "," : "");
    json_str(h->method);
    printf(",\"target\":");
    json_str(h->target);
    printf(",\"body\":\"");
    for (size_t i = 0; i < n; i++)
        printf("%02x", (unsigned char)body[i]);
    printf("\"}");
}

int main(void)
{
    buf in;
    buf_init(&in, 64u << 20);
    char tmp[65536];
    size_t r;
    while ((r = fread(tmp, 1, sizeof tmp, stdin)) > 0)
        if (buf_append(&in, tmp, r) != BUF_OK) return 2;
    char err[256] = "";
    int count = 0;
    printf("{\"requests\":[");
    int v = h1_parse_all(in.data ? in.data : "", in.len, 256 * 1024, 32u << 20, on_req, &count, err,
                         sizeof err);
    printf("],\"verdict\":%d,\"error\":", v);
    json_str(err);
    printf("}\n");
    buf_free(&in);
    return 0;
}
