// bench/overhead.mjs: what a gateway costs. Run it as `bench/overhead`.
//
// Four paths to one fast scripted OpenAI-compatible backend (lib_overhead/
// backend.c, or backend.mjs with --node-backend) that streams 500 chunks of a
// few tokens each with no delay, then usage and [DONE]:
//   direct     the equivalent OpenAI request straight to the backend
//   relay      the same through lib_overhead/relay.c, a process that only
//              forwards bytes: the floor of any gateway on this machine
//   anyclaude  build/anyclaude serve --mode openai --backend ... --model m
//   ccr        claude-code-router 2.0.0 (ccr start, bench/node_modules)
//
// 1. Payloads: a real Claude Code first-turn request (claude -p hi against a
//    local recorder, cached per claude version), grown with tool_use /
//    tool_result turns carrying this repository's files to exactly 60 KiB and
//    1 MiB. The direct path sends what anyclaude sends upstream for the same
//    request (captured once through a capture backend): equivalent content.
// 2. Latency: per size, warmup, then reps requests per path, paths interleaved
//    (rotating order), one at a time, raw node:http client (no SDK), every byte
//    consumed. TTFB = first content_block_delta (Anthropic paths) or first
//    `data: ` chunk (direct); total = last byte. Medians; added TTFB =
//    TTFB(path) - TTFB(direct); per chunk = (total(path) - total(direct) -
//    added TTFB) / 500.
// 3. Memory: VmRSS right after start (idle), VmHWM after the latency runs and
//    after the load runs.
// 4. Concurrency: levels of N clients each looping streamed 60 KiB requests;
//    each level held --step s; the highest level with no error is then held
//    --hold s (60 s), stepping down if it fails. Error = non-200, socket error,
//    a stream without its end marker, or a stream longer than --timeout s.
// 5. Targets with PASS/FAIL; Markdown to bench/results/overhead-<date>.md.
//
// Scheduling: on a loaded machine (load average above half the CPUs) the
// latency runs put the backend, gateways and client under SCHED_RR (chrt) so
// the numbers measure the gateways, not other tenants; --rt / --no-rt force it.
// The load runs always use normal scheduling.
// Exits 0 whatever the numbers (it is a benchmark); 1 only if it cannot run.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeBackend } from './lib_overhead/backend.mjs';
import { CCR_CLI, GATEWAY, buildC, startAnyclaude as startAnyclaudeIn, startCcr as startCcrIn, startRelay as startRelayIn } from './lib_overhead/gateways.mjs';
import { load, makeAgent, streamOnce } from './lib_overhead/client.mjs';
import { captureFirstTurn, grow } from './lib_overhead/payloads.mjs';
import { freePort, register, runScope, sleep, startLogged, tail, waitHttp } from './lib/procs.mjs';
import { mdTable } from './lib/table.mjs';
import { cpuNsOf, fdCount, memOf, openFilesLimit } from './lib_overhead/procs.mjs';
import { measureFloor } from './lib_overhead/floor.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = process.env.ANYCLAUDE_CACHE ?? path.join(os.homedir(), '.cache/anyclaude');
const CLAUDE = path.resolve(ROOT, process.env.CLAUDE_BIN ?? 'tests/node_modules/@anthropic-ai/claude-code-linux-x64/claude');
const CHUNKS = 500;
const SIZES = [
  { key: '60k', label: '60 KiB', bytes: 60 * 1024 },
  { key: '1m', label: '1 MiB', bytes: 1024 * 1024 },
];

// --- options ---------------------------------------------------------------------

const HELP = `usage: bench/overhead [--quick] [options]
  --quick            shorter run (~3 min): fewer reps, 5 s steps, 15 s hold
  --reps60 N         measured requests per path at 60 KiB (default 50; quick 15)
  --reps1m N         measured requests per path at 1 MiB (default 20; quick 6)
  --warmup N         warmup requests per path and size (default 5; quick 2)
  --levels A,B,..    concurrency levels (default 100,250,500,1000)
  --step S           seconds per ramp level (default 10; quick 5)
  --hold S           seconds for the highest passing level (default 60; quick 15)
  --timeout S        a stream longer than this is an error (default 60)
  --paths LIST       any of direct,relay,anyclaude,ccr (default all four; relay:
                     lib_overhead/relay.c, a process that only forwards bytes:
                     the floor of any gateway on this machine)
  --no-load          skip the concurrency runs
  --node-backend     the Node backend (lib_overhead/backend.mjs) instead of the C one
  --rt | --no-rt     force SCHED_RR for the latency runs on or off (default: on
                     when the load average is above half the CPUs)
  --no-client-first  under SCHED_RR, skip the second latency pass with the
                     client one priority above backend and gateways
  --baseline BIN     also measure another anyclaude build (e.g. main's) as path
                     "baseline", interleaved with the others in the latency
                     runs (not in the load runs): before/after in one run
  --out FILE         Markdown output (default bench/results/overhead-<date>.md)`;

