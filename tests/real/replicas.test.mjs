// Past one machine (docs/scaling.md): real nginx (round-robin, no
// stickiness) in front of two `anyclaude serve` replicas, in front of three
// real llama-servers (tests/real/README.md: random-weight model, real
// tokenizer, template and prefix cache).
//
// 1. Three Claude-Code-shaped conversations (tests/golden's recorded turn 1
//    shape with a system prompt padded to a real one's ~10k tokens, a
//    changing billing block, moving cache_control markers, session ids),
//    interleaved so their turns alternate between the replicas (nginx's
//    X-Upstream answer header says which). Each conversation is served by one
//    llama-server throughout: the anyclaude-backend header, and that
//    server's own prompt counters (/metrics) show every follow-up at least
//    99% cached. A llama-server killed mid-way (SIGKILL) moves only its own
//    conversations, to the same new server whichever replica serves the turn.
// 2. A replica sent SIGTERM while three streams are in flight on it: all
//    three end with message_stop, new requests through nginx go to the
//    other replica, and it exits 0 within its drain deadline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GATEWAY, ROOT, freePort, sleep, startGateway, startLlama, stopLlama } from '../lib/llama.mjs';
import { llamaCounters as countersOf } from '../lib/metrics.mjs';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p)) ?? 'nginx';
const runDir = mkdtempSync(path.join(os.tmpdir(), 'anyclaude-real-replicas-'));
const LLAMA_ENV = { ...process.env, LLAMA_RUN_DIR: runDir, LLAMA_PARALLEL: '3' };
const DRAIN_S = 180; // generous: a loaded 2-core machine prefills 10k tokens in ~20 s

const servers = {}; // name -> { port, url }
const replicas = []; // startGateway() results
let nginx = null; // { child, url, log() }

function gatewayEnv() {
  const env = { ...process.env, XDG_STATE_HOME: path.join(runDir, 'state'), XDG_CONFIG_HOME: path.join(runDir, 'config') };
  for (const k of Object.keys(env)) if (/^(ANYCLAUDE_|ANTHROPIC_)/.test(k)) delete env[k];
  return env;
}

function stopAll() {
  for (const r of replicas) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  if (nginx && nginx.child.exitCode === null) nginx.child.kill('SIGKILL');
  for (const s of Object.values(servers)) stopLlama(s.port, LLAMA_ENV);
}
process.on('exit', () => {
  stopAll();
  rmSync(runDir, { recursive: true, force: true });
});

// nginx on loopback with its own prefix and config: round-robin over the
// replicas, no stickiness, no upstream keep-alive, streaming unbuffered;
// X-Upstream names the replica that answered.
async function startNginx(upstreams, replicaPort) {
  const port = await freePort();
  const dir = path.join(runDir, 'nginx');
  const conf = path.join(dir, 'nginx.conf');
  rmSync(dir, { recursive: true, force: true });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  writeFileSync(
    conf,
    `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log info;
events { worker_connections 256; }
http {
  access_log ${dir}/logs/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream anyclaude {
${upstreams.map((u) => `    server ${u} max_fails=1 fail_timeout=30s;`).join('\n')}
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 64m;
    # bodies stay in memory: as root, nginx's workers run as nobody and
    # cannot write temp files under this test's private directory
    client_body_buffer_size 64m;
    location / {
      proxy_pass http://anyclaude;
      proxy_http_version 1.1;
      proxy_set_header Host 127.0.0.1:${replicaPort};
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 300s;
      proxy_next_upstream error timeout http_503;
      add_header X-Upstream $upstream_addr always;
    }
  }
}
`,
  );
  const child = spawn(NGINX, ['-p', dir, '-c', conf, '-e', path.join(dir, 'logs/error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) assert.fail(`nginx exited ${child.exitCode}: ${log}\n${readFileSync(path.join(dir, 'logs/error.log'), 'utf8')}`);
    try {
      await fetch(`${url}/health`);
      break;
    } catch {
      if (i > 100) assert.fail(`nginx not answering on ${url}: ${log}`);
      await sleep(100);
    }
  }
  return { child, url, log: () => log };
}

function nginxErrors() {
  try {
    return readFileSync(path.join(runDir, 'nginx/logs/error.log'), 'utf8').split('\n').filter((l) => /\[(error|crit|alert|emerg)\]/.test(l)).slice(-10).join('\n');
  } catch {
    return '';
  }
}

async function llamaCounters(url) {
  const r = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10000) });
  assert.equal(r.status, 200, `GET ${url}/metrics`);
  return countersOf(await r.text());
}

