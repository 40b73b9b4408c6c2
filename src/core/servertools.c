/*
 * servertools: recognise Anthropic server tools and answer for them when no
 * backend that runs them is reachable (see servertools.h).
 */
#include "servertools.h"

#include <stdio.h>
#include <string.h>

#include "anthropic.h"

/* Type prefixes of the tools the Claude API runs on its side. (bash_*,
 * text_editor_*, computer_* and memory_* are Anthropic-defined too, but the
 * client runs them.) */
static const char *const server_prefixes[] = {"web_search_", "web_fetch_", "code_execution_",
                                              "tool_search_tool_", NULL};

int servertools_is_server_tool(const cJSON *tool)
{
    const cJSON *t = cJSON_IsObject(tool) ? cJSON_GetObjectItemCaseSensitive(tool, "type") : NULL;
    if (!cJSON_IsString(t) || !t->valuestring) return 0;
    for (int i = 0; server_prefixes[i]; i++)
        if (strncmp(t->valuestring, server_prefixes[i], strlen(server_prefixes[i])) == 0) return 1;
    return 0;
}

void servertools_scan(const cJSON *root, servertools_info *info)
{
    memset(info, 0, sizeof *info);
    const cJSON *tools =
        cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "tools") : NULL;
    const cJSON *t;
    if (!cJSON_IsArray(tools)) return;
    cJSON_ArrayForEach(t, tools)
    {
        if (!servertools_is_server_tool(t)) {
            info->client++;
            continue;
        }
        if (!info->server++) {
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(t, "name");
            const cJSON *ty = cJSON_GetObjectItemCaseSensitive(t, "type");
            snprintf(info->first, sizeof info->first, "%s",
                     cJSON_IsString(n) && n->valuestring ? n->valuestring : "server tool");
            snprintf(info->type, sizeof info->type, "%s", ty->valuestring);
        }
    }
}

int servertools_maybe(const char *body, size_t len)
{
    for (int i = 0; server_prefixes[i]; i++) {
        char pat[40];
        int n = snprintf(pat, sizeof pat, "\"%s", server_prefixes[i]);
        if (n > 0 && memmem(body, len, pat, (size_t)n)) return 1;
    }
    return 0;
}

/* Remove the server tools of one "tools" array; returns how many. */
static int strip_array(cJSON *tools)
{
    int n = 0;
    cJSON *t = tools->child;
    while (t) {
        cJSON *next = t->next;
        if (servertools_is_server_tool(t)) {
            cJSON_Delete(cJSON_DetachItemViaPointer(tools, t));
            n++;
        }
        t = next;
    }
    return n;
}

int servertools_strip(cJSON *root)
{
    int n = 0;
    if (!cJSON_IsObject(root)) return 0;
    /* every "tools" member: a body with the key twice must not keep one */
    cJSON *k = root->child;
    while (k) {
        cJSON *next = k->next;
        if (k->string && strcmp(k->string, "tools") == 0 && cJSON_IsArray(k)) {
            int m = strip_array(k);
            if (m && !k->child) cJSON_Delete(cJSON_DetachItemViaPointer(root, k));
            n += m;
        }
        k = next;
    }
    /* a forced choice of a tool that is gone would be refused */
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(root, "tool_choice");
    const cJSON *tt = cJSON_IsObject(tc) ? cJSON_GetObjectItemCaseSensitive(tc, "type") : NULL;
    if (n && cJSON_IsString(tt) && strcmp(tt->valuestring, "tool") == 0)
        cJSON_DeleteItemFromObjectCaseSensitive(root, "tool_choice");
    return n;
}

/* The result block type and error type of a server tool, or NULL when it
 * has none the client would know. */
static void result_types(const char *type, const char **block, const char **err)
{
    *block = *err = NULL;
    if (strncmp(type, "web_search_", 11) == 0) {
        *block = "web_search_tool_result";
        *err = "web_search_tool_result_error";
    } else if (strncmp(type, "web_fetch_", 10) == 0) {
        *block = "web_fetch_tool_result";
        *err = "web_fetch_tool_error";
    }
}