function parseArgs(argv) {
  const o = { quick: false, load: true, nodeBackend: false, rt: 'auto', paths: ['direct', 'relay', 'anyclaude', 'ccr'], levels: [100, 250, 500, 1000], timeout: 60 };
  const num = (v, k) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${k}: not a positive number: ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--reps60') o.reps60 = num(next(), a);
    else if (a === '--reps1m') o.reps1m = num(next(), a);
    else if (a === '--warmup') o.warmup = Number(next());
    else if (a === '--levels') o.levels = next().split(',').map((x) => num(x, a));
    else if (a === '--step') o.step = num(next(), a);
    else if (a === '--hold') o.hold = num(next(), a);
    else if (a === '--timeout') o.timeout = num(next(), a);
    else if (a === '--paths') o.paths = next().split(',').map((s) => s.trim());
    else if (a === '--no-load') o.load = false;
    else if (a === '--no-client-first') o.noClientFirst = true;
    else if (a === '--node-backend') o.nodeBackend = true;
    else if (a === '--rt') o.rt = true;
    else if (a === '--no-rt') o.rt = false;
    else if (a === '--out') o.out = next();
    else if (a === '--baseline') o.baseline = path.resolve(next());
    else if (a === '-h' || a === '--help') {
      console.log(HELP);
      process.exit(0);
    } else throw new Error(`unknown option ${a}\n${HELP}`);
  }
  o.reps60 ??= o.quick ? 15 : 50;
  o.reps1m ??= o.quick ? 6 : 20;
  o.warmup ??= o.quick ? 2 : 5;
  o.step ??= o.quick ? 5 : 10;
  o.hold ??= o.quick ? 15 : 60;
  if (!o.paths.includes('direct')) o.paths.unshift('direct'); // the floor everything is compared to
  for (const p of o.paths) if (!['direct', 'relay', 'anyclaude', 'ccr'].includes(p)) throw new Error(`unknown path ${p}`);
  if (o.baseline) o.paths.push('baseline');
  o.levels.sort((a, b) => a - b);
  return o;
}

let opt;
try {
  opt = parseArgs(process.argv.slice(2));
} catch (e) {
  console.error(`overhead: ${e.message}`);
  process.exit(1);
}

const log = (...a) => console.error(...a);
const started = Date.now();

// --- cleanup on every exit path -------------------------------------------------------

const { tmpRoot, cleanup } = runScope('overhead', { log });
process.on('uncaughtException', (e) => {
  log(`overhead: ${e.stack ?? e}`);
  cleanup();
  process.exit(1);
});
process.on('unhandledRejection', (e) => {
  log(`overhead: ${e?.stack ?? e}`);
  cleanup();
  process.exit(1);
});

// --- helpers -----------------------------------------------------------------------------

const median = (a) => {
  if (!a.length) return NaN;
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const pctl = (a, p) => {
  if (!a.length) return NaN;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const f3 = (x) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
const us = (ms) => (Number.isFinite(ms) ? (ms * 1000).toFixed(1) : 'n/a');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 && a > 0 ? `${(a / b).toFixed(1)}x` : 'n/a');
const mb = (kb) => (Number.isFinite(kb) && kb > 0 ? (kb / 1024).toFixed(1) : 'n/a');

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 }).trim();
  } catch {
    return null;
  }
}

const loadAvg = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
const ncpu = os.availableParallelism?.() ?? os.cpus().length;

// SCHED_RR for a pid (and all its threads) or back to SCHED_OTHER.
function setRt(pid, on, all = true, prio = 10) {
  const args = on ? [...(all ? ['-a'] : []), '-r', '-p', String(prio), String(pid)] : [...(all ? ['-a'] : []), '-o', '-p', '0', String(pid)];
  return spawnSync('chrt', args, { stdio: 'ignore' }).status === 0;
}

// --- setup -------------------------------------------------------------------------------

async function startBackend() {
  const port = await freePort();
  const logFile = path.join(tmpRoot, 'backend.log');
  let p;
  if (opt.nodeBackend) {
    p = startLogged('backend', process.execPath, [path.join(ROOT, 'bench/lib_overhead/backend.mjs'), '--port', String(port), '--chunks', String(CHUNKS)], { logFile });
  } else {
    p = startLogged('backend', buildC(tmpRoot, 'backend.c'), [String(port), String(CHUNKS)], { logFile });
  }
  const url = `http://127.0.0.1:${port}`;
  if (!(await waitHttp(`${url}/health`, { timeoutMs: 10000, isDead: p.isDead }))) throw new Error(`backend did not come up:\n${tail(logFile)}`);
  return { ...p, port, url, v1: `${url}/v1`, kind: opt.nodeBackend ? 'Node (lib_overhead/backend.mjs)' : 'C (lib_overhead/backend.c)' };
}

// The gateways, in this run's temp dir (lib_overhead/gateways.mjs).
const startAnyclaude = (backendV1, name = 'anyclaude', bin = GATEWAY) => startAnyclaudeIn(tmpRoot, backendV1, { name, bin });
const startCcr = (backendV1) => startCcrIn(tmpRoot, backendV1);
const startRelay = (bePort) => startRelayIn(tmpRoot, bePort);

