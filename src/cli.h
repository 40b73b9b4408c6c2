/*
 * cli: command-line parsing and the help text. Splits a subcommand's
 * arguments into anyclaude's own options (handed to config) and the
 * arguments that belong to claude. Which subcommand runs is main.c's table.
 */
#ifndef ANYCLAUDE_CLI_H
#define ANYCLAUDE_CLI_H

#include <stdio.h>

#include "config.h"

#define CLI_MAX_FLAGS 32
#define CLI_MAX_PASS 256

typedef struct cli_args {
    int help, version;
    config_flag flags[CLI_MAX_FLAGS];
    char names[CLI_MAX_FLAGS][24]; /* storage for flags[].name */
    size_t nflags;
    char *pass[CLI_MAX_PASS]; /* arguments for claude (borrowed from argv) */
    int npass;
} cli_args;

/* Parse the argc arguments in argv that follow the program name and the
 * subcommand. Options take a value as `--opt value` or `--opt=value`.
 * cmd names the subcommand (`serve`, `doctor`): an unknown option is an
 * error naming it. cmd NULL is the default command: an unknown argument is
 * passed to claude, as is everything after `--`.
 * Returns 0 or -1 with one line in err. */
int cli_parse(int argc, char **argv, const char *cmd, cli_args *a, char *err, size_t errlen);
void cli_print_help(FILE *f);
/* Refuse to listen beyond loopback without an auth token. */
int cli_check_exposure(const config *cfg, char *err, size_t errlen);

#endif
