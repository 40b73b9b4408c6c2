// Routing (docs/routing.md): each request class reaches its route's backend
// with the route's model; fallback happens on refusal and on 429/502/503/504/
// 529 but not on other errors and never once the stream has started; all
// targets down is a 529 that says what to do; pools keep conversations and
// prefixes on one member, move them when a member goes away and use it again
// when it is back; bad route configs are refused at startup.
//
// Every fake backend answers "from NAME", so the answer text, the
// anyclaude-backend header and the fake that recorded the request must agree.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startBackend, chunks, sse, httpError, stall } from '../lib/openai_backend.mjs';
import { rawPost, parseSSE, TOOLS } from '../lib/gateway.mjs';
import {
  SONNET, HAIKU, answerFrom, fleet, deadUrl, oa, writeConfig, startRouted, ask, counts, served,
  expectAPIError, metric, metricsText, metricValue, runServeExpectingExit, startGated, waitFor,
  stopRouted,
} from './routes_lib.mjs';

const LONG_TEXT = 'The quick brown fox jumps over the lazy dog while we read the logs. '.repeat(600); // ~40k chars

function req(extra = {}) {
  return { model: SONNET, max_tokens: 2048, messages: [{ role: 'user', content: 'Hello there' }], ...extra };
}

const BOTH = [
  ['whole', false],
  ['streamed', true],
];

// Send req and check: exactly one chat request, to `want`, carrying `model`;
// the anyclaude-backend header names `want`; the answer is want's.
// `asked` (default { [want]: 1 }) is every chat request the fakes must have got.
async function expectServedBy(fl, client, request, want, model, { stream, headers, what = '', asked } = {}) {
  const before = counts(fl);
  const r = await ask(client, request, { stream, headers });
  const s = served(fl, before);
  const label = `${what} (${stream ? 'streamed' : 'whole'})`;
  assert.deepEqual(s.by, asked ?? { [want]: 1 }, `${label}: upstream chat requests by backend`);
  assert.equal(r.backend, want, `${label}: anyclaude-backend header`);
  assert.equal(r.text, `from ${want}`, `${label}: answer text`);
  const last = fl[want].be.lastChat();
  assert.equal(last.body?.model, model, `${label}: model sent to ${want}`);
  assert.equal(!!last.body?.stream, !!stream, `${label}: upstream stream flag`);
  return r;
}

// ---------------------------------------------------------------------------
describe('each request class reaches its route', () => {
  let fl, gw, client;
  before(async () => {
    fl = await fleet(['bg', 'think', 'long', 'sub', 'def']);
    gw = await startRouted({
      backends: {
        bg: oa(fl.bg.url, 'bg-own'),
        think: oa(fl.think.url, 'think-own'),
        long: oa(fl.long.url, 'long-own'),
        sub: oa(fl.sub.url, 'sub-own'),
        def: oa(fl.def.url, 'def-own'),
      },
      routes: [
        { when: 'background', to: 'bg,route-bg-model' },
        { when: 'thinking', to: 'think,route-think-model' },
        { when: 'longContext', over: 2000, to: 'long' },
        { when: 'subagent', to: 'sub,route-sub-model' },
        { when: 'default', to: 'def' },
      ],
    });
    client = gw.client();
  });
  after(() => stopRouted(gw, fl));

  const CASES = [
    ['background: a Haiku model', req({ model: HAIKU }), undefined, 'bg', 'route-bg-model'],
    ['thinking: type enabled', req({ thinking: { type: 'enabled', budget_tokens: 1024 } }), undefined, 'think', 'route-think-model'],
    // Claude Code 2.1 sends adaptive thinking on every main-loop request: not a thinking request
    ['thinking: type adaptive is the default, not thinking', req({ thinking: { type: 'adaptive' } }), undefined, 'def', 'def-own'],
    ['thinking disabled is not thinking', req({ thinking: { type: 'disabled' } }), undefined, 'def', 'def-own'],
    ['longContext: ~40k chars of prompt, over 2000', req({ messages: [{ role: 'user', content: LONG_TEXT }] }), undefined, 'long', 'long-own'],
    ['subagent: x-claude-code-agent-id', req(), { 'x-claude-code-agent-id': 'agent-1' }, 'sub', 'route-sub-model'],
    ['default: a plain request', req(), undefined, 'def', 'def-own'],
  ];
  for (const [what, request, headers, want, model] of CASES) {
    for (const [how, stream] of BOTH) {
      test(`${what} → ${want} with model ${model} (${how})`, async () => {
        await expectServedBy(fl, client, request, want, model, { stream, headers, what });
      });
    }
  }

  test('/metrics counts requests per backend', async () => {
    const text = await metricsText(gw);
    for (const n of ['bg', 'think', 'long', 'sub', 'def']) {
      assert.equal(
        metricValue(text, 'anyclaude_backend_requests_total', `backend="${n}"`),
        fl[n].be.chatRequests().length,
        `anyclaude_backend_requests_total{backend="${n}"}\n${text}`,
      );
      assert.equal(metricValue(text, 'anyclaude_backend_up', `backend="${n}"`), 1, `anyclaude_backend_up{backend="${n}"}`);
    }
    assert.equal(metricValue(text, 'anyclaude_fallbacks_total', null), 0, 'no fallbacks happened');
  });
});