// What anyclaude sends upstream for each Anthropic body: the direct path's request.
async function captureUpstream(anthropicBodies, headers) {
  const got = [];
  const server = makeBackend({ chunks: 3, onBody: (b) => got.push(b) });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const v1 = `http://127.0.0.1:${server.address().port}/v1`;
  const gw = await startAnyclaude(v1, 'anyclaude-capture');
  const agent = makeAgent(1);
  const out = [];
  try {
    for (const body of anthropicBodies) {
      const before = got.length;
      const r = await streamOnce({ port: gw.port, path: '/v1/messages?beta=true', headers, body, firstMarker: 'content_block_delta', endMarker: 'message_stop' }, agent, { timeoutMs: 30000 });
      if (!r.ok || got.length !== before + 1) throw new Error(`capture through anyclaude failed: ${r.err}\n${tail(gw.logFile)}`);
      out.push(got[before]);
    }
  } finally {
    agent.destroy();
    gw.stop();
    server.closeAllConnections?.();
    await new Promise((r) => server.close(r));
  }
  return out;
}

// --- latency -------------------------------------------------------------------------

async function latency(targets, size, reps, warmup, pids = {}) {
  const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuNsOf(pid)]));
  const agents = Object.fromEntries(Object.keys(targets).map((k) => [k, makeAgent(1)]));
  const res = Object.fromEntries(Object.keys(targets).map((k) => [k, { ttfb: [], total: [], errors: 0, errs: [] }]));
  const names = Object.keys(targets);
  for (let i = 0; i < warmup + reps; i++) {
    const order = names.map((_, j) => names[(i + j) % names.length]); // rotate who goes first
    for (const k of order) {
      const r = await streamOnce(targets[k][size], agents[k], { timeoutMs: 60000 });
      if (!r.ok || r.ttfbNs === null) {
        res[k].errors++;
        if (res[k].errs.length < 3) res[k].errs.push(r.err ?? 'no first marker');
      } else if (i >= warmup) {
        res[k].ttfb.push(Number(r.ttfbNs) / 1e6);
        res[k].total.push(Number(r.totalNs) / 1e6);
      }
      await sleep(3); // let the previous exchange's teardown finish everywhere
    }
  }
  for (const a of Object.values(agents)) a.destroy();
  for (const k of names) {
    const r = res[k];
    // gateway CPU (every thread, user+system) per request, warmup included in both terms
    if (k in cpu0) r.cpuMs = (cpuNsOf(pids[k]) - cpu0[k]) / 1e6 / (warmup + reps);
    r.n = r.ttfb.length;
    r.ttfbMed = median(r.ttfb);
    r.ttfbP90 = pctl(r.ttfb, 90);
    r.totalMed = median(r.total);
    r.totalP90 = pctl(r.total, 90);
    delete r.ttfb;
    delete r.total;
  }
  return res;
}

// --- concurrency -------------------------------------------------------------------------

async function concurrency(name, target, pid) {
  const runs = [];
  const sampler = { peakFds: 0, peakRssKb: 0 };
  const timer = setInterval(() => {
    if (!pid) return;
    sampler.peakFds = Math.max(sampler.peakFds, fdCount(pid) ?? 0);
    sampler.peakRssKb = Math.max(sampler.peakRssKb, memOf(pid).rssKb);
  }, 500);
  const run = async (clients, seconds, kind) => {
    log(`  ${name}: ${clients} concurrent streams for ${seconds} s (${kind})...`);
    const r = await load(target, { clients, seconds, timeoutMs: opt.timeout * 1000 });
    r.kind = kind;
    runs.push(r);
    const kinds = [...r.errorKinds].map(([k, n]) => `${n}x ${k}`).join('; ');
    log(`    ${r.completed} streams ok, ${r.errors} errors${kinds ? ` (${kinds})` : ''}, ${r.rps.toFixed(0)}/s, p50 ${f2(r.p50 / 1000)} s, p99 ${f2(r.p99 / 1000)} s`);
    // Before the next level, let the gateway finish what it still holds (streams
    // the client gave up on at the timeout keep a gateway busy): wait until it
    // uses under 3% of a CPU over a second, at most 120 s.
    await sleep(1000);
    const t0 = Date.now();
    while (pid && Date.now() - t0 < 120000) {
      const c0 = cpuNsOf(pid);
      await sleep(1000);
      if (cpuNsOf(pid) - c0 < 0.03e9) break;
    }
    r.settleS = (Date.now() - t0) / 1000;
    if (r.settleS > 3) log(`    (${name} took ${r.settleS.toFixed(0)} s to go idle before the next level)`);
    return r.errors === 0 && r.completed > 0;
  };
  let best = 0;
  try {
    const passed = [];
    for (const n of opt.levels) {
      if (!(await run(n, opt.step, 'ramp'))) break;
      passed.push(n);
    }
    // Hold the highest level that passed its step; if that fails, the next one down.
    for (const n of passed.reverse().slice(0, 2)) {
      if (await run(n, opt.hold, 'hold')) {
        best = n;
        break;
      }
    }
  } finally {
    clearInterval(timer);
  }
  return { runs, best, ...sampler };
}

