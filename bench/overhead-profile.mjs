// bench/overhead-profile.mjs: where anyclaude's time per request goes, by
// instruction count (deterministic on a shared, noisy machine, unlike wall
// time). Run it as `bench/overhead-profile`.
//
// The same payloads as bench/overhead (a real Claude Code first turn grown to
// 60 KiB and 1 MiB) and the same C scripted backend (500 chunks). The gateway
// (build/anyclaude serve --mode openai) runs under valgrind's callgrind with
// instrumentation off (--instr-atstart=no); per size: one warmup request, then
// instrumentation is switched on (callgrind_control --instr=on) for exactly
// one request, dumped (--dump), and switched off. ANYCLAUDE_BIN picks another
// build. Prints per size the instructions (Ir) for the whole request and the
// top functions by inclusive cost, and keeps the callgrind.out files in
// --keep DIR (callgrind_annotate / kcachegrind read them).
// Exits 0 whatever the numbers; 1 if it cannot run.

import { spawnSync, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeAgent, streamOnce } from './lib_overhead/client.mjs';
import { captureFirstTurn, grow } from './lib_overhead/payloads.mjs';
import { cleanEnv, freePort, register, runScope, sleep, startLogged, tail, waitHttp } from './lib/procs.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = process.env.ANYCLAUDE_CACHE ?? path.join(os.homedir(), '.cache/anyclaude');
const CLAUDE = path.resolve(ROOT, process.env.CLAUDE_BIN ?? 'tests/node_modules/@anthropic-ai/claude-code-linux-x64/claude');
const GATEWAY = path.resolve(ROOT, process.env.ANYCLAUDE_BIN ?? 'build/anyclaude');
const CHUNKS = 500;
const SIZES = [
  { key: '60k', label: '60 KiB', bytes: 60 * 1024 },
  { key: '1m', label: '1 MiB', bytes: 1024 * 1024 },
];

const HELP = `usage: bench/overhead-profile [--top N] [--keep DIR]
  --top N      functions listed per size (default 25)
  --keep DIR   where the callgrind.out files go (default $TMPDIR/anyclaude-overhead-profile)`;
const opt = { top: 25, keep: path.join(os.tmpdir(), 'anyclaude-overhead-profile') };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--top') opt.top = Number(process.argv[++i]);
  else if (a === '--keep') opt.keep = path.resolve(process.argv[++i]);
  else {
    console.log(HELP);
    process.exit(a === '-h' || a === '--help' ? 0 : 1);
  }
}

const log = (...a) => console.error(...a);
const { tmpRoot, cleanup } = runScope('overhead-profile', { log });

async function startBackend() {
  const port = await freePort();
  const src = path.join(ROOT, 'bench/lib_overhead/backend.c');
  const h = crypto.createHash('sha256').update(fs.readFileSync(src)).digest('hex').slice(0, 12);
  const bin = path.join(tmpRoot, `backend-${h}`);
  const cc = spawnSync(process.env.CC ?? 'cc', ['-std=c11', '-O2', '-o', bin, src], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cannot build ${src}:\n${cc.stderr}`);
  const logFile = path.join(tmpRoot, 'backend.log');
  const p = startLogged('backend', bin, [String(port), String(CHUNKS)], { logFile });
  const url = `http://127.0.0.1:${port}`;
  if (!(await waitHttp(`${url}/health`, { timeoutMs: 10000, isDead: p.isDead }))) throw new Error(`backend did not come up:\n${tail(logFile)}`);
  return { ...p, port, v1: `${url}/v1` };
}

async function startGateway(backendV1, outFile) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(tmpRoot, 'anyclaude-'));
  const logFile = path.join(dir, 'anyclaude.log');
  const env = cleanEnv({ XDG_CONFIG_HOME: path.join(dir, 'config'), XDG_STATE_HOME: path.join(dir, 'state'), XDG_CACHE_HOME: path.join(dir, 'cache') });
  const args = ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${outFile}`, GATEWAY, 'serve', '--port', String(port), '--mode', 'openai', '--backend', backendV1, '--model', 'm'];
  const p = startLogged('anyclaude', 'valgrind', args, { env, logFile });
  const url = `http://127.0.0.1:${port}`;
  if (!(await waitHttp(`${url}/health`, { timeoutMs: 60000, isDead: p.isDead, ok: () => true }))) throw new Error(`anyclaude did not come up:\n${tail(logFile)}`);
  return { ...p, port, logFile };
}