// ---------------------------------------------------------------------------
describe('routes are tried in the order written', () => {
  let fl;
  before(async () => {
    fl = await fleet(['bg', 'long', 'def']);
  });
  after(async () => fl?.close());

  const backends = () => ({ bg: oa(fl.bg.url, 'bg-own'), long: oa(fl.long.url, 'long-own'), def: oa(fl.def.url, 'def-own') });
  const haikuLong = req({ model: HAIKU, messages: [{ role: 'user', content: LONG_TEXT }] });

  for (const [order, routes, want] of [
    [
      'background before longContext',
      [
        { when: 'background', to: 'bg' },
        { when: 'longContext', over: 2000, to: 'long' },
        { when: 'default', to: 'def' },
      ],
      'bg',
    ],
    [
      'longContext before background',
      [
        { when: 'longContext', over: 2000, to: 'long' },
        { when: 'background', to: 'bg' },
        { when: 'default', to: 'def' },
      ],
      'long',
    ],
    [
      'default first shadows every other route',
      [
        { when: 'default', to: 'def' },
        { when: 'background', to: 'bg' },
        { when: 'longContext', over: 2000, to: 'long' },
      ],
      'def',
    ],
  ]) {
    test(`${order}: a long Haiku request goes to ${want}`, async () => {
      const gw = await startRouted({ backends: backends(), routes });
      try {
        const client = gw.client();
        for (const [, stream] of BOTH) {
          await expectServedBy(fl, client, haikuLong, want, `${want}-own`, { stream, what: `long Haiku, ${order}` });
        }
        if (want !== 'def') {
          // and each class still reaches its own route on its own
          await expectServedBy(fl, client, req({ model: HAIKU }), 'bg', 'bg-own', { what: 'short Haiku' });
          await expectServedBy(fl, client, req({ messages: [{ role: 'user', content: LONG_TEXT }] }), 'long', 'long-own', {
            stream: true,
            what: 'long Sonnet',
          });
          await expectServedBy(fl, client, req(), 'def', 'def-own', { what: 'plain' });
        }
      } finally {
        await gw.stopAll();
      }
    });
  }
});

