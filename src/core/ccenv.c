/*
 * ccenv: the variables and settings the launcher gives Claude Code (see
 * ccenv.h).
 */
#include "ccenv.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static ccenv_var *add(ccenv *o, const ccenv_in *in, const char *name, const char *value,
                      const char *why)
{
    if (o->n >= CCENV_MAX) return NULL;
    ccenv_var *v = &o->v[o->n++];
    v->name = name;
    const char *mine = in->getenv_fn ? in->getenv_fn(name) : NULL;
    if (mine && *mine) {
        v->user = 1;
        snprintf(v->value, sizeof v->value, "%s", mine);
        snprintf(v->why, sizeof v->why, "yours, left as it is (anyclaude would set %.120s)", value);
    } else {
        snprintf(v->value, sizeof v->value, "%s", value);
        snprintf(v->why, sizeof v->why, "%s", why);
    }
    return v;
}

static int user_has(const ccenv_in *in, const char *name)
{
    const char *v = in->getenv_fn ? in->getenv_fn(name) : NULL;
    return v && *v;
}

/* The status line command: the anyclaude binary, quoted for the shell. */
static void statusline_settings(const ccenv_in *in, ccenv *o)
{
    if (in->user_statusline) {
        snprintf(o->settings_why, sizeof o->settings_why,
                 "status line: yours is kept (your settings or --settings name one)");
        return;
    }
    if (!in->self || !*in->self || strchr(in->self, '\'')) return;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "'%s' statusline", in->self);
    cJSON *s = cJSON_CreateObject();
    cJSON *sl = cJSON_AddObjectToObject(s, "statusLine");
    cJSON_AddStringToObject(sl, "type", "command");
    cJSON_AddStringToObject(sl, "command", cmd);
    cJSON_AddNumberToObject(sl, "padding", 0);
    char *txt = cJSON_PrintUnformatted(s);
    cJSON_Delete(s);
    if (txt && strlen(txt) < sizeof o->settings) {
        snprintf(o->settings, sizeof o->settings, "%s", txt);
        snprintf(o->settings_why, sizeof o->settings_why,
                 "status line: backend, model, context used of the real window, cache share and "
                 "speeds from the gateway");
    }
    cJSON_free(txt);
}

void ccenv_build(const ccenv_in *in, ccenv *o)
{
    memset(o, 0, sizeof *o);
    const window_plan *p = in->plan;
    char val[300], why[240];
    snprintf(val, sizeof val, "%ld", p->max_output);
    if (p->output_capped)
        snprintf(why, sizeof why,
                 "an eighth of the %ld-token window (at least 4096), so the reply fits beside the "
                 "conversation",
                 p->window);
    else
        snprintf(why, sizeof why,
                 "the gateway's max_tokens clamp (--max-tokens): an answer cut there is an error "
                 "to Claude Code");
    add(o, in, "CLAUDE_CODE_MAX_OUTPUT_TOKENS", val, why);
    if (p->window > 0 && p->compact_supported && !in->user_compact_setting &&
        !user_has(in, "CLAUDE_CODE_AUTO_COMPACT_WINDOW") &&
        !user_has(in, "CLAUDE_AUTOCOMPACT_PCT_OVERRIDE")) {
        snprintf(val, sizeof val, "%ld", p->compact_window);
        snprintf(why, sizeof why, "the backend's window is %ld tokens (%s)%s", p->window,
                 in->window_source && *in->window_source ? in->window_source : "detected",
                 p->compact_window > p->window ? "; Claude Code reads less than 100000 as 100000"
                                               : "");
        add(o, in, "CLAUDE_CODE_AUTO_COMPACT_WINDOW", val, why);
        snprintf(why, sizeof why,
                 "compact at %ld tokens: room for a %ld-token reply and the compaction request "
                 "itself within %ld",
                 p->threshold, p->max_output, p->window);
        add(o, in, "CLAUDE_AUTOCOMPACT_PCT_OVERRIDE", p->compact_pct, why);
        if (p->file_read_max > 0) {
            snprintf(val, sizeof val, "%ld", p->file_read_max);
            snprintf(why, sizeof why,
                     "one Read may add a sixteenth of the window, so a read past the compaction "
                     "point still leaves room for the summary; a bigger file is read in parts");
            add(o, in, "CLAUDE_CODE_FILE_READ_MAX_OUTPUT_TOKENS", val, why);
        }
    } else if (p->window > 0 && p->compact_supported) {
        /* the user's own compaction settings win; say so */
        ccenv_var *v = &o->v[o->n < CCENV_MAX ? o->n++ : CCENV_MAX - 1];
        v->name = "CLAUDE_CODE_AUTO_COMPACT_WINDOW";
        v->user = 1;
        snprintf(v->value, sizeof v->value, "(yours)");
        snprintf(v->why, sizeof v->why,
                 "your compaction settings are kept; the backend's window is %ld tokens",
                 p->window);
    }
    if (in->model && *in->model) {
        add(o, in, "ANTHROPIC_CUSTOM_MODEL_OPTION", in->model,
            in->model_from_flag ? "the model from --model, listed in /model"
                                : "the model the backend serves, listed in /model");
        add(o, in, "ANTHROPIC_CUSTOM_MODEL_OPTION_NAME", in->model, "its name in /model");
        if (p->window > 0)
            snprintf(val, sizeof val, "%s via anyclaude, %ld-token context", in->mode, p->window);
        else
            snprintf(val, sizeof val, "%s via anyclaude", in->mode);
        add(o, in, "ANTHROPIC_CUSTOM_MODEL_OPTION_DESCRIPTION", val, "its line in /model");
    }
    statusline_settings(in, o);
}
