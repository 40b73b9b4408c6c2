// bench/pool.mjs: a pool of real llama-servers behind one anyclaude, and what
// happens to the conversations when one of them dies. Run it as `bench/pool`.
//
// 1. Three llama-servers (tests/real/llama.sh; random-weight model, 2 slots
//    each so a server can hold two conversations after the kill, --metrics),
//    and `anyclaude serve --config FILE` with backends p1,p2,p3
//    {"mode":"llamacpp","url":".../v1"}, routes [{"when":"default","to":["p1","p2","p3"]}]
//    and healthCheckMs 1000.
// 2. Three conversations built from the recorded Claude Code session A's
//    main-loop requests (lib_cache/record.mjs: real claude traffic, cached):
//    conversation k has its own X-Claude-Code-Session-Id (and metadata
//    session_id) and its first user text block starts with "[conversation k] "
//    in every turn, so after the shared system prompt and tools its prefix is
//    its own. Sent as recorded otherwise (stream:true, same path and headers).
// 3. Interleaved: turn 1 of c1, c2, c3, turn 2 of c1, c2, c3, ... After turn
//    KILL_AFTER, SIGKILL the server that served conversation 1's last turn and
//    go on at once (no wait for a health check).
// 4. Per request: the backend that served it (the `anyclaude-backend` answer
//    header), the prompt and cached tokens from the answer's usage
//    (input_tokens + cache_read_input_tokens) and from that server's
//    Prometheus counters (prompt_tokens_total / prompt_tokens_cached_total
//    deltas), status and errors. A follow-up is a hit when it prefills at most
//    its new messages + 1% of its prompt (its own previous turn came from
//    the cache), cold otherwise.
// 5. Targets, PASS/FAIL; markdown to bench/results/pool-<date>.md.
//
// Knobs (environment): LLAMA_EMBD (128) LLAMA_LAYERS (2) LLAMA_PARALLEL (2)
// LLAMA_CTX (32768 per slot) LLAMA_THREADS (2); POOL_SIZE (3) CONVERSATIONS (3)
// KILL_AFTER (3: the turn after which a server is killed; 0: no kill)
// KILL_WAIT_MS (0: the next request goes out right after the SIGKILL)
// HEALTH_CHECK_MS (1000); POOL_SLOTS (unset: the gateway's default; else each
// backend's "slots", e.g. 0 to leave slot choice to llama-server);
// LLAMA_EXTRA_ARGS (more llama-server arguments, space-separated);
// BENCH_RERECORD=1; CLAUDE_BIN; ANYCLAUDE_BIN; ANYCLAUDE_CACHE.
// Exits 0 whatever the results (it is a benchmark); 1 only if it cannot run.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { recordingFor } from './lib_cache/record.mjs';
import { freePort, killedOnExit, runBench, runScope, sleep, startLogged, tail, waitHttp } from './lib/procs.mjs';
import { llamaEnv, startLlama } from './lib_cache/procs.mjs';
import { metrics, sendRecorded } from './lib_cache/replay.mjs';
import { mdTable, ms, pct, sec, writeResults } from './lib/table.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = process.env.ANYCLAUDE_CACHE ?? path.join(os.homedir(), '.cache/anyclaude');
const CLAUDE = path.resolve(ROOT, process.env.CLAUDE_BIN ?? 'tests/node_modules/@anthropic-ai/claude-code-linux-x64/claude');
const GATEWAY = path.resolve(ROOT, process.env.ANYCLAUDE_BIN ?? 'build/anyclaude');
const LLAMA_ENV = llamaEnv({ LLAMA_THREADS: process.env.LLAMA_THREADS ?? '2' });
const POOL_SIZE = Number(process.env.POOL_SIZE ?? 3);
const CONVERSATIONS = Number(process.env.CONVERSATIONS ?? 3);
const KILL_AFTER = Number(process.env.KILL_AFTER ?? 3);
const HEALTH_CHECK_MS = Number(process.env.HEALTH_CHECK_MS ?? 1000);
const KILL_WAIT_MS = Number(process.env.KILL_WAIT_MS ?? 0);
const POOL_SLOTS = process.env.POOL_SLOTS;
const LLAMA_EXTRA = (process.env.LLAMA_EXTRA_ARGS ?? '').split(/\s+/).filter(Boolean);
const FOLLOWUP_SLACK = 0.01; // a hit prefills at most its new messages + 1% of its prompt