// ---------------------------------------------------------------------------
describe('fallback', () => {
  let fl, gw, client, gated;
  before(async () => {
    fl = await fleet(['a', 'b', 'c']);
    gated = await startGated();
    gw = await startRouted(
      {
        backends: {
          dead: oa(await deadUrl(), 'dead-own'),
          dead2: oa(await deadUrl(), 'dead2-own'),
          a: oa(fl.a.url, 'a-own'),
          b: oa(fl.b.url, 'b-own'),
          c: oa(fl.c.url, 'c-own'),
          gated: oa(gated.url, 'gated-own'),
          nxdns: oa('http://anyclaude-test-backend.invalid:8080/v1', 'nxdns-own'),
        },
        routes: [
          // DNS failure (.invalid never resolves)
          { when: 'longContext', over: 2000, to: 'nxdns', fallback: ['c'] },
          // a primary that holds its answer until the test releases it
          { when: 'thinking', to: 'gated', fallback: ['b'] },
          // refusal: the primary's port has no listener
          { when: 'background', to: 'dead', fallback: ['b,fb-model'] },
          // order: the first fallback is dead too, the second serves, the third is never asked
          { when: 'subagent', to: 'dead', fallback: ['dead2', 'b', 'c'] },
          // scripted failures of a live primary
          { when: 'default', to: 'a', fallback: ['b'] },
        ],
      },
      { debug: 1 },
    );
    client = gw.client();
  });
  after(() => stopRouted(gw, fl, gated));
  const resetScripts = () => {
    for (const n of ['a', 'b', 'c']) fl[n].be.script = answerFrom(n);
  };

  test('primary refuses the connection → the fallback serves; the log says so; metrics count it', async () => {
    resetScripts();
    const f0 = (await metric(gw, 'anyclaude_fallbacks_total', null)) ?? 0;
    const logFrom = gw.stderr.length;
    for (const [, stream] of BOTH) {
      await expectServedBy(fl, client, req({ model: HAIKU }), 'b', 'fb-model', { stream, what: 'background → dead → b' });
    }
    const log = gw.stderr.slice(logFrom);
    const lines = log.split('\n').filter((l) => /fall(ing )?back/i.test(l));
    assert.ok(lines.length > 0, `the --debug 1 log must mention the fallback; got:\n${log}`);
    assert.ok(
      lines.some((l) => l.includes('dead')),
      `the fallback log line should name the backend that failed ("dead"):\n${lines.join('\n')}`,
    );
    // The first request found "dead" refusing and was passed on; the second
    // may skip it as already down (it left the route until a check passes),
    // which is not counted as passing on.
    const f1 = await metric(gw, 'anyclaude_fallbacks_total', null);
    assert.ok(f1 - f0 >= 1 && f1 - f0 <= 2, `anyclaude_fallbacks_total went from ${f0} to ${f1}`);
    assert.equal(await metric(gw, 'anyclaude_backend_up', 'backend="dead"'), 0, 'a backend that refused is down');
  });

  test('primary host does not resolve (DNS failure) → the fallback serves', async () => {
    resetScripts();
    for (const [, stream] of BOTH) {
      await expectServedBy(fl, client, req({ messages: [{ role: 'user', content: LONG_TEXT }] }), 'c', 'c-own', { stream, what: 'longContext → nxdns → c' });
    }
  });

  test('fallbacks are tried in order: first fallback also dead → the second serves, the third is not asked', async () => {
    resetScripts();
    for (const [, stream] of BOTH) {
      await expectServedBy(fl, client, req(), 'b', 'b-own', {
        stream,
        headers: { 'x-claude-code-agent-id': 'agent-7' },
        what: 'subagent → dead → dead2 → b',
      });
    }
    // expectServedBy checked that only b got a chat request: c, after b, was not asked.
  });

  const RETRYABLE = [
    [429, { error: { message: 'Rate limit reached for requests', type: 'rate_limit_exceeded', code: 'rate_limit_exceeded' } }],
    [502, 'Bad Gateway\n'],
    [503, { error: { message: 'Loading model', type: 'unavailable_error', code: 503 } }],
    [504, 'Gateway Timeout\n'],
    [529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }],
  ];
  for (const [status, body] of RETRYABLE) {
    for (const [how, stream] of BOTH) {
      test(`primary answers ${status} → asked once, then the fallback serves (${how})`, async () => {
        resetScripts();
        fl.a.be.script = httpError(status, body);
        await expectServedBy(fl, client, req(), 'b', 'b-own', { stream, what: `a answers ${status}`, asked: { a: 1, b: 1 } });
      });
    }
  }

  for (const [status, type, body] of [
    [400, 'invalid_request_error', { error: { message: "Invalid value for 'temperature': banana", type: 'invalid_request_error', code: null } }],
    [401, 'authentication_error', { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } }],
    [500, 'api_error', { error: { message: 'The model crashed', type: 'server_error' } }],
  ]) {
    for (const [how, stream] of BOTH) {
      test(`primary answers ${status} → the client gets ${status} ${type}, no fallback (${how})`, async () => {
        resetScripts();
        fl.a.be.script = httpError(status, body);
        const before = counts(fl);
        const p = stream ? client.messages.stream(req()).finalMessage() : client.messages.create(req());
        const e = await expectAPIError(p);
        const detail = `status=${e.status} body=${JSON.stringify(e.error)}`;
        assert.equal(e.status, status, detail);
        assert.equal(e.error?.type, 'error', detail);
        assert.equal(e.error?.error?.type, type, detail);
        assert.equal(e.headers?.get?.('anyclaude-backend'), 'a', 'the error answer names the backend that gave it');
        assert.deepEqual(served(fl, before).by, { a: 1 }, 'only the primary is asked');
      });
    }
  }

  test('primary cuts its stream after a few chunks → event: error, no fallback (SDK)', async () => {
    resetScripts();
    fl.a.be.script = sse(chunks({ text: ['Hello', ' wor', 'ld', '!'], finish: 'stop' }), { cutAfter: 3 });
    const f0 = await metric(gw, 'anyclaude_fallbacks_total', null);
    const before = counts(fl);
    const s = client.messages.stream(req());
    let text = '';
    s.on('text', (t) => (text += t));
    const errors = [];
    s.on('error', (e) => errors.push(e));
    const { response } = await s.withResponse();
    assert.equal(response.headers.get('anyclaude-backend'), 'a');
    const e = await expectAPIError(s.finalMessage());
    assert.equal(e.error?.error?.type, 'api_error', JSON.stringify(e.error));
    assert.equal(text, 'Hello wor', 'the text before the cut is delivered, and nothing from another backend');
    assert.equal(errors.length, 1, 'one error event');
    assert.equal(fl.a.be.lastChat().cut, true, 'the fake cut the stream');
    assert.deepEqual(served(fl, before).by, { a: 1 }, 'no second backend once the stream has started');
    assert.equal(await metric(gw, 'anyclaude_fallbacks_total', null), f0, 'no fallback counted');
  });

  test('primary cuts its stream → the raw SSE ends with event: error, one message_start, nothing from b', async () => {
    resetScripts();
    fl.a.be.script = sse(chunks({ text: ['Hello', ' wor', 'ld', '!'], finish: 'stop' }), { cutAfter: 3 });
    const before = counts(fl);
    const r = await rawPost(gw, '/v1/messages', JSON.stringify({ ...req(), stream: true }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('anyclaude-backend'), 'a');
    const evs = parseSSE(r.text);
    assert.equal(evs.filter((e) => e.event === 'message_start').length, 1, r.text);
    assert.equal(evs.at(-1)?.event, 'error', `the stream must end with an error event:\n${r.text}`);
    assert.equal(evs.at(-1)?.data?.type, 'error', r.text);
    assert.equal(evs.filter((e) => e.event === 'message_stop').length, 0, r.text);
    assert.ok(!r.text.includes('from b'), r.text);
    assert.deepEqual(served(fl, before).by, { a: 1 });
  });

  test('primary stalls after its first chunk → no fallback (client aborts after the first text)', async () => {
    resetScripts();
    fl.a.be.script = sse(chunks({ text: ['first', 'never sent'], finish: 'stop' }), { stallAfter: 2 });
    const before = counts(fl);
    const s = client.messages.stream(req());
    const result = s.finalMessage().then(
      () => 'resolved',
      (e) => e,
    );
    const gotText = new Promise((resolve) => s.on('text', resolve));
    const { response } = await s.withResponse();
    assert.equal(response.headers.get('anyclaude-backend'), 'a');
    assert.equal(await gotText, 'first');
    const rec = fl.a.be.lastChat();
    await waitFor(() => rec.stalled, 'the primary to stall');
    s.abort();
    const r = await result;
    assert.ok(r instanceof Anthropic.APIUserAbortError, `finalMessage after abort: ${r}`);
    await waitFor(() => rec.closed, 'the primary to see its connection closed');
    assert.deepEqual(served(fl, before).by, { a: 1 }, 'a stalled stream is never sent to another backend');
  });

  test('the stream has started (backend connected but silent), then the backend answers 529 → event: error, no fallback', async () => {
    resetScripts();
    const before = counts(fl);
    const body = JSON.stringify({ ...req({ thinking: { type: 'enabled', budget_tokens: 1024 } }), stream: true });
    const ac = new AbortController();
    const resP = fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
      body,
      signal: ac.signal,
    });
    try {
      await gated.whenHeld();
      // The gateway starts the client's stream while a connected backend is
      // silent (see streaming.test.mjs); wait for message_start, bounded.
      const bound = new Promise((_, rej) => setTimeout(() => rej(new Error('no response headers while the backend was silent')), 20000));
      const res = await Promise.race([resP, bound]);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('anyclaude-backend'), 'gated');
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let text = '';
      while (!text.includes('message_start')) {
        const { value, done } = await Promise.race([reader.read(), bound]);
        if (done) break;
        text += dec.decode(value, { stream: true });
      }
      assert.ok(text.includes('event: message_start'), `the client's stream started: ${text}`);
      gated.release(529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += dec.decode(value, { stream: true });
      }
      const evs = parseSSE(text);
      assert.equal(evs.at(-1)?.event, 'error', `the stream ends with an error event:\n${text}`);
      assert.equal(evs.at(-1)?.data?.error?.type, 'overloaded_error', text);
      assert.equal(evs.filter((e) => e.event === 'message_start').length, 1, text);
      assert.ok(!text.includes('from b'), text);
      assert.deepEqual(served(fl, before).by, {}, 'no fallback once the stream has started');
      assert.equal(gated.chatRequests().length, 1);
    } finally {
      ac.abort();
      gated.release(529, 'released');
    }
  });

  test('many requests at once, primary 529 → all served by the fallback', async () => {
    resetScripts();
    fl.a.be.script = httpError(529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    const before = counts(fl);
    const N = 8;
    const all = [];
    for (let i = 0; i < N; i++) {
      const r = req({ messages: [{ role: 'user', content: `parallel ${i}` }] });
      all.push(ask(client, r, { stream: i % 2 === 0 }));
    }
    const rs = await Promise.all(all);
    for (const r of rs) {
      assert.equal(r.backend, 'b');
      assert.equal(r.text, 'from b');
    }
    assert.deepEqual(served(fl, before).by, { a: N, b: N });
  });

  test('the client goes away while the fallback is working → the fallback request is cancelled', async () => {
    resetScripts();
    fl.a.be.script = httpError(503, { error: { message: 'Loading model', type: 'unavailable_error' } });
    fl.b.be.script = stall();
    const before = counts(fl);
    const ac = new AbortController();
    const p = client.messages.create(req(), { signal: ac.signal }).then(
      () => 'resolved',
      (e) => e,
    );
    await waitFor(() => fl.b.be.chatRequests().length > before.b, 'the fallback to get the request');
    const rec = fl.b.be.lastChat();
    ac.abort();
    const r = await p;
    assert.ok(r instanceof Anthropic.APIUserAbortError, String(r));
    await waitFor(() => rec.closed, 'the fallback to see its connection closed after the client left');
    assert.deepEqual(served(fl, before).by, { a: 1, b: 1 });
    resetScripts();
  });

  test('after all that, the route still serves from its primary', async () => {
    resetScripts();
    for (const [, stream] of BOTH) await expectServedBy(fl, client, req(), 'a', 'a-own', { stream, what: 'recovered' });
  });
});