async function allCounters() {
  const out = {};
  for (const [name, s] of Object.entries(servers)) {
    if (s.dead) continue;
    const m = await llamaCounters(s.url);
    out[name] = { prefilled: m.prompt_tokens_total ?? 0, cached: m.prompt_tokens_cached_total ?? 0 };
  }
  return out;
}

// --- Claude-Code-shaped conversations ---------------------------------------------

const GOLDEN = JSON.parse(readFileSync(path.join(ROOT, 'tests/golden/request/claude_code_turn1.json'), 'utf8'));
// A real Claude Code first request is ~12k tokens and grows from there; the
// golden one is cut short. Deterministic filler text brings it to ~15k, where
// a turn's new tokens (the answer, the next user message and the template's
// markers, ~100) are under 1% of the prompt.
const WORDS = 'read write edit file test build run check the a of to in for with on by tool call result user project code line error fix'.split(' ');
function filler(seed, n) {
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  return Array.from({ length: n }, () => WORDS[Math.floor(rnd() * WORDS.length)]).join(' ');
}
// Each conversation gets its own (as sessions in different projects do:
// Claude Code's system prompt names the project's memory directory). With
// one shared long system prompt, llama-server's own slot choice (slots: 0,
// which replicas need, see docs/scaling.md) takes the slot of another
// conversation that shares it for a newcomer and the two evict each other.

let billing = 0;
class Conversation {
  constructor(k, sid, reference = filler(100 + k, 14000)) {
    this.k = k;
    this.sid = sid;
    this.reference = reference;
    this.messages = structuredClone(GOLDEN.messages);
    this.messages[0].content[1].text = `[conversation ${k}] ${this.messages[0].content[1].text}`;
    this.turns = [];
  }
  body() {
    const sys = structuredClone(GOLDEN.system);
    billing++;
    sys[0].text = `x-anthropic-billing-header: cc_version=2.1.328.593; cc_entrypoint=cli; cch=${(0x5931f + billing * 7919).toString(16)};`;
    sys[2].text += `\n\n# Reference\n${this.reference}`;
    // cache_control moves to the newest message, as Claude Code does
    const messages = structuredClone(this.messages).map((m) => {
      if (Array.isArray(m.content)) for (const b of m.content) delete b.cache_control;
      return m;
    });
    const last = messages.at(-1);
    if (Array.isArray(last.content)) last.content.at(-1).cache_control = { type: 'ephemeral' };
    return { ...GOLDEN, system: sys, messages, stream: true };
  }
}

// POST one turn (streamed) to base; resolves what served it and the usage.
async function send(base, body, sid) {
  const res = await fetch(`${base}/v1/messages?beta=true`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14',
      'x-app': 'cli',
      authorization: 'Bearer anyclaude',
      'X-Claude-Code-Session-Id': sid,
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(180000),
  });
  const text = await res.text();
  const out = { status: res.status, backend: res.headers.get('anyclaude-backend'), upstream: res.headers.get('x-upstream'), text, usage: {}, reply: '' };
  for (const block of text.split('\n\n')) {
    const data = /^data: (.*)$/m.exec(block)?.[1];
    if (!data) continue;
    const ev = JSON.parse(data);
    if (ev.type === 'message_start') Object.assign(out.usage, ev.message.usage);
    if (ev.type === 'message_delta') Object.assign(out.usage, ev.usage);
    if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') out.reply += ev.delta.text;
    out.last = ev.type;
  }
  return out;
}

