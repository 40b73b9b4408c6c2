// routes_lib: helpers for the routing tests (routes_fallback.test.mjs and
// the other integration tests that start a gateway from a config file).
//
//   const fl = await fleet(['bg', 'def']);      // named fake OpenAI backends
//   fl.bg.url, fl.bg.be.chatRequests()          // each answers "from bg"
//   const gw = await startRouted(configObject, { debug: 1 });
//   const r = await ask(gw.client(), req, { stream: true, headers });
//   r.backend  // the anyclaude-backend header; r.text  // the answer's text
//   served(fl, before) // which fake got chat requests since snapshot `before`
//
// startRouted writes the config to a private temp file and starts the
// gateway with `--config FILE`. The gateway's own --backend flag points at a
// "sentinel" fake backend that no route names: it must never get a chat
// request (routes decide, not the flag).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { startBackend, turn, waitFor } from '../lib/openai_backend.mjs';
import { startGateway, spawnBin, freePort, expectAPIError } from '../lib/gateway.mjs';
import { canConnect, sleep } from '../lib/net.mjs';
import { serveHttp } from '../lib/http.mjs';

export { expectAPIError };

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-routes-'));
process.on('exit', () => fs.rmSync(TMP, { recursive: true, force: true }));
let configSeq = 0;

export const SONNET = 'claude-sonnet-4-6';
export const HAIKU = 'claude-haiku-4-5-20251001';

// The default answer of a named fake backend: its own name, so the text says
// who answered.
export function answerFrom(name) {
  return turn({ text: [`from ${name}`], finish: 'stop', usage: { prompt_tokens: 10, completion_tokens: 2 } });
}

// Start one fake backend per name. opts.ports: { name: port } to listen on a
// given port. Returns { [name]: { name, be, url, port } } plus close().
export async function fleet(names, opts = {}) {
  const out = {};
  for (const name of names) {
    const be = await startBackend(answerFrom(name), { port: opts.ports?.[name] });
    out[name] = { name, be, url: be.url, port: be.port };
  }
  Object.defineProperty(out, 'close', {
    enumerable: false,
    value: async () => {
      for (const n of names) await out[n].be.close();
    },
  });
  return out;
}

// A URL on which nobody listens (for "dead" backends).
export async function deadUrl() {
  return `http://127.0.0.1:${await freePort()}/v1`;
}

export function writeConfig(obj) {
  const file = path.join(TMP, `config-${process.pid}-${++configSeq}.json`);
  fs.writeFileSync(file, typeof obj === 'string' ? obj : JSON.stringify(obj, null, 2));
  return file;
}

// A config with two routes: `when` requests go to `to`, the rest to `other`.
export function twoWay(backends, when, to, other) {
  return { backends, routes: [{ when, to }, { when: 'default', to: other }] };
}

// An openai-mode backend entry with a model (so no /models probe is needed).
export function oa(url, model) {
  return { mode: 'openai', url, model };
}

// Start the gateway with a routed config. Returns the gateway plus
// gw.sentinel (the --backend flag's fake, which must stay unused) and
// gw.configFile. Stop it with gw.stopAll() (asserts a clean exit and that the
// sentinel never got a chat request).
export async function startRouted(config, { debug, args = [], env = {} } = {}) {
  const sentinel = await startBackend(answerFrom('sentinel (the --backend flag)'));
  const file = writeConfig(config);
  const extra = ['--config', file];
  if (debug !== undefined) extra.push('--debug', String(debug));
  let gw;
  try {
    gw = await startGateway({ backend: sentinel.url, mode: 'openai', args: [...extra, ...args], env });
  } catch (e) {
    await sentinel.close();
    throw e;
  }
  gw.sentinel = sentinel;
  gw.configFile = file;
  gw.stopAll = async () => {
    try {
      await gw.stopClean();
    } finally {
      await sentinel.close();
    }
    assert.equal(
      sentinel.chatRequests().length,
      0,
      'the --backend flag backend is named by no route and must never get a request when routes are configured',
    );
  };
  return gw;
}

// Stop a describe's routed gateway (asserting a clean exit), its fleet and
// any more backends it started.
export async function stopRouted(gw, fl, ...more) {
  try {
    await gw?.stopAll();
  } finally {
    await fl?.close();
    for (const be of more) await be?.close();
  }
}

