/*
 * discover: which model server answers on a local port, told from what it
 * says (pure). probe.c asks each candidate port a few GETs (the paths in
 * discover_paths) and hands the answers here; discover_identify names the
 * server (MLX-LM, LM Studio, llama.cpp llama-server, Ollama, vLLM, or some
 * other OpenAI-compatible server), its models, and the exact anyclaude flags
 * that use it. Used by `doctor` and the launcher when the configured backend
 * does not answer, and by `--mode auto`.
 */
#ifndef ANYCLAUDE_DISCOVER_H
#define ANYCLAUDE_DISCOVER_H

#include <stddef.h>

typedef enum discover_kind {
    DISCOVER_NONE = 0,
    DISCOVER_MLX,      /* mlx_lm.server */
    DISCOVER_LMSTUDIO, /* LM Studio's server */
    DISCOVER_LLAMACPP, /* llama.cpp llama-server */
    DISCOVER_OLLAMA,   /* Ollama */
    DISCOVER_VLLM,     /* vLLM */
    DISCOVER_OPENAI    /* something else that lists /v1/models */
} discover_kind;

/* The GETs each port is asked, in this order (index = enum value). */
enum {
    DISCOVER_P_MODELS,   /* /v1/models: every OpenAI-compatible server */
    DISCOVER_P_PROPS,    /* /props: llama-server */
    DISCOVER_P_OLLAMA,   /* /api/version: Ollama */
    DISCOVER_P_LMSTUDIO, /* /api/v0/models: LM Studio */
    DISCOVER_P_VERSION,  /* /version: vLLM */
    DISCOVER_NPATHS
};
extern const char *const discover_paths[DISCOVER_NPATHS];

/* The ports probed when ANYCLAUDE_DISCOVER_PORTS does not say otherwise, in
 * order of preference: MLX-LM (8081, as anyclaude's default, and its own
 * 8080), llama-server (8080), LM Studio (1234), Ollama (11434), vLLM (8000). */
#define DISCOVER_MAX_PORTS 16
extern const int discover_default_ports[];
extern const int discover_ndefault_ports;

/* One answer: HTTP status (0: none) and its body (borrowed, not NUL-ended). */
typedef struct discover_answer {
    long status;
    const char *body;
    size_t len;
} discover_answer;

typedef struct discover_found {
    discover_kind kind;
    int port;
    const char *name; /* "LM Studio" */
    const char *mode; /* the anyclaude mode that serves it: "lmstudio" */
    char url[96];     /* base URL for --backend: http://localhost:1234/v1 */
    char flags[160];  /* exactly what to pass: "--mode lmstudio" or
                         "--mode openai --backend http://localhost:11434/v1" */
    char models[256]; /* the models it lists, comma-separated (cut at a name) */
    int nmodels;
    long context; /* the loaded model's context when it says (0: unknown) */
} discover_found;

/* Name the server on `port` from its answers (ans[i] to discover_paths[i]).
 * Returns 1 and fills out when /v1/models answered 200 with an OpenAI-style
 * list (a server anyclaude can use), else 0. */
int discover_identify(int port, const discover_answer *ans, discover_found *out);

/* Parse a port list ("1234,8081"; spaces allowed). Returns the count (1 to
 * max) or -1 with one line in err. */
int discover_parse_ports(const char *spec, int *ports, int max, char *err, size_t errlen);

/* The one to use among n found (in probe order): the first that lists a
 * model, else the first. Returns its index, or -1 when n is 0. */
int discover_pick(const discover_found *f, int n);

/* "LM Studio at http://localhost:1234/v1 (models: a, b)", for messages.
 * Returns the bytes written. */
size_t discover_describe(const discover_found *f, char *out, size_t outlen);

#endif
