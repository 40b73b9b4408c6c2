/*
 * probe: the I/O half of backend discovery. Asks local ports the GETs of
 * discover_paths, all at once on one curl multi handle with short deadlines,
 * and lets discover.c name what answered. Blocking: used before the event
 * loop starts (main for --mode auto, the launcher, doctor).
 */
#ifndef ANYCLAUDE_PROBE_H
#define ANYCLAUDE_PROBE_H

#include "config.h"
#include "discover.h"

/* The ports to try: $ANYCLAUDE_DISCOVER_PORTS ("1234,8081") or
 * discover_default_ports. Returns the count, or -1 with one line in err. */
int probe_ports(int *ports, int max, char *err, size_t errlen);

/* Probe 127.0.0.1 on each port; every request has a connect deadline of
 * 300 ms and the whole probe ends within timeout_ms. Fills found[] (in port
 * order) with the servers that list /v1/models; returns how many. */
int probe_local(const int *ports, int nports, discover_found *found, int max, long timeout_ms);

/* probe_ports then probe_local (1.5 s at most): the servers found, with the
 * ports tried as text in ports_text. Returns how many, or -1 when
 * ANYCLAUDE_DISCOVER_PORTS is bad (ports_text then holds the reason). */
int probe_find(discover_found *found, int max, char *ports_text, size_t ptlen);

/* 0 when nothing answers base_url/models within timeout_ms (refused,
 * unresolvable, timed out, closed without a word); 1 otherwise, whatever
 * the status. */
int probe_answers(const char *base_url, long timeout_ms);

/* The ports as "8081, 8080, 1234" for messages. */
void probe_ports_text(const int *ports, int n, char *out, size_t outlen);

/* --mode auto (flag, ANYCLAUDE_MODE or the file's "mode"): when c->mode_auto,
 * probe the local ports, pick the server (discover_pick) and resolve the
 * configuration again as if its flags (--mode M --backend URL) had been
 * given with the others. Writes one line saying what was chosen into note.
 * Returns 0 (nothing to do, or resolved); -1 with one line in err when
 * nothing answers; -2 when auto cannot apply (routes, an explicit backend,
 * a bad ANYCLAUDE_DISCOVER_PORTS). */
int probe_resolve_auto(config *c, const config_flag *flags, size_t nflags, config_getenv_fn ge,
                       char *note, size_t notelen, char *err, size_t errlen);

#endif
