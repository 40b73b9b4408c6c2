/*
 * slotfiles: which llama.cpp slot checkpoints a gateway keeps on the
 * server's disk, and what each holds (pure).
 *
 * With --slot-save-path, a gateway that stops saves the slots its
 * conversations hold (POST /slots/N?action=save) so that after llama-server
 * restarts, the next start restores them (action=restore: read from disk)
 * instead of prefilling the saved system prompt and tools, and a
 * `--continue` finds its whole conversation cached. The files are few and
 * reused (SLOTFILES_MAX: a conversation's KV cache may be gigabytes); this
 * index, kept by the shell in the state directory, says which conversation
 * (and so which kind of prefix) each file holds, for which server (its
 * model and context) and since when. One file per conversation: two
 * terminals of one kind (two gateways, or two sessions through one `serve`)
 * each keep their own. A file never restores into another model: a
 * server id of 0 (unknown) matches nothing. Restoring a file that holds
 * something else than the index says costs cache hits, never a wrong
 * answer: llama-server keeps the tokens with the cache and compares them.
 *
 * The index's text: one line per file in use, "N KIND SERVER TOKENS SAVED
 * CONV" (file number, kind and server as 16 hex digits, tokens, unix
 * seconds, the conversation's key as 16 hex digits; an index written before
 * CONV existed reads as conversation 0).
 */
#ifndef ANYCLAUDE_SLOTFILES_H
#define ANYCLAUDE_SLOTFILES_H

#include <stddef.h>
#include <stdint.h>

#define SLOTFILES_MAX 4

typedef struct slotfile {
    uint64_t kind;   /* 0: the file is unused */
    uint64_t server; /* the server it was saved from */
    long tokens;     /* tokens it holds (0: the save is under way) */
    long long saved; /* when (unix seconds) */
    uint64_t conv;   /* the conversation's key; 0: a prefix of kind (by slot id: mirror) */
} slotfile;

typedef struct slotfiles {
    slotfile f[SLOTFILES_MAX];
} slotfiles;

/* Read the index's text (n bytes); lines that do not parse are left out. */
void slotfiles_parse(slotfiles *s, const char *text, size_t n);
/* Write it into out (NUL-terminated); the length, or -1 if out is short. */
int slotfiles_format(const slotfiles *s, char *out, size_t n);
/* The file holding a finished save of kind from server, or -1. */
int slotfiles_find(const slotfiles *s, uint64_t kind, uint64_t server);
/* The files holding a finished save from server, newest first, into out
 * (SLOTFILES_MAX entries); returns how many. */
int slotfiles_newest(const slotfiles *s, uint64_t server, int *out);
/* The file a save of conversation conv (0: of kind, by slot id) from
 * server goes to: the one already holding that conversation (conv 0: that
 * kind) for that server, else an unused one, else the oldest. */
int slotfiles_pick(const slotfiles *s, uint64_t kind, uint64_t conv, uint64_t server);
/* File i now holds conversation conv of kind from server (tokens 0: the
 * save has started). */
void slotfiles_put(slotfiles *s, int i, uint64_t kind, uint64_t conv, uint64_t server, long tokens,
                   long long now);
/* File i holds nothing usable (a failed save or restore). */
void slotfiles_drop(slotfiles *s, int i);

#endif
