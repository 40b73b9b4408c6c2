// bench/sessions.mjs: does every session start warm? Run it as `bench/sessions`.
//
// Drives the real Claude Code (tests/node_modules, 2.1.328) against a real
// llama-server (the tiny random-weight model of tests/real, --slots 2 and 4,
// --slot-save-path) through each path, scenario by scenario, each scenario on
// a fresh llama-server, a fresh gateway state directory and a fresh HOME:
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
//              cont      a session (its question pastes a 300-line log),
//                        --continue; llama-server and the path restarted
//                        (a serve path drains first: its checkpoint);
//                        --continue, --resume
//              par2cont  two sessions (each pastes its own 300-line log),
//                        each through its own anyclaude serve, taking
//                        turns; llama-server and both paths restarted;
//                        each --resume'd (two terminals after a restart)
//              par1cont  the same through one serve
//              inter     interactive (tmux, `anyclaude` with --claude a
//                        wrapper): a session, then a second whose first
//                        question is typed 1 s after it starts (before
//                        Claude Code shows its prompt box; the terminal
//                        holds the keys until it reads them)
//              agent     interactive: a question answered (by the bench, see
//                        lib_sessions/script.mjs) with an Agent call, so a
//                        subagent runs; title (background) requests on
//              mcp       interactive: an MCP server's tool (deferred until
//                        ToolSearch loads it); the bench answers the first
//                        turn with ToolSearch, then the tool's call; a
//                        follow-up
//              clear     interactive: two turns, /clear, a question,
//                        /compact, a question
//              par2tmux  two interactive sessions, each its own `anyclaude`,
//                        taking turns
//              par1tmux  the same, both `claude` through one anyclaude serve
//                        (anyclaude paths only)
//
// Per request: prompt tokens and tokens prefilled (llama-server's own
// counters, read from each answer by a tap in front of llama-server), and
// the minimum: its tokens after the longest common prefix with any earlier
// prompt of the scenario (lib_sessions/minimum.mjs). Targets (issue 11): a
// new session's first turn prefills <= minimum + 2% of its prompt; a
// follow-up is >= 99% cached; no scenario prefills more than llama-server
// direct. Writes bench/results/sessions-<date>.md.
//
// Knobs: BENCH_PATHS, BENCH_SCENARIOS, BENCH_SLOTS (2,4), BENCH_SLOT_COPY (0: no
// --slot-save-path), BENCH_LLAMA_ARGS (more llama-server flags, comma-separated),
// BENCH_TAG (results file suffix), BENCH_DUMP (keep every body), BENCH_BIN (the
// gateway build to measure; default build/anyclaude), LLAMA_EMBD (64),
// LLAMA_LAYERS (2), CLAUDE_BIN. Exits 0 whatever the numbers.

