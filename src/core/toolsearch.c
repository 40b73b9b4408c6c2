/*
 * toolsearch: Claude Code's tool search for backends that cannot run it
 * (see toolsearch.h).
 */
#include "toolsearch.h"

#include <string.h>

#include "jw.h"

static const cJSON *member(const cJSON *o, const char *k)
{
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static int is_type(const cJSON *blk, const char *type)
{
    const cJSON *t = member(blk, "type");
    return cJSON_IsString(t) && strcmp(t->valuestring, type) == 0;
}

int toolsearch_deferred(const cJSON *tool)
{
    return cJSON_IsTrue(member(tool, "defer_loading"));
}

/* The tool a tool_reference block names, or NULL. */
static const char *ref_name(const cJSON *blk)
{
    const cJSON *n = member(blk, "tool_name");
    return is_type(blk, "tool_reference") && cJSON_IsString(n) ? n->valuestring : NULL;
}

int toolsearch_loaded(const cJSON *messages, const char *name)
{
    const cJSON *m, *blk, *ref;
    if (!cJSON_IsArray(messages)) return 0;
    cJSON_ArrayForEach(m, messages)
    {
        const cJSON *content = member(m, "content");
        if (!cJSON_IsArray(content)) continue;
        cJSON_ArrayForEach(blk, content)
        {
            if (is_type(blk, "tool_use")) {
                const cJSON *n = member(blk, "name");
                if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) return 1;
                continue;
            }
            const cJSON *inner = member(blk, "content");
            if (!is_type(blk, "tool_result") || !cJSON_IsArray(inner)) continue;
            cJSON_ArrayForEach(ref, inner)
            {
                const char *r = ref_name(ref);
                if (r && strcmp(r, name) == 0) return 1;
            }
        }
    }
    return 0;
}

const cJSON *toolsearch_find(const cJSON *tools, const char *name)
{
    const cJSON *t;
    if (!cJSON_IsArray(tools)) return NULL;
    cJSON_ArrayForEach(t, tools)
    {
        const cJSON *n = member(t, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0 && member(t, "input_schema"))
            return t;
    }
    return NULL;
}

int toolsearch_definition(const cJSON *tool, buf *out)
{
    const cJSON *desc = member(tool, "description"), *name = member(tool, "name");
    jw w;
    jw_init(&w, out);
    jw_lit(&w, "<functions><function>{\"description\":");
    jw_cstr(&w, cJSON_IsString(desc) ? desc->valuestring : "");
    jw_lit(&w, ",\"name\":");
    jw_cstr(&w, cJSON_IsString(name) ? name->valuestring : "");
    jw_lit(&w, ",\"parameters\":");
    jw_value(&w, member(tool, "input_schema"));
    jw_lit(&w, "}</function></functions>");
    return w.rc;
}

/* Each tool_reference in the tool results of messages → a text block with
 * the definition of the tool it names in tools, or removed. */
static int references_to_text(cJSON *messages, const cJSON *tools)
{
    int changes = 0;
    cJSON *m, *blk;
    if (!cJSON_IsArray(messages)) return 0;
    cJSON_ArrayForEach(m, messages)
    {
        cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!cJSON_IsArray(content)) continue;
        cJSON_ArrayForEach(blk, content)
        {
            cJSON *inner = cJSON_GetObjectItemCaseSensitive(blk, "content");
            if (!is_type(blk, "tool_result") || !cJSON_IsArray(inner)) continue;
            cJSON *ref = inner->child;
            while (ref) {
                cJSON *next = ref->next;
                const char *name = ref_name(ref);
                if (name) {
                    const cJSON *t = toolsearch_find(tools, name);
                    buf def;
                    buf_init(&def, 0);
                    cJSON *text = NULL;
                    if (t && (toolsearch_definition(t, &def) != BUF_OK ||
                              buf_append(&def, "", 1) != BUF_OK || !(text = cJSON_CreateObject()) ||
                              !cJSON_AddStringToObject(text, "type", "text") ||
                              !cJSON_AddStringToObject(text, "text", def.data))) {
                        cJSON_Delete(text);
                        buf_free(&def);
                        return -1;
                    }
                    buf_free(&def);
                    if (text)
                        cJSON_ReplaceItemViaPointer(inner, ref, text);
                    else
                        cJSON_Delete(cJSON_DetachItemViaPointer(inner, ref));
                    changes++;
                }
                ref = next;
            }
        }
    }
    return changes;
}

int toolsearch_localize(cJSON *root)
{
    cJSON *tools = cJSON_GetObjectItemCaseSensitive(root, "tools");
    cJSON *messages = cJSON_GetObjectItemCaseSensitive(root, "messages");
    int changes = 0;
    if (cJSON_IsArray(tools)) {
        cJSON *keep = cJSON_CreateArray(); /* the loaded ones, in order */
        if (!keep) return -1;
        cJSON *t = tools->child;
        while (t) {
            cJSON *next = t->next;
            if (toolsearch_deferred(t)) {
                const cJSON *n = member(t, "name");
                cJSON *d = cJSON_DetachItemViaPointer(tools, t);
                changes++;
                if (cJSON_IsString(n) && toolsearch_loaded(messages, n->valuestring)) {
                    cJSON_DeleteItemFromObjectCaseSensitive(d, "defer_loading");
                    cJSON_AddItemToArray(keep, d);
                } else {
                    cJSON_Delete(d);
                }
            }
            t = next;
        }
        while (keep->child)
            cJSON_AddItemToArray(tools, cJSON_DetachItemViaPointer(keep, keep->child));
        cJSON_Delete(keep);
    }
    int r = references_to_text(messages, tools);
    return r < 0 ? -1 : changes + r;
}
