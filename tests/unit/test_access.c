/* Tests for src/access.c (Host, Origin, Content-Type, token) and the pure
 * parts of src/h1.c (the head scanner, split at every byte; the body decoder
 * fed byte by byte; escaping), and the log's secret list without a cap. */
#include "access.h"
#include "buf.h"
#include "h1.h"
#include "log.h"
#include "test.h"

TEST(access_host)
{
    CHECK(access_host_ok("127.0.0.1:8082", "127.0.0.1", 8082));
    CHECK(access_host_ok("localhost:8082", "127.0.0.1", 8082));
    CHECK(access_host_ok("LocalHost:8082", "127.0.0.1", 8082));
    CHECK(access_host_ok("[::1]:8082", "127.0.0.1", 8082));
    CHECK(access_host_ok("[::1]:8082", "::1", 8082));
    CHECK(!access_host_ok("127.0.0.1:8083", "127.0.0.1", 8082));
    CHECK(!access_host_ok("127.0.0.1", "127.0.0.1", 8082)); /* port 80 implied */
    CHECK(access_host_ok("127.0.0.1", "127.0.0.1", 80));
    CHECK(!access_host_ok("rebind.example:8082", "127.0.0.1", 8082));
    CHECK(!access_host_ok("localhost.:8082", "127.0.0.1", 8082));
    CHECK(!access_host_ok("127.0.0.1:", "127.0.0.1", 8082));
    CHECK(!access_host_ok("127.0.0.1:80x", "127.0.0.1", 80));
    CHECK(!access_host_ok("[::1", "127.0.0.1", 8082));
    CHECK(!access_host_ok("[::1]x", "127.0.0.1", 8082));
    CHECK(!access_host_ok(NULL, "127.0.0.1", 8082));
    /* configured and wildcard listeners */
    CHECK(access_host_ok("10.0.0.5:9000", "10.0.0.5", 9000));
    CHECK(access_host_ok("192.168.1.7:9000", "0.0.0.0", 9000));
    CHECK(access_host_ok("[fe80::1]:9000", "::", 9000));
    CHECK(!access_host_ok("myhost.lan:9000", "0.0.0.0", 9000));
    CHECK(!access_host_ok("1.2.3:9000", "0.0.0.0", 9000));
}

TEST(access_origin_ctype_token)
{
    CHECK(!access_origin_ok("https://evil.example", ""));
    CHECK(access_origin_ok("http://localhost:3000", "http://localhost:3000"));
    CHECK(access_origin_ok("http://localhost:3000", " https://a.b , http://localhost:3000/ "));
    CHECK(!access_origin_ok("http://localhost:30001", "http://localhost:3000"));
    CHECK(!access_origin_ok("null", "http://localhost:3000"));
    CHECK(access_origin_ok("null", "*"));
    CHECK(access_is_json("application/json"));
    CHECK(access_is_json("Application/JSON; charset=utf-8"));
    CHECK(!access_is_json("application/jsonx"));
    CHECK(!access_is_json("text/plain"));
    CHECK(!access_is_json(NULL));
    CHECK(access_token_equal("abc", "abc"));
    CHECK(!access_token_equal("abc", "abcd"));
    CHECK(!access_token_equal("abc", "ab"));
    CHECK(!access_token_equal("abc", NULL));
}

static const char HEAD[] = "\r\nPOST /v1/messages?beta=true HTTP/1.1\r\nHost: 127.0.0.1:1\r\n"
                           "Transfer-Encoding: chunked\r\nX-A:  v \t\r\n\r\nrest";

