/*
 * cli: command-line parsing and the help text. Splits argv into the
 * subcommand, anyclaude's own options (handed to config) and the arguments
 * that belong to claude.
 */
#ifndef ANYCLAUDE_CLI_H
#define ANYCLAUDE_CLI_H

#include <stdio.h>

#include "config.h"

enum cli_cmd { CLI_RUN, CLI_SERVE, CLI_DOCTOR, CLI_STATUSLINE };

#define CLI_MAX_FLAGS 32
#define CLI_MAX_PASS 256

typedef struct cli_args {
    enum cli_cmd cmd;
    int help, version;
    config_flag flags[CLI_MAX_FLAGS];
    char names[CLI_MAX_FLAGS][24]; /* storage for flags[].name */
    size_t nflags;
    char *pass[CLI_MAX_PASS]; /* arguments for claude (borrowed from argv) */
    int npass;
} cli_args;

/* Parse argv. Options take a value as `--opt value` or `--opt=value`.
 * For `serve` and `doctor` an unknown option is an error; for the default
 * command it is passed to claude, as is everything after `--`.
 * Returns 0 or -1 with one line in err. */
int cli_parse(int argc, char **argv, cli_args *a, char *err, size_t errlen);
void cli_print_help(FILE *f);
/* Refuse to listen beyond loopback without an auth token. */
int cli_check_exposure(const config *cfg, char *err, size_t errlen);
/* Run the default command or doctor. Returns the process exit status. */
int cli_run_other(const cli_args *a, const config *cfg);

#endif
