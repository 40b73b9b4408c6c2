// tmux: interactive Claude Code sessions for bench/sessions, typed into as a
// person would (a private tmux server per scenario: -L socket).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const promptBox = (s) => /^─{20,}\s*\n❯[^\n]*\n─{20,}/m.test(s);
export const shq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

export function tmuxServer(socket, env) {
  const tmux = (...args) => execFileSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
  const sessions = new Map();
  const capture = (name) => {
    try {
      return tmux('capture-pane', '-p', '-t', name);
    } catch (e) {
      return `(capture failed: ${e.message})`;
    }
  };
  async function waitFor(name, pred, ms) {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      const s = capture(name);
      if (pred(s)) return true;
      if (fs.existsSync(sessions.get(name).exitFile)) return false;
      await sleep(200);
    }
    return false;
  }
  return {
    // start cmd (a shell command line) in a new session; resolves when the
    // prompt box shows, with the ms from start to then. With typeAt (ms),
    // resolves at that time after the start instead, box or not: what is
    // typed then waits in the terminal until Claude Code reads it, as a
    // person's typing does.
    async open(name, cwd, cmd, exitFile, { typeAt } = {}) {
      fs.rmSync(exitFile, { force: true });
      sessions.set(name, { exitFile, t0: Date.now() });
      const t0 = Date.now();
      tmux('new-session', '-d', '-s', name, '-x', '200', '-y', '50', '-c', cwd, `${cmd}; echo $? > ${shq(exitFile)}; exec sleep 600`);
      if (typeAt !== undefined) {
        await sleep(Math.max(0, t0 + typeAt - Date.now()));
        return Date.now() - t0;
      }
      if (!(await waitFor(name, promptBox, 90000))) throw new Error(`${name}: no prompt box in 90 s:\n${capture(name)}`);
      return Date.now() - t0;
    },
    // ms from the session's start until its prompt box showed (polled)
    async boxAfter(name, ms = 90000) {
      const { t0 } = sessions.get(name);
      return (await waitFor(name, promptBox, ms)) ? Date.now() - t0 : -1;
    },
    // the text, then Enter gap ms later; resolves with the ms from the
    // session's start to the Enter
    async type(name, text, gap = 400) {
      tmux('send-keys', '-t', name, '-l', text);
      await sleep(gap);
      tmux('send-keys', '-t', name, 'Enter');
      return Date.now() - sessions.get(name).t0;
    },
    // until the answer is in: nothing in flight through the taps, and quiet for ms
    async settle(name, tap, { quietMs = 2500, maxMs = 240000, since = Date.now() } = {}) {
      const until = Date.now() + maxMs;
      while (Date.now() < until) {
        await sleep(250);
        if (tap.inflight === 0 && tap.lastDone > since && Date.now() - tap.lastDone > quietMs && promptBox(capture(name))) return true;
      }
      return false;
    },
    async close(name) {
      const { exitFile } = sessions.get(name);
      await this.type(name, '/exit');
      let gone = await waitFor(name, () => fs.existsSync(exitFile), 20000).then(() => fs.existsSync(exitFile));
      if (!gone) {
        tmux('send-keys', '-t', name, 'C-c');
        await sleep(300);
        tmux('send-keys', '-t', name, 'C-c');
        await waitFor(name, () => fs.existsSync(exitFile), 20000);
        gone = fs.existsSync(exitFile);
      }
      try {
        tmux('kill-session', '-t', name);
      } catch {
        /* gone */
      }
      return gone;
    },
    capture,
    kill() {
      try {
        tmux('kill-server');
      } catch {
        /* not running */
      }
    },
  };
}
