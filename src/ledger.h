/* ledger: the slot ledger that gateways sharing one llama-server keep in
 * the state directory (slots-<server hash>.txt: slot, gateway pid, kind,
 * primed or conversation, whose conversation), and the lock that makes a placement (read,
 * decide, write) one step: an flock on ledger-<server hash>.lock, so two
 * gateways never both take the slot the ledger showed free. */
#ifndef ANYCLAUDE_LEDGER_H
#define ANYCLAUDE_LEDGER_H

#include <stdint.h>

#include "affinity.h"

/* How long a gateway waits for another one's lock before it goes ahead
 * without (the other one is stuck: a placement takes microseconds). */
#define LEDGER_LOCK_WAIT_MS 3000

/* Each takes the state directory ("": no ledger) and the server's URL.
 * Take the ledger's lock: the descriptor for ledger_unlock, or -1 (no
 * state directory, the file cannot be opened, or
 * LEDGER_LOCK_WAIT_MS passed: logged) and the caller goes ahead unlocked.
 * Blocks for at most that long. Not reentrant: a second hold from this
 * process waits for the first. */
int ledger_hold(const char *dir, const char *url);
void ledger_unlock(int fd);
/* Record that this gateway put kind in slot (primed: a prefix any gateway
 * may claim, else a conversation of its own), and whose conversation it is
 * (conv, 0: nobody's): when the gateway has exited, or for a primed prefix
 * restored from a checkpoint, that conversation takes it back first
 * (affinity_owner). */
void ledger_write(const char *dir, const char *url, int slot, uint64_t kind, int primed,
                  uint64_t conv);
/* The server holds nothing in slot (GET /slots: it restarted): drop the
 * ledger's line for it unless a running gateway placed a conversation
 * there, so a prefix that is gone is not claimed again at the next sync. */
void ledger_forget(const char *dir, const char *url, int slot);
/* Tell aff what other gateways did since (affinity_external). */
void ledger_sync(const char *dir, const char *url, affinity *aff);

#endif
