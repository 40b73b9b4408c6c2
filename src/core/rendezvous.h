/*
 * rendezvous: highest-random-weight (HRW) choice of a member for a key
 * (pure). Every member gets a score that depends only on the key and the
 * member's identity; the members are ordered by score, highest first. Two
 * gateway replicas that know the same members therefore order them the
 * same way for the same conversation without talking to each other, and
 * when a member leaves, only the keys whose first choice it was move (each
 * to its own second choice); a member that joins takes only the keys it now
 * wins. The cost is one score per member: O(n) for the choice, O(n log n)
 * for the whole order (bench/rendezvous measures both).
 */
#ifndef ANYCLAUDE_RENDEZVOUS_H
#define ANYCLAUDE_RENDEZVOUS_H

#include <stdint.h>

/* A member's identity from its name (the same on every replica that reads
 * the same config). Never 0. */
uint64_t rendezvous_id(const char *name, int len);

/* The score of member id for key: a well-mixed 64-bit function of both. */
uint64_t rendezvous_score(uint64_t key, uint64_t id);

/* The index (into ids) of the member with the highest score among the n
 * given, or -1 when n <= 0. Ties (equal ids) go to the lower index. */
int rendezvous_pick(uint64_t key, const uint64_t *ids, int n);

/* Write 0..n-1 into out ordered by score, highest first (ties: lower
 * index first). scores is the caller's scratch space for n scores. An
 * insertion sort: n scores, then O(n^2) comparisons in the worst case,
 * which is nothing for the 16 members a pool may have. */
void rendezvous_order(uint64_t key, const uint64_t *ids, int n, int *out, uint64_t *scores);

/* A stable key for a Claude Code conversation from its session id and
 * agent id (aid may be NULL): what engine routers get instead of the ids. */
uint64_t rendezvous_session_key(const char *sid, const char *aid);

#endif
