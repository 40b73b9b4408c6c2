// anyclaude doctor against a live scripted backend and the real claude: every
// check passes, exit 0; and against a backend that is down: a FAIL verdict
// with the fix to try, exit 1.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BIN, CLAUDE, makeSandbox, missingPrereq, freePort, e2eScope } from '../lib/claude_code.mjs';

const { children, cleanups, sandbox, backend } = e2eScope();

test('doctor: claude, backend, models and a round trip all pass', { timeout: 120_000 }, async (t) => {
  const sb = sandbox(t, 'doctor');
  if (!sb) return;
  const be = await backend({ models: ['qwen-local'] });
  const r = await children.run(BIN, ['doctor', '--mode', 'openai', '--backend', be.url, '--claude', CLAUDE], {
    cwd: sb.work,
    env: sb.env,
    timeoutMs: 90_000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, 0, out);
  assert.match(out, /\[ ok \] claude: .*claude \(2\.1\.\d+/, out);
  assert.match(out, /\[ ok \] backend answers: http:\/\/127\.0\.0\.1:\d+\/v1 \(HTTP 200\)/, out);
  assert.match(out, /\[ ok \] models served: qwen-local/, out);
  assert.match(out, /\[ ok \] round trip through the gateway: an answer in [\d.]+ s/, out);
  assert.match(out, /doctor: all checks passed/, out);
  assert.ok(be.requests.some((q) => q.path.endsWith('/chat/completions')), 'the round trip reached the backend');
});

test('doctor: a backend that is down fails with the fix to try', { timeout: 60_000 }, async (t) => {
  const sb = sandbox(t, 'doctor-down');
  if (!sb) return;
  const port = await freePort();
  const r = await children.run(BIN, ['doctor', '--mode', 'mlx-lm', '--backend', `http://127.0.0.1:${port}/v1`, '--claude', CLAUDE], {
    cwd: sb.work,
    env: sb.env,
    timeoutMs: 30_000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, 1, out);
  assert.match(out, /\[ ok \] claude/, out);
  assert.match(out, /\[FAIL\] backend answers: .*Couldn't connect/, out);
  assert.match(out, /fix: start the model server: mlx_lm\.server --model <model> --port 8081/, out);
  assert.doesNotMatch(out, /round trip/, 'no round trip is attempted without a backend');
});

// llamacpp mode: doctor reads /props and says which llama-server flags slot
// placement needs: --parallel 2 or more and the /slots endpoint on.
test('doctor: llama.cpp slots and the /slots endpoint', { timeout: 60_000 }, async (t) => {
  const missing = missingPrereq();
  if (missing) return t.skip(missing);
  const http = await import('node:http');
  const sb = makeSandbox('doctor-slots');
  cleanups.push(() => sb.cleanup());
  for (const [slots, endpoint] of [[1, false], [4, true], [1e300, true]]) {
    const srv = http.createServer((req, res) => {
      const send = (o) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(o));
      if (req.url === '/v1/models') return send({ data: [{ id: 'm' }] });
      if (req.url === '/props') return send({ total_slots: slots, endpoint_slots: endpoint, default_generation_settings: { n_ctx: 65536 } });
      res.writeHead(404).end();
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => srv.close(r)));
    const url = `http://127.0.0.1:${srv.address().port}/v1`;
    const r = await children.run(BIN, ['doctor', '--mode', 'llamacpp', '--backend', url, '--claude', CLAUDE], { cwd: sb.work, env: sb.env, timeoutMs: 50_000 });
    const out = `${r.stdout}\n${r.stderr}`;
    if (slots === 1) {
      assert.match(out, /\[FAIL\] llama\.cpp slots: 1 \(--parallel\)/, out);
      assert.match(out, /fix: start llama-server with --parallel 2 or more/, out);
      assert.match(out, /\[FAIL\] llama\.cpp \/slots endpoint: off/, out);
      assert.equal(r.code, 1, out);
    } else if (slots > 1e6) {
      // not a count: said as unknown, never cast into a garbage number
      assert.match(out, /\[ -- \] llama\.cpp slots: .* did not say/, out);
      assert.doesNotMatch(out, /-2147483648|\(--parallel\)/, out);
      continue;
    } else {
      assert.match(out, /\[ ok \] llama\.cpp slots: 4 \(--parallel\)/, out);
      assert.match(out, /\[ ok \] llama\.cpp \/slots endpoint: on/, out);
    }
    assert.match(out, /--kv-unified off/, out);
  }
});
