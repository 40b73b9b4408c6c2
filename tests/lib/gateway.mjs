// gateway: the one launcher of the anyclaude binary, for every suite.
//
//   const p = await launch((port) => ['serve', '--port', String(port), ...], { env });
//     p.port, p.child, p.argv, p.stdout, p.stderr, p.output (both, in order),
//     p.exit (null while running), p.exited (a promise of { code, signal })
//   const gw = await startGateway({ backend: be.url, mode: 'openai' });
//   gw.url      // "http://127.0.0.1:PORT"
//   gw.client() // an Anthropic SDK client pointed at it (maxRetries 0)
//   await gw.stop(); // SIGTERM; resolves to { code, signal }
//
// The binary is $ANYCLAUDE_BIN (default build/anyclaude, relative to the
// repo root), so a suite can be re-run against build/asan/anyclaude.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { before, after } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { startBackend, turn } from './openai_backend.mjs';
import { freePort, canConnect, sleep } from './net.mjs';
import { parseSSE } from './sse.mjs';

export { freePort, parseSSE };

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.resolve(ROOT, process.env.ANYCLAUDE_BIN ?? 'build/anyclaude');

const TEST_DIRS = (() => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-it-'));
  process.on('exit', () => fs.rmSync(base, { recursive: true, force: true }));
  return { config: path.join(base, 'config'), state: path.join(base, 'state') };
})();

// Kill a child; one started detached (its own process group) with its group.
export function killChild(child, sig = 'SIGTERM') {
  if (!child || child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  try {
    if (child.detached) process.kill(-child.pid, sig);
    else child.kill(sig);
  } catch {
    try {
      child.kill(sig);
    } catch {
      /* gone */
    }
  }
}

// Spawn `BIN argv` with its output kept: { argv, child, stdout, stderr,
// output (both, in order), exit (null while running), exited (a promise of
// { code, signal }), stop(ms) (SIGTERM, SIGKILL after ms; resolves to the
// exit), wait(ms) (the same without the SIGTERM: for a signal already sent) }.
export function spawnBin(argv, { env = process.env, cwd = ROOT, detached = false } = {}) {
  const child = spawn(BIN, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached });
  child.detached = detached;
  const p = { argv, child, stdout: '', stderr: '', output: '', exit: null };
  child.stdout.on('data', (d) => {
    p.stdout += d;
    p.output += d;
  });
  child.stderr.on('data', (d) => {
    p.stderr += d;
    p.output += d;
    if (process.env.ANYCLAUDE_TEST_VERBOSE) process.stderr.write(d);
  });
  p.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  p.exited.then((e) => (p.exit ??= e));
  child.once('error', (e) => (p.exit = { code: null, signal: null, error: e }));
  p.wait = async (timeoutMs = 10000) => {
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const e = await p.exited;
    clearTimeout(t);
    return e;
  };
  p.stop = (timeoutMs = 10000) => {
    if (!p.exit) child.kill('SIGTERM');
    return p.wait(timeoutMs);
  };
  return p;
}

// Start `BIN argvFor(port)` on a probed free port (or opts.port) until
// ready(p) says it serves (default: it accepts connections); when another
// process took the port first, try again on another one. Throws with the
// output when it exits or does not come up within timeoutMs.
//   opts: { env, cwd, port, detached, onChild(child), ready(p), timeoutMs,
//           stepMs, attempts }
export async function launch(argvFor, opts = {}) {
  const { env = process.env, cwd = ROOT, detached = false, timeoutMs = 15000, stepMs = 20, attempts = 4 } = opts;
  const ready = opts.ready ?? ((p) => canConnect(p.port));
  for (let attempt = 0; ; attempt++) {
    const port = opts.port ?? (await freePort());
    const argv = argvFor(port);
    const p = spawnBin(argv, { env, cwd, detached });
    p.port = port;
    const { child } = p;
    opts.onChild?.(child);

    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !p.exit) {
      if (await ready(p)) return p;
      await sleep(stepMs);
    }
    if (!p.exit) {
      killChild(child, 'SIGKILL');
      await p.exited;
    }
    // Someone else took the port between freePort() and bind: try again.
    if (opts.port === undefined && attempt < attempts - 1 && /address already in use|EADDRINUSE|bind|cannot listen|in use/i.test(p.output)) continue;
    throw new Error(`gateway did not start (${BIN} ${argv.join(' ')}): exit ${JSON.stringify(p.exit)}\noutput:\n${p.output}`);
  }
}