// ---------------------------------------------------------------------------
describe('all targets down', () => {
  let fl, gw, client, d1Port, d2Port;
  const revived = [];
  before(async () => {
    fl = await fleet(['ok', 'x', 'y']);
    const d1 = await deadUrl();
    const d2 = await deadUrl();
    d1Port = Number(new URL(d1).port);
    d2Port = Number(new URL(d2).port);
    gw = await startRouted(
      {
        backends: {
          d1: oa(d1, 'd1-own'),
          d2: oa(d2, 'd2-own'),
          ok: oa(fl.ok.url, 'ok-own'),
          x: oa(fl.x.url, 'x-own'),
          y: oa(fl.y.url, 'y-own'),
        },
        routes: [
          { when: 'background', to: 'ok' },
          { when: 'thinking', to: 'x', fallback: ['y'] },
          { when: 'default', to: 'd1', fallback: ['d2'] },
        ],
        healthCheckMs: 200,
      },
      { debug: 1 },
    );
    client = gw.client();
  });
  after(() => stopRouted(gw, fl, ...revived));

  for (const [how, stream] of BOTH) {
    test(`every target refuses → 529 overloaded_error that names them and says what to do (${how})`, async () => {
      const p = stream ? client.messages.stream(req()).finalMessage() : client.messages.create(req());
      const e = await expectAPIError(p);
      const detail = `status=${e.status} body=${JSON.stringify(e.error)}`;
      assert.equal(e.status, 529, detail);
      assert.equal(e.error?.type, 'error', detail);
      assert.equal(e.error?.error?.type, 'overloaded_error', detail);
      const msg = e.error.error.message;
      assert.ok(msg.includes('d1') || msg.includes(String(d1Port)), `message should name the primary d1: ${msg}`);
      assert.ok(msg.includes('d2') || msg.includes(String(d2Port)), `message should name the fallback d2: ${msg}`);
      assert.match(msg, /\b(start|check|run|fix)/i, `message should say what to do: ${msg}`);
    });
  }

  test('every target answers 529 → the client gets 529 overloaded_error after both were asked', async () => {
    for (const n of ['x', 'y']) fl[n].be.script = httpError(529, { type: 'error', error: { type: 'overloaded_error', message: `${n} is overloaded` } });
    for (const [, stream] of BOTH) {
      const before = counts(fl);
      const r = { ...req(), thinking: { type: 'enabled', budget_tokens: 1024 } };
      const e = await expectAPIError(stream ? client.messages.stream(r).finalMessage() : client.messages.create(r));
      assert.equal(e.status, 529, JSON.stringify(e.error));
      assert.equal(e.error?.error?.type, 'overloaded_error', JSON.stringify(e.error));
      assert.deepEqual(served(fl, before).by, { x: 1, y: 1 }, 'the primary then the fallback');
    }
    for (const n of ['x', 'y']) fl[n].be.script = answerFrom(n);
  });

  test('the gateway keeps serving other routes', async () => {
    for (const [, stream] of BOTH) await expectServedBy(fl, client, req({ model: HAIKU }), 'ok', 'ok-own', { stream, what: 'background' });
  });

  test('the fallback comes back → it serves; then the primary comes back → it serves again', async () => {
    const b2 = await startBackend(answerFrom('d2'), { port: d2Port });
    revived.push(b2);
    const tryOnce = async () => {
      try {
        return await ask(client, req());
      } catch {
        return null;
      }
    };
    const r2 = await waitFor(tryOnce, 'a request to succeed once d2 is back');
    assert.equal(r2.backend, 'd2');
    assert.equal(r2.text, 'from d2');
    assert.equal(b2.lastChat().body.model, 'd2-own');
    const b1 = await startBackend(answerFrom('d1'), { port: d1Port });
    revived.push(b1);
    const r1 = await waitFor(async () => {
      const r = await ask(client, req());
      return r.backend === 'd1' ? r : null;
    }, 'the primary d1 to serve again once it is back');
    assert.equal(r1.text, 'from d1');
    assert.equal(b1.lastChat().body.model, 'd1-own');
  });
});

