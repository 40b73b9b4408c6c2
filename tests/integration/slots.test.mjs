// Slot placement across sessions and gateways (issue 11), against the fake
// backend in llamacpp mode with --slots 2: which id_slot each request gets.
//   - back-to-back `claude -p` sessions reuse the finished session's slot;
//   - two gateways sharing one server (one state directory: the slot
//     ledger) keep their conversations on different slots;
//   - a gateway started after one that exited takes the slot that gateway
//     left its prefix in;
//   - mlx-lm (no slots): a request waits for the warm start instead of a
//     second cold prefill beside it.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBackend, turn } from '../lib/openai_backend.mjs';
import { startGateway, rawPost, MODEL, TOOLS } from '../lib/gateway.mjs';

const dirs = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
const stateDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-slots-'));
  dirs.push(d);
  return d;
};

const answer = turn({ text: ['ok'], usage: { prompt_tokens: 10, completion_tokens: 1 } });
const billing = (entry) => ({ type: 'text', text: `x-anthropic-billing-header: cc_version=2.1.328.abc; cc_entrypoint=${entry};` });
function body(system, words, entry = 'cli', more = []) {
  return JSON.stringify({
    model: MODEL,
    max_tokens: 64,
    stream: false,
    system: [billing(entry), { type: 'text', text: system }],
    messages: [{ role: 'user', content: words }, ...more],
  });
}
const send = (gw, session, b) => rawPost(gw, '/v1/messages', b, { 'x-claude-code-session-id': session });
const slotOf = (be) => be.requests.filter((r) => r.path.endsWith('/chat/completions')).at(-1).body.id_slot;

async function llamacpp(be, state) {
  return startGateway({ backend: be.url, mode: 'llamacpp', args: ['--slots', '2', '--warm-start', 'off'], env: { XDG_STATE_HOME: state } });
}

test('back-to-back -p sessions: the next session takes the finished one\'s slot at once', async () => {
  const be = await startBackend(answer);
  const gw = await llamacpp(be, stateDir());
  try {
    const followUp = [{ role: 'assistant', content: 'ok' }, { role: 'user', content: 'more' }];
    assert.equal((await send(gw, 's1', body('You are a Claude agent.', 'q1', 'sdk-cli'))).status, 200);
    const s1 = slotOf(be);
    assert.equal((await send(gw, 's1', body('You are a Claude agent.', 'q1', 'sdk-cli', followUp))).status, 200);
    assert.equal(slotOf(be), s1);
    assert.equal((await send(gw, 's2', body('You are a Claude agent.', 'q2', 'sdk-cli'))).status, 200);
    assert.equal(slotOf(be), s1, 'a new -p session right after the last one ended: same slot');
    // interactive (cc_entrypoint=cli): a session that answered a moment ago is still live
    assert.equal((await send(gw, 'i1', body('You are Claude Code.', 'q1'))).status, 200);
    const i1 = slotOf(be);
    assert.equal((await send(gw, 'i1', body('You are Claude Code.', 'q1', 'cli', followUp))).status, 200);
    assert.equal((await send(gw, 'i2', body('You are Claude Code.', 'q2'))).status, 200);
    assert.notEqual(slotOf(be), i1);
  } finally {
    await gw.stop();
    await be.close();
  }
});

test('two gateways sharing a server keep their conversations apart; a later gateway takes what an exited one left', async () => {
  const be = await startBackend(answer);
  const state = stateDir();
  const g1 = await llamacpp(be, state);
  const g2 = await llamacpp(be, state);
  try {
    const sys = 'You are Claude Code, interactive.';
    assert.equal((await send(g1, 'a', body(sys, 'A1'))).status, 200);
    const a = slotOf(be);
    assert.equal((await send(g2, 'b', body(sys, 'B1'))).status, 200);
    const b = slotOf(be);
    assert.notEqual(b, a, 'the second gateway does not pin onto the first one\'s slot');
    for (let i = 2; i <= 3; i++) {
      assert.equal((await send(g1, 'a', body(sys, 'A1', 'cli', [{ role: 'assistant', content: 'ok' }, { role: 'user', content: `A${i}` }]))).status, 200);
      assert.equal(slotOf(be), a);
      assert.equal((await send(g2, 'b', body(sys, 'B1', 'cli', [{ role: 'assistant', content: 'ok' }, { role: 'user', content: `B${i}` }]))).status, 200);
      assert.equal(slotOf(be), b);
    }
    const ledger = fs.readdirSync(path.join(state, 'anyclaude')).filter((f) => f.startsWith('slots-'));
    assert.equal(ledger.length, 1, 'one ledger for the one server');
    // g2 exits; a new gateway's session of the same kind takes the slot it left
    await g2.stop();
    const g3 = await llamacpp(be, state);
    try {
      assert.equal((await send(g3, 'c', body(sys, 'C1'))).status, 200);
      assert.equal(slotOf(be), b, 'the prefix left by the exited gateway, not the live one\'s slot');
    } finally {
      await g3.stop();
    }
  } finally {
    await g1.stop();
    await g2.stop();
    await be.close();
  }
});

test('mlx-lm: a request that arrives during the warm start waits for it', async () => {
  const arrivals = [];
  const be = await startBackend((rec) => {
    arrivals.push({ warm: rec.body?.max_tokens === 1, t: Date.now() });
    return turn({ text: ['ok'], usage: { prompt_tokens: 10, completion_tokens: 1 } }, { delayMs: rec.body?.max_tokens === 1 ? 1500 : 0 })(rec);
  });
  const state = stateDir();
  const req = JSON.stringify({ model: MODEL, max_tokens: 64, stream: false, tools: TOOLS, system: 'You are terse.', messages: [{ role: 'user', content: 'hi' }] });
  let gw = await startGateway({ backend: be.url, mode: 'mlx-lm', env: { XDG_STATE_HOME: state } });
  try {
    assert.equal((await rawPost(gw, '/v1/messages', req)).status, 200); /* saves the warm prefix */
  } finally {
    await gw.stop();
  }
  arrivals.length = 0;
  gw = await startGateway({ backend: be.url, mode: 'mlx-lm', args: ['--debug', '1'], env: { XDG_STATE_HOME: state } });
  try {
    const t0 = Date.now();
    const deadline = t0 + 5000;
    while (!arrivals.some((a) => a.warm) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(arrivals.some((a) => a.warm), 'the warm start reached the backend');
    const r = await rawPost(gw, '/v1/messages', req);
    assert.equal(r.status, 200);
    const warm = arrivals.find((a) => a.warm);
    const real = arrivals.find((a) => !a.warm);
    assert.ok(real.t - warm.t >= 1400, `the request reached the backend ${real.t - warm.t} ms after the warm start began (its answer takes 1500 ms)`);
    assert.match(gw.stderr, /holding a request until the warm start/);
  } finally {
    await gw.stop();
    await be.close();
  }
});
