// e2e: what checkpoints and slot ownership rely on (docs/cache.md): Claude
// Code keeps its session id across `--continue` and `--resume`, so the
// conversation key the gateway pins a slot by (session id, agent id, system
// prompt and tools) is the same when a conversation comes back after a
// restart. Three `anyclaude --mode claude -p` runs in one project (a
// question, `--continue`, `--resume ID`) against a scripted Anthropic
// upstream (claude mode passes Claude Code's headers on, so the upstream
// sees what the gateway saw): every main-loop request carries one
// X-Claude-Code-Session-Id,
// and the resumed ones carry the earlier turns. Runs with the newest Claude
// Code too (claude-e2e-newest), where a change of this would show first.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAnthropicBackend, sseBytes, textStreamEvents } from '../lib/anthropic_backend.mjs';
import { BIN, CLAUDE, e2eScope } from '../lib/claude_code.mjs';

const { children, cleanups, sandbox } = e2eScope();

test('--continue and --resume keep the session id: a conversation comes back under the same key', async (t) => {
  const sb = sandbox(t, 'session-id');
  if (!sb) return;
  const be = await startAnthropicBackend((rec, i) =>
    sseBytes(textStreamEvents(['ok'], { id: `msg_${i}`, model: rec.json?.model ?? 'm', usage: { input_tokens: 10, output_tokens: 1 }, outputTokens: 1 })),
  );
  cleanups.push(() => be.close());
  const run = async (args) => {
    const env = { ...sb.env, ANTHROPIC_API_KEY: 'sk-ant-test-session-id' };
    const r = await children.run(BIN, ['--mode', 'claude', '--backend', be.url, '--claude', CLAUDE, ...args], { cwd: sb.work, env, timeoutMs: 90_000 });
    assert.equal(r.code, 0, `anyclaude ${args.join(' ')}: exit ${r.code}\n${r.stderr}\n${sb.log()}`);
  };
  await run(['-p', 'first question']);
  await run(['-p', '--continue', 'second question']);
  const main = () => be.requests.filter((r) => /question/.test(r.text ?? ''));
  const sid = main()[0]?.headers['x-claude-code-session-id'];
  assert.match(sid ?? '', /^[0-9a-f-]{36}$/, 'Claude Code sends its session id');
  await run(['-p', '--resume', sid, 'third question']);
  const reqs = main();
  assert.ok(reqs.length >= 3, `three main-loop requests: ${reqs.length}`);
  for (const r of reqs) assert.equal(r.headers['x-claude-code-session-id'], sid, `every request of the conversation: ${r.text.slice(0, 200)}`);
  const last = reqs.at(-1).json;
  const said = JSON.stringify(last.messages);
  assert.ok(said.includes('first question') && said.includes('second question') && said.includes('third question'), 'the resumed request carries the earlier turns');
});
