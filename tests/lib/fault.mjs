// fault: helpers for the fault-injection suite (tests/fault/): metrics and
// memory, Anthropic error shapes, raw sockets and a raw TCP backend, streams
// the test can watch and abort. The scripted backend (openai_backend.mjs) and
// the gateway harness (gateway.mjs) are the library's own.
//
// Everything here waits with deadlines (waitFor) and never judges speed: a
// test fails because something did not happen, not because it was slow.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { turn } from './openai_backend.mjs';
import { basicRequest, BIN, OK_TURN, assertStillServes } from './gateway.mjs';
import { sleep, waitFor } from './net.mjs';
import { parseSSE, sseReader } from './sse.mjs';
import { listen, readRawRequest } from './http.mjs';

export { sleep };
export const IS_ASAN = /asan/.test(BIN);

// A private temp dir, removed when the test file's process exits.
const tmpdirs = [];
process.on('exit', () => {
  for (const d of tmpdirs) fs.rmSync(d, { recursive: true, force: true });
});
export function tmpdir(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpdirs.push(d);
  return d;
}

// A generous bound for "this must eventually happen" (sanitizer builds are
// several times slower; this is a deadline, not a performance threshold).
export const DEADLINE = IS_ASAN ? 30000 : 15000;

// Env for gateways whose memory we measure. Under ASan the allocator keeps
// up to 256 MB of freed memory in quarantine, which would read as growth;
// cap it so RSS means what it means in the release build. Leak detection
// (LSan at exit, checked by stopClean) stays on.
// In the release build, glibc's dynamic mmap threshold makes RSS swing by
// 16-32 MB after a few 10 MB buffers were freed (they come back from the
// heap, not mmap, and stay mapped): fix the threshold so that large buffers
// are unmapped when freed and RSS tracks what is really held.
export function memEnv(extra = {}) {
  const env = { ...extra };
  const tun = process.env.GLIBC_TUNABLES ? process.env.GLIBC_TUNABLES + ':' : '';
  env.GLIBC_TUNABLES = `${tun}glibc.malloc.mmap_threshold=131072`;
  if (IS_ASAN) {
    const base = process.env.ASAN_OPTIONS ? process.env.ASAN_OPTIONS + ':' : '';
    env.ASAN_OPTIONS = `${base}quarantine_size_mb=4:allocator_release_to_os_interval_ms=100`;
  }
  return env;
}

// ---- metrics / memory ------------------------------------------------------

