// bench/cache.mjs: how much of each Claude Code request a local backend can
// serve from its KV prefix cache, through three paths. Run it as `bench/cache`.
//
// 1. Record: the real `claude` binary talks to a scripted Anthropic server
//    (lib_cache/recorder.mjs); session A (6+ main-loop turns with Write, Bash,
//    Read and an Agent subagent), then session B in the same project. Cached
//    under $ANYCLAUDE_CACHE/bench-recordings/ keyed by claude's version.
// 2. Replay every recorded /v1/messages request in recorded order (the
//    subagent's request falls between two main-loop turns) as claude sent it,
//    through (a) anyclaude -> llama-server chat/completions, (b) llama-server's
//    own /v1/messages, (c) claude-code-router -> llama-server chat/completions.
//    Each path gets a freshly started llama-server (cold cache). Tokens
//    prefilled come from llama-server's Prometheus counters around each request.
// 3. The with-cache / without-cache table (anyclaude, session A's first 5 turns).
// 4. Targets, PASS/FAIL per path. 5. Markdown to bench/results/cache-<date>.md.
//
// Knobs (environment): LLAMA_EMBD (128) LLAMA_LAYERS (2) LLAMA_PARALLEL (2)
// LLAMA_CTX (32768 per slot) LLAMA_THREADS; BENCH_PATHS (comma list of
// anyclaude,llama,ccr,nocache); BENCH_RERECORD=1; CLAUDE_BIN; ANYCLAUDE_CACHE.
// Exits 0 whatever the results (it is a benchmark); 1 only if it cannot run.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { recordingFor } from './lib_cache/record.mjs';
import { freePort, killedOnExit, runBench, runScope, waitLog } from './lib/procs.mjs';
import { llamaEnv, startCcr, startGateway, startLlama } from './lib_cache/procs.mjs';
import { idleMetrics, sendRecorded, slots, systemToolsPrefixTokens } from './lib_cache/replay.mjs';
import { mdTable, ms, pct, sec, writeResults } from './lib/table.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = process.env.ANYCLAUDE_CACHE ?? path.join(os.homedir(), '.cache/anyclaude');
const CLAUDE = path.resolve(ROOT, process.env.CLAUDE_BIN ?? 'tests/node_modules/@anthropic-ai/claude-code-linux-x64/claude');
const LLAMA_ENV = llamaEnv();
const PATHS = (process.env.BENCH_PATHS ?? 'anyclaude,warm,llama,ccr,nocache').split(',').map((s) => s.trim());
const FOLLOWUP_SLACK = 0.01; // a follow-up may prefill its new messages + 1% of its prompt
const PREFIX_TARGET = 0.95;
const AFTER_INTERLEAVE_TARGET = 0.95;

const log = (...a) => console.error(...a);
const started = Date.now();

// --- cleanup on every exit path -------------------------------------------------

const { tmpRoot, cleanup } = runScope('cache', { label: 'bench', log });
const claudeChildren = killedOnExit('claude runs');

// --- the replay plan --------------------------------------------------------------

function planOf(recording) {
  const reqs = recording.requests.filter((r) => r.method === 'POST' && r.path.split('?')[0] === '/v1/messages' && r.body);
  const count = { A: 0, B: 0 };
  const sub = {};
  let bg = 0;
  const plan = reqs.map((r) => {
    const sid = r.headers['x-claude-code-session-id'] ?? '?';
    const agent = r.headers['x-claude-code-agent-id'];
    let label;
    let conv;
    if (r.kind === 'main') {
      count[r.run] = (count[r.run] ?? 0) + 1;
      label = `${r.run}${count[r.run]}`;
      conv = `main:${sid}`;
    } else if (r.kind === 'subagent') {
      sub[agent] = (sub[agent] ?? 0) + 1;
      label = `${r.run}-sub${sub[agent]}`;
      conv = `agent:${agent}`;
    } else {
      label = `${r.run}-bg${++bg}`;
      conv = `bg:${bg}`; // each background request is its own conversation
    }
    return { rec: r, label, kind: r.kind, conv, session: r.run, sid, agent };
  });
  // the main-loop turn right after a non-main request, inside session A
  let afterInterleave = null;
  for (let i = 1; i < plan.length; i++) {
    if (plan[i].kind === 'main' && plan[i - 1].kind !== 'main' && plan[i].session === plan[i - 1].session) {
      afterInterleave = plan[i].label;
      break;
    }
  }
  return { plan, afterInterleave, firstB: plan.find((p) => p.kind === 'main' && p.session === 'B')?.label ?? null };
}

