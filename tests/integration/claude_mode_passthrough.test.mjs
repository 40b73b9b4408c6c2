// `--mode claude`: the gateway forwards Claude Code's requests to the Claude
// API unchanged and hands the answers back byte for byte (docs/routing.md,
// "The two pass-through modes"). The Claude API is played by a local HTTPS
// upstream (anthropic_backend.mjs) whose self-signed certificate the gateway
// is told to trust with --ca-file.
//
// Checked here: streamed and whole answers reach the client byte-identical,
// with their status and headers; the request reaches the upstream
// byte-identical (body, query string, Anthropic headers); credentials are
// passed through, or replaced by the configured key, and never written to
// stderr, logs or debug-3 traces; TLS certificates are checked; a cut
// upstream stream ends in an `event: error`; a client that hangs up cancels
// the upstream request. Every scenario ends by checking the gateway still
// serves. No wall-clock thresholds: only bounded polls for "eventually".
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startGateway, parseSSE } from '../lib/gateway.mjs';
import { waitFor } from '../lib/openai_backend.mjs';
import { makeSelfSignedCert } from '../lib/tls.mjs';
import { startAnthropicBackend, sseBytes, sseEvent, splitBytes, jsonReply, apiError, stall, textStreamEvents } from '../lib/anthropic_backend.mjs';

// The tests say which credentials and CA the gateway gets; nothing from the
// caller's environment may add one.
for (const v of [
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'ANYCLAUDE_CA_FILE',
  'ANYCLAUDE_CLAUDE_URL',
  'ANYCLAUDE_AUTH_TOKEN',
  'ANYCLAUDE_API_KEY',
  'ANYCLAUDE_DEBUG',
  'ANYCLAUDE_CONFIG',
  'ANYCLAUDE_MODE',
  'ANYCLAUDE_BACKEND',
])
  delete process.env[v];

const TLS = makeSelfSignedCert();
const CLOSE_WAIT = 5000; // bound for "the upstream eventually sees its connection closed"

// Secrets: a random tail makes each one findable anywhere it might leak.
const rand = (n) => crypto.randomBytes(n).toString('base64url').slice(0, n);
function secret(prefix) {
  const tail = rand(40);
  return { value: prefix + tail, tail };
}
const CLIENT_KEY = secret('sk-ant-api03-SECRET');
const CLIENT_OAUTH = secret('sk-ant-oat01-SECRET');
const CONFIGURED_KEY = secret('sk-ant-configured-SECRET');

// ---------------------------------------------------------------- helpers

function tmpDir(tag) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `anyclaude-claude-${tag}-`));
  process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

// A gateway in claude mode in front of `be`, with its own state directory
// (where debug-3 traces go: $XDG_STATE_HOME/anyclaude/traces).
async function startClaude(be, { ca = 'flag', debug = 3, apiKey, args = [], env = {} } = {}) {
  const stateDir = tmpDir('state');
  const argv = [];
  if (ca === 'flag') argv.push('--ca-file', TLS.caFile);
  if (debug !== null) argv.push('--debug', String(debug));
  argv.push(...args);
  const gw = await startGateway({
    backend: be.url,
    mode: 'claude',
    apiKey,
    args: argv,
    env: { XDG_STATE_HOME: stateDir, ...(ca === 'env' ? { ANYCLAUDE_CA_FILE: TLS.caFile } : {}), ...env },
  });
  gw.stateDir = stateDir;
  return gw;
}

// After a describe: its gateway stops cleanly (unless it already exited),
// then its upstream closes.
async function stopRunning(gw, be) {
  try {
    if (gw && !gw.exit) await gw.stopClean();
  } finally {
    if (be) await be.close();
  }
}

// Read a fetch body to its end or its failure: { bytes, error }.
async function readBody(res) {
  const parts = [];
  let error = null;
  try {
    for await (const p of res.body) parts.push(Buffer.from(p));
  } catch (e) {
    error = e;
  }
  return { bytes: Buffer.concat(parts), error };
}

const BASE_HEADERS = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' };

// POST raw bytes through the gateway: { status, headers, bytes, text, error }.
async function post(gw, pathq, body, headers = {}) {
  const res = await fetch(gw.url + pathq, { method: 'POST', headers: { ...BASE_HEADERS, ...headers }, body });
  const { bytes, error } = await readBody(res);
  return { status: res.status, headers: res.headers, bytes, text: bytes.toString('utf8'), error };
}

// Where two byte strings first differ, for a readable failure.
function firstDiff(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
function assertSameBytes(got, want, what) {
  const i = firstDiff(got, want);
  if (i < 0) return;
  const ctx = (b) => JSON.stringify(b.subarray(Math.max(0, i - 60), i + 60).toString('latin1'));
  assert.fail(
    `${what}: bytes differ at offset ${i} (got ${got.length} bytes, want ${want.length})\n` +
      `  got : ${ctx(got)}\n  want: ${ctx(want)}`,
  );
}

// A short, complete Anthropic stream.
function smallStream(text, { id = 'msg_01SmallStream', stop = 'end_turn' } = {}) {
  return textStreamEvents([text], {
    id,
    model: 'claude-sonnet-4-6',
    usage: { input_tokens: 9, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 },
    stop,
    outputTokens: 3,
    ping: '{"type": "ping"}',
  }).join('');
}

async function assertStillServes(gw, be, what = 'after the previous scenario') {
  be.script = sseBytes([smallStream('still ok')]);
  const client = gw.client({ apiKey: 'sk-ant-api03-still-serving' });
  const m = await client.messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'ping' }] }).finalMessage();
  assert.equal(m.content.map((b) => b.text).join(''), 'still ok', `gateway must still serve a stream ${what}`);
  const h = await fetch(gw.url + '/health');
  assert.equal(h.status, 200, `/health ${what}`);
  await h.arrayBuffer();
  assert.equal(gw.exit, null, `gateway must still be running ${what}; stderr:\n${gw.stderr.slice(-3000)}`);
}

