/*
 * cli: argv parsing, help text, exposure check (see cli.h).
 */
#include "cli.h"

#include <string.h>

#include "mode.h"

/* options that take a value (a table: clang-format would put one a line) */
/* clang-format off */
static const char *const value_opts[] = {
    "mode",           "backend",       "model",      "api-key",         "host",
    "port",           "max-tokens",    "max-body",   "ping-ms",         "max-streams",
    "debug",          "claude",        "auth-token", "config",          "slots",
    "warm-start",     "tool-recovery", "ca-file",    "allowed-origins", "upstream-idle-timeout",
    "request-timeout", "drain-timeout", "vision", "context-window", "request-deadline"};
/* clang-format on */

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

int cli_parse(int argc, char **argv, const char *cmd, cli_args *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    int i = 0;
    for (; i < argc; i++) {
        char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            if (cmd) {
                snprintf(
                    err, errlen,
                    "`--` only makes sense without a subcommand (it starts claude's arguments)");
                return -1;
            }
            for (i++; i < argc; i++)
                if (add_pass(a, argv[i], err, errlen)) return -1;
            break;
        }
        /* -h belongs to claude unless a subcommand is given */
        if (strcmp(arg, "--help") == 0 || (cmd && strcmp(arg, "-h") == 0)) {
            a->help = 1;
            continue;
        }
        if (strcmp(arg, "--version") == 0 && !cmd && a->npass == 0) {
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
                        snprintf(err, errlen, "--%.*s needs a value; see anyclaude --help", (int)n,
                                 name);
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
        if (cmd) {
            snprintf(err, errlen, "unknown option \"%s\" for %s; see anyclaude --help", arg, cmd);
            return -1;
        }
        if (add_pass(a, arg, err, errlen)) return -1;
    }
    return 0;
}