// ---------------------------------------------------------------------------
// Pools.
const SYS = 'You are the pool test assistant. Answer briefly.';

async function startPool({ healthCheckMs = 200 } = {}) {
  const fl = await fleet(['p1', 'p2', 'p3']);
  const gw = await startRouted(
    {
      backends: { p1: oa(fl.p1.url, 'm-p1'), p2: oa(fl.p2.url, 'm-p2'), p3: oa(fl.p3.url, 'm-p3') },
      routes: [{ when: 'default', to: ['p1', 'p2', 'p3'] }],
      healthCheckMs,
    },
    { debug: 1 },
  );
  return {
    fl,
    gw,
    client: gw.client(),
    async stop() {
      try {
        await gw.stopAll();
      } finally {
        await fl.close();
      }
    },
  };
}

// A conversation: its session id (or none) and its messages so far. turn()
// sends the next request and records which member served it.
class Conv {
  constructor(pool, session, first) {
    this.pool = pool;
    this.session = session;
    this.messages = [{ role: 'user', content: first }];
    this.members = [];
    this.n = 0;
  }
  async turn({ stream = false } = {}) {
    const { fl, client } = this.pool;
    const headers = this.session ? { 'X-Claude-Code-Session-Id': this.session } : undefined;
    const before = counts(fl);
    const body = this.shape
      ? this.shape(this.messages, this.n)
      : { model: SONNET, max_tokens: 1024, system: SYS, tools: TOOLS, messages: this.messages };
    const r = await ask(client, body, { stream, headers });
    const s = served(fl, before);
    const what = `conversation ${this.session ?? '(no session)'} turn ${this.n + 1}`;
    assert.equal(s.names.length, 1, `${what}: exactly one member asked, got ${JSON.stringify(s.by)}`);
    const m = s.names[0];
    assert.equal(s.by[m], 1, `${what}: one request to ${m}`);
    assert.equal(r.backend, m, `${what}: anyclaude-backend header vs the member that got it`);
    assert.equal(r.text, `from ${m}`, what);
    assert.equal(s.last.body.model, `m-${m}`, `${what}: model sent to ${m}`);
    this.members.push(m);
    this.n++;
    this.messages = [...this.messages, { role: 'assistant', content: r.text }, { role: 'user', content: `and then? (${this.n})` }];
    return m;
  }
  get last() {
    return this.members.at(-1);
  }
}

async function upOf(gw, name) {
  return metric(gw, 'anyclaude_backend_up', `backend="${name}"`);
}

// Conversations are placed by a rendezvous hash of their first turn, not by
// load: open conversations made by make(i) (turn 1 each) until every member
// in `names` holds one; returns one conversation per member, in names order.
async function onePerMember(make, names = ['p1', 'p2', 'p3'], max = 40) {
  const by = {};
  for (let i = 0; i < max && Object.keys(by).length < names.length; i++) {
    const c = make(i);
    const m = await c.turn();
    by[m] ??= c;
  }
  assert.deepEqual(Object.keys(by).sort(), [...names].sort(), `${max} new conversations should reach every member`);
  return names.map((n) => by[n]);
}