export async function metrics(gw, headers = {}) {
  const r = await fetch(`${gw.url}/metrics`, { headers: { 'x-api-key': 'test-key', ...headers } });
  assert.equal(r.status, 200, 'GET /metrics');
  const text = await r.text();
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

export async function activeStreams(gw, headers) {
  return (await metrics(gw, headers)).anyclaude_active_streams;
}

// Wait until the gateway has no request in flight.
export async function waitIdle(gw, what = 'anyclaude_active_streams to return to 0', headers) {
  let last;
  try {
    await waitFor(async () => (last = await activeStreams(gw, headers)) === 0, what, DEADLINE, 50);
  } catch (e) {
    throw new Error(`${e.message} (last value ${last})`);
  }
}

// Wait until every chat request the backend received has its connection
// closed or its reply finished (nothing left dangling upstream).
export async function waitBackendSettled(be, what = 'the backend to see every request end') {
  await waitFor(() => be.chatRequests().every((r) => r.closed || r.finished), what, DEADLINE, 25);
}

export function rssKB(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(s);
  return m ? +m[1] : NaN;
}

export function openFds(pid) {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

// Run `one(i)` n times, `concurrency` at a time.
export async function runBatch(n, concurrency, one) {
  let next = 0;
  const errors = [];
  const worker = async () => {
    while (next < n) {
      const i = next++;
      try {
        await one(i);
      } catch (e) {
        errors.push(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  if (errors.length) {
    const e = errors[0];
    e.message = `${errors.length}/${n} iterations failed; first: ${e.message}`;
    throw e;
  }
}

export const MEM_SLACK_KB = 8 * 1024; // +8 MB over the post-warm-up baseline

// Memory check for one fault kind: a warm-up batch (allocator caches,
// curl's connection pool and the ASan quarantine fill up), then the
// baseline, then `n` more; RSS after (gateway idle) must be within slack.
export async function memoryCheck(t, ctx, label, one, { n = 200, concurrency = 10, warm = 30, slackKB = MEM_SLACK_KB } = {}) {
  const { gw } = ctx;
  await runBatch(warm, concurrency, one);
  await waitIdle(gw);
  const before = rssKB(gw.child.pid);
  await runBatch(n, concurrency, one);
  await waitIdle(gw);
  if (ctx.be) await waitBackendSettled(ctx.be);
  await sleep(IS_ASAN ? 300 : 50);
  const after = rssKB(gw.child.pid);
  const line = `memory ${label}: VmRSS ${before} kB -> ${after} kB after ${n} requests (${after - before >= 0 ? '+' : ''}${after - before} kB, slack ${slackKB} kB)`;
  t.diagnostic(line);
  assert.ok(after - before <= slackKB, line);
  return { before, after };
}

// ---- errors -----------------------------------------------------------------

// An Anthropic error body: {"type":"error","error":{"type":T,"message":...}}.
export function assertErrorBody(text, type, detail = '') {
  let j;
  try {
    j = JSON.parse(text);
  } catch {
    assert.fail(`error body is not JSON: ${JSON.stringify(String(text).slice(0, 300))} ${detail}`);
  }
  assert.equal(j?.type, 'error', `${text} ${detail}`);
  assert.equal(j?.error?.type, type, `${text} ${detail}`);
  assert.equal(typeof j.error.message, 'string', `${text} ${detail}`);
  return j;
}

// ---- requests --------------------------------------------------------------

export const HEADERS = { 'content-type': 'application/json', 'x-api-key': 'test-key', 'anthropic-version': '2023-06-01' };

// POST /v1/messages with fetch; returns { status, headers, text, events }
// (events parsed when the answer is SSE). `signal` aborts.
export async function post(gw, body, { headers = {}, signal } = {}) {
  const res = await fetch(`${gw.url}/v1/messages`, {
    method: 'POST',
    headers: { ...HEADERS, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  });
  const text = await res.text();
  const ct = res.headers.get('content-type') ?? '';
  return { status: res.status, headers: res.headers, text, events: ct.includes('event-stream') ? parseSSE(text) : null };
}

// The answer to a request that failed: an HTTP error with an Anthropic body
// (non-streamed, or streamed before the stream started), or a 200 stream
// that starts with message_start and ends with exactly one error event.
export function assertFailed(r, { status, type, streamed }) {
  const detail = `status=${r.status} body=${r.text.slice(0, 600)}`;
  if (r.status !== 200) {
    if (status !== undefined) assert.equal(r.status, status, detail);
    assertErrorBody(r.text, type, detail);
    return 'http';
  }
  assert.ok(streamed, `a non-streamed request must not get 200: ${detail}`);
  const ev = r.events;
  assert.ok(ev && ev.length >= 2, detail);
  assert.equal(ev[0].event, 'message_start', detail);
  const last = ev.at(-1);
  assert.equal(last.event, 'error', `the stream must end with an error event: ${detail}`);
  assert.equal(last.data?.type, 'error', detail);
  assert.equal(last.data?.error?.type, type, detail);
  assert.equal(ev.filter((e) => e.event === 'error').length, 1, `one error event: ${detail}`);
  assert.ok(!ev.some((e) => e.event === 'message_stop'), `no message_stop after an error: ${detail}`);
  return 'event';
}

export { OK_TURN, assertStillServes };

// ---- raw sockets -------------------------------------------------------------

// A raw connection to the gateway. String writes have @HOST@ replaced by
// 127.0.0.1:port (see withHost).
export function connect(port, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host });
    const write = s.write.bind(s);
    s.write = (d, ...rest) => write(typeof d === 'string' ? withHost(d, port) : d, ...rest);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

// Parse as many complete HTTP/1.1 responses as `buf` holds.
// Returns { responses: [{ status, headers, body, raw }], rest }.
export function parseResponses(buf) {
  const responses = [];
  let s = buf;
  for (;;) {
    const he = s.indexOf('\r\n\r\n');
    if (he < 0) break;
    const head = s.slice(0, he);
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (!m) break;
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const status = +m[1];
    let rest = s.slice(he + 4);
    if (status === 100) {
      s = rest;
      continue;
    }
    let body;
    if (headers['content-length'] !== undefined) {
      const n = +headers['content-length'];
      if (Buffer.byteLength(rest) < n) break;
      body = rest.slice(0, n);
      rest = rest.slice(n);
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      body = '';
      let ok = false;
      for (;;) {
        const i = rest.indexOf('\r\n');
        if (i < 0) break;
        const n = parseInt(rest.slice(0, i), 16);
        if (Number.isNaN(n)) break;
        if (rest.length < i + 2 + n + 2) break;
        body += rest.slice(i + 2, i + 2 + n);
        rest = rest.slice(i + 2 + n + 2);
        if (n === 0) {
          ok = true;
          break;
        }
      }
      if (!ok) break;
    } else {
      break; // body until close: not complete yet
    }
    responses.push({ status, headers, body });
    s = rest;
  }
  return { responses, rest: s };
}

// Open a raw connection, run `script(sock)` (which writes), collect what
// comes back until the server closes or `until(responses)` is true or the
// deadline passes. Returns { responses, raw, closed, error }.
export async function rawExchange(port, script, { until, timeoutMs = DEADLINE } = {}) {
  const s = await connect(port);
  let raw = '';
  let closed = false;
  let error = null;
  s.setEncoding('latin1');
  s.on('data', (d) => (raw += d));
  s.on('error', (e) => (error = e.code ?? String(e)));
  s.on('close', () => (closed = true));
  await script(s);
  await waitFor(
    () => closed || (until && until(parseResponses(raw).responses)),
    'the server to answer or close',
    timeoutMs,
    10,
  ).catch(() => {});
  const { responses } = parseResponses(raw);
  s.destroy();
  return { responses, raw, closed, error };
}

// Replace the @HOST@ placeholder of raw request strings with the gateway's
// own host:port.
export function withHost(bytes, port) {
  return bytes.replaceAll('@HOST@', `127.0.0.1:${port}`);
}

// Write `data` a few bytes at a time.
export async function dribble(sock, data, { step = 7, gapMs = 100 } = {}) {
  if (typeof data === 'string') data = withHost(data, sock.remotePort);
  for (let i = 0; i < data.length && !sock.destroyed; i += step) {
    sock.write(data.slice(i, i + step));
    await sleep(gapMs);
  }
}

// A raw request. `port` names the gateway in Host (it refuses a Host that
// does not name its listener); raw strings elsewhere write @HOST@ for that
// (see withHost).
export function requestBytes(body, { path = '/v1/messages', headers = {}, method = 'POST', port } = {}) {
  const b = typeof body === 'string' ? body : JSON.stringify(body);
  const h = { Host: port ? `127.0.0.1:${port}` : '@HOST@', 'Content-Type': 'application/json', 'x-api-key': 'test-key', 'anthropic-version': '2023-06-01', 'Content-Length': Buffer.byteLength(b), ...headers };
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(h)) if (v !== undefined && v !== null) head += `${k}: ${v}\r\n`;
  return { head: head + '\r\n', body: b };
}

// ---- a raw TCP backend, for faults below HTTP --------------------------------

// A backend that reads each request (head + Content-Length body) and hands
// it to onRequest(sock, { head, body }); what it writes is up to the test.
// conns.open counts connections still open (the gateway must close them).
export async function startRawBackend(onRequest) {
  const state = { opened: 0, requests: 0 };
  const server = net.createServer((sock) => {
    state.opened++;
    readRawRequest(sock, ({ head, body }) => {
      state.requests++;
      onRequest(sock, { head, body: body.toString('utf8') });
    });
  });
  const l = await listen(server);
  return {
    url: `http://127.0.0.1:${l.port}/v1`,
    port: l.port,
    state,
    get openSockets() {
      return l.sockets.size;
    },
    close: l.close,
  };
}

// ---- streams the test can watch and abort -------------------------------------

// Start a POST /v1/messages and read its answer incrementally.
//   const s = await openStream(gw, body);
//   await s.until((events) => events.some(...), 'what');
//   s.abort(); await s.done;
// s.status, s.events ([{ event, data }]), s.text, s.ended (the server ended
// the body), s.error (a read error other than our abort).
export async function openStream(gw, body, { headers = {} } = {}) {
  const ac = new AbortController();
  const res = await fetch(`${gw.url}/v1/messages`, {
    method: 'POST',
    headers: { ...HEADERS, ...headers },
    body: JSON.stringify(body),
    signal: ac.signal,
  });
  const s = { status: res.status, events: [], text: '', ended: false, error: null, aborted: false };
  const dec = new TextDecoder();
  const reader = sseReader();
  s.done = (async () => {
    try {
      for await (const part of res.body) {
        const t = dec.decode(part, { stream: true });
        s.text += t;
        s.events.push(...reader.push(t));
      }
      s.ended = true;
    } catch (e) {
      if (!s.aborted) s.error = e;
    }
  })();
  s.until = (pred, what, timeoutMs = DEADLINE) => waitFor(() => pred(s.events) || (s.ended || s.error ? 'over' : false), what, timeoutMs, 10).then((v) => {
    if (v === 'over' && !pred(s.events)) throw new Error(`stream ended before ${what}: ${s.text.slice(-500)}`);
  });
  s.abort = () => {
    s.aborted = true;
    ac.abort();
  };
  return s;
}

// Peak RSS of the process so far.
export function vmHWM(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? +m[1] : NaN;
}

// The rows of /proc/net/tcp and /proc/net/tcp6, split into columns
// (1: local address:port in hex, 3: state, 0A is LISTEN; 9: inode).
export function tcpSockets() {
  const rows = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) rows.push(line.trim().split(/\s+/));
  }
  return rows;
}

// Client connections the gateway holds open: its sockets (from
// /proc/PID/fd) whose local port is the gateway's port, listener excluded.
export function clientConns(gw) {
  const inodes = new Set();
  for (const fd of fs.readdirSync(`/proc/${gw.child.pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${gw.child.pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      /* closed meanwhile */
    }
  }
  let n = 0;
  for (const c of tcpSockets()) {
    if (c.length < 10 || c[3] === '0A') continue;
    if (parseInt(c[1].split(':')[1], 16) === gw.port && inodes.has(c[9])) n++;
  }
  return n;
}

// Wait until the gateway holds at most `n` client connections.
export async function waitConns(gw, n, what) {
  let last;
  await waitFor(() => (last = clientConns(gw)) <= n, `${what}: gateway client connections down to ${n}`, DEADLINE, 25).catch((e) => {
    throw new Error(`${e.message}; now ${last}`);
  });
}
