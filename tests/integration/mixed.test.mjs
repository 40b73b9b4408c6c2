// One conversation, two kinds of backend: turns served by a local model
// (OpenAI-compatible, answering with reasoning and tool calls, which the
// gateway turns into thinking signed `anyclaude-sig-...`) alternate with turns
// served by the Claude API, here a scripted upstream that enforces the API's
// rules on thinking signatures (strict_claude.mjs). Through routes and through
// fallback, ten turns go by without a 400; and the same upstream refuses the
// client's unmodified bodies, so the test would notice a gateway that passed
// them on.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBackend, turn, httpError } from '../lib/openai_backend.mjs';
import { startRouted, oa, HAIKU, SONNET, twoWay } from './routes_lib.mjs';
import { TOOLS } from '../lib/gateway.mjs';
import { startStrictClaude } from '../lib/strict_claude.mjs';
import { startAnthropicBackend, sseBytes, sseEvent, apiError } from '../lib/anthropic_backend.mjs';

// What each turn asks for: who serves it, and what it should answer.
const PLAN = [
  { to: 'C', answer: 'tool' }, // user text -> Claude thinks, calls a tool
  { to: 'L', answer: 'tool' }, // tool_result -> local thinks, calls a tool
  { to: 'C', answer: 'tool' }, // tool loop whose last call was local: no signed thinking
  { to: 'C', answer: 'text' },
  { to: 'L', answer: 'tool' },
  { to: 'C', answer: 'text' },
  { to: 'C', answer: 'tool' }, // user text again: thinking on, history checked
  { to: 'C', answer: 'text' }, // Claude's own tool loop: its signed thinking leads
  { to: 'L', answer: 'text' },
  { to: 'C', answer: 'tool' },
];

function wantsOf(body) {
  const last = body.messages.at(-1);
  return JSON.stringify(last.content).includes('answer:tool') ? 'tool' : 'text';
}

// The local model: reasoning, then a tool call or text, as the last user
// message asks. With `refuseClaudeTurns`, it answers 503 to requests the plan
// gives Claude (so a fallback serves them).
function localScript(state) {
  return (rec) => {
    if (state.refuse) return httpError(503, { error: { message: 'busy' } });
    const n = ++state.local;
    const desc = { reasoning: [`local thinks (${n})`], usage: { prompt_tokens: 10, completion_tokens: 3 } };
    if (wantsOf(rec.body) === 'tool') {
      desc.tools = [{ id: `call_local_${n}`, name: 'get_weather', args: ['{"city":', `"Paris${n}"}`] }];
      desc.finish = 'tool_calls';
    } else {
      desc.text = [`from local (${n})`];
      desc.finish = 'stop';
    }
    return turn(desc)(rec);
  };
}

// Play PLAN through the gateway. route(step) prepares the request for its
// backend (model, fake state). Returns the client bodies sent for Claude turns.
async function play(gw, route, { localSig = /^anyclaude-sig-/ } = {}) {
  const client = gw.client();
  const messages = [{ role: 'user', content: `start answer:${PLAN[0].answer}` }];
  const claudeBodies = [];
  for (let i = 0; i < PLAN.length; i++) {
    const step = PLAN[i];
    if (i > 0) {
      const prev = messages.at(-1);
      const call = prev.content.find((b) => b.type === 'tool_use');
      if (call) messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: `ok answer:${step.answer}` }] });
      else messages.push({ role: 'user', content: `next answer:${step.answer}` });
    }
    const req = {
      model: SONNET,
      max_tokens: 2048,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      tools: TOOLS,
      messages: structuredClone(messages),
      ...route(step),
    };
    if (step.to === 'C') claudeBodies.push({ turn: i + 1, body: structuredClone(req) });
    let msg;
    try {
      msg = await client.messages.stream(req).finalMessage();
    } catch (e) {
      assert.fail(`turn ${i + 1} (${step.to}): ${e.status ?? ''} ${e.message}`);
    }
    const kinds = msg.content.map((b) => b.type);
    if (step.answer === 'tool') assert.ok(kinds.includes('tool_use'), `turn ${i + 1}: a tool call (${kinds})`);
    else assert.ok(kinds.includes('text'), `turn ${i + 1}: text (${kinds})`);
    const text = msg.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
    if (step.to === 'L') {
      assert.ok(kinds[0] === 'thinking' && localSig.test(msg.content[0].signature), `turn ${i + 1}: local thinking (${msg.content[0].signature})`);
      if (step.answer === 'text') assert.match(text, /from local/);
    } else if (step.answer === 'text') {
      assert.match(text, /from claude/, `turn ${i + 1} served by Claude`);
    }
    messages.push({ role: 'assistant', content: msg.content });
  }
  return { messages, claudeBodies };
}