describe('pools', () => {
  test('conversations spread over the members by rendezvous, each stays on its member, and a second replica agrees', async () => {
    const pool = await startPool();
    let gw2, ownState;
    try {
      const convs = await onePerMember((i) => new Conv(pool, `sess-${i}`, `Conversation ${i}: something of its own.`));
      for (let round = 0; round < 3; round++) {
        for (const c of convs) {
          const m = await c.turn({ stream: round % 2 === 0 });
          assert.equal(m, c.members[0], `conversation ${c.session} must stay on ${c.members[0]}: ${c.members}`);
        }
      }
      // A busy member keeps its conversations: load never splits one.
      // A second gateway with the same config, which has seen none of these
      // conversations, sends each to the same member (no shared state: a
      // state directory of its own, as on another machine; the first
      // gateway's saved warm prefixes would otherwise be prefilled on every
      // member at its start, chat requests this count would see).
      ownState = fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-replica2-'));
      gw2 = await startRouted(
        {
          backends: { p1: oa(pool.fl.p1.url, 'm-p1'), p2: oa(pool.fl.p2.url, 'm-p2'), p3: oa(pool.fl.p3.url, 'm-p3') },
          routes: [{ when: 'default', to: ['p1', 'p2', 'p3'] }],
          healthCheckMs: 200,
        },
        { debug: 1, env: { XDG_STATE_HOME: ownState } },
      );
      const other = { ...pool, gw: gw2, client: gw2.client() };
      for (const c of convs) {
        c.pool = other;
        assert.equal(await c.turn({ stream: true }), c.members[0], `replica 2 agrees on ${c.session}`);
      }
      const text = await metricsText(gw2);
      for (const n of ['p1', 'p2', 'p3']) assert.equal(metricValue(text, 'anyclaude_backend_requests_total', `backend="${n}"`), 1, `replica 2 requests_total for ${n}\n${text}`);
    } finally {
      await gw2?.stopAll();
      if (ownState) fs.rmSync(ownState, { recursive: true, force: true });
      await pool.stop();
    }
  });

  test('a request without a session id goes to the member holding the longest known prefix', async () => {
    const pool = await startPool();
    try {
      const a = new Conv(pool, 'sess-A', 'Refactor the parser, please.');
      const x = await a.turn();
      // Same system, tools and first messages plus a new turn, but no session
      // id: only the prefix can tell where it belongs (least loaded would
      // pick another member: x already has a conversation).
      const b = new Conv(pool, null, 'unused');
      b.messages = a.messages;
      assert.equal(await b.turn({ stream: true }), x, 'the member that served the shorter prefix');
      assert.equal(await b.turn(), x, 'and its next turn too');
    } finally {
      await pool.stop();
    }
  });

  test('a member that refuses connections: its conversation moves (no client error) and stays moved', async () => {
    // Health checks far apart: the refusal itself must take the member out.
    const pool = await startPool({ healthCheckMs: 600000 });
    try {
      const convs = await onePerMember((i) => new Conv(pool, `s-${i}`, `Task ${i + 1}: do something different.`));
      const onP2 = convs.find((c) => c.last === 'p2');
      const others = convs.filter((c) => c !== onP2);
      await pool.fl.p2.be.close();
      const moved = await onP2.turn({ stream: true });
      assert.notEqual(moved, 'p2');
      assert.equal(await upOf(pool.gw, 'p2'), 0, 'a member that refused a connection is down in /metrics');
      assert.equal(await onP2.turn(), moved, 'the moved conversation stays on its new member');
      assert.equal(await onP2.turn({ stream: true }), moved, 'and again');
      for (const c of others) assert.equal(await c.turn(), c.members[0], `conversation ${c.session} is not disturbed`);
    } finally {
      await pool.stop();
    }
  });

  test('a member goes down and comes back on the same port: metrics say so, new conversations use it again', async () => {
    const pool = await startPool({ healthCheckMs: 200 });
    let revived;
    try {
      const convs = await onePerMember((i) => new Conv(pool, `s-${i}`, `Job ${i + 1}: something of its own.`));
      const onP2 = convs.find((c) => c.last === 'p2');
      const port = pool.fl.p2.port;
      await pool.fl.p2.be.close();
      await waitFor(async () => (await upOf(pool.gw, 'p2')) === 0, 'anyclaude_backend_up{backend="p2"} 0 after p2 went away');
      assert.equal(await upOf(pool.gw, 'p1'), 1);
      assert.equal(await upOf(pool.gw, 'p3'), 1);
      const moved = await onP2.turn();
      assert.notEqual(moved, 'p2');
      // New conversations while p2 is down avoid it.
      const during = new Conv(pool, 's-during', 'Job during the outage.');
      assert.notEqual(await during.turn(), 'p2');

      revived = await startBackend(answerFrom('p2'), { port });
      pool.fl.p2.be = revived; // counts()/served() now watch the new server
      await waitFor(async () => (await upOf(pool.gw, 'p2')) === 1, 'anyclaude_backend_up{backend="p2"} 1 after p2 came back');
      assert.ok(
        revived.requests.some((r) => r.method === 'GET'),
        'the gateway health-checked p2 (GET) before marking it up',
      );
      // Back: the conversation returns to p2, its rendezvous member, as it
      // would on every replica (one cold turn), and stays there.
      assert.equal(await onP2.turn({ stream: true }), 'p2', 'the moved conversation goes back to p2 once it is up');
      assert.equal(await onP2.turn(), 'p2', 'and stays');
      const fresh = [];
      for (let i = 0; i < 20; i++) {
        const c = new Conv(pool, `s-new-${i}`, `New job ${i} after p2 came back.`);
        fresh.push(await c.turn());
        if (fresh.at(-1) === 'p2') {
          assert.equal(await c.turn(), 'p2', 'and its follow-up stays on p2');
          break;
        }
      }
      assert.ok(fresh.includes('p2'), `new conversations must be placed on p2 again once it is up; got ${fresh}`);
    } finally {
      await pool.stop();
      if (revived) await revived.close();
    }
  });
  // Claude Code's own request shape: a billing-header system block that
  // changes every request, and a cache_control marker that moves to the last
  // message each turn. Neither may change which member a conversation or a
  // prefix belongs to.
  test('Claude Code-shaped requests (changing billing header, moving cache_control) keep their member', async () => {
    const pool = await startPool();
    let seq = 0;
    const shape = (messages) => {
      seq++;
      return {
        model: SONNET,
        max_tokens: 1024,
        system: [
          { type: 'text', text: `x-anthropic-billing-header: cc_version=2.1.328.7c0; cc_entrypoint=cli; cch=${(0x7c01f + seq * 7919).toString(16)};` },
          { type: 'text', text: "You are Claude Code, Anthropic's official CLI for Claude." },
          { type: 'text', text: SYS, cache_control: { type: 'ephemeral' } },
        ],
        tools: TOOLS,
        messages: messages.map((m, i) => ({
          role: m.role,
          content: [
            i === messages.length - 1
              ? { type: 'text', text: m.content, cache_control: { type: 'ephemeral' } }
              : { type: 'text', text: m.content },
          ],
        })),
      };
    };
    try {
      const convs = await onePerMember((i) => {
        const c = new Conv(pool, `cc-${i}`, `Claude Code task ${i + 1}: something of its own.`);
        c.shape = shape;
        return c;
      });
      for (let round = 0; round < 2; round++)
        for (const c of convs) assert.equal(await c.turn({ stream: round === 0 }), c.members[0], `conversation ${c.session} stays`);
      // The same conversation's messages from a client that sends no session
      // id: the prefix (cache_control elsewhere, another billing block) leads
      // to the same member.
      for (const c of convs) {
        const copy = new Conv(pool, null, 'unused');
        copy.shape = shape;
        copy.messages = c.messages;
        assert.equal(await copy.turn(), c.members[0], `the prefix of ${c.session} is found on ${c.members[0]}`);
      }
    } finally {
      await pool.stop();
    }
  });

  test('a member with a request in flight still gets the conversations that hash to it (load never moves one)', async () => {
    const pool = await startPool();
    const { fl, client } = pool;
    for (const n of ['p1', 'p2', 'p3'])
      fl[n].be.script = (rec) =>
        JSON.stringify(rec.body?.messages ?? '').includes('SLOW')
          ? sse(chunks({ text: ['first', 'never sent'], finish: 'stop' }), { stallAfter: 2 })
          : answerFrom(n)(rec);
    let slow;
    try {
      const before = counts(fl);
      slow = client.messages.stream(
        { model: SONNET, max_tokens: 1024, system: SYS, tools: TOOLS, messages: [{ role: 'user', content: 'SLOW job: takes a while.' }] },
        { headers: { 'X-Claude-Code-Session-Id': 'sess-slow' } },
      );
      const done = slow.finalMessage().then(
        () => 'resolved',
        (e) => e,
      );
      await new Promise((resolve) => slow.on('text', resolve));
      const busy = served(fl, before).names;
      assert.equal(busy.length, 1, JSON.stringify(busy));
      // Every replica must put a conversation on the same member, and no
      // replica sees another's load: the busy member gets its own new
      // conversations too.
      const convs = await onePerMember((i) => new Conv(pool, `sess-q${i}`, `Quick job ${i}.`));
      assert.equal(convs.length, 3, `busy ${busy[0]}`);
      slow.abort();
      assert.ok((await done) instanceof Anthropic.APIUserAbortError);
    } finally {
      slow?.abort();
      await pool.stop();
    }
  });

  test("a pool whose members all answer 503 → every member once, then the route's fallback; a 400 is not retried", async () => {
    const fl = await fleet(['p1', 'p2', 'p3', 'fb']);
    const gw = await startRouted({
      backends: { p1: oa(fl.p1.url, 'm-p1'), p2: oa(fl.p2.url, 'm-p2'), p3: oa(fl.p3.url, 'm-p3'), fb: oa(fl.fb.url, 'm-fb') },
      routes: [{ when: 'default', to: ['p1', 'p2', 'p3'], fallback: ['fb'] }],
      healthCheckMs: 200,
    });
    try {
      const client = gw.client();
      for (const n of ['p1', 'p2', 'p3']) fl[n].be.script = httpError(503, { error: { message: `${n} is loading`, type: 'unavailable_error' } });
      for (const [, stream] of BOTH) {
        await expectServedBy(fl, client, req({ system: SYS }), 'fb', 'm-fb', { stream, what: 'pool all 503', asked: { p1: 1, p2: 1, p3: 1, fb: 1 } });
      }
      for (const n of ['p1', 'p2', 'p3']) fl[n].be.script = httpError(400, { error: { message: 'bad request from ' + n, type: 'invalid_request_error' } });
      const before = counts(fl);
      const e = await expectAPIError(client.messages.create(req({ system: SYS })));
      assert.equal(e.status, 400, JSON.stringify(e.error));
      const s = served(fl, before);
      assert.equal(s.names.length, 1, `a 400 from one member is not passed to another: ${JSON.stringify(s.by)}`);
      assert.equal(e.headers?.get?.('anyclaude-backend'), s.names[0]);
    } finally {
      try {
        await gw.stopAll();
      } finally {
        await fl.close();
      }
    }
  });
});

