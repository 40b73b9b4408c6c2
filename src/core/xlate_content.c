/*
 * xlate_content: content blocks for the request translator (see
 * xlate_content.h). Knows Anthropic's block types and how each becomes text
 * when it has to; writes nothing to the upstream body itself.
 */
#include "xlate_content.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Block types Anthropic defines that have no OpenAI counterpart and that are
 * dropped wherever they appear (results of tools the server ran, tool
 * references the client resolves itself). */
static const char *const skipped_types[] = {
    "server_tool_use",
    "web_search_tool_result",
    "web_fetch_tool_result",
    "code_execution_tool_result",
    "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result",
    "tool_search_tool_result",
    "tool_reference",
    "mcp_tool_use",
    "mcp_tool_result",
    "container_upload",
    NULL,
};

static int is_skipped_type(const char *t)
{
    for (int i = 0; skipped_types[i]; i++)
        if (strcmp(t, skipped_types[i]) == 0) return 1;
    return 0;
}

int xlate_content_known(const char *t)
{
    static const char *const known[] = {
        "text",     "image",         "tool_use", "tool_result", "thinking", "redacted_thinking",
        "document", "search_result", NULL,
    };
    for (int i = 0; known[i]; i++)
        if (strcmp(t, known[i]) == 0) return 1;
    return is_skipped_type(t);
}

/* Check that blk at path is an object with a string "type"; *type is set.
 * A type this gateway does not know (a newer Claude Code's) is accepted:
 * see unknown_text. */
int xlate_content_type(xctx *c, const cJSON *blk, const char *path, const char **type)
{
    if (!cJSON_IsObject(blk)) return FAIL(c, "%s: must be an object", path);
    const cJSON *t = get(blk, "type");
    if (!t) return FAIL(c, "%s.type: field required", path);
    if (!is_str(t)) return FAIL(c, "%s.type: must be a string", path);
    *type = t->valuestring;
    return 0;
}

/* The rule for a block of a type this gateway does not know (Claude Code
 * releases add some): when it carries a string "text" it is sent as text,
 * otherwise it becomes a placeholder line (left_out).
 * Returns the text, or NULL (nothing to send; also for known types). */
const cJSON *xlate_content_unknown_text(const cJSON *blk, const char *type)
{
    if (xlate_content_known(type)) return NULL;
    const cJSON *t = get(blk, "text");
    return is_str(t) && t->valuestring[0] ? t : NULL;
}

/* The text that stands in for a block the backend cannot take: an image for
 * a text-only server, or a block type anyclaude does not know. It depends
 * only on the block's type, so the same conversation renders the same bytes
 * every time and its prefix stays cached; it says what was left out and
 * why, so the model (and the user reading its answer) knows. */
int xlate_content_left_out(buf *dst, int *any, const char *type)
{
    char t[256], name[XLATE_QUOTE_MAX + 1];
    size_t n = 0;
    /* the client's type name, cut short and limited to plain characters (a
     * cut could otherwise split a UTF-8 sequence) */
    for (const char *p = type; *p && n < XLATE_QUOTE_MAX; p++)
        name[n++] = (isalnum((unsigned char)*p) || strchr("_-.:", *p)) ? *p : '?';
    name[n] = '\0';
    if (strcmp(type, "image") == 0)
        snprintf(t, sizeof t, "%s", XLATE_IMAGE_LEFT_OUT);
    else
        snprintf(t, sizeof t,
                 "[A \"%s\" block was left out here: anyclaude cannot send that kind of "
                 "content to this model server.]",
                 name);
    return join_add(dst, any, t, strlen(t));
}

/* The "text" of a text block at path. */
int xlate_content_text(xctx *c, const cJSON *blk, const char *path, const cJSON **text)
{
    const cJSON *t = get(blk, "text");
    if (!is_str(t)) return FAIL(c, "%s.text: must be a string", path);
    *text = t;
    return 0;
}

/* Validate an image block at path without using it (text-only backends:
 * a malformed image is still the client's error). */
int xlate_content_check_image(xctx *c, const cJSON *blk, const char *path)
{
    const cJSON *src = get(blk, "source");
    if (!cJSON_IsObject(src)) return FAIL(c, "%s.source: must be an object", path);
    const cJSON *st = get(src, "type");
    if (!is_str(st)) return FAIL(c, "%s.source.type: must be a string", path);
    if (strcmp(st->valuestring, "base64") == 0) {
        const cJSON *mt = get(src, "media_type"), *data = get(src, "data");
        if (!is_nonempty_str(mt))
            return FAIL(c, "%s.source.media_type: must be a non-empty string", path);
        if (!is_str(data)) return FAIL(c, "%s.source.data: must be a string", path);
        return 0;
    }
    if (strcmp(st->valuestring, "url") == 0) {
        if (!is_nonempty_str(get(src, "url")))
            return FAIL(c, "%s.source.url: must be a non-empty string", path);
        return 0;
    }
    return FAIL(c,
                "%s.source.type: image source type \"%.*s\" is not supported; use \"base64\" "
                "or \"url\"",
                path, XLATE_QUOTE_MAX, st->valuestring);
}