// Every file under dir (recursively).
function filesUnder(dir) {
  const out = [];
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

// No secret (nor its random tail) in the gateway's stderr, stdout, or any
// file under its state directory (log, traces).
function assertNoSecrets(gw, secrets) {
  const places = [
    ['stderr', Buffer.from(gw.stderr)],
    ['stdout', Buffer.from(gw.stdout)],
    ...filesUnder(gw.stateDir).map((f) => [f, fs.readFileSync(f)]),
  ];
  const leaks = [];
  for (const [where, data] of places) {
    const text = data.toString('latin1');
    for (const s of secrets) {
      for (const needle of [s.value, s.tail.slice(0, 16), s.tail.slice(-16)]) {
        const i = text.indexOf(needle);
        if (i >= 0) {
          leaks.push(`${where}: ${JSON.stringify(text.slice(Math.max(0, i - 120), i + needle.length + 40))}`);
          break;
        }
      }
    }
  }
  assert.deepEqual(leaks, [], `credentials leaked:\n${leaks.join('\n')}`);
}

// ----------------------------------------------------- a realistic stream

const MODEL = 'claude-sonnet-4-6';
const STREAM_EVENTS = [
  [
    'message_start',
    {
      type: 'message_start',
      message: {
        model: MODEL,
        id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
        type: 'message',
        role: 'assistant',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: 4,
          cache_creation_input_tokens: 312,
          cache_read_input_tokens: 18234,
          cache_creation: { ephemeral_5m_input_tokens: 312, ephemeral_1h_input_tokens: 0 },
          output_tokens: 1,
          service_tier: 'standard',
        },
      },
    },
  ],
  ['ping', '{"type": "ping"}'],
  ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }],
  ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'The user greets me; answer, then check the weather.' } }],
  ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'EqQBCkYIBxgCKkBvR2l0aHViU2lnbmF0dXJlMDEyMzQ1Njc4OQ==' } }],
  ['content_block_stop', { type: 'content_block_stop', index: 0 }],
  ['content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } }],
  ['content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Héllo — naïve café ☕ 日本語' } }],
  ['ping', '{"type": "ping"}'],
  ['content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: ', one moment.' } }],
  ['content_block_stop', { type: 'content_block_stop', index: 1 }],
  ['content_block_start', { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', name: 'get_weather', input: {} } }],
  ['content_block_delta', { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '' } }],
  ['content_block_delta', { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{"city": "Par' } }],
  ['content_block_delta', { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: 'is", "unit": "c"}' } }],
  ['content_block_stop', { type: 'content_block_stop', index: 2 }],
  [
    'message_delta',
    {
      type: 'message_delta',
      delta: { stop_reason: 'tool_use', stop_sequence: null },
      usage: { input_tokens: 4, cache_creation_input_tokens: 312, cache_read_input_tokens: 18234, output_tokens: 87 },
    },
  ],
  ['message_stop', { type: 'message_stop' }],
];
const STREAM_BYTES = Buffer.from(STREAM_EVENTS.map(([n, d]) => sseEvent(n, d)).join(''), 'utf8');
const CHUNK_SIZES = [1, 7, 64, 3, 200, 13, 2, 511, 5, 37, 90, 4];
// Odd sizes, plus cuts forced where a careless relay breaks: inside a
// multi-byte UTF-8 character, between the two newlines ending an event, and
// inside "event:".
const STREAM_CHUNKS = (() => {
  const cuts = new Set();
  let off = 0;
  for (const c of splitBytes(STREAM_BYTES, CHUNK_SIZES)) cuts.add((off += c.length));
  cuts.add(STREAM_BYTES.indexOf(Buffer.from('☕')) + 1);
  cuts.add(STREAM_BYTES.indexOf(Buffer.from('日')) + 2);
  cuts.add(STREAM_BYTES.indexOf(Buffer.from('}\n\nevent: content_block_start')) + 2);
  cuts.add(STREAM_BYTES.indexOf(Buffer.from('event: message_delta')) + 3);
  const sorted = [...cuts].filter((x) => x > 0 && x < STREAM_BYTES.length).sort((a, b) => a - b);
  const out = [];
  let prev = 0;
  for (const x of [...sorted, STREAM_BYTES.length]) {
    out.push(STREAM_BYTES.subarray(prev, x));
    prev = x;
  }
  return out;
})();
const STREAM_GAPS = [0, 3, 0, 1, 7, 0, 2];
// The chunking must really be awkward: some chunk starts inside a UTF-8
// sequence, and some inside the blank line that ends an event.
{
  let off = 0;
  let midUtf8 = false;
  let midBlank = false;
  for (const c of STREAM_CHUNKS.slice(0, -1)) {
    off += c.length;
    if ((STREAM_BYTES[off] & 0xc0) === 0x80) midUtf8 = true;
    if (STREAM_BYTES[off - 1] === 0x0a && STREAM_BYTES[off] === 0x0a) midBlank = true;
  }
  assert.ok(midUtf8 && midBlank, `fixture chunking too tame: midUtf8=${midUtf8} midBlank=${midBlank}`);
}

// ------------------------------------------------------------ the tests

describe('claude mode over HTTPS (--ca-file, --api-key configured, --debug 3)', () => {
  let be;
  let gw;
  before(async () => {
    be = await startAnthropicBackend(null, { tls: { key: TLS.key, cert: TLS.cert } });
    gw = await startClaude(be, { apiKey: CONFIGURED_KEY.value });
  });
  after(() => stopRunning(gw, be));

  test('streaming: the client gets the upstream bytes exactly, with status and headers', async () => {
    be.reset();
    const requestId = 'req_011CStream' + rand(12);
    be.script = sseBytes(STREAM_CHUNKS, {
      gapMs: STREAM_GAPS,
      headers: {
        'request-id': requestId,
        'anthropic-organization-id': 'a1b2c3d4-org',
        'anthropic-ratelimit-input-tokens-remaining': '1999000',
      },
    });
    const body = JSON.stringify({
      model: MODEL,
      max_tokens: 32000,
      stream: true,
      messages: [{ role: 'user', content: 'Hello; what is the weather in Paris?' }],
    });
    const r = await post(gw, '/v1/messages?beta=true', body, { 'x-api-key': CLIENT_KEY.value });
    assert.equal(r.error, null, `stream read failed: ${r.error}`);
    assert.equal(r.status, 200, r.text.slice(0, 500));
    const rec = be.last();
    assert.ok(rec, 'the upstream got the request');
    assert.equal(rec.cut || rec.stalled, false);
    // The client may hold every byte before the upstream's own bookkeeping
    // of its last write has run.
    await waitFor(() => rec.finished, 'the upstream to finish its reply');
    assertSameBytes(rec.sent, STREAM_BYTES, 'what the upstream sent (fixture)');
    assertSameBytes(r.bytes, STREAM_BYTES, 'streamed body the client received');
    assert.equal(r.headers.get('content-type'), 'text/event-stream; charset=utf-8', 'content-type passes through');
    assert.equal(r.headers.get('request-id'), requestId, 'request-id passes through');
    assert.equal(r.headers.get('anthropic-organization-id'), 'a1b2c3d4-org', 'anthropic-* headers pass through');
    assert.equal(r.headers.get('anthropic-ratelimit-input-tokens-remaining'), '1999000', 'anthropic-* headers pass through');
    assert.ok(r.headers.get('anyclaude-backend'), `anyclaude-backend header present; headers: ${JSON.stringify([...r.headers])}`);
    // and it is a well-formed Anthropic stream, unchanged in its events
    const evs = parseSSE(r.text);
    assert.deepEqual(
      evs.map((e) => e.event),
      STREAM_EVENTS.map(([n]) => n),
    );
  });

  test('streaming: the official SDK parses the passed-through stream', async () => {
    be.reset();
    be.script = sseBytes(STREAM_CHUNKS, { gapMs: STREAM_GAPS });
    const client = gw.client({ apiKey: CLIENT_KEY.value });
    const stream = client.messages.stream({
      model: MODEL,
      max_tokens: 32000,
      thinking: { type: 'enabled', budget_tokens: 16000 },
      messages: [{ role: 'user', content: 'Hello; what is the weather in Paris?' }],
    });
    const types = [];
    for await (const ev of stream) types.push(ev.type);
    const m = await stream.finalMessage();
    assert.deepEqual(
      types,
      STREAM_EVENTS.map(([n]) => n).filter((n) => n !== 'ping'),
    );
    assert.equal(m.id, 'msg_01XFDUDYJgAACzvnptvVoYEL');
    assert.equal(m.model, MODEL);
    assert.deepEqual(
      m.content.map((b) => b.type),
      ['thinking', 'text', 'tool_use'],
    );
    assert.equal(m.content[0].thinking, 'The user greets me; answer, then check the weather.');
    assert.equal(m.content[0].signature, 'EqQBCkYIBxgCKkBvR2l0aHViU2lnbmF0dXJlMDEyMzQ1Njc4OQ==');
    assert.equal(m.content[1].text, 'Héllo — naïve café ☕ 日本語, one moment.');
    assert.equal(m.content[2].id, 'toolu_01T1x1fJ34qAmk2tNTrN7Up6');
    assert.equal(m.content[2].name, 'get_weather');
    assert.deepEqual(m.content[2].input, { city: 'Paris', unit: 'c' });
    assert.equal(m.stop_reason, 'tool_use');
    assert.equal(m.usage.cache_read_input_tokens, 18234);
    assert.equal(m.usage.cache_creation_input_tokens, 312);
    assert.equal(m.usage.output_tokens, 87);
    const rec = be.last();
    // This SDK sends its apiKey as Authorization: Bearer; either way the
    // client's own credential is what goes upstream.
    assert.ok(
      rec.headers['x-api-key'] === CLIENT_KEY.value || rec.headers.authorization === `Bearer ${CLIENT_KEY.value}`,
      `client credential upstream: x-api-key=${rec.headers['x-api-key'] !== undefined} authorization=${rec.headers.authorization !== undefined}`,
    );
    assert.equal(rec.json?.thinking?.budget_tokens, 16000);
  });

  test('the request reaches the upstream unchanged: body bytes, query string, Anthropic headers', async () => {
    be.reset();
    be.script = sseBytes([smallStream('ok')]);
    // Odd but valid JSON formatting, escapes and non-ASCII text, and Claude
    // Code's billing-header system block: a gateway that re-serialises or
    // strips anything changes these bytes.
    const body =
      '{"model": "claude-sonnet-4-6",  "max_tokens":32000,\n' +
      ' "system": [{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.328.7c0; cc_entrypoint=cli; cch=7c01f;"},' +
      '{"type":"text","text":"You are Claude Code, Anthropic\\u0027s official CLI for Claude.","cache_control":{"type":"ephemeral"}}],\n' +
      ' "messages":[{"role":"user","content":[{"type":"text","text":"caf\\u00e9 — ünïcödé ☕ \\ud83d\\ude00 \\"quoted\\"","cache_control":{"type":"ephemeral"}}]}],\n' +
      ' "metadata":{"user_id":"user_4f2a_account__session_9b1c"},"temperature":1.0,"tools":[],\t"stream":true,' +
      ' "thinking": {"type": "enabled", "budget_tokens": 31999}}\n';
    const sessionId = crypto.randomUUID();
    const headers = {
      'x-api-key': CLIENT_KEY.value,
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14',
      'anthropic-dangerous-direct-browser-access': 'true',
      'x-app': 'cli',
      'user-agent': 'claude-cli/2.1.328 (external, cli)',
      'x-claude-code-session-id': sessionId,
      'x-stainless-retry-count': '0',
    };
    const r = await post(gw, '/v1/messages?beta=true', body, headers);
    assert.equal(r.status, 200, r.text.slice(0, 500));
    assertSameBytes(r.bytes, Buffer.from(smallStream('ok')), 'client body');
    const msgs = be.scripted();
    assert.equal(msgs.length, 1, `one upstream request: ${msgs.map((x) => x.url).join(', ')}`);
    const rec = msgs[0];
    assert.equal(rec.method, 'POST');
    assert.equal(rec.url, '/v1/messages?beta=true', 'path and query string unchanged');
    assertSameBytes(rec.body, Buffer.from(body, 'utf8'), 'request body the upstream received');
    for (const [k, v] of Object.entries(headers)) assert.equal(rec.headers[k], v, `header ${k} passes through`);
    assert.equal(rec.headers['content-type'], 'application/json');
    assert.equal(rec.headers.host, `127.0.0.1:${be.port}`, 'Host names the upstream, not the gateway');
    assert.equal(rec.headers.authorization, undefined, 'no Authorization added next to the client key');
  });

  test('a large request body (1.5 MB) reaches the upstream byte-identical', async () => {
    be.reset();
    be.script = sseBytes([smallStream('big ok')]);
    const messages = [];
    for (let i = 0; i < 300; i++) {
      messages.push({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i} ` + 'lorem ipsum dolor sit amet ünï ☕ '.repeat(150) });
    }
    messages.push({ role: 'user', content: 'and now?' });
    const body = JSON.stringify({ model: MODEL, max_tokens: 1024, stream: true, messages });
    assert.ok(Buffer.byteLength(body) > 1.5e6, 'fixture is over 1.5 MB');
    const r = await post(gw, '/v1/messages?beta=true', body, { 'x-api-key': CLIENT_KEY.value });
    assert.equal(r.status, 200, r.text.slice(0, 500));
    assertSameBytes(r.bytes, Buffer.from(smallStream('big ok')), 'client body');
    assertSameBytes(be.last().body, Buffer.from(body, 'utf8'), 'large request body at the upstream');
  });

  test('credentials: the client x-api-key goes upstream as it is, and nothing else', async () => {
    be.reset();
    be.script = sseBytes([smallStream('k')]);
    const body = JSON.stringify({ model: MODEL, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'key' }] });
    const r = await post(gw, '/v1/messages?beta=true', body, { 'x-api-key': CLIENT_KEY.value });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    const rec = be.last();
    assert.equal(rec.headers['x-api-key'], CLIENT_KEY.value);
    assert.equal(rec.headers.authorization, undefined);
  });

  test('credentials: the client Authorization: Bearer (OAuth) goes upstream as it is, with no x-api-key', async () => {
    be.reset();
    be.script = sseBytes([smallStream('oauth')]);
    const body = JSON.stringify({ model: MODEL, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'oauth' }] });
    const r = await post(gw, '/v1/messages?beta=true', body, {
      authorization: `Bearer ${CLIENT_OAUTH.value}`,
      'anthropic-beta': 'oauth-2025-04-20,claude-code-20250219',
    });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assertSameBytes(r.bytes, Buffer.from(smallStream('oauth')), 'client body');
    const rec = be.last();
    assert.equal(rec.headers.authorization, `Bearer ${CLIENT_OAUTH.value}`);
    assert.equal(rec.headers['x-api-key'], undefined, 'the configured key must not be added to an OAuth request');
    assert.equal(rec.headers['anthropic-beta'], 'oauth-2025-04-20,claude-code-20250219');
  });

  test('credentials: no client credential → the configured --api-key goes upstream as x-api-key', async () => {
    be.reset();
    be.script = sseBytes([smallStream('configured')]);
    const body = JSON.stringify({ model: MODEL, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'none' }] });
    const r = await post(gw, '/v1/messages', body, {});
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assertSameBytes(r.bytes, Buffer.from(smallStream('configured')), 'client body');
    const rec = be.last();
    assert.equal(rec.headers['x-api-key'], CONFIGURED_KEY.value);
    assert.equal(rec.headers.authorization, undefined);
  });

  test('credentials: the launcher placeholder "anyclaude" is replaced by the configured key', async () => {
    const body = JSON.stringify({ model: MODEL, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'placeholder' }] });
    for (const h of [{ 'x-api-key': 'anyclaude' }, { authorization: 'Bearer anyclaude' }]) {
      be.reset();
      be.script = sseBytes([smallStream('placeholder')]);
      const r = await post(gw, '/v1/messages', body, h);
      assert.equal(r.status, 200, `${JSON.stringify(h)}: ${r.text.slice(0, 300)}`);
      const rec = be.last();
      assert.equal(rec.headers['x-api-key'], CONFIGURED_KEY.value, `client sent ${JSON.stringify(h)}`);
      assert.equal(rec.headers.authorization, undefined, `client sent ${JSON.stringify(h)}: the placeholder must not go upstream`);
    }
  });

  test('a whole JSON answer passes through byte-identical with its status and headers', async () => {
    be.reset();
    const answer =
      '{"model":"claude-sonnet-4-6","id":"msg_01Whole","type":"message","role":"assistant",' +
      '"content":[{"type":"text","text":"Bonjour ☕ — \\u00e9t\\u00e9"}],"stop_reason":"end_turn","stop_sequence":null,' +
      '"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":2048,"output_tokens":5,"service_tier":"standard"}}';
    const requestId = 'req_011CWhole' + rand(10);
    be.script = jsonReply(answer, { headers: { 'request-id': requestId, 'anthropic-organization-id': 'org-whole' } });
    const body = JSON.stringify({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'whole' }] });
    const r = await post(gw, '/v1/messages', body, { 'x-api-key': CLIENT_KEY.value });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assertSameBytes(r.bytes, Buffer.from(answer, 'utf8'), 'whole JSON answer');
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.equal(r.headers.get('request-id'), requestId);
    assert.equal(r.headers.get('anthropic-organization-id'), 'org-whole');
    assert.ok(r.headers.get('anyclaude-backend'), 'anyclaude-backend header present');
    assertSameBytes(be.last().body, Buffer.from(body), 'request body upstream');
    // and through the SDK
    be.script = jsonReply(answer);
    const m = await gw.client({ apiKey: CLIENT_KEY.value }).messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'whole' }] });
    assert.deepEqual(m.content, [{ type: 'text', text: 'Bonjour ☕ — été' }]);
    assert.equal(m.usage.cache_read_input_tokens, 2048);
  });

  test('a gzip-encoded whole answer (upstream honours accept-encoding) still reaches the client intact', async () => {
    be.reset();
    const answer =
      '{"id":"msg_01Gzip","type":"message","role":"assistant","model":"claude-sonnet-4-6",' +
      '"content":[{"type":"text","text":"' + 'compressible '.repeat(200) + '"}],"stop_reason":"end_turn","stop_sequence":null,' +
      '"usage":{"input_tokens":3,"output_tokens":400}}';
    be.script = jsonReply(answer, { gzip: true });
    const body = JSON.stringify({ model: MODEL, max_tokens: 600, messages: [{ role: 'user', content: 'gzip' }] });
    // fetch asks for gzip and decodes it when the answer says content-encoding: gzip
    const r = await post(gw, '/v1/messages', body, { 'x-api-key': CLIENT_KEY.value, 'accept-encoding': 'gzip, deflate' });
    assert.equal(r.error, null, `body read failed: ${r.error}`);
    assert.equal(r.status, 200);
    assertSameBytes(r.bytes, Buffer.from(answer), `decoded answer (upstream gzipped it: ${!!be.last().gzipped}; client content-encoding: ${r.headers.get('content-encoding')})`);
  });

  test('upstream 529 overloaded_error passes through unchanged (single backend: no retry, no fallback)', async () => {
    const errBody = JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' }, request_id: 'req_011COverloaded' });
    for (const stream of [false, true]) {
      be.reset();
      be.script = jsonReply(errBody, { status: 529, headers: { 'x-should-retry': 'true', 'request-id': 'req_011COverloaded' } });
      const body = JSON.stringify({ model: MODEL, max_tokens: 64, stream, messages: [{ role: 'user', content: 'busy?' }] });
      const r = await post(gw, '/v1/messages?beta=true', body, { 'x-api-key': CLIENT_KEY.value });
      assert.equal(r.status, 529, `stream=${stream}: ${r.text.slice(0, 300)}`);
      assertSameBytes(r.bytes, Buffer.from(errBody), `529 body (stream=${stream})`);
      assert.equal(r.headers.get('x-should-retry'), 'true', 'x-should-retry passes through');
      assert.equal(r.headers.get('request-id'), 'req_011COverloaded');
      assert.ok(r.headers.get('anyclaude-backend'), 'anyclaude-backend header present on an error answer');
      assert.equal(be.scripted().length, 1, `stream=${stream}: exactly one upstream request`);
    }
    // The SDK sees an ordinary 529.
    be.reset();
    be.script = jsonReply(errBody, { status: 529 });
    let err;
    try {
      await gw.client({ apiKey: CLIENT_KEY.value }).messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'busy?' }] });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof Anthropic.APIError, String(err));
    assert.equal(err.status, 529);
    assert.equal(err.error?.error?.type, 'overloaded_error');
  });

  test('upstream 429 with retry-after and 400 pass through unchanged', async () => {
    const cases = [
      {
        status: 429,
        type: 'rate_limit_error',
        message: 'This request would exceed the rate limit for your organization of 450,000 input tokens per minute.',
        headers: { 'retry-after': '17', 'x-should-retry': 'true', 'anthropic-ratelimit-input-tokens-reset': '2025-10-01T12:00:17Z' },
      },
      {
        status: 400,
        type: 'invalid_request_error',
        message: 'messages.1.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_01X. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.',
        headers: { 'x-should-retry': 'false' },
      },
      { status: 401, type: 'authentication_error', message: 'invalid x-api-key', headers: {} },
    ];
    for (const c of cases) {
      be.reset();
      const reply = apiError(c.status, c.type, c.message, { headers: c.headers, requestId: 'req_011C' + c.status });
      be.script = reply;
      const body = JSON.stringify({ model: MODEL, max_tokens: 64, stream: true, messages: [{ role: 'user', content: String(c.status) }] });
      const r = await post(gw, '/v1/messages?beta=true', body, { 'x-api-key': CLIENT_KEY.value });
      assert.equal(r.status, c.status, r.text.slice(0, 300));
      assertSameBytes(r.bytes, Buffer.from(reply.body), `${c.status} body`);
      for (const [k, v] of Object.entries(c.headers)) assert.equal(r.headers.get(k), v, `${c.status}: header ${k}`);
      assert.equal(be.scripted().length, 1, `${c.status}: exactly one upstream request`);
    }
    await assertStillServes(gw, be, 'after upstream errors');
  });

  test('count_tokens is forwarded unchanged too', async () => {
    be.reset();
    const answer = '{"input_tokens":2095}';
    be.script = jsonReply(answer, { headers: { 'request-id': 'req_011CCount' } });
    const body = '{"model":"claude-sonnet-4-6","messages":[{"role":"user","content":"count me ☕"}],"tools":[]}';
    const r = await post(gw, '/v1/messages/count_tokens?beta=true', body, {
      'x-api-key': CLIENT_KEY.value,
      'anthropic-beta': 'token-counting-2024-11-01',
    });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    const rec = be.last();
    assert.ok(rec, 'the upstream got the count_tokens request');
    assertSameBytes(rec.body, Buffer.from(body), 'count_tokens body upstream');
    assert.equal(rec.headers['x-api-key'], CLIENT_KEY.value);
    assert.equal(rec.headers['anthropic-beta'], 'token-counting-2024-11-01');
    assertSameBytes(r.bytes, Buffer.from(answer), 'count_tokens answer');
    assert.equal(rec.url, '/v1/messages/count_tokens?beta=true', 'path and query string unchanged');
    assert.equal(r.headers.get('request-id'), 'req_011CCount', 'request-id passes through');
  });

  // Shared by the two cut scenarios: the client gets exactly what the
  // upstream sent, then an Anthropic `event: error` (api_error), never a
  // message_stop; the SDK reports an APIError.
  // midEvent: the cut falls inside an event. Then "the bytes so far" end in
  // a partial event; the error event must still stand as an event of its own
  // (a client parsing the whole stream ends on it), while the SDK may fail on
  // the partial event's JSON before reaching it: it must fail, either way.
  async function checkCut(cutAt, what, { midEvent = false } = {}) {
    be.reset();
    be.script = sseBytes([STREAM_BYTES.subarray(0, cutAt)], { cutAfter: 1 });
    const body = JSON.stringify({ model: MODEL, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'cut' }] });
    const r = await post(gw, '/v1/messages?beta=true', body, { 'x-api-key': CLIENT_KEY.value });
    const rec = be.last();
    assert.equal(rec.cut, true, 'the upstream cut its stream');
    const sent = rec.sent;
    assert.equal(sent.length, cutAt);
    assert.equal(r.status, 200);
    assertSameBytes(r.bytes.subarray(0, sent.length), sent, `${what}: bytes before the cut`);
    const tail = r.bytes.subarray(sent.length).toString('utf8');
    const detail = `${what}: read error=${r.error}; what followed the upstream's bytes: ${JSON.stringify(tail.slice(0, 400))}`;
    assert.ok(!/event: message_stop/.test(tail), detail);
    const all = parseSSE(r.text);
    const last = all.at(-1);
    assert.equal(last?.event, 'error', `${detail}\nlast event of the whole stream as a client parses it: ${JSON.stringify(last)}`);
    assert.equal(last.data?.type, 'error', detail);
    assert.equal(last.data?.error?.type, 'api_error', detail);
    assert.equal(typeof last.data?.error?.message, 'string', detail);
    // The events before it are the upstream's, unchanged.
    const upstreamEvents = parseSSE(sent.toString('utf8')).filter((e) => e.event !== null);
    const complete = sent.toString('utf8').endsWith('\n\n') ? upstreamEvents : upstreamEvents.slice(0, -1);
    assert.deepEqual(
      all.slice(0, complete.length).map((e) => e.event),
      complete.map((e) => e.event),
      detail,
    );

    // The SDK reports it as an error, not as a finished message.
    be.reset();
    be.script = sseBytes([STREAM_BYTES.subarray(0, cutAt)], { cutAfter: 1 });
    const stream = gw.client({ apiKey: CLIENT_KEY.value }).messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'cut' }] });
    let err;
    try {
      await stream.finalMessage();
    } catch (e) {
      err = e;
    }
    assert.ok(err, `${what}: the SDK must not see a finished message`);
    if (!midEvent) {
      assert.ok(err instanceof Anthropic.APIError, `${what}: SDK error ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.error?.error?.type, 'api_error', `${what}: SDK error body ${JSON.stringify(err.error)}`);
    }
    await assertStillServes(gw, be, `after an upstream cut (${what})`);
  }

  test('upstream cut between events: the bytes so far, then event: error (api_error)', async () => {
    // Cut right after the text block's first delta event.
    const s = STREAM_BYTES.toString('utf8');
    const marker = 'naïve café ☕ 日本語"}}\n\n';
    const at = Buffer.byteLength(s.slice(0, s.indexOf(marker) + marker.length));
    await checkCut(at, 'cut at an event boundary');
  });

  test('upstream cut in the middle of an event: the bytes so far, then a parseable event: error', async () => {
    // Cut inside the data line of the text delta, in the middle of "☕".
    const s = STREAM_BYTES.toString('utf8');
    const at = Buffer.byteLength(s.slice(0, s.indexOf('☕'))) + 1;
    await checkCut(at, 'cut mid-event (inside a UTF-8 character)', { midEvent: true });
  });

  test('client hangs up mid-stream: the upstream request is cancelled', async () => {
    be.reset();
    // Three chunks, then the upstream holds the stream open.
    const first = STREAM_BYTES.subarray(0, 700);
    be.script = sseBytes([first.subarray(0, 300), first.subarray(300, 500), first.subarray(500)], { stallAfter: 3 });
    const ac = new AbortController();
    const res = await fetch(gw.url + '/v1/messages?beta=true', {
      method: 'POST',
      headers: { ...BASE_HEADERS, 'x-api-key': CLIENT_KEY.value },
      body: JSON.stringify({ model: MODEL, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hang up' }] }),
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    let got = Buffer.alloc(0);
    while (got.length < first.length) {
      const { value, done } = await reader.read();
      if (done) break;
      got = Buffer.concat([got, Buffer.from(value)]);
    }
    assertSameBytes(got, first, 'bytes before the hang-up');
    const rec = be.last();
    await waitFor(() => rec.stalled, 'the upstream to stall');
    assert.equal(rec.closed, false, 'the upstream connection is open while the client listens');
    ac.abort();
    await reader.cancel().catch(() => {});
    await waitFor(() => rec.closed, 'the upstream to see its connection closed after the client hung up', CLOSE_WAIT);
    await assertStillServes(gw, be, 'after a client hang-up');
  });

  test('client hangs up before the upstream answered: the upstream request is cancelled', async () => {
    be.reset();
    be.script = stall();
    const ac = new AbortController();
    const p = fetch(gw.url + '/v1/messages?beta=true', {
      method: 'POST',
      headers: { ...BASE_HEADERS, 'x-api-key': CLIENT_KEY.value },
      body: JSON.stringify({ model: MODEL, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'never answered' }] }),
      signal: ac.signal,
    }).then(
      async (res) => {
        // The gateway may send its headers before the upstream's: read on.
        const { error } = await readBody(res);
        return error ?? 'completed';
      },
      (e) => e,
    );
    const rec = await waitFor(() => be.last(), 'the upstream request');
    await waitFor(() => rec.stalled, 'the upstream to hold the request');
    assert.equal(rec.closed, false);
    ac.abort();
    const outcome = await p;
    assert.equal(outcome?.name, 'AbortError', `client side: ${outcome}`);
    await waitFor(() => rec.closed, 'the upstream to see its connection closed after the client hung up', CLOSE_WAIT);
    await assertStillServes(gw, be, 'after a hang-up before the answer');
  });

  test('no credential appears in stderr, the log or the debug-3 traces', async () => {
    // Every credential path once more, including error paths, so this test
    // stands on its own; then stop the gateway (flushing everything) and look.
    const marker = 'trace-marker-' + rand(12);
    const body = (stream) => JSON.stringify({ model: MODEL, max_tokens: 64, stream, messages: [{ role: 'user', content: marker }] });
    const runs = [
      [{ 'x-api-key': CLIENT_KEY.value }, sseBytes(splitBytes(smallStream('a'), [17])), true],
      [{ 'x-api-key': CLIENT_KEY.value }, jsonReply('{"id":"msg_x","type":"message","role":"assistant","model":"m","content":[],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}'), false],
      [{ authorization: `Bearer ${CLIENT_OAUTH.value}` }, sseBytes([smallStream('b')]), true],
      [{}, sseBytes([smallStream('c')]), true],
      [{ 'x-api-key': CLIENT_KEY.value }, apiError(401, 'authentication_error', 'invalid x-api-key'), true],
      [{ authorization: `Bearer ${CLIENT_OAUTH.value}` }, apiError(529, 'overloaded_error', 'Overloaded'), true],
      [{ 'x-api-key': CLIENT_KEY.value }, sseBytes([STREAM_BYTES.subarray(0, 900)], { cutAfter: 1 }), true],
    ];
    for (const [h, reply, stream] of runs) {
      be.reset();
      be.script = reply;
      const r = await post(gw, '/v1/messages?beta=true', body(stream), h);
      assert.ok(r.status > 0);
      const rec = be.last();
      assert.ok(rec, `upstream got the request (${JSON.stringify(Object.keys(h))})`);
    }
    const m = await fetch(gw.url + '/metrics', { headers: { 'x-api-key': CLIENT_KEY.value } });
    const metrics = await m.text();
    await gw.stopClean();
    const traces = filesUnder(path.join(gw.stateDir, 'anyclaude', 'traces'));
    assert.ok(traces.length > 0, `debug 3 must write traces under ${gw.stateDir}/anyclaude/traces; stderr:\n${gw.stderr.slice(-2000)}`);
    assert.ok(
      traces.some((f) => fs.readFileSync(f, 'utf8').includes(marker)),
      'the traces record these requests (the prompt marker is in one), so the check below looks at real traces',
    );
    assert.ok(gw.stderr.length > 0);
    assertNoSecrets(gw, [CLIENT_KEY, CLIENT_OAUTH, CONFIGURED_KEY]);
    for (const s of [CLIENT_KEY, CLIENT_OAUTH, CONFIGURED_KEY]) assert.ok(!metrics.includes(s.tail.slice(0, 16)), '/metrics shows no credential');
  });
});

describe('claude mode: key from ANTHROPIC_API_KEY, CA from ANYCLAUDE_CA_FILE', () => {
  const ENV_KEY = secret('sk-ant-envkey-SECRET');
  let be;
  let gw;
  before(async () => {
    be = await startAnthropicBackend(null, { tls: { key: TLS.key, cert: TLS.cert } });
    gw = await startClaude(be, { ca: 'env', env: { ANTHROPIC_API_KEY: ENV_KEY.value } });
  });
  after(() => stopRunning(gw, be));

  test('no client credential → x-api-key from ANTHROPIC_API_KEY; client key still wins; never logged', async () => {
    be.reset();
    be.script = sseBytes(STREAM_CHUNKS, { gapMs: STREAM_GAPS });
    const body = JSON.stringify({ model: MODEL, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'env key' }] });
    const r = await post(gw, '/v1/messages?beta=true', body, {});
    assert.equal(r.status, 200, `TLS with ANYCLAUDE_CA_FILE must work: ${r.text.slice(0, 300)}`);
    assertSameBytes(r.bytes, STREAM_BYTES, 'streamed body');
    assert.equal(be.last().headers['x-api-key'], ENV_KEY.value);
    assert.equal(be.last().headers.authorization, undefined);

    be.reset();
    be.script = sseBytes([smallStream('mine')]);
    const r2 = await post(gw, '/v1/messages?beta=true', body, { 'x-api-key': CLIENT_KEY.value });
    assert.equal(r2.status, 200);
    assert.equal(be.last().headers['x-api-key'], CLIENT_KEY.value);

    await gw.stopClean();
    assert.ok(filesUnder(path.join(gw.stateDir, 'anyclaude', 'traces')).length > 0, 'traces written');
    assertNoSecrets(gw, [ENV_KEY, CLIENT_KEY]);
  });
});

describe('claude mode with --auth-token: the gateway token is never sent upstream', () => {
  const GW_TOKEN = secret('gw-token-SECRET');
  const KEY = secret('sk-ant-configured2-SECRET');
  let be;
  let gw;
  before(async () => {
    be = await startAnthropicBackend(null, { tls: { key: TLS.key, cert: TLS.cert } });
    gw = await startClaude(be, { apiKey: KEY.value, args: ['--auth-token', GW_TOKEN.value] });
  });
  after(() => stopRunning(gw, be));

  test('the client sends the gateway token → the configured key goes upstream instead', async () => {
    const body = JSON.stringify({ model: MODEL, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'token' }] });
    for (const h of [{ 'x-api-key': GW_TOKEN.value }, { authorization: `Bearer ${GW_TOKEN.value}` }]) {
      be.reset();
      be.script = sseBytes([smallStream('t')]);
      const r = await post(gw, '/v1/messages?beta=true', body, h);
      assert.equal(r.status, 200, `${Object.keys(h)}: ${r.text.slice(0, 300)}`);
      const rec = be.last();
      assert.equal(rec.headers['x-api-key'], KEY.value, `client sent the token as ${Object.keys(h)}`);
      assert.equal(rec.headers.authorization, undefined, `client sent the token as ${Object.keys(h)}`);
      assert.ok(!JSON.stringify(rec.rawHeaders).includes(GW_TOKEN.tail), 'gateway token absent from upstream headers');
    }
    // A wrong token is refused by the gateway itself.
    be.reset();
    const r = await post(gw, '/v1/messages?beta=true', body, { 'x-api-key': 'sk-ant-api03-wrong' });
    assert.equal(r.status, 401, r.text);
    assert.equal(JSON.parse(r.text).error.type, 'authentication_error');
    assert.equal(be.scripted().length, 0, 'nothing reaches the upstream');

    await gw.stopClean();
    assertNoSecrets(gw, [GW_TOKEN, KEY]);
  });
});

describe('claude mode: TLS certificates are checked', () => {
  let be;
  let gw;
  before(async () => {
    be = await startAnthropicBackend(null, { tls: { key: TLS.key, cert: TLS.cert } });
    gw = await startClaude(be, { ca: 'none', debug: 1 });
  });
  after(() => stopRunning(gw, be));

  function assertAnthropicError(r, what) {
    const detail = `${what}: status ${r.status}, body ${JSON.stringify(r.text.slice(0, 500))}`;
    assert.ok(r.status >= 400, detail);
    let j;
    try {
      j = JSON.parse(r.text);
    } catch {
      assert.fail(`${detail}: not JSON`);
    }
    assert.equal(j.type, 'error', detail);
    assert.equal(typeof j.error?.type, 'string', detail);
    assert.equal(typeof j.error?.message, 'string', detail);
    assert.ok(j.error.message.length > 0, detail);
    return j;
  }

  test('without --ca-file the self-signed upstream is refused with an Anthropic error; the gateway keeps serving', async () => {
    be.reset();
    be.script = sseBytes([smallStream('must not be seen')]);
    const body = JSON.stringify({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'tls' }] });
    const r = await post(gw, '/v1/messages?beta=true', body, { 'x-api-key': CLIENT_KEY.value });
    assert.equal(r.error, null, `the answer must be complete, not a cut connection: ${r.error}`);
    assertAnthropicError(r, 'non-streaming request');
    assert.equal(be.scripted().length, 0, 'no HTTP request may reach an untrusted upstream');

    // Claude Code streams: the same, as an HTTP error or as a stream whose
    // only event is an Anthropic error.
    const rs = await post(gw, '/v1/messages?beta=true', JSON.stringify({ ...JSON.parse(body), stream: true }), {
      'x-api-key': CLIENT_KEY.value,
    });
    assert.equal(rs.error, null, `the answer must be complete, not a cut connection: ${rs.error}`);
    if (rs.status === 200) {
      const evs = parseSSE(rs.text).filter((e) => e.event !== 'ping');
      assert.equal(evs.at(-1)?.event, 'error', `streaming request: ${rs.text.slice(0, 500)}`);
      assert.equal(evs.at(-1).data?.type, 'error');
      assert.ok(!evs.some((e) => e.event === 'message_stop'), rs.text.slice(0, 500));
    } else {
      assertAnthropicError(rs, 'streaming request');
    }
    assert.equal(be.scripted().length, 0, 'no HTTP request may reach an untrusted upstream');

    // Still alive and answering.
    const h = await fetch(gw.url + '/health');
    assert.equal(h.status, 200);
    await h.arrayBuffer();
    assert.equal(gw.exit, null, `gateway still running; stderr:\n${gw.stderr.slice(-2000)}`);
    const again = await post(gw, '/v1/messages?beta=true', body, { 'x-api-key': CLIENT_KEY.value });
    assertAnthropicError(again, 'a second request');
    assert.equal(be.scripted().length, 0);
  });

  test('the TLS error message says what is wrong (certificate / TLS)', async () => {
    const body = JSON.stringify({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'tls' }] });
    const r = await post(gw, '/v1/messages', body, { 'x-api-key': CLIENT_KEY.value });
    const j = JSON.parse(r.text);
    assert.match(j.error.message, /certificate|SSL|TLS|CA/i, `message: ${j.error.message}`);
  });

  test('the gateway stops cleanly after TLS failures, and with --ca-file the same upstream works', async () => {
    await gw.stopClean();
    const gw2 = await startClaude(be, { ca: 'flag', debug: null });
    try {
      be.reset();
      be.script = sseBytes(STREAM_CHUNKS);
      const body = JSON.stringify({ model: MODEL, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'tls ok' }] });
      const r = await post(gw2, '/v1/messages?beta=true', body, { 'x-api-key': CLIENT_KEY.value });
      assert.equal(r.status, 200, r.text.slice(0, 300));
      assertSameBytes(r.bytes, STREAM_BYTES, 'streamed body with --ca-file');
    } finally {
      await gw2.stopClean();
    }
  });
});
