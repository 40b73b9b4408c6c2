// Checkpoints (issue 11): a conversation outlives a restart of llama-server.
//   node --test --test-concurrency=1 tests/real/   (from the repo root; needs build/anyclaude)
//
// A real llama-server (small random-weight model, 2 slots, --slot-save-path)
// behind `anyclaude serve`, in each mode that can front it: llamacpp (the
// gateway's own slots, saved by kind), anthropic and openai (llama-server
// places requests itself; the gateway saves its busiest slots by id and
// restores each into the same slot). Two turns of a conversation whose
// first user message is long (so the conversation is far longer than the
// system prompt and tools the warm start keeps); the gateway stops (it saves
// the conversation's slot: "checkpoint: saved slot"), llama-server restarts
// on the same port (its KV cache is gone), the gateway starts again and
// restores the slot from disk ("warm start: restored slot"), and the next
// turn prefills only its new words. The control: the same restart with the
// checkpoint index removed, where the warm start can only prefill the system
// prompt and tools, and the next turn prefills the long message again. Last,
// a stop while llama-server is down ends at once.
// Tokens prefilled are read from the answer's usage (input_tokens: tokens
// prefilled; cache_read_input_tokens: reused).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MODEL, TOOLS } from '../lib/gateway.mjs';
import { freePort, sleep, startGateway, startLlama, stopLlama } from '../lib/llama.mjs';

const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-real-checkpoint-'));
const slots = path.join(runDir, 'slots');
fs.mkdirSync(slots);
const LLAMA_ENV = { ...process.env, LLAMA_RUN_DIR: runDir, LLAMA_PARALLEL: '2' };
const ENV = { ...process.env, XDG_CONFIG_HOME: path.join(runDir, 'config') };
let port = 0;
let gw = null;

process.on('exit', () => {
  if (gw && gw.child.exitCode === null) gw.child.kill('SIGKILL');
  if (port) stopLlama(port, LLAMA_ENV);
  fs.rmSync(runDir, { recursive: true, force: true });
});
after(async () => {
  if (gw) await gw.stop();
});

const SYSTEM = 'You are a careful assistant for a software project. '.repeat(40);
const LONG = Array.from({ length: 300 }, (_, i) => `line ${i}: the quick brown fox ${i * 7} jumps over the lazy dog`).join('\n');

