// gateway: start and stop the anyclaude binary for integration tests.
//
//   const gw = await startGateway({ backend: be.url, mode: 'openai' });
//   gw.url      // "http://127.0.0.1:PORT"
//   gw.client() // an Anthropic SDK client pointed at it (maxRetries 0)
//   await gw.stop(); // SIGTERM; resolves to { code, signal }
//
// The binary is $ANYCLAUDE_BIN (default build/anyclaude, relative to the
// repo root), so the suite can be re-run against build/asan/anyclaude.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { before, after } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { startBackend } from './fake_backend.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.resolve(ROOT, process.env.ANYCLAUDE_BIN ?? 'build/anyclaude');

const TEST_DIRS = (() => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-it-'));
  process.on('exit', () => fs.rmSync(base, { recursive: true, force: true }));
  return { config: path.join(base, 'config'), state: path.join(base, 'state') };
})();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A port nobody listens on right now (bound then released).
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startGateway({ backend, mode = 'openai', model, apiKey, env = {}, args = [], timeoutMs = 15000 }) {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const argv = ['serve', '--port', String(port), '--host', '127.0.0.1', '--mode', mode, '--backend', backend];
    if (model !== undefined) argv.push('--model', model);
    if (apiKey !== undefined) argv.push('--api-key', apiKey);
    argv.push(...args);
    const child = spawn(BIN, argv, {
      cwd: ROOT,
      // private config and state: a user's config file or warm-start
      // files must not change what the tests see, nor the tests leave any
      env: { ...process.env, XDG_CONFIG_HOME: TEST_DIRS.config, XDG_STATE_HOME: TEST_DIRS.state, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => (stdout += d));
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    let exit = null;
    exited.then((e) => (exit = e));
    child.once('error', (e) => (exit = { code: null, signal: null, error: e }));

    const deadline = Date.now() + timeoutMs;
    let up = false;
    while (Date.now() < deadline && !exit) {
      if (stderr.includes('\n') && (await canConnect(port))) {
        up = true;
        break;
      }
      await sleep(20);
    }
    if (!up) {
      if (!exit) {
        child.kill('SIGKILL');
        await exited;
      }
      // Someone else took the port between freePort() and bind: try again.
      if (attempt < 3 && /address already in use|EADDRINUSE|bind/i.test(stderr)) continue;
      throw new Error(
        `gateway did not start (${BIN} ${argv.join(' ')}): exit ${JSON.stringify(exit)}\nstderr:\n${stderr}`,
      );
    }
    const gw = {
      port,
      url: `http://127.0.0.1:${port}`,
      child,
      argv,
      get stderr() {
        return stderr;
      },
      get stdout() {
        return stdout;
      },
      get exit() {
        return exit;
      },
      client(opts = {}) {
        return new Anthropic({ baseURL: gw.url, apiKey: 'test-key', maxRetries: 0, timeout: 30000, ...opts });
      },
      async stop(timeout = 10000) {
        if (!exit) child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), timeout);
        const e = await exited;
        clearTimeout(t);
        return e;
      },
      // Stop and assert a clean exit (code 0 after SIGTERM).
      async stopClean() {
        const e = await gw.stop();
        assert.deepEqual(
          { code: e.code, signal: e.signal },
          { code: 0, signal: null },
          `gateway (${path.basename(process.argv[1] ?? '')}) should exit 0 on SIGTERM; got ${JSON.stringify(e)}\nstderr:\n${stderr.slice(-4000)}`,
        );
      },
    };
    return gw;
  }
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

// Parse an SSE text into [{ event, data }] (data JSON-parsed when possible).
export function parseSSE(text) {
  const out = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    if (!block.trim()) continue;
    let event = null;
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':')) continue;
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (event === null && data.length === 0) continue;
    let d = data.join('\n');
    try {
      d = JSON.parse(d);
    } catch {
      /* keep text */
    }
    out.push({ event, data: d });
  }
  return out;
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
