/*
 * xlate_messages: Anthropic messages → the upstream "messages" array (see
 * xlate_messages.h). Order of work for one request: the system prompt
 * (without Claude Code's billing block), the lead (system messages before
 * the first assistant turn), then message by message; user content is
 * gathered in the pending user message and written when the next
 * non-user message (or the end) comes.
 */
#include "xlate_messages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anthropic.h"
#include "xlate_content.h"
#include "toolsearch.h"

/* Block k of message mi: its path ("messages.MI.content.K", into path) and
 * its checked type. Returns 0 or XLATE_EINVALID. */
static int msg_block(xctx *c, const cJSON *b, int mi, int k, char *path, size_t size,
                     const char **type)
{
    snprintf(path, size, "messages.%d.content.%d", mi, k);
    return xlate_content_type(c, b, path, type);
}

/* ---- the pending user message ---------------------------------------- */

static xctx_part *user_new_part(xctx *c, int image)
{
    xctx_pending *p = &c->user;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4;
        xctx_part *np = realloc(p->parts, cap * sizeof *np);
        if (!np) return NULL;
        p->parts = np;
        p->cap = cap;
    }
    xctx_part *pt = &p->parts[p->n++];
    pt->image = image;
    buf_init(&pt->data, 0);
    p->open = 1;
    return pt;
}

/* Add text to the pending user message (opening it), joined with "\n" to
 * text right before it. */
static int user_add_text(xctx *c, const char *s, size_t n)
{
    xctx_pending *p = &c->user;
    int any = 1;
    xctx_part *pt = p->n && !p->parts[p->n - 1].image ? &p->parts[p->n - 1] : NULL;
    if (!pt) {
        pt = user_new_part(c, 0);
        if (!pt) return XLATE_ENOMEM;
        any = 0;
    }
    return join_add(&pt->data, &any, s, n);
}

/* Add the placeholder for a block of this type to the pending user message. */
static int user_add_left_out(xctx *c, const char *type)
{
    buf t;
    int any = 0;
    buf_init(&t, 0);
    int rc = xlate_content_left_out(&t, &any, type);
    if (!rc) rc = user_add_text(c, t.data, t.len);
    buf_free(&t);
    return rc;
}

/* Validate an image block at path and add it to the pending user message:
 * base64 sources become data: URLs, url sources pass through. */
static int user_add_image(xctx *c, const cJSON *blk, const char *path)
{
    int rc = xlate_content_check_image(c, blk, path);
    if (rc) return rc;
    const cJSON *src = get(blk, "source");
    xctx_part *pt = user_new_part(c, 1);
    if (!pt) return XLATE_ENOMEM;
    if (strcmp(get(src, "type")->valuestring, "base64") == 0) {
        rc = buf_appends(&pt->data, "data:");
        if (!rc) rc = buf_appends(&pt->data, get(src, "media_type")->valuestring);
        if (!rc) rc = buf_appends(&pt->data, ";base64,");
        if (!rc) rc = buf_appends(&pt->data, get(src, "data")->valuestring);
    } else {
        rc = buf_appends(&pt->data, get(src, "url")->valuestring);
    }
    c->images++;
    return from_buf_rc(rc);
}

static void user_reset(xctx_pending *p)
{
    for (size_t i = 0; i < p->n; i++)
        buf_free(&p->parts[i].data);
    p->n = 0;
    p->open = 0;
}

/* Write the pending user message, if any: a single text as a string, else
 * an array of text and image_url parts. */
static int user_flush(xctx *c)
{
    xctx_pending *p = &c->user;
    jw *w = &c->w;
    if (!p->open) return 0;
    msg_begin(c);
    jw_lit(w, "{\"role\":\"user\",\"content\":");
    if (p->n == 0) {
        jw_lit(w, "\"\"");
    } else if (p->n == 1 && !p->parts[0].image) {
        put_text(c, p->parts[0].data.data, p->parts[0].data.len);
    } else {
        jw_raw(w, "[", 1);
        for (size_t i = 0; i < p->n; i++) {
            const buf *d = &p->parts[i].data;
            if (i) jw_raw(w, ",", 1);
            if (p->parts[i].image) {
                jw_lit(w, "{\"type\":\"image_url\",\"image_url\":{\"url\":");
                jw_str(w, d->data ? d->data : "", d->len);
                jw_lit(w, "}}");
            } else {
                jw_lit(w, "{\"type\":\"text\",\"text\":");
                put_text(c, d->data ? d->data : "", d->len);
                jw_raw(w, "}", 1);
            }
        }
        jw_raw(w, "]", 1);
    }
    jw_raw(w, "}", 1);
    user_reset(p);
    return from_buf_rc(w->rc);
}

