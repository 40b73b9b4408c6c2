// e2e: `--mode claude` with the real Claude Code. anyclaude forwards Claude
// Code's requests to "the Claude API" unchanged, with the user's own
// credential (docs/routing.md, "The two pass-through modes"). The Claude API
// is played by a local HTTPS upstream (tests/lib/anthropic_backend.mjs)
// with a self-signed certificate the gateway trusts through --ca-file.
//
//   1. launcher: `anyclaude --mode claude --backend https://... -p "say hi"`
//      with ANTHROPIC_API_KEY set; the launcher leaves the key to Claude Code.
//   2. `anyclaude serve --mode claude ...` + a separately started `claude -p`
//      (ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY); a recording proxy between them
//      shows exactly what Claude Code sent, to compare with what the upstream
//      got.
//
// Checked: claude exits 0 and prints the upstream's text (and, launched by
// anyclaude, says it took its key from ANTHROPIC_API_KEY); the upstream got
// Claude Code's own x-api-key, the ?beta=true query, the body unchanged (the
// billing-header system block included) and an anthropic-version header; the
// launcher's placeholder never reached it as a credential; the key never
// appears in the gateway's log, traces or output; the gateway's per-request
// log line carries the usage numbers the upstream's stream reported.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startAnthropicBackend, sseBytes, jsonReply, apiError, textStreamEvents } from '../lib/anthropic_backend.mjs';
import { makeSelfSignedCert } from '../lib/tls.mjs';
import { BIN, CLAUDE, makeSandbox, explainFailure, startRecordingProxy, startServe, e2eScope, traceFiles } from '../lib/claude_code.mjs';

const { children, cleanups, sandbox } = e2eScope();

const UPSTREAM_TEXT = 'hello from upstream';
const PROMPT = 'say hi';
const PLACEHOLDER = 'anyclaude'; // the launcher's stand-in credential (src/launcher.c)
// Usage the upstream reports in message_start; the gateway's log line must
// show it (prompt = input + cache_creation + cache_read, cached = cache_read).
const USAGE = { input_tokens: 321, cache_creation_input_tokens: 17, cache_read_input_tokens: 1234, output_tokens: 1 };
const OUTPUT_TOKENS = 6;
const BILLING = 'x-anthropic-billing-header:';

// A user's own API key, with a random tail that can be searched for anywhere
// it might leak (the gateway's redaction masks "sk-..." runs, so a leak of
// the tail alone would still count).
function userKey() {
  const tail = crypto.randomBytes(30).toString('base64url').replace(/[-_]/g, 'x').slice(0, 32);
  return { value: `sk-ant-e2e-SECRET${tail}`, tail };
}

let tlsCache = null;
function tls() {
  tlsCache ??= makeSelfSignedCert();
  return tlsCache;
}

// --- the scripted Claude API ---------------------------------------------------------

function streamReply(model) {
  const id = `msg_e2e${crypto.randomBytes(6).toString('hex')}`;
  return sseBytes(textStreamEvents(['hello ', 'from upstream'], { id, model, usage: USAGE, outputTokens: OUTPUT_TOKENS }));
}

function wholeReply(model) {
  return jsonReply({
    id: `msg_e2e${crypto.randomBytes(6).toString('hex')}`,
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: UPSTREAM_TEXT }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { ...USAGE, output_tokens: OUTPUT_TOKENS },
  });
}

// Every Messages request gets "hello from upstream" (streamed or whole, as
// asked); count_tokens gets a count; anything else a 404.
function upstreamScript(rec) {
  if (rec.method === 'POST' && rec.path === '/v1/messages/count_tokens') return jsonReply({ input_tokens: 42 });
  if (rec.method === 'POST' && rec.path === '/v1/messages') {
    const model = rec.json?.model ?? 'claude-sonnet-4-6';
    return rec.json?.stream ? streamReply(model) : wholeReply(model);
  }
  return apiError(404, 'not_found_error', `anthropic_backend: nothing scripted for ${rec.method} ${rec.path}`);
}

async function startUpstream() {
  const { key, cert } = tls();
  const be = await startAnthropicBackend(upstreamScript, { tls: { key, cert } });
  cleanups.push(() => be.close());
  return be;
}

// --- reading requests ---------------------------------------------------------------

const textOf = (c) =>
  typeof c === 'string' ? c : Array.isArray(c) ? c.map((p) => (typeof p?.text === 'string' ? p.text : '')).join('') : '';

function isMainLoop(body) {
  const users = (Array.isArray(body?.messages) ? body.messages : []).filter((m) => m?.role === 'user');
  return users.some((m) => textOf(m.content).includes(PROMPT));
}

const messagesReqs = (be) => be.requests.filter((r) => r.path === '/v1/messages');

