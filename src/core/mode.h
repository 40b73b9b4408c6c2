/*
 * mode: what each backend family needs, in one table. A mode is chosen by
 * config and consulted by the request translator and the shell; the quirks
 * of a backend live here and nowhere else.
 */
#ifndef ANYCLAUDE_MODE_H
#define ANYCLAUDE_MODE_H

typedef struct mode_profile {
    const char *name; /* "mlx-lm", "lmstudio", "llamacpp", "openai", "anthropic", "claude" */
    const char *default_backend; /* base URL ending in /v1; NULL: must be given */
    const char *url_env;         /* env var naming the backend URL */
    const char *key_env;         /* env var naming the API key */
    const char *model_env;       /* env var naming the model */
    const char *default_key;     /* API key sent when none is configured, or NULL */
    int omit_model;              /* never send a model the user did not configure */
    int cache_prompt;            /* send "cache_prompt": true (llama.cpp) */
    int local;                   /* tool recovery on by default (every OpenAI-family mode:
                                    vLLM, SGLang, Ollama behind `openai` need it too) */
    int passthru;                /* speaks /v1/messages: MODE_ANTHROPIC (cache rewrites) or
                                    MODE_CLAUDE (unchanged); 0: OpenAI chat completions */
    int text_only;               /* the server takes no images (mlx_lm.server answers 404
                                    "Only 'text' content type is supported."); a backend's
                                    "vision" setting overrides it */
} mode_profile;

#define MODE_ANTHROPIC 1
#define MODE_CLAUDE 2

/* The profile named `name`, or NULL. */
const mode_profile *mode_find(const char *name);
/* The default mode (mlx-lm). */
const mode_profile *mode_default(void);
/* "mlx-lm, lmstudio, llamacpp, openai, anthropic, claude": for messages and --help. */
const char *mode_names(void);

#endif