const log = (...a) => console.error(...a);
const started = Date.now();
const { tmpRoot, cleanup } = runScope('pool', { label: 'bench', log });
const claudeChildren = killedOnExit('claude runs');

// --- the conversations ------------------------------------------------------------

// Conversation k from session A's main-loop requests: its own session id and
// a first user text block starting with "[conversation k] ".
function conversationsOf(recording) {
  const turns = recording.requests.filter(
    (r) => r.method === 'POST' && r.path.split('?')[0] === '/v1/messages' && r.body && r.run === 'A' && r.kind === 'main',
  );
  const convs = [];
  for (let k = 1; k <= CONVERSATIONS; k++) {
    const sid = `c0ffee0${k}-0000-4000-8000-00000000000${k}`;
    convs.push({
      name: `c${k}`,
      sid,
      turns: turns.map((r) => {
        const orig = r.headers['x-claude-code-session-id'];
        const body = JSON.parse(orig ? JSON.stringify(r.body).split(orig).join(sid) : JSON.stringify(r.body));
        const first = body.messages[0];
        if (typeof first.content === 'string') first.content = `[conversation ${k}] ${first.content}`;
        else {
          const t = first.content.find((b) => b.type === 'text');
          t.text = `[conversation ${k}] ${t.text}`;
        }
        const headers = { ...r.headers };
        for (const h of Object.keys(headers)) if (h.toLowerCase() === 'x-claude-code-session-id') delete headers[h];
        headers['x-claude-code-session-id'] = sid;
        return { path: r.path, headers, body };
      }),
    });
  }
  return convs;
}

// --- one request ------------------------------------------------------------------

// Sends a recorded request (lib_cache/replay.mjs); a stream must end with
// message_stop. ttftMs: time to the first content delta.
async function send(baseUrl, rec) {
  const out = await sendRecorded(baseUrl, rec, { timeoutMs: 300000 });
  out.ttftMs = out.firstDeltaMs;
  if (out.stream && !out.error && out.types.at(-1) !== 'message_stop')
    out.error = `stream ended without message_stop (events: ${out.types.slice(-5).join(',')})`;
  return out;
}

// Counters of every live server (null for a dead one), once none is busy.
async function allMetrics(servers) {
  const out = {};
  for (const s of servers) {
    if (s.killed) {
      out[s.name] = null;
      continue;
    }
    try {
      let m = await metrics(s.base);
      for (let i = 0; i < 600 && m.requests_processing > 0; i++) {
        await sleep(50);
        m = await metrics(s.base);
      }
      out[s.name] = m;
    } catch {
      out[s.name] = null;
    }
  }
  return out;
}

function gatewayMetrics(text) {
  return text
    .split('\n')
    .filter((l) => /^anyclaude_(backend_|fallbacks)/.test(l))
    .join('\n');
}

// --- main ---------------------------------------------------------------------------

