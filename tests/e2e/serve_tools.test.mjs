// e2e 2: the same Write + Bash task with `anyclaude serve` and Claude Code
// started separately (ANTHROPIC_BASE_URL, ANTHROPIC_AUTH_TOKEN=x). A
// recording proxy between them notes what Claude Code sent.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLAUDE, HELLO_PROMPT, helloScenario, report, explainFailure, startRecordingProxy, startServe, e2eScope, checkHelloRun } from '../lib/claude_code.mjs';

const { children, cleanups, sandbox, backend } = e2eScope();

test('anyclaude serve + separately started claude: Write + Bash', { timeout: 240_000 }, async (t) => {
  const sb = sandbox(t, 'serve');
  if (!sb) return;
  const be = await backend({ scenario: helloScenario(sb.work) });
  const gw = await startServe(children, ['--mode', 'openai', '--backend', be.url], sb.env);
  const proxy = await startRecordingProxy(gw.port);
  cleanups.push(() => proxy.close());

  const t0 = Date.now();
  const env = { ...sb.env, ANTHROPIC_BASE_URL: `http://127.0.0.1:${proxy.port}`, ANTHROPIC_AUTH_TOKEN: 'x' };
  const args = ['-p', HELLO_PROMPT, '--allowedTools', 'Write,Bash', '--output-format', 'json'];
  const r = await children.run(CLAUDE, args, { cwd: sb.work, env, timeoutMs: 180_000 });

  await explainFailure(
    async () => {
      checkHelloRun(r, be, sb.work, 'claude');
      // Every Anthropic request Claude Code made got a 2xx from the gateway.
      const bad = proxy.seen.filter((s) => !(s.status >= 200 && s.status < 300));
      assert.deepEqual(bad.map((s) => `${s.method} ${s.url} ${s.status}`), [], 'gateway refused some requests');
      assert.equal(gw.child.exitCode, null, 'the gateway died during the run');
    },
    () =>
      report(be, {
        'claude -> gateway': proxy.summary(),
        stdout: r.stdout,
        stderr: r.stderr,
        'anyclaude serve output': gw.out(),
      }),
  );

  // The gateway stops on SIGTERM.
  const exited = new Promise((resolve) => gw.child.once('exit', (code, signal) => resolve({ code, signal })));
  gw.child.kill('SIGTERM');
  let timer;
  const ex = await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), 10_000)))]);
  clearTimeout(timer);
  assert.notEqual(ex, 'timeout', 'anyclaude serve did not exit within 10 s of SIGTERM');

  t.diagnostic(`claude took ${r.ms} ms (whole test ${Date.now() - t0} ms); stderr: ${JSON.stringify(r.stderr.trim())}`);
  for (const line of proxy.summary().split('\n')) t.diagnostic(`claude sent ${line}`);
  for (const line of be.summary().split('\n')) t.diagnostic(`backend got ${line}`);
});
