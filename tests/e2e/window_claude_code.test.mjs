// e2e: Claude Code knows the model it really talks to (issue 12), with the
// real Claude Code binary and window_backend.mjs, a scripted llama-server
// look-alike that enforces its context window.
//  1. an 8k window: anyclaude exits non-zero before Claude Code starts, with
//     the fix line; doctor fails the same check.
//  2. a 32k window, interactive in tmux: Claude Code reads files past the
//     window, compacts on its own before the backend would refuse, and goes
//     on; no "prompt is too long" reaches the screen. The status line shows
//     the model, a context figure matching the backend's own token count
//     (within 2%) and a cache share matching the gateway's --debug 1 line.
//  3. the same session with Claude Code left to its own window (the user's
//     CLAUDE_CODE_AUTO_COMPACT_WINDOW=200000 wins): the backend refuses a
//     prompt as too long, so test 2 (which asserts it never does) would
//     notice if the launcher told Claude Code nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startWindowBackend, DONE, MODEL } from '../lib/window_backend.mjs';
import { BIN, CLAUDE, makeSandbox, missingPrereq, sleep, e2eScope } from '../lib/claude_code.mjs';
import { tmuxOn, killTmuxServer, missingTmux, watchPane, promptBox, q } from '../lib/tmux.mjs';

const SOCKET = `anyclaude-e2e-window-${process.pid}`;
const { children, cleanups } = e2eScope({ beforeCleanup: () => killTmuxServer(SOCKET) });

const NFILES = 12;

