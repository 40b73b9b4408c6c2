// bench/sessions.mjs: does every session start warm? Run it as `bench/sessions`.
//
// Drives the real Claude Code (tests/node_modules, 2.1.328) against a real
// llama-server (the tiny random-weight model of tests/real, --slots 2 and 4)
// through each path, scenario by scenario, each scenario on a fresh
// llama-server, a fresh gateway state directory and a fresh HOME:
//
//   paths      llamacpp, anthropic, openai   anyclaude serve --mode ...
//              llama                         llama-server's own /v1/messages
//              ccr                           claude-code-router 2.0.0
//   scenarios  p5        five back-to-back `claude -p` sessions in one
//                        project, a --continue after the first and the last
//              xyx       project X, project Y, X again (+ --continue)
//              edit      a session, a file edited, a session (+ --continue)
//              par2gw    two sessions alternating turns (--session-id, then
//                        --resume), each through its own anyclaude serve
//                        (anyclaude paths only; llama and ccr: one endpoint)
//              par1      the same through one serve
//
// Per request: prompt tokens and tokens prefilled (llama-server's own
// counters, read from each answer by a tap in front of llama-server), and
// the minimum: its tokens after the longest common prefix with any earlier
// prompt of the scenario (lib_sessions/minimum.mjs). Targets (issue 11): a
// new session's first turn prefills <= minimum + 2% of its prompt; a
// follow-up is >= 99% cached; no scenario prefills more than llama-server
// direct. Writes bench/results/sessions-<date>.md.
//
// Knobs: BENCH_PATHS, BENCH_SCENARIOS, BENCH_SLOTS (2,4), LLAMA_EMBD (64),
// LLAMA_LAYERS (2), CLAUDE_BIN. Exits 0 whatever the numbers.

import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { claudeEnv, claudeHome, claudeVersion } from './lib/claude.mjs';
import { freePort, killedOnExit, runBench, runScope } from './lib/procs.mjs';
import { mdTable, pct, writeResults } from './lib/table.mjs';
import { startCcr, startGateway, startLlama } from './lib_cache/procs.mjs';
import { minimums } from './lib_sessions/minimum.mjs';
import { startTaps } from './lib_sessions/proxy.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLAUDE = path.resolve(ROOT, process.env.CLAUDE_BIN ?? 'tests/node_modules/@anthropic-ai/claude-code-linux-x64/claude');
const list = (v, d) => (v ?? d).split(',').map((s) => s.trim()).filter(Boolean);
const PATHS = list(process.env.BENCH_PATHS, 'llamacpp,anthropic,openai,llama,ccr');
const SCENARIOS = list(process.env.BENCH_SCENARIOS, 'p5,xyx,edit,par2gw,par1');
const SLOTS = list(process.env.BENCH_SLOTS, '2,4').map(Number);
const FIRST_SLACK = 0.02;
const FOLLOW_TARGET = 0.99;

const log = (...a) => console.error(...a);
const { tmpRoot, cleanup } = runScope('sessions', { label: 'bench', log });
const children = killedOnExit('claude runs');

function runClaude(args, { cwd, env }) {
  return new Promise((resolve) => {
    const child = spawn(CLAUDE, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.add(child);
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', () => {});
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, 240000);
    child.once('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, err: err.slice(-500) });
    });
  });
}

function gitProject(dir) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'alpha\n');
  const git = (...a) => execFileSync('git', ['-c', 'user.email=b@b', '-c', 'user.name=bench', ...a], { cwd: dir, stdio: 'ignore' });
  git('init', '-q');
  git('add', '.');
  git('commit', '-qm', 'init');
}

const uuid = () => crypto.randomUUID();

// --- the scenarios: steps of [label, session (0/1: which front), project, claude args] ---

const P = (q) => ['-p', q, '--output-format', 'json'];
const SCRIPTS = {
  p5: () => {
    const s = [];
    for (let i = 1; i <= 5; i++) {
      s.push([`s${i}`, 0, 'X', P(`question ${i}: what is in notes.txt?`)]);
      if (i === 1 || i === 5) s.push([`s${i}+`, 0, 'X', ['--continue', ...P('and then?')]]);
    }
    return s;
  },
  xyx: () => [
    ['X1', 0, 'X', P('what is in notes.txt?')],
    ['Y1', 0, 'Y', P('what is in notes.txt?')],
    ['X2', 0, 'X', P('what is in notes.txt now?')],
    ['X2+', 0, 'X', ['--continue', ...P('and then?')]],
  ],
  edit: () => [
    ['s1', 0, 'X', P('what is in notes.txt?')],
    ['edit', 0, 'X', null],
    ['s2', 0, 'X', P('what is in notes.txt now?')],
    ['s2+', 0, 'X', ['--continue', ...P('and then?')]],
  ],
  par2gw: () => {
    const a = uuid();
    const b = uuid();
    const s = [
      ['A1', 0, 'X', ['--session-id', a, ...P('session A: what is in notes.txt?')]],
      ['B1', 1, 'X', ['--session-id', b, ...P('session B: what is in notes.txt?')]],
    ];
    for (let i = 2; i <= 3; i++) {
      s.push([`A${i}`, 0, 'X', ['--resume', a, ...P(`A turn ${i}`)]]);
      s.push([`B${i}`, 1, 'X', ['--resume', b, ...P(`B turn ${i}`)]]);
    }
    return s;
  },
};
SCRIPTS.par1 = SCRIPTS.par2gw;