// One turn of c through nginx, with the serving llama-server's counters.
async function turn(c) {
  const before = await allCounters();
  const r = await send(nginx.url, c.body(), c.sid);
  assert.equal(r.status, 200, `conversation ${c.k} turn ${c.turns.length + 1}: ${r.text.slice(0, 500)}\n${nginxErrors()}`);
  assert.equal(r.last, 'message_stop', r.text.slice(-500));
  const after = await allCounters();
  const moved = Object.keys(after).filter((n) => after[n].prefilled + after[n].cached > before[n].prefilled + before[n].cached);
  assert.deepEqual(moved, [r.backend], `the counters of exactly the server named by anyclaude-backend moved (${JSON.stringify(moved)} vs ${r.backend})`);
  const prefilled = after[r.backend].prefilled - before[r.backend].prefilled;
  const cached = after[r.backend].cached - before[r.backend].cached;
  const t = { backend: r.backend, upstream: r.upstream, prompt: prefilled + cached, prefilled, cached, usage: r.usage };
  c.turns.push(t);
  // the conversation goes on with the model's answer and a new user turn
  c.messages.push({ role: 'assistant', content: [{ type: 'text', text: r.reply || '.' }] });
  c.messages.push({ role: 'user', content: [{ type: 'text', text: `turn ${c.turns.length + 1}: go on (${c.k})` }] });
  return t;
}

function assertCached(c, i, what) {
  const t = c.turns[i];
  const share = t.cached / t.prompt;
  assert.ok(share >= 0.99, `${what}: conversation ${c.k} turn ${i + 1} on ${t.backend}: ${t.cached}/${t.prompt} cached by the server's counters (${(100 * share).toFixed(2)}%)`);
  const u = t.usage;
  const ushare = u.cache_read_input_tokens / (u.cache_read_input_tokens + u.input_tokens);
  assert.ok(ushare >= 0.99, `${what}: usage says ${JSON.stringify(u)}`);
}

