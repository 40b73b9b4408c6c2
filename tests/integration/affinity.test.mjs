// Affinity for engine routers (docs/scaling.md): a backend's affinityHeader
// carries a stable key for the conversation upstream (for vLLM
// production-stack's session router, SGLang's model gateway, an Envoy hash
// policy), and affinityField puts it in the OpenAI body ("user",
// "prompt_cache_key"). The key is a hash of Claude Code's session id and
// agent id, never the ids; no session id, nothing is sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAnthropicBackend, sseBytes, textStreamEvents } from '../lib/anthropic_backend.mjs';
import { ask, fleet, startRouted, SONNET } from './routes_lib.mjs';

const HEADER = 'x-session-affinity';

function req(text) {
  return { model: SONNET, max_tokens: 256, system: 'affinity test', messages: [{ role: 'user', content: text }] };
}

test('affinityHeader and affinityField carry a hashed conversation key upstream (openai mode)', async () => {
  const fl = await fleet(['a']);
  const gw = await startRouted({
    backends: { a: { mode: 'openai', url: fl.a.url, model: 'm-a', affinityHeader: HEADER, affinityField: 'prompt_cache_key' } },
    routes: [{ when: 'default', to: 'a' }],
  });
  try {
    const client = gw.client();
    const sent = async (headers, stream = false) => {
      await ask(client, req('hello'), { headers, stream });
      const r = fl.a.be.lastChat();
      return { header: r.headers[HEADER], field: r.body.prompt_cache_key, raw: r.raw };
    };
    const sid = '3f2c9a1e-5b7d-4e21-9c44-0d8e6f1a2b3c';
    const t1 = await sent({ 'X-Claude-Code-Session-Id': sid });
    assert.match(t1.header ?? '', /^ac-[0-9a-f]{16}$/, JSON.stringify(t1));
    assert.equal(t1.field, t1.header, 'the body field carries the same key');
    assert.ok(!t1.raw.includes(sid) && !t1.raw.includes(sid.slice(0, 8)), 'the session id itself never goes upstream');
    const t2 = await sent({ 'X-Claude-Code-Session-Id': sid }, true);
    assert.equal(t2.header, t1.header, 'every turn of the session, streamed or not, carries the same key');
    const sub = await sent({ 'X-Claude-Code-Session-Id': sid, 'x-claude-code-agent-id': 'a1b2c3d4e5f6a7b8c' });
    assert.notEqual(sub.header, t1.header, "a subagent's conversation has its own key");
    const other = await sent({ 'X-Claude-Code-Session-Id': 'another-session' });
    assert.notEqual(other.header, t1.header);
    const none = await sent(undefined);
    assert.equal(none.header, undefined, 'no session id: no header');
    assert.equal(none.field, undefined, 'no session id: no body field');
  } finally {
    await gw.stopAll();
    await fl.close();
  }
});

test('a backend without affinity settings gets neither', async () => {
  const fl = await fleet(['a']);
  const gw = await startRouted({ backends: { a: { mode: 'openai', url: fl.a.url, model: 'm-a' } }, routes: [{ when: 'default', to: 'a' }] });
  try {
    await ask(gw.client(), req('hi'), { headers: { 'X-Claude-Code-Session-Id': 's' } });
    const r = fl.a.be.lastChat();
    assert.equal(r.headers[HEADER], undefined);
    assert.equal(r.body.prompt_cache_key, undefined);
    assert.equal(r.body.user, undefined);
  } finally {
    await gw.stopAll();
    await fl.close();
  }
});

test('affinityHeader on an anthropic-mode backend (pass-through) is sent too', async () => {
  const be = await startAnthropicBackend(sseBytes(textStreamEvents(['from vllm'], { id: 'msg_1', model: 'm', usage: { input_tokens: 3, output_tokens: 0 }, outputTokens: 2 })));
  const gw = await startRouted({
    backends: { v: { mode: 'anthropic', url: be.url, model: 'm', affinityHeader: 'x-smg-routing-key' } },
    routes: [{ when: 'default', to: 'v' }],
  });
  try {
    const r = await ask(gw.client(), req('hi'), { headers: { 'X-Claude-Code-Session-Id': 'sess-9' }, stream: true });
    assert.equal(r.text, 'from vllm');
    const got = be.requests.filter((x) => x.method === 'POST').at(-1);
    assert.match(got.headers['x-smg-routing-key'] ?? '', /^ac-[0-9a-f]{16}$/, JSON.stringify(got.headers));
  } finally {
    await gw.stopAll();
    await be.close();
  }
});

