// tmux: drive an interactive program (the real Claude Code) in a private tmux
// server, for the e2e tests that need a terminal.
//
//   const tmux = tmuxOn(SOCKET, () => env);      // tmux(...args) → stdout
//   tmux('new-session', '-d', '-s', name, '-x', '200', '-y', '50', '-c', dir, cmd);
//   const pane = watchPane(tmux, name, { exitFile, stepMs, onNew });
//   await pane.waitFor(promptBox, 90_000);       // polls capture-pane
//   killTmuxServer(SOCKET);                      // in an after hook

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { sleep } from './net.mjs';

// Single-quote a string for the shell command a pane runs.
export const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

// Claude Code's prompt box: a rule, the ❯ line, a rule.
export const promptBox = (s) => /^─{20,}\s*\n❯[^\n]*\n─{20,}/m.test(s);

// Why tmux tests cannot run here, or null.
export function missingTmux() {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'tmux is not installed';
  }
}

// tmux on a private server (-L socket, no user config); env() gives the
// environment of each call (the server, and so the panes, get the first one).
export function tmuxOn(socket, env = () => process.env) {
  return (...args) =>
    execFileSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8', env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
}

// The panes' process groups get SIGKILL first: kill-server alone sends
// SIGHUP, and Claude Code may go on writing its session files for a while.
export function killTmuxServer(socket) {
  try {
    const pids = execFileSync('tmux', ['-L', socket, '-f', '/dev/null', 'list-panes', '-a', '-F', '#{pane_pid}'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    for (const pid of pids.split('\n').filter((l) => /^\d+$/.test(l))) {
      try {
        process.kill(-Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  } catch {
    /* not started, or gone */
  }
  try {
    execFileSync('tmux', ['-L', socket, '-f', '/dev/null', 'kill-server'], { stdio: 'ignore' });
  } catch {
    /* not started, or gone */
  }
}

// A pane's screen. capture() reads it (onNew(screen) sees each screen that
// differs from the one before); waitFor(pred, ms) polls until pred(screen),
// until the program wrote exitFile (then one last look), or ms passed.
export function watchPane(tmux, session, { exitFile, stepMs = 250, onNew = () => {} }) {
  const pane = {
    screen: '',
    capture() {
      const before = pane.seen ? pane.screen : null;
      try {
        pane.screen = tmux('capture-pane', '-p', '-t', session);
      } catch (e) {
        pane.screen = `(capture failed: ${e.message})`;
      }
      pane.seen = true;
      if (before !== pane.screen) onNew(pane.screen);
      return pane.screen;
    },
    async waitFor(pred, ms) {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        if (pred(pane.capture())) return true;
        if (fs.existsSync(exitFile)) return pred(pane.capture());
        await sleep(stepMs);
      }
      return false;
    },
  };
  return pane;
}