// --- one scenario on one path --------------------------------------------------------

async function runScenario(pathName, scen, slots) {
  const dir = fs.mkdtempSync(path.join(tmpRoot, `${pathName}-${scen}-${slots}-`));
  const llama = await startLlama({ root: ROOT, runDir: dir, port: await freePort(), env: { LLAMA_PARALLEL: String(slots), LLAMA_EMBD: process.env.LLAMA_EMBD ?? '64', LLAMA_LAYERS: process.env.LLAMA_LAYERS ?? '2' }, extraArgs: ['--metrics'] });
  const taps = await startTaps(llama.base);
  const stops = [() => taps.close(), llama.stop];
  try {
    const { home, work } = claudeHome(dir);
    const workY = path.join(dir, 'projectY');
    gitProject(work);
    gitProject(workY);
    const cj = JSON.parse(fs.readFileSync(path.join(home, '.claude.json'), 'utf8'));
    cj.projects[workY] = { hasTrustDialogAccepted: true };
    fs.writeFileSync(path.join(home, '.claude.json'), JSON.stringify(cj));
    const projects = { X: work, Y: workY };
    // the targets claude talks to, one per session (two gateways for par2gw)
    const fronts = [];
    const stateDir = path.join(dir, 'gw-state');
    const nfront = scen === 'par2gw' ? 2 : 1;
    for (let i = 0; i < nfront; i++) {
      let target;
      if (['llamacpp', 'anthropic', 'openai'].includes(pathName)) {
        const gw = await startGateway({ root: ROOT, port: await freePort(), backend: `${taps.llamaUrl}/v1`, mode: pathName, logFile: path.join(dir, `gw${i}.log`), stateDir });
        stops.unshift(gw.stop);
        target = gw.url;
      } else if (pathName === 'ccr') {
        const ccr = await startCcr({ root: ROOT, port: await freePort(), backendV1: `${taps.llamaUrl}/v1`, home: path.join(dir, `ccr-home${i}`), logFile: path.join(dir, `ccr${i}.log`) });
        stops.unshift(ccr.stop);
        target = ccr.url;
      } else {
        target = taps.llamaUrl;
      }
      fronts.push(await taps.front(target));
    }
    const steps = SCRIPTS[scen]();
    const runs = [];
    for (const [label, who, proj, args] of steps) {
      taps.tap.step = label;
      if (!args) {
        fs.writeFileSync(path.join(projects[proj], 'notes.txt'), 'alpha\nbeta\n');
        continue;
      }
      const r = await runClaude(args, { cwd: projects[proj], env: claudeEnv(home, fronts[Math.min(who, fronts.length - 1)]) });
      runs.push({ label, code: r.code, err: r.err });
      if (r.code !== 0) log(`bench: ${pathName}/${scen} ${label}: claude exited ${r.code}: ${r.err}`);
    }
    await new Promise((r) => setTimeout(r, 300));
    const front = taps.tap.front.filter((f) => !f.agent);
    const mins = await minimums(llama.base, front.map((f) => f.body));
    const counted = taps.tap.llama.filter((l) => !l.warm);
    const rows = front.map((f, i) => {
      const l = counted.filter((c) => c.step === f.step)[front.slice(0, i).filter((g) => g.step === f.step).length] ?? {};
      const first = !(f.body.messages ?? []).some((m) => m.role === 'assistant');
      const prompt = l.prefilled === null || l.prefilled === undefined ? null : l.prefilled + (l.cached ?? 0);
      let ok = null;
      if (prompt !== null) ok = first ? l.prefilled <= mins[i].minimum + FIRST_SLACK * prompt : l.cached / prompt >= FOLLOW_TARGET;
      // nothing in common with any earlier prompt: all of it is new
      const minimum = mins[i].minimum === mins[i].tokens && prompt !== null ? prompt : mins[i].minimum;
      if (prompt !== null && first) ok = l.prefilled <= minimum + FIRST_SLACK * prompt;
      return { step: f.step, first, prompt, prefilled: l.prefilled ?? null, cached: l.cached ?? null, minimum, ok };
    });
    const warm = taps.tap.llama.filter((l) => l.warm).map((l) => ({ prefilled: l.prefilled, cached: l.cached }));
    return { rows, runs, warm };
  } finally {
    for (const s of stops) {
      try {
        s();
      } catch {
        /* gone */
      }
    }
  }
}

// --- report ---------------------------------------------------------------------------

const sum = (rows, k) => rows.reduce((n, r) => n + (r[k] ?? 0), 0);

