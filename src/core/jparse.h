/*
 * jparse: parse JSON into a cJSON tree, as cJSON_ParseWithLengthOpts(s, len,
 * end, 0) does (same tree, same *end, same errors), in a fraction of the
 * instructions for string-heavy input: the request path's one parse of the
 * client's body (bench/overhead-profile measures it). Pure.
 */
#ifndef ANYCLAUDE_JPARSE_H
#define ANYCLAUDE_JPARSE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <string.h>

/* The value at the start of s[0, len) (whitespace before it skipped); *end
 * (if end) is set just past it, or where cJSON failed. NULL on any error
 * (then the error is cJSON's own: the input is handed to it). Free with
 * cJSON_Delete. */
cJSON *jparse(const char *s, size_t len, const char **end);

/* jparse, and the text of the value of key in the top-level object (its
 * first member of that name, as cJSON_GetObjectItemCaseSensitive finds
 * it): *vp and *vn, or NULL and 0 when there is none or cJSON parsed the
 * input. The same text always parses to the same tree: a cache can compare
 * it instead of the tree (the tools of every turn). */
cJSON *jparse_member(const char *s, size_t len, const char **end, const char *key, const char **vp,
                     size_t *vn);

/* jparse_member, and the value of key taken from a tree parsed before from
 * the same text when reuse finds one: reuse(ud, p, avail, &n) is asked with
 * the input at that value (avail bytes left) and returns a tree whose text
 * is the n bytes at p, or NULL. Then the member is a reference to that
 * tree's children (cJSON_CreateArrayReference or ObjectReference: freeing
 * the result leaves them alone; they must outlive it and nothing may change
 * them through it), and *reused is set. */
typedef const cJSON *(*jparse_reuse_fn)(void *ud, const char *p, size_t avail, size_t *n);
cJSON *jparse_member_reuse(const char *s, size_t len, const char **end, const char *key,
                           const char **vp, size_t *vn, jparse_reuse_fn reuse, void *ud,
                           int *reused);

/* An arena for trees that live a moment (a stream chunk, read and dropped):
 * jparse_in builds the tree there (nodes and strings in a few blocks instead
 * of a malloc each), and jparse_arena_drop frees it at once. Such a tree is
 * read only: nothing may free, detach, replace or re-set anything in it. */
struct jparse_block {
    struct jparse_block *next;
    size_t cap, used;
    _Alignas(16) unsigned char mem[];
};
typedef struct jparse_arena {
    struct jparse_block *blocks; /* the newest first; the last is kept across drops */
    cJSON *heap;                 /* a tree cJSON built instead (its fallback), or NULL */
} jparse_arena;

/* jparse into a (whose earlier tree must have been dropped). The same tree
 * and *end as jparse; where jparse hands the input to cJSON, the tree is
 * cJSON's own and jparse_arena_drop deletes it. */
cJSON *jparse_in(jparse_arena *a, const char *s, size_t len, const char **end);
/* Forget the tree jparse_in made (all of a's memory but one block). */
void jparse_arena_drop(jparse_arena *a);
/* Free everything a holds. */
void jparse_arena_free(jparse_arena *a);

/* cJSON_GetObjectItemCaseSensitive(o, key), inline: the first member named
 * key (NULL when o is NULL or has none; the search stops at a child without
 * a name, as cJSON's does). A stream chunk asks for about fifteen members,
 * most of them absent: comparing first bytes before strcmp, without a call
 * into the library each time, keeps that off the per-chunk profile. */
static inline const cJSON *jparse_get(const cJSON *o, const char *key)
{
    if (!o || !key) return NULL;
    for (const cJSON *c = o->child; c && c->string; c = c->next)
        if (c->string[0] == key[0] && strcmp(c->string, key) == 0) return c;
    return NULL;
}

/* 1 when a and b are the same tree in every field a parse sets (type,
 * valueint, valuedouble bit for bit, strings, keys, order, the head's prev
 * link to the tail), for the tests that hold jparse to cJSON. (cJSON_Compare
 * is not that: it finds object members by key, so duplicate keys never
 * compare equal, and inf is not equal to itself.) */
int jparse_same(const cJSON *a, const cJSON *b);

#endif
