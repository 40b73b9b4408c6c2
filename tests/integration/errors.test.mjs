// Failures reach the client as Anthropic errors (HTTP status + error body, or
// an `event: error` once a stream has started), and the gateway keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import { turn, chunks, sse, httpError } from '../lib/openai_backend.mjs';
import { useGateway, startGateway, freePort, basicRequest, rawPost, expectAPIError, OK_TURN, assertStillServes as stillServes } from '../lib/gateway.mjs';

const ctx = useGateway({ mode: 'openai' });
const OK = OK_TURN;
const assertStillServes = (gw = ctx.gw, be = ctx.be) => stillServes({ gw, be });

// Await p, expect an SDK APIError; check the HTTP status (when the error came
// before the stream: streamed=false requires it), the error type in the body
// and its message. Returns the error.
async function expectError(p, { status, type, message, streamed = false }) {
  const err = await expectAPIError(p);
  const body = err.error;
  const detail = `status=${err.status} body=${JSON.stringify(body)}`;
  if (!streamed || err.status !== undefined) assert.equal(err.status, status, detail);
  assert.equal(body?.type, 'error', detail);
  assert.equal(body?.error?.type, type, detail);
  if (message instanceof RegExp) assert.match(body.error.message, message, detail);
  else if (typeof message === 'string') assert.ok(body.error.message.includes(message), detail);
  return err;
}

// Both ways: non-streaming must be an HTTP error; streaming may be an HTTP
// error or an error event, with the same type and message.
async function expectBothWays(req, want) {
  const { client } = ctx;
  const e1 = await expectError(client.messages.create(req), want);
  const e2 = await expectError(client.messages.stream(req).finalMessage(), { ...want, streamed: true });
  return [e1, e2];
}

test('backend down → 529 overloaded_error naming the backend URL', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/v1`;
  const gw = await startGateway({ backend: url, mode: 'openai' });
  try {
    const client = gw.client();
    const want = { status: 529, type: 'overloaded_error', message: `127.0.0.1:${port}` };
    const e = await expectError(client.messages.create(basicRequest()), want);
    assert.ok(e instanceof Anthropic.InternalServerError);
    await expectError(client.messages.stream(basicRequest()).finalMessage(), { ...want, streamed: true });
    // It comes back once the backend does.
    const { startBackend } = await import('../lib/openai_backend.mjs');
    const be = await startBackend(OK, { port });
    try {
      await assertStillServes(gw, be);
    } finally {
      await be.close();
    }
  } finally {
    await gw.stopClean();
  }
});

test('backend 400 → 400 invalid_request_error with the backend message', async () => {
  ctx.be.script = httpError(400, { error: { message: "Invalid value for 'temperature': banana", type: 'invalid_request_error', code: null } });
  const [e] = await expectBothWays(basicRequest(), {
    status: 400,
    type: 'invalid_request_error',
    message: "Invalid value for 'temperature': banana",
  });
  assert.ok(e instanceof Anthropic.BadRequestError);
  await assertStillServes();
});

test('llama.cpp context overflow → 400 "prompt is too long: N tokens > M maximum"', async () => {
  ctx.be.script = httpError(400, {
    error: {
      code: 400,
      message: 'the request exceeds the available context size, try increasing it',
      type: 'exceed_context_size_error',
      n_prompt_tokens: 40000,
      n_ctx: 32768,
    },
  });
  const [e] = await expectBothWays(basicRequest(), {
    status: 400,
    type: 'invalid_request_error',
    message: /^prompt is too long: 40000 tokens > 32768 maximum/,
  });
  assert.ok(e instanceof Anthropic.BadRequestError);
  await assertStillServes();
});

test('backend 500 → 500 api_error', async () => {
  ctx.be.script = httpError(500, { error: { message: 'The model produced output that does not match the expected peg-native format', type: 'server_error' } });
  const [e] = await expectBothWays(basicRequest(), { status: 500, type: 'api_error' });
  assert.ok(e instanceof Anthropic.InternalServerError);
  await assertStillServes();
});

test('backend 500 with a non-JSON body → 500 api_error', async () => {
  ctx.be.script = httpError(500, 'Internal Server Error\n');
  await expectBothWays(basicRequest(), { status: 500, type: 'api_error' });
  await assertStillServes();
});

test('backend stream cut mid-way → SDK stream gets an api_error event and rejects', async () => {
  const { be, client } = ctx;
  be.reset();
  // role chunk, "Hello", " wor", then the socket is destroyed.
  be.script = sse(chunks({ text: ['Hello', ' wor', 'ld', '!'], finish: 'stop' }), { cutAfter: 3 });
  const stream = client.messages.stream(basicRequest());
  let text = '';
  stream.on('text', (t) => (text += t));
  const errors = [];
  stream.on('error', (e) => errors.push(e));
  await expectError(stream.finalMessage(), { type: 'api_error', streamed: true });
  assert.equal(text, 'Hello wor', 'text before the cut is delivered');
  assert.equal(errors.length, 1, 'one error event');
  assert.equal(be.lastChat().cut, true);
  await assertStillServes();
});

test('backend stream ends cleanly but unfinished (no finish_reason, no [DONE]) → api_error', async () => {
  ctx.be.script = sse(chunks({ text: ['Hel', 'lo'], finish: 'stop' }).slice(0, 3));
  await expectError(ctx.client.messages.stream(basicRequest()).finalMessage(), { type: 'api_error', streamed: true });
  await assertStillServes();
});

test('backend stream sends garbage → api_error', async () => {
  ctx.be.script = sse([chunks({ text: ['a'] })[0], 'data: {not json\n\n', 'data: [DONE]\n\n']);
  await expectError(ctx.client.messages.stream(basicRequest()).finalMessage(), { type: 'api_error', streamed: true });
  await assertStillServes();
});

test('malformed JSON from the client → 400 invalid_request_error', async () => {
  const before = ctx.be.chatRequests().length;
  const r = await rawPost(ctx.gw, '/v1/messages', '{"model": "x", "max_tokens": 10, "messages": [');
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json?.type, 'error', r.text);
  assert.equal(r.json?.error?.type, 'invalid_request_error', r.text);
  assert.equal(ctx.be.chatRequests().length, before, 'nothing goes upstream');
  await assertStillServes();
});

for (const [field, value] of [
  ['max_tokens', 'x'],
  ['messages', 'hi'],
]) {
  test(`wrong type for ${field} → 400 naming the field`, async () => {
    const body = { ...basicRequest(), [field]: value };
    const r = await rawPost(ctx.gw, '/v1/messages', JSON.stringify(body));
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json?.error?.type, 'invalid_request_error', r.text);
    assert.ok(r.json.error.message.includes(field), `message should name ${field}: ${r.text}`);
    // Streaming requests are validated before the stream starts.
    const rs = await rawPost(ctx.gw, '/v1/messages', JSON.stringify({ ...body, stream: true }));
    assert.equal(rs.status, 400, rs.text);
    assert.equal(rs.json?.error?.type, 'invalid_request_error', rs.text);
    await assertStillServes();
  });
}

// Send a request of `size` body bytes on a raw socket (writing in pieces, with
// backpressure) and collect whatever the server answers. Write errors
// (EPIPE/ECONNRESET once the server has answered and closed) are not failures:
// what counts is whether the server's answer reached the client.
function dechunk(s) {
  let out = '';
  for (;;) {
    const i = s.indexOf('\r\n');
    if (i < 0) return out;
    const n = parseInt(s.slice(0, i), 16);
    if (!n) return out;
    out += s.slice(i + 2, i + 2 + n);
    s = s.slice(i + 2 + n + 2);
  }
}

function rawBigPost(gw, path, size) {
  return new Promise((resolve) => {
    const s = net.connect(gw.port, '127.0.0.1');
    let got = '';
    let writeError = null;
    let finished = false;
    const finish = (why) => {
      if (finished) return;
      finished = true;
      s.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(got);
      let body = m?.[3];
      if (m && /\r?\ntransfer-encoding:\s*chunked/i.test('\r\n' + m[2])) body = dechunk(body);
      resolve({ status: m ? +m[1] : undefined, head: m?.[2], body, raw: got.slice(0, 600), writeError, why });
    };
    s.on('data', (d) => {
      got += d;
      const m = /^HTTP\/1\.[01] \d{3}[^]*?\r\n\r\n/.exec(got);
      if (m) {
        const cl = /\r\ncontent-length:\s*(\d+)/i.exec(m[0]);
        if (cl && got.length >= m[0].length + +cl[1]) finish('complete');
        if (!cl && got.endsWith('\r\n0\r\n\r\n')) finish('complete');
      }
    });
    s.on('error', (e) => {
      writeError = e.code ?? String(e);
    });
    s.on('close', () => finish('closed'));
    s.setTimeout(30000, () => finish('timeout'));
    s.on('connect', async () => {
      const prefix = '{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"';
      const suffix = '"}]}';
      s.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nx-api-key: k\r\nContent-Length: ${size}\r\n\r\n`);
      s.write(prefix);
      let left = size - prefix.length - suffix.length;
      const piece = Buffer.alloc(64 * 1024, 'x');
      while (left > 0 && !finished && !s.destroyed && !writeError && !got) {
        const n = Math.min(left, piece.length);
        left -= n;
        if (!s.write(n === piece.length ? piece : piece.subarray(0, n))) {
          await new Promise((r) => {
            s.once('drain', r);
            s.once('close', r);
          });
        }
      }
      if (left <= 0 && !s.destroyed) s.write(suffix);
    });
  });
}