// --- main ----------------------------------------------------------------------------------

async function main() {
  for (const [what, p] of [
    ['build/anyclaude (run make)', GATEWAY],
    ['claude-code-router (run bash bench/setup.sh)', CCR_CLI],
  ])
    if (!fs.existsSync(p)) throw new Error(`${what} missing: ${p}`);

  const limits = fs.readFileSync('/proc/self/limits', 'utf8').match(/^Max open files\s+(\S+)\s+(\S+)/m);
  const fdSoft = limits ? limits[1] : '?';
  const fdHard = limits ? limits[2] : '?';
  const need = 4 * opt.levels[opt.levels.length - 1] + 256;
  const rt = opt.rt === 'auto' ? os.loadavg()[0] > ncpu / 2 : opt.rt;
  const rtOk = rt && spawnSync('chrt', ['-r', '10', 'true'], { stdio: 'ignore' }).status === 0;
  const env = {
    date: new Date().toISOString(),
    host: `${os.cpus()[0]?.model ?? '?'} x${ncpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}`,
    loadStart: loadAvg(),
    node: process.version,
    anyclaude: sh(GATEWAY, ['--version']) ?? '?',
    ccr: JSON.parse(fs.readFileSync(path.join(path.dirname(CCR_CLI), '../package.json'), 'utf8')).version,
    ulimit: `${fdSoft} soft / ${fdHard} hard`,
    sched: rtOk ? 'SCHED_RR 10 (chrt) for backend, gateways and client during the latency runs; normal during load runs' : `normal (CFS)${rt && !rtOk ? ' (chrt refused)' : ''}`,
  };
  log(`overhead: ${env.host}; load average ${env.loadStart}; node ${env.node}; ${env.anyclaude}; ccr ${env.ccr}`);
  log(`overhead: open files limit ${env.ulimit} (the top level needs about ${need}); scheduling: ${env.sched}`);
  if (Number(fdSoft) < need) log(`overhead: WARNING: ulimit -n ${fdSoft} is below ${need}; raise it (ulimit -n ${need}) or expect EMFILE at the top levels`);

  // 1. payloads
  const cap = await captureFirstTurn({ claude: CLAUDE, cacheDir: CACHE, log, register });
  const first = JSON.parse(cap.raw);
  const anthropicHeaders = { ...cap.headers, 'content-type': 'application/json', authorization: 'Bearer bench-token' };
  delete anthropicHeaders['x-api-key'];
  const anth = {};
  for (const s of SIZES) {
    const g = grow(first, s.bytes, { root: ROOT });
    anth[s.key] = { body: Buffer.from(JSON.stringify(g.body)), turns: g.turns, messages: g.body.messages.length };
  }
  log(`overhead: payloads from claude ${cap.claudeVersion}'s first turn (${cap.raw.length} B, ${first.tools?.length ?? 0} tools): ` + SIZES.map((s) => `${s.label} = ${anth[s.key].messages} messages`).join(', '));

  const upstream = await captureUpstream(
    SIZES.map((s) => anth[s.key].body),
    anthropicHeaders,
  );
  const direct = Object.fromEntries(SIZES.map((s, i) => [s.key, upstream[i]]));
  log(`overhead: direct bodies (what anyclaude sends upstream): ` + SIZES.map((s) => `${s.label} -> ${direct[s.key].length} B`).join(', '));

  // 2. processes
  const be = await startBackend();
  log(`overhead: backend ${be.kind} on ${be.url}, ${CHUNKS} chunks per stream`);
  const gws = {};
  if (opt.paths.includes('relay')) {
    gws.relay = await startRelay(be.port);
    log(`overhead: relay (bytes forwarded, nothing else) on ${gws.relay.url}`);
  }
  if (opt.paths.includes('anyclaude')) {
    gws.anyclaude = await startAnyclaude(be.v1);
    log(`overhead: anyclaude on ${gws.anyclaude.url} (pid ${gws.anyclaude.pid}, idle RSS ${mb(gws.anyclaude.idle.rssKb)} MB, PSS ${mb(gws.anyclaude.idle.pssKb)} MB, private ${mb(gws.anyclaude.idle.privKb)} MB, open files limit ${openFilesLimit(gws.anyclaude.pid)})`);
  }
  if (opt.baseline) {
    gws.baseline = await startAnyclaude(be.v1, 'baseline', opt.baseline);
    log(`overhead: baseline ${opt.baseline} on ${gws.baseline.url} (idle RSS ${mb(gws.baseline.idle.rssKb)} MB)`);
  }
  if (opt.paths.includes('ccr')) {
    gws.ccr = await startCcr(be.v1);
    log(`overhead: ccr on ${gws.ccr.url} (pids ${gws.ccr.idle.pids.join(',')}, idle RSS ${mb(gws.ccr.idle.rssKb)} MB, open files limit ${openFilesLimit(gws.ccr.pid)})`);
  }

  const targets = {};
  for (const p of opt.paths) {
    targets[p] = {};
    for (const s of SIZES) {
      targets[p][s.key] =
        p === 'direct' || p === 'relay'
          ? { port: p === 'relay' ? gws.relay.port : be.port, path: '/v1/chat/completions', headers: { 'content-type': 'application/json', authorization: 'Bearer bench' }, body: direct[s.key], firstMarker: 'data: ', endMarker: '[DONE]' }
          : { port: gws[p].port, path: '/v1/messages?beta=true', headers: anthropicHeaders, body: anth[s.key].body, firstMarker: 'content_block_delta', endMarker: 'message_stop' };
    }
  }
  // sanity: one request per path and size, checking the streams carry the 500 chunks
  for (const p of opt.paths) {
    const agent = makeAgent(1);
    const r = await streamOnce(targets[p]['60k'], agent, { timeoutMs: 30000 });
    agent.destroy();
    if (!r.ok) throw new Error(`${p}: a first request failed: ${r.err}${gws[p] ? `\n${tail(gws[p].logFile)}` : ''}`);
  }

  // 3. latency (under SCHED_RR when chosen: this process's main thread, the
  // backend and every gateway thread; switched back before the load runs)
  const rtPids = () => [be.pid, ...Object.values(gws).flatMap((g) => memOf(g.pid).pids)];
  if (rtOk) {
    setRt(process.pid, true, false);
    for (const pid of rtPids()) setRt(pid, true);
  }
  const lat = {};
  for (const s of SIZES) {
    const reps = s.key === '60k' ? opt.reps60 : opt.reps1m;
    log(`overhead: latency at ${s.label}: ${opt.warmup} warmup + ${reps} measured requests per path, interleaved...`);
    lat[s.key] = await latency(targets, s.key, reps, opt.warmup, Object.fromEntries(Object.entries(gws).map(([g, v]) => [g, v.pid])));
    for (const p of opt.paths) {
      const r = lat[s.key][p];
      log(`  ${p.padEnd(9)} TTFB ${f3(r.ttfbMed)} ms (p90 ${f3(r.ttfbP90)}), total ${f3(r.totalMed)} ms (p90 ${f3(r.totalP90)})${r.cpuMs !== undefined ? `, gateway CPU ${f3(r.cpuMs)} ms/request` : ''}${r.errors ? `, ${r.errors} errors: ${r.errs.join('; ')}` : ''}`);
    }
  }
  // The same again with the client (this process) one priority above the
  // backend and gateways: on 2 cores, at equal priority, a client woken by
  // the first delta waits for a CPU while the gateway translates and the
  // backend sends the other 499 chunks (none is delayed); first it never
  // waits, and its TTFB is the paths' own.
  const latFirst = {};
  if (rtOk && !opt.noClientFirst) {
    setRt(process.pid, true, false, 20);
    for (const s of SIZES) {
      const reps = s.key === '60k' ? opt.reps60 : opt.reps1m;
      log(`overhead: latency at ${s.label}, client first: ${opt.warmup} warmup + ${reps} measured requests per path, interleaved...`);
      latFirst[s.key] = await latency(targets, s.key, reps, opt.warmup);
      for (const p of opt.paths) log(`  ${p.padEnd(9)} TTFB ${f3(latFirst[s.key][p].ttfbMed)} ms (p90 ${f3(latFirst[s.key][p].ttfbP90)}), total ${f3(latFirst[s.key][p].totalMed)} ms`);
    }
  }
  if (rtOk) {
    setRt(process.pid, false, false);
    for (const pid of rtPids()) setRt(pid, false);
  }
  const mem = {};
  for (const g of Object.keys(gws)) mem[g] = { idle: gws[g].idle, afterLatency: memOf(gws[g].pid) };
  const floor = await measureFloor(ROOT, tmpRoot);

  // 4. concurrency
  const conc = {};
  if (opt.load) {
    log(`overhead: concurrency (60 KiB requests, ${CHUNKS}-chunk streams; levels ${opt.levels.join(', ')}; ${opt.step} s per level, ${opt.hold} s hold; load average ${loadAvg()})`);
    // the floor: can the client and backend carry the top level at all?
    {
      const top = opt.levels[opt.levels.length - 1];
      log(`  direct: ${top} concurrent streams for ${opt.step} s (client + backend check)...`);
      const r = await load(targets.direct['60k'], { clients: top, seconds: opt.step, timeoutMs: opt.timeout * 1000 });
      conc.direct = { runs: [{ ...r, kind: 'check' }], best: r.errors === 0 ? top : 0 };
      log(`    ${r.completed} streams ok, ${r.errors} errors, ${r.rps.toFixed(0)}/s, p50 ${f2(r.p50 / 1000)} s, p99 ${f2(r.p99 / 1000)} s`);
      await sleep(1500);
    }
    for (const g of Object.keys(gws)) if (g !== 'baseline' && g !== 'relay') conc[g] = await concurrency(g, targets[g]['60k'], gws[g].pid);
  }
  for (const g of Object.keys(gws)) {
    mem[g].end = memOf(gws[g].pid);
    mem[g].alive = !gws[g].isDead();
  }
  return { env, cap, anth, direct, lat, latFirst, mem, conc, be, floor };
}