test('an 8k window: anyclaude refuses before Claude Code starts, doctor fails the same check', { timeout: 120_000 }, async (t) => {
  const missing = missingPrereq();
  if (missing) return t.skip(missing);
  const sb = makeSandbox('window8k');
  const be = await startWindowBackend({ window: 8192 });
  cleanups.push(() => be.close());
  const r = await children.run(BIN, ['--mode', 'llamacpp', '--backend', be.url, '--claude', CLAUDE, '-p', 'hi'], {
    cwd: sb.work,
    env: sb.env,
    timeoutMs: 60_000,
  });
  assert.notEqual(r.code, 0, `anyclaude exited 0:\n${r.stdout}\n${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], /context window is 8192 tokens, too small for Claude Code/);
  assert.match(lines[0], /needs at least \d+/);
  assert.match(lines[0], /llama-server with -c 32768/);
  assert.equal(be.chat().length, 0, 'a request reached the backend: Claude Code started');
  assert.equal(fs.existsSync(path.join(sb.home, '.claude', 'projects')), false, 'Claude Code left a session behind');

  const d = await children.run(BIN, ['doctor', '--mode', 'llamacpp', '--backend', be.url, '--claude', CLAUDE], {
    cwd: sb.work,
    env: sb.env,
    timeoutMs: 90_000,
  });
  assert.equal(d.code, 1, `doctor exited ${d.code}:\n${d.stdout}`);
  assert.match(d.stdout, /\[FAIL\] context window: 8192 tokens \(llama\.cpp \/props\)/);
  const fix = d.stdout.split('\n').find((l) => /^\s+fix: .*8192 tokens, too small/.test(l));
  assert.ok(fix && fix.includes(lines[0].replace(/^anyclaude: /, '').replace(/ \(backend [^)]*\)$/, '')), `doctor's fix line differs:\n${d.stdout}`);
  await sb.cleanup();
});

// An interactive session in tmux that reads part files until the
// conversation passes the window. Returns what the test checks.
async function readPastTheWindow(t, name, extraEnv) {
  const sb = makeSandbox(name);
  // Removed after the file, once the tmux server (and so Claude Code and its
  // children, still writing under home/.claude for a moment) is gone.
  cleanups.push(() => sb.cleanup());
  const files = [];
  for (let i = 1; i <= NFILES; i++) {
    const f = path.join(sb.work, `part${i}.txt`);
    const lines = [];
    for (let k = 0; k < 80; k++) lines.push(`part ${i} line ${k}: ${'lorem ipsum dolor sit amet '.repeat(2)}`);
    fs.writeFileSync(f, lines.join('\n') + '\n');
    files.push(f);
  }
  const be = await startWindowBackend({ window: 32768, files });
  cleanups.push(() => be.close());
  const env = { ...sb.env, ...extraEnv };
  const tmux = tmuxOn(SOCKET, () => env);
  const session = name;
  const exitFile = path.join(sb.root, 'anyclaude.exit');
  const cmd = `${q(BIN)} --mode llamacpp --backend ${q(be.url)} --claude ${q(CLAUDE)} --debug 2; echo $? > ${q(exitFile)}; exec sleep 600`;
  tmux('new-session', '-d', '-s', session, '-x', '220', '-y', '50', '-c', sb.work, cmd);
  const screens = [];
  const pane = watchPane(tmux, session, { exitFile, stepMs: 300, onNew: (screen) => screens.push(screen) });
  const capture = () => pane.capture();
  const waitFor = (pred, ms) => pane.waitFor(pred, ms);
  const fail = (msg) => {
    fs.writeFileSync(path.join(sb.root, 'screens.txt'), screens.join('\n====\n'));
    return `${msg}\n--- screen ---\n${pane.screen}\n--- backend ---\n${be.summary()}\n--- anyclaude.log ---\n${sb.log()}\n(kept in ${sb.root})`;
  };
  assert.ok(await waitFor(promptBox, 90_000), fail('the prompt box did not appear'));
  await sleep(500);
  tmux('send-keys', '-t', session, '-l', `Read the part files part1.txt to part${NFILES}.txt here one at a time with the Read tool, then say ${DONE}.`);
  assert.ok(await waitFor((s) => /❯\s+Read the part files/.test(s), 10_000), fail('the typed prompt did not show'));
  await sleep(500);
  // Enter, again if Claude Code took the first one as part of the typing
  for (let i = 0; i < 3 && be.chat().length === 0; i++) {
    tmux('send-keys', '-t', session, 'Enter');
    await waitFor(() => be.chat().length > 0, 5000);
  }
  const tooLong = /prompt is too long/i;
  // the answer, not the prompt that names it
  const finished = await waitFor((s) => s.includes(`${DONE}: ${NFILES} files`) || tooLong.test(s), 240_000);
  // let the status line catch up with the last turn
  await waitFor(() => false, 3000);
  const result = { sb, be, screen: capture(), screens, finished, fail, tooLong };
  try {
    tmux('kill-session', '-t', session);
  } catch {
    /* gone */
  }
  return result;
}

test('a 32k window: Claude Code compacts before the backend refuses, and the status line tells the truth', { timeout: 420_000 }, async (t) => {
  const missing = missingPrereq() ?? missingTmux();
  if (missing) return t.skip(missing);
  const r = await readPastTheWindow(t, 'window32k', {});
  const { be, sb, fail } = r;
  assert.ok(r.finished, fail(`neither "${DONE}" nor an error appeared`));
  assert.ok(!r.screens.some((s) => r.tooLong.test(s)), fail('"prompt is too long" reached the screen'));
  assert.ok(r.screen.includes(`${DONE}: ${NFILES} files`), fail(`"${DONE}: ${NFILES} files" did not appear`));
  const summaries = be.counts.filter((c) => c.kind === 'summary');
  assert.ok(summaries.length >= 1, fail('Claude Code never asked for a summary: no compaction'));
  assert.ok(be.counts.every((c) => c.status === 200), fail('the backend refused a prompt'));
  const peak = Math.max(...be.counts.map((c) => c.tokens));
  const total = be.counts.filter((c) => c.kind === 'read').length;
  assert.equal(total, NFILES, fail('not every part file was asked for'));
  t.diagnostic(`compactions: ${summaries.length}; biggest prompt ${peak} of 32768 tokens; ${be.counts.length} requests`);

  // The status line: model, context of the real window, cache share.
  const log = sb.log();
  const sl = r.screen.split('\n').find((l) => l.includes(MODEL) && /ctx [\d.]+k?\/32\.8k/.test(l));
  assert.ok(sl, fail('no status line with the model and the window'));
  const m = /ctx ([\d.]+)(k?)\/32\.8k \((\d+)%\).*cache ([\d.]+)%/.exec(sl);
  assert.ok(m, fail(`status line not understood: ${sl}`));
  const ctx = Number(m[1]) * (m[2] ? 1000 : 1);
  const share = m[4];
  // the backend's own count for that turn: prompt + answer
  const own = be.counts.filter((c) => c.status === 200).map((c) => c.tokens + c.out);
  assert.ok(
    own.some((n) => Math.abs(n - ctx) <= 0.02 * n),
    fail(`status line context ${ctx} is not within 2% of any count the backend made: ${own.join(', ')}`),
  );
  // and the gateway's --debug 1 line for it: prompt=P ... cached=C (S%) ... out=O
  const lines = [...log.matchAll(/prompt=(\d+) cached=(\d+) \(([\d.]+)%\).* out=(\d+)/g)];
  const match = lines.find((x) => x[3] === share && Math.abs(Number(x[1]) + Number(x[4]) - ctx) <= 0.02 * ctx);
  assert.ok(match, fail(`no --debug 1 line with cache ${share}% and context ~${ctx}: ${sl}`));
  t.diagnostic(`status line: ${sl.trim()}`);
  t.diagnostic(`its --debug 1 line: ${match[0]}`);
  assert.match(log, /told Claude Code CLAUDE_AUTOCOMPACT_PCT_OVERRIDE=/);
  // the status line named Claude Code's own session: the one its requests carry
  assert.match(log, /status line asked for session [0-9a-f-]{36}: found/, fail('the status line never found its session'));
});

test('the same session without the window variables runs into the window (the test above would notice)', { timeout: 420_000 }, async (t) => {
  const missing = missingPrereq() ?? missingTmux();
  if (missing) return t.skip(missing);
  // the user's own setting wins: Claude Code compacts where it would for Claude
  const r = await readPastTheWindow(t, 'window32k-unset', { CLAUDE_CODE_AUTO_COMPACT_WINDOW: '200000' });
  const { be, sb, fail } = r;
  const refused = be.counts.filter((c) => c.status === 400);
  // Claude Code ran into the window: the backend answered "prompt is too
  // long" (test 2 asserts it never does). 2.1.328 then compacts reactively
  // with a trimmed conversation, which may or may not fit.
  assert.ok(refused.length >= 1, fail('the backend never refused a prompt: the test cannot tell a told Claude Code from one left alone'));
  assert.match(sb.log(), /kept CLAUDE_CODE_AUTO_COMPACT_WINDOW/);
  const shown = r.screens.some((s) => r.tooLong.test(s));
  t.diagnostic(`backend refusals: ${refused.map((c) => c.tokens).join(', ')} tokens > 32768; error on screen: ${shown ? 'yes' : 'no (Claude Code compacted reactively)'}`);
});
