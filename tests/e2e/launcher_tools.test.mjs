// e2e 1: `anyclaude --mode openai --backend ... -p ...` runs the real Claude
// Code against a scripted OpenAI backend: Write hello.txt, Bash cat it, DONE.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startScriptedBackend } from '../lib/scripted_backend.mjs';
import {
  BIN,
  CLAUDE,
  Children,
  HELLO,
  HELLO_PROMPT,
  DONE_TEXT,
  makeSandbox,
  missingPrereq,
  helloScenario,
  report,
  explainFailure,
  clientRequestsFromTraces,
  checkBackendConversation,
} from '../lib/claude_code.mjs';

const children = new Children();
const cleanups = [];
after(async () => {
  children.killAll();
  for (const c of cleanups.reverse()) await c();
});

test('anyclaude launcher: Write + Bash through an OpenAI backend', { timeout: 240_000 }, async (t) => {
  const missing = missingPrereq();
  if (missing) return t.skip(missing);
  const sb = makeSandbox('launcher');
  cleanups.push(() => sb.cleanup());
  const be = await startScriptedBackend({ scenario: helloScenario(sb.work) });
  cleanups.push(() => be.close());

  const args = ['--mode', 'openai', '--backend', be.url, '--claude', CLAUDE, '--debug', '3'];
  args.push('-p', HELLO_PROMPT, '--allowedTools', 'Write,Bash', '--output-format', 'json');
  const r = await children.run(BIN, args, { cwd: sb.work, env: sb.env, timeoutMs: 180_000 });

  await explainFailure(
    async () => {
      assert.equal(r.timedOut, false, 'anyclaude did not finish within 180 s');
      assert.equal(r.code, 0, `anyclaude exited ${r.code} (signal ${r.signal})`);
      const file = path.join(sb.work, 'hello.txt');
      assert.ok(fs.existsSync(file), 'hello.txt was not created');
      assert.equal(fs.readFileSync(file, 'utf8'), HELLO);
      const out = JSON.parse(r.stdout);
      assert.equal(out.is_error, false, 'result is an error');
      assert.match(out.result, /DONE/);
      assert.equal(out.result, DONE_TEXT);
      checkBackendConversation(be, sb.work);
    },
    () => report(be, { stdout: r.stdout, stderr: r.stderr, 'anyclaude.log': sb.log() }),
  );

  // For the notes: timing and what Claude Code sent (from the --debug 3 traces).
  t.diagnostic(`took ${r.ms} ms; stderr: ${JSON.stringify(r.stderr.trim())}`);
  for (const c of clientRequestsFromTraces(sb.state)) t.diagnostic(`claude sent ${JSON.stringify(c)}`);
  for (const line of be.summary().split('\n')) t.diagnostic(`backend got ${line}`);
});
