/*
 * provenance: make a mixed local/Claude conversation valid for the backend
 * it goes to (see provenance.h). Called by relay.c (and count_tokens.c) just before a
 * pass-through request leaves; pure cJSON in, cJSON out.
 */
#include "provenance.h"

#include <string.h>

/* What an assistant message left empty by the removal becomes. */
#define EMPTIED_TEXT "(thinking from another model omitted)"

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static int type_is(const cJSON *blk, const char *t)
{
    const cJSON *v = get(blk, "type");
    return cJSON_IsString(v) && v->valuestring && strcmp(v->valuestring, t) == 0;
}

static int role_is(const cJSON *msg, const char *r)
{
    const cJSON *v = get(msg, "role");
    return cJSON_IsString(v) && v->valuestring && strcmp(v->valuestring, r) == 0;
}

int provenance_foreign_signature(const cJSON *blk)
{
    const cJSON *s = get(blk, "signature");
    if (!cJSON_IsString(s) || !s->valuestring || !s->valuestring[0]) return 1;
    return strncmp(s->valuestring, PROVENANCE_SIG_PREFIX, strlen(PROVENANCE_SIG_PREFIX)) == 0;
}

/* An assistant message the removal left with no content gets one
 * placeholder text block (the API wants non-empty content). Returns 0 or
 * -1 (out of memory). */
static int fill_emptied(cJSON *content, provenance_stats *st)
{
    if (content->child) return 0;
    cJSON *t = cJSON_CreateObject();
    if (!t || !cJSON_AddStringToObject(t, "type", "text") ||
        !cJSON_AddStringToObject(t, "text", EMPTIED_TEXT)) {
        cJSON_Delete(t);
        return -1;
    }
    cJSON_AddItemToArray(content, t);
    st->emptied_filled++;
    return 0;
}

/* Remove the foreign thinking blocks of one assistant message. Returns the
 * number of changes or -1. */
static int drop_foreign_thinking(cJSON *msg, provenance_stats *st)
{
    cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    int n = 0, had = 0;
    if (!cJSON_IsArray(content)) return 0;
    cJSON *b = content->child;
    while (b) {
        cJSON *next = b->next;
        had = 1;
        if (type_is(b, "thinking") && provenance_foreign_signature(b)) {
            cJSON_Delete(cJSON_DetachItemViaPointer(content, b));
            st->thinking_dropped++;
            n++;
        }
        b = next;
    }
    if (n && had && fill_emptied(content, st)) return -1;
    return n;
}

static int has_block(const cJSON *msg, const char *type)
{
    const cJSON *content = get(msg, "content"), *b;
    if (!cJSON_IsArray(content)) return 0;
    cJSON_ArrayForEach(b, content)
    {
        if (type_is(b, type)) return 1;
    }
    return 0;
}

/* Does the request continue a tool loop whose assistant message lacks a
 * leading thinking block? */
static int loop_lacks_thinking(const cJSON *msgs)
{
    const cJSON *last = NULL, *asst = NULL, *m;
    cJSON_ArrayForEach(m, msgs)
    {
        last = m;
        if (role_is(m, "assistant")) asst = m;
    }
    if (!last || !role_is(last, "user") || !has_block(last, "tool_result")) return 0;
    if (!asst || !has_block(asst, "tool_use")) return 0;
    const cJSON *content = get(asst, "content");
    const cJSON *first = cJSON_IsArray(content) ? content->child : NULL;
    return !(type_is(first, "thinking") || type_is(first, "redacted_thinking"));
}