static cJSON *blocks(const servertools_info *info, const char *msg_id, const char *backend)
{
    char id[160], text[1024];
    const char *rblock, *rerr;
    result_types(info->type, &rblock, &rerr);
    snprintf(id, sizeof id, "srvtoolu_%s", strncmp(msg_id, "msg_", 4) == 0 ? msg_id + 4 : msg_id);
    snprintf(text, sizeof text,
             "%s is not available here: anyclaude sent this request to the backend \"%s\", which "
             "cannot run Anthropic's server tool %s (%s); only the Claude API runs it. To enable "
             "it, add a route to a claude backend in anyclaude's config file, e.g. "
             "{\"when\": \"serverTools\", \"to\": \"claude\"} with \"claude\": {\"mode\": "
             "\"claude\"} in \"backends\" (see docs/routing.md). No search or fetch was made.",
             strncmp(info->type, "web_search_", 11) == 0  ? "Web search"
             : strncmp(info->type, "web_fetch_", 10) == 0 ? "Web fetch"
                                                          : "This tool",
             backend, info->first, info->type);
    /* every block joins arr as soon as it exists, so one delete frees all */
    cJSON *arr = cJSON_CreateArray();
    cJSON *use = cJSON_CreateObject();
    if (!arr || !use) {
        cJSON_Delete(arr);
        cJSON_Delete(use);
        return NULL;
    }
    cJSON_AddItemToArray(arr, use);
    if (!cJSON_AddStringToObject(use, "type", "server_tool_use") ||
        !cJSON_AddStringToObject(use, "id", id) ||
        !cJSON_AddStringToObject(use, "name", info->first) ||
        !cJSON_AddObjectToObject(use, "input"))
        goto fail;
    if (rblock) {
        cJSON *res = cJSON_CreateObject();
        if (!res) goto fail;
        cJSON_AddItemToArray(arr, res);
        cJSON *c = cJSON_AddObjectToObject(res, "content");
        if (!cJSON_AddStringToObject(res, "type", rblock) ||
            !cJSON_AddStringToObject(res, "tool_use_id", id) || !c ||
            !cJSON_AddStringToObject(c, "type", rerr) ||
            !cJSON_AddStringToObject(c, "error_code", "unavailable"))
            goto fail;
    }
    cJSON *txt = cJSON_CreateObject();
    if (!txt) goto fail;
    cJSON_AddItemToArray(arr, txt);
    if (!cJSON_AddStringToObject(txt, "type", "text") ||
        !cJSON_AddStringToObject(txt, "text", text))
        goto fail;
    return arr;
fail:
    cJSON_Delete(arr);
    return NULL;
}

static cJSON *usage(void)
{
    cJSON *u = cJSON_CreateObject();
    if (u && cJSON_AddNumberToObject(u, "input_tokens", 0) &&
        cJSON_AddNumberToObject(u, "output_tokens", 0))
        return u;
    cJSON_Delete(u);
    return NULL;
}

