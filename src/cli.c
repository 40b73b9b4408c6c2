/*
 * cli: argv parsing, help text, exposure check (see cli.h).
 */
#include "cli.h"

#include <string.h>

#include "doctor.h"
#include "launcher.h"
#include "mode.h"

static const char *const value_opts[] = {"mode",     "backend",   "model",       "api-key",
                                         "host",     "port",      "max-tokens",  "max-body",
                                         "ping-ms",  "max-streams", "debug",     "claude",
                                         "auth-token", "config"};

static int is_value_opt(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof value_opts / sizeof value_opts[0]; i++)
        if (strlen(value_opts[i]) == n && strncmp(value_opts[i], name, n) == 0) return 1;
    return 0;
}

static int add_pass(cli_args *a, char *s, char *err, size_t errlen)
{
    if (a->npass >= CLI_MAX_PASS) {
        snprintf(err, errlen, "too many arguments for claude (at most %d)", CLI_MAX_PASS);
        return -1;
    }
    a->pass[a->npass++] = s;
    return 0;
}

int cli_parse(int argc, char **argv, cli_args *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    int i = 1;
    if (i < argc && strcmp(argv[i], "serve") == 0) {
        a->cmd = CLI_SERVE;
        i++;
    } else if (i < argc && strcmp(argv[i], "doctor") == 0) {
        a->cmd = CLI_DOCTOR;
        i++;
    }
    for (; i < argc; i++) {
        char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            if (a->cmd != CLI_RUN) {
                snprintf(err, errlen, "`--` only makes sense without a subcommand (it starts claude's arguments)");
                return -1;
            }
            for (i++; i < argc; i++)
                if (add_pass(a, argv[i], err, errlen)) return -1;
            break;
        }
        if ((strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) && a->cmd != CLI_RUN) {
            a->help = 1;
            continue;
        }
        if (strcmp(arg, "--help") == 0 && a->cmd == CLI_RUN) {
            a->help = 1;
            continue;
        }
        if (strcmp(arg, "--version") == 0 && a->cmd == CLI_RUN && a->npass == 0) {
            a->version = 1;
            continue;
        }
        if (strncmp(arg, "--", 2) == 0) {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            if (is_value_opt(name, n)) {
                if (a->nflags >= CLI_MAX_FLAGS) {
                    snprintf(err, errlen, "too many options");
                    return -1;
                }
                const char *val;
                if (eq) {
                    val = eq + 1;
                } else {
                    if (i + 1 >= argc) {
                        snprintf(err, errlen, "--%.*s needs a value; see anyclaude --help", (int)n, name);
                        return -1;
                    }
                    val = argv[++i];
                }
                snprintf(a->names[a->nflags], sizeof a->names[0], "%.*s", (int)n, name);
                a->flags[a->nflags].name = a->names[a->nflags];
                a->flags[a->nflags].value = val;
                a->nflags++;
                continue;
            }
        }
        if (a->cmd != CLI_RUN) {
            snprintf(err, errlen, "unknown option \"%s\" for %s; see anyclaude --help", arg,
                     a->cmd == CLI_SERVE ? "serve" : "doctor");
            return -1;
        }
        if (add_pass(a, arg, err, errlen)) return -1;
    }
    return 0;
}

void cli_print_help(FILE *f)
{
    fprintf(f,
"anyclaude: run Claude Code on a model you serve yourself, with the backend's\n"
"prompt cache kept hot.\n"
"\n"
"Usage:\n"
"  anyclaude [options] [-- claude arguments]   start the gateway and Claude Code\n"
"  anyclaude serve [options]                   run the gateway alone\n"
"  anyclaude doctor [options]                  check claude, the backend and a round trip\n"
"  anyclaude --help | --version\n"
"\n"
"Arguments anyclaude does not know, and everything after --, go to claude:\n"
"  anyclaude -p \"fix the bug\" --allowedTools Edit,Bash\n"
"\n"
"Options (each also settable in the environment or the config file):\n"
"  --mode MODE          backend family: %s (default mlx-lm)      ANYCLAUDE_MODE\n"
"  --backend URL        backend base URL, ending in /v1                 MLX_LM_URL, LMSTUDIO_URL,\n"
"                       (defaults: mlx-lm http://localhost:8081/v1,     LLAMACPP_URL, OPENAI_BASE_URL\n"
"                       lmstudio http://localhost:1234/v1, llamacpp\n"
"                       http://localhost:8080/v1; openai has none)\n"
"  --api-key KEY        key sent to the backend as Bearer               MLX_LM_API_KEY, LMSTUDIO_API_KEY,\n"
"                                                                       LLAMACPP_API_KEY, OPENAI_API_KEY\n"
"  --model NAME         model name sent to the backend (mlx-lm: omitted MLX_LM_MODEL, LMSTUDIO_MODEL,\n"
"                       unless set, so the loaded model answers)       LLAMACPP_MODEL, OPENAI_MODEL\n"
"  --host ADDR          listen address (default 127.0.0.1)              ANYCLAUDE_HOST\n"
"  --port N             listen port (default: serve 8082; otherwise a   ANYCLAUDE_PORT\n"
"                       free port; 0 = any free port)\n"
"  --max-tokens N       clamp on max_tokens (default 16384)             ANYCLAUDE_MAX_OUTPUT_TOKENS\n"
"  --max-body BYTES     request body limit (default 33554432)           ANYCLAUDE_MAX_BODY\n"
"  --ping-ms N          ping interval while the backend is silent       ANYCLAUDE_PING_MS\n"
"                       (default 5000)\n"
"  --max-streams N      concurrent requests (default 1024)              ANYCLAUDE_MAX_STREAMS\n"
"  --debug N            0-3: 1 a line per request, 2 summaries,         ANYCLAUDE_DEBUG\n"
"                       3 full traces (keys redacted)\n"
"  --claude PATH        the claude binary (default: found on PATH)      ANYCLAUDE_CLAUDE\n"
"  --auth-token TOKEN   token clients must send (required when --host   ANYCLAUDE_AUTH_TOKEN\n"
"                       is not a loopback address)\n"
"  --config FILE        JSON config file (default                       ANYCLAUDE_CONFIG\n"
"                       $XDG_CONFIG_HOME/anyclaude/config.json)\n"
"\n"
"Precedence: flags, then environment, then config file, then defaults.\n",
            mode_names());
}

static int is_loopback(const char *h)
{
    return strcmp(h, "127.0.0.1") == 0 || strcmp(h, "localhost") == 0 || strcmp(h, "::1") == 0 ||
           strncmp(h, "127.", 4) == 0;
}

int cli_check_exposure(const config *cfg, char *err, size_t errlen)
{
    if (is_loopback(cfg->host) || cfg->auth_token[0]) return 0;
    snprintf(err, errlen,
             "refusing to listen on %s without a token: anyone who can reach it could use your "
             "backend. Set --auth-token TOKEN (or ANYCLAUDE_AUTH_TOKEN), or listen on 127.0.0.1",
             cfg->host);
    return -1;
}

int cli_run_other(const cli_args *a, const config *cfg)
{
    if (a->cmd == CLI_DOCTOR) return doctor_run(cfg);
    return launcher_run(cfg, a->pass, a->npass);
}