function describeUp(r) {
  const b = r.json ?? {};
  const h = r.headers;
  const cred = h['x-api-key'] ? `x-api-key=${mask(h['x-api-key'])}` : '';
  const auth = h.authorization ? `authorization=${mask(h.authorization)}` : '';
  return (
    `${r.method} ${r.url} -> ${r.status ?? '-'} model=${b.model} stream=${b.stream} msgs=${b.messages?.length ?? '-'} ` +
    `tools=${b.tools?.length ?? 0} ${cred} ${auth} anthropic-version=${h['anthropic-version'] ?? '-'} ` +
    `anthropic-beta=${h['anthropic-beta'] ?? '-'}`
  );
}
const mask = (v) => String(v).replace(/(sk-ant-[a-z0-9]+-)\S+/gi, '$1…');

function upstreamReport(be) {
  return [`upstream requests (${be.requests.length}):`, ...be.requests.map(describeUp), `tls errors: ${be.tlsErrors.join(', ') || '-'}`].join('\n');
}

function clientBodiesFromTraces(traces) {
  const out = [];
  for (const { text } of traces) {
    const m = /^--- client request\n([\s\S]*?)\n(?:--- |$)/m.exec(text);
    if (m) out.push(m[1]);
  }
  return out;
}

// null if `got` (what the upstream received) equals `traced` (a trace's copy
// of what Claude Code sent) except where the trace's redaction put '*'
// runs (it masks anything that looks like a key, e.g. the "sk-notification"
// inside "task-notification"); else where they first differ.
function sameButMasked(got, traced) {
  if (got === traced) return null;
  if (got.length !== traced.length) return `length ${got.length} upstream vs ${traced.length} sent`;
  for (let i = 0; i < got.length; i++) {
    if (got[i] === traced[i] || traced[i] === '*') continue;
    return `at ${i}: upstream ${JSON.stringify(got.slice(i - 40, i + 40))} vs sent ${JSON.stringify(traced.slice(i - 40, i + 40))}`;
  }
  return null;
}

// What the upstream must have seen, whichever way Claude Code was started.
function checkUpstream(be, key) {
  assert.deepEqual(be.tlsErrors, [], 'a TLS handshake with the upstream failed');
  const msgs = messagesReqs(be);
  assert.ok(msgs.length >= 1, 'the upstream received no /v1/messages request');
  const main = msgs.filter((r) => isMainLoop(r.json));
  assert.ok(main.length >= 1, `no /v1/messages request carried the prompt "${PROMPT}"`);

  for (const r of be.requests) {
    const h = r.headers;
    // The user's own key, passed through unchanged; never the placeholder.
    assert.equal(h['x-api-key'], key.value, `${r.method} ${r.url}: x-api-key is not the user's key`);
    for (const [name, v] of Object.entries(h)) {
      const vals = Array.isArray(v) ? v : [v];
      for (const val of vals) {
        assert.notEqual(val, PLACEHOLDER, `${r.method} ${r.url}: header ${name} carries the launcher placeholder`);
        assert.notEqual(val, `Bearer ${PLACEHOLDER}`, `${r.method} ${r.url}: header ${name} carries the launcher placeholder`);
      }
    }
    assert.ok(!/\banyclaude\b/i.test(String(h.authorization ?? '')), `${r.method} ${r.url}: Authorization carries the placeholder`);
    assert.ok(h['anthropic-version'], `${r.method} ${r.url}: no anthropic-version header`);
  }

  for (const r of msgs) {
    assert.equal(r.method, 'POST');
    assert.notEqual(r.json, undefined, `${r.url}: the upstream got a body that is not JSON: ${r.text.slice(0, 200)}`);
  }
  // claude mode does not strip Claude Code's billing-header system block.
  const m = main[0].json;
  assert.ok(Array.isArray(m.system), `main request: system is not a block list: ${JSON.stringify(m.system)?.slice(0, 200)}`);
  assert.ok(
    m.system.some((b) => typeof b?.text === 'string' && b.text.startsWith(BILLING)),
    `main request: the ${BILLING} system block is missing upstream (claude mode must not strip it); system starts: ` +
      JSON.stringify(m.system.map((b) => String(b?.text ?? '').slice(0, 60))),
  );
  return { msgs, main };
}

function checkNoSecret(key, where) {
  for (const [name, text] of Object.entries(where)) {
    assert.ok(!text.includes(key.value), `the user's key appears in ${name}`);
    assert.ok(!text.includes(key.tail), `the tail of the user's key appears in ${name}`);
  }
}

