// Self-test of the scripted backend (no gateway involved): if these fail, the
// other integration tests' verdicts mean nothing.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startBackend, turn, chunks, completion, sse, json, httpError, stall, DONE, waitFor } from '../lib/openai_backend.mjs';
import { sendRaw } from '../lib/net.mjs';

let be;
before(async () => {
  be = await startBackend(null, { models: ['m-a', 'm-b'] });
});
after(async () => {
  await be.close();
});

async function post(body, signal) {
  return fetch(`${be.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
}

function sseData(text) {
  return text
    .split('\n\n')
    .filter((b) => b.startsWith('data: '))
    .map((b) => b.slice(6))
    .map((d) => (d === '[DONE]' ? DONE : JSON.parse(d)));
}

const DESC = {
  reasoning: ['let me ', 'think'],
  text: ['Hel', 'lo'],
  tools: [
    { id: 'call_1', name: 'f', args: ['{"a":', '1}'] },
    { name: 'g', args: ['{}'] },
  ],
  finish: 'tool_calls',
  usage: { prompt_tokens: 10, completion_tokens: 5, cached_tokens: 4 },
};

test('streamed and whole forms of a turn carry the same answer', async () => {
  be.script = turn(DESC);
  const r1 = await post({ stream: true, messages: [] });
  assert.equal(r1.status, 200);
  assert.match(r1.headers.get('content-type'), /text\/event-stream/);
  const evs = sseData(await r1.text());
  assert.equal(evs.at(-1), DONE);
  // Reassemble like a client would.
  let content = '';
  let reasoning = '';
  const tools = [];
  let finish = null;
  let usage = null;
  for (const c of evs.slice(0, -1)) {
    if (c.usage) usage = c.usage;
    for (const ch of c.choices) {
      if (ch.finish_reason) finish = ch.finish_reason;
      content += ch.delta.content ?? '';
      reasoning += ch.delta.reasoning_content ?? '';
      for (const tc of ch.delta.tool_calls ?? []) {
        tools[tc.index] ??= { id: tc.id, name: '', arguments: '' };
        if (tc.function?.name) tools[tc.index].name = tc.function.name;
        tools[tc.index].arguments += tc.function?.arguments ?? '';
      }
    }
  }
  const r2 = await post({ stream: false, messages: [] });
  const whole = await r2.json();
  const m = whole.choices[0].message;
  assert.equal(content, m.content);
  assert.equal(reasoning, m.reasoning_content);
  assert.equal(finish, whole.choices[0].finish_reason);
  assert.deepEqual(usage, whole.usage);
  assert.equal(usage.prompt_tokens_details.cached_tokens, 4);
  assert.deepEqual(
    tools,
    m.tool_calls.map((t) => ({ id: t.id, name: t.function.name, arguments: t.function.arguments })),
  );
  assert.equal(tools[1].id, undefined);
  assert.deepEqual(JSON.parse(tools[0].arguments), { a: 1 });
  assert.equal(be.requests.length, 2);
  assert.equal(be.requests[0].body.stream, true);
});

test('mlx-style reasoning field', () => {
  const c = chunks({ reasoning: ['x'], reasoningField: 'reasoning', text: ['y'] });
  assert.equal(c[1].choices[0].delta.reasoning, 'x');
  assert.equal(completion({ reasoning: ['x'], reasoningField: 'reasoning' }).choices[0].message.reasoning, 'x');
});

test('error status, comments, delay, script arrays', async () => {
  be.reset();
  be.script = [
    httpError(400, { error: { message: 'bad', type: 'invalid_request_error' } }),
    sse([{ comment: 'keepalive 1/2' }, ...chunks({ text: ['a'] })], { delayMs: 200 }),
    json({ hello: 1 }),
  ];
  const r1 = await post({});
  assert.equal(r1.status, 400);
  assert.equal((await r1.json()).error.message, 'bad');
  const t0 = Date.now();
  const r2 = await post({});
  assert.ok(Date.now() - t0 >= 150);
  const body = await r2.text();
  assert.ok(body.startsWith(': keepalive 1/2\n\n'));
  assert.deepEqual(await (await post({})).json(), { hello: 1 });
  assert.deepEqual(await (await post({})).json(), { hello: 1 }, 'last reply repeats');
});

test('cut stream delivers what came before, then ends the connection abruptly', async () => {
  be.script = sse(chunks({ text: ['aaa', 'bbb', 'ccc'] }), { cutAfter: 2 });
  const r = await post({ stream: true });
  await assert.rejects(r.text());
  assert.equal(be.lastChat().cut, true);
  // On a raw socket: the bytes before the cut arrive, the chunked body never ends.
  const got = await sendRaw(be.port, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 15\r\n\r\n{"stream":true}');
  assert.ok(got.includes('"content":"aaa"'), got);
  assert.ok(!got.includes('bbb'), got);
  assert.ok(!got.endsWith('0\r\n\r\n'), 'no final chunk');
});

test('a stalled stream notices the client going away', async () => {
  be.reset();
  be.script = sse(chunks({ text: ['a', 'b'] }), { stallAfter: 2 });
  const ac = new AbortController();
  const r = await post({ stream: true }, ac.signal);
  const reader = r.body.getReader();
  await reader.read();
  await waitFor(() => be.lastChat()?.stalled, 'stall');
  assert.equal(be.lastChat().closed, false);
  ac.abort();
  await waitFor(() => be.lastChat().closed, 'closed');
});

test('stall() never sends headers; close() still works', async () => {
  be.reset();
  be.script = stall();
  const req = http.request(`${be.url}/chat/completions`, { method: 'POST' });
  let gotResponse = false;
  req.on('response', () => (gotResponse = true));
  req.on('error', () => {});
  req.end('{}');
  await waitFor(() => be.lastChat(), 'request recorded');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(gotResponse, false);
  req.destroy();
  await waitFor(() => be.lastChat().closed, 'closed');
});

test('GET /v1/models lists the models', async () => {
  const r = await fetch(`${be.url}/models`);
  const j = await r.json();
  assert.equal(j.object, 'list');
  assert.deepEqual(
    j.data.map((m) => m.id),
    ['m-a', 'm-b'],
  );
});
