// Backend faults: the backend refuses, stalls, dribbles, talks garbage, sends
// an enormous line, hangs up at every point of a stream, or answers with an
// HTTP error. For each: the client gets the right Anthropic error (or a clean
// stream), nothing leaks (active streams back to 0, the backend sees its
// connection closed), memory returns to its baseline after a batch, and the
// gateway keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBackend, sse, chunks, stall, httpError, turn, DONE, waitFor } from '../lib/openai_backend.mjs';
import { useGateway, startGateway, freePort, basicRequest } from '../lib/gateway.mjs';
import {
  DEADLINE, memEnv, metrics, waitIdle, waitBackendSettled, memoryCheck, rssKB, vmHWM, post,
  openStream, assertFailed, assertErrorBody, assertStillServes, startRawBackend, OK_TURN, sleep,
} from '../lib/fault.mjs';

const PING_MS = 200;
const ctx = useGateway({ mode: 'openai', env: memEnv({ ANYCLAUDE_PING_MS: String(PING_MS) }) });

const STREAM = basicRequest({ stream: true });
const WHOLE = basicRequest();
const req = (streamed) => (streamed ? STREAM : WHOLE);

// ---- refused -------------------------------------------------------------------

test('backend refuses connections → 529 overloaded_error naming the backend; serves once it is up', async (t) => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/v1`;
  const gw = await startGateway({ backend: url, model: 'm', env: memEnv() });
  let be;
  try {
    for (const streamed of [false, true]) {
      const r = await post(gw, req(streamed));
      assert.equal(r.status, 529, r.text);
      const j = assertErrorBody(r.text, 'overloaded_error');
      assert.ok(j.error.message.includes(url), `the message names the backend: ${j.error.message}`);
    }
    await memoryCheck(t, { gw }, 'refused', async (i) => {
      const r = await post(gw, req(i % 2));
      assert.equal(r.status, 529, r.text);
    });
    await waitIdle(gw);
    be = await startBackend(OK_TURN, { port });
    await assertStillServes({ gw, be });
    await gw.stopClean();
  } finally {
    await gw.stop();
    if (be) await be.close();
  }
});

// ---- accepts and never answers --------------------------------------------------
// There is no total upstream timeout by default: a backend that accepts and
// never answers keeps a non-streamed client waiting until the client gives up,
// and keeps a streamed client alive with pings. The client's abort is what
// ends it, and it must end it completely.

test('backend never answers, non-streamed: no answer while it stalls; the client abort cancels upstream', async (t) => {
  const { be, gw } = ctx;
  be.reset();
  be.script = stall();
  const before = (await metrics(gw)).anyclaude_client_disconnects_total;
  const ac = new AbortController();
  let settled = null;
  const p = post(gw, WHOLE, { signal: ac.signal }).then(
    (r) => (settled = r),
    (e) => (settled = e),
  );
  const rec = await waitFor(() => be.lastChat(), 'the upstream request');
  // A bounded look: nothing comes back while the backend is silent.
  await sleep(1500);
  assert.equal(settled, null, `the gateway answered a stalled request: ${JSON.stringify(settled?.text ?? String(settled))}`);
  assert.equal(await metrics(gw).then((m) => m.anyclaude_active_streams), 1, 'one request in flight');
  ac.abort();
  await p;
  assert.equal(settled?.name, 'AbortError', String(settled));
  await waitFor(() => rec.closed, 'the backend to see its connection closed', DEADLINE);
  await waitIdle(gw);
  assert.equal((await metrics(gw)).anyclaude_client_disconnects_total, before + 1);
  await memoryCheck(t, ctx, 'stall non-streamed + client abort', async () => {
    const ac2 = new AbortController();
    const n = be.chatRequests().length;
    const q = post(gw, WHOLE, { signal: ac2.signal }).catch((e) => e);
    await waitFor(() => be.chatRequests().length > n, 'the upstream request', DEADLINE, 5);
    ac2.abort();
    await q;
  }, { concurrency: 20 });
  await waitBackendSettled(be);
  await assertStillServes(ctx);
});

for (const [label, script] of [
  ['before headers', () => stall()],
  ['after headers and the first chunk', () => sse(chunks({ text: ['never'], finish: 'stop' }), { stallAfter: 1 })],
]) {
  test(`backend never answers (${label}), streamed: message_start, pings keep it alive; abort cancels upstream`, async (t) => {
    const { be, gw } = ctx;
    be.reset();
    be.script = script();
    const s = await openStream(gw, STREAM);
    assert.equal(s.status, 200);
    await s.until((ev) => ev.filter((e) => e.event === 'ping').length >= 4, 'four pings while the backend is silent');
    assert.equal(s.events[0].event, 'message_start');
    assert.ok(s.events.every((e) => e.event === 'message_start' || e.event === 'ping'), s.text.slice(0, 500));
    for (const e of s.events.filter((x) => x.event === 'ping')) assert.deepEqual(e.data, { type: 'ping' });
    const rec = be.lastChat();
    assert.equal(rec.closed, false, 'upstream stays open while the client listens');
    s.abort();
    await s.done;
    await waitFor(() => rec.closed, 'the backend to see its connection closed after the abort', DEADLINE);
    await waitIdle(gw);
    await memoryCheck(t, ctx, `stall ${label}, streamed + abort after message_start`, async () => {
      const x = await openStream(gw, STREAM);
      await x.until((ev) => ev.length >= 1, 'message_start');
      x.abort();
      await x.done;
    }, { n: 200, concurrency: 40 });
    await waitBackendSettled(be);
    await assertStillServes(ctx);
  });
}

// ---- slow ------------------------------------------------------------------------

test('backend answers slowly (one chunk per second): the whole answer arrives, with pings in the gaps', async (t) => {
  const { be, gw } = ctx;
  be.reset();
  const desc = { text: ['one ', 'two ', 'three'], finish: 'stop', usage: { prompt_tokens: 3, completion_tokens: 3 } };
  be.script = turn(desc, { gapMs: 1000 });
  const s = await openStream(gw, STREAM);
  await s.done;
  assert.ok(s.ended && !s.error, `stream ended cleanly: ${s.error}`);
  const names = s.events.map((e) => e.event);
  assert.equal(names[0], 'message_start');
  assert.equal(names.at(-1), 'message_stop', names.join(','));
  assert.ok(!names.includes('error'), names.join(','));
  const text = s.events
    .filter((e) => e.event === 'content_block_delta')
    .map((e) => e.data.delta.text)
    .join('');
  assert.equal(text, 'one two three');
  assert.ok(names.filter((n) => n === 'ping').length >= 2, `pings while the backend dribbles: ${names.join(',')}`);
  // non-streamed: the same slow answer, whole
  be.script = turn(desc, { delayMs: 1000 });
  const r = await post(gw, WHOLE);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(JSON.parse(r.text).content, [{ type: 'text', text: 'one two three' }]);
  be.script = turn(desc, { gapMs: 1000 });
  await memoryCheck(t, ctx, 'slow backend (1 chunk/s), streamed', async () => {
    const x = await post(gw, STREAM);
    assert.equal(x.events.at(-1).event, 'message_stop', x.text.slice(-300));
  }, { n: 100, warm: 20, concurrency: 50 });
  await assertStillServes(ctx);
});

// ---- garbage ----------------------------------------------------------------------

const ROLE = chunks({ text: [] })[0];
const GARBAGE = {
  'non-SSE text': ['this is not an event stream\nat all\n\n', 'more words\n\n'],
  'invalid JSON in data:': [ROLE, 'data: {"choices": [ {"delta": nope\n\n', DONE],
  'binary bytes': ['\x00\x01\x02\xff\xfe\x7f binary \x00\n\n', Buffer.from([0xde, 0xad, 0xbe, 0xef, 0, 10, 10]).toString('latin1')],
  'a JSON array in data:': [ROLE, 'data: [1,2,3]\n\n', DONE],
};

for (const [label, events] of Object.entries(GARBAGE)) {
  test(`backend sends garbage (${label}) → streamed: event error api_error; non-streamed: 500 api_error`, async (t) => {
    const { be, gw } = ctx;
    be.script = sse(events);
    assertFailed(await post(gw, STREAM), { type: 'api_error', streamed: true });
    assertFailed(await post(gw, WHOLE), { status: 500, type: 'api_error' });
    await memoryCheck(t, ctx, `garbage (${label})`, async (i) => {
      assertFailed(await post(gw, req(i % 2)), { status: 500, type: 'api_error', streamed: true });
    });
    await assertStillServes(ctx);
  });
}

test('backend answers 200 with a non-JSON body to a non-streamed request → 500 api_error', async () => {
  const { be, gw } = ctx;
  be.script = httpError(200, 'hello, I am not JSON');
  assertFailed(await post(gw, WHOLE), { status: 500, type: 'api_error' });
  be.script = httpError(200, { not: 'a completion' });
  assertFailed(await post(gw, WHOLE), { status: 500, type: 'api_error' });
  await assertStillServes(ctx);
});

// ---- faults below HTTP (a raw TCP backend) ------------------------------------------

test('raw backend faults: not HTTP, closes before headers, resets, dies inside the headers → api_error; no leaks', async (t) => {
  let mode;
  const rb = await startRawBackend((sock) => {
    if (mode === 'not-http') {
      sock.write('\x00\x01\xffGARBAGE THAT IS NOT HTTP\r\n\r\n');
    } else if (mode === 'close-before-headers') {
      sock.destroy();
    } else if (mode === 'reset') {
      sock.resetAndDestroy();
    } else if (mode === 'close-inside-headers') {
      sock.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nx-half: ');
      setImmediate(() => sock.destroy());
    } else if (mode === 'close-inside-body') {
      sock.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{"id":"x",');
      setImmediate(() => sock.destroy());
    }
  });
  const gw = await startGateway({ backend: rb.url, model: 'm', env: memEnv({ ANYCLAUDE_PING_MS: String(PING_MS) }) });
  try {
    const modes = ['not-http', 'close-before-headers', 'reset', 'close-inside-headers', 'close-inside-body'];
    for (mode of modes) {
      for (const streamed of [false, true]) {
        const r = await post(gw, req(streamed));
        const how = assertFailed(r, { status: 500, type: 'api_error', streamed });
        // no status line came: the answer must be an HTTP error, not a stream
        if (['not-http', 'close-before-headers', 'reset'].includes(mode))
          assert.equal(how, 'http', `${mode}: the stream had not started: ${r.text.slice(0, 300)}`);
      }
    }
    await waitIdle(gw);
    await waitFor(() => rb.openSockets === 0, 'the gateway to close every backend connection', DEADLINE);
    let k = 0;
    await memoryCheck(t, { gw }, 'raw backend faults (not HTTP / close / reset)', async () => {
      const i = k++;
      mode = modes[i % modes.length];
      const r = await post(gw, req(i % 2));
      assert.ok(r.status === 500 || r.events?.at(-1)?.event === 'error', r.text.slice(0, 300));
    }, { concurrency: 1 });
    await waitFor(() => rb.openSockets === 0, 'the gateway to close every backend connection', DEADLINE);
    await gw.stopClean();
  } finally {
    await gw.stop();
    await rb.close();
  }
});

// ---- one enormous line ----------------------------------------------------------------

const MB = 1024 * 1024;
test('backend sends a single 10 MB line → error event; memory bounded and back to baseline', async (t) => {
  const { be, gw } = ctx;
  const line10 = 'data: ' + 'A'.repeat(10 * MB) + '\n\n';
  be.script = sse([ROLE, line10, DONE]);
  const r = await post(gw, STREAM);
  assertFailed(r, { type: 'api_error', streamed: true });
  assert.match(r.events.at(-1).data.error.message, /malformed stream data/);
  assert.ok(r.text.length < 64 * 1024, `the error event does not echo the line (${r.text.length} bytes)`);
  // the same line, non-streamed request
  assertFailed(await post(gw, WHOLE), { status: 500, type: 'api_error' });
  // a 10 MB line that never ends: the connection closes inside it
  be.script = sse([ROLE, 'data: ' + 'B'.repeat(10 * MB)]);
  assertFailed(await post(gw, STREAM), { type: 'api_error', streamed: true });
  // a line past the gateway's limit (16 MiB): refused while it arrives
  be.script = sse([ROLE, 'data: ' + 'C'.repeat(100 * MB) + '\n\n', DONE]);
  const rl = await post(gw, STREAM);
  assertFailed(rl, { type: 'api_error', streamed: true });
  assert.match(rl.events.at(-1).data.error.message, /longer than/);
  await waitIdle(gw);
  await waitBackendSettled(be);
  be.script = sse([ROLE, line10, DONE]);
  const base = rssKB(gw.child.pid);
  await memoryCheck(t, ctx, '10 MB SSE line (20 requests)', async () => {
    assertFailed(await post(gw, STREAM), { type: 'api_error', streamed: true });
  }, { n: 20, warm: 5, concurrency: 2 });
  const peak = vmHWM(gw.child.pid);
  t.diagnostic(`10 MB line: VmHWM ${peak} kB (RSS before the 10 MB batches ${base} kB)`);
  // a 100 MB line held whole would take 200 MB (line + data buffers)
  assert.ok(peak < base + 128 * 1024, `peak memory bounded: VmHWM ${peak} kB vs RSS ${base} kB`);
  await assertStillServes(ctx);
});

// ---- the backend hangs up ----------------------------------------------------------------

const CH = chunks({ text: ['Hello', ' wor', 'ld'], finish: 'stop', usage: { prompt_tokens: 3, completion_tokens: 3 } });
// CH: role, Hello, " wor", ld, finish, usage, DONE
const CUTS = {
  'after headers, before any event': sse(CH, { cutAfter: 0 }),
  'mid-line': sse([CH[0], CH[1], 'data: {"id":"chatcmpl-fake","choices":[{"index":0,"delta":{"content":"par'], { cutAfter: 3 }),
  'between events': sse(CH, { cutAfter: 2 }),
  'after finish_reason, before [DONE]': sse(CH, { cutAfter: 5 }),
};

for (const [label, script] of Object.entries(CUTS)) {
  test(`backend closes ${label} → streamed: the text so far, then event error api_error`, async (t) => {
    const { be, gw } = ctx;
    be.reset();
    be.script = script;
    const r = await post(gw, STREAM);
    assertFailed(r, { type: 'api_error', streamed: true });
    assert.equal(be.lastChat().cut, true);
    const text = r.events.filter((e) => e.event === 'content_block_delta').map((e) => e.data.delta.text).join('');
    assert.ok('Hello world'.startsWith(text), `only what the backend sent: ${JSON.stringify(text)}`);
    // non-streamed: same cut → 500
    assertFailed(await post(gw, WHOLE), { status: 500, type: 'api_error' });
    await waitIdle(gw);
    await memoryCheck(t, ctx, `backend closes ${label}`, async (i) => {
      assertFailed(await post(gw, req(i % 2)), { status: 500, type: 'api_error', streamed: true });
    });
    await assertStillServes(ctx);
  });
}

// ---- HTTP errors ----------------------------------------------------------------------------

const MAP = {
  400: [400, 'invalid_request_error'],
  401: [401, 'authentication_error'],
  403: [403, 'permission_error'],
  404: [400, 'invalid_request_error'],
  413: [400, 'invalid_request_error'],
  422: [400, 'invalid_request_error'],
  429: [429, 'rate_limit_error'],
  500: [500, 'api_error'],
  502: [500, 'api_error'],
  503: [529, 'overloaded_error'],
  504: [500, 'api_error'],
  529: [529, 'overloaded_error'],
};

test('backend HTTP errors (JSON and non-JSON bodies, streamed and not) map to the right Anthropic errors', async (t) => {
  const { be, gw } = ctx;
  const failures = [];
  for (const [code, [status, type]] of Object.entries(MAP)) {
    for (const body of [{ error: { message: `json says ${code}`, type: 'x', code: +code } }, `<html><body>plain ${code}</body></html>\n`]) {
      be.script = httpError(+code, body);
      for (const streamed of [false, true]) {
        const r = await post(gw, req(streamed));
        const what = `backend ${code} ${typeof body === 'string' ? 'text' : 'JSON'} ${streamed ? 'streamed' : 'whole'}`;
        try {
          assert.equal(r.status, status, r.text);
          const j = assertErrorBody(r.text, type);
          const want = typeof body === 'string' ? `plain ${code}` : `json says ${code}`;
          assert.ok(j.error.message.includes(want), `the backend's message is passed on: ${j.error.message}`);
        } catch (e) {
          failures.push(`${what}: ${e.message.split('\n')[0]}`);
        }
      }
    }
  }
  assert.deepEqual(failures, []);
  const codes = Object.keys(MAP);
  await memoryCheck(t, ctx, 'backend HTTP errors (all codes, both body kinds)', async (i) => {
    const code = +codes[i % codes.length];
    be.script = httpError(code, i % 4 < 2 ? { error: { message: 'm' } } : 'plain');
    const r = await post(gw, req(i % 2));
    assert.ok(r.status >= 400, r.text);
  }, { concurrency: 1 });
  await assertStillServes(ctx);
});