// --- one path ---------------------------------------------------------------------

async function runPath(name, plan, startFront, { llamaArgs = [], only = null, port = 0, afterStart = null } = {}) {
  port ||= await freePort();
  const runDir = path.join(tmpRoot, `llama-${name}`);
  fs.mkdirSync(runDir, { recursive: true });
  log(`bench: [${name}] starting a fresh llama-server (${LLAMA_ENV.LLAMA_EMBD}x${LLAMA_ENV.LLAMA_LAYERS}, ${LLAMA_ENV.LLAMA_PARALLEL} slots)`);
  const llama = await startLlama({ root: ROOT, runDir, port, env: LLAMA_ENV, extraArgs: ['--metrics', '--seed', '1', ...llamaArgs] });
  let front;
  const rows = [];
  const res = { name, rows, port, llamaLog: llama.logFile, before: null };
  try {
    const mBoot = await idleMetrics(llama.base);
    front = await startFront(llama);
    log(`bench: [${name}] front ${front.url}`);
    res.note = afterStart ? await afterStart(front, llama) : null;
    const mPre = await idleMetrics(llama.base);
    res.before = {
      prefilled: mPre.prompt_tokens_total - mBoot.prompt_tokens_total,
      ms: 1000 * (mPre.prompt_seconds_total - mBoot.prompt_seconds_total),
    };
    const last = new Map(); // conv -> previous row
    for (const item of plan) {
      if (only && !only.includes(item.label)) continue;
      const m0 = await idleMetrics(llama.base);
      const s0 = await slots(llama.base);
      const r = await sendRecorded(front.url, item.rec);
      const m1 = await idleMetrics(llama.base);
      const s1 = await slots(llama.base);
      const prefilled = m1.prompt_tokens_total - m0.prompt_tokens_total;
      const cached = m1.prompt_tokens_cached_total - m0.prompt_tokens_cached_total;
      const prompt = prefilled + cached;
      const prefillMs = 1000 * (m1.prompt_seconds_total - m0.prompt_seconds_total);
      const slot = s1.find((s) => s.id_task !== undefined && s.id_task !== s0.find((x) => x.id === s.id)?.id_task)?.id;
      const prev = last.get(item.conv);
      const row = {
        label: item.label,
        kind: item.kind,
        conv: item.conv,
        prompt,
        prefilled,
        cached,
        share: prompt > 0 ? cached / prompt : null,
        newTokens: prev ? prompt - prev.prompt : null,
        followUp: !!prev,
        slot,
        prefillMs,
        outTokens: m1.tokens_predicted_total - m0.tokens_predicted_total,
        stopReason: r.stopReason,
        startMs: r.startMs,
        ttftMs: r.firstDeltaMs,
        totalMs: r.ms,
        deltas: r.deltas,
        error: r.error,
        status: r.status,
      };
      rows.push(row);
      last.set(item.conv, row);
      log(
        `bench: [${name}] ${item.label.padEnd(7)} prompt ${String(prompt).padStart(6)} prefilled ${String(prefilled).padStart(6)} ` +
          `cached ${pct(row.share).padStart(6)} ttft ${ms(r.firstDeltaMs).padStart(6)} ms total ${ms(r.ms).padStart(6)} ms` +
          (r.error ? `  ERROR ${r.error}` : ''),
      );
    }
  } finally {
    front?.stop();
    llama.stop();
  }
  return res;
}

// --- main ---------------------------------------------------------------------------

