/*
 * log: the gateway's diagnostics. Level 0 prints only warnings and errors;
 * 1 adds one line per request; 2 request/response summaries; 3 full traces
 * written to files. Lines go to stderr or to a log file. Secrets are never
 * passed here: callers log summaries, and log_redact() scrubs anything that
 * looks like a key before it is written.
 */
#ifndef ANYCLAUDE_LOG_H
#define ANYCLAUDE_LOG_H

#include <stddef.h>

/* Set the level and destination (path NULL: stderr). Returns 0 or -1 when
 * the file cannot be opened. */
int log_init(int level, const char *path);
int log_level(void);
/* How many level-0 lines (warnings, errors, notices) were written. */
int log_warnings(void);
/* Write one line (a newline is added) when level <= the configured level;
 * level 0 lines are always written. */
void log_line(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Register a secret (API key, token) so that log output never shows it;
 * it is replaced by "***". Any number of secrets; shorter than 4 bytes
 * ignored. */
void log_add_secret(const char *secret);
/* Replace every registered secret and every "Bearer xxx" / "sk-..." run in
 * s (NUL-terminated, in place) with asterisks. */
void log_redact(char *s);
/* Mask only the registered secrets in n bytes at p (for what goes to
 * clients: a backend that echoes its key must not hand it on). */
void log_redact_secrets(char *p, size_t n);
void log_close(void);

#endif

/* Full traces (debug level 3): one file per request under dir, named after
 * id. Every chunk written is redacted like log lines. */
typedef struct log_trace log_trace;
/* Open dir/<YYYYmmdd-HHMMSS>-<id>.trace; NULL when the level is below 3 or
 * the file cannot be created. */
log_trace *log_trace_open(const char *dir, const char *id);
/* Append data under a "--- label" heading; consecutive writes with the same
 * label continue one section. */
void log_trace_write(log_trace *t, const char *label, const char *data, size_t len);
void log_trace_close(log_trace *t);