// The upstream would have refused what the client sent: at least one
// Claude turn's unmodified body carries local thinking (Invalid signature),
// and dropping that alone still leaves a tool loop without signed thinking.
async function assertRawBodiesRefused(sc, claudeBodies) {
  const verdicts = claudeBodies.map(({ turn: t, body }) => ({ t, v: sc.check(body) }));
  const sig = verdicts.filter((x) => x.v && x.v.includes('Invalid `signature`'));
  assert.ok(sig.length >= 4, `unmodified bodies with local thinking are refused: ${JSON.stringify(verdicts)}`);
  // and over the wire, the same upstream answers 400 to one of them
  const raw = claudeBodies.find(({ turn: t }) => t === sig[0].t).body;
  const res = await fetch(`${sc.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ ...raw, stream: true }),
  });
  assert.equal(res.status, 400, 'the strict upstream refuses the client body as sent');
  assert.match(await res.text(), /Invalid `signature` in `thinking` block/);
  // signatures removed but thinking left on: turn 3 continues a local tool loop
  const t3 = structuredClone(claudeBodies.find(({ turn: t }) => t === 3).body);
  for (const m of t3.messages)
    if (Array.isArray(m.content)) m.content = m.content.filter((b) => !(b.type === 'thinking' && b.signature.startsWith('anyclaude-sig-')));
  assert.match(sc.check(t3) ?? '', /Expected `thinking` or `redacted_thinking`/, 'thinking must go off for a tool loop without signed thinking');
}

function assertForwardedClean(sc) {
  const reqs = sc.be.scripted();
  assert.equal(reqs.filter((r) => r.verdict).length, 0, `no request refused: ${reqs.map((r) => r.verdict).filter(Boolean)}`);
  for (const r of reqs) assert.ok(!r.text.includes('anyclaude-sig-'), 'no gateway signature reaches the Claude API');
  // Claude's own thinking was passed back (and verified), not stripped
  assert.ok(reqs.some((r) => r.json.messages.some((m) => Array.isArray(m.content) && m.content.some((b) => b.type === 'thinking'))), 'signed thinking kept');
  assert.ok(reqs.some((r) => r.json.thinking?.type === 'disabled'), 'thinking turned off for a local tool loop');
  assert.ok(reqs.some((r) => r.json.thinking?.type === 'enabled'), 'and left on otherwise');
}

describe('a conversation alternating local and Claude turns', () => {
  let sc;
  let local;
  const state = { local: 0, refuse: false };
  before(async () => {
    sc = await startStrictClaude();
    local = await startBackend(localScript(state));
  });
  after(async () => {
    await sc?.close();
    await local?.close();
  });

  test('through routes: ten turns, no 400', async () => {
    const gw = await startRouted(twoWay({ local: oa(local.url, 'qwen-local'), claude: { mode: 'claude', url: sc.url } }, 'background', 'local', 'claude'));
    try {
      sc.be.reset();
      // Haiku requests are the "background" class: the local model serves them
      const { claudeBodies } = await play(gw, (step) => ({ model: step.to === 'L' ? HAIKU : SONNET }));
      assert.equal(sc.be.scripted().length, PLAN.filter((s) => s.to === 'C').length);
      assertForwardedClean(sc);
      await assertRawBodiesRefused(sc, claudeBodies);
    } finally {
      await gw.stopAll();
    }
  });

  test('through fallback: ten turns, no 400', async () => {
    const gw = await startRouted({
      backends: { local: oa(local.url, 'qwen-local'), claude: { mode: 'claude', url: sc.url } },
      routes: [{ when: 'default', to: 'local', fallback: ['claude'] }],
    });
    try {
      sc.be.reset();
      const { claudeBodies } = await play(gw, (step) => {
        state.refuse = step.to === 'C';
        return {};
      });
      assert.equal(sc.be.scripted().length, PLAN.filter((s) => s.to === 'C').length);
      assertForwardedClean(sc);
      await assertRawBodiesRefused(sc, claudeBodies);
    } finally {
      state.refuse = false;
      await gw.stopAll();
    }
  });
});

// A local server that speaks /v1/messages itself (anthropic mode): it thinks
// with an empty signature, as local servers do, and must never be sent the
// API's signatures or redacted thinking.
function localAnthropicScript(state) {
  return (rec) => {
    if (state.refuse) return apiError(529, 'overloaded_error', 'busy');
    const n = ++state.local;
    const body = rec.json;
    const tool = wantsOf(body) === 'tool';
    const id = `msg_local${n}`;
    const ev = [
      sseEvent('message_start', { type: 'message_start', message: { id, type: 'message', role: 'assistant', model: body.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 5, output_tokens: 1 } } }),
      sseEvent('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
      sseEvent('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: `local thinks (${n})` } }),
      sseEvent('content_block_stop', { type: 'content_block_stop', index: 0 }),
      sseEvent('content_block_start', {
        type: 'content_block_start',
        index: 1,
        content_block: tool ? { type: 'tool_use', id: `toolu_local${n}`, name: 'get_weather', input: {} } : { type: 'text', text: '' },
      }),
      sseEvent('content_block_delta', {
        type: 'content_block_delta',
        index: 1,
        delta: tool ? { type: 'input_json_delta', partial_json: `{"city":"Paris${n}"}` } : { type: 'text_delta', text: `from local (${n})` },
      }),
      sseEvent('content_block_stop', { type: 'content_block_stop', index: 1 }),
      sseEvent('message_delta', { type: 'message_delta', delta: { stop_reason: tool ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: 3 } }),
      sseEvent('message_stop', { type: 'message_stop' }),
    ];
    return sseBytes(ev);
  };
}

test('an anthropic-mode local server with fallback to Claude: each gets only what it accepts', async () => {
  const sc = await startStrictClaude();
  const state = { local: 0, refuse: false };
  const local = await startAnthropicBackend(localAnthropicScript(state));
  const gw = await startRouted({
    backends: { local: { mode: 'anthropic', url: local.url, model: 'qwen-local' }, claude: { mode: 'claude', url: sc.url } },
    routes: [{ when: 'default', to: 'local', fallback: ['claude'] }],
  });
  try {
    await play(
      gw,
      (step) => {
        state.refuse = step.to === 'C';
        return {};
      },
      { localSig: /^$/ },
    );
    // the local server: no signature but empty ones, no redacted thinking
    const got = local.scripted().filter((r) => r.status === 200);
    assert.equal(got.length, PLAN.filter((s) => s.to === 'L').length);
    for (const r of local.scripted().filter((x) => x.json?.messages)) /* not the start-up GET /props */
      for (const m of r.json.messages)
        for (const b of Array.isArray(m.content) ? m.content : []) {
          assert.notEqual(b.type, 'redacted_thinking');
          if (b.type === 'thinking') assert.equal(b.signature, '', 'a signature reached the local server');
        }
    // the Claude API: its own thinking intact (after the local server saw the same request), never refused
    assert.equal(sc.be.scripted().filter((r) => r.verdict).length, 0, sc.be.scripted().map((r) => r.verdict).join('\n'));
    assert.ok(sc.be.scripted().some((r) => r.json.messages.some((m) => Array.isArray(m.content) && m.content.some((b) => b.type === 'thinking' && b.signature.startsWith('Eq')))));
  } finally {
    await gw.stopAll();
    await local.close();
    await sc.close();
  }
});
