// count_tokens, GET /v1/models and GET /health.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useGateway, startGateway, freePort, basicRequest, MODEL, TOOLS } from '../lib/gateway.mjs';
import { startBackend } from '../lib/openai_backend.mjs';

const MODELS = ['qwen3-coder-30b', 'gpt-oss-20b', 'llama-3.1-8b'];
const ctx = useGateway({ mode: 'openai', models: MODELS });

test('count_tokens returns {input_tokens: N > 0}, larger for a larger prompt', async () => {
  const { client, gw, be } = ctx;
  const before = be.chatRequests().length;
  const small = await client.messages.countTokens({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }] });
  assert.deepEqual(Object.keys(small), ['input_tokens'], JSON.stringify(small));
  assert.ok(Number.isInteger(small.input_tokens) && small.input_tokens > 0, JSON.stringify(small));
  const big = await client.messages.countTokens({
    model: MODEL,
    system: 'You are a helpful assistant.',
    tools: TOOLS,
    messages: [{ role: 'user', content: 'Tell me about the weather in many cities. '.repeat(200) }],
  });
  assert.ok(big.input_tokens > small.input_tokens, `${big.input_tokens} > ${small.input_tokens}`);
  assert.equal(be.chatRequests().length, before, 'count_tokens must not run a completion');
  // The raw route with the beta query also works.
  const r = await fetch(`${gw.url}/v1/messages/count_tokens?beta=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }] }),
  });
  assert.equal(r.status, 200);
  assert.ok((await r.json()).input_tokens > 0);
});

test('count_tokens with a bad body → 400 invalid_request_error', async () => {
  const r = await fetch(`${ctx.gw.url}/v1/messages/count_tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"model": "x", "messages": 7}',
  });
  assert.equal(r.status, 400);
  const j = await r.json();
  assert.equal(j.error?.type, 'invalid_request_error', JSON.stringify(j));
});

test("GET /v1/models lists the backend's models in Anthropic's shape", async () => {
  const { gw, client } = ctx;
  const r = await fetch(`${gw.url}/v1/models`, { headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' } });
  assert.equal(r.status, 200);
  const j = await r.json();
  assert.ok(Array.isArray(j.data), JSON.stringify(j));
  assert.deepEqual(
    j.data.map((m) => m.id),
    MODELS,
  );
  for (const m of j.data) {
    assert.equal(m.type, 'model', JSON.stringify(m));
    assert.equal(typeof m.display_name, 'string', JSON.stringify(m));
    assert.ok(m.display_name.length > 0, JSON.stringify(m));
    assert.equal(typeof m.created_at, 'string', JSON.stringify(m));
    assert.ok(!Number.isNaN(Date.parse(m.created_at)), `created_at must be a date: ${m.created_at}`);
  }
  assert.equal(j.has_more, false);
  assert.equal(j.first_id, MODELS[0]);
  assert.equal(j.last_id, MODELS.at(-1));
  // And the SDK's paginated list sees the same.
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, MODELS);
});

test("GET /v1/models: a backend's odd created times give valid dates, never garbage", async () => {
  // created as a huge, negative, far-future, fractional or non-number value:
  // each still gets an ISO date (clamped), and the list is whole.
  const odd = [1e300, -1e300, 1e17, -5, 1.7e9 + 0.5, '2024', null];
  const be = await startBackend(null, { models: odd.map((created, i) => ({ id: `odd-${i}`, object: 'model', created })) });
  const gw = await startGateway({ mode: 'openai', backend: be.url });
  try {
    const r = await fetch(`${gw.url}/v1/models`, { headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' } });
    assert.equal(r.status, 200);
    const j = await r.json();
    assert.deepEqual(j.data.map((m) => m.id), odd.map((_, i) => `odd-${i}`));
    for (const m of j.data) {
      assert.match(m.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, JSON.stringify(m));
      assert.ok(!Number.isNaN(Date.parse(m.created_at)), JSON.stringify(m));
    }
    const at = Object.fromEntries(j.data.map((m) => [m.id, m.created_at]));
    assert.equal(at['odd-1'], '1970-01-01T00:00:00Z');
    assert.equal(at['odd-3'], '1970-01-01T00:00:00Z');
    assert.equal(at['odd-0'], '9999-12-31T23:59:59Z');
    assert.equal(at['odd-2'], '9999-12-31T23:59:59Z');
    assert.equal(at['odd-4'], new Date(1.7e9 * 1000).toISOString().replace('.000', ''));
  } finally {
    await gw.stop();
    await be.close();
  }
});

async function health(gw) {
  const r = await fetch(`${gw.url}/health`);
  const text = await r.text();
  let j;
  try {
    j = JSON.parse(text);
  } catch {
    assert.fail(`/health must answer JSON: ${text}`);
  }
  return { status: r.status, j, text };
}

test('GET /health says ok and whether the backend answers', async () => {
  const up = await health(ctx.gw);
  assert.equal(up.status, 200, up.text);
  const port = await freePort();
  const gw = await startGateway({ backend: `http://127.0.0.1:${port}/v1`, mode: 'openai' });
  let down;
  try {
    down = await health(gw);
  } finally {
    await gw.stopClean();
  }
  assert.equal(down.status, 200, `the gateway itself is fine: ${down.text}`);
  // Both say ok; they differ exactly in what they report about the backend.
  assert.equal(up.j.status, 'ok', up.text);
  assert.equal(down.j.status, 'ok', down.text);
  assert.notDeepEqual(up.j, down.j, `health must tell a live backend from a dead one:\nup=${up.text}\ndown=${down.text}`);
  const backendUp = findBackendFlag(up.j);
  const backendDown = findBackendFlag(down.j);
  assert.equal(backendUp, true, `live backend reported as ${backendUp}: ${up.text}`);
  assert.equal(backendDown, false, `dead backend reported as ${backendDown}: ${down.text}`);
});

// The backend-reachability boolean in a health body: a boolean-valued key
// mentioning backend / reachable / ok inside or next to a "backend" field.
function findBackendFlag(j) {
  const b = j.backend_status && typeof j.backend_status === 'object' ? j.backend_status : j.backend;
  if (typeof b === 'boolean') return b;
  if (b && typeof b === 'object') {
    for (const k of ['ok', 'reachable', 'up', 'alive', 'answers']) if (typeof b[k] === 'boolean') return b[k];
    if (typeof b.status === 'string') return b.status === 'ok' || b.status === 'up';
  }
  for (const k of ['backend_ok', 'backend_reachable', 'backend_up']) if (typeof j[k] === 'boolean') return j[k];
  if (typeof j.backend === 'string') return j.backend === 'ok' || j.backend === 'up';
  return undefined;
}
