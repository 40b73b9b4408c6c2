// bench/token-latency: how long a token takes from the backend's write to
// the client's read, with the CPUs idle and with every core busy (as when a
// model computes on the CPU), direct, through a relay that only forwards
// bytes (lib_overhead/relay.c: what one more process costs, the floor of any
// gateway), through anyclaude and through claude-code-router (and, with
// --baseline, another anyclaude build), side by side in one run.
//
// The backend (lib_overhead/paced_backend.mjs) streams like a model: a token
// every --gap ms, its content the CLOCK_MONOTONIC time of its write. The
// client (node:http, as Claude Code is a Node program) reads the stream,
// takes the same clock when its socket delivers bytes, and counts every
// token in them: latency = read time - write time. The physical minimum is
// the direct path: the same bytes with no gateway in between.
//
// "busy": --hogs processes (default: one per CPU) spinning at normal
// priority for the whole measurement, started before and stopped after it.
// Prints a table and writes bench/results/token-latency-<date>.md (or --out).

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, runBench, runScope, sleep, startLogged, tail, waitHttp } from './lib/procs.mjs';
import { mdTable } from './lib/table.mjs';
import { CCR_CLI, startAnyclaude, startCcr, startRelay } from './lib_overhead/gateways.mjs';
import { cpuNsOf } from './lib_overhead/procs.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const HELP = `usage: bench/token-latency [options]
  --tokens N       tokens per stream (default 50)
  --gap MS         milliseconds between tokens (default 20)
  --reps N         measured streams per path and condition (default 6)
  --hogs N         spinning processes in the "busy" condition (default: the CPU count)
  --baseline BIN   also measure another anyclaude build as path "baseline"
  --no-ccr         leave claude-code-router out
  --out FILE       Markdown output (default bench/results/token-latency-<date>.md)`;

function parseArgs(argv) {
  const o = { tokens: 50, gap: 20, reps: 6, hogs: os.availableParallelism(), baseline: null, ccr: true, out: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    const num = () => {
      const n = Number(next());
      if (!Number.isInteger(n) || n <= 0) throw new Error(`${a}: not a positive whole number`);
      return n;
    };
    if (a === '--help' || a === '-h') {
      console.log(HELP);
      process.exit(0);
    } else if (a === '--tokens') o.tokens = num();
    else if (a === '--gap') o.gap = num();
    else if (a === '--reps') o.reps = num();
    else if (a === '--hogs') o.hogs = num();
    else if (a === '--baseline') o.baseline = path.resolve(next());
    else if (a === '--no-ccr') o.ccr = false;
    else if (a === '--out') o.out = path.resolve(next());
    else throw new Error(`unknown option ${a}\n${HELP}`);
  }
  return o;
}

const opt = parseArgs(process.argv.slice(2));
const log = (...a) => console.error(...a);
const { tmpRoot, cleanup } = runScope('token-latency', { log });

async function startBackend() {
  const port = await freePort();
  const logFile = path.join(tmpRoot, 'backend.log');
  const p = startLogged('backend', process.execPath, [path.join(ROOT, 'bench/lib_overhead/paced_backend.mjs'), '--port', String(port), '--tokens', String(opt.tokens), '--gap', String(opt.gap)], { logFile });
  const url = `http://127.0.0.1:${port}`;
  if (!(await waitHttp(`${url}/health`, { isDead: p.isDead }))) throw new Error(`backend did not start:\n${tail(logFile)}`);
  return { ...p, port, url };
}

// One stream; resolves to the latency (ms) of every token it carried, or
// rejects (an HTTP error, a line that is not JSON, a broken or stuck stream).
function stream(target, agent) {
  return new Promise((resolve, reject) => {
    const lat = [];
    let buf = '';
    const limitMs = opt.tokens * opt.gap + 30000;
    const req = http.request({ host: '127.0.0.1', port: target.port, path: target.path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(target.body), ...target.headers }, agent }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`${target.name}: HTTP ${res.statusCode}`));
        return;
      }
      res.on('data', (d) => {
        const now = process.hrtime.bigint();
        buf += d.toString('utf8');
        const lines = buf.split('\n');
        buf = lines.pop();
        for (const line of lines) {
          if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
          let event;
          try {
            event = JSON.parse(line.slice(6));
          } catch {
            req.destroy(new Error(`${target.name}: not JSON: ${line.slice(0, 200)}`));
            return;
          }
          const text = target.text(event);
          if (!text) continue;
          for (const m of text.matchAll(/(\d+)\|/g)) lat.push(Number(now - BigInt(m[1])) / 1e6);
        }
      });
      res.on('end', () => resolve(lat));
      res.on('error', reject);
    });
    req.setTimeout(limitMs, () => req.destroy(new Error(`${target.name}: no end after ${limitMs} ms`)));
    req.on('error', reject);
    req.end(target.body);
  });
}

const q = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

function spinners(n) {
  const stops = [];
  for (let i = 0; i < n; i++) stops.push(startLogged(`hog${i}`, 'sh', ['-c', 'while :; do :; done'], { logFile: '/dev/null' }).stop);
  return () => stops.forEach((s) => s());
}