// The per-request line the gateway writes at --debug 1 for a claude-mode answer.
const PROMPT_TOKENS = USAGE.input_tokens + USAGE.cache_creation_input_tokens + USAGE.cache_read_input_tokens;
const usageLine = new RegExp(
  `\\] claude backend=claude model=\\S+ stream=1 prompt=${PROMPT_TOKENS} cached=${USAGE.cache_read_input_tokens} ` +
    `\\([0-9.]+%\\).* out=${OUTPUT_TOKENS} .*stop=end_turn`,
);

// --- 1: the launcher ----------------------------------------------------------------------

test('claude mode, launcher: claude -p reaches the HTTPS upstream with the user key', { timeout: 120_000 }, async (t) => {
  const sb = sandbox(t, 'claude-launch');
  if (!sb) return;
  const be = await startUpstream();
  const key = userKey();
  const env = { ...sb.env, ANTHROPIC_API_KEY: key.value };

  const args = ['--mode', 'claude', '--backend', be.url, '--ca-file', tls().caFile, '--claude', CLAUDE, '--debug', '3'];
  // stream-json: the init message says where Claude Code took its
  // credential from (apiKeySource), the last line is the result.
  args.push('-p', PROMPT, '--output-format', 'stream-json', '--verbose');
  const r = await children.run(BIN, args, { cwd: sb.work, env, timeoutMs: 60_000 });
  const traces = traceFiles(sb.state);

  await explainFailure(
    async () => {
      assert.equal(r.timedOut, false, 'anyclaude did not finish within 60 s');
      assert.equal(r.code, 0, `anyclaude exited ${r.code} (signal ${r.signal})`);
      const lines = r.stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
      const init = lines.find((l) => l.type === 'system' && l.subtype === 'init');
      const out = lines.findLast((l) => l.type === 'result');
      assert.ok(init && out, 'no init message or no result in the stream-json output');
      // The launcher left ANTHROPIC_API_KEY to Claude Code (had it swapped in
      // its placeholder token, this would be "none").
      assert.equal(init.apiKeySource, 'ANTHROPIC_API_KEY', 'Claude Code did not get the user key from the launcher');
      assert.equal(out.is_error, false, 'result is an error');
      assert.equal(out.result, UPSTREAM_TEXT, 'claude did not print the upstream text');

      const { msgs, main } = checkUpstream(be, key);
      // Claude Code authenticating with an API key sends x-api-key only.
      for (const r2 of be.requests) assert.equal(r2.headers.authorization, undefined, `${r2.url}: an Authorization header reached the upstream`);
      // Claude Code 2.1.x calls the beta Messages endpoint (the serve test
      // below sees that on the client side); the query must reach the upstream.
      for (const r2 of msgs) assert.equal(r2.url, '/v1/messages?beta=true', 'the ?beta=true query did not reach the upstream');

      // Body unchanged: each upstream body is byte for byte a body Claude Code
      // sent, as the --debug 3 trace recorded it (apart from what the trace
      // masked with '*').
      assert.ok(traces.length >= msgs.length, `${traces.length} trace file(s) for ${msgs.length} Messages request(s)`);
      const sent = clientBodiesFromTraces(traces);
      assert.ok(sent.length >= 1, 'no client request recorded in the traces');
      for (const r2 of msgs) {
        const diffs = sent.map((c) => sameButMasked(r2.text, c));
        assert.ok(diffs.includes(null), `upstream body differs from every body Claude Code sent: ${diffs.join('; ')}`);
      }
      assert.ok(main.length >= 1);

      // The key never reaches the log, the traces or the output.
      const where = { 'anyclaude.log': sb.log(), stdout: r.stdout, stderr: r.stderr };
      for (const tr of traces) where[`trace ${tr.file}`] = tr.text;
      checkNoSecret(key, where);
      // The log is really there and has the per-request line with the usage.
      assert.match(sb.log(), /gateway on http:\/\/127\.0\.0\.1:\d+ mode=claude/);
      assert.match(sb.log(), usageLine, 'no per-request line with the upstream usage in anyclaude.log');
    },
    () =>
      [
        upstreamReport(be),
        `exit ${r.code} signal ${r.signal} after ${r.ms} ms`,
        `--- stdout ---\n${r.stdout}`,
        `--- stderr ---\n${r.stderr}`,
        `--- anyclaude.log ---\n${sb.log().slice(-6000)}`,
        `--- traces ---\n${traces.map((x) => x.file).join('\n')}`,
      ].join('\n'),
  );

  t.diagnostic(`took ${r.ms} ms; stderr: ${JSON.stringify(r.stderr.trim())}`);
  for (const line of upstreamReport(be).split('\n')) t.diagnostic(`upstream got ${line}`);
});

// --- 2: serve + a separately started claude ---------------------------------------