async function main() {
  const { recording, file } = await recordingFor({ claude: CLAUDE, gateway: path.join(ROOT, 'build/anyclaude'), cacheDir: CACHE, children: claudeChildren, log });
  const { plan, afterInterleave, firstB } = planOf(recording);
  const mainA = plan.filter((p) => p.kind === 'main' && p.session === 'A');
  if (mainA.length < 5 || !firstB) log(`bench: WARNING: the recording has ${mainA.length} session-A turns and ${firstB ? 'a' : 'no'} session-B turn`);

  const results = {};
  const llamaBin = execFileSync(path.join(ROOT, 'scripts/build-llama-server.sh'), { encoding: 'utf8' }).trim();
  const gwVersion = execFileSync(path.join(ROOT, 'build/anyclaude'), ['--version'], { encoding: 'utf8' }).trim();
  let prefix = null;
  const gwState = path.join(tmpRoot, 'gw-state');

  const paths = {
    anyclaude: {
      title: 'anyclaude (/v1/messages -> llama-server /v1/chat/completions, --mode llamacpp)',
      front: async (llama) => {
        if (!prefix) prefix = await systemToolsPrefixTokens(llama.base, plan.find((p) => p.label === firstB)?.rec.body ?? plan[0].rec.body);
        return startGateway({ root: ROOT, port: await freePort(), backend: llama.v1, logFile: path.join(tmpRoot, 'anyclaude.log'), stateDir: gwState });
      },
    },
    warm: {
      title: "anyclaude after a restart: gateway and llama-server restarted (same backend URL, the gateway's state kept), then session B again",
      front: async (llama) =>
        startGateway({ root: ROOT, port: await freePort(), backend: llama.v1, logFile: path.join(tmpRoot, 'anyclaude-warm.log'), stateDir: gwState }),
      afterStart: async (front) => {
        const file = path.join(tmpRoot, 'anyclaude-warm.log');
        if (!(await waitLog(file, /warm start: prefilling/, 5000))) return 'the gateway logged no warm-start prefill';
        const m = await waitLog(file, /warm start: (prefilled.*|failed.*)/, 120000);
        return m ? `gateway log: "warm start: ${m[1].trim()}"` : 'warm start did not finish within 120 s';
      },
    },
    llama: {
      title: "llama-server's own /v1/messages (no gateway)",
      front: async (llama) => {
        if (!prefix) prefix = await systemToolsPrefixTokens(llama.base, plan.find((p) => p.label === firstB)?.rec.body ?? plan[0].rec.body);
        return { url: llama.base, stop: () => {} };
      },
    },
    ccr: {
      title: 'claude-code-router 2.0.0 (/v1/messages -> llama-server /v1/chat/completions)',
      front: async (llama) => {
        if (!prefix) prefix = await systemToolsPrefixTokens(llama.base, plan.find((p) => p.label === firstB)?.rec.body ?? plan[0].rec.body);
        return startCcr({ root: ROOT, port: await freePort(), backendV1: llama.v1, home: path.join(tmpRoot, 'ccr-home'), logFile: path.join(tmpRoot, 'ccr.log') });
      },
    },
  };

  const bLabels = plan.filter((p) => p.kind === 'main' && p.session === 'B').map((p) => p.label);
  for (const name of ['anyclaude', 'warm', 'llama', 'ccr']) {
    if (!PATHS.includes(name)) continue;
    if (name === 'warm' && !results.anyclaude?.port) continue;
    try {
      results[name] = await runPath(
        name,
        plan,
        paths[name].front,
        name === 'warm' ? { port: results.anyclaude.port, only: bLabels, afterStart: paths.warm.afterStart } : {},
      );
    } catch (e) {
      log(`bench: [${name}] FAILED to run: ${e.message}`);
      results[name] = { name, rows: [], failed: e.message };
    }
  }

  // without cache: llama-server's prompt cache off (--no-cache-prompt, no host-RAM
  // cache) and the gateway in openai mode, which sends no cache_prompt field (a
  // request's cache_prompt:true would override the server default).
  let nocache = null;
  const firstFive = mainA.slice(0, 5).map((p) => p.label);
  if (PATHS.includes('nocache')) {
    try {
      nocache = await runPath(
        'nocache',
        plan,
        async (llama) =>
          startGateway({
            root: ROOT,
            port: await freePort(),
            backend: llama.v1,
            mode: 'openai',
            logFile: path.join(tmpRoot, 'anyclaude-nocache.log'),
            stateDir: path.join(tmpRoot, 'gw-state-nocache'),
          }),
        { llamaArgs: ['--no-cache-prompt', '--cache-ram', '0'], only: firstFive },
      );
    } catch (e) {
      log(`bench: [nocache] FAILED to run: ${e.message}`);
    }
  }

  // --- report ---------------------------------------------------------------------
  const out = [];
  const date = new Date();
  out.push(`# Prefix-cache benchmark (bench/cache), ${date.toISOString().replace(/\.\d+Z$/, 'Z')}`);
  out.push('');
  out.push(
    `Claude Code ${recording.claudeVersion} traffic recorded ${recording.recordedAt} (${path.basename(file)}), replayed as sent ` +
      `(same path \`/v1/messages?beta=true\`, headers incl. \`x-claude-code-session-id\` / \`x-claude-code-agent-id\`, body, \`stream:true\`). ` +
      `${gwVersion}; llama-server from node-llama-cpp's llama.cpp (${path.relative(CACHE, llamaBin)}), random-weight ` +
      `${LLAMA_ENV.LLAMA_EMBD}-wide x ${LLAMA_ENV.LLAMA_LAYERS}-layer Qwen-vocab model, ${LLAMA_ENV.LLAMA_PARALLEL} slots x ${LLAMA_ENV.LLAMA_CTX} ctx, ` +
      `its default prompt cache (cache_prompt on, --cache-ram 8192 MiB), \`--seed 1\`, \`--metrics\`, started fresh for each path. ` +
      `Machine: ${os.cpus().length} CPUs, load average at start ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}.`,
  );
  out.push('');
  out.push(
    'Columns: **prompt** = tokens in the prompt llama-server evaluated (prefilled + cached); **new** = prompt minus the previous turn of the same ' +
      'conversation (its new messages); **prefilled** = delta of `llamacpp:prompt_tokens_total` (tokens actually computed); **cached** = share of the ' +
      'prompt served from the KV cache (`prompt_tokens_cached_total` delta / prompt); **start** = time to `message_start`; **TTFT** = time to the first ' +
      '`content_block_delta`; **total** = time to the end of the stream; **prefill** = llama-server\'s own prompt time (`prompt_seconds_total` delta); **out** = tokens generated ' +
      '(random text: its length varies, and so does **total**). Times in ms from sending the request. Targets: a follow-up may prefill its new ' +
      'messages + 1% of its prompt; a new session\'s first turn must find >= 95% of the system+tools prefix cached; the main turn after the subagent ' +
      'must find >= 95% of its prompt cached.',
  );
  out.push('');
  out.push(
    `Requests: ${plan.map((p) => `${p.label} (${p.kind})`).join(', ')}. A = session A, B = session B (a second \`claude -p\` in the same project), ` +
      '`-sub` = the Agent tool\'s subagent (sent with `x-claude-code-agent-id`), interleaved between two main-loop turns.',
  );
  out.push('', '### The recording', '');
  const billing = (b) => (Array.isArray(b.system) ? b.system : []).map((x) => x?.text ?? '').find((x) => x.startsWith('x-anthropic-billing-header:')) ?? '';
  out.push(
    mdTable(
      ['request', 'kind', 'session id', 'agent id', 'messages', 'tools', 'body', 'billing-header block'],
      plan.map((p) => [
        p.label,
        p.kind,
        p.sid.slice(0, 8),
        p.agent ?? '',
        p.rec.body.messages?.length ?? 0,
        p.rec.body.tools?.length ?? 0,
        `${(JSON.stringify(p.rec.body).length / 1024).toFixed(1)} KB`,
        billing(p.rec.body).replace('x-anthropic-billing-header: ', '').trim(),
      ]),
      ['l', 'l', 'l', 'l', 'r', 'r', 'r', 'l'],
    ),
  );
  const hdrs = [...new Set(plan.flatMap((p) => Object.keys(p.rec.headers)))].filter((h) => /^(x-claude|x-app|anthropic-|user-agent)/.test(h));
  const other = recording.requests.length - plan.length;
  out.push(
    '',
    `${recording.requests.length} requests recorded (${other} not /v1/messages); Anthropic/Claude headers seen: ${hdrs.map((h) => `\`${h}\``).join(', ')}. ` +
      `\`user-agent\`: ${plan[0]?.rec.headers['user-agent'] ?? '?'}.`,
  );
  if (prefix) out.push('', `System+tools prefix (session B's system without the billing-header block, its ${prefix.tools} tools; /apply-template + /tokenize): **${prefix.tokens} tokens**.`);

  const targetRows = [];
  for (const name of ['anyclaude', 'warm', 'llama', 'ccr']) {
    const res = results[name];
    if (!res) continue;
    out.push('', `## ${paths[name].title}`, '');
    if (res.failed) {
      out.push(`did not run: ${res.failed}`);
      continue;
    }
    if (res.before?.prefilled > 0 || res.note)
      out.push(
        `Before the first request: ${res.before?.prefilled ?? 0} tokens prefilled in ${sec(res.before?.ms ?? 0)} by the front itself` +
          (res.note ? ` (${res.note})` : '') +
          '.',
        '',
      );
    out.push(
      mdTable(
        ['request', 'kind', 'prompt', 'new', 'prefilled', 'cached', 'slot', 'prefill', 'start', 'TTFT', 'total', 'out', 'note'],
        res.rows.map((r) => [
          r.label,
          r.kind,
          r.prompt,
          r.newTokens ?? '',
          r.prefilled,
          pct(r.share),
          r.slot ?? '?',
          ms(r.prefillMs),
          ms(r.startMs),
          r.ttftMs === null ? 'none' : ms(r.ttftMs),
          ms(r.totalMs),
          `${r.outTokens} ${r.stopReason ?? ''}`.trim(),
          r.error ? r.error.slice(0, 80) : '',
        ]),
        ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'l'],
      ),
    );
    if (name === 'ccr' && results.anyclaude?.rows?.length) {
      const a1 = results.anyclaude.rows[0];
      const c1 = res.rows[0];
      if (a1 && c1 && c1.prompt < 0.95 * a1.prompt)
        out.push(
          '',
          `${c1.label} is ${a1.prompt - c1.prompt} tokens smaller here than through anyclaude: claude-code-router 2.0.0 leaves out the ` +
            '`role: "system"` message Claude Code puts in `messages` (its ~9 KB environment block: working directory, platform, ...), ' +
            'as a capture of its upstream request shows.',
        );
    }
    const sum = (f) => res.rows.reduce((a, r) => a + f(r), 0);
    out.push(
      '',
      `All ${res.rows.length} requests: ${sum((r) => r.prompt)} prompt tokens, ${sum((r) => r.prefilled)} prefilled ` +
        `(${pct(1 - sum((r) => r.prefilled) / Math.max(1, sum((r) => r.prompt)))} from cache), ${sec(sum((r) => r.totalMs))} in total.`,
    );

    // targets
    const fol = res.rows.filter((r) => r.followUp && !r.error);
    const bad = fol.filter((r) => r.prefilled > r.newTokens + FOLLOWUP_SLACK * r.prompt);
    const t1 = {
      path: name,
      target: 'every follow-up prefills <= its new messages + 1% of its prompt',
      measured: `${fol.length - bad.length}/${fol.length} follow-ups` + (bad.length ? `; over: ${bad.map((r) => `${r.label} ${r.prefilled} > ${r.newTokens}`).join(', ')}` : ''),
      pass: fol.length > 0 && bad.length === 0 && res.rows.every((r) => !r.error),
    };
    const b1 = res.rows.find((r) => r.label === firstB);
    const t2 = {
      path: name,
      target: `${firstB ?? 'B1'} (new session) reuses >= 95% of the ${prefix?.tokens ?? '?'}-token system+tools prefix`,
      measured: b1 && prefix ? `${b1.cached} cached = ${pct(b1.cached / prefix.tokens)} of the prefix` : 'n/a',
      pass: !!(b1 && prefix && !b1.error && b1.cached >= PREFIX_TARGET * prefix.tokens),
    };
    const ai = res.rows.find((r) => r.label === afterInterleave);
    const t3 = {
      path: name,
      target: `${afterInterleave ?? '?'} (main turn after the subagent) reuses >= 95% of its prompt`,
      measured: ai ? `${pct(ai.share)} (${ai.cached}/${ai.prompt})` : 'n/a',
      pass: !!(ai && !ai.error && ai.share >= AFTER_INTERLEAVE_TARGET),
    };
    if (name === 'warm') targetRows.push({ ...t2, path: 'anyclaude restarted' });
    else targetRows.push(t1, t2, t3);
  }

  // the with/without-cache table, anyclaude, session A's first five turns
  const withRows = results.anyclaude?.rows?.filter((r) => firstFive.includes(r.label)) ?? [];
  if (nocache && withRows.length) {
    out.push('', '## With and without the prompt cache (anyclaude, session A turns 1-5)', '');
    const first = (rows, f) => f(rows[0]);
    const mean = (rows, f) => (rows.length > 1 ? rows.slice(1).reduce((a, r) => a + f(r), 0) / (rows.length - 1) : null);
    const total = (rows, f) => rows.reduce((a, r) => a + f(r), 0);
    const ttft = (r) => r.ttftMs ?? r.totalMs;
    const whole = (r) => r.totalMs;
    const pre = (r) => r.prefilled;
    const row = (label, rows, f, fmt) => [label, fmt(first(rows, f)), fmt(mean(rows, f)), fmt(total(rows, f))];
    const tok = (x) => (x === null ? 'n/a' : String(Math.round(x)));
    const ratio = (f) => {
      const a = mean(withRows, f);
      const b = mean(nocache.rows, f);
      return a && b ? `${(b / a).toFixed(1)}x` : 'n/a';
    };
    out.push(
      mdTable(
        ['', 'first query', 'follow-ups (mean)', '5-query session'],
        [
          row('time to first token, with cache', withRows, ttft, sec),
          row('time to first token, without cache', nocache.rows, ttft, sec),
          row('whole request, with cache', withRows, whole, sec),
          row('whole request, without cache', nocache.rows, whole, sec),
          row('tokens prefilled, with cache', withRows, pre, tok),
          row('tokens prefilled, without cache', nocache.rows, pre, tok),
        ],
        ['l', 'r', 'r', 'r'],
      ),
    );
    out.push(
      '',
      `Follow-ups: first token ${ratio(ttft)} sooner, whole request ${ratio(whole)} faster with the cache. With cache = the anyclaude path above ` +
        '(`--mode llamacpp`, llama-server\'s default prompt cache). Without cache = the same requests through `anyclaude serve --mode openai` ' +
        '(no `cache_prompt` field, so the server default applies) to a fresh llama-server started with `--no-cache-prompt --cache-ram 0`; ' +
        `tokens it served from cache: ${nocache.rows.reduce((a, r) => a + r.cached, 0)}. Whole-request times include generating random text ` +
        '(the **out** column), which varies with the machine\'s load.',
    );
  }

  out.push('', '## Targets', '');
  out.push(
    mdTable(
      ['path', 'target', 'measured', 'result'],
      targetRows.map((t) => [t.path, t.target, t.measured, t.pass ? 'PASS' : 'FAIL']),
      ['l', 'l', 'l', 'l'],
    ),
  );
  out.push('', `Run time ${sec(Date.now() - started)}; load average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}.`);

  const text = out.join('\n') + '\n';
  console.log('\n' + text);
  writeResults(ROOT, 'cache', date, text, log);
}

runBench(main, cleanup, log);