TEST(h1_scan_split_everywhere)
{
    size_t n = sizeof HEAD - 1, want = n - 4;
    for (size_t cut = 0; cut <= n; cut++) {
        h1_scan s;
        h1_scan_init(&s);
        size_t used;
        long a = h1_scan_feed(&s, HEAD, cut, &used);
        if (a == 0) a = h1_scan_feed(&s, HEAD + cut, n - cut, &used);
        CHECK((size_t)a == want);
        CHECK(s.lead == 2);
    }
    h1_scan s;
    h1_scan_init(&s);
    size_t used;
    CHECK(h1_scan_feed(&s, "GET / HTTP/1.1\nHost: x\r\n\r\n", 26, &used) == -1);
    h1_scan_init(&s);
    CHECK(h1_scan_feed(&s, "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 26, &used) == -1);
}

static int sink(void *ud, const char *p, size_t n)
{
    return buf_append((buf *)ud, p, n) == BUF_OK ? 0 : 1;
}

TEST(h1_head_and_chunked_body_byte_by_byte)
{
    size_t hl = sizeof HEAD - 1 - 2 - 4; /* without the leading CRLF and "rest" */
    char head[sizeof HEAD];
    memcpy(head, HEAD + 2, hl);
    h1_head h;
    char err[200];
    REQUIRE(h1_parse_head(head, hl, &h, err, sizeof err) == 0);
    CHECK_STR(h.method, "POST");
    CHECK_STR(h.target, "/v1/messages?beta=true");
    CHECK(h.chunked && h.keep_alive && h.minor == 1);
    CHECK_STR(h1_header(&h, "x-a"), "v");
    static const char body[] = "3;x=y\r\nabc\r\nA\r\n0123456789\r\n0\r\nT: 1\r\n\r\nNEXT";
    h1_body b;
    h1_body_init(&b, &h, 1000);
    buf out;
    buf_init(&out, 1000);
    int rc = 0;
    size_t i = 0;
    while (i < sizeof body - 1 && rc == 0) {
        size_t used = 0;
        rc = h1_body_feed(&b, body + i, 1, &used, sink, &out, err, sizeof err);
        i += used;
    }
    CHECK(rc == 1);
    CHECK(i == sizeof body - 1 - 4); /* "NEXT" is the next request's */
    CHECK(out.len == 13 && memcmp(out.data, "abc0123456789", 13) == 0);
    buf_free(&out);
    /* what the gateway used to accept */
    static const char *const bad_sizes[] = {"0x10\r\n", " 10\r\n", "+10\r\n", "10 \r\n", "10\n"};
    for (size_t k = 0; k < sizeof bad_sizes / sizeof bad_sizes[0]; k++) {
        h1_body_init(&b, &h, 1000);
        size_t used;
        CHECK(h1_body_feed(&b, bad_sizes[k], strlen(bad_sizes[k]), &used, sink, NULL, err,
                           sizeof err) == 400);
    }
    h1_body_init(&b, &h, 10);
    size_t used;
    CHECK(h1_body_feed(&b, "b\r\n", 3, &used, sink, NULL, err, sizeof err) == 413);
}

TEST(h1_head_refusals)
{
    static const struct {
        const char *head;
        int status;
    } t[] = {
        {"GET / HTTP/1.1\r\n\r\n", 400},                       /* no Host */
        {"GET / HTTP/1.0\r\n\r\n", 0},                         /* 1.0 may omit it */
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400}, /* two */
        {"GET / HTTP/1.9\r\nHost: a\r\n\r\n", 505},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
        {"GET / HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x01\r\n\r\n", 400},
        {"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char b[256];
        size_t n = strlen(t[i].head);
        memcpy(b, t[i].head, n + 1);
        h1_head h;
        char err[200] = "";
        int st = h1_parse_head(b, n, &h, err, sizeof err);
        CHECK(st == t[i].status);
        if (st != t[i].status) fprintf(stderr, "  case %zu: %d %s\n", i, st, err);
        if (i == 11) CHECK(!h.keep_alive);
    }
}

TEST(h1_escape_and_many_secrets)
{
    char out[32];
    h1_escape("a\x1b[31m\\z", 8, out, sizeof out);
    CHECK_STR(out, "a\\x1b[31m\\x5cz");
    h1_escape("abcdef", 6, out, 4);
    CHECK_STR(out, "abc");
    /* more than the 8 secrets the log used to keep */
    char name[40], line[200];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "secret-number-%02d", i);
        log_add_secret(name);
    }
    snprintf(line, sizeof line, "a secret-number-00 b secret-number-19 c");
    log_redact(line);
    CHECK_STR(line, "a **************** b **************** c");
}
