/*
 * mode: the table of backend families (see mode.h).
 */
#include "mode.h"

#include <string.h>

static const mode_profile modes[] = {
    {"mlx-lm", "http://localhost:8081/v1", "MLX_LM_URL", "MLX_LM_API_KEY", "MLX_LM_MODEL", "mlx-lm",
     1, 0, 1, 0, 1},
    {"lmstudio", "http://localhost:1234/v1", "LMSTUDIO_URL", "LMSTUDIO_API_KEY", "LMSTUDIO_MODEL",
     "lm-studio", 0, 0, 1, 0, 0},
    {"llamacpp", "http://localhost:8080/v1", "LLAMACPP_URL", "LLAMACPP_API_KEY", "LLAMACPP_MODEL",
     NULL, 0, 1, 1, 0, 0},
    {"openai", NULL, "OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL", NULL, 0, 0, 1, 0, 0},
    {"anthropic", NULL, "ANYCLAUDE_ANTHROPIC_URL", "ANYCLAUDE_ANTHROPIC_API_KEY",
     "ANYCLAUDE_ANTHROPIC_MODEL", NULL, 0, 0, 0, MODE_ANTHROPIC, 0},
    {"claude", "https://api.anthropic.com", "ANYCLAUDE_CLAUDE_URL", "ANTHROPIC_API_KEY",
     "ANYCLAUDE_CLAUDE_MODEL", NULL, 0, 0, 0, MODE_CLAUDE, 0},
};

const mode_profile *mode_find(const char *name)
{
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(modes[i].name, name) == 0) return &modes[i];
    return NULL;
}

const mode_profile *mode_default(void)
{
    return &modes[0];
}

const char *mode_names(void)
{
    return "mlx-lm, lmstudio, llamacpp, openai, anthropic, claude";
}
