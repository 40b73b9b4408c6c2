/*
 * ccenv: the variables and settings the launcher gives Claude Code (see
 * ccenv.h).
 */
#include "ccenv.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

/* Claude Code reads a flag as on when it is 1, true, yes or on (any case,
 * spaces trimmed); anything else that is set, even empty, is off. */
static int cc_flag_off(const char *v)
{
    if (!v) return 0;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    static const char *const on[] = {"1", "true", "yes", "on"};
    for (size_t i = 0; i < sizeof on / sizeof on[0]; i++)
        if (n == strlen(on[i]) && strncasecmp(v, on[i], n) == 0) return 0;
    return 1;
}

/* Auto mode's safety check runs on Anthropic's servers (a `safeguards`
 * field in each request, the verdict in the stream); a local model cannot
 * run it, so Claude Code asks before the actions it would check. With
 * CLAUDE_CODE_AUTO_MODE_SERVER off it checks them itself instead, through
 * the gateway: up to three classifier requests per action, each with a
 * prompt of CCENV_CLASSIFIER_TOKENS. Claude Code's own hint suggests that
 * variable when a gateway does not pass the check, so say what it costs. */
static void automode_warning(const ccenv_in *in, ccenv *o)
{
    const char *v = in->getenv_fn ? in->getenv_fn("CLAUDE_CODE_AUTO_MODE_SERVER") : NULL;
    if (!cc_flag_off(v) || (in->mode && strcmp(in->mode, "claude") == 0)) return;
    char shown[24] = "";
    size_t k = 0;
    for (; v[k] && k + 1 < sizeof shown; k++)
        shown[k] = v[k] >= ' ' && v[k] < 127 ? v[k] : '?'; /* no escape reaches the terminal */
    shown[k] = '\0';
    long w = in->plan ? in->plan->window : 0;
    char cost[200];
    if (w > 0 && w < CCENV_CLASSIFIER_TOKENS + 4096)
        snprintf(cost, sizeof cost,
                 "more than this model's %ld-token window holds, so each check fails and the "
                 "action is blocked",
                 w);
    else
        snprintf(cost, sizeof cost, "minutes of prefill per action on a local model");
    snprintf(o->warning, sizeof o->warning,
             "CLAUDE_CODE_AUTO_MODE_SERVER=\"%s\" turns off auto mode's server-side safety check, "
             "so Claude Code checks risky actions itself through this %s backend: up to three "
             "requests per action, each with a ~%dk-token prompt (%s). Unset it to have Claude "
             "Code ask you before those actions instead (README: \"Auto mode can't check "
             "actions\")",
             shown, in->mode ? in->mode : "local", CCENV_CLASSIFIER_TOKENS / 1000, cost);
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
    automode_warning(in, o);
}
