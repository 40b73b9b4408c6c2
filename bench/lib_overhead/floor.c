/*
 * floor.c: the memory a process pays before doing any gateway work, for
 * bench/overhead's idle RSS line. Three levels, chosen by argv[1]:
 *   libc    a C program that only waits (the loader and libc)
 *   event   + an event base (libevent), as anyclaude links it
 *   curl    + curl_global_init(CURL_GLOBAL_DEFAULT) and a multi handle: what
 *           libcurl and the TLS stack it loads (OpenSSL, GnuTLS via librtmp,
 *           Kerberos, LDAP...) cost at start, before any transfer
 * Linked like anyclaude (-levent -lcurl -lcjson), so every level maps the
 * same libraries; the levels differ in what they initialise. Built with
 * -DFLOOR_PLAIN it links nothing but libc (level "libc" only): the
 * difference is what merely loading those libraries costs. Prints "ready"
 * and waits for SIGTERM.
 *
 *   cc -O2 -o floor floor.c -levent -lcurl -lcjson && ./floor curl
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef FLOOR_PLAIN
int main(void)
{
    printf("ready plain\n");
    fflush(stdout);
    for (;;)
        pause();
}
#else
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <event2/event.h>

int main(int argc, char **argv)
{
    const char *level = argc > 1 ? argv[1] : "curl";
    struct event_base *base = NULL;
    CURLM *multi = NULL;
    if (strcmp(level, "libc") != 0) base = event_base_new();
    if (strcmp(level, "curl") == 0) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        multi = curl_multi_init();
    }
    cJSON_free(NULL);
    printf("ready %s %d\n", level, base != NULL && (multi != NULL || strcmp(level, "curl") != 0));
    fflush(stdout);
    for (;;)
        pause();
}
#endif