// ---------------------------------------------------------------------------
describe('bad route configs are refused at startup', () => {
  const base = (routes, extra = {}) => ({
    backends: { a: oa('http://127.0.0.1:9/v1', 'm-a'), b: oa('http://127.0.0.1:9/v1', 'm-b') },
    routes,
    ...extra,
  });
  const CASES = [
    ['no default route', base([{ when: 'background', to: 'a' }]), /default/i, null],
    ['an unknown backend in "to"', base([{ when: 'default', to: 'nosuchbackend' }]), null, 'nosuchbackend'],
    ['an unknown backend in "to" with a model', base([{ when: 'default', to: 'ghostwithmodel,some-model' }]), null, 'ghostwithmodel'],
    ['an unknown backend in a pool', base([{ when: 'default', to: ['a', 'ghostmember'] }]), null, 'ghostmember'],
    ['an unknown backend in "fallback"', base([{ when: 'default', to: 'a', fallback: ['b', 'ghostfallback'] }]), null, 'ghostfallback'],
    ['an empty "to"', base([{ when: 'default', to: [] }]), /\bto\b/, null],
    [
      'affinityField on an anthropic-mode backend',
      { backends: { a: { mode: 'anthropic', url: 'http://127.0.0.1:9', affinityField: 'user' } }, routes: [{ when: 'default', to: 'a' }] },
      null,
      'affinityField',
    ],
    [
      'an unknown affinityField',
      { backends: { a: { ...oa('http://127.0.0.1:9/v1', 'm'), affinityField: 'session' } }, routes: [{ when: 'default', to: 'a' }] },
      /user, prompt_cache_key/,
      'affinityField',
    ],
    [
      'a credential header as affinityHeader',
      { backends: { a: { ...oa('http://127.0.0.1:9/v1', 'm'), affinityHeader: 'Authorization' } }, routes: [{ when: 'default', to: 'a' }] },
      null,
      'affinityHeader',
    ],
    [
      'an unknown "when"',
      base([
        { when: 'sometimes', to: 'a' },
        { when: 'default', to: 'b' },
      ]),
      null,
      'sometimes',
    ],
  ];
  for (const [what, cfg, re, word] of CASES) {
    test(`${what} → serve exits non-zero with a one-line error`, async () => {
      const file = writeConfig(cfg);
      const r = await runServeExpectingExit(file);
      const detail = `exit ${r.code} signal ${r.signal}\nstderr:\n${r.stderr}`;
      assert.equal(r.started, false, `the gateway must not start with ${what}: ${detail}`);
      assert.equal(r.signal, null, detail);
      assert.notEqual(r.code, 0, detail);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line of error: ${detail}`);
      if (re) assert.match(lines[0], re, detail);
      if (word) assert.ok(lines[0].includes(word), `the error should name "${word}": ${detail}`);
      assert.match(lines[0], /rout|when|backend/i, `the error should say it is about the routes: ${detail}`);
      assert.ok(lines[0].includes(file), `the error should name the config file: ${detail}`);
    });
  }
});

// ---------------------------------------------------------------------------
describe('vision: a request carrying an image goes to the vision route', () => {
  let fl, gw, client;
  const PNG = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } };
  before(async () => {
    fl = await fleet(['vl', 'txt']);
    gw = await startRouted({
      backends: { vl: { ...oa(fl.vl.url, 'vl-own'), vision: true }, txt: { ...oa(fl.txt.url, 'txt-own'), vision: false } },
      routes: [
        { when: 'vision', to: 'vl' },
        { when: 'default', to: 'txt' },
      ],
    });
    client = gw.client();
  });
  after(() => stopRouted(gw, fl));

  test('an image in the user turn → vl, sent as an image part', async () => {
    const r = await expectServedBy(fl, client, req({ messages: [{ role: 'user', content: [{ type: 'text', text: 'look' }, PNG] }] }), 'vl', 'vl-own', { what: 'image' });
    assert.ok(r);
    assert.ok(JSON.stringify(fl.vl.be.lastChat().body.messages).includes('image_url'));
  });

  test('an image in a tool result → vl', async () => {
    const messages = [
      { role: 'user', content: 'read logo.png' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'Read', input: { file_path: 'logo.png' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [PNG] }] },
    ];
    await expectServedBy(fl, client, req({ messages, tools: [{ name: 'Read', input_schema: { type: 'object' } }] }), 'vl', 'vl-own', { what: 'tool image' });
  });

  test('text only → txt', async () => {
    await expectServedBy(fl, client, req(), 'txt', 'txt-own', { what: 'text' });
  });
});

test('a text-only backend gets the placeholder, never an image part, and answers', async () => {
  const fl = await fleet(['txt']);
  const gw = await startRouted({ backends: { txt: { ...oa(fl.txt.url, 'txt-own'), vision: false } }, routes: [{ when: 'default', to: 'txt' }] });
  try {
    const PNG = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } };
    const r = await ask(gw.client(), req({ messages: [{ role: 'user', content: [{ type: 'text', text: 'look' }, PNG, { type: 'mystery_block' }] }] }));
    assert.equal(r.text, 'from txt');
    const sent = JSON.stringify(fl.txt.be.lastChat().body.messages);
    assert.ok(!sent.includes('image_url') && !sent.includes('iVBORw0KGgo'), sent);
    assert.ok(sent.includes('An image was left out here'), sent);
    assert.ok(sent.includes('A \\"mystery_block\\" block was left out here'), sent);
  } finally {
    await gw.stopAll();
    await fl.close();
  }
});
