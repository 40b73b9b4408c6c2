// Rolling restarts (docs/scaling.md): on SIGTERM `anyclaude serve` stops
// accepting at once, lets the streams in flight finish, and exits 0; past
// --drain-timeout it ends each stream left with an `event: error`; a
// kept-alive connection's /health answers 503 draining; a second signal
// ends at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startBackend, chunks, sse, waitFor } from '../lib/openai_backend.mjs';
import { startGateway, parseSSE } from '../lib/gateway.mjs';

const BODY = (i) =>
  JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 256, stream: true, messages: [{ role: 'user', content: `stream ${i}` }] });

// Start a streamed request; resolves { status, text, events, done } where
// `first` resolves once the first text delta is in and `done` once the
// stream ended (its whole text).
function openStream(gw, i) {
  const out = { text: '' };
  let onFirst;
  out.first = new Promise((r) => (onFirst = r));
  out.done = (async () => {
    const res = await fetch(gw.url + '/v1/messages', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'k' },
      body: BODY(i),
    });
    out.status = res.status;
    const dec = new TextDecoder();
    for await (const chunk of res.body) {
      out.text += dec.decode(chunk, { stream: true });
      if (out.text.includes('text_delta')) onFirst();
    }
    onFirst();
    out.events = parseSSE(out.text);
    return out;
  })();
  return out;
}

function refused(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e) => resolve(e.code === 'ECONNREFUSED'));
  });
}

// A raw keep-alive connection: send(req) resolves the next whole response
// (head and body by Content-Length).
function keepAlive(port) {
  const s = net.connect(port, '127.0.0.1');
  let buf = '';
  let want = null;
  s.setEncoding('utf8');
  s.on('data', (d) => {
    buf += d;
    want?.();
  });
  const opened = new Promise((r) => s.once('connect', r));
  return {
    opened,
    async get(path) {
      s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
      for (;;) {
        const i = buf.indexOf('\r\n\r\n');
        if (i >= 0) {
          const head = buf.slice(0, i);
          const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (buf.length >= i + 4 + len) {
            const body = buf.slice(i + 4, i + 4 + len);
            buf = buf.slice(i + 4 + len);
            return { status: Number(head.split(' ')[1]), head, body };
          }
        }
        await new Promise((r) => (want = r));
      }
    },
    close: () => s.destroy(),
  };
}

const TEXT = ['one ', 'two ', 'three ', 'four ', 'five ', 'six'];

test('SIGTERM with three streams in flight: refused at once, all three finish with message_stop, exit 0', async () => {
  // each stream takes ~1.5 s after its first piece
  const be = await startBackend(sse(chunks({ text: TEXT, finish: 'stop', usage: { prompt_tokens: 5, completion_tokens: 6 } }), { gapMs: 250 }));
  const gw = await startGateway({ backend: be.url, args: ['--drain-timeout', '20'] });
  const ka = keepAlive(gw.port);
  try {
    await ka.opened;
    assert.equal((await ka.get('/health')).status, 200);
    const streams = [0, 1, 2].map((i) => openStream(gw, i));
    await Promise.all(streams.map((s) => s.first));
    const t0 = Date.now();
    gw.child.kill('SIGTERM');
    await waitFor(() => refused(gw.port), 'new connections refused after SIGTERM', 5000);
    // the kept-alive connection learns of the drain, then closes
    const h = await ka.get('/health');
    assert.equal(h.status, 503, h.head);
    assert.equal(JSON.parse(h.body).status, 'draining', h.body);
    assert.match(h.head, /connection: close/i);
    for (const s of await Promise.all(streams.map((x) => x.done))) {
      assert.equal(s.status, 200);
      const types = s.events.map((e) => e.event);
      assert.equal(types.at(-1), 'message_stop', s.text);
      assert.ok(!types.includes('error'), s.text);
      const text = s.events
        .filter((e) => e.event === 'content_block_delta')
        .map((e) => e.data.delta.text)
        .join('');
      assert.equal(text, TEXT.join(''));
    }
    const e = await gw.wait(20000);
    assert.deepEqual({ code: e.code, signal: e.signal }, { code: 0, signal: null }, gw.stderr);
    assert.ok(Date.now() - t0 < 20000, 'exited before the deadline');
    assert.match(gw.stderr, /draining/);
  } finally {
    ka.close();
    await gw.stop();
    await be.close();
  }
});

test('past --drain-timeout each stream left ends with event: error (overloaded_error); exit 0', async () => {
  const be = await startBackend(sse(chunks({ text: TEXT, finish: 'stop' }), { stallAfter: 2 }));
  const gw = await startGateway({ backend: be.url, args: ['--drain-timeout', '1'] });
  try {
    const streams = [0, 1, 2].map((i) => openStream(gw, i));
    await Promise.all(streams.map((s) => s.first));
    const t0 = Date.now();
    gw.child.kill('SIGTERM');
    const exit = await new Promise((r) => gw.child.once('exit', (code, signal) => r({ code, signal })));
    const took = Date.now() - t0;
    assert.deepEqual(exit, { code: 0, signal: null }, gw.stderr);
    assert.ok(took >= 900, `waited for the deadline (${took} ms)`);
    assert.ok(took < 15000, `not much longer than the deadline (${took} ms)`);
    for (const s of await Promise.all(streams.map((x) => x.done))) {
      const last = s.events.at(-1);
      assert.equal(last.event, 'error', s.text);
      assert.equal(last.data.error.type, 'overloaded_error', s.text);
      assert.match(last.data.error.message, /drain deadline/);
      assert.ok(s.text.endsWith('\n\n'), 'the chunked reply ends after the error event');
    }
    await waitFor(() => be.chatRequests().length === 3 && be.chatRequests().every((r) => r.closed), 'upstream requests cancelled', 5000).catch((e) => assert.fail(`${e.message}: ${JSON.stringify(be.requests.map((r) => [r.method, r.path, r.closed]))}`));
  } finally {
    await gw.stop();
    await be.close();
  }
});

test('a second signal ends at once, streams ending with event: error', async () => {
  const be = await startBackend(sse(chunks({ text: TEXT, finish: 'stop' }), { stallAfter: 2 }));
  const gw = await startGateway({ backend: be.url, args: ['--drain-timeout', '600'] });
  try {
    const streams = [0, 1].map((i) => openStream(gw, i));
    await Promise.all(streams.map((s) => s.first));
    gw.child.kill('SIGTERM');
    await waitFor(() => refused(gw.port), 'refused after SIGTERM', 5000);
    gw.child.kill('SIGINT');
    const exit = await new Promise((r) => gw.child.once('exit', (code, signal) => r({ code, signal })));
    assert.deepEqual(exit, { code: 0, signal: null }, gw.stderr);
    for (const s of await Promise.all(streams.map((x) => x.done))) {
      assert.equal(s.events.at(-1).event, 'error', s.text);
    }
    assert.match(gw.stderr, /again: stopping now/);
  } finally {
    await gw.stop();
    await be.close();
  }
});

test('SIGTERM with nothing in flight: exits 0 at once', async () => {
  const be = await startBackend(sse(chunks({ text: ['x'], finish: 'stop' })));
  const gw = await startGateway({ backend: be.url });
  try {
    const t0 = Date.now();
    const e = await gw.stop(10000);
    assert.deepEqual({ code: e.code, signal: e.signal }, { code: 0, signal: null }, gw.stderr);
    assert.ok(Date.now() - t0 < 5000);
  } finally {
    await be.close();
  }
});