/* Render a document block and add it to the pending user message. */
static int user_add_doc(xctx *c, const cJSON *blk, const char *type, const char *path)
{
    buf d;
    buf_init(&d, 0);
    int rc = xlate_content_doc(c, blk, type, path, &d);
    if (!rc) rc = user_add_text(c, d.data ? d.data : "", d.len);
    buf_free(&d);
    return rc;
}

/* ---- messages -------------------------------------------------------- */

/* A tool_reference block (ToolSearch's answer: the deferred tool named is
 * now loaded) → the tool's definition as text (toolsearch_definition);
 * xlate_tools declares the tool itself. One to no declared tool is
 * dropped. */
static int tool_reference_text(xctx *c, const cJSON *blk, buf *text, int *any)
{
    const cJSON *name = get(blk, "tool_name");
    const cJSON *t = is_str(name) ? toolsearch_find(c->tools, name->valuestring) : NULL;
    if (!t) return 0;
    buf j;
    buf_init(&j, 0);
    int rc = from_buf_rc(toolsearch_definition(t, &j));
    if (!rc) rc = join_add(text, any, j.data, j.len);
    buf_free(&j);
    return rc;
}

/* A tool_result block at path → {"role":"tool",...}. Its text blocks are
 * joined; its images go to the pending user message that follows the tool
 * messages (tool messages carry text only), with "(image)" standing in when
 * there is no text. is_error prefixes "Error: ". */
static int tool_message(xctx *c, const cJSON *blk, const char *path)
{
    const cJSON *id = get(blk, "tool_use_id"), *content = get(blk, "content");
    const cJSON *is_error = get(blk, "is_error");
    buf text;
    int rc = 0, any = 0;
    long images = 0;
    buf_init(&text, 0);
    if (!is_nonempty_str(id)) {
        rc = FAIL(c, "%s.tool_use_id: must be a non-empty string", path);
        goto out;
    }
    if (is_error && !cJSON_IsBool(is_error)) {
        rc = FAIL(c, "%s.is_error: must be a boolean", path);
        goto out;
    }
    if (is_str(content)) {
        rc = join_add(&text, &any, content->valuestring, strlen(content->valuestring));
    } else if (cJSON_IsArray(content)) {
        const cJSON *b;
        int k = 0;
        cJSON_ArrayForEach(b, content)
        {
            char sub[128];
            const char *type;
            const cJSON *t;
            snprintf(sub, sizeof sub, "%s.content.%d", path, k++);
            if ((rc = xlate_content_type(c, b, sub, &type))) goto out;
            if (strcmp(type, "text") == 0) {
                rc = xlate_content_text(c, b, sub, &t);
                if (!rc) rc = join_add(&text, &any, t->valuestring, strlen(t->valuestring));
            } else if (strcmp(type, "image") == 0 && c->text_only) {
                rc = xlate_content_check_image(c, b, sub);
                if (!rc) rc = xlate_content_left_out(&text, &any, type);
            } else if (strcmp(type, "image") == 0) {
                rc = user_add_image(c, b, sub);
                images++;
            } else if (strcmp(type, "tool_reference") == 0) {
                rc = tool_reference_text(c, b, &text, &any);
            } else if (!xlate_content_known(type)) {
                rc = (t = xlate_content_unknown_text(b, type))
                         ? join_add(&text, &any, t->valuestring, strlen(t->valuestring))
                         : xlate_content_left_out(&text, &any, type);
            } else if (strcmp(type, "document") == 0 || strcmp(type, "search_result") == 0) {
                if (any) rc = from_buf_rc(buf_append(&text, "\n", 1));
                if (!rc) rc = xlate_content_doc(c, b, type, sub, &text);
                any = 1;
            } else if (strcmp(type, "tool_use") == 0 || strcmp(type, "tool_result") == 0) {
                rc = FAIL(c, "%s: %s blocks are not allowed inside tool_result", sub, type);
            }
            /* thinking, skipped server-tool types: nothing to send */
            if (rc) goto out;
        }
    } else if (content) {
        rc = FAIL(c, "%s.content: must be a string or an array of content blocks", path);
        goto out;
    }
    if (rc) goto out;
    if (!text.len && images) rc = from_buf_rc(buf_appends(&text, "(image)"));
    if (rc) goto out;
    msg_begin(c);
    jw_lit(&c->w, "{\"role\":\"tool\",\"tool_call_id\":");
    jw_cstr(&c->w, id->valuestring);
    jw_lit(&c->w, ",\"content\":");
    if (cJSON_IsTrue(is_error)) {
        if (text.len) {
            buf e;
            buf_init(&e, 0);
            rc = from_buf_rc(buf_appends(&e, "Error: "));
            if (!rc) rc = from_buf_rc(buf_append(&e, text.data, text.len));
            if (!rc) put_text(c, e.data, e.len);
            buf_free(&e);
            if (rc) goto out;
        } else {
            put_text(c, "Error", 5);
        }
    } else {
        put_text(c, text.data ? text.data : "", text.len);
    }
    jw_raw(&c->w, "}", 1);
    rc = from_buf_rc(c->w.rc);
out:
    buf_free(&text);
    return rc;
}

