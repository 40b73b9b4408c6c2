/*
 * modelcheck: is the configured model one the backend serves? MLX-LM's
 * server takes any "model" other than the loaded one for a Hugging Face
 * repo: it drops the loaded model, tries to download the name (404 offline)
 * and loads its own again on the next request. LM Studio loads any name it
 * lists. So a name the server does not list is refused before the first
 * request, at start (`anyclaude`, `serve`) and in `doctor`.
 *
 *   config ─▶ modelcheck_run (GET URL/models) ─▶ modelcheck_listed (pure)
 */
#ifndef ANYCLAUDE_MODELCHECK_H
#define ANYCLAUDE_MODELCHECK_H

#include <stddef.h>

#include "config.h"

/* Look `model` up in an OpenAI /models answer (json, len bytes). Returns 1
 * when an entry's "id" is exactly model, 0 when not (served gets the ids,
 * quoted and comma-separated, cut to fit n), -1 when the answer has no
 * "data" list. Pure. */
int modelcheck_listed(const char *json, size_t len, const char *model, char *served, size_t n);

/* Does the mode's server unload or load models by name (mlx-lm, lmstudio)? */
int modelcheck_applies(const mode_profile *m);

/* The message for a model the server at url does not list (one line). */
void modelcheck_message(char *err, size_t errlen, const char *model, const char *url,
                        const char *served, const mode_profile *m);

/* From LM Studio's /api/v0/models answer: does the model take images? The
 * model named `model`, or ("" / NULL) the first one whose "state" is
 * "loaded". Returns 1 for "type": "vlm", 0 for "llm", -1 when it cannot
 * tell. Pure. */
int modelcheck_lmstudio_vision(const char *json, size_t len, const char *model);

/* From llama-server's /props: "modalities": {"vision": bool} (false unless
 * it was started with an --mmproj). Returns 1, 0, or -1 when absent. Pure. */
int modelcheck_llamacpp_vision(const char *json, size_t len);

/* For each lmstudio or llamacpp backend whose "vision" is unset (auto), ask
 * the server whether its model takes images (LM Studio: /api/v0/models;
 * llama-server: /props) and set it: text-only models then get the
 * placeholder instead of an image the server would refuse. Unanswered:
 * left as it was (images sent). */
void modelcheck_vision(config *cfg);

/* Check every backend a route uses whose mode modelcheck_applies to, and each
 * model a route names for it: GET its /models (3 s to connect, 10 s in all).
 * Returns 0 when every configured name is listed, or the backend cannot be
 * asked (it may start later; noted in the log); -1 with one line in err
 * naming the model and what the server serves. */
int modelcheck_run(const config *cfg, char *err, size_t errlen);

#endif