/* ---- documents ------------------------------------------------------- */

/* Append the text of a document or search_result block at path to dst.
 * Plain-text and content-list documents are inlined (with their title);
 * PDFs, URLs and files cannot be, and are refused with a message that says
 * so rather than silently dropped. */
int xlate_content_doc(xctx *c, const cJSON *blk, const char *type, const char *path, buf *dst)
{
    const cJSON *title = get(blk, "title");
    int any = 0, rc = 0;
    if (title && !is_str(title)) return FAIL(c, "%s.title: must be a string", path);
    if (strcmp(type, "search_result") == 0) {
        const cJSON *source = get(blk, "source"), *content = get(blk, "content");
        if (!is_str(source)) return FAIL(c, "%s.source: must be a string", path);
        if (!cJSON_IsArray(content)) return FAIL(c, "%s.content: must be an array", path);
        rc = from_buf_rc(buf_appendf(dst, "Search result: %s\nSource: %s\n\n",
                                     title ? title->valuestring : "", source->valuestring));
        if (rc) return rc;
        int k = 0;
        const cJSON *b;
        cJSON_ArrayForEach(b, content)
        {
            char sub[128];
            const cJSON *text;
            snprintf(sub, sizeof sub, "%s.content.%d", path, k++);
            if (!cJSON_IsObject(b) || !is_str(get(b, "type")) ||
                strcmp(get(b, "type")->valuestring, "text") != 0)
                return FAIL(c, "%s: search result content must be text blocks", sub);
            rc = xlate_content_text(c, b, sub, &text);
            if (!rc) rc = join_add(dst, &any, text->valuestring, strlen(text->valuestring));
            if (rc) return rc;
        }
        return 0;
    }
    const cJSON *src = get(blk, "source");
    if (!cJSON_IsObject(src)) return FAIL(c, "%s.source: must be an object", path);
    const cJSON *st = get(src, "type");
    if (!is_str(st)) return FAIL(c, "%s.source.type: must be a string", path);
    if (title) rc = from_buf_rc(buf_appendf(dst, "Document: %s\n\n", title->valuestring));
    if (rc) return rc;
    if (strcmp(st->valuestring, "text") == 0) {
        const cJSON *data = get(src, "data");
        if (!is_str(data)) return FAIL(c, "%s.source.data: must be a string", path);
        return from_buf_rc(buf_appends(dst, data->valuestring));
    }
    if (strcmp(st->valuestring, "content") == 0) {
        const cJSON *content = get(src, "content"), *b;
        if (is_str(content)) return from_buf_rc(buf_appends(dst, content->valuestring));
        if (!cJSON_IsArray(content))
            return FAIL(c, "%s.source.content: must be a string or an array of text blocks", path);
        int k = 0;
        cJSON_ArrayForEach(b, content)
        {
            char sub[128];
            const cJSON *text;
            snprintf(sub, sizeof sub, "%s.source.content.%d", path, k++);
            if (!cJSON_IsObject(b) || !is_str(get(b, "type")))
                return FAIL(c, "%s: must be a content block", sub);
            if (strcmp(get(b, "type")->valuestring, "text") != 0)
                return FAIL(c,
                            "%s: document content of type \"%.*s\" is not supported; only text "
                            "blocks can be sent to OpenAI-compatible backends",
                            sub, XLATE_QUOTE_MAX, get(b, "type")->valuestring);
            rc = xlate_content_text(c, b, sub, &text);
            if (!rc) rc = join_add(dst, &any, text->valuestring, strlen(text->valuestring));
            if (rc) return rc;
        }
        return 0;
    }
    const cJSON *mt = get(src, "media_type");
    if (is_str(mt))
        return FAIL(c,
                    "%s: document with source type \"%.*s\" (%.*s) is not supported by "
                    "OpenAI-compatible backends; send the text instead",
                    path, XLATE_QUOTE_MAX, st->valuestring, XLATE_QUOTE_MAX, mt->valuestring);
    return FAIL(c,
                "%s: document with source type \"%.*s\" is not supported by OpenAI-compatible "
                "backends; send the text instead",
                path, XLATE_QUOTE_MAX, st->valuestring);
}