void cli_print_help(FILE *f)
{
    fprintf(
        f,
        "anyclaude: run Claude Code on a model you serve yourself (MLX-LM, LM Studio,\n"
        "llama.cpp, vLLM, Ollama, any OpenAI- or Anthropic-compatible endpoint, or the\n"
        "Claude API), one backend or several chosen per request by routes.\n"
        "\n"
        "Usage:\n"
        "  anyclaude [options] [claude arguments] [-- claude arguments]\n"
        "                      start the gateway on a free loopback port and run claude\n"
        "                      against it; exits with claude's status\n"
        "  anyclaude serve [options]\n"
        "                      run the gateway alone (default port 8082); point clients\n"
        "                      at it with ANTHROPIC_BASE_URL=http://127.0.0.1:8082\n"
        "  anyclaude doctor [options]\n"
        "                      check claude, every backend a route uses, its models,\n"
        "                      the routes and a round trip\n"
        "  anyclaude statusline\n"
        "                      the status line the launcher gives claude (claude --settings,\n"
        "                      never your files): reads Claude Code's session JSON on stdin\n"
        "                      and prints the model, context used of the real window, the\n"
        "                      last prompt's cache share and speeds; nothing without a gateway\n"
        "  anyclaude --help | --version\n"
        "\n"
        "Arguments anyclaude does not know, and everything after --, go to claude:\n"
        "  anyclaude -p \"fix the bug\" --allowedTools Edit,Bash\n"
        "\n"
        "Options:\n"
        "  --mode MODE         %s\n"
        "                      or auto (default mlx-lm). auto: the model server found\n"
        "                      on the usual local ports (MLX-LM 8081/8080, llama-server\n"
        "                      8080, LM Studio 1234, Ollama 11434, vLLM 8000). With no\n"
        "                      mode given and the backend down, anyclaude and doctor\n"
        "                      name what answers there and the flags that use it.\n"
        "                      anthropic: a server that speaks /v1/messages (llama-server,\n"
        "                      LM Studio, Ollama, vLLM), passed through with only the\n"
        "                      cache rewrites; claude: the Claude API, unchanged, with\n"
        "                      the client's own credentials\n"
        "  --backend URL       backend base URL ending in /v1. Defaults: mlx-lm\n"
        "                      http://localhost:8081/v1, lmstudio http://localhost:1234/v1,\n"
        "                      llamacpp http://localhost:8080/v1, claude\n"
        "                      https://api.anthropic.com; openai and anthropic need one\n"
        "  --api-key KEY       key sent to the backend (Authorization: Bearer; anthropic\n"
        "                      and claude: x-api-key; claude uses it only when the client\n"
        "                      sends no credentials of its own)\n"
        "  --model NAME        model name sent to the backend; mlx-lm omits it unless\n"
        "                      set, so the loaded model answers\n"
        "  --host ADDR         listen address (default 127.0.0.1; any other address\n"
        "                      needs --auth-token)\n"
        "  --port N            listen port (serve: 8082; otherwise a free port; 0: any)\n"
        "  --max-tokens N      clamp on the max_tokens sent upstream (default 16384)\n"
        "  --max-body BYTES    request body limit (default 33554432)\n"
        "  --ping-ms N         ping interval while the backend is silent (default 5000)\n"
        "  --max-streams N     concurrent requests (default 1024)\n"
        "  --debug N           0 quiet, 1 a line per request, 2 request/response\n"
        "                      summaries, 3 full traces to files (keys redacted)\n"
        "  --claude PATH       the claude binary (default: claude on PATH)\n"
        "  --auth-token TOKEN  token clients must send as x-api-key or Bearer\n"
        "  --slots N|auto      llamacpp (and openai before a llama-server): pin each\n"
        "                      conversation to a server slot with id_slot (auto: ask\n"
        "                      /props; 0: off; default auto)\n"
        "  --warm-start on|off prefill saved system prompts and tools at start (one\n"
        "                      per kind: interactive, -p, subagent, background;\n"
        "                      newest first, not where the server still holds\n"
        "                      them), so a new session's first turn hits the cache\n"
        "                      (default on)\n"
        "  --tool-recovery on|off\n"
        "                      turn tool calls that models write as text (Hermes,\n"
        "                      Qwen3-Coder XML, Mistral, Llama JSON, GLM) into tool_use\n"
        "                      blocks, matched only against the request's tools\n"
        "                      (default on for every OpenAI-family mode)\n"
        "  --vision on|off|auto\n"
        "                      whether images reach the backend; off: each image becomes\n"
        "                      a one-line note that it was left out (default auto: off\n"
        "                      for mlx-lm, whose server takes text only; lmstudio and\n"
        "                      llamacpp: what /api/v0/models or /props says of the\n"
        "                      model; on otherwise)\n"
        "  --ca-file PATH      CA bundle to trust for https backends instead of the\n"
        "                      system's (a backend's \"caFile\" wins)\n"
        "  --allowed-origins LIST\n"
        "                      comma-separated web origins (e.g. http://localhost:3000)\n"
        "                      whose pages may call the gateway (CORS); requests with\n"
        "                      any other Origin are refused (default: none)\n"
        "  --upstream-idle-timeout S\n"
        "                      fail a request when the backend, once its answer started,\n"
        "                      sends nothing for S seconds (default 600; 0: never)\n"
        "  --request-timeout S whole time for a non-streamed request (default 1800;\n"
        "                      0: none)\n"
        "  --request-deadline S\n"
        "                      a client's request, head and body, must arrive within S\n"
        "                      seconds of its first byte (default 60)\n"
        "  --context-window N  the backend's context window in tokens, for a backend that\n"
        "                      does not report it (llama.cpp /props, LM Studio, Ollama and\n"
        "                      vLLM do; routes: a backend's \"contextWindow\"). The launcher\n"
        "                      tells claude where to compact and how long a reply may be,\n"
        "                      and refuses a window too small for Claude Code; the gateway\n"
        "                      refuses a prompt over a backend's window before sending it\n"
        "  --drain-timeout S   serve: on SIGTERM/SIGINT stop accepting, let requests in\n"
        "                      flight finish for up to S seconds, then end each with\n"
        "                      an error event and exit 0; a second signal ends at once\n"
        "                      (default 30; /health answers 503 draining meanwhile)\n"
        "  --config FILE       JSON config file (default\n"
        "                      $XDG_CONFIG_HOME/anyclaude/config.json, else\n"
        "                      /etc/anyclaude/config.json); its \"backends\"\n"
        "                      and \"routes\" send requests to several backends by class\n"
        "                      (background, thinking, longContext, subagent,\n"
        "                      serverTools, vision, default),\n"
        "                      with pools and fallbacks; see docs/routing.md\n"
        "\n"
        "Environment (flags win over these; these win over the config file):\n"
        "  ANYCLAUDE_MODE, ANYCLAUDE_HOST, ANYCLAUDE_PORT, ANYCLAUDE_MAX_OUTPUT_TOKENS,\n"
        "  ANYCLAUDE_MAX_BODY, ANYCLAUDE_PING_MS, ANYCLAUDE_MAX_STREAMS, ANYCLAUDE_DEBUG,\n"
        "  ANYCLAUDE_CLAUDE, ANYCLAUDE_AUTH_TOKEN, ANYCLAUDE_CONFIG, ANYCLAUDE_SLOTS,\n"
        "  ANYCLAUDE_WARM_START, ANYCLAUDE_TOOL_RECOVERY, ANYCLAUDE_CA_FILE,\n"
        "  ANYCLAUDE_ALLOWED_ORIGINS, ANYCLAUDE_UPSTREAM_IDLE_TIMEOUT,\n"
        "  ANYCLAUDE_REQUEST_TIMEOUT, ANYCLAUDE_REQUEST_DEADLINE, ANYCLAUDE_DRAIN_TIMEOUT,\n"
        "  ANYCLAUDE_VISION, ANYCLAUDE_CONTEXT_WINDOW,\n"
        "  ANYCLAUDE_SYSTEM_CONFIG (instead of /etc/anyclaude/config.json),\n"
        "  ANYCLAUDE_DISCOVER_PORTS (the ports auto tries, e.g. 8081,1234), and per mode:\n"
        "    mlx-lm    MLX_LM_URL, MLX_LM_API_KEY (default mlx-lm), MLX_LM_MODEL (empty or\n"
        "              current-model: the model the server has loaded)\n"
        "    lmstudio  LMSTUDIO_URL, LMSTUDIO_API_KEY, LMSTUDIO_MODEL\n"
        "    llamacpp  LLAMACPP_URL, LLAMACPP_API_KEY, LLAMACPP_MODEL\n"
        "    openai    OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL\n"
        "    anthropic ANYCLAUDE_ANTHROPIC_URL, ANYCLAUDE_ANTHROPIC_API_KEY,\n"
        "              ANYCLAUDE_ANTHROPIC_MODEL\n"
        "    claude    ANYCLAUDE_CLAUDE_URL, ANTHROPIC_API_KEY, ANYCLAUDE_CLAUDE_MODEL\n"
        "\n"
        "Logs: serve writes to stderr; the launcher writes to\n"
        "$XDG_STATE_HOME/anyclaude/anyclaude.log (~/.local/state/anyclaude/) and\n"
        "prints the path on exit when --debug is set.\n",
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
