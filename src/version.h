/* version: the one place the release number lives. */
#ifndef ANYCLAUDE_VERSION_H
#define ANYCLAUDE_VERSION_H
#define ANYCLAUDE_VERSION "0.1.0"
/* the port `anyclaude serve` listens on unless told otherwise */
#define ANYCLAUDE_SERVE_PORT 8082
#endif
