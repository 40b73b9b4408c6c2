// Discovery against a real llama-server (tests/golden/discover holds its
// recorded answers too): named by its own /props and /v1/models, with the
// exact flags; `--mode auto` then checks it and makes a round trip.
// The probe list is narrowed to the server's port (ANYCLAUDE_DISCOVER_PORTS)
// so nothing else on this machine takes part.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GATEWAY, startLlama, stopLlama } from '../lib/llama.mjs';

let llama = null;
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-real-discover-'));

before(async () => {
  llama = await startLlama();
});
after(() => {
  if (llama) stopLlama(llama.port);
  fs.rmSync(home, { recursive: true, force: true });
});

function run(args, extraEnv) {
  const env = { PATH: process.env.PATH, HOME: home, XDG_STATE_HOME: path.join(home, 'state'), ...extraEnv };
  const r = spawnSync(GATEWAY, args, { encoding: 'utf8', env, timeout: 120_000 });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}`, stderr: r.stderr };
}

test('doctor with no mode names the real llama-server and its flags', () => {
  const dead = 9; // discard: nothing listens
  const r = run(['doctor', '--claude', '/bin/true'], {
    MLX_LM_URL: `http://127.0.0.1:${dead}/v1`,
    ANYCLAUDE_DISCOVER_PORTS: String(llama.port),
  });
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, new RegExp(`\\[ ok \\] found llama\\.cpp llama-server at http://localhost:${llama.port}/v1 \\(models: .*\\.gguf\\)`), r.out);
  assert.match(r.out, new RegExp(`use it: anyclaude --mode llamacpp --backend http://localhost:${llama.port}/v1$`, 'm'), r.out);
});

test('--mode auto takes the real llama-server: doctor passes with a round trip', () => {
  const r = run(['doctor', '--mode', 'auto', '--claude', '/bin/true'], { ANYCLAUDE_DISCOVER_PORTS: String(llama.port) });
  assert.match(r.stderr, /mode auto: using llama\.cpp llama-server at .* as with --mode llamacpp --backend/, r.out);
  assert.match(r.out, new RegExp(`anyclaude doctor: mode llamacpp \\(found by --mode auto\\), backend http://localhost:${llama.port}/v1`), r.out);
  assert.match(r.out, /\[ ok \] context window: \d+ tokens/, r.out);
  assert.match(r.out, /\[ ok \] round trip through the gateway/, r.out);
});

test('doctor in openai mode before the real llama-server checks its slots too (the gateway places conversations there)', () => {
  const r = run(['doctor', '--mode', 'openai', '--backend', `http://127.0.0.1:${llama.port}/v1`, '--model', 'm', '--claude', '/bin/true']);
  assert.match(r.out, /\[ ok \] llama\.cpp slots: \d+ \(--parallel\)/, r.out);
  assert.match(r.out, /\[ ok \] round trip through the gateway/, r.out);
});

test('doctor in anthropic mode before the real llama-server says it cannot place two sessions, and which mode can', () => {
  const r = run(['doctor', '--mode', 'anthropic', '--backend', `http://127.0.0.1:${llama.port}`, '--claude', '/bin/true']);
  assert.match(r.out, /\[ -- \] llama\.cpp slots: http:\/\/127\.0\.0\.1:\d+ is a llama-server with \d+ slots, and anthropic mode cannot choose one/, r.out);
  assert.match(r.out, /use --mode llamacpp \(or openai\) with the same server/, r.out);
  assert.match(r.out, /\[ ok \] round trip through the gateway/, r.out);
});
