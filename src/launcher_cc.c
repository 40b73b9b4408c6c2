/*
 * launcher_cc: window plan, Claude Code's version and settings, and the
 * variables the launcher sets (see launcher_cc.h).
 */
#include "launcher_cc.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "window.h"
#include "window_probe.h"

int launcher_claude_version(const char *claude, char *out, size_t n)
{
    int fds[2];
    out[0] = '\0';
    if (n < 2 || pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        setenv("DISABLE_AUTOUPDATER", "1", 1);
        setenv("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1", 1);
        execl(claude, claude, "--version", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < n && (r = read(fds[0], out + got, n - 1 - got)) > 0)
        got += (size_t)r;
    out[got] = '\0';
    close(fds[0]);
    int st = 0;
    if (pid > 0) waitpid(pid, &st, 0);
    out[strcspn(out, "\r\n")] = '\0';
    return pid > 0 && out[0] ? 0 : -1;
}

/* Does this settings file (JSON) have key at its top level? */
static int file_has(const char *path, const char *key)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char data[262144];
    size_t len = fread(data, 1, sizeof data, f);
    fclose(f);
    cJSON *j = cJSON_ParseWithLength(data, len);
    int has = cJSON_IsObject(j) && cJSON_GetObjectItemCaseSensitive(j, key) != NULL;
    cJSON_Delete(j);
    return has;
}

/* Claude Code's user, project and local settings. */
static int settings_have(const char *key)
{
    char p[1200];
    const char *home = getenv("HOME");
    const char *cfgdir = getenv("CLAUDE_CONFIG_DIR");
    if (cfgdir && *cfgdir) {
        snprintf(p, sizeof p, "%s/settings.json", cfgdir);
        if (file_has(p, key)) return 1;
    } else if (home && *home) {
        snprintf(p, sizeof p, "%s/.claude/settings.json", home);
        if (file_has(p, key)) return 1;
    }
    return file_has(".claude/settings.json", key) || file_has(".claude/settings.local.json", key);
}

static const char *env_of(const char *name)
{
    return getenv(name);
}

int launcher_cc_plan(const config *cfg, const char *claude, char *const *args, int nargs,
                     ccenv *out)
{
    memset(out, 0, sizeof *out);
    const routes *rs = &cfg->routing;
    int which = routes_default(rs)->pool[0].backend;
    long w = window_default(rs, &which);
    const route_backend *b = &rs->backends[which];
    char ver[200];
    int v[3], have_v = 0;
    if (launcher_claude_version(claude, ver, sizeof ver) == 0 && window_parse_version(ver, v) == 0)
        have_v = 1;
    window_plan plan;
    window_plan_make(w, cfg->max_tokens, have_v ? v : NULL, &plan);
    if (plan.too_small) {
        char line[800];
        window_too_small_line(w, b->mode->name, line, sizeof line);
        fprintf(stderr, "anyclaude: %s (backend %s)\n", line, b->url);
        log_line(0, "not starting claude: %s", line);
        return -1;
    }
    log_line(1, "claude %s; context window %s%ld tokens%s%s%s", have_v ? ver : "(version unknown)",
             w ? "" : "unknown: ", w, w ? " (" : "", w ? b->window_source : "", w ? ")" : "");
    int user_sl = settings_have("statusLine");
    for (int i = 0; i < nargs && !user_sl; i++)
        user_sl = strcmp(args[i], "--settings") == 0 || strncmp(args[i], "--settings=", 11) == 0;
    char self[1024];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl > 0)
        self[sl] = '\0';
    else
        snprintf(self, sizeof self, "anyclaude");
    const char *model = cfg->model[0] ? cfg->model : b->model[0] ? b->model : b->detected_model;
    ccenv_in in = {
        .plan = &plan,
        .window_source = b->window_source,
        .mode = b->mode->name,
        .model = model,
        .model_from_flag = cfg->model[0] != '\0',
        .self = self,
        .user_statusline = user_sl,
        .user_compact_setting = settings_have("autoCompactWindow"),
        .getenv_fn = env_of,
    };
    ccenv_build(&in, out);
    for (int i = 0; i < out->n; i++)
        log_line(1, "%s %s=%s: %s", out->v[i].user ? "kept" : "told Claude Code", out->v[i].name,
                 out->v[i].value, out->v[i].why);
    if (out->warning[0]) {
        fprintf(stderr, "anyclaude: %s\n", out->warning);
        log_line(0, "%s", out->warning);
    }
    if (out->settings_why[0])
        log_line(1, "%s%s", out->settings_why, out->settings[0] ? " (claude --settings)" : "");
    return 0;
}

void launcher_cc_apply(const ccenv *ce)
{
    for (int i = 0; i < ce->n; i++)
        if (!ce->v[i].user) setenv(ce->v[i].name, ce->v[i].value, 1);
}