// Headers Claude Code sends that the gateway must pass on as they are.
const PASSED_HEADERS = ['x-api-key', 'anthropic-version', 'anthropic-beta', 'user-agent', 'x-app', 'anthropic-dangerous-direct-browser-access'];

test('claude mode, serve: a separately started claude -p with its own API key', { timeout: 120_000 }, async (t) => {
  const sb = sandbox(t, 'claude-serve');
  if (!sb) return;
  const be = await startUpstream();
  const key = userKey();
  // The gateway has no key of its own (makeSandbox drops ANTHROPIC_*): what
  // reaches the upstream can only be Claude Code's.
  const gw = await startServe(
    children,
    ['--mode', 'claude', '--backend', be.url, '--ca-file', tls().caFile, '--debug', '1'],
    sb.env,
  );
  const proxy = await startRecordingProxy(gw.port);
  cleanups.push(() => proxy.close());

  const env = { ...sb.env, ANTHROPIC_BASE_URL: `http://127.0.0.1:${proxy.port}`, ANTHROPIC_API_KEY: key.value };
  const r = await children.run(CLAUDE, ['-p', PROMPT, '--output-format', 'json'], { cwd: sb.work, env, timeoutMs: 60_000 });

  await explainFailure(
    async () => {
      assert.equal(r.timedOut, false, 'claude did not finish within 60 s');
      assert.equal(r.code, 0, `claude exited ${r.code} (signal ${r.signal})`);
      const out = JSON.parse(r.stdout);
      assert.equal(out.is_error, false, 'result is an error');
      assert.equal(out.result, UPSTREAM_TEXT, 'claude did not print the upstream text');

      const { msgs } = checkUpstream(be, key);
      // What Claude Code sent to the gateway, request by request, is what the
      // upstream got: same path and query, same body, same Anthropic headers.
      const clientMsgs = proxy.seen.filter((s) => s.url.split('?')[0] === '/v1/messages');
      assert.equal(msgs.length, clientMsgs.length, 'the upstream did not get one request per client Messages request');
      for (let i = 0; i < msgs.length; i++) {
        const c = clientMsgs[i];
        const u = msgs[i];
        assert.equal(c.headers['x-api-key'], key.value, 'Claude Code did not send ANTHROPIC_API_KEY as x-api-key');
        assert.equal(u.url, c.url, 'path or query changed on the way to the upstream');
        assert.deepEqual(u.json, c.body, 'the body changed on the way to the upstream');
        for (const h of PASSED_HEADERS)
          if (c.headers[h] !== undefined) assert.equal(u.headers[h], c.headers[h], `header ${h} changed on the way to the upstream`);
        // No credential the client did not send.
        if (c.headers.authorization === undefined)
          assert.equal(u.headers.authorization, undefined, 'an Authorization header the client did not send reached the upstream');
      }
      assert.ok(
        clientMsgs.some((c) => c.url === '/v1/messages?beta=true'),
        `Claude Code sent no /v1/messages?beta=true request: ${clientMsgs.map((c) => c.url).join(', ')}`,
      );
      // Every answer the gateway gave Claude Code was a 2xx.
      const bad = proxy.seen.filter((s) => !(s.status >= 200 && s.status < 300));
      assert.deepEqual(bad.map((s) => `${s.method} ${s.url} ${s.status}`), [], 'the gateway refused some requests');

      // The gateway's --debug 1 line for the main request shows the upstream's usage.
      assert.match(gw.out(), usageLine, 'no per-request line with the upstream usage on the gateway stderr');
      checkNoSecret(key, { 'gateway stderr': gw.out() });
      assert.equal(gw.child.exitCode, null, 'the gateway died during the run');
    },
    () =>
      [
        upstreamReport(be),
        `claude -> gateway:\n${proxy.summary()}`,
        `exit ${r.code} signal ${r.signal} after ${r.ms} ms`,
        `--- stdout ---\n${r.stdout}`,
        `--- stderr ---\n${r.stderr}`,
        `--- gateway output ---\n${gw.out().slice(-6000)}`,
      ].join('\n'),
  );

  t.diagnostic(`claude took ${r.ms} ms; stderr: ${JSON.stringify(r.stderr.trim())}`);
  for (const s of proxy.seen) {
    const h = { ...s.headers };
    if (h['x-api-key']) h['x-api-key'] = mask(h['x-api-key']);
    if (h.authorization) h.authorization = mask(h.authorization);
    t.diagnostic(`claude sent ${s.method} ${s.url} headers ${JSON.stringify(h)}`);
  }
  for (const line of upstreamReport(be).split('\n')) t.diagnostic(`upstream got ${line}`);
  for (const line of gw.out().trim().split('\n')) t.diagnostic(`gateway: ${line}`);
});
