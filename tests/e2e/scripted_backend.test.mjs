// The e2e harness's own backend: streamed and whole answers, tool calls,
// the plain-text fallback and the request record (no claude needed).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startScriptedBackend, FALLBACK_TEXT } from '../lib/scripted_backend.mjs';
import { helloScenario, HELLO } from '../lib/claude_code.mjs';

const be = await startScriptedBackend({ scenario: helloScenario('/w') });
after(() => be.close());

const tools = ['Write', 'Bash'].map((name) => ({ type: 'function', function: { name, parameters: { type: 'object' } } }));
const ask = { role: 'user', content: 'Create hello.txt please' };

async function post(body, path = '/chat/completions') {
  const r = await fetch(be.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
}

function parseSse(text) {
  const events = text.split('\n\n').filter(Boolean);
  assert.equal(events.at(-1), 'data: [DONE]');
  return events.slice(0, -1).map((e) => JSON.parse(e.replace(/^data: /, '')));
}

test('streamed tool call: Write first, arguments split across chunks', async () => {
  const r = await post({ stream: true, stream_options: { include_usage: true }, tools, messages: [ask] });
  assert.match(r.type, /text\/event-stream/);
  const chunks = parseSse(r.text);
  let args = '';
  let name = '';
  for (const c of chunks)
    for (const tc of c.choices[0]?.delta?.tool_calls ?? []) {
      name += tc.function?.name ?? '';
      args += tc.function?.arguments ?? '';
    }
  assert.equal(name, 'Write');
  assert.deepEqual(JSON.parse(args), { file_path: '/w/hello.txt', content: HELLO });
  assert.equal(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0].finish_reason, 'tool_calls');
  assert.ok(chunks.at(-1).usage, 'usage chunk missing with include_usage');
});

test('whole answers: Bash after the Write result, DONE after the Bash result', async () => {
  const w = { role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function', function: { name: 'Write', arguments: '{}' } }] };
  const b = { role: 'assistant', content: null, tool_calls: [{ id: 'b', type: 'function', function: { name: 'Bash', arguments: '{}' } }] };
  let r = JSON.parse((await post({ tools, messages: [ask, w, { role: 'tool', tool_call_id: 'a', content: 'ok' }] })).text);
  assert.equal(r.choices[0].message.tool_calls[0].function.name, 'Bash');
  assert.deepEqual(JSON.parse(r.choices[0].message.tool_calls[0].function.arguments), { command: 'cat hello.txt', description: 'show file' });
  const msgs = [ask, w, { role: 'tool', tool_call_id: 'a', content: 'ok' }, b, { role: 'tool', tool_call_id: 'b', content: HELLO }];
  r = JSON.parse((await post({ tools, messages: msgs })).text);
  assert.match(r.choices[0].message.content, /^DONE/);
  assert.equal(r.choices[0].finish_reason, 'stop');
});

test('unrecognised requests get a short plain text and are recorded', async () => {
  const before = be.requests.length;
  const r = parseSse((await post({ stream: true, messages: [{ role: 'user', content: 'write a title' }] })).text);
  assert.equal(r.map((c) => c.choices[0]?.delta?.content ?? '').join(''), FALLBACK_TEXT);
  const other = await post({ anything: 1 }, '/embeddings');
  assert.equal(other.text, FALLBACK_TEXT);
  assert.equal(be.requests.length, before + 2);
  assert.equal(be.requests.at(-2).scripted, false);
  assert.match(be.summary(), /\/embeddings/);
});
