/*
 * checkpoint: conversations that outlive a restart of llama-server (shell;
 * the index is slotfiles.h).
 *
 * When the gateway stops (Claude Code exited; `serve` drained), it saves
 * the slots its conversations hold, newest first, one file each (a
 * subagent's: one per kind), into the
 * server's --slot-save-path (anyclaude-<server>-c<N>.bin, SLOTFILES_MAX
 * files reused) and records them (kind, conversation) in
 * checkpoints-<server>.txt in the state directory. At the next start, warm
 * start restores the files into free slots when the server does not hold
 * those conversations (it restarted): read from disk instead of
 * prefilled. Each restored slot belongs to its conversation, so
 * `claude --continue` in each of two terminals finds its own and prefills
 * only its new words (the session id survives --continue and --resume).
 *
 *   stop ─▶ checkpoint_save_all ─▶ POST /slots/N?action=save, one by one
 *   start ─▶ warm start ─▶ checkpoint_restore_next ─▶ action=restore, one by
 *            one into free slots; then the kinds no slot holds are prefilled
 *
 * `anthropic` mode does not place slots (llama-server's /v1/messages drops
 * id_slot; `openai` mode in front of a llama-server places them as llamacpp
 * mode does): llama-server does, by the longest common prefix. Before a
 * llama-server (its /props answers) it keeps checkpoints by slot id instead
 * of conversation ("mirror"): at stop the
 * SLOTFILES_MAX most recently used slots that hold a prompt (GET /slots) are
 * saved; at start, each empty slot gets its own file back, and llama-server
 * then places the conversation there itself.
 */
#ifndef ANYCLAUDE_CHECKPOINT_H
#define ANYCLAUDE_CHECKPOINT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "backend_rt.h"

/* What identifies a llama-server's KV cache format, from its /props (model
 * path and type, context per slot); 0 when props says none of it. */
uint64_t checkpoint_server_id(const cJSON *props);
/* b keeps checkpoints: slots in use, a known server, warm start on. */
int checkpoint_on(const backend_rt *b);
/* b keeps them by slot id (mirror): anthropic mode (openai mode before a
 * llama-server places slots itself: use_slots), a llama-server's slots
 * known, a known server, warm start on. */
int checkpoint_mirror_on(const backend_rt *b);
/* The index's kind for slot i of a mirror. */
uint64_t checkpoint_mirror_kind(int slot);
/* Mirror, at start: j is b's GET /slots; restore each empty slot that has
 * a checkpoint of its own, one at a time, then call then(b). Returns 1 when
 * a restore started (then comes later), 0 when there was none (the caller
 * goes on). */
int checkpoint_mirror_restore(backend_rt *b, const cJSON *j, void (*then)(backend_rt *b));
/* llamacpp, at start (after the slots are known): restore the next saved
 * conversation for b's server, newest first, into a free slot, unless a
 * slot holds it already (the server did not restart, or another gateway
 * restored it): that slot is then a primed prefix owned by the
 * conversation (affinity_owner), which takes it back when it comes. 1 when
 * a restore started (then(b) follows it), 0 when there is none left or no
 * slot free. */
int checkpoint_restore_next(backend_rt *b, void (*then)(backend_rt *b));
/* Save the slots every backend's conversations hold, then done(arg) (at
 * once when there is nothing to save; after deadline_ms at the latest).
 * Cancels start-up probes and warm starts still running. */
void checkpoint_save_all(backends *bs, long deadline_ms, void (*done)(void *), void *arg);

#endif
