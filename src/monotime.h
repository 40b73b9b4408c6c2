/*
 * monotime: the monotonic clock the shell times durations with (deadlines,
 * back-off, slot idle times, request timings). One function, so that every
 * shell module can read the clock without depending on the server.
 */
#ifndef ANYCLAUDE_MONOTIME_H
#define ANYCLAUDE_MONOTIME_H

/* Milliseconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
double monotime_ms(void);

#endif