int servertools_answer(const servertools_info *info, const char *msg_id, const char *model,
                       const char *backend, int stream, buf *out)
{
    int rc = BUF_ENOMEM;
    cJSON *content = blocks(info, msg_id, backend);
    cJSON *msg = cJSON_CreateObject();
    cJSON *u = usage();
    if (!content || !msg || !u) goto out;
    if (!cJSON_AddStringToObject(msg, "id", msg_id) ||
        !cJSON_AddStringToObject(msg, "type", "message") ||
        !cJSON_AddStringToObject(msg, "role", "assistant") ||
        !cJSON_AddStringToObject(msg, "model", model ? model : ""))
        goto out;
    if (!stream) {
        cJSON_AddItemToObject(msg, "content", content);
        content = NULL;
        if (!cJSON_AddStringToObject(msg, "stop_reason", "end_turn") ||
            !cJSON_AddNullToObject(msg, "stop_sequence"))
            goto out;
        cJSON_AddItemToObject(msg, "usage", u);
        u = NULL;
        char *s = cJSON_PrintUnformatted(msg);
        rc = s ? buf_appends(out, s) : BUF_ENOMEM;
        cJSON_free(s);
        goto out;
    }
    /* streamed: message_start, each block whole (start + stop; text and
     * tool input as one delta), message_delta, message_stop */
    cJSON *empty = cJSON_AddArrayToObject(msg, "content");
    if (!empty || !cJSON_AddNullToObject(msg, "stop_reason") ||
        !cJSON_AddNullToObject(msg, "stop_sequence"))
        goto out;
    cJSON_AddItemToObject(msg, "usage", u);
    u = NULL;
    cJSON *ev = cJSON_CreateObject();
    if (!ev || !cJSON_AddStringToObject(ev, "type", "message_start")) {
        cJSON_Delete(ev);
        goto out;
    }
    cJSON_AddItemReferenceToObject(ev, "message", msg);
    rc = anthropic_sse_event(out, "message_start", ev);
    cJSON_Delete(ev);
    int i = 0;
    cJSON *b;
    cJSON_ArrayForEach(b, content)
    {
        if (rc) break;
        char head[64];
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(b, "type");
        int is_text = strcmp(ty->valuestring, "text") == 0;
        cJSON *start = cJSON_Duplicate(b, 1);
        if (!start) {
            rc = BUF_ENOMEM;
            break;
        }
        if (is_text) cJSON_ReplaceItemInObjectCaseSensitive(start, "text", cJSON_CreateString(""));
        snprintf(head, sizeof head, "{\"type\":\"content_block_start\",\"index\":%d,", i);
        char *bs = cJSON_PrintUnformatted(start);
        cJSON_Delete(start);
        if (!bs) {
            rc = BUF_ENOMEM;
            break;
        }
        buf ev_txt;
        buf_init(&ev_txt, 0);
        rc = buf_appends(&ev_txt, head);
        if (!rc) rc = buf_appends(&ev_txt, "\"content_block\":");
        if (!rc) rc = buf_appends(&ev_txt, bs);
        if (!rc) rc = buf_appends(&ev_txt, "}");
        cJSON_free(bs);
        if (!rc) rc = anthropic_sse_event_raw(out, "content_block_start", ev_txt.data, ev_txt.len);
        buf_free(&ev_txt);
        if (!rc && is_text) {
            cJSON *d = cJSON_CreateObject(), *dd = NULL;
            if (d && cJSON_AddStringToObject(d, "type", "content_block_delta") &&
                cJSON_AddNumberToObject(d, "index", i) &&
                (dd = cJSON_AddObjectToObject(d, "delta")) &&
                cJSON_AddStringToObject(dd, "type", "text_delta") &&
                cJSON_AddStringToObject(dd, "text",
                                        cJSON_GetObjectItemCaseSensitive(b, "text")->valuestring))
                rc = anthropic_sse_event(out, "content_block_delta", d);
            else
                rc = BUF_ENOMEM;
            cJSON_Delete(d);
        }
        if (!rc) {
            snprintf(head, sizeof head, "{\"type\":\"content_block_stop\",\"index\":%d}", i);
            rc = anthropic_sse_event_raw(out, "content_block_stop", head, strlen(head));
        }
        i++;
    }
    static const char delta[] =
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
        "\"stop_sequence\":null},\"usage\":{\"output_tokens\":0}}";
    static const char stop[] = "{\"type\":\"message_stop\"}";
    if (!rc) rc = anthropic_sse_event_raw(out, "message_delta", delta, sizeof delta - 1);
    if (!rc) rc = anthropic_sse_event_raw(out, "message_stop", stop, sizeof stop - 1);
out:
    cJSON_Delete(content);
    cJSON_Delete(msg);
    cJSON_Delete(u);
    return rc;
}
