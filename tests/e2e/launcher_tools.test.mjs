// e2e 1: `anyclaude --mode openai --backend ... -p ...` runs the real Claude
// Code against a scripted OpenAI backend: Write hello.txt, Bash cat it, DONE.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BIN, CLAUDE, HELLO_PROMPT, helloScenario, report, explainFailure, clientRequestsFromTraces, e2eScope, checkHelloRun } from '../lib/claude_code.mjs';

const { children, cleanups, sandbox, backend } = e2eScope();

test('anyclaude launcher: Write + Bash through an OpenAI backend', { timeout: 240_000 }, async (t) => {
  const sb = sandbox(t, 'launcher');
  if (!sb) return;
  const be = await backend({ scenario: helloScenario(sb.work) });

  const args = ['--mode', 'openai', '--backend', be.url, '--claude', CLAUDE, '--debug', '3'];
  args.push('-p', HELLO_PROMPT, '--allowedTools', 'Write,Bash', '--output-format', 'json');
  const r = await children.run(BIN, args, { cwd: sb.work, env: sb.env, timeoutMs: 180_000 });

  await explainFailure(
    async () => {
      checkHelloRun(r, be, sb.work, 'anyclaude');
    },
    () => report(be, { stdout: r.stdout, stderr: r.stderr, 'anyclaude.log': sb.log() }),
  );

  // For the notes: timing and what Claude Code sent (from the --debug 3 traces).
  t.diagnostic(`took ${r.ms} ms; stderr: ${JSON.stringify(r.stderr.trim())}`);
  for (const c of clientRequestsFromTraces(sb.state)) t.diagnostic(`claude sent ${JSON.stringify(c)}`);
  for (const line of be.summary().split('\n')) t.diagnostic(`backend got ${line}`);
});
