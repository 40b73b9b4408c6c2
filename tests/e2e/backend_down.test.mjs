// e2e 3: nothing listens on the backend port. The gateway answers 529
// overloaded_error "backend ... is not reachable"; Claude Code retries 529
// (10 times by default, ~3 minutes of backoff; CLAUDE_CODE_MAX_RETRIES=1 makes
// it one retry, ~1 s), then shows "API Error: 529 <gateway message>" and
// exits 1.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BIN, CLAUDE, explainFailure, freePort, e2eScope } from '../lib/claude_code.mjs';

const { children, sandbox } = e2eScope();

for (const format of ['text', 'json']) {
  test(`backend down: claude -p ends with the gateway's message (${format})`, { timeout: 150_000 }, async (t) => {
    const sb = sandbox(t, 'down');
    if (!sb) return;
    const port = await freePort(); // bound then released: nothing listens there
    const backend = `http://127.0.0.1:${port}/v1`;
    const env = { ...sb.env, CLAUDE_CODE_MAX_RETRIES: '1' };
    const args = ['--mode', 'openai', '--backend', backend, '--claude', CLAUDE, '--debug', '1', '-p', 'hi'];
    if (format === 'json') args.push('--output-format', 'json');
    const r = await children.run(BIN, args, { cwd: sb.work, env, timeoutMs: 120_000 });
    const both = `${r.stdout}\n${r.stderr}`;

    await explainFailure(
      async () => {
        assert.equal(r.timedOut, false, 'anyclaude -p did not end within 120 s with the backend down');
        assert.ok(r.ms < 60_000, `took ${r.ms} ms: retries were not bounded by CLAUDE_CODE_MAX_RETRIES=1`);
        let isError = r.code !== 0;
        if (format === 'json') {
          const out = JSON.parse(r.stdout);
          isError = isError || out.is_error === true;
          assert.equal(out.is_error, true, 'json result is not marked is_error');
          assert.match(out.result, /not reachable/);
        }
        assert.ok(isError, `exit ${r.code} and no error result`);
        assert.ok(both.includes(backend), `output does not name the backend URL ${backend}`);
        assert.match(both, /not reachable/);
        // The gateway logged the same error for each attempt.
        assert.match(sb.log(), /not reachable/);
      },
      () => `exit ${r.code} signal ${r.signal} after ${r.ms} ms\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}\n--- anyclaude.log ---\n${sb.log()}`,
    );
    const attempts = (sb.log().match(/not reachable/g) ?? []).length;
    t.diagnostic(`took ${r.ms} ms, exit ${r.code}, gateway saw ${attempts} attempt(s)`);
    t.diagnostic(`claude stdout: ${JSON.stringify(format === 'json' ? JSON.parse(r.stdout).result : r.stdout.trim())}`);
    t.diagnostic(`claude stderr: ${JSON.stringify(r.stderr.trim())}`);
  });
}