/* A user message: its tool_result blocks become tool messages first (they
 * must follow the assistant's tool_calls), then everything else, together
 * with any images from those tool results, becomes one user message, after
 * lead (text rendered ahead of the message's own content; NULL: none). */
static int user_message(xctx *c, const cJSON *content, int mi, const buf *lead)
{
    char path[96];
    int rc = user_flush(c), ntool = 0, k;
    const cJSON *b;
    if (rc) return rc;
    if (lead && lead->len && (rc = user_add_text(c, lead->data, lead->len))) return rc;
    if (is_str(content))
        return user_add_text(c, content->valuestring, strlen(content->valuestring));
    k = 0;
    cJSON_ArrayForEach(b, content)
    {
        const char *type;
        if ((rc = msg_block(c, b, mi, k++, path, sizeof path, &type))) return rc;
        if (strcmp(type, "tool_result") == 0) {
            if ((rc = tool_message(c, b, path))) return rc;
            ntool++;
        }
    }
    k = 0;
    cJSON_ArrayForEach(b, content)
    {
        const char *type = get(b, "type")->valuestring;
        const cJSON *t;
        snprintf(path, sizeof path, "messages.%d.content.%d", mi, k++);
        if (strcmp(type, "text") == 0) {
            rc = xlate_content_text(c, b, path, &t);
            if (!rc) rc = user_add_text(c, t->valuestring, strlen(t->valuestring));
        } else if (strcmp(type, "image") == 0 && c->text_only) {
            rc = xlate_content_check_image(c, b, path);
            if (!rc) rc = user_add_left_out(c, type);
        } else if (strcmp(type, "image") == 0) {
            rc = user_add_image(c, b, path);
        } else if (strcmp(type, "document") == 0 || strcmp(type, "search_result") == 0) {
            rc = user_add_doc(c, b, type, path);
        } else if (!xlate_content_known(type)) {
            rc = (t = xlate_content_unknown_text(b, type))
                     ? user_add_text(c, t->valuestring, strlen(t->valuestring))
                     : user_add_left_out(c, type);
        } else if (strcmp(type, "tool_use") == 0) {
            rc = FAIL(c, "%s: tool_use blocks are only allowed in assistant messages", path);
        }
        /* tool_result: done above; thinking and server-tool blocks: dropped */
        if (rc) return rc;
    }
    if (!ntool) c->user.open = 1; /* even an empty message keeps its turn */
    return 0;
}