/* Thinking off for this request, with the context edits that need it. */
static int disable_thinking(cJSON *root)
{
    cJSON *off = cJSON_CreateObject();
    if (!off || !cJSON_AddStringToObject(off, "type", "disabled")) {
        cJSON_Delete(off);
        return -1;
    }
    cJSON_ReplaceItemInObjectCaseSensitive(root, "thinking", off);
    cJSON *cm = cJSON_GetObjectItemCaseSensitive(root, "context_management");
    cJSON *edits = cJSON_IsObject(cm) ? cJSON_GetObjectItemCaseSensitive(cm, "edits") : NULL;
    if (!cJSON_IsArray(edits)) return 0;
    cJSON *e = edits->child;
    while (e) {
        cJSON *next = e->next;
        const cJSON *t = get(e, "type");
        if (cJSON_IsString(t) && t->valuestring &&
            strncmp(t->valuestring, "clear_thinking", 14) == 0)
            cJSON_Delete(cJSON_DetachItemViaPointer(edits, e));
        e = next;
    }
    if (!edits->child) cJSON_DeleteItemFromObjectCaseSensitive(root, "context_management");
    return 0;
}

typedef int (*message_fn)(cJSON *msg, provenance_stats *st);

/* Run fn on every assistant message of the request (after clearing *st).
 * Returns the sum of what fn returned, or -1 as soon as one fails. */
static int each_assistant(cJSON *root, provenance_stats *st, message_fn fn)
{
    memset(st, 0, sizeof *st);
    cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    int n = 0;
    cJSON *m;
    if (!cJSON_IsArray(msgs)) return 0;
    cJSON_ArrayForEach(m, msgs)
    {
        if (!role_is(m, "assistant")) continue;
        int k = fn(m, st);
        if (k < 0) return -1;
        n += k;
    }
    return n;
}

int provenance_for_claude(cJSON *root, provenance_stats *st)
{
    provenance_stats local;
    if (!st) st = &local;
    int n = each_assistant(root, st, drop_foreign_thinking);
    if (n < 0) return -1;
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(root, "thinking");
    if (type_is(th, "enabled") &&
        loop_lacks_thinking(cJSON_GetObjectItemCaseSensitive(root, "messages"))) {
        if (disable_thinking(root)) return -1;
        st->thinking_disabled = 1;
        n++;
    }
    return n;
}

static int empty_signature(const cJSON *blk)
{
    const cJSON *s = get(blk, "signature");
    return cJSON_IsString(s) && s->valuestring && !s->valuestring[0];
}

/* One assistant message for a local server: no redacted thinking, no
 * signatures. Returns the number of changes or -1. */
static int local_message(cJSON *msg, provenance_stats *st)
{
    cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    int n = 0, dropped = 0;
    if (!cJSON_IsArray(content)) return 0;
    cJSON *b = content->child;
    while (b) {
        cJSON *next = b->next;
        if (type_is(b, "redacted_thinking")) {
            dropped++;
            cJSON_Delete(cJSON_DetachItemViaPointer(content, b));
            st->redacted_dropped++;
            n++;
        } else if (type_is(b, "thinking") && !empty_signature(b)) {
            /* kept as "" rather than removed: servers that check the
             * block's shape want the field */
            cJSON *e = cJSON_CreateString("");
            if (!e) return -1;
            if (cJSON_GetObjectItemCaseSensitive(b, "signature"))
                cJSON_ReplaceItemInObjectCaseSensitive(b, "signature", e);
            else
                cJSON_AddItemToObject(b, "signature", e);
            st->signatures_removed++;
            n++;
        }
        b = next;
    }
    if (dropped && fill_emptied(content, st)) return -1;
    return n;
}

int provenance_for_local(cJSON *root, provenance_stats *st)
{
    provenance_stats local;
    return each_assistant(root, st ? st : &local, local_message);
}

int provenance_claude_needed(const cJSON *root)
{
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages"), *m, *b;
    if (!cJSON_IsArray(msgs)) return 0;
    cJSON_ArrayForEach(m, msgs)
    {
        const cJSON *content = get(m, "content");
        if (!role_is(m, "assistant") || !cJSON_IsArray(content)) continue;
        cJSON_ArrayForEach(b, content)
        {
            if (type_is(b, "thinking") && provenance_foreign_signature(b)) return 1;
        }
    }
    return type_is(cJSON_GetObjectItemCaseSensitive(root, "thinking"), "enabled") &&
           loop_lacks_thinking(msgs);
}
