// During a long prefill the client must get message_start at once and pings
// while the backend is silent. Orderings are checked against the backend's
// own record of when it sent its first byte (same process), not wall clocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunks, sse } from '../lib/openai_backend.mjs';
import { useGateway, basicRequest } from '../lib/gateway.mjs';
import { sseReader } from '../lib/sse.mjs';

const ctx = useGateway({ mode: 'openai', env: { ANYCLAUDE_PING_MS: '200' } });
// pings (which write what is held) slower than the idle timeout
const quiet = useGateway({ mode: 'openai', env: { ANYCLAUDE_UPSTREAM_IDLE_TIMEOUT: '4' } });

const DELAY = 3000;
const DESC = { text: ['after ', 'the wait'], finish: 'stop', usage: { prompt_tokens: 10, completion_tokens: 2 } };

test('message_start reaches the SDK before the backend sends anything', async () => {
  const { be, client } = ctx;
  be.reset();
  be.script = sse(chunks(DESC), { delayMs: DELAY });
  const stream = await client.messages.create({ ...basicRequest(), stream: true });
  const seen = [];
  let text = '';
  for await (const ev of stream) {
    const rec = be.lastChat();
    seen.push({ type: ev.type, backendSent: !!(rec && rec.firstByteAt) });
    if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
  }
  assert.equal(seen[0].type, 'message_start');
  assert.equal(seen[0].backendSent, false, 'message_start must not wait for the backend (it delays 3 s)');
  assert.equal(seen.at(-1).type, 'message_stop');
  assert.equal(text, 'after the wait');
});

test('ping events arrive while the backend is silent', async () => {
  const { be, gw } = ctx;
  be.reset();
  be.script = sse(chunks(DESC), { delayMs: DELAY });
  const res = await fetch(`${gw.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ ...basicRequest(), stream: true }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const dec = new TextDecoder();
  const reader = sseReader();
  const events = []; // { event, backendSent }
  for await (const part of res.body)
    for (const e of reader.push(dec.decode(part, { stream: true }))) events.push({ ...e, backendSent: !!be.lastChat()?.firstByteAt });
  const names = events.map((e) => e.event);
  assert.equal(names[0], 'message_start', names.join(','));
  const earlyPings = events.filter((e) => e.event === 'ping' && !e.backendSent);
  assert.ok(
    earlyPings.length >= 2,
    `expected pings every 200 ms during a 3 s silence, got ${earlyPings.length}: ${names.join(',')}`,
  );
  for (const p of earlyPings) assert.deepEqual(p.data, { type: 'ping' });
  assert.equal(names.at(-1), 'message_stop', names.join(','));
});

// The gateway writes what one read of the backend made when that read is
// done (the first event at once): nothing it has translated may wait for
// more data. The backend sends two text chunks and then holds the rest
// back; both must reach the client while it waits, before the idle timeout
// ends the stream.
test('each chunk reaches the client while the backend holds the rest back', async () => {
  const { be, gw } = quiet;
  be.reset();
  const desc = { text: ['one ', 'two ', 'three'], finish: 'stop', usage: { prompt_tokens: 10, completion_tokens: 3 } };
  be.script = sse(chunks(desc), { stallAfter: 3 }); // role, 'one ', 'two '
  const ac = new AbortController();
  const res = await fetch(`${gw.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ ...basicRequest(), stream: true }),
    signal: ac.signal,
  });
  assert.equal(res.status, 200);
  const dec = new TextDecoder();
  const reader = sseReader();
  let text = '';
  const names = [];
  try {
    for await (const part of res.body) {
      for (const e of reader.push(dec.decode(part, { stream: true }))) {
        names.push(e.event);
        if (e.event === 'content_block_delta') text += e.data.delta.text;
      }
      if (text === 'one two ') break;
    }
  } finally {
    ac.abort();
  }
  assert.equal(text, 'one two ', names.join(','));
  assert.ok(be.lastChat().stalled, 'the backend was holding the rest back');
  assert.ok(!names.includes('error') && !names.includes('message_stop'), names.join(','));
});
