/*
 * statusline: `anyclaude statusline`, the command the launcher gives Claude
 * Code as its status line (shell). Reads Claude Code's session JSON on
 * stdin, asks the gateway (ANTHROPIC_BASE_URL, with the launcher's token)
 * for that conversation's last turn at GET /anyclaude/status, and prints
 * one line (convstat_line). Without a gateway it prints nothing; it always
 * exits 0, fast.
 */
#ifndef ANYCLAUDE_STATUSLINE_H
#define ANYCLAUDE_STATUSLINE_H

/* Run it. Returns the exit status (always 0). */
int statusline_run(void);

#endif
