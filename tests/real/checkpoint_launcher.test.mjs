// Checkpoints through the launcher, the way people end a session: the real
// Claude Code run by `anyclaude -p` against a real llama-server (2 slots,
// --slot-save-path). The question pastes a 300-line log, so the
// conversation is far longer than the system prompt and tools a warm start
// keeps. When Claude Code exits, the launcher saves the conversation's slot
// ("checkpoint: saved slot" in anyclaude.log); llama-server restarts (its KV
// cache gone); `anyclaude -p --continue` restores the slot at start and the
// turn prefills only its new words (the gateway's own per-request line:
// prompt and cached tokens). tests/real/checkpoint.test.mjs covers `serve`
// and two terminals with raw requests.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GATEWAY, ROOT, freePort, startLlama, stopLlama } from '../lib/llama.mjs';

const CLAUDE = path.join(ROOT, 'tests/node_modules/@anthropic-ai/claude-code-linux-x64/claude');
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-real-ckpt-launcher-'));
const LLAMA_ENV = { ...process.env, LLAMA_RUN_DIR: runDir, LLAMA_PARALLEL: '2' };
let port = 0;
after(() => {
  if (port) stopLlama(port, LLAMA_ENV);
  fs.rmSync(runDir, { recursive: true, force: true });
});

const LOG = Array.from({ length: 300 }, (_, i) => `12:${String(i % 60).padStart(2, '0')} worker ${i % 7}: job ${i} finished in ${(i * 37) % 1000} ms`).join('\n');

test('anyclaude -p, Claude Code exits, llama-server restarts, anyclaude -p --continue: only the new words are prefilled', { timeout: 300_000 }, async (t) => {
  if (!fs.existsSync(CLAUDE)) return t.skip(`${CLAUDE} missing`);
  const slots = path.join(runDir, 'slots');
  fs.mkdirSync(slots);
  const home = path.join(runDir, 'home');
  const work = path.join(runDir, 'work');
  fs.mkdirSync(home);
  fs.mkdirSync(work);
  fs.writeFileSync(path.join(home, '.claude.json'), JSON.stringify({ hasCompletedOnboarding: true, projects: { [work]: { hasTrustDialogAccepted: true } } }));
  const state = path.join(runDir, 'state');
  const env = { ...process.env, HOME: home, XDG_STATE_HOME: state, XDG_CONFIG_HOME: path.join(home, '.config') };
  for (const k of Object.keys(env)) if (/^(ANTHROPIC_|CLAUDE_CODE_|ANYCLAUDE_)/.test(k)) delete env[k];
  const logFile = path.join(state, 'anyclaude', 'anyclaude.log');
  const readLog = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  port = await freePort();
  await startLlama(['--slot-save-path', slots], LLAMA_ENV, port);
  const run = (args) => {
    const before = readLog().length;
    const r = spawnSync(GATEWAY, ['--mode', 'llamacpp', '--backend', `http://127.0.0.1:${port}/v1`, '--debug', '1', '--claude', CLAUDE, ...args], { cwd: work, env, encoding: 'utf8', timeout: 180_000 });
    const log = readLog().slice(before);
    assert.equal(r.status, 0, `anyclaude ${args.slice(0, 2).join(' ')}: exit ${r.status}\n${r.stderr}\n${log}`);
    return log;
  };
  // the main conversation's turns: the gateway's per-request lines with a prompt of at least 8k tokens
  const turns = (log) => [...log.matchAll(/prompt=(\d+) cached=(\d+) .* slot=/g)].map((m) => ({ prompt: +m[1], cached: +m[2] })).filter((x) => x.prompt > 8000);

  const first = run(['-p', `what went wrong in this log?\n${LOG}`]);
  const saved = /checkpoint: saved slot \d+ of \S+ \((\d+) tokens\)/.exec(first);
  assert.ok(saved, `the launcher saves the conversation's slot when Claude Code exits:\n${first}`);
  const t1 = turns(first);
  assert.ok(t1.length >= 1 && t1[0].prompt - t1[0].cached > 5000, `the first turn prefills the log: ${JSON.stringify(t1)}`);

  stopLlama(port, LLAMA_ENV);
  await startLlama(['--slot-save-path', slots], LLAMA_ENV, port);

  const next = run(['-p', '--continue', 'and after the restart?']);
  assert.match(next, /warm start: restored slot \d+ of \S+ from the checkpoint/, next);
  const t2 = turns(next);
  assert.ok(t2.length >= 1, next);
  const { prompt, cached } = t2[0];
  t.diagnostic(`after the restart: prompt ${prompt}, cached ${cached}, prefilled ${prompt - cached} (the first turn prefilled ${t1[0].prompt - t1[0].cached})`);
  assert.ok(prompt - cached < 100, `only the new words are prefilled: prompt ${prompt}, cached ${cached}\n${next}`);
});