async function turn(messages) {
  const res = await fetch(`${gw.base}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'x' },
    body: JSON.stringify({ model: MODEL, max_tokens: 8, system: SYSTEM, tools: TOOLS, messages }),
  });
  const j = await res.json();
  assert.equal(res.status, 200, JSON.stringify(j));
  messages.push({ role: 'assistant', content: j.content.length ? j.content : [{ type: 'text', text: '.' }] });
  return j.usage;
}

async function waitLog(re, ms = 30000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const m = re.exec(gw.log());
    if (m) return m;
    await sleep(100);
  }
  assert.fail(`no ${re} in the gateway's log:\n${gw.log()}`);
}

// stop the gateway (it saves), restart llama-server on its port, start the gateway again
async function restartBoth(mode, env, beforeStart = () => {}) {
  await gw.stop();
  const log = gw.log();
  stopLlama(port, LLAMA_ENV);
  beforeStart();
  await startLlama(['--slot-save-path', slots], LLAMA_ENV, port);
  gw = await startGateway(gatewayArgs(mode), env);
  return log;
}

// A llama-server of its own for the test that calls it (the one before,
// if any, stopped): port is its port.
async function freshLlama(args = ['--slot-save-path', slots], env = LLAMA_ENV) {
  if (port) stopLlama(port, LLAMA_ENV);
  port = await freePort();
  await startLlama(args, env, port);
}

// llamacpp: the gateway's own slots, by kind; anthropic and openai: llama-server
// places requests, the checkpoints follow its slots by id
const gatewayArgs = (mode) => ['--mode', mode, '--backend', `http://127.0.0.1:${port}${mode === 'openai' ? '/v1' : ''}`, '--debug', '1', ...(mode === 'openai' ? ['--model', 'm'] : [])];

for (const mode of ['llamacpp', 'anthropic', 'openai'])
test(`${mode}: a conversation is saved when the gateway stops and restored after llama-server restarts`, { timeout: 240000 }, async () => {
  const state = path.join(runDir, `state-${mode}`);
  const env = { ...ENV, XDG_STATE_HOME: state };
  await freshLlama();
  gw = await startGateway(gatewayArgs(mode), env);

  const conv = [{ role: 'user', content: LONG }];
  const u1 = await turn(conv);
  assert.ok(u1.input_tokens > 2000, `the first turn prefills its whole prompt: ${JSON.stringify(u1)}`);
  conv.push({ role: 'user', content: 'and then?' });
  const u2 = await turn(conv);
  assert.ok(u2.input_tokens < 64, `a follow-up reuses the conversation: ${JSON.stringify(u2)}`);

  const stopLog = await restartBoth(mode, env);
  const saved = /checkpoint: saved slot (\d+) of \S+ \((\d+) tokens\)/.exec(stopLog);
  assert.ok(saved, `the gateway saves the conversation's slot when it stops:\n${stopLog}`);
  assert.ok(Number(saved[2]) > u1.input_tokens, `the whole conversation is saved (${saved[2]} tokens)`);
  assert.ok(fs.readdirSync(slots).some((f) => /^anyclaude-[0-9a-f]{16}-c\d\.bin$/.test(f)), 'the file is in --slot-save-path');
  const restored = await waitLog(/warm start: restored slot \d+ of \S+ from the checkpoint saved at the last stop \((\d+) tokens/);
  assert.equal(restored[1], saved[2], 'what was saved comes back');

  conv.push({ role: 'user', content: 'after the restart?' });
  const u3 = await turn(conv);
  assert.ok(u3.cache_read_input_tokens > u1.input_tokens, `the restored conversation is reused: ${JSON.stringify(u3)}`);
  assert.ok(u3.input_tokens < 64, `after the restart only the new words are prefilled: ${JSON.stringify(u3)}`);

  // control: without the index the warm start can only prefill the system
  // prompt and tools, and the long message is prefilled again
  await restartBoth(mode, env, () => {
    for (const f of fs.readdirSync(state, { recursive: true })) if (/checkpoints-[0-9a-f]+\.txt$/.test(f)) fs.rmSync(path.join(state, f));
  });
  await waitLog(/warm start: prefilled a saved system prompt and tools/);
  assert.doesNotMatch(gw.log(), /warm start: restored slot/);
  conv.push({ role: 'user', content: 'and without the checkpoint?' });
  const u4 = await turn(conv);
  assert.ok(u4.input_tokens > 2000, `without the checkpoint the conversation is prefilled again: ${JSON.stringify(u4)}`);

  // stopping while llama-server is down: the save fails at once, and the
  // gateway exits by itself (not killed after stop()'s 5 s grace)
  stopLlama(port, LLAMA_ENV);
  await gw.stop();
  // (llamacpp knows its slots and tries; a mirror finds none to save: /slots is down)
  if (mode === 'llamacpp') assert.match(gw.log(), /checkpoint: saving slot \d+ of \S+ failed/);
  assert.equal(gw.child.signalCode, null, gw.log());
  assert.equal(gw.child.exitCode, 0, gw.log());
});

// Two terminals: two gateways, one conversation each, of one kind (same
// system prompt and tools: both interactive in one project). Both stop, both
// are saved (not only the newest of the kind); llama-server restarts; both
// start again, and each conversation's next turn finds its own words cached.
// In `openai` mode the gateway finds the llama-server (/props) and places
// conversations itself, as in llamacpp mode (its /v1/chat/completions takes
// id_slot). `anthropic` mode cannot: llama-server's /v1/messages drops
// id_slot, and llama-server puts two sessions of one kind in one slot.
for (const mode of ['llamacpp', 'openai'])
test(`${mode}: two terminals, two conversations of one kind: each is saved and comes back to its own terminal`, { timeout: 240000 }, async (t) => {
  const state = path.join(runDir, `state-two-${mode}`);
  const env = { ...ENV, XDG_STATE_HOME: state };
  await freshLlama();
  const start = () => startGateway(gatewayArgs(mode), env);
  let gws = [await start(), await start()];
  const convs = ['A', 'B'].map((w) => ({
    sid: `00000000-0000-4000-8000-00000000000${w === 'A' ? 1 : 2}`,
    messages: [{ role: 'user', content: `project ${w}\n${LONG.replaceAll('fox', `fox-${w}`)}` }],
  }));
  const say = async (i, text) => {
    if (text) convs[i].messages.push({ role: 'user', content: text });
    return turnOn(gws[i], convs[i]);
  };
  try {
    for (const i of [0, 1]) assert.ok((await say(i)).input_tokens > 2000);
    for (const i of [0, 1]) assert.ok((await say(i, 'and then?')).input_tokens < 64);
    await gws[0].stop();
    await gws[1].stop();
    const logs = gws.map((g) => g.log());
    for (const l of logs) assert.match(l, /checkpoint: saved slot \d+ of \S+ \(\d+ tokens\)/, l);
    stopLlama(port, LLAMA_ENV);
    await startLlama(['--slot-save-path', slots], LLAMA_ENV, port);
    gws = [await start(), await start()];
    await sleep(3000); // the warm starts
    const u = [];
    for (const i of [0, 1]) u.push(await say(i, 'after the restart?'));
    t.diagnostic(`after the restart of llama-server: A prefilled ${u[0].input_tokens} (cached ${u[0].cache_read_input_tokens}), B ${u[1].input_tokens} (cached ${u[1].cache_read_input_tokens})`);
    const detail = `${JSON.stringify(u)}\nA:\n${gws[0].log()}\nB:\n${gws[1].log()}`;
    for (const i of [0, 1]) assert.ok(u[i].input_tokens < 64, `conversation ${i ? 'B' : 'A'}: only its new words: ${detail}`);
    for (const g of gws) assert.match(g.log(), /slot=\d\(took same-prefix slot\) warm-start-hit/, g.log());

    // both gateways restart, llama-server keeps running: the slot ledger says
    // whose each prefix is, and each comes back to its own, in either order
    for (const order of [[1, 0], [0, 1]]) {
      for (const g of gws) await g.stop();
      gws = [await start(), await start()];
      const v = [];
      for (const i of order) v[i] = await say(i, `gateways restarted, order ${order}`);
      t.diagnostic(`gateways restarted (order ${order}): A prefilled ${v[0].input_tokens}, B ${v[1].input_tokens}`);
      for (const i of [0, 1]) assert.ok(v[i].input_tokens < 64, `without a llama-server restart, conversation ${i ? 'B' : 'A'} (order ${order}): ${JSON.stringify(v)}\n${gws[i].log()}`);
    }
  } finally {
    for (const g of gws) await g.stop();
  }
});

async function turnOn(g, conv) {
  const res = await fetch(`${g.base}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'x', 'X-Claude-Code-Session-Id': conv.sid },
    body: JSON.stringify({ model: MODEL, max_tokens: 8, system: SYSTEM, tools: TOOLS, messages: conv.messages }),
  });
  const j = await res.json();
  assert.equal(res.status, 200, JSON.stringify(j));
  conv.messages.push({ role: 'assistant', content: j.content.length ? j.content : [{ type: 'text', text: '.' }] });
  return j.usage;
}

// A session that ran subagents, 4 slots: at stop the main conversation is
// saved, and of the subagents' conversations (one kind, each its own agent
// id) only the newest: a subagent's conversation never comes back, its kind
// does. The disk and the exit wait stay what one session needs.
test('llamacpp: at stop, the main conversation and one subagent conversation per kind are saved, not every subagent', { timeout: 240000 }, async () => {
  const env = { ...ENV, XDG_STATE_HOME: path.join(runDir, 'state-agents') };
  const llamaEnv = { ...LLAMA_ENV, LLAMA_PARALLEL: '4' };
  await freshLlama(['--slot-save-path', slots], llamaEnv);
  gw = await startGateway(gatewayArgs('llamacpp'), env);
  const sid = '00000000-0000-4000-8000-000000000009';
  const post = async (system, messages, agent) => {
    const headers = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'x', 'X-Claude-Code-Session-Id': sid };
    if (agent) headers['x-claude-code-agent-id'] = agent;
    const res = await fetch(`${gw.base}/v1/messages`, { method: 'POST', headers, body: JSON.stringify({ model: MODEL, max_tokens: 4, system, tools: TOOLS, messages }) });
    assert.equal(res.status, 200, await res.text());
  };
  await post(SYSTEM, [{ role: 'user', content: LONG }]);
  const SUB = 'You are a subagent: search the code and report. '.repeat(30);
  // two turns each, within seconds: live conversations, each keeps a slot
  for (const a of ['agent-1', 'agent-2', 'agent-3']) {
    const m = [{ role: 'user', content: `${a}: find the config loader` }];
    await post(SUB, m, a);
    await post(SUB, [...m, { role: 'assistant', content: 'looking' }, { role: 'user', content: 'go on' }], a);
  }
  const slotsUsed = new Set([...gw.log().matchAll(/ slot=(\d+)/g)].map((x) => x[1]));
  assert.equal(slotsUsed.size, 4, `each conversation in its own slot:\n${gw.log()}`);
  await gw.stop();
  const saved = gw.log().match(/checkpoint: saved slot \d+ of \S+ \(\d+ tokens\)/g) ?? [];
  assert.equal(saved.length, 2, `the main conversation and the newest subagent's:\n${gw.log()}`);
  gw = null;
  stopLlama(port, llamaEnv);
  port = 0;
});

// `--slots 0` (replicas behind a load balancer, docs/scaling.md): openai mode
// leaves placement to llama-server even when it finds one, and keeps the
// slot-id checkpoints instead.
test('openai --slots 0: llama-server places requests itself', { timeout: 120000 }, async () => {
  const env = { ...ENV, XDG_STATE_HOME: path.join(runDir, 'state-slots0') };
  await freshLlama();
  gw = await startGateway([...gatewayArgs('openai'), '--slots', '0'], env);
  await turn([{ role: 'user', content: 'hello' }]);
  await gw.stop();
  assert.doesNotMatch(gw.log(), /each conversation keeps its own/, gw.log());
  assert.doesNotMatch(gw.log(), / slot=\d/, gw.log());
  assert.match(gw.log(), /checkpoint: saved slot \d+ of \S+/, 'the slot-id checkpoints still work');
  gw = null;
});

// Slot placement in openai mode does not depend on warm start: with
// --warm-start off the gateway still asks /props and pins conversations.
test('openai --warm-start off: conversations are still placed in slots', { timeout: 120000 }, async () => {
  const env = { ...ENV, XDG_STATE_HOME: path.join(runDir, 'state-nowarm') };
  await freshLlama([]);
  gw = await startGateway([...gatewayArgs('openai'), '--warm-start', 'off'], env);
  await turn([{ role: 'user', content: 'hello' }]);
  await gw.stop();
  assert.match(gw.log(), /is a llama-server with 2 slots: each conversation keeps its own/, gw.log());
  assert.match(gw.log(), / slot=\d/, gw.log());
  gw = null;
});