const ctl = (...a) => execFileSync('callgrind_control', a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

async function main() {
  if (spawnSync('valgrind', ['--version']).status !== 0) throw new Error('valgrind is not installed (apt-get install valgrind)');
  fs.mkdirSync(opt.keep, { recursive: true });
  const cap = await captureFirstTurn({ claude: CLAUDE, cacheDir: CACHE, log, register });
  const first = JSON.parse(cap.raw);
  const headers = { ...cap.headers, 'content-type': 'application/json', authorization: 'Bearer bench-token' };
  delete headers['x-api-key'];
  const be = await startBackend();
  const out = path.join(opt.keep, 'callgrind.out');
  for (const f of fs.readdirSync(opt.keep)) if (f.startsWith('callgrind.out')) fs.rmSync(path.join(opt.keep, f));
  const gw = await startGateway(be.v1, out);
  const agent = makeAgent(1);
  const rows = [];
  for (const s of SIZES) {
    const body = Buffer.from(JSON.stringify(grow(first, s.bytes, { root: ROOT }).body));
    const t = { port: gw.port, path: '/v1/messages?beta=true', headers, body, firstMarker: 'content_block_delta', endMarker: 'message_stop' };
    const w = await streamOnce(t, agent, { timeoutMs: 120000 });
    if (!w.ok) throw new Error(`warmup at ${s.label} failed: ${w.err}\n${tail(gw.logFile)}`);
    await sleep(200);
    ctl('-z', String(gw.pid));
    ctl('--instr=on', String(gw.pid));
    const r = await streamOnce(t, agent, { timeoutMs: 120000 });
    await sleep(500); // the exchange is freed after the last byte
    ctl('--instr=off', String(gw.pid));
    ctl(`--dump=${s.key}`, String(gw.pid));
    if (!r.ok) throw new Error(`request at ${s.label} failed: ${r.err}`);
    rows.push({ s, bytes: body.length });
  }
  agent.destroy();
  gw.stop();
  await sleep(1000);
  for (const { s, bytes } of rows) {
    const file = fs.readdirSync(opt.keep).find((f) => f.startsWith('callgrind.out') && fs.readFileSync(path.join(opt.keep, f), 'utf8').includes(`desc: Trigger: dump ${s.key}\n`));
    if (!file) throw new Error(`no dump for ${s.key} in ${opt.keep}`);
    const dst = path.join(opt.keep, `callgrind.out.${s.key}`);
    fs.renameSync(path.join(opt.keep, file), dst);
    const ann = execFileSync('callgrind_annotate', ['--inclusive=yes', `--threshold=100`, dst], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const total = /([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS/.exec(ann)?.[1] ?? /([\d,]+)\s+PROGRAM TOTALS/.exec(ann)?.[1];
    console.log(`\n## ${s.label} (${bytes} B request, one streamed ${CHUNKS}-chunk reply): ${total} instructions in the gateway`);
    const lines = ann.split('\n');
    const at = lines.findIndex((l) => /file:function/.test(l));
    console.log(lines.slice(at, at + 2 + opt.top).join('\n'));
    console.log(`(${path.relative(process.cwd(), dst)})`);
  }
  for (const f of fs.readdirSync(opt.keep)) if (/^callgrind\.out(\.\d+)?(-\d+)?$/.test(f)) fs.rmSync(path.join(opt.keep, f));
}

let code = 0;
try {
  await main();
} catch (e) {
  log(`overhead-profile: cannot run: ${e.stack ?? e}`);
  code = 1;
} finally {
  cleanup();
}
process.exit(code);