// Outlier detection (issue 13): a pool member that answers every request
// with a 500 while its health check (GET /v1/models) passes leaves the pool
// after BACKEND_OUTLIER_5XX (5) such answers in a row, and later requests go
// to the healthy member; before, it kept getting its share for good.
test('a pool member failing with 5xx while its health check passes is taken out of the pool', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const bad = await startBackend(httpError(500, { error: { message: 'broken model' } }));
  const good = await startBackend(turn({ text: ['fine'], finish: 'stop' }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-outlier-'));
  const cfg = path.join(dir, 'config.json');
  fs.writeFileSync(cfg, JSON.stringify({
    backends: { bad: { mode: 'openai', url: bad.url, model: 'm' }, good: { mode: 'openai', url: good.url, model: 'm' } },
    routes: [{ when: 'default', to: ['bad', 'good'] }],
    healthCheckMs: 200,
  }));
  const gw = await startGateway({ backend: bad.url, model: 'm', args: ['--config', cfg] });
  try {
    await waitFor(() => bad.requests.some((q) => q.path.startsWith('/v1/models')), 'a health check of the failing member', 10000);
    const statuses = [];
    for (let i = 0; i < 30; i++) {
      // a new conversation each time, so no affinity keeps it on one member
      const body = basicRequest({ system: `conversation ${i}`, messages: [{ role: 'user', content: `q${i}` }] });
      const r = await fetch(`http://127.0.0.1:${gw.port}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      statuses.push(r.status);
      await r.text();
    }
    const badHits = bad.chatRequests().length;
    assert.ok(badHits <= 5, `the failing member got ${badHits} requests (statuses ${statuses.join(',')})`);
    assert.ok(statuses.slice(-10).every((s) => s === 200), `later requests are served: ${statuses.join(',')}`);
    assert.match(gw.stderr, /answered 5 requests in a row with 5xx .*out of its pools/);
  } finally {
    await gw.stop();
    await bad.close();
    await good.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
