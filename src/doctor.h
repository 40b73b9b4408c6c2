/*
 * doctor: `anyclaude doctor`. Checks, one verdict a line, that claude is
 * installed, that the backend answers and what it serves, and that a request
 * makes the round trip through the gateway; prints the fix to try for each
 * failure.
 */
#ifndef ANYCLAUDE_DOCTOR_H
#define ANYCLAUDE_DOCTOR_H

#include "buf.h"
#include "config.h"

/* Run every check. Returns 0 when all pass, 1 otherwise. */
int doctor_run(const config *cfg);

#endif
