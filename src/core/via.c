/*
 * via: request loops between gateways (see via.h).
 */
#include "via.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The next entry of *p: its start and length (0 when the list is done);
 * *p moves past it. Separators are commas and blanks. */
static size_t next_entry(const char **p, const char **start)
{
    const char *s = *p;
    while (*s == ',' || *s == ' ' || *s == '\t')
        s++;
    const char *e = s;
    while (*e && *e != ',' && *e != ' ' && *e != '\t')
        e++;
    *start = s;
    *p = e;
    return (size_t)(e - s);
}

static int well_formed(const char *s, size_t len)
{
    if (len != VIA_ID_LEN) return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_hex(s[i])) return 0;
    return 1;
}

int via_looped(const char *list, const char *self)
{
    if (!list) return 0;
    size_t selflen = strlen(self);
    int hops = 0;
    const char *p = list, *s;
    for (size_t len; (len = next_entry(&p, &s)) > 0;) {
        if (len == selflen && strncasecmp(s, self, len) == 0) return 1;
        hops++;
    }
    return hops >= VIA_MAX_HOPS;
}

char *via_line(const char *list, const char *self, char *out, size_t n)
{
    size_t at = (size_t)snprintf(out, n, "%s: ", VIA_HEADER);
    size_t selflen = strlen(self);
    int kept = 0;
    const char *p = list ? list : "", *s;
    for (size_t len; (len = next_entry(&p, &s)) > 0 && kept < VIA_MAX_HOPS - 1;) {
        if (!well_formed(s, len) || at + len + 2 + selflen >= n) continue;
        memcpy(out + at, s, len);
        at += len;
        memcpy(out + at, ", ", 2);
        at += 2;
        kept++;
    }
    if (at < n) snprintf(out + at, n - at, "%s", self);
    return out;
}
