// What reaches the backend: the translated request body per mode.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { turn, startBackend } from '../lib/openai_backend.mjs';
import { useGateway, startGateway, basicRequest, TOOLS, rawPost } from '../lib/gateway.mjs';

const ctx = useGateway({ mode: 'openai', apiKey: 'sk-upstream-secret' });
const OK = turn({ text: ['ok'], finish: 'stop', usage: { prompt_tokens: 5, completion_tokens: 1 } });

test('mode openai: tools as functions, include_usage, max_tokens clamped to 16384', async () => {
  const { be, client } = ctx;
  be.reset();
  be.script = OK;
  const req = basicRequest({
    max_tokens: 128000,
    system: [{ type: 'text', text: 'You are terse.' }],
    tools: TOOLS,
  });
  const msg = await client.messages.stream(req).finalMessage();
  assert.deepEqual(msg.content, [{ type: 'text', text: 'ok' }]);
  const chats = be.chatRequests();
  assert.equal(chats.length, 1);
  const r = chats[0];
  assert.equal(r.method, 'POST');
  assert.equal(r.path, '/v1/chat/completions');
  assert.equal(r.headers.authorization, 'Bearer sk-upstream-secret', 'configured --api-key goes upstream');
  const b = r.body;
  assert.ok(b, `upstream body must be JSON: ${r.raw.slice(0, 200)}`);
  assert.equal(b.stream, true);
  assert.deepEqual(b.stream_options, { include_usage: true });
  const maxField = 'max_tokens' in b ? 'max_tokens' : 'max_completion_tokens';
  assert.equal(b[maxField], 16384, `max tokens sent upstream: ${JSON.stringify({ max_tokens: b.max_tokens, max_completion_tokens: b.max_completion_tokens })}`);
  // The gateway may reorder tools (it sorts them by name for stable bytes).
  const byName = (x, y) => (x.function.name < y.function.name ? -1 : x.function.name > y.function.name ? 1 : 0);
  assert.ok(Array.isArray(b.tools), JSON.stringify(b.tools));
  assert.deepEqual(
    [...b.tools].sort(byName),
    TOOLS.map((t) => ({
      type: 'function',
      function: { name: t.name, description: t.description, parameters: t.input_schema },
    })).sort(byName),
  );
  assert.ok(Array.isArray(b.messages));
  const textOf = (c) => (typeof c === 'string' ? c : c.map((p) => p.text).join(''));
  assert.equal(b.messages[0].role, 'system');
  assert.equal(textOf(b.messages[0].content), 'You are terse.');
  const last = b.messages.at(-1);
  assert.equal(last.role, 'user');
  assert.equal(textOf(last.content), 'Hello there');
  assert.equal(b.cache_prompt, undefined, 'cache_prompt is llama.cpp-only');
});

test('a small max_tokens is passed through unchanged', async () => {
  const { be, client } = ctx;
  be.reset();
  be.script = OK;
  await client.messages.create(basicRequest({ max_tokens: 300 }));
  const b = be.lastChat().body;
  assert.equal(b.max_tokens ?? b.max_completion_tokens, 300);
});

test('POST /v1/messages?beta=true works (SDK beta client and raw)', async () => {
  const { be, client, gw } = ctx;
  be.reset();
  be.script = OK;
  const m = await client.beta.messages.create(basicRequest());
  assert.deepEqual(m.content, [{ type: 'text', text: 'ok' }]);
  const s = await client.beta.messages.stream(basicRequest()).finalMessage();
  assert.deepEqual(s.content, [{ type: 'text', text: 'ok' }]);
  const r = await rawPost(gw, '/v1/messages?beta=true', JSON.stringify(basicRequest()));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.type, 'message');
  assert.equal(be.chatRequests().length, 3);
});

// Gateways of other modes share one backend.
let shared;
after(async () => {
  if (shared) await shared.close();
});
async function withMode(opts, fn) {
  // the model the mlx-lm test names must be one the backend lists (anyclaude checks at start)
  shared ??= await startBackend(null, { models: ['fake-model', 'mlx-community/Qwen3-4B-4bit'] });
  shared.reset();
  shared.script = OK;
  const gw = await startGateway({ backend: shared.url, ...opts });
  try {
    await fn(gw, gw.client(), shared);
  } finally {
    await gw.stopClean();
  }
}

test('mode mlx-lm without --model sends no "model"', async () => {
  await withMode({ mode: 'mlx-lm' }, async (gw, client, be) => {
    await client.messages.stream(basicRequest()).finalMessage();
    await client.messages.create(basicRequest());
    const chats = be.chatRequests();
    assert.equal(chats.length, 2);
    for (const c of chats) assert.ok(!('model' in c.body), `unexpected model ${JSON.stringify(c.body.model)}`);
    assert.equal(chats[0].body.stream_options?.include_usage, true);
  });
});

test('mode mlx-lm with --model sends that model', async () => {
  await withMode({ mode: 'mlx-lm', model: 'mlx-community/Qwen3-4B-4bit' }, async (gw, client, be) => {
    const m = await client.messages.create(basicRequest());
    assert.equal(be.lastChat().body.model, 'mlx-community/Qwen3-4B-4bit');
    assert.equal(m.model, basicRequest().model, 'client still sees its own model name');
  });
});

test('mode llamacpp sends cache_prompt true', async () => {
  await withMode({ mode: 'llamacpp' }, async (gw, client, be) => {
    await client.messages.stream(basicRequest()).finalMessage();
    await client.messages.create(basicRequest());
    for (const c of be.chatRequests()) assert.equal(c.body.cache_prompt, true);
  });
});

test('the same request gives the same upstream bytes', async () => {
  const { be, client } = ctx;
  be.reset();
  be.script = OK;
  const req = basicRequest({ tools: TOOLS, system: 'sys', max_tokens: 128000 });
  await client.messages.create(req);
  await client.messages.create(req);
  const [a, b] = be.chatRequests();
  assert.equal(b.raw, a.raw);
});