async function main() {
  const t0 = Date.now();
  const be = await startBackend();
  const anthropicBody = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 1024, stream: true, messages: [{ role: 'user', content: 'count' }] });
  const anthropic = (name, gw) => ({ name, port: gw.port, pid: gw.pid, path: '/v1/messages', body: anthropicBody, headers: { 'x-api-key': 'bench', 'anthropic-version': '2023-06-01' }, text: (e) => (e.type === 'content_block_delta' ? e.delta?.text : null) });
  const openai = (name, p) => ({ name, port: p.port, pid: p.pid, path: '/v1/chat/completions', body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'count' }] }), headers: {}, text: (e) => e.choices?.[0]?.delta?.content });
  const targets = [openai('direct', { port: be.port }), openai('relay', await startRelay(tmpRoot, be.port))];
  targets.push(anthropic('anyclaude', await startAnyclaude(tmpRoot, `${be.url}/v1`)));
  if (opt.baseline) targets.push(anthropic('baseline', await startAnyclaude(tmpRoot, `${be.url}/v1`, { name: 'baseline', bin: opt.baseline })));
  if (opt.ccr) {
    if (!fs.existsSync(CCR_CLI)) throw new Error('claude-code-router is not installed: run bash bench/setup.sh (or pass --no-ccr)');
    targets.push(anthropic('ccr', await startCcr(tmpRoot, `${be.url}/v1`)));
  }
  const agents = new Map(targets.map((t) => [t.name, new http.Agent({ keepAlive: true, maxSockets: 1 })]));

  const results = [];
  for (const cond of ['idle', 'busy']) {
    const stop = cond === 'busy' ? spinners(opt.hogs) : () => {};
    try {
      if (cond === 'busy') await sleep(300);
      log(`token-latency: ${cond}${cond === 'busy' ? ` (${opt.hogs} spinning processes)` : ''}: ${opt.reps} streams of ${opt.tokens} tokens ${opt.gap} ms apart per path`);
      const lat = new Map(targets.map((t) => [t.name, []]));
      for (const t of targets) await stream(t, agents.get(t.name)); // warm-up
      const cpu0 = new Map(targets.map((t) => [t.name, t.pid ? cpuNsOf(t.pid) : null]));
      for (let r = 0; r < opt.reps; r++) for (const t of targets) lat.get(t.name).push(...(await stream(t, agents.get(t.name))));
      for (const t of targets) {
        const s = lat.get(t.name).sort((a, b) => a - b);
        if (s.length !== opt.reps * opt.tokens) throw new Error(`${t.name}: ${s.length} tokens read, ${opt.reps * opt.tokens} sent`);
        // the gateway's CPU (every thread, user and system) per stream
        const cpuMs = t.pid ? (cpuNsOf(t.pid) - cpu0.get(t.name)) / 1e6 / opt.reps : null;
        results.push({ cond, path: t.name, n: s.length, p50: q(s, 0.5), p90: q(s, 0.9), p99: q(s, 0.99), max: s[s.length - 1], cpuMs });
      }
    } finally {
      stop();
    }
  }

  const direct = (cond, k) => results.find((r) => r.cond === cond && r.path === 'direct')[k];
  const f = (x) => x.toFixed(3);
  const table = mdTable(
    ['condition', 'path', 'tokens', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'added p50', 'added p90', 'added p99', 'CPU/stream ms'],
    results.map((r) => [r.cond, r.path, r.n, f(r.p50), f(r.p90), f(r.p99), f(r.max), r.path === 'direct' ? '-' : f(r.p50 - direct(r.cond, 'p50')), r.path === 'direct' ? '-' : f(r.p90 - direct(r.cond, 'p90')), r.path === 'direct' ? '-' : f(r.p99 - direct(r.cond, 'p99')), r.cpuMs === null ? '-' : r.cpuMs.toFixed(2)]),
    ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
  const added = (cond, name) => {
    const r = results.find((x) => x.cond === cond && x.path === name);
    return r ? r.p50 - direct(cond, 'p50') : null;
  };
  const summary = ['idle', 'busy']
    .map((cond) => {
      const a = added(cond, 'anyclaude');
      const c = added(cond, 'ccr');
      const ratio = c !== null && a > 0.01 ? ` (${(c / a).toFixed(1)}x anyclaude's)` : '';
      return `- ${cond}: anyclaude adds ${f(a)} ms to a token at the median (the relay, the floor: ${f(added(cond, 'relay'))} ms)${c !== null ? `, claude-code-router ${f(c)} ms${ratio}` : ''}.`;
    })
    .join('\n');
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const md = `# bench/token-latency, ${new Date().toISOString().slice(0, 10)}

Command: \`bench/token-latency ${process.argv.slice(2).join(' ')}\`; ${Math.round((Date.now() - t0) / 1000)} s.
Machine: ${cpu} x${os.availableParallelism()}, Linux ${os.release()}; load average at start ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}.
${opt.baseline ? `Baseline: \`${opt.baseline}\` as path "baseline".\n` : ''}
Latency of one token: from the backend's write (its CLOCK_MONOTONIC time is the token) to the client's read of it; ${opt.tokens} tokens ${opt.gap} ms apart per stream, paths interleaved stream by stream. busy: ${opt.hogs} processes spinning at normal priority. CPU/stream: the gateway's CPU time (every process and thread of it, user and system) per measured stream of ${opt.tokens} tokens. added = path minus direct at the same percentile (direct is the physical minimum: the same bytes, no gateway; relay: one more process that only forwards them, the floor of any gateway).

${table}

${summary}
`;
  console.log(md);
  const out = opt.out ?? path.join(ROOT, 'bench/results', `token-latency-${new Date().toISOString().slice(0, 10)}.md`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, md);
  log(`bench: wrote ${path.relative(ROOT, out)}`);
}

runBench(main, cleanup, log);