before(async () => {
  assert.ok(existsSync(GATEWAY), `${GATEWAY} missing: run make first`);
  for (const name of ['p1', 'p2', 'p3']) servers[name] = await startLlama(['--metrics'], LLAMA_ENV);
  const config = {
    backends: Object.fromEntries(
      Object.entries(servers).map(([n, s]) => [n, { mode: 'llamacpp', url: `${s.url}/v1`, slots: 0 }]),
    ),
    routes: [{ when: 'default', to: Object.keys(servers) }],
    healthCheckMs: 600000, // a refused connection, not a health check, takes a member out here
  };
  const file = path.join(runDir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  const env = gatewayEnv();
  // The replicas listen on one port at two loopback addresses, as replicas
  // on two machines would, and nginx sends Host: 127.0.0.1:PORT, which the
  // gateway's Host check (DNS-rebinding defence) accepts on that port.
  const port = await freePort();
  for (let i = 0; i < 2; i++)
    // --max-tokens 16: short answers keep each turn's new tokens (answer +
    // next user turn) under 1% of a ~10k-token prompt, and the test quick
    replicas.push(
      await startGateway(['--config', file, '--warm-start', 'off', '--debug', '2', '--max-tokens', '16', '--drain-timeout', String(DRAIN_S)], env, {
        host: `127.0.0.${2 + i}`,
        port,
      }),
    );
  nginx = await startNginx(replicas.map((r) => new URL(r.base).host), port);
}, { timeout: 30 * 60 * 1000 });

after(() => stopAll());

const convs = [1, 2, 3].map((k) => new Conversation(k, `7e0c1d2a-1b2c-4d3e-8f40-00000000000${k}`));

test('three conversations through nginx and two replicas: one llama-server each, follow-ups >= 99% cached; a killed server moves only its own', { timeout: 10 * 60 * 1000 }, async () => {
  for (let round = 0; round < 3; round++) for (const c of convs) await turn(c);
  const replicaOf = (t) => t.upstream;
  for (const c of convs) {
    const where = c.turns.map((t) => t.backend);
    assert.deepEqual(where, [where[0], where[0], where[0]], `conversation ${c.k} stays on one llama-server: ${where}`);
    const via = c.turns.map(replicaOf);
    for (let i = 1; i < via.length; i++) assert.notEqual(via[i], via[i - 1], `conversation ${c.k}'s turns alternate between the replicas: ${via}`);
    assertCached(c, 1, 'before the kill');
    assertCached(c, 2, 'before the kill');
  }
  // kill the server of conversation 1 (SIGKILL: no goodbye)
  const victim = convs[0].turns[0].backend;
  const pid = Number(readFileSync(path.join(runDir, `llama-${servers[victim].port}.pid`), 'utf8'));
  process.kill(pid, 'SIGKILL');
  servers[victim].dead = true;
  const home = Object.fromEntries(convs.map((c) => [c.k, c.turns[0].backend]));
  for (let round = 0; round < 3; round++) for (const c of convs) await turn(c);
  for (const c of convs) {
    const after = c.turns.slice(3).map((t) => t.backend);
    if (home[c.k] === victim) {
      assert.notEqual(after[0], victim);
      assert.deepEqual(after, [after[0], after[0], after[0]], `conversation ${c.k} moved once and stays, whichever replica serves it: ${after} via ${c.turns.slice(3).map(replicaOf)}`);
      assertCached(c, 4, 'moved, second turn on its new server');
      assertCached(c, 5, 'moved, third turn on its new server');
    } else {
      assert.deepEqual(after, [home[c.k], home[c.k], home[c.k]], `conversation ${c.k} was not on ${victim} and must not move: ${after}`);
      for (let i = 3; i < 6; i++) assertCached(c, i, 'not moved');
    }
    const via = c.turns.slice(3).map(replicaOf);
    assert.ok(new Set(via).size === 2, `conversation ${c.k} went through both replicas after the kill: ${via}`);
  }
  const table = convs.map((c) => `c${c.k}: ${c.turns.map((t) => `${t.backend}@${t.upstream.split(':')[0]} ${t.cached}/${t.prompt}`).join(', ')}`);
  console.log(`killed ${victim}\n${table.join('\n')}`);
});

test('SIGTERM to a replica with three streams in flight: all end with message_stop, nginx sends new requests to the other, exit 0 within the deadline', { timeout: 5 * 60 * 1000 }, async () => {
  const [r1, r2] = replicas;
  const r2addr = new URL(r2.base).host;
  // three new conversations straight to replica 1, each with a system
  // prompt of its own: a cold ~10k-token prefill (over a second on this
  // model, more on a busy machine), so they are still streaming at SIGTERM
  const fresh = [4, 5, 6].map((k) => new Conversation(k, `7e0c1d2a-1b2c-4d3e-8f40-00000000001${k}`, filler(k, 9000)));
  const started = [];
  const streams = fresh.map((c) => {
    let onStart;
    started.push(new Promise((r) => (onStart = r)));
    return (async () => {
      const res = await fetch(`${r1.base}/v1/messages?beta=true`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'X-Claude-Code-Session-Id': c.sid },
        body: JSON.stringify(c.body()),
      });
      let text = '';
      const dec = new TextDecoder();
      for await (const chunk of res.body) {
        text += dec.decode(chunk, { stream: true });
        if (text.includes('message_start')) onStart();
      }
      onStart();
      return { status: res.status, text };
    })();
  });
  await Promise.all(started);
  const t0 = Date.now();
  const exited = new Promise((r) => r1.child.once('exit', (code, signal) => r({ code, signal, ms: Date.now() - t0 })));
  r1.child.kill('SIGTERM');
  // new requests through nginx while replica 1 drains: all on replica 2
  for (const c of convs) {
    const r = await send(nginx.url, c.body(), c.sid);
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assert.equal(r.last, 'message_stop');
    assert.equal(r.upstream.split(', ').pop(), r2addr, `served by the other replica: ${r.upstream}`);
  }
  const results = await Promise.all(streams);
  const stillRunning = r1.child.exitCode === null;
  for (const s of results) {
    assert.equal(s.status, 200);
    assert.match(s.text, /event: message_stop/, `${s.text.slice(-400)}\n--- replica 1:\n${r1.log().slice(-3000)}`);
    assert.doesNotMatch(s.text, /event: error/);
  }
  const e = await exited;
  assert.deepEqual({ code: e.code, signal: e.signal }, { code: 0, signal: null }, r1.log().slice(-3000));
  assert.ok(e.ms < DRAIN_S * 1000, `exited within the drain deadline (${e.ms} ms)`);
  assert.match(r1.log(), /drain: done/);
  console.log(`replica 1 drained in ${e.ms} ms (streams done while it ran: ${stillRunning})`);
});
