// Exposure and secrets: the gateway listens on loopback unless told
// otherwise, refuses a non-loopback address without --auth-token, enforces
// the token, and never writes the backend key, the auth token or a client's
// own key to its log or its --debug 3 traces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startBackend, sse, chunks, httpError, turn, waitFor } from '../lib/openai_backend.mjs';
import { startGateway, spawnBin, freePort, basicRequest, BIN, ROOT, MODEL } from '../lib/gateway.mjs';
import { canConnect } from '../lib/net.mjs';
import { DEADLINE, post, assertErrorBody, assertFailed, OK_TURN, tcpSockets, tmpdir } from '../lib/fault.mjs';

// An environment without the gateway's own variables, so that the default
// host is really the default.
function cleanEnv(extra = {}) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(ANYCLAUDE_|OPENAI_|MLX_LM_|LMSTUDIO_|LLAMACPP_)/.test(k)) delete env[k];
  env.XDG_CONFIG_HOME = tmpdir('anyclaude-fault-cfg-');
  env.XDG_STATE_HOME = tmpdir('anyclaude-fault-state-');
  return { ...env, ...extra };
}

// Run `anyclaude serve ...`; resolves when it exits or listens on port.
async function spawnServe(args, env, port) {
  const p = spawnBin(['serve', ...args], { env });
  await waitFor(async () => p.exit || (p.output.includes('listening') && (await canConnect(port))), 'the gateway to listen or exit', DEADLINE, 20);
  return p;
}

// Listening TCP sockets on `port` from /proc/net/tcp{,6}: local addresses.
function listeners(port) {
  const out = [];
  for (const c of tcpSockets()) {
    if (c.length < 4 || c[3] !== '0A') continue; // LISTEN
    const [addr, p] = c[1].split(':');
    if (parseInt(p, 16) === port) out.push(addr);
  }
  return out;
}