// backend: a URL, or a function of the gateway's port that returns one.
export async function startGateway({ backend, mode = 'openai', model, apiKey, env = {}, args = [], timeoutMs = 15000, port: fixedPort }) {
  const p = await launch(
    (port) => {
      const url = typeof backend === 'function' ? backend(port) : backend;
      const argv = ['serve', '--port', String(port), '--host', '127.0.0.1', '--mode', mode, '--backend', url];
      if (model !== undefined) argv.push('--model', model);
      if (apiKey !== undefined) argv.push('--api-key', apiKey);
      return [...argv, ...args];
    },
    {
      // private config and state: a user's config file or warm-start
      // files must not change what the tests see, nor the tests leave any
      env: { ...process.env, XDG_CONFIG_HOME: TEST_DIRS.config, XDG_STATE_HOME: TEST_DIRS.state, ...env },
      ready: async (q) => q.stderr.includes('\n') && (await canConnect(q.port)),
      attempts: 4,
      timeoutMs,
      port: fixedPort,
    },
  );
  const { port, child } = p;
  const gw = {
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    argv: p.argv,
    get stderr() {
      return p.stderr;
    },
    get stdout() {
      return p.stdout;
    },
    get exit() {
      return p.exit;
    },
    client(opts = {}) {
      return new Anthropic({ baseURL: gw.url, apiKey: 'test-key', maxRetries: 0, timeout: 30000, ...opts });
    },
    stop: (timeout) => p.stop(timeout),
    // The exit a signal the test already sent asks for, without a second
    // signal (during a drain that one means "stop at once"); SIGKILL after
    // timeout.
    wait: (timeout) => p.wait(timeout),
    // Stop and assert a clean exit (code 0 after SIGTERM).
    async stopClean() {
      const e = await gw.stop();
      assert.deepEqual(
        { code: e.code, signal: e.signal },
        { code: 0, signal: null },
        `gateway (${path.basename(process.argv[1] ?? '')}) should exit 0 on SIGTERM; got ${JSON.stringify(e)}\nstderr:\n${p.stderr.slice(-4000)}`,
      );
    },
  };
  return gw;
}

// Await p and expect an Anthropic APIError (not a value, not another error);
// returns it.
export async function expectAPIError(p) {
  let err;
  try {
    const v = await p;
    assert.fail(`expected an error, got ${JSON.stringify(v).slice(0, 300)}`);
  } catch (e) {
    err = e;
  }
  if (err instanceof assert.AssertionError) throw err;
  assert.ok(err instanceof Anthropic.APIError, `expected an APIError, got ${err?.constructor?.name}: ${err?.message}`);
  return err;
}

// Anthropic-shaped test fixtures.
export const MODEL = 'claude-test-model';
export const TOOLS = [
  {
    name: 'get_weather',
    description: 'Weather for a city',
    input_schema: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
      required: ['city'],
    },
  },
  {
    name: 'get_time',
    description: 'Local time in a timezone',
    input_schema: { type: 'object', properties: { tz: { type: 'string' } }, required: ['tz'] },
  },
];
export function basicRequest(extra = {}) {
  return {
    model: MODEL,
    max_tokens: 1024,
    messages: [{ role: 'user', content: 'Hello there' }],
    ...extra,
  };
}

// A normal turn, and the check that the gateway still serves it, streamed
// and not, after whatever a test did to it (ctx: { gw, be }; be gets the
// turn as its script).
export const OK_TURN = turn({ text: ['still ok'], finish: 'stop', usage: { prompt_tokens: 5, completion_tokens: 2 } });

export async function assertStillServes(ctx) {
  const { gw, be } = ctx;
  if (be) be.script = OK_TURN;
  const c = gw.client();
  const m = await c.messages.create(basicRequest());
  assert.deepEqual(m.content, [{ type: 'text', text: 'still ok' }], 'the gateway must still serve a normal request');
  const s = await c.messages.stream(basicRequest()).finalMessage();
  assert.deepEqual(s.content, [{ type: 'text', text: 'still ok' }], 'the gateway must still serve a normal stream');
}

// POST raw bytes to the gateway; returns { status, headers, text, json }.
export async function rawPost(gw, path, body, headers = {}) {
  const res = await fetch(gw.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'test-key', 'anthropic-version': '2023-06-01', ...headers },
    body,
  });
  const text = await res.text();
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, json: parsed };
}

// Register before/after hooks for the calling test file: a fake backend
// (script set per test through ctx.be.script) and a gateway in front of it.
// After the file the gateway gets SIGTERM and must exit 0. Returns ctx,
// filled in by before().
//   opts: { mode, model, apiKey, env, args, models, backendUrl (no fake) }
export function useGateway(opts = {}) {
  const ctx = { be: null, gw: null, client: null };
  before(async () => {
    if (!opts.backendUrl) ctx.be = await startBackend(null, { models: opts.models });
    ctx.gw = await startGateway({ ...opts, backend: opts.backendUrl ?? ctx.be.url });
    ctx.client = ctx.gw.client();
  });
  after(async () => {
    try {
      if (ctx.gw) await ctx.gw.stopClean();
    } finally {
      if (ctx.be) await ctx.be.close();
    }
  });
  return ctx;
}