// Send one request through the SDK, streamed (messages.stream) or whole
// (messages.create), and return { backend, text, message, response }.
export async function ask(client, req, { stream = false, headers } = {}) {
  const opts = headers ? { headers } : undefined;
  if (stream) {
    const s = client.messages.stream(req, opts);
    const { response } = await s.withResponse();
    const message = await s.finalMessage();
    return { backend: response.headers.get('anyclaude-backend'), text: textOf(message), message, response };
  }
  const { data: message, response } = await client.messages.create(req, opts).withResponse();
  return { backend: response.headers.get('anyclaude-backend'), text: textOf(message), message, response };
}

export function textOf(message) {
  return (message.content ?? [])
    .filter((b) => b.type === 'text')
    .map((b) => b.text)
    .join('');
}

// Chat request counts per fake backend (a snapshot for served()).
export function counts(fl) {
  const o = {};
  for (const n of Object.keys(fl)) o[n] = fl[n].be.chatRequests().length;
  return o;
}

// The names of the fakes that got chat requests since `before`, with how many
// and the last request's record: { names: ['bg'], by: { bg: 1 }, last: rec }.
export function served(fl, before) {
  const by = {};
  let last;
  for (const n of Object.keys(fl)) {
    const c = fl[n].be.chatRequests();
    const d = c.length - (before[n] ?? 0);
    if (d) {
      by[n] = d;
      last = c[c.length - 1];
    }
  }
  return { names: Object.keys(by), by, last };
}

export async function metricsText(gw) {
  const r = await fetch(`${gw.url}/metrics`);
  assert.equal(r.status, 200, 'GET /metrics');
  return r.text();
}

// The value of a metric sample; labels is an exact label string such as
// 'backend="p2"' ('' for none). Sums over samples of that name when labels is
// null. Returns undefined when there is no such sample.
export function metricValue(text, name, labels = '') {
  let found;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    if (labels !== null && (m[3] ?? '') !== labels) continue;
    found = (found ?? 0) + Number(m[4]);
  }
  return found;
}

export async function metric(gw, name, labels = '') {
  return metricValue(await metricsText(gw), name, labels);
}

// Run `anyclaude serve --config FILE` and expect it to refuse to start.
// Resolves to { code, signal, stderr, stdout, started } where started says
// it began accepting connections (then it was killed).
export async function runServeExpectingExit(configFile, timeoutMs = 15000) {
  const port = await freePort();
  const home = fs.mkdtempSync(path.join(TMP, 'home-'));
  const p = spawnBin(['serve', '--config', configFile, '--port', String(port), '--host', '127.0.0.1'], {
    env: {
      ...process.env,
      XDG_CONFIG_HOME: path.join(home, 'config'),
      XDG_STATE_HOME: path.join(home, 'state'),
      ANYCLAUDE_CONFIG: '',
    },
  });
  const { child, exited } = p;
  let started = false;
  const timer = setTimeout(() => {
    started = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  // If it is listening, it accepted the bad config: stop it now.
  const probe = (async () => {
    for (;;) {
      if (await canConnect(port)) {
        started = true;
        child.kill('SIGKILL');
        return;
      }
      if (child.exitCode !== null || child.signalCode !== null) return;
      await sleep(50);
    }
  })();
  const e = await exited;
  clearTimeout(timer);
  await probe;
  return { ...e, stderr: p.stderr, stdout: p.stdout, started };
}

export { waitFor };

// A backend that holds every chat request until release(status, body) (GET
// /v1/models, the health check, answers at once). For "the stream has
// started, then the backend fails" without relying on timing: the test waits
// for the client's stream to start, then releases.
export async function startGated() {
  const requests = [];
  const held = [];
  let arrived;
  const srv = await serveHttp((req, res, raw) => {
    const rec = { method: req.method, path: req.url, raw: raw.toString('utf8'), closed: false };
    requests.push(rec);
    res.once('close', () => (rec.closed = true));
    if (req.method === 'GET') {
      const body = JSON.stringify({ object: 'list', data: [{ id: 'gated-model', object: 'model', created: 0, owned_by: 'fake' }] });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    held.push(res);
    arrived?.();
  });
  return {
    url: `http://127.0.0.1:${srv.port}/v1`,
    requests,
    chatRequests: () => requests.filter((r) => r.method === 'POST'),
    whenHeld: () => (held.length ? Promise.resolve() : new Promise((r) => (arrived = r))),
    release(status, body) {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      for (const res of held.splice(0)) {
        if (res.destroyed) continue;
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      }
    },
    close: srv.close,
  };
}