/* An assistant message: text blocks joined into "content", tool_use blocks
 * into "tool_calls" (content null when there is no text).
 *
 * thinking and redacted_thinking blocks are dropped: OpenAI chat templates
 * either strip reasoning from earlier turns or re-render it in their own
 * format, the signature means nothing to a local model, and Claude Code may
 * send or omit old thinking between turns; dropping it keeps the prefix
 * stable. */
static int assistant_message(xctx *c, const cJSON *content, int mi)
{
    char path[96];
    buf text, calls;
    jw cw;
    int rc, any = 0, ncalls = 0, k = 0;
    const cJSON *b;
    const cJSON *blocks = is_str(content) ? NULL : content;
    buf_init(&text, 0);
    buf_init(&calls, 0);
    jw_init(&cw, &calls);
    if ((rc = user_flush(c))) goto out;
    if (is_str(content)) {
        rc = join_add(&text, &any, content->valuestring, strlen(content->valuestring));
        if (rc) goto out;
    }
    cJSON_ArrayForEach(b, blocks)
    {
        const char *type;
        const cJSON *t;
        if ((rc = msg_block(c, b, mi, k++, path, sizeof path, &type))) goto out;
        if (strcmp(type, "text") == 0) {
            rc = xlate_content_text(c, b, path, &t);
            if (!rc) rc = join_add(&text, &any, t->valuestring, strlen(t->valuestring));
        } else if (strcmp(type, "tool_use") == 0) {
            const cJSON *id = get(b, "id"), *name = get(b, "name"), *input = get(b, "input");
            if (!is_nonempty_str(id)) {
                rc = FAIL(c, "%s.id: must be a non-empty string", path);
                goto out;
            }
            if (!is_nonempty_str(name)) {
                rc = FAIL(c, "%s.name: must be a non-empty string", path);
                goto out;
            }
            if (!cJSON_IsObject(input)) {
                rc = FAIL(c, "%s.input: must be an object", path);
                goto out;
            }
            /* the arguments: the input as cJSON_PrintUnformatted prints
             * it, then that text as a JSON string */
            buf args;
            jw aw;
            buf_init(&args, 0);
            jw_init(&aw, &args);
            jw_value(&aw, input);
            if ((rc = from_buf_rc(jw_finish(&aw)))) {
                buf_free(&args);
                goto out;
            }
            if (ncalls++) jw_raw(&cw, ",", 1);
            jw_lit(&cw, "{\"id\":");
            jw_cstr(&cw, id->valuestring);
            jw_lit(&cw, ",\"type\":\"function\",\"function\":{\"name\":");
            jw_cstr(&cw, name->valuestring);
            jw_lit(&cw, ",\"arguments\":");
            jw_str(&cw, args.data ? args.data : "", args.len);
            jw_lit(&cw, "}}");
            c->text_bytes += args.len + strlen(name->valuestring);
            buf_free(&args);
            rc = from_buf_rc(cw.rc);
        } else if (strcmp(type, "image") == 0 || strcmp(type, "document") == 0 ||
                   strcmp(type, "search_result") == 0 || strcmp(type, "tool_result") == 0) {
            rc = FAIL(c, "%s: %s blocks are not allowed in assistant messages", path, type);
        } else if (!xlate_content_known(type)) {
            rc = (t = xlate_content_unknown_text(b, type))
                     ? join_add(&text, &any, t->valuestring, strlen(t->valuestring))
                     : xlate_content_left_out(&text, &any, type);
        }
        /* thinking, redacted_thinking, server-tool blocks: dropped (see above) */
        if (rc) goto out;
    }
    msg_begin(c);
    jw_lit(&c->w, "{\"role\":\"assistant\",\"content\":");
    if (ncalls && !text.len)
        jw_lit(&c->w, "null");
    else
        put_text(c, text.data ? text.data : "", text.len);
    if (ncalls) {
        jw_lit(&c->w, ",\"tool_calls\":[");
        jw_raw(&c->w, calls.data, calls.len);
        jw_raw(&c->w, "]", 1);
    }
    jw_raw(&c->w, "}", 1);
    rc = from_buf_rc(c->w.rc);
out:
    buf_free(&text);
    buf_free(&calls);
    return rc;
}