async function main() {
  const { recording, file } = await recordingFor({ claude: CLAUDE, gateway: GATEWAY, cacheDir: CACHE, children: claudeChildren, log });
  const convs = conversationsOf(recording);
  const nTurns = convs[0].turns.length;
  if (nTurns < 2) throw new Error(`the recording has ${nTurns} session-A main-loop turns`);
  const killAfter = KILL_AFTER > 0 && KILL_AFTER < nTurns ? KILL_AFTER : 0;

  const llamaBin = execFileSync(path.join(ROOT, 'scripts/build-llama-server.sh'), { encoding: 'utf8' }).trim();
  const gwVersion = execFileSync(GATEWAY, ['--version'], { encoding: 'utf8' }).trim();

  // the pool
  const servers = [];
  const runDir = path.join(tmpRoot, 'llama');
  fs.mkdirSync(runDir, { recursive: true });
  for (let i = 1; i <= POOL_SIZE; i++) {
    const port = await freePort();
    log(`bench: starting llama-server p${i} on ${port} (${LLAMA_ENV.LLAMA_EMBD}x${LLAMA_ENV.LLAMA_LAYERS}, ${LLAMA_ENV.LLAMA_PARALLEL} slots, ${LLAMA_ENV.LLAMA_THREADS} threads)`);
    const l = await startLlama({ root: ROOT, runDir, port, env: LLAMA_ENV, extraArgs: ['--metrics', '--seed', '1', ...LLAMA_EXTRA] });
    servers.push({ name: `p${i}`, port, base: l.base, v1: l.v1, stop: l.stop, logFile: l.logFile, pidFile: path.join(runDir, `llama-${port}.pid`), killed: false });
  }
  const byName = Object.fromEntries(servers.map((s) => [s.name, s]));

  // the gateway
  const config = {
    backends: Object.fromEntries(
      servers.map((s) => [s.name, { mode: 'llamacpp', url: s.v1, ...(POOL_SLOTS !== undefined ? { slots: POOL_SLOTS === 'auto' ? 'auto' : Number(POOL_SLOTS) } : {}) }]),
    ),
    routes: [{ when: 'default', to: servers.map((s) => s.name) }],
    healthCheckMs: HEALTH_CHECK_MS,
  };
  const cfgFile = path.join(tmpRoot, 'pool.json');
  fs.writeFileSync(cfgFile, JSON.stringify(config, null, 2));
  const gwPort = await freePort();
  const gwLog = path.join(tmpRoot, 'anyclaude.log');
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(ANYCLAUDE_|LLAMACPP_|OPENAI_|MLX_LM_|LMSTUDIO_|ANTHROPIC_)/.test(k)) delete env[k];
  env.XDG_CONFIG_HOME = path.join(tmpRoot, 'gw-config');
  env.XDG_STATE_HOME = path.join(tmpRoot, 'gw-state');
  const gwArgs = ['serve', '--port', String(gwPort), '--config', cfgFile, '--debug', '1'];
  const gw = startLogged('anyclaude', GATEWAY, gwArgs, { env, logFile: gwLog });
  const gwUrl = `http://127.0.0.1:${gwPort}`;
  if (!(await waitHttp(`${gwUrl}/health`, { timeoutMs: 15000, isDead: gw.isDead, ok: () => true }))) {
    throw new Error(`anyclaude serve --config did not come up on ${gwUrl}; log:\n${tail(gwLog)}`);
  }
  log(`bench: anyclaude ${gwUrl} (${gwArgs.join(' ')}), config:\n${JSON.stringify(config)}`);
  // let a first health check pass so every member starts in the pool
  await sleep(HEALTH_CHECK_MS + 200);
  const gwMetricsNow = async () => {
    try {
      return gatewayMetrics(await (await fetch(`${gwUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text());
    } catch (e) {
      return `(GET /metrics failed: ${e.message})`;
    }
  };
  const gwMetrics0 = await gwMetricsNow();

  // the replay
  const rows = [];
  const last = new Map(); // conversation -> previous row
  let kill = null;
  for (let t = 0; t < nTurns; t++) {
    for (const c of convs) {
      const m0 = await allMetrics(servers);
      const r = await send(gwUrl, c.turns[t]);
      const m1 = await allMetrics(servers);
      const moved = servers.filter((s) => m0[s.name] && m1[s.name] && m1[s.name].prompt_tokens_total + m1[s.name].prompt_tokens_cached_total > m0[s.name].prompt_tokens_total + m0[s.name].prompt_tokens_cached_total);
      const counted = moved.length === 1 ? moved[0] : null;
      const mprefilled = counted ? m1[counted.name].prompt_tokens_total - m0[counted.name].prompt_tokens_total : null;
      const mcached = counted ? m1[counted.name].prompt_tokens_cached_total - m0[counted.name].prompt_tokens_cached_total : null;
      const u = r.usage ?? {};
      const uIn = Number.isFinite(u.input_tokens) ? u.input_tokens : null;
      const uCached = Number.isFinite(u.cache_read_input_tokens) ? u.cache_read_input_tokens : 0;
      const prompt = uIn !== null ? uIn + uCached : mprefilled !== null ? mprefilled + mcached : null;
      const cached = uIn !== null ? uCached : mcached;
      const prev = last.get(c.name);
      const newTokens = prev && prompt !== null && prev.prompt !== null ? prompt - prev.prompt : null;
      const failed = !!r.error || r.status !== 200;
      const row = {
        turn: t + 1,
        conv: c.name,
        afterKill: !!kill,
        backend: r.backend,
        counted: counted ? counted.name : moved.length ? moved.map((s) => s.name).join('+') : null,
        prompt,
        cached,
        share: prompt ? cached / prompt : null,
        mprefilled,
        mcached,
        newTokens,
        followUp: !!prev,
        hit: prev && !failed && prompt !== null ? prompt - cached <= newTokens + FOLLOWUP_SLACK * prompt : null,
        status: r.status,
        error: r.error,
        failed,
        ms: r.ms,
        ttftMs: r.ttftMs,
        out: u.output_tokens ?? null,
        stopReason: r.stopReason,
      };
      rows.push(row);
      if (!failed) last.set(c.name, row); // a follow-up is measured against the last answered turn
      log(
        `bench: turn ${row.turn} ${c.name} -> ${String(row.backend ?? '?').padEnd(3)} (counters: ${row.counted ?? '?'}) prompt ${String(prompt ?? '?').padStart(6)} ` +
          `cached ${pct(row.share).padStart(6)} ${row.followUp ? (row.hit ? 'hit ' : 'COLD') : 'first'} ${ms(r.ms).padStart(6)} ms` +
          (r.error ? `  ERROR ${r.error}` : ''),
      );
    }
    if (killAfter && t + 1 === killAfter) {
      const c1 = last.get('c1');
      const victim = byName[c1?.backend] ?? byName[c1?.counted];
      if (!victim) {
        log(`bench: cannot tell which server served c1 (header ${c1?.backend}, counters ${c1?.counted}); no kill`);
        kill = { failed: `no server known for c1 (anyclaude-backend header: ${c1?.backend ?? 'none'})` };
        continue;
      }
      const pid = parseInt(fs.readFileSync(victim.pidFile, 'utf8'), 10);
      process.kill(pid, 'SIGKILL');
      victim.killed = true;
      kill = { server: victim.name, pid, afterTurn: t + 1, at: Date.now(), logFrom: fs.statSync(gwLog).size };
      log(`bench: SIGKILL ${victim.name} (pid ${pid}, port ${victim.port}), which served c1's turn ${t + 1}; ` +
        (KILL_WAIT_MS ? `going on after ${KILL_WAIT_MS} ms` : 'going on at once'));
      if (KILL_WAIT_MS) await sleep(KILL_WAIT_MS);
    }
  }
  await sleep(HEALTH_CHECK_MS + 200);
  const gwMetrics1 = await gwMetricsNow();
  const gwLogText = fs.readFileSync(gwLog, 'utf8');
  const killLog = kill?.logFrom !== undefined
    ? gwLogText
        .slice(kill.logFrom)
        .split('\n')
        .filter((l) => new RegExp(`\\b${kill.server}\\b|down|health|fallback|refused|unreachable|error`, 'i').test(l))
        .slice(0, 12)
    : [];
  const reqLines = gwLogText.split('\n').filter((l) => / backend=\S+/.test(l) && / prompt=/.test(l));
  gw.stop();

  // --- analysis -----------------------------------------------------------------------
  const failedRows = rows.filter((r) => r.failed);
  const placement = {}; // conv -> [backends before kill], [after]
  for (const c of convs) {
    const mine = rows.filter((r) => r.conv === c.name);
    placement[c.name] = {
      // where its successful turns went (a failed answer may name the dead server)
      before: [...new Set(mine.filter((r) => !r.afterKill && !r.failed).map((r) => r.backend ?? r.counted ?? '?'))],
      after: [...new Set(mine.filter((r) => r.afterKill && !r.failed).map((r) => r.backend ?? r.counted ?? '?'))],
      lastBefore: mine.filter((r) => !r.afterKill && !r.failed).at(-1)?.backend ?? null,
    };
  }
  const movedConvs = kill?.server ? convs.map((c) => c.name).filter((n) => placement[n].lastBefore === kill.server) : [];
  const stayed = convs.map((c) => c.name).filter((n) => !movedConvs.includes(n));
  const fBefore = rows.filter((r) => r.followUp && !r.afterKill && !r.failed);
  const fAfter = rows.filter((r) => r.followUp && r.afterKill && !r.failed);
  const firstAfter = (n) => rows.find((r) => r.conv === n && r.afterKill && !r.failed);
  const fAfterWarm = fAfter.filter((r) => !(movedConvs.includes(r.conv) && r === firstAfter(r.conv)));
  const mean = (rs) => (rs.length ? rs.reduce((a, r) => a + (r.share ?? 0), 0) / rs.length : null);
  const coldOf = (n) => rows.filter((r) => r.conv === n && r.afterKill && r.followUp && r.hit === false);
  const firstTurnBackends = rows.filter((r) => r.turn === 1).map((r) => r.backend);

  // --- report -------------------------------------------------------------------------
  const out = [];
  const date = new Date();
  out.push(`# Pool benchmark (bench/pool), ${date.toISOString().replace(/\.\d+Z$/, 'Z')}`);
  out.push('');
  out.push(
    `${POOL_SIZE} llama-servers (node-llama-cpp's llama.cpp, ${path.relative(CACHE, llamaBin)}; random-weight ${LLAMA_ENV.LLAMA_EMBD}-wide x ` +
      `${LLAMA_ENV.LLAMA_LAYERS}-layer Qwen-vocab model, ${LLAMA_ENV.LLAMA_PARALLEL} slots x ${LLAMA_ENV.LLAMA_CTX} ctx, ${LLAMA_ENV.LLAMA_THREADS} threads, ` +
      `\`${['--metrics', '--seed', '1', ...LLAMA_EXTRA].join(' ')}\`) behind one ${gwVersion}: \`anyclaude ${gwArgs.slice(0, 3).join(' ')} ... --config pool.json --debug 1\` with ` +
      `backends ${servers.map((s) => `${s.name} \`${JSON.stringify(config.backends[s.name]).replace(/:\d+\//, ':PORT/')}\``).join(', ')}, ` +
      `routes \`[{"when":"default","to":[${servers.map((s) => `"${s.name}"`).join(',')}]}]\`, healthCheckMs ${HEALTH_CHECK_MS}. ` +
      `Machine: ${os.cpus().length} CPUs, load average at start ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}.`,
  );
  out.push('');
  out.push(
    `${CONVERSATIONS} conversations, each the ${nTurns} main-loop turns of session A of Claude Code ${recording.claudeVersion} traffic recorded ` +
      `${recording.recordedAt} (${path.basename(file)}), sent as claude sent them (\`/v1/messages?beta=true\`, its headers, \`stream:true\`) except: ` +
      'conversation k has its own `x-claude-code-session-id` (and metadata session_id), and its first user text block starts with ' +
      '`[conversation k] ` in every turn (so its prefix is its own after the shared system prompt and tools). Interleaved: turn 1 of c1, c2, c3, ' +
      `turn 2 of c1, c2, c3, ... ` +
      (killAfter
        ? `After turn ${killAfter}, the server that served c1's turn ${killAfter} is SIGKILLed and the replay goes on ` +
          (KILL_WAIT_MS ? `${KILL_WAIT_MS} ms later.` : 'at once (no wait for a health check).')
        : 'No server is killed.'),
  );
  out.push('');
  out.push(
    'Columns: **backend** = the `anyclaude-backend` answer header; **counters** = the server whose `llamacpp:prompt_tokens_total` + ' +
      '`prompt_tokens_cached_total` moved; **prompt** = `input_tokens + cache_read_input_tokens` of the answer; **cached** = ' +
      '`cache_read_input_tokens` / prompt; **srv prefilled/cached** = that server\'s counter deltas; **new** = prompt minus the conversation\'s ' +
      'previous turn; **cache** = `hit` when the turn prefilled at most its new messages + 1% of its prompt (its previous turn came from the ' +
      'cache), `COLD` otherwise, `first` for a first turn; **total** = ms to the end of the stream (random text of random length).',
  );
  out.push('');
  out.push(
    mdTable(
      ['turn', 'conv', 'backend', 'counters', 'prompt', 'new', 'cached', 'srv prefilled', 'srv cached', 'cache', 'status', 'total', 'out', 'note'],
      rows.map((r) => [
        r.turn,
        r.conv,
        r.backend ?? '(none)',
        r.counted ?? '?',
        r.prompt ?? '?',
        r.newTokens ?? '',
        pct(r.share),
        r.mprefilled ?? '?',
        r.mcached ?? '?',
        r.followUp ? (r.failed ? '' : r.hit ? 'hit' : 'COLD') : 'first',
        r.status || 'none',
        ms(r.ms),
        `${r.out ?? '?'} ${r.stopReason ?? ''}`.trim(),
        [
          kill?.server && r.afterKill && r === rows.find((x) => x.afterKill) ? `first request after SIGKILL ${kill.server}` : '',
          r.error ? r.error.slice(0, 100) : '',
        ]
          .filter(Boolean)
          .join('; '),
      ]),
      ['r', 'l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'l', 'r', 'r', 'l', 'l'],
    ),
  );
  out.push('', '### Placement', '');
  out.push(
    mdTable(
      ['conversation', `backends turns 1-${killAfter || nTurns}`, killAfter ? `backends turns ${killAfter + 1}-${nTurns}` : '', 'moved', 'cold turns after the kill', 'failed'],
      convs.map((c) => [
        c.name,
        placement[c.name].before.join(', '),
        placement[c.name].after.join(', '),
        movedConvs.includes(c.name) ? `yes (from ${kill.server})` : 'no',
        killAfter ? coldOf(c.name).map((r) => `turn ${r.turn}`).join(', ') || '0' : '',
        rows.filter((r) => r.conv === c.name && r.failed).map((r) => `turn ${r.turn}`).join(', ') || '0',
      ]),
      ['l', 'l', 'l', 'l', 'l', 'l'],
    ),
  );
  if (kill?.failed) out.push('', `No server was killed: ${kill.failed}.`);
  if (kill?.server) {
    out.push('', `SIGKILL ${kill.server} (pid ${kill.pid}) after turn ${kill.afterTurn}. Gateway log lines after the kill that mention it, a health check, a fallback or an error:`, '');
    out.push('```', ...(killLog.length ? killLog : ['(none)']), '```');
  }
  out.push('', `Gateway log, its line per request (${reqLines.length}; \`slot=\` is the llama.cpp slot it pinned the conversation to):`, '');
  out.push('```', ...(reqLines.length ? reqLines.map((l) => l.replace(/^\[anyclaude [^\]]*\] /, '')) : ['(none)']), '```');
  out.push('', 'Gateway `/metrics` (backend and fallback series) at the start and at the end:', '');
  out.push('```', gwMetrics0 || '(none)', '---', gwMetrics1 || '(none)', '```');

  // summary and targets
  const sumPrompt = rows.reduce((a, r) => a + (r.prompt ?? 0), 0);
  const sumCached = rows.reduce((a, r) => a + (r.cached ?? 0), 0);
  out.push('', '## Summary', '');
  out.push(
    mdTable(
      ['', 'value'],
      [
        ['requests', rows.length],
        ['failed requests', failedRows.length],
        ['first turns served by', firstTurnBackends.join(', ')],
        ['mean cached share, follow-ups before the kill', `${pct(mean(fBefore))} (${fBefore.length} turns)`],
        ['mean cached share, follow-ups after the kill (all)', `${pct(mean(fAfter))} (${fAfter.length} turns)`],
        ['mean cached share, follow-ups after the kill, without the moved conversations\' first turn', `${pct(mean(fAfterWarm))} (${fAfterWarm.length} turns)`],
        ['killed server', kill?.server ?? 'none'],
        ['moved conversations', movedConvs.map((n) => `${n} -> ${placement[n].after.join(',')}`).join('; ') || 'none'],
        ['cold turns per moved conversation', movedConvs.map((n) => `${n}: ${coldOf(n).length}`).join(', ') || 'n/a'],
        ['cold turns of the other conversations after the kill', stayed.map((n) => `${n}: ${coldOf(n).length}`).join(', ') || 'n/a'],
        ['all requests: cached / prompt tokens', `${sumCached} / ${sumPrompt} (${pct(sumCached / Math.max(1, sumPrompt))})`],
      ],
      ['l', 'l'],
    ),
  );
  const targets = [];
  const badBefore = fBefore.filter((r) => !r.hit);
  targets.push({
    target: 'the first turns spread over the pool (one conversation per server)',
    measured: firstTurnBackends.join(', '),
    pass: new Set(firstTurnBackends).size === Math.min(CONVERSATIONS, POOL_SIZE) && firstTurnBackends.every(Boolean),
  });
  targets.push({
    target: 'before the kill, every follow-up hits its conversation\'s cache',
    measured: `${fBefore.length - badBefore.length}/${fBefore.length} hit, mean cached share ${pct(mean(fBefore))}` + (badBefore.length ? `; cold: ${badBefore.map((r) => `${r.conv} turn ${r.turn}`).join(', ')}` : ''),
    pass: fBefore.length > 0 && badBefore.length === 0,
  });
  if (killAfter) {
    targets.push({
      target: `killing ${kill?.server ?? '?'} moves its conversations to the others`,
      measured: movedConvs.length
        ? movedConvs.map((n) => `${n}: ${placement[n].before.join(',')} -> ${placement[n].after.join(',')}`).join('; ')
        : `no conversation moved (${kill?.failed ?? 'none was on the killed server'})`,
      pass: movedConvs.length > 0 && movedConvs.every((n) => placement[n].after.length > 0 && !placement[n].after.includes(kill.server)),
    });
    const movedOk = movedConvs.every((n) => {
      const cold = coldOf(n);
      return cold.length === 1 && cold[0] === firstAfter(n);
    });
    targets.push({
      target: 'each moved conversation has exactly one cold turn (its first after the kill), then hits',
      measured: movedConvs.map((n) => `${n}: ${coldOf(n).length} cold (${coldOf(n).map((r) => `turn ${r.turn} ${pct(r.share)}`).join(', ') || '-'}), then ${rows.filter((r) => r.conv === n && r.afterKill && r !== firstAfter(n) && r.hit).length} hits`).join('; ') || 'n/a',
      pass: movedConvs.length > 0 && movedOk,
    });
    const stayedCold = stayed.flatMap((n) => coldOf(n));
    targets.push({
      target: 'the other conversations stay where they are and keep hitting',
      measured: stayed.map((n) => `${n}: ${placement[n].before.join(',')} -> ${placement[n].after.join(',')}, ${coldOf(n).length} cold`).join('; '),
      pass: stayedCold.length === 0 && stayed.every((n) => placement[n].after.length === 1 && placement[n].after[0] === placement[n].lastBefore),
    });
    const onDead = rows.filter((r) => r.afterKill && r.backend === kill?.server);
    targets.push({
      target: 'no answer after the kill names the killed server',
      measured: `${onDead.length} did`,
      pass: !!kill?.server && onDead.length === 0,
    });
  }
  targets.push({
    target: 'no failed request',
    measured: failedRows.length ? failedRows.map((r) => `${r.conv} turn ${r.turn}: ${r.error}`).join('; ') : `0 of ${rows.length}`,
    pass: failedRows.length === 0,
  });
  targets.push({
    target: 'every answer carries `anyclaude-backend` and it names the server the counters saw',
    measured: `${rows.filter((r) => r.backend && r.backend === r.counted).length}/${rows.length} agree` +
      (rows.some((r) => !r.backend) ? `; ${rows.filter((r) => !r.backend).length} without the header` : ''),
    pass: rows.every((r) => r.failed || (r.backend && r.backend === r.counted)),
  });
  out.push('', '## Targets', '');
  out.push(mdTable(['target', 'measured', 'result'], targets.map((t) => [t.target, t.measured, t.pass ? 'PASS' : 'FAIL']), ['l', 'l', 'l']));
  out.push('', `Run time ${sec(Date.now() - started)}; load average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}.`);

  const text = out.join('\n') + '\n';
  console.log('\n' + text);
  for (const t of targets) console.log(`${t.pass ? 'PASS' : 'FAIL'}: ${t.target}: ${t.measured}`);
  writeResults(ROOT, 'pool', date, text, log);
}

runBench(main, cleanup, log);
