/*
 * openai: reading what an OpenAI-compatible backend sends back (see
 * openai.h). Every function reads a cJSON tree (or bytes) and returns
 * borrowed pointers, numbers or static strings; nothing here keeps state.
 */
#include "openai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "anthropic.h"
#include "jparse.h"

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int only_ws(const char *p, const char *e)
{
    for (; p && p < e; p++)
        if (!is_ws(*p)) return 0;
    return 1;
}

/* Parse exactly [s, s+n) as JSON (trailing whitespace allowed). */
cJSON *openai_parse(const char *s, size_t n)
{
    const char *end = NULL;
    cJSON *j = jparse(s, n, &end);
    if (j && !only_ws(end, s + n)) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

cJSON *openai_parse_in(jparse_arena *a, const char *s, size_t n)
{
    const char *end = NULL;
    cJSON *j = jparse_in(a, s, n, &end);
    if (j && !only_ws(end, s + n)) {
        jparse_arena_drop(a);
        return NULL;
    }
    return j;
}

/* A non-empty string member, or NULL. */
const char *openai_str(const cJSON *o, const char *key)
{
    const cJSON *v = jparse_get(o, key);
    return cJSON_IsString(v) && v->valuestring && v->valuestring[0] ? v->valuestring : NULL;
}

long openai_long(const cJSON *o, const char *key)
{
    const cJSON *v = jparse_get(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0) return -1;
    return v->valuedouble > 1e15 ? (long)1e15 : (long)v->valuedouble;
}

/* The choice with "index" 0 (or the first one). */
const cJSON *openai_first_choice(const cJSON *root)
{
    const cJSON *choices = jparse_get(root, "choices");
    const cJSON *c;
    if (!cJSON_IsArray(choices)) return NULL;
    cJSON_ArrayForEach(c, choices)
    {
        long ix = openai_long(c, "index");
        if (cJSON_IsObject(c) && (ix == 0 || ix == -1)) return c;
    }
    return NULL;
}

const char *openai_reasoning(const cJSON *o)
{
    const char *r = openai_str(o, "reasoning_content");
    return r ? r : openai_str(o, "reasoning");
}

void openai_usage_init(openai_usage *u)
{
    u->prompt = u->completion = u->cached = -1;
    u->t_prompt_n = u->t_cache_n = u->t_predicted_n = -1;
    u->t_prompt_ms = -1;
}

/* Pick up "usage" and llama.cpp's "timings" from a chunk or a body. */
void openai_usage_read(openai_usage *u, const cJSON *root)
{
    const cJSON *usage = jparse_get(root, "usage");
    if (cJSON_IsObject(usage)) {
        long v;
        if ((v = openai_long(usage, "prompt_tokens")) >= 0) u->prompt = v;
        if ((v = openai_long(usage, "completion_tokens")) >= 0) u->completion = v;
        const cJSON *det = jparse_get(usage, "prompt_tokens_details");
        if (cJSON_IsObject(det) && (v = openai_long(det, "cached_tokens")) >= 0) u->cached = v;
    }
    const cJSON *t = jparse_get(root, "timings");
    if (cJSON_IsObject(t)) {
        long v;
        if ((v = openai_long(t, "prompt_n")) >= 0) u->t_prompt_n = v;
        if ((v = openai_long(t, "cache_n")) >= 0) u->t_cache_n = v;
        if ((v = openai_long(t, "predicted_n")) >= 0) u->t_predicted_n = v;
        const cJSON *pm = jparse_get(t, "prompt_ms");
        if (cJSON_IsNumber(pm) && pm->valuedouble >= 0) u->t_prompt_ms = pm->valuedouble;
    }
}

/* Anthropic semantics: input = prompt - cached, cache_read = cached. */
void openai_usage_final(const openai_usage *u, long estimate, long counted, long *in, long *cached,
                        long *outp)
{
    long c = u->cached >= 0 ? u->cached : (u->t_cache_n >= 0 ? u->t_cache_n : 0);
    long prompt = u->prompt > 0 ? u->prompt : -1;
    if (prompt < 0 && u->t_prompt_n >= 0)
        prompt = u->t_prompt_n + (u->t_cache_n > 0 ? u->t_cache_n : 0);
    if (prompt > 0) {
        *in = prompt > c ? prompt - c : 0;
        *cached = c < prompt ? c : prompt;
    } else {
        *in = estimate;
        *cached = 0;
    }
    if (u->completion > 0)
        *outp = u->completion;
    else if (u->t_predicted_n > 0)
        *outp = u->t_predicted_n;
    else
        *outp = counted;
}

const char *openai_finish_map(const char *fr)
{
    if (!fr) return NULL;
    if (strcmp(fr, "length") == 0) return "max_tokens";
    if (strcmp(fr, "tool_calls") == 0 || strcmp(fr, "function_call") == 0) return "tool_use";
    return "end_turn"; /* stop, content_filter, eos, anything else */
}

/* Tool use beats everything; a matched stop string beats a plain stop. The
 * content decides about tools: "tool_calls" with no tool_use block (its
 * call was unusable and shown as text) ends the turn instead. */
const char *openai_stop_reason(const char *mapped, int any_tool, const char *stop_seq)
{
    if (any_tool) return "tool_use";
    if (mapped && strcmp(mapped, "tool_use") == 0) return "end_turn";
    if (stop_seq && (!mapped || strcmp(mapped, "end_turn") == 0)) return "stop_sequence";
    return mapped ? mapped : "end_turn";
}

/* vLLM: choice.stop_reason as a string; llama.cpp: "stopping_word". */
const char *openai_stop_string(const cJSON *root, const cJSON *choice)
{
    const char *s = openai_str(choice, "stop_reason");
    if (!s) s = openai_str(choice, "stopping_word");
    if (!s) s = openai_str(root, "stopping_word");
    return s;
}

/* The readable message of an error payload ({"error":{...}}, {"error":"..."},
 * or a bare {"message":...}) into msg; sets *overloaded from its words. */
void openai_error_message(const cJSON *j, const char *raw, size_t rawlen, char *msg, size_t msglen,
                          int *overloaded)
{
    const char *m = NULL, *type = NULL;
    const cJSON *e = j ? jparse_get(j, "error") : NULL;
    if (cJSON_IsObject(e)) {
        m = openai_str(e, "message");
        type = openai_str(e, "type");
        if (!type) type = openai_str(e, "code");
    } else if (cJSON_IsString(e) && e->valuestring && e->valuestring[0]) {
        m = e->valuestring;
    }
    if (!m && j) m = openai_str(j, "message");
    if (!m && j) m = openai_str(j, "detail");
    if (m) {
        snprintf(msg, msglen, "%s", m);
    } else {
        anthropic_quote_raw(raw, rawlen, ' ', msg, msglen);
        if (msg[0] == '\0') snprintf(msg, msglen, "backend reported an error");
    }
    *overloaded = 0;
    const char *words[] = {"overload", "unavailable", "busy"};
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        for (int pass = 0; pass < 2; pass++) {
            const char *s = pass ? type : msg;
            if (!s) continue;
            size_t wl = strlen(words[w]);
            for (; *s; s++)
                if (strncasecmp(s, words[w], wl) == 0) *overloaded = 1;
        }
    }
}

/* message.content as text: a string, or an array of {"type":"text"} parts. */
int openai_message_text(const cJSON *msg, buf *t)
{
    const cJSON *c = jparse_get(msg, "content");
    const cJSON *part;
    if (cJSON_IsString(c) && c->valuestring) return buf_appends(t, c->valuestring);
    if (!cJSON_IsArray(c)) return 0;
    cJSON_ArrayForEach(part, c)
    {
        const char *s = cJSON_IsObject(part) ? openai_str(part, "text") : NULL;
        int rc = s ? buf_appends(t, s) : 0;
        if (rc) return rc;
    }
    return 0;
}