import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { claudeEnv, claudeHome, claudeVersion } from './lib/claude.mjs';
import { freePort, killedOnExit, register, runBench, runScope, sleep } from './lib/procs.mjs';
import { mdTable, pct } from './lib/table.mjs';
import { startCcr, startGateway, startLlama } from './lib_cache/procs.mjs';
import { minimums } from './lib_sessions/minimum.mjs';
import { startTaps } from './lib_sessions/proxy.mjs';
import { MCP_TOOL, agentAnswer, mcpAnswer } from './lib_sessions/script.mjs';
import { shq, tmuxServer } from './lib_sessions/tmux.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// No flags: everything is set by the environment (above). Anything on the
// command line prints this file's header instead of starting a long run.
if (process.argv.length > 2) {
  const head = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  const end = head.findIndex((l) => !l.startsWith('//'));
  console.log(head.slice(0, end).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(['-h', '--help'].includes(process.argv[2]) ? 0 : 1);
}
const CLAUDE = path.resolve(ROOT, process.env.CLAUDE_BIN ?? 'tests/node_modules/@anthropic-ai/claude-code-linux-x64/claude');
const list = (v, d) => (v ?? d).split(',').map((s) => s.trim()).filter(Boolean);
const PATHS = list(process.env.BENCH_PATHS, 'llamacpp,anthropic,openai,llama,ccr');
const SCENARIOS = list(process.env.BENCH_SCENARIOS, 'p5,xyx,edit,par2gw,par1,cont,par2cont,par1cont,inter,agent,mcp,clear,par2tmux,par1tmux');
const SLOTS = list(process.env.BENCH_SLOTS, '2,4').map(Number);
const FIRST_SLACK = 0.02;
// inter: the second session's first question is typed this long after
// `anyclaude` (or `claude`) starts, before its prompt box shows
const TYPE_AT_MS = 1000;
const FOLLOW_TARGET = 0.99;

const log = (...a) => console.error(...a);
const { tmpRoot, cleanup } = runScope('sessions', { label: 'bench', log });
// the gateway binary as it was when the run started (a rebuild mid-run
// does not change what is measured); BENCH_BIN: another build (a before and
// after comparison)
const SNAP = path.join(tmpRoot, 'snap');
fs.mkdirSync(path.join(SNAP, 'build'), { recursive: true });
fs.copyFileSync(process.env.BENCH_BIN ?? path.join(ROOT, 'build/anyclaude'), path.join(SNAP, 'build/anyclaude'));
fs.chmodSync(path.join(SNAP, 'build/anyclaude'), 0o755);
// llama-server --slot-save-path (slot copy); BENCH_SLOT_COPY=0 leaves it off
const SLOT_COPY = process.env.BENCH_SLOT_COPY !== '0';
let COMMIT = 'unknown';
try {
  COMMIT = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  if (execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim()) COMMIT += ' (+ changes in src/)';
} catch {
  /* not a checkout */
}
if (process.env.BENCH_BIN) COMMIT = `${process.env.BENCH_BIN} (BENCH_BIN)`;
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

// --- the scenarios: steps ------------------------------------------------------------
//
//   { do: 'p', label, who, proj, args }    a `claude` run (who: which front)
//   { do: 'edit', proj }                   notes.txt changed (git status)
//   { do: 'restart' }                      llama-server and the path restarted
//   { do: 'open', who, proj }              an interactive session in tmux
//   { do: 'type', label, who, text, script, nowait }  typed into it; waits
//                                          for the answer unless nowait
//   { do: 'close', who }                   /exit

const P = (q) => ['-p', q, '--output-format', 'json'];
const PASTED_LOG = Array.from({ length: 300 }, (_, i) => `12:${String(i % 60).padStart(2, '0')} worker ${i % 7}: job ${i} finished in ${(i * 37) % 1000} ms`).join('\n');
const p = (label, proj, args, who = 0) => ({ do: 'p', label, who, proj, args });
const SCRIPTS = {
  p5: () => {
    const s = [];
    for (let i = 1; i <= 5; i++) {
      s.push(p(`s${i}`, 'X', P(`question ${i}: what is in notes.txt?`)));
      if (i === 1 || i === 5) s.push(p(`s${i}+`, 'X', ['--continue', ...P('and then?')]));
    }
    return s;
  },
  xyx: () => [p('X1', 'X', P('what is in notes.txt?')), p('Y1', 'Y', P('what is in notes.txt?')), p('X2', 'X', P('what is in notes.txt now?')), p('X2+', 'X', ['--continue', ...P('and then?')])],
  edit: () => [p('s1', 'X', P('what is in notes.txt?')), { do: 'edit', proj: 'X' }, p('s2', 'X', P('what is in notes.txt now?')), p('s2+', 'X', ['--continue', ...P('and then?')])],
  par2gw: () => {
    const a = uuid();
    const b = uuid();
    const s = [p('A1', 'X', ['--session-id', a, ...P('session A: what is in notes.txt?')], 0), p('B1', 'X', ['--session-id', b, ...P('session B: what is in notes.txt?')], 1)];
    for (let i = 2; i <= 3; i++) {
      s.push(p(`A${i}`, 'X', ['--resume', a, ...P(`A turn ${i}`)], 0));
      s.push(p(`B${i}`, 'X', ['--resume', b, ...P(`B turn ${i}`)], 1));
    }
    return s;
  },
  // --continue and --resume after llama-server and the gateway restarted
  // (the first question pastes a 300-line log, so the conversation is far
  // longer than the system prompt and tools the warm start keeps: what the
  // restart loses unless the conversation itself comes back)
  cont: () => {
    const a = uuid();
    return [p('s1', 'X', ['--session-id', a, ...P(`what went wrong in this log?\n${PASTED_LOG}`)]), p('s1+', 'X', ['--continue', ...P('and then?')]), { do: 'restart' }, p('cont', 'X', ['--continue', ...P('after the restart?')]), p('resume', 'X', ['--resume', a, ...P('and resumed?')])];
  },
  // two terminals, each its own gateway, both conversations long; both
  // --resume'd after llama-server and the gateways restarted
  par2cont: () => {
    const a = uuid();
    const b = uuid();
    const logB = PASTED_LOG.replaceAll('worker', 'node');
    return [
      p('A1', 'X', ['--session-id', a, ...P(`session A: what went wrong in this log?\n${PASTED_LOG}`)], 0),
      p('B1', 'X', ['--session-id', b, ...P(`session B: what went wrong in this log?\n${logB}`)], 1),
      p('A2', 'X', ['--resume', a, ...P('A: and then?')], 0),
      p('B2', 'X', ['--resume', b, ...P('B: and then?')], 1),
      { do: 'restart' },
      p('A3', 'X', ['--resume', a, ...P('A: after the restart?')], 0),
      p('B3', 'X', ['--resume', b, ...P('B: after the restart?')], 1),
    ];
  },
  // interactive: a session, then a second one whose first question is typed
  // TYPE_AT_MS after it starts
  inter: () => [
    { do: 'open', who: 0, proj: 'X' },
    { do: 'type', label: 'i1', who: 0, text: 'what is in notes.txt?' },
    { do: 'close', who: 0 },
    { do: 'open', who: 0, proj: 'X', fast: true },
    { do: 'type', label: 'i2', who: 0, text: 'what is in notes.txt now?' },
    { do: 'type', label: 'i2+', who: 0, text: 'and then?' },
    { do: 'close', who: 0 },
  ],
  // a subagent (scripted Agent call) and title requests beside the main loop
  agent: () => [
    { do: 'open', who: 0, proj: 'X' },
    { do: 'type', label: 'q1', who: 0, text: 'ask a subagent what notes.txt is about', script: 'agent' },
    { do: 'type', label: 'q2', who: 0, text: 'and then?' },
    { do: 'close', who: 0 },
  ],
  // an MCP server's tool (answering late, as real ones do): the model loads
  // it with ToolSearch and calls it (both scripted), then a follow-up
  mcp: () => [
    { do: 'open', who: 0, proj: 'X' },
    { do: 'type', label: 'q1', who: 0, text: 'use the echo tool', script: 'mcp' },
    { do: 'type', label: 'q2', who: 0, text: 'and then?' },
    { do: 'close', who: 0 },
  ],
  // /clear, then a question; /compact, then a question
  clear: () => [
    { do: 'open', who: 0, proj: 'X' },
    { do: 'type', label: 'q1', who: 0, text: 'what is in notes.txt?' },
    { do: 'type', label: 'q1+', who: 0, text: 'and then?' },
    { do: 'type', label: 'clear', who: 0, text: '/clear', nowait: true },
    { do: 'type', label: 'q2', who: 0, text: 'what is in notes.txt now?' },
    { do: 'type', label: 'compact', who: 0, text: '/compact' },
    { do: 'type', label: 'q3', who: 0, text: 'and after compacting?' },
    { do: 'close', who: 0 },
  ],
  // two interactive sessions, each its own `anyclaude`, taking turns
  par2tmux: () => {
    const s = [{ do: 'open', who: 0, proj: 'X' }, { do: 'open', who: 1, proj: 'X' }];
    for (let i = 1; i <= 3; i++) {
      s.push({ do: 'type', label: `A${i}`, who: 0, text: i === 1 ? 'session A: what is in notes.txt?' : `A turn ${i}` });
      s.push({ do: 'type', label: `B${i}`, who: 1, text: i === 1 ? 'session B: what is in notes.txt?' : `B turn ${i}` });
    }
    s.push({ do: 'close', who: 0 }, { do: 'close', who: 1 });
    return s;
  },
};
// auto mode's safety check runs on Anthropic's servers and stops the
// subagent turn with a dialog when the base URL is not theirs
const PERMS = '--permission-mode acceptEdits';
// the MCP tool is allowed by name: acceptEdits would ask before calling it
const permsFor = (scen) => (scen === 'mcp' ? `${PERMS} --allowedTools ${MCP_TOOL}` : PERMS);
const INTERACTIVE = new Set(['inter', 'agent', 'mcp', 'clear', 'par2tmux', 'par1tmux']);
const GATEWAY = ['llamacpp', 'anthropic', 'openai'];
// scenarios through one serve (anyclaude paths only), and their two-gateway
// twin, whose llama-server direct run they are compared with; an interactive
// one runs Claude Code itself in tmux against that serve
const ONE_SERVE = { par1: 'par2gw', par1cont: 'par2cont', par1tmux: 'par2tmux' };
// each runs its twin's script
for (const [one, twin] of Object.entries(ONE_SERVE)) SCRIPTS[one] = SCRIPTS[twin];

// --- one scenario on one path --------------------------------------------------------

async function runScenario(pathName, scen, slots) {
  const dir = fs.mkdtempSync(path.join(tmpRoot, `${pathName}-${scen}-${slots}-`));
  const llamaEnv = { LLAMA_PARALLEL: String(slots), LLAMA_EMBD: process.env.LLAMA_EMBD ?? '64', LLAMA_LAYERS: process.env.LLAMA_LAYERS ?? '2' };
  const llamaArgs = ['--metrics', ...list(process.env.BENCH_LLAMA_ARGS, '').flatMap((a) => a.split(' '))];
  if (SLOT_COPY) {
    fs.mkdirSync(path.join(dir, 'slot-save'), { recursive: true });
    llamaArgs.push('--slot-save-path', `${path.join(dir, 'slot-save')}/`);
  }
  let llama = await startLlama({ root: ROOT, runDir: dir, port: await freePort(), env: llamaEnv, extraArgs: llamaArgs });
  const taps = await startTaps(llama.base);
  const pathStops = [];
  const gentleStops = []; // the gateways', for a restart: SIGTERM, drain, checkpoint, exit
  const stops = [() => taps.close(), () => llama.stop()];
  const tty = INTERACTIVE.has(scen);
  let tm = null;
  try {
    const { home, work } = claudeHome(dir);
    const workY = path.join(dir, 'projectY');
    gitProject(work);
    gitProject(workY);
    const cj = JSON.parse(fs.readFileSync(path.join(home, '.claude.json'), 'utf8'));
    cj.projects[workY] = { hasTrustDialogAccepted: true };
    if (scen === 'mcp') {
      const server = { command: process.execPath, args: [path.join(ROOT, 'tests/lib/mcp_server.mjs')], env: { MCP_DELAY_MS: '2000' } };
      fs.writeFileSync(path.join(work, '.mcp.json'), JSON.stringify({ mcpServers: { bench: server } }));
      Object.assign(cj.projects[work], { enabledMcpjsonServers: ['bench'], hasCompletedProjectOnboarding: true });
    }
    fs.writeFileSync(path.join(home, '.claude.json'), JSON.stringify(cj));
    const projects = { X: work, Y: workY };
    // what claude talks to: a front tap per session before each path (two
    // gateways for par2gw); interactive anyclaude sessions start their own
    // gateway, which the front tap reaches through /fwd/<port>
    const stateDir = path.join(dir, 'gw-state');
    const nfront = scen === 'par2gw' || scen === 'par2cont' ? 2 : 1;
    let gen = 0;
    const startPath = async (i) => {
      if (GATEWAY.includes(pathName) && (!tty || ONE_SERVE[scen])) {
        const gw = await startGateway({ root: SNAP, port: await freePort(), backend: `${taps.llamaUrl}/v1`, mode: pathName, logFile: path.join(dir, `gw${i}-${gen}.log`), stateDir });
        pathStops.push(gw.stop);
        gentleStops.push(gw.stopGently);
        return gw.url;
      }
      if (pathName === 'ccr') {
        const ccr = await startCcr({ root: ROOT, port: await freePort(), backendV1: `${taps.llamaUrl}/v1`, home: path.join(dir, `ccr-home${i}`), logFile: path.join(dir, `ccr${i}-${gen}.log`) });
        pathStops.push(ccr.stop);
        return ccr.url;
      }
      return taps.llamaUrl;
    };
    const fronts = [];
    for (let i = 0; i < nfront; i++) fronts.push(await taps.front(await startPath(i)));
    const stopPaths = async () => {
      while (gentleStops.length) await gentleStops.pop()();
      while (pathStops.length) pathStops.pop()();
    };
    const nonessential = scen === 'agent';
    const env = claudeEnv(home, fronts[0].url);
    // agent: nonessential traffic on, so Claude Code makes its title
    // requests. Telemetry stays off as `anyclaude` keeps it (DISABLE_TELEMETRY=1)
    // on every path: with it off Claude Code's system prompt is ~220 tokens
    // longer (two paragraphs, on pasted content and on privacy), and the
    // direct paths would otherwise be measured on a shorter prompt.
    if (nonessential) {
      delete env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC;
      env.DISABLE_TELEMETRY = '1';
    }
    let cmdFor = () => `${shq(CLAUDE)} ${permsFor(scen)}`;
    if (tty) {
      tm = tmuxServer(`anyclaude-bench-${process.pid}-${gen++}`, env);
      stops.unshift(register('tmux', () => tm.kill()));
      if (GATEWAY.includes(pathName) && !ONE_SERVE[scen]) {
        const wrapper = path.join(dir, 'claude-wrapper.sh');
        fs.writeFileSync(
          wrapper,
          '#!/bin/sh\n# Claude Code through the bench\'s front tap, to the gateway anyclaude started\n' +
            `export ANTHROPIC_BASE_URL=${shq(fronts[0].url)}/fwd/"\${ANTHROPIC_BASE_URL##*:}"\n` +
            (nonessential ? 'unset CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC\n' : '') +
            `exec ${shq(CLAUDE)} ${permsFor(scen)} "$@"\n`,
          { mode: 0o755 },
        );
        cmdFor = () => `${shq(path.join(SNAP, 'build/anyclaude'))} --mode ${pathName} --backend ${shq(`${taps.llamaUrl}/v1`)} --claude ${shq(wrapper)} --debug 1 2>>${shq(path.join(dir, 'launcher.log'))}`;
      }
    }
    const steps = SCRIPTS[scen]();
    const runs = [];
    const notes = [];
    for (const st of steps) {
      if (st.label) taps.tap.step = st.label;
      if (st.do === 'edit') {
        fs.writeFileSync(path.join(projects[st.proj], 'notes.txt'), 'alpha\nbeta\n');
      } else if (st.do === 'restart') {
        await stopPaths();
        llama.stop();
        llama = await startLlama({ root: ROOT, runDir: dir, port: await freePort(), env: llamaEnv, extraArgs: llamaArgs });
        taps.retargetLlama(llama.base);
        gen++;
        for (let i = 0; i < fronts.length; i++) fronts[i].retarget(await startPath(i));
        notes.push(`llama-server and the path restarted before "${steps[steps.indexOf(st) + 1]?.label}"`);
      } else if (st.do === 'p') {
        const r = await runClaude(st.args, { cwd: projects[st.proj], env: claudeEnv(home, fronts[Math.min(st.who, fronts.length - 1)].url) });
        runs.push({ label: st.label, code: r.code, err: r.err });
        if (r.code !== 0) log(`bench: ${pathName}/${scen} ${st.label}: claude exited ${r.code}: ${r.err}`);
      } else if (st.do === 'open') {
        const name = `s${st.who}`;
        await tm.open(name, projects[st.proj], cmdFor(), path.join(dir, `exit-${st.who}`), st.fast ? { typeAt: TYPE_AT_MS } : {});
        if (st.fast) {
          // the first question, typed before Claude Code shows its prompt box
          const q = steps[steps.indexOf(st) + 1];
          const cmdName = GATEWAY.includes(pathName) ? 'anyclaude' : 'claude';
          const since = Date.now();
          taps.tap.step = q.label;
          const enter = await tm.type(name, q.text, 200);
          const box = await tm.boxAfter(name);
          notes.push(`second session: first question typed ${TYPE_AT_MS} ms after \`${cmdName}\` started, Enter at ${enter} ms; the prompt box showed at ${box} ms`);
          if (!(await tm.settle(name, taps.tap, { since }))) notes.push(`${q.label}: no answer settled in time`);
          q.done = true;
        }
      } else if (st.do === 'type' && !st.done) {
        const since = Date.now();
        taps.tap.script = st.script === 'agent' ? agentAnswer : st.script === 'mcp' ? mcpAnswer : null;
        await tm.type(`s${st.who}`, st.text);
        if (st.nowait) await sleep(3000);
        else if (!(await tm.settle(`s${st.who}`, taps.tap, { since }))) {
          notes.push(`${st.label}: no answer settled in time`);
          log(`bench: ${pathName}/${scen} ${st.label}: no answer settled:\n${tm.capture(`s${st.who}`)}`);
        }
        taps.tap.script = null;
      } else if (st.do === 'close') {
        if (!(await tm.close(`s${st.who}`))) notes.push(`session ${st.who} did not exit on /exit`);
      }
    }
    await sleep(300);
    if (process.env.BENCH_DUMP) fs.writeFileSync(path.join(dir, 'taps.json'), JSON.stringify({ front: taps.tap.front, llama: taps.tap.llama }));
    const front = taps.tap.front;
    const mins = await minimums(llama.base, front.map((f) => f.body));
    const counted = taps.tap.llama.filter((l) => !l.warm);
    const rows = front.map((f, i) => {
      const before = front.slice(0, i).filter((g) => g.step === f.step && g.key === f.key).length;
      const l = counted.filter((c) => c.step === f.step && c.key === f.key)[before] ?? {};
      const first = !(f.body.messages ?? []).some((m) => m.role === 'assistant');
      const prompt = l.prefilled === null || l.prefilled === undefined ? null : l.prefilled + (l.cached ?? 0);
      // the new tokens of the ideal rendering (after the longest common
      // prefix with an earlier prompt), scaled to the prompt as sent (the
      // chat template adds ~9% around the same text)
      const minimum = prompt === null || !mins[i].tokens ? mins[i].minimum : Math.round((mins[i].minimum * prompt) / mins[i].tokens);
      let ok = null;
      if (prompt !== null) ok = first ? l.prefilled <= minimum + FIRST_SLACK * prompt : l.cached / prompt >= FOLLOW_TARGET;
      // a follow-up that prefilled only what was new (a long tool result, a
      // scripted answer the model never generated): at its minimum
      const atMin = !first && !ok && prompt !== null && l.prefilled <= minimum + 0.01 * prompt;
      return { step: f.step, cls: f.cls, first, prompt, prefilled: l.prefilled ?? null, cached: l.cached ?? null, minimum, ok, atMin, ideal: mins[i] };
    });
    const warm = taps.tap.llama.filter((l) => l.warm).map((l) => ({ prefilled: l.prefilled, cached: l.cached }));
    return { rows, runs, warm, notes };
  } finally {
    for (const s of [...pathStops.reverse(), ...stops]) {
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
  // BENCH_FROM=a.json,b.json: no run, one report from saved results
  const from = list(process.env.BENCH_FROM, '');
  for (const f of from) results.push(...JSON.parse(fs.readFileSync(f, 'utf8')));
  if (!from.length)
  for (const slots of SLOTS)
    for (const scen of SCENARIOS)
      for (const p of PATHS) {
        if (ONE_SERVE[scen] && !GATEWAY.includes(p)) continue;
        const t0 = Date.now();
        log(`bench: ${p} / ${scen} / ${slots} slots ...`);
        try {
          const r = await runScenario(p, scen, slots);
          results.push({ path: p, scen, slots, copy: SLOT_COPY, llamaArgs: process.env.BENCH_LLAMA_ARGS ?? '', commit: COMMIT, ...r });
          writeReport(results, version, from, false); /* as it goes: a run cut short still reports */
          log(`bench: ${p} / ${scen} / ${slots} slots: prefilled ${sum(r.rows, 'prefilled')} of ${sum(r.rows, 'prompt')} (minimum ${sum(r.rows, 'minimum')}) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
        } catch (e) {
          log(`bench: ${p} / ${scen} / ${slots}: ${e.stack ?? e}`);
          results.push({ path: p, scen, slots, error: String(e.message ?? e), rows: [], runs: [], warm: [], notes: [] });
        }
      }
  writeReport(results, version, from, true);
}

function writeReport(results, version, from, final) {
  const date = new Date();
  let md = `# bench/sessions, ${date.toISOString().slice(0, 10)}\n\n`;
  if (from.length) md += `Combined from ${from.map((f) => path.basename(f)).join(', ')} (each run's command and gateway commit below).\n\n`;
  else md += `Claude Code ${version}, llama-server from node-llama-cpp 3.21.1's llama.cpp${SLOT_COPY ? ' with --slot-save-path (slot copy on)' : ' without --slot-save-path (slot copy off)'}${process.env.BENCH_LLAMA_ARGS ? ` and ${process.env.BENCH_LLAMA_ARGS}` : ''}, the tiny random-weight model of tests/real (LLAMA_EMBD ${process.env.LLAMA_EMBD ?? 64}, LLAMA_LAYERS ${process.env.LLAMA_LAYERS ?? 2}), gateway at commit ${COMMIT}. Command: \`bench/sessions\`${process.env.BENCH_PATHS ? ` with BENCH_PATHS=${process.env.BENCH_PATHS}` : ''}${process.env.BENCH_SCENARIOS ? ` BENCH_SCENARIOS=${process.env.BENCH_SCENARIOS}` : ''}${process.env.BENCH_SLOTS ? ` BENCH_SLOTS=${process.env.BENCH_SLOTS}` : ''}.\n\n`;
  md += 'Prefilled and prompt tokens are llama-server\'s own counters for each request; minimum = the tokens of the request after its longest common prefix with any earlier prompt of the scenario, counted in an ideal rendering (llama-server\'s tokenizer; system prompt without the billing block, tools by name, the environment block ahead of the first user turn) and scaled to the prompt as sent (the chat template adds about 9%). "at minimum": a follow-up that prefilled no more than what was new in it (+1% of its prompt). First turns pass with prefilled <= minimum + 2% of the prompt; follow-ups with >= 99% cached.\n\n';
  md += '## Summary\n\n';
  const direct = (scen, slots) => results.find((r) => r.path === 'llama' && r.scen === scen && r.slots === slots);
  md += mdTable(
    ['slots', 'scenario', 'path', 'requests', 'prompt', 'prefilled', 'minimum', 'first turns ok', 'follow-ups ok', 'vs llama direct'],
    results.map((r) => {
      const f = r.rows.filter((x) => x.first);
      const u = r.rows.filter((x) => !x.first);
      const d = direct(ONE_SERVE[r.scen] ?? r.scen, r.slots);
      const dp = d ? sum(d.rows, 'prefilled') : null;
      return [r.slots, r.scen, r.path, r.error ? `error: ${r.error.slice(0, 60)}` : r.rows.length, sum(r.rows, 'prompt'), sum(r.rows, 'prefilled'), sum(r.rows, 'minimum'), `${f.filter((x) => x.ok).length}/${f.length}`, `${u.filter((x) => x.ok).length}/${u.length}`, dp === null || r.path === 'llama' ? '' : sum(r.rows, 'prefilled') <= dp ? 'no worse' : 'WORSE'];
    }),
    ['r', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
  md += '\n\n## Per request\n';
  for (const r of results) {
    md += `\n### ${r.path}, ${r.scen}, ${r.slots} slots\n\n`;
    if (r.commit) md += `Gateway ${r.commit}; llama-server ${r.copy ? 'with' : 'without'} --slot-save-path${r.llamaArgs ? `, ${r.llamaArgs}` : ''}.\n\n`;
    if (r.warm.length) md += `Warm start: ${r.warm.map((w) => `${w.prefilled} prefilled, ${w.cached} cached`).join('; ')}.\n\n`;
    const bad = (r.runs ?? []).filter((x) => x.code !== 0);
    if (bad.length) md += `claude exited non-zero: ${bad.map((x) => `${x.label} (${x.code})`).join(', ')}.\n\n`;
    for (const n of r.notes ?? []) md += `- ${n}\n`;
    if (r.notes?.length) md += '\n';
    md += mdTable(
      ['step', 'kind', 'turn', 'prompt', 'prefilled', 'cached', 'minimum', 'target'],
      r.rows.map((x) => [x.step, { main: 'main', sub: 'subagent', bg: 'background' }[x.cls] ?? x.cls, x.first ? 'first' : 'follow-up', x.prompt ?? 'n/a', x.prefilled ?? 'n/a', x.prompt ? pct(x.cached / x.prompt) : 'n/a', x.minimum, x.ok === null ? 'n/a' : x.ok ? 'ok' : x.atMin ? 'MISSED (at minimum)' : 'MISSED']),
      ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'l'],
    );
    md += '\n';
  }
  if (final) console.log(md);
  // BENCH_TAG: sessions-<date>-<tag>.md/.json, so partial runs do not overwrite each other
  const base = path.join(ROOT, 'bench/results', `sessions-${date.toISOString().slice(0, 10)}${process.env.BENCH_TAG ? `-${process.env.BENCH_TAG}` : ''}`);
  fs.mkdirSync(path.dirname(base), { recursive: true });
  fs.writeFileSync(`${base}.md`, md);
  fs.writeFileSync(`${base}.json`, JSON.stringify(results.map(({ runs, ...r }) => r), null, 1));
  if (final) log(`bench: wrote ${path.relative(ROOT, base)}.md and .json`);
}

runBench(main, cleanup, log);