/* A role:"system" message inside "messages" (Claude Code's environment block
 * and reminders). Most chat templates accept one system message, first, so
 * it is sent as user-visible text "<system-reminder>\nTEXT\n</system-reminder>",
 * merged into the pending user message when the previous message is a user
 * message (joined with "\n"), else as a new user message; those before the
 * first assistant turn go ahead of the first user message instead (see
 * lead_text). Both the block-list
 * and the string form render the same bytes, and since the message that
 * precedes it arrives in the same request, turn N's prefix does not move in
 * turn N+1. */
static int system_text(xctx *c, const cJSON *content, int mi, buf *text)
{
    char path[96];
    int rc = 0, any = 0, k = 0;
    const cJSON *b, *blocks = is_str(content) ? NULL : content;
    rc = from_buf_rc(buf_appends(text, "<system-reminder>\n"));
    if (rc) goto out;
    if (is_str(content)) {
        rc = from_buf_rc(buf_appends(text, content->valuestring));
        if (rc) goto out;
    }
    cJSON_ArrayForEach(b, blocks)
    {
        const char *type;
        const cJSON *t;
        if ((rc = msg_block(c, b, mi, k++, path, sizeof path, &type))) goto out;
        if (strcmp(type, "text") != 0) {
            rc = FAIL(c, "%s: a system message may only contain text blocks, not %s", path, type);
            goto out;
        }
        if ((rc = xlate_content_text(c, b, path, &t))) goto out;
        if (any) rc = from_buf_rc(buf_append(text, "\n", 1));
        if (!rc) rc = from_buf_rc(buf_appends(text, t->valuestring));
        any = 1;
        if (rc) goto out;
    }
    rc = from_buf_rc(buf_appends(text, "\n</system-reminder>"));
out:
    return rc;
}

static int system_message(xctx *c, const cJSON *content, int mi)
{
    buf text;
    buf_init(&text, 0);
    int rc = system_text(c, content, mi, &text);
    if (!rc) rc = user_add_text(c, text.data, text.len);
    buf_free(&text);
    return rc;
}

/* The leading system message: the "system" string or text blocks joined
 * with "\n", without Claude Code's billing-header block (its per-session
 * value would otherwise make every session's prompt differ from the first
 * token). Nothing is written when no text remains. */
static int system_prompt(xctx *c, const cJSON *system)
{
    buf text;
    int rc = 0, any = 0, k = 0;
    const cJSON *b;
    buf_init(&text, 0);
    if (is_str(system)) {
        const char *s = system->valuestring;
        if (anthropic_is_billing_text(s)) {
            const char *nl = strchr(s, '\n');
            s = nl ? nl + 1 : s + strlen(s);
        }
        rc = from_buf_rc(buf_appends(&text, s));
        any = text.len > 0;
    } else {
        cJSON_ArrayForEach(b, system)
        {
            if (!cJSON_IsObject(b)) {
                rc = FAIL(c, "system.%d: must be an object", k);
                goto out;
            }
            const cJSON *t = get(b, "type"), *tx = get(b, "text");
            if (!is_str(t) || strcmp(t->valuestring, "text") != 0) {
                rc = FAIL(c, "system.%d.type: must be \"text\"", k);
                goto out;
            }
            if (!is_str(tx)) {
                rc = FAIL(c, "system.%d.text: must be a string", k);
                goto out;
            }
            k++;
            if (anthropic_is_billing_text(tx->valuestring)) {
                c->short_conv = strstr(tx->valuestring, "cc_entrypoint=sdk-") ||
                                strstr(tx->valuestring, "cc_is_subagent=true");
                continue;
            }
            if ((rc = join_add(&text, &any, tx->valuestring, strlen(tx->valuestring)))) goto out;
        }
    }
    if (rc || !any || !text.len) goto out;
    msg_begin(c);
    c->sys_first = 1;
    jw_lit(&c->w, "{\"role\":\"system\",\"content\":");
    put_text(c, text.data, text.len);
    jw_raw(&c->w, "}", 1);
    rc = from_buf_rc(c->w.rc);
out:
    buf_free(&text);
    return rc;
}