// The server may answer 413 before the client has sent everything; it must
// then keep reading (lingering close) so the answer is not lost to a TCP reset.
// Tried with the SDK, with fetch, and with a raw socket writer.
test('a 33 MiB body → 413 request_too_large', async () => {
  const SIZE = 33 * 1024 * 1024;
  const outcomes = {};
  const req = basicRequest({ messages: [{ role: 'user', content: 'x'.repeat(SIZE) }] });
  try {
    await ctx.client.messages.create(req);
    outcomes.sdk = 'resolved';
  } catch (e) {
    outcomes.sdk = e instanceof Anthropic.APIError && e.status ? `${e.status} ${e.error?.error?.type}` : `${e.constructor.name}: ${e.cause?.code ?? e.message}`;
  }
  try {
    const r = await rawPost(ctx.gw, '/v1/messages', JSON.stringify(req));
    outcomes.fetch = `${r.status} ${r.json?.error?.type}`;
  } catch (e) {
    outcomes.fetch = `fetch failed: ${e.cause?.code ?? e.message}`;
  }
  const raw = await rawBigPost(ctx.gw, '/v1/messages', SIZE);
  let rawType;
  try {
    rawType = JSON.parse(raw.body).error.type;
  } catch {
    rawType = `unparsable body ${JSON.stringify(raw.raw)} (write error ${raw.writeError})`;
  }
  outcomes.raw = `${raw.status} ${rawType}`;
  assert.deepEqual(
    outcomes,
    { sdk: '413 request_too_large', fetch: '413 request_too_large', raw: '413 request_too_large' },
    'every client must get the 413',
  );
  assert.equal(ctx.be.chatRequests().some((r) => r.raw.length > 30e6), false, 'nothing that big goes upstream');
  await assertStillServes();
});
