// Backend discovery on the real default ports: a scripted LM-Studio-like
// server on port 1234 (its /v1/models says owned_by "organization_owner",
// its /api/v0/models lists a loaded model) and nothing on 8081, anyclaude's
// default backend. With no mode given, `anyclaude doctor` and `anyclaude`
// name LM Studio and `--mode lmstudio`; `--mode auto` (flag or config file)
// uses it, through a real Claude Code `-p` session.
//
// Ports 1234 and 8081 are fixed, so the test skips (saying why) only when
// one of them is taken by something else. Doctor probes the real default
// port list; the `-p` run narrows it with ANYCLAUDE_DISCOVER_PORTS=8081,1234
// so a llama-server another test runs on 8080 cannot win the pick.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startScriptedBackend } from '../lib/scripted_backend.mjs';
import { BIN, CLAUDE, missingPrereq, canConnect, explainFailure, e2eScope } from '../lib/claude_code.mjs';

const MODEL = 'qwen2.5-coder-7b-instruct';
const LMSTUDIO_V0 = {
  object: 'list',
  data: [
    {
      id: MODEL,
      object: 'model',
      type: 'llm',
      publisher: 'lmstudio-community',
      arch: 'qwen2',
      compatibility_type: 'gguf',
      quantization: 'Q4_K_M',
      state: 'loaded',
      max_context_length: 131072,
      loaded_context_length: 32768,
    },
  ],
};

let be = null;
const { children, sandbox } = e2eScope({ beforeCleanup: async () => be && (await be.close()) });
let busy = null; // why the fixed ports cannot be used here, or null

before(async () => {
  if (missingPrereq()) return;
  if (await canConnect(8081)) busy = 'port 8081 is taken by another program: the test needs nothing there';
  else if (await canConnect(1234)) busy = 'port 1234 is taken by another program: the test needs it for its LM Studio stand-in';
  if (busy) return;
  try {
    // LM Studio answers paths it does not serve with 200 and an error object
    const unknown = (p) => ({ error: `Unexpected endpoint or method. (GET ${p})` });
    const get = { '/api/v0/models': LMSTUDIO_V0 };
    for (const p of ['/props', '/api/version', '/version']) get[p] = unknown(p);
    be = await startScriptedBackend({ port: 1234, models: [MODEL], ownedBy: 'organization_owner', get });
  } catch (e) {
    busy = `cannot listen on port 1234: ${e.code ?? e.message}`;
  }
});

function skipWhy() {
  return missingPrereq() ?? busy;
}

test('doctor, no mode given: the default backend is down, LM Studio on 1234 is named with its flag', { timeout: 60_000 }, async (t) => {
  const sb = sandbox(t, 'discover-doctor', skipWhy);
  if (!sb) return;
  const r = await children.run(BIN, ['doctor', '--claude', CLAUDE], { cwd: sb.work, env: sb.env, timeoutMs: 45_000 });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, 1, out);
  assert.match(out, /^anyclaude doctor: mode mlx-lm, backend http:\/\/localhost:8081\/v1$/m, out);
  assert.match(out, /\[FAIL\] backend answers: http:\/\/localhost:8081\/v1/, out);
  assert.match(out, new RegExp(`\\[ ok \\] found LM Studio at http://localhost:1234/v1 \\(models: ${MODEL}\\)`), out);
  assert.match(out, /^ {7}use it: anyclaude --mode lmstudio$/m, out);
  assert.match(out, /or: anyclaude --mode auto/, out);
  assert.ok(
    be.requests.some((q) => q.path === '/api/v0/models'),
    'doctor asked LM Studio\'s own endpoint',
  );
});

test('anyclaude, no mode given: says what answers and the flag instead of starting claude against nothing', { timeout: 60_000 }, async (t) => {
  const sb = sandbox(t, 'discover-launch', skipWhy);
  if (!sb) return;
  const before = be.chat().length;
  const r = await children.run(BIN, ['--claude', CLAUDE, '-p', 'hi'], { cwd: sb.work, env: sb.env, timeoutMs: 45_000 });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /nothing answers at http:\/\/localhost:8081\/v1 \(mode mlx-lm; no --mode given\)/, r.stderr);
  assert.match(r.stderr, /found LM Studio at http:\/\/localhost:1234\/v1 .*: run anyclaude --mode lmstudio/, r.stderr);
  assert.match(r.stderr, /or --mode mlx-lm to start anyway with http:\/\/localhost:8081\/v1/, r.stderr);
  assert.equal(be.chat().length, before, 'no request went to the server found');
});

test('doctor with "mode": "auto" in the config file checks LM Studio and passes', { timeout: 90_000 }, async (t) => {
  const sb = sandbox(t, 'discover-auto-doctor', skipWhy);
  if (!sb) return;
  fs.mkdirSync(path.join(sb.home, '.config', 'anyclaude'), { recursive: true });
  fs.writeFileSync(path.join(sb.home, '.config', 'anyclaude', 'config.json'), JSON.stringify({ mode: 'auto' }));
  const env = { ...sb.env, ANYCLAUDE_DISCOVER_PORTS: '8081,1234' };
  const r = await children.run(BIN, ['doctor', '--claude', CLAUDE], { cwd: sb.work, env, timeoutMs: 80_000 });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, 0, out);
  assert.match(r.stderr, /mode auto: using LM Studio at http:\/\/localhost:1234\/v1 .*as with --mode lmstudio/, out);
  assert.match(out, /anyclaude doctor: mode lmstudio \(found by --mode auto\), backend http:\/\/localhost:1234\/v1/, out);
  assert.match(out, /\[ ok \] context window: 32768 tokens/, out);
  assert.match(out, /doctor: all checks passed/, out);
});

test('--mode auto runs a claude -p session through the LM Studio it found', { timeout: 150_000 }, async (t) => {
  const sb = sandbox(t, 'discover-auto', skipWhy);
  if (!sb) return;
  const before = be.chat().length;
  const env = { ...sb.env, ANYCLAUDE_DISCOVER_PORTS: '8081,1234' };
  const r = await children.run(BIN, ['--mode', 'auto', '--claude', CLAUDE, '--debug', '1', '-p', 'Say OK.'], {
    cwd: sb.work,
    env,
    timeoutMs: 120_000,
  });
  await explainFailure(
    async () => {
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /anyclaude: mode auto: using LM Studio at http:\/\/localhost:1234\/v1 \(models: qwen2\.5-coder-7b-instruct\), as with --mode lmstudio/);
      assert.match(r.stdout, /OK\./);
      const chat = be.chat().slice(before);
      assert.ok(chat.length >= 1, 'the session reached the LM Studio stand-in');
      assert.equal(chat[0].headers.authorization, 'Bearer lm-studio', "lmstudio mode's default key was sent");
      assert.match(sb.log(), /mode=lmstudio backend=http:\/\/localhost:1234\/v1/);
    },
    () => `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}\n--- log ---\n${sb.log()}\n--- backend ---\n${be.summary()}`,
  );
});
