/* ledger_lock: the lock that makes a gateway's read-decide-write of the slot
 * ledger (slots-<server>.txt, see backends.c) one step, so two gateways
 * sharing a server never both place a conversation in the slot the ledger
 * showed free. */
#ifndef ANYCLAUDE_LEDGER_LOCK_H
#define ANYCLAUDE_LEDGER_LOCK_H

/* How long a gateway waits for another one's lock before it goes ahead
 * without (the other one is stuck: a placement takes microseconds). */
#define LEDGER_LOCK_WAIT_MS 3000

/* Take the exclusive lock on lock_path (flock; created 0600).
 * Returns the descriptor to pass to ledger_unlock, or -1 (no lock: the
 * file cannot be opened, or wait_ms passed; logged) and the caller goes
 * ahead unlocked. Blocks the caller for at most wait_ms. Not reentrant: a
 * second lock on the same file from this process waits for the first. */
int ledger_lock(const char *lock_path, int wait_ms);
void ledger_unlock(int fd);

#endif