/* The role of messages[i] when it is a string, else "". */
static const char *role_of(const cJSON *m)
{
    const cJSON *r = cJSON_IsObject(m) ? get(m, "role") : NULL;
    return is_str(r) ? r->valuestring : "";
}

/* Rendering by volatility. Claude Code's first request is
 * [user: reminders + the user's words, system: the environment block], and
 * the environment block (working directory, platform, model, agent types,
 * skills) is the same for every session in a project while the words are
 * new. So every role:"system" message that comes before the first
 * assistant turn is rendered ahead of the first user message's own content
 * (the "lead"), and skipped where it stands. Every later request of the
 * conversation has the same messages before its first assistant turn, so
 * the rendering still only grows at the end. *first_user is the index of
 * that user message, -1 when the segment has none (then nothing moves). */
static int lead_text(xctx *c, const cJSON *msgs, buf *lead, int *first_user, int *first_asst)
{
    const cJSON *m;
    int i = 0, rc = 0;
    *first_user = -1;
    *first_asst = -1;
    cJSON_ArrayForEach(m, msgs)
    {
        const char *r = role_of(m);
        if (strcmp(r, "assistant") == 0) {
            *first_asst = i;
            break;
        }
        if (*first_user < 0 && strcmp(r, "user") == 0) *first_user = i;
        i++;
    }
    if (*first_user < 0) return 0;
    i = 0;
    cJSON_ArrayForEach(m, msgs)
    {
        if (i == *first_asst) break;
        const cJSON *content = get(m, "content");
        if (strcmp(role_of(m), "system") == 0 && (is_str(content) || cJSON_IsArray(content))) {
            if (lead->len) rc = from_buf_rc(buf_append(lead, "\n", 1));
            if (!rc) rc = system_text(c, content, i, lead);
            if (rc) return rc;
        }
        i++;
    }
    return 0;
}

int xlate_messages_write(xctx *c, const cJSON *system, const cJSON *msgs)
{
    const cJSON *m;
    int rc = 0, mi = 0, first_user, first_asst;
    buf lead;
    if (system && (rc = system_prompt(c, system))) return rc;
    buf_init(&lead, 0);
    rc = lead_text(c, msgs, &lead, &first_user, &first_asst);
    if (rc) goto out;
    cJSON_ArrayForEach(m, msgs)
    {
        const cJSON *role, *content;
        if (!cJSON_IsObject(m)) {
            rc = FAIL(c, "messages.%d: must be an object", mi);
            goto out;
        }
        role = get(m, "role");
        content = get(m, "content");
        if (!role) {
            rc = FAIL(c, "messages.%d.role: field required", mi);
            goto out;
        }
        if (!content) {
            rc = FAIL(c, "messages.%d.content: field required", mi);
            goto out;
        }
        if (!is_str(content) && !cJSON_IsArray(content)) {
            rc = FAIL(c, "messages.%d.content: must be a string or an array of content blocks", mi);
            goto out;
        }
        if (is_str(role) && strcmp(role->valuestring, "user") == 0)
            rc = user_message(c, content, mi, mi == first_user ? &lead : NULL);
        else if (is_str(role) && strcmp(role->valuestring, "assistant") == 0)
            rc = assistant_message(c, content, mi);
        else if (is_str(role) && strcmp(role->valuestring, "system") == 0)
            rc = first_user >= 0 && (first_asst < 0 || mi < first_asst)
                     ? 0 /* rendered in the lead */
                     : system_message(c, content, mi);
        else
            rc = FAIL(c, "messages.%d.role: must be \"user\", \"assistant\" or \"system\"", mi);
        if (rc) goto out;
        mi++;
    }
    rc = user_flush(c);
out:
    buf_free(&lead);
    return rc;
}

void xlate_messages_free(xctx *c)
{
    user_reset(&c->user);
    free(c->user.parts);
    c->user.parts = NULL;
    c->user.cap = 0;
}