// --- report --------------------------------------------------------------------------------

function addedOf(lat, gwNames) {
  const added = {};
  for (const s of SIZES) {
    added[s.key] = {};
    const d = lat[s.key].direct;
    for (const p of gwNames) {
      const r = lat[s.key][p];
      const ttfb = r.ttfbMed - d.ttfbMed;
      const perChunk = (r.totalMed - d.totalMed - ttfb) / CHUNKS;
      added[s.key][p] = { ttfb, perChunk, total: r.totalMed - d.totalMed };
    }
  }
  return added;
}

function report({ env, cap, anth, direct, lat, latFirst, mem, conc, be, floor }) {
  const paths = opt.paths;
  const gwNames = paths.filter((p) => p !== 'direct');
  const added = addedOf(lat, gwNames);
  const first = Object.keys(latFirst).length ? { lat: latFirst, added: addedOf(latFirst, gwNames) } : null;
  const out = [];
  const say = (s = '') => out.push(s);
  say(`# bench/overhead: gateway overhead, ${env.date.slice(0, 10)}`);
  say();
  say(`Command: \`bench/overhead ${process.argv.slice(2).join(' ')}\`; ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  say(`Machine: ${env.host}; load average at start ${env.loadStart}; node ${env.node}; ${env.anyclaude}; claude-code-router ${env.ccr}.`);
  say(`Backend: ${be.kind}, ${CHUNKS} chunks of 3 words each, no delay, then finish, usage, [DONE]. Client: raw node:http, keep-alive, every byte read.`);
  say(`Scheduling: ${env.sched}. Open files: ${env.ulimit}.`);
  say(
    `Payloads: claude ${cap.claudeVersion} first turn (${cap.raw.length} B) grown with Read/Bash tool_use + tool_result turns of repository files: ` +
      SIZES.map((s) => `${s.label} (${anth[s.key].body.length} B, ${anth[s.key].messages} messages; direct body ${direct[s.key].length} B)`).join(', ') +
      '.',
  );
  if (opt.baseline) say(`Baseline: \`${opt.baseline}\` as path "baseline" (another anyclaude build, same flags), in the latency runs only.`);
  say();
  say('## Latency (medians, ms)');
  say();
  const rows = [];
  for (const s of SIZES) {
    const n = s.key === '60k' ? opt.reps60 : opt.reps1m;
    for (const p of paths) {
      const r = lat[s.key][p];
      const a = added[s.key][p];
      rows.push([
        s.label,
        p,
        `${r.n}/${n}`,
        f3(r.ttfbMed),
        f3(r.ttfbP90),
        f3(r.totalMed),
        f3(r.totalP90),
        a ? f3(a.ttfb) : '-',
        a ? us(a.perChunk) : '-',
        r.cpuMs !== undefined ? f3(r.cpuMs) : '-',
        r.errors || 0,
      ]);
    }
  }
  say(mdTable(['size', 'path', 'n', 'TTFB', 'TTFB p90', 'total', 'total p90', 'added TTFB', 'added/chunk (µs)', 'gateway CPU/request', 'errors'], rows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']));
  say();
  say(
    'TTFB: first `content_block_delta` (Anthropic paths) or first `data: ` chunk (direct). added/chunk = (total - total(direct) - added TTFB) / ' +
      `${CHUNKS}; it can be negative when a gateway coalesces the stream into fewer, larger writes than the backend's ${CHUNKS} sends (the client then spends less time per read). ` +
      'Gateway CPU/request: user+system time of all its threads over the run (warmup included) / requests: independent of scheduling and of write coalescing.',
  );
  say();
  if (gwNames.includes('relay')) {
    say(
      'relay: lib_overhead/relay.c, a process that forwards the direct request and reply bytes and does nothing else: what one more process costs on this machine (two more loopback transfers, its wake-ups), the floor of any gateway. ' +
        (gwNames.includes('anyclaude')
          ? 'anyclaude above that floor (its own work: reading, parsing and translating the request, translating the stream): ' +
            SIZES.map((s) => `${s.label}: TTFB ${f3(added[s.key].anyclaude.ttfb - added[s.key].relay.ttfb)} ms, whole stream ${f3(added[s.key].anyclaude.total - added[s.key].relay.total)} ms`).join('; ') +
            '.'
          : ''),
    );
    say();
  }
  if (gwNames.includes('anyclaude') && gwNames.includes('ccr')) {
    say(
      'Ratio ccr / anyclaude of added latency: ' +
        SIZES.map((s) => {
          const c = added[s.key].ccr;
          const a = added[s.key].anyclaude;
          const cpu = ratio(lat[s.key].ccr.cpuMs, lat[s.key].anyclaude.cpuMs);
          return `${s.label}: TTFB ${ratio(c.ttfb, a.ttfb)}, per chunk ${ratio(c.perChunk, a.perChunk)}, whole stream ${ratio(c.total, a.total)}, gateway CPU per request ${cpu}`;
        }).join('; ') +
        ' (n/a: a non-positive term).',
    );
    say();
  }
  if (first) {
    say('### The same, client first');
    say();
    const rows2 = [];
    for (const s of SIZES)
      for (const p of paths) {
        const r = first.lat[s.key][p];
        const a = first.added[s.key][p];
        rows2.push([s.label, p, `${r.n}/${s.key === '60k' ? opt.reps60 : opt.reps1m}`, f3(r.ttfbMed), f3(r.ttfbP90), f3(r.totalMed), f3(r.totalP90), a ? f3(a.ttfb) : '-', a ? f3(a.total) : '-', r.errors || 0]);
      }
    say(mdTable(['size', 'path', 'n', 'TTFB', 'TTFB p90', 'total', 'total p90', 'added TTFB', 'added total', 'errors'], rows2, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']));
    say();
    say(
      'A second pass with the client (this process) at SCHED_RR 20, the backend and gateways at 10. The backend sends its 500 chunks with no delay, so once the first delta is written the gateway (translating) and the backend (sending) ' +
        'keep both of this machine\'s CPUs busy, and a client of equal priority woken by that delta waits for one of them to block: the first table\'s added TTFB carries that wait for the gateways that work per chunk. ' +
        'Here the client runs as soon as the delta arrives, and the added TTFB is the path\'s own: one more hop, reading, parsing and translating the request, the backend\'s answer, the first delta written.',
    );
    say();
  }
  say('## Memory (MB)');
  say();
  say(
    mdTable(
      ['gateway', 'RSS idle (VmRSS after start)', 'idle PSS', 'idle private', 'peak RSS after latency runs (VmHWM)', `peak RSS overall (VmHWM${opt.load ? ', incl. load runs' : ''})`, 'RSS at end', 'processes'],
      gwNames.filter((g) => g !== 'relay').map((g) => [
        g,
        mb(mem[g].idle.rssKb),
        mb(mem[g].idle.pssKb),
        mb(mem[g].idle.privKb),
        mb(mem[g].afterLatency.hwmKb),
        mb(mem[g].end.hwmKb),
        mb(mem[g].end.rssKb),
        mem[g].end.pids.length || '(exited)',
      ]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  say();
  say(
    'RSS counts every shared-library page the process has touched (libcurl, OpenSSL, GnuTLS...) in full; PSS divides shared pages among the processes mapping them; private is what only this process holds. ' +
      'PSS and private depend on what else maps the same libraries at that moment: the gateway started first (anyclaude) is read before any other process here maps libcurl and OpenSSL, so their pages count as its own; the baseline, started after it, shares them. Compare RSS. ' +
      'Peak after latency runs = one request at a time, up to 1 MiB. RSS at end: after the load runs (what the allocator kept).',
  );
  say();
  if (floor && gwNames.includes('anyclaude')) {
    const lv = [
      ['a C program linked with libc only', floor.plain],
      ['the same linked like anyclaude (-levent -lcurl -lcjson), loading them only', floor.linked],
      ['+ an event base', floor.event],
      ['+ curl_global_init + curl_multi_init (libcurl and its TLS stack: the floor)', floor.curl],
      ['anyclaude serve, idle', mem.anyclaude.idle],
    ];
    say('Idle floor (lib_overhead/floor.c, read the same way as the gateways\' idle):');
    say();
    say(mdTable(['process', 'RSS', 'PSS', 'private'], lv.map(([k, m]) => [k, mb(m?.rssKb), mb(m?.pssKb), mb(m?.privKb)]), ['l', 'r', 'r', 'r']));
    say();
    const a = mem.anyclaude.idle;
    const c = floor.curl;
    const d1 = (kb) => (Number.isFinite(kb) ? (kb / 1024).toFixed(1) : 'n/a');
    if (c)
      say(
        `Of anyclaude's idle ${mb(a.rssKb)} MB RSS, ${mb(c.rssKb)} MB is the floor of the libraries it links once libcurl is initialised ` +
          `(${mb(floor.linked?.rssKb)} MB for loading them at all, ${d1(c.rssKb - (floor.event?.rssKb ?? NaN))} MB more for curl_global_init and a multi handle: OpenSSL's setup); ` +
          `anyclaude's own share is ${d1(a.rssKb - c.rssKb)} MB RSS. (PSS and private are not comparable here: the floor program is read while the gateways run and share its libraries, anyclaude's idle before.)`,
      );
    say();
  }
  if (opt.load) {
    say(`## Concurrency (60 KiB requests, ${CHUNKS}-chunk streams, error = non-200, socket error, truncated stream, or > ${opt.timeout} s)`);
    say();
    const crow = [];
    for (const g of ['direct', ...gwNames]) {
      const c = conc[g];
      if (!c) continue;
      for (const r of c.runs)
        crow.push([
          g,
          r.kind,
          r.clients,
          `${r.seconds}`,
          r.completed,
          r.errors,
          [...r.errorKinds].map(([k, n]) => `${n}x ${k}`).join('; ') || '',
          r.rps.toFixed(0),
          f2(r.p50 / 1000),
          f2(r.p99 / 1000),
          r.settleS !== undefined ? r.settleS.toFixed(0) : '-',
        ]);
    }
    say(mdTable(['path', 'run', 'streams', 'seconds', 'ok', 'errors', 'error kinds', 'streams/s', 'p50 s', 'p99 s', 'idle after (s)'], crow, ['l', 'l', 'r', 'r', 'r', 'r', 'l', 'r', 'r', 'r', 'r']));
    say();
    say(
      `Each level: N clients each loop streamed requests for the time given (ramp levels ${opt.step} s, then the highest passing level held ${opt.hold} s; if it fails, the next one down). ` +
        'Requests still running at the end are waited for (up to the timeout) and counted. Before each level the gateway is left to go idle (under 3% CPU), so a level does not inherit the previous one\'s backlog. ' +
        'streams/s and latencies are bounded by this 2-process client/backend setup on the same machine (see the direct check).',
    );
    say();
    say(
      'Sustained (no error for the whole hold): ' +
        gwNames.filter((g) => conc[g]).map((g) => `${g} ${conc[g].best || 'none'}${conc[g].best ? ` streams for ${opt.hold} s` : ''} (peak ${conc[g].peakFds} fds, peak RSS ${mb(conc[g].peakRssKb)} MB)`).join('; ') +
        '.',
    );
    say();
  }
  // targets
  say('## Targets');
  say();
  const T = [];
  const pf = (ok) => (ok === null ? 'n/a' : ok ? 'PASS' : 'FAIL');
  if (gwNames.includes('anyclaude')) {
    const a60 = added['60k'].anyclaude.ttfb;
    const a1m = added['1m'].anyclaude.ttfb;
    T.push(['anyclaude added TTFB at 60 KiB (median) < 1 ms', `${f3(a60)} ms`, pf(a60 < 1)]);
    T.push(['anyclaude added TTFB at 1 MiB (median) < 5 ms', `${f3(a1m)} ms`, pf(a1m < 5)]);
    const pc = SIZES.map((s) => added[s.key].anyclaude.perChunk);
    T.push([`anyclaude added time per chunk < 3 µs (${SIZES.map((s) => s.label).join('; ')})`, pc.map((x) => `${us(x)} µs`).join('; '), pf(pc.every((x) => x < 0.003))]);
    if (first) {
      const f60 = first.added['60k'].anyclaude.ttfb;
      const f1m = first.added['1m'].anyclaude.ttfb;
      T.push(['the same, client first: at 60 KiB < 1 ms', `${f3(f60)} ms`, pf(f60 < 1)]);
      T.push(['the same, client first: at 1 MiB < 5 ms', `${f3(f1m)} ms`, pf(f1m < 5)]);
    }
    if (gwNames.includes('relay'))
      for (const s of SIZES)
        T.push([`(the floor: relay added TTFB at ${s.label}; anyclaude above it)`, `${f3(added[s.key].relay.ttfb)} ms; ${f3(added[s.key].anyclaude.ttfb - added[s.key].relay.ttfb)} ms`, 'info']);
    if (gwNames.includes('ccr')) {
      for (const s of SIZES) {
        const rt = added[s.key].ccr.ttfb / added[s.key].anyclaude.ttfb;
        const rtot = added[s.key].ccr.total / added[s.key].anyclaude.total;
        T.push([`>= 10x less added latency than ccr at ${s.label} (TTFB; whole stream)`, `${ratio(added[s.key].ccr.ttfb, added[s.key].anyclaude.ttfb)}; ${ratio(added[s.key].ccr.total, added[s.key].anyclaude.total)}`, pf(rt >= 10 && rtot >= 10)]);
      }
    }
    const idle = mem.anyclaude.idle.rssKb / 1024;
    T.push(['anyclaude idle RSS < 10 MB', `${idle.toFixed(1)} MB${floor?.curl ? ` (library floor ${mb(floor.curl.rssKb)} MB)` : ''}`, pf(idle < 10)]);
    if (opt.load) {
      const b = conc.anyclaude.best;
      T.push([`anyclaude: 500 concurrent streams, no error (held ${opt.hold} s)`, b ? `${b} sustained` : 'none sustained', pf(b >= 500 && opt.hold >= 60 ? true : b >= 500 ? null : false)]);
    }
  }
  say(mdTable(['target', 'measured', 'verdict'], T, ['l', 'r', 'l']));
  if (opt.load && opt.hold < 60) say(`\n(holds of ${opt.hold} s are shorter than the 60 s the concurrency target asks: n/a unless it fails)`);
  say();
  return out.join('\n');
}

let exitCode = 0;
try {
  const r = await main();
  const md = report(r);
  console.log('\n' + md);
  const date = new Date().toISOString().slice(0, 10);
  const file = opt.out ?? path.join(ROOT, 'bench/results', `overhead-${date}.md`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, md + '\n');
  log(`overhead: wrote ${path.relative(process.cwd(), file)}`);
} catch (e) {
  log(`overhead: cannot run: ${e.stack ?? e}`);
  exitCode = 1;
} finally {
  cleanup();
}
process.exit(exitCode);
