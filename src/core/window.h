/*
 * window: the context window a backend really has, and what Claude Code must
 * be told about it (pure).
 *
 *   backend answers (/props, /api/v0/models, /api/ps, /api/show, /v1/models)
 *        ─▶ window_parse ─▶ tokens per request, model name
 *   window + the gateway's max_tokens clamp + claude's version
 *        ─▶ window_plan ─▶ the variables the launcher sets, or "too small"
 *
 * No I/O: window_probe.c asks the backends, launcher.c and doctor.c act on
 * the plan.
 */
#ifndef ANYCLAUDE_WINDOW_H
#define ANYCLAUDE_WINDOW_H

#include <stddef.h>

/* Which answer a body is. */
enum window_src {
    WINDOW_LLAMACPP_PROPS, /* llama-server GET /props */
    WINDOW_LMSTUDIO,       /* LM Studio GET /api/v0/models or /api/v1/models */
    WINDOW_MODELS,         /* GET /v1/models: vLLM max_model_len, llama.cpp meta.n_ctx */
    WINDOW_OLLAMA_PS,      /* Ollama GET /api/ps (context_length of a loaded model) */
    WINDOW_OLLAMA_SHOW     /* Ollama POST /api/show (num_ctx, the model's own limit) */
};

/* Ollama's num_ctx when neither the model nor the server sets one. */
#define WINDOW_OLLAMA_DEFAULT 4096

typedef struct window_found {
    long window;     /* tokens a request may use; 0: the answer does not say */
    long train;      /* the model's own limit, 0 unknown */
    char model[256]; /* the model's name, "" unknown */
    char owner[32];  /* /v1/models "owned_by" (llamacpp, organization_owner, library...) */
} window_found;

/* Read what body (len bytes, any content) says. want: the model to look
 * for in lists (NULL or "": the loaded one, else the first). Returns 0 when
 * it found a window, -1 otherwise (out->model may still be set). */
int window_parse(enum window_src src, const char *body, size_t len, const char *want,
                 window_found *out);

/* "llama.cpp /props" etc.: for messages. */
const char *window_src_name(enum window_src src);

/* Claude Code's version from `claude --version` ("2.1.328 (Claude Code)").
 * Returns 0 and fills v[3], or -1. */
int window_parse_version(const char *s, int v[3]);

/* What Claude Code needs before its first word: its system prompt and tools
 * (12-14k tokens with common tokenizers), and room to work on top. */
#define WINDOW_CC_PROMPT 14000
#define WINDOW_MIN 24576
/* Claude Code 2.1.328 reads CLAUDE_CODE_AUTO_COMPACT_WINDOW below this as
 * this (its "100k minimum"); a smaller window needs the percentage too. */
#define WINDOW_CC_COMPACT_MIN 100000

typedef struct window_plan {
    long window;           /* the real window (tokens), 0 unknown */
    long max_output;       /* CLAUDE_CODE_MAX_OUTPUT_TOKENS */
    int output_capped;     /* max_output is the window's share, below the clamp */
    long file_read_max;    /* CLAUDE_CODE_FILE_READ_MAX_OUTPUT_TOKENS, 0: leave unset */
    long compact_window;   /* CLAUDE_CODE_AUTO_COMPACT_WINDOW, 0: leave unset */
    char compact_pct[48];  /* CLAUDE_AUTOCOMPACT_PCT_OVERRIDE, "": leave unset */
    long threshold;        /* where Claude Code will compact, as it computes it */
    int too_small;         /* window < WINDOW_MIN: Claude Code cannot work in it */
    int compact_supported; /* this claude reads the compaction variables */
} window_plan;

/* The plan for window tokens (0: unknown), the gateway's max_tokens clamp
 * and claude's version (NULL: unknown, taken as the newest). With an
 * unknown window only max_output is set (to the clamp). */
void window_plan_make(long window, long max_tokens, const int *version, window_plan *p);

/* Claude Code's compaction threshold for these settings, computed the way
 * 2.1.328 does (effective window = min(window, 100k floor) - min(output,
 * 20000); threshold = min(effective * pct, effective - 13000)). For tests. */
long window_cc_threshold(long compact_window, double pct, long max_output);

/* The one line for a window that is too small (no trailing newline). mode
 * names the backend family for the hint. */
void window_too_small_line(long window, const char *mode, char *out, size_t n);

#endif
