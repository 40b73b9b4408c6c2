// tmux: drive an interactive program (the real Claude Code) in a private tmux
// server, for the e2e tests that need a terminal.
//
//   const tmux = tmuxOn(SOCKET, () => env);      // tmux(...args) → stdout
//   tmux('new-session', '-d', '-s', name, '-x', '200', '-y', '50', '-c', dir, cmd);
//   const pane = watchPane(tmux, name, { exitFile, stepMs, onNew });
//   await pane.waitFor(promptBox, 90_000);       // polls capture-pane
//   killTmuxServer(SOCKET);                      // in an after hook
//   const s = await startTyped({ name, sb, argv, env, prompt, sockets });
//                                                // a program in a sandbox, a prompt typed

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
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

// argv (e.g. anyclaude ... --claude CLAUDE) in a pane of a private tmux
// server of its own (a server keeps the environment it started with, and
// each session needs its sandbox's HOME; its socket is pushed on sockets
// for the caller's cleanup), working in sandbox sb (claude_code.mjs
// makeSandbox) with env added. Waits for Claude Code's prompt box and types
// prompt. Returns { pane, tmux, session, screens }; throws (with the
// screen) if the box or the typed prompt does not show.
export async function startTyped({ name, sb, argv, env = {}, prompt, sockets }) {
  const exitFile = path.join(sb.root, 'program.exit');
  const socket = `anyclaude-e2e-${name}-${process.pid}`;
  sockets.push(socket);
  const tmux = tmuxOn(socket, () => ({ ...sb.env, ...env }));
  const cmd = `${argv.map(q).join(' ')}; echo $? > ${q(exitFile)}; exec sleep 600`;
  tmux('new-session', '-d', '-s', name, '-x', '200', '-y', '50', '-c', sb.work, cmd);
  const screens = [];
  const pane = watchPane(tmux, name, { exitFile, onNew: (x) => screens.push(x) });
  const at = (what) => new Error(`${name}: ${what}\n--- screen ---\n${pane.screen}`);
  if (!(await pane.waitFor(promptBox, 90_000))) throw at('the prompt box did not appear within 90 s');
  tmux('send-keys', '-t', name, '-l', prompt);
  const typed = new RegExp(`❯\\s+${prompt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
  if (!(await pane.waitFor((x) => typed.test(x), 10_000))) throw at('the typed prompt did not show');
  tmux('send-keys', '-t', name, 'Enter');
  return { pane, tmux, session: name, screens };
}