function nonLoopbackIPv4() {
  for (const list of Object.values(os.networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return null;
}

// ---- listen address ----------------------------------------------------------------

test('by default the gateway listens on 127.0.0.1 only', async (t) => {
  const be = await startBackend(OK_TURN);
  const port = await freePort();
  const g = await spawnServe(['--port', String(port), '--mode', 'openai', '--backend', be.url, '--model', 'm'], cleanEnv(), port);
  try {
    assert.equal(g.exit, null, `did not start: ${g.output}`);
    assert.match(g.output, new RegExp(`listening on http://127\\.0\\.0\\.1:${port}\\b`), g.output);
    assert.deepEqual(listeners(port), ['0100007F'], 'one listening socket, on 127.0.0.1 (/proc/net/tcp)');
    assert.ok(await canConnect(port, '127.0.0.1'));
    const other = nonLoopbackIPv4();
    if (other) assert.equal(await canConnect(port, other), false, `reachable on ${other}`);
    else t.diagnostic('no non-loopback IPv4 address on this machine: checked /proc/net/tcp only');
    const r = await post({ url: `http://127.0.0.1:${port}` }, basicRequest());
    assert.equal(r.status, 200, r.text);
  } finally {
    await g.stop();
    await be.close();
  }
});

for (const [label, args, env] of [
  ['--host 0.0.0.0', ['--host', '0.0.0.0'], {}],
  ['ANYCLAUDE_HOST=0.0.0.0', [], { ANYCLAUDE_HOST: '0.0.0.0' }],
  ['--host ::', ['--host', '::'], {}],
]) {
  test(`${label} without --auth-token refuses to start, naming --auth-token`, async () => {
    const port = await freePort();
    const g = await spawnServe(['--port', String(port), '--mode', 'openai', '--backend', 'http://127.0.0.1:9/v1', '--model', 'm', ...args], cleanEnv(env), port);
    const exit = g.exit ?? (await g.stop());
    assert.notEqual(exit.code, 0, `exit ${JSON.stringify(exit)}: ${g.output}`);
    assert.equal(exit.signal, null, `exit ${JSON.stringify(exit)}`);
    assert.match(g.output, /--auth-token/, g.output);
    assert.equal(await canConnect(port), false, 'nothing listens');
  });
}

test('--host 0.0.0.0 with --auth-token starts, on all addresses, and enforces the token', async () => {
  const be = await startBackend(OK_TURN);
  const port = await freePort();
  const g = await spawnServe(['--port', String(port), '--host', '0.0.0.0', '--auth-token', 'tok-0000-open', '--mode', 'openai', '--backend', be.url, '--model', 'm'], cleanEnv(), port);
  try {
    assert.equal(g.exit, null, g.output);
    assert.deepEqual(listeners(port), ['00000000']);
    const gw = { url: `http://127.0.0.1:${port}` };
    assertErrorBody((await post(gw, basicRequest())).text, 'authentication_error');
    assert.equal((await post(gw, basicRequest(), { headers: { 'x-api-key': 'tok-0000-open' } })).status, 200);
  } finally {
    await g.stop();
    await be.close();
  }
});

// ---- the auth token ------------------------------------------------------------------------

test('--auth-token: missing or wrong → 401 authentication_error (nothing goes upstream); x-api-key or Bearer pass', async () => {
  const TOKEN = 'gw-tok-7Hq2Lx9Vb4Nm1Rz8';
  const be = await startBackend(OK_TURN);
  const gw = await startGateway({ backend: be.url, model: 'm', args: ['--auth-token', TOKEN] });
  try {
    const bad = [
      ['no credentials', {}],
      ['wrong x-api-key', { 'x-api-key': 'wrong' }],
      ['wrong Bearer', { authorization: 'Bearer wrong' }],
      ['a prefix of the token', { 'x-api-key': TOKEN.slice(0, -1) }],
      ['the token plus a byte', { 'x-api-key': TOKEN + 'x' }],
      ['the token in another case', { 'x-api-key': TOKEN.toUpperCase() }],
      ['Bearer without a space', { authorization: `Bearer${TOKEN}` }],
      ['Basic scheme', { authorization: `Basic ${TOKEN}` }],
      ['empty x-api-key', { 'x-api-key': '' }],
    ];
    for (const [label, h] of bad) {
      for (const body of [basicRequest(), basicRequest({ stream: true })]) {
        const res = await fetch(`${gw.url}/v1/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...h },
          body: JSON.stringify(body),
        });
        const text = await res.text();
        assert.equal(res.status, 401, `${label}: ${text}`);
        assertErrorBody(text, 'authentication_error', label);
      }
    }
    for (const [p, method, body] of [
      ['/v1/messages/count_tokens', 'POST', JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }] })],
      ['/v1/models', 'GET'],
      ['/metrics', 'GET'],
    ]) {
      const res = await fetch(gw.url + p, { method, body, headers: { 'content-type': 'application/json', 'x-api-key': 'wrong' } });
      assert.equal(res.status, 401, `${method} ${p}`);
      assertErrorBody(await res.text(), 'authentication_error', p);
    }
    assert.equal(be.chatRequests().length, 0, 'no unauthenticated request went upstream');
    // the right token, both ways, through the official SDK
    const viaKey = new Anthropic({ baseURL: gw.url, apiKey: TOKEN, maxRetries: 0 });
    const viaBearer = new Anthropic({ baseURL: gw.url, apiKey: null, authToken: TOKEN, maxRetries: 0 });
    for (const c of [viaKey, viaBearer]) {
      const m = await c.messages.create(basicRequest());
      assert.deepEqual(m.content, [{ type: 'text', text: 'still ok' }]);
      const s = await c.messages.stream(basicRequest()).finalMessage();
      assert.deepEqual(s.content, [{ type: 'text', text: 'still ok' }]);
      assert.ok((await c.messages.countTokens({ model: MODEL, messages: [{ role: 'user', content: 'x' }] })).input_tokens > 0);
    }
    const wrong = new Anthropic({ baseURL: gw.url, apiKey: 'nope', maxRetries: 0 });
    await assert.rejects(wrong.messages.create(basicRequest()), (e) => e instanceof Anthropic.AuthenticationError);
    await gw.stopClean();
  } finally {
    await gw.stop();
    await be.close();
  }
});

// ---- secrets in logs and traces -----------------------------------------------------------

const BACKEND_KEY = 'sk-test-SECRET1234567890';
const AUTH_TOKEN = 'gw-auth-Tq8Zp3Wm6Yx1Kc5V';
const CLIENT_KEY = 'sk-ant-api03-CLIENTkey-Ab12Cd34Ef56';
const BACKEND_KEY2 = 'gsk_live_SECRET2_9f8e7d6c5b4a'; // not sk-: only the exact-secret rule covers it

function allFiles(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...allFiles(p));
    else out.push(p);
  }
  return out;
}

// Where does any of the needles (each secret and its first 12 characters)
// occur? Returns ["file: needle", ...].
function findSecrets(sources, secrets) {
  const needles = [...new Set(secrets.flatMap((s) => [s, s.slice(0, 12)]))];
  const hits = [];
  for (const [name, text] of sources) for (const n of needles) if (text.includes(n)) hits.push(`${name}: ${n}`);
  return hits;
}

test('--debug 3: the backend key, the auth token and the client key appear in no log line and no trace file', async () => {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-fault-secrets-'));
  // The backend answers normally, then (as some OpenAI-compatible servers
  // do) echoes the key it was given in a 401 and in a streamed error.
  const echo = `Incorrect API key provided: ${BACKEND_KEY}`;
  const be = await startBackend([
    turn({ text: ['still ok'], finish: 'stop' }),
    turn({ text: ['still ok'], finish: 'stop' }),
    turn({ text: ['still ok'], finish: 'stop' }),
    httpError(401, { error: { message: echo, type: 'invalid_request_error', code: 'invalid_api_key' } }),
    httpError(401, `plain text: ${echo}`),
    sse([chunks({ text: [] })[0], `data: ${JSON.stringify({ error: { message: echo } })}\n\n`]),
    turn({ text: ['still ok'], finish: 'stop' }),
  ]);
  const env = cleanEnv({ XDG_STATE_HOME: state });
  const gwA = await startGateway({ backend: be.url, apiKey: BACKEND_KEY, args: ['--auth-token', AUTH_TOKEN, '--debug', '3'], env });
  let stderrA = '';
  let stderrB = '';
  try {
    const byKey = { 'x-api-key': AUTH_TOKEN };
    const byBearer = { 'x-api-key': undefined, authorization: `Bearer ${AUTH_TOKEN}` };
    const send = (body, h) =>
      fetch(`${gwA.url}/v1/messages`, {
        method: 'POST',
        headers: Object.fromEntries(Object.entries({ 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...h }).filter(([, v]) => v !== undefined)),
        body: JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, text: await r.text(), events: null }));
    assert.equal((await send(basicRequest(), byKey)).status, 200);
    assert.equal((await send(basicRequest({ stream: true }), byBearer)).status, 200);
    assert.equal((await send(basicRequest(), byBearer)).status, 200);
    assert.equal((await send(basicRequest(), byKey)).status, 401); // backend's 401, JSON
    assert.equal((await send(basicRequest(), byKey)).status, 401); // backend's 401, text
    const ev = await send(basicRequest({ stream: true }), byKey);
    assert.match(ev.text, /event: error/);
    assert.equal((await send(basicRequest(), { 'x-api-key': 'not-the-token' })).status, 401);
    for (const p of ['/v1/models', '/metrics', '/health'])
      assert.equal((await fetch(gwA.url + p, { headers: byKey })).status, 200, p);
    assert.equal(
      (await fetch(`${gwA.url}/v1/messages/count_tokens`, { method: 'POST', headers: { ...byKey, 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }) })).status,
      200,
    );
    // the backend really got the key (so there was something to leak)
    assert.equal(be.lastChat().headers.authorization, `Bearer ${BACKEND_KEY}`);
  } finally {
    await gwA.stop();
    stderrA = gwA.stderr + gwA.stdout;
  }
  // Second session: no auth token, the key from the environment, and the
  // client sends its own key (as Claude Code does with ANTHROPIC_API_KEY).
  be.script = turn({ text: ['still ok'], finish: 'stop' });
  const gwB = await startGateway({ backend: be.url, args: ['--debug', '3'], env: { ...env, OPENAI_API_KEY: BACKEND_KEY2 } });
  try {
    const c = new Anthropic({ baseURL: gwB.url, apiKey: CLIENT_KEY, maxRetries: 0 });
    await c.messages.create(basicRequest());
    await c.messages.stream(basicRequest()).finalMessage();
    const cb = new Anthropic({ baseURL: gwB.url, apiKey: null, authToken: CLIENT_KEY, maxRetries: 0 });
    await cb.messages.create(basicRequest());
    assert.equal(be.lastChat().headers.authorization, `Bearer ${BACKEND_KEY2}`);
  } finally {
    await gwB.stop();
    stderrB = gwB.stderr + gwB.stdout;
  }
  try {
    const files = allFiles(state);
    const traces = files.filter((f) => f.includes(`${path.sep}traces${path.sep}`));
    assert.ok(traces.length >= 8, `--debug 3 wrote traces (${traces.length}) under ${state}`);
    const sources = [
      ['stderr (session A)', stderrA],
      ['stderr (session B)', stderrB],
      ...files.map((f) => [path.relative(state, f), fs.readFileSync(f, 'latin1')]),
    ];
    assert.ok(stderrA.includes('authentication_error') && stderrA.includes('Incorrect API key provided'), 'the echoing errors were logged (redacted)');
    const hits = findSecrets(sources, [BACKEND_KEY, AUTH_TOKEN, CLIENT_KEY, BACKEND_KEY2]);
    assert.deepEqual(hits, [], `secrets found in ${files.length} files + stderr`);
  } finally {
    await be.close();
    fs.rmSync(state, { recursive: true, force: true });
  }
});

test('--debug 3: a key the backend echoes across two network writes is still kept out of the trace', async () => {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-fault-split-'));
  const KEY = BACKEND_KEY2;
  const cut = 14;
  const line = `data: ${JSON.stringify({ error: { message: `invalid key ${KEY}` } })}\n\n`;
  const at = line.indexOf(KEY) + cut;
  const be = await startBackend(sse([chunks({ text: [] })[0], line.slice(0, at), line.slice(at)], { gapMs: 100 }));
  const gw = await startGateway({ backend: be.url, model: 'm', apiKey: KEY, args: ['--debug', '3'], env: cleanEnv({ XDG_STATE_HOME: state }) });
  try {
    const r = await post(gw, basicRequest({ stream: true }));
    assertFailed(r, { type: 'api_error', streamed: true });
    await gw.stop();
    const files = allFiles(state);
    assert.ok(files.some((f) => f.endsWith('.trace')), 'a trace was written');
    const sources = [['stderr', gw.stderr], ...files.map((f) => [path.relative(state, f), fs.readFileSync(f, 'latin1')])];
    assert.deepEqual(findSecrets(sources, [KEY]), []);
  } finally {
    await gw.stop();
    await be.close();
    fs.rmSync(state, { recursive: true, force: true });
  }
});

test('a backend error that echoes the backend key does not hand the key to the client', async () => {
  const be = await startBackend(httpError(401, { error: { message: `Incorrect API key provided: ${BACKEND_KEY}` } }));
  const gw = await startGateway({ backend: be.url, model: 'm', apiKey: BACKEND_KEY });
  try {
    for (const streamed of [false, true]) {
      const r = await post(gw, basicRequest({ stream: streamed }));
      assert.equal(r.status, 401, r.text);
      assertErrorBody(r.text, 'authentication_error');
      assert.ok(!r.text.includes(BACKEND_KEY.slice(0, 12)), `the client got the backend key: ${r.text}`);
    }
  } finally {
    await gw.stop();
    await be.close();
  }
});
