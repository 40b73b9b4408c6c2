// The real llama-server loaded with an 8k window (-c 8192): anyclaude reads
// the window from its /props and does not start the real Claude Code; doctor
// fails the same check. (tests/e2e/window_claude_code.test.mjs covers the rest with a
// scripted look-alike that can also write a compaction summary.)
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GATEWAY, ROOT, startLlama, stopLlama } from '../lib/llama.mjs';

const CLAUDE = path.join(ROOT, 'tests/node_modules/@anthropic-ai/claude-code-linux-x64/claude');
let port = 0;
after(() => port && stopLlama(port));

test('a real llama-server with -c 8192: anyclaude refuses before Claude Code starts; doctor fails', { timeout: 300_000 }, async (t) => {
  if (!fs.existsSync(CLAUDE)) return t.skip(`${CLAUDE} missing`);
  const llama = await startLlama([], { ...process.env, LLAMA_CTX: '8192', LLAMA_PARALLEL: '1' });
  port = llama.port;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-real-window-'));
  fs.writeFileSync(path.join(home, '.claude.json'), '{"hasCompletedOnboarding":true}');
  const env = { ...process.env, HOME: home, XDG_STATE_HOME: path.join(home, 'state') };
  for (const k of Object.keys(env)) if (/^(ANTHROPIC_|CLAUDE_CODE_|ANYCLAUDE_)/.test(k)) delete env[k];
  try {
    const backend = `${llama.url}/v1`;
    const r = spawnSync(GATEWAY, ['--mode', 'llamacpp', '--backend', backend, '--claude', CLAUDE, '-p', 'What does hello.py print?'], {
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 1, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /^anyclaude: the backend's context window is 8192 tokens, too small for Claude Code.*-c 32768/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(fs.existsSync(path.join(home, '.claude', 'projects')), false, 'Claude Code ran');
    const d = spawnSync(GATEWAY, ['doctor', '--mode', 'llamacpp', '--backend', backend, '--claude', CLAUDE], { env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(d.status, 1, d.stdout);
    assert.match(d.stdout, /\[FAIL\] context window: 8192 tokens \(llama\.cpp \/props\)/);
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});
