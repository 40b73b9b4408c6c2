// A client that goes away cancels its upstream request: the backend sees its
// connection closed soon after (bounded poll, no timing assertions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { chunks, sse, stall, turn, waitFor } from '../lib/openai_backend.mjs';
import { useGateway, basicRequest } from '../lib/gateway.mjs';

const ctx = useGateway({ mode: 'openai' });
const CLOSE_WAIT = 5000;

async function assertStillServes() {
  ctx.be.script = turn({ text: ['fine'], finish: 'stop' });
  const m = await ctx.client.messages.stream(basicRequest()).finalMessage();
  assert.deepEqual(m.content, [{ type: 'text', text: 'fine' }]);
}

test('aborting an SDK stream closes the upstream connection (backend stalled after first chunk)', async () => {
  const { be, client } = ctx;
  be.reset();
  // role chunk + "first", then nothing, forever.
  be.script = sse(chunks({ text: ['first', 'never sent'], finish: 'stop' }), { stallAfter: 2 });
  const stream = client.messages.stream(basicRequest());
  const result = stream.finalMessage().then(
    () => 'resolved',
    (e) => e,
  );
  const gotText = new Promise((resolve) => stream.on('text', resolve));
  assert.equal(await gotText, 'first');
  const rec = be.lastChat();
  await waitFor(() => rec.stalled, 'backend to stall');
  assert.equal(rec.closed, false, 'upstream connection open while the client listens');
  stream.abort();
  const r = await result;
  assert.ok(r instanceof Anthropic.APIUserAbortError, `finalMessage after abort: ${r}`);
  await waitFor(() => rec.closed, 'the backend to see its connection closed after the client aborted', CLOSE_WAIT);
  await assertStillServes();
});

test('aborting a stream before the backend answered closes the upstream connection', async () => {
  const { be, client } = ctx;
  be.reset();
  be.script = stall();
  const ac = new AbortController();
  const stream = await client.messages.create({ ...basicRequest(), stream: true }, { signal: ac.signal });
  const it = stream[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(first.value?.type, 'message_start');
  const rec = await waitFor(() => be.lastChat(), 'the upstream request');
  ac.abort();
  await waitFor(() => rec.closed, 'the backend to see its connection closed after the client aborted', CLOSE_WAIT);
  await assertStillServes();
});

test('aborting a non-streaming request closes the upstream connection', async () => {
  const { be, client } = ctx;
  be.reset();
  be.script = stall();
  const ac = new AbortController();
  const p = client.messages.create(basicRequest(), { signal: ac.signal }).then(
    () => 'resolved',
    (e) => e,
  );
  const rec = await waitFor(() => be.lastChat(), 'the upstream request');
  ac.abort();
  const r = await p;
  assert.ok(r instanceof Anthropic.APIUserAbortError, String(r));
  await waitFor(() => rec.closed, 'the backend to see its connection closed after the client aborted', CLOSE_WAIT);
  await assertStillServes();
});