async function main() {
  if (!fs.existsSync(CLAUDE)) throw new Error(`no claude binary at ${CLAUDE} (bash scripts/npm-cache.sh tests npm)`);
  const version = claudeVersion(CLAUDE);
  log(`bench: Claude Code ${version}; paths ${PATHS.join(',')}; scenarios ${SCENARIOS.join(',')}; slots ${SLOTS.join(',')}`);
  const results = [];
  for (const slots of SLOTS)
    for (const scen of SCENARIOS)
      for (const p of PATHS) {
        if (scen === 'par1' && !['llamacpp', 'anthropic', 'openai'].includes(p)) continue;
        const t0 = Date.now();
        log(`bench: ${p} / ${scen} / ${slots} slots ...`);
        try {
          const r = await runScenario(p, scen, slots);
          results.push({ path: p, scen, slots, ...r });
          log(`bench: ${p} / ${scen} / ${slots} slots: prefilled ${sum(r.rows, 'prefilled')} of ${sum(r.rows, 'prompt')} (minimum ${sum(r.rows, 'minimum')}) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
        } catch (e) {
          log(`bench: ${p} / ${scen} / ${slots}: ${e.stack ?? e}`);
          results.push({ path: p, scen, slots, error: String(e.message ?? e), rows: [], runs: [], warm: [] });
        }
      }
  const date = new Date();
  let md = `# bench/sessions, ${date.toISOString().slice(0, 10)}\n\n`;
  md += `Claude Code ${version}, llama-server from node-llama-cpp 3.21.1's llama.cpp, the tiny random-weight model of tests/real (LLAMA_EMBD ${process.env.LLAMA_EMBD ?? 64}, LLAMA_LAYERS ${process.env.LLAMA_LAYERS ?? 2}). Command: \`bench/sessions\`${process.env.BENCH_PATHS ? ` with BENCH_PATHS=${process.env.BENCH_PATHS}` : ''}${process.env.BENCH_SCENARIOS ? ` BENCH_SCENARIOS=${process.env.BENCH_SCENARIOS}` : ''}${process.env.BENCH_SLOTS ? ` BENCH_SLOTS=${process.env.BENCH_SLOTS}` : ''}.\n\n`;
  md += 'Prefilled and prompt tokens are llama-server\'s own counters for each request; minimum = the request\'s tokens after the longest common prefix with any earlier prompt of the scenario (ideal rendering, llama-server\'s tokenizer). First turns pass with prefilled <= minimum + 2% of the prompt; follow-ups with >= 99% cached.\n\n';
  md += '## Summary\n\n';
  const direct = (scen, slots) => results.find((r) => r.path === 'llama' && r.scen === scen && r.slots === slots);
  md += mdTable(
    ['slots', 'scenario', 'path', 'requests', 'prompt', 'prefilled', 'minimum', 'first turns ok', 'follow-ups ok', 'vs llama direct'],
    results.map((r) => {
      const f = r.rows.filter((x) => x.first);
      const u = r.rows.filter((x) => !x.first);
      const d = direct(r.scen === 'par1' ? 'par2gw' : r.scen, r.slots);
      const dp = d ? sum(d.rows, 'prefilled') : null;
      return [r.slots, r.scen, r.path, r.error ? `error: ${r.error.slice(0, 60)}` : r.rows.length, sum(r.rows, 'prompt'), sum(r.rows, 'prefilled'), sum(r.rows, 'minimum'), `${f.filter((x) => x.ok).length}/${f.length}`, `${u.filter((x) => x.ok).length}/${u.length}`, dp === null || r.path === 'llama' ? '' : sum(r.rows, 'prefilled') <= dp ? 'no worse' : 'WORSE'];
    }),
    ['r', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
  md += '\n\n## Per request\n';
  for (const r of results) {
    md += `\n### ${r.path}, ${r.scen}, ${r.slots} slots\n\n`;
    if (r.warm.length) md += `Warm start: ${r.warm.map((w) => `${w.prefilled} prefilled, ${w.cached} cached`).join('; ')}.\n\n`;
    const bad = r.runs.filter((x) => x.code !== 0);
    if (bad.length) md += `claude exited non-zero: ${bad.map((x) => `${x.label} (${x.code})`).join(', ')}.\n\n`;
    md += mdTable(
      ['step', 'turn', 'prompt', 'prefilled', 'cached', 'minimum', 'target'],
      r.rows.map((x) => [x.step, x.first ? 'first' : 'follow-up', x.prompt ?? 'n/a', x.prefilled ?? 'n/a', x.prompt ? pct(x.cached / x.prompt) : 'n/a', x.minimum, x.ok === null ? 'n/a' : x.ok ? 'ok' : 'MISSED']),
      ['l', 'l', 'r', 'r', 'r', 'r', 'l'],
    );
    md += '\n';
  }
  console.log(md);
  writeResults(ROOT, 'sessions', date, md, log);
  fs.writeFileSync(path.join(ROOT, 'bench/results', `sessions-${date.toISOString().slice(0, 10)}.json`), JSON.stringify(results.map(({ runs, ...r }) => r), null, 1));
}

runBench(main, cleanup, log);
