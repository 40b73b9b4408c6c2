// `--mode anthropic` in front of a real llama-server's own /v1/messages (small
// random-weight model, see tests/real/README.md), driven by the official SDK.
//   node --test --test-concurrency=1 tests/real/   (from the repo root; needs build/anyclaude)
//
// Two llama-servers, same configuration (1 slot each, --metrics):
//   gw     behind `anyclaude serve --mode anthropic --backend http://127.0.0.1:PORT --max-tokens 5`
//   direct the SDK talks to its /v1/messages itself (no gateway)
// Claude Code puts a per-session `x-anthropic-billing-header: cc_version=...; cch=...;`
// block first in the system prompt. llama-server does not drop it, so a new
// session's first turn shares only the ~20 tokens before that value with the
// previous session; the gateway removes the block, so the same turn finds the
// whole system prompt and tools in the cache. Cached tokens are read from the
// answer's usage (llama-server reports input_tokens = tokens prefilled and
// cache_read_input_tokens = tokens reused) and cross-checked against
// llama-server's /metrics counters; the max_tokens llama-server received is
// read from its /slots (params.n_predict). Assertions are on token counts only.
// ANYCLAUDE_BIN overrides the gateway binary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { GATEWAY, sleep, startGateway, startLlama, stopLlama } from '../lib/llama.mjs';
import { llamaCounters } from '../lib/metrics.mjs';

const MODEL = 'claude-test-model';
const CLAMP = 5; // the gateway's --max-tokens

const runDir = mkdtempSync(path.join(os.tmpdir(), 'anyclaude-real-anthropic-'));
const LLAMA_ENV = { ...process.env, LLAMA_RUN_DIR: runDir, LLAMA_PARALLEL: '1' };
const llamaPorts = [];
let gwLlama = ''; // base URL of the llama-server behind the gateway
let directLlama = ''; // base URL of the one the SDK talks to directly
let gw = null; // startGateway()
let viaGateway = null; // SDK clients
let direct = null;

async function startLlamaHere() {
  const { port, url } = await startLlama(['--metrics'], LLAMA_ENV);
  llamaPorts.push(port);
  return url;
}

function stopLlamas() {
  while (llamaPorts.length) stopLlama(llamaPorts.pop(), LLAMA_ENV);
}

process.on('exit', () => {
  if (gw && gw.child.exitCode === null) gw.child.kill('SIGKILL');
  stopLlamas();
  rmSync(runDir, { recursive: true, force: true });
});

before(async () => {
  assert.ok(existsSync(GATEWAY), `${GATEWAY} missing: run make first`);
  gwLlama = await startLlamaHere();
  directLlama = await startLlamaHere();

  const env = { ...process.env, XDG_STATE_HOME: path.join(runDir, 'state'), XDG_CONFIG_HOME: path.join(runDir, 'config') };
  for (const k of Object.keys(env)) if (/^(ANYCLAUDE_|ANTHROPIC_)/.test(k)) delete env[k];
  gw = await startGateway(['--mode', 'anthropic', '--backend', gwLlama, '--max-tokens', String(CLAMP), '--debug', '1'], env);
  // Claude Code sends its OAuth token / key; the gateway must not forward it.
  viaGateway = new Anthropic({ baseURL: gw.base, apiKey: 'client-key-never-forwarded', maxRetries: 0, timeout: 180000 });
  direct = new Anthropic({ baseURL: directLlama, apiKey: 'unused', maxRetries: 0, timeout: 180000 });
}, { timeout: 30 * 60 * 1000 });

after(async () => {
  await gw?.stop();
  stopLlamas();
});

// --- llama-server's counters ----------------------------------------------------

async function metrics(base) {
  const r = await fetch(`${base}/metrics`);
  assert.equal(r.status, 200, `GET ${base}/metrics`);
  return llamaCounters(await r.text());
}

async function idleMetrics(base) {
  for (let i = 0; i < 600; i++) {
    const m = await metrics(base);
    if (!m.requests_processing) return m;
    await sleep(50);
  }
  return metrics(base);
}

// Runs fn (one request); returns { result, prefilled, cached } from the counters around it.
async function counted(base, fn) {
  const m0 = await idleMetrics(base);
  const result = await fn();
  const m1 = await idleMetrics(base);
  return {
    result,
    prefilled: m1.prompt_tokens_total - m0.prompt_tokens_total,
    cached: m1.prompt_tokens_cached_total - m0.prompt_tokens_cached_total,
  };
}

async function slots(base) {
  const r = await fetch(`${base}/slots`);
  assert.equal(r.status, 200, `GET ${base}/slots`);
  return r.json();
}

// --- a Claude-Code-shaped request -----------------------------------------------

function bigSystem() {
  let s = '';
  for (let i = 0; s.length < 14 * 1024; i++) {
    s += `Guideline ${i}: before editing src/area_${i}/mod_${(i * 37) % 101}.c read it with the Read tool, ` +
      `keep the change minimal, run the tests with Bash, and report what changed (${(i * 7919) % 1009}).\n`;
  }
  return s;
}
const SYSTEM_TEXT = bigSystem();

const TOOLS = [
  {
    name: 'Bash',
    description: 'Executes a given bash command and returns its output.',
    input_schema: {
      type: 'object',
      properties: {
        command: { type: 'string', description: 'The command to execute' },
        timeout: { type: 'number', description: 'Optional timeout in milliseconds' },
        description: { type: 'string', description: 'What this command does in 5-10 words' },
      },
      required: ['command'],
      additionalProperties: false,
    },
  },
  {
    name: 'Read',
    description: 'Reads a file from the local filesystem.',
    input_schema: {
      type: 'object',
      properties: {
        file_path: { type: 'string', description: 'The absolute path to the file to read' },
        offset: { type: 'number' },
        limit: { type: 'number' },
      },
      required: ['file_path'],
      additionalProperties: false,
    },
  },
  {
    name: 'Write',
    description: 'Writes a file to the local filesystem.',
    input_schema: {
      type: 'object',
      properties: { file_path: { type: 'string' }, content: { type: 'string' } },
      required: ['file_path', 'content'],
      additionalProperties: false,
    },
  },
];

const SESSIONS = {
  A: { id: '11111111-aaaa-4aaa-8aaa-111111111111', billing: 'cc_version=2.1.328.abc; cc_entrypoint=cli; cch=11111;', ask: 'Create notes.txt with three lines and show it.' },
  B: { id: '22222222-bbbb-4bbb-8bbb-222222222222', billing: 'cc_version=2.1.328.def; cc_entrypoint=cli; cch=22222;', ask: 'List the C files under src and count their lines.' },
};

function claudeRequest(session, { maxTokens = 32000, history = [] } = {}) {
  const s = SESSIONS[session];
  return {
    model: MODEL,
    max_tokens: maxTokens,
    system: [
      { type: 'text', text: `x-anthropic-billing-header: ${s.billing}` },
      { type: 'text', text: "You are Claude Code, Anthropic's official CLI for Claude.", cache_control: { type: 'ephemeral' } },
      { type: 'text', text: SYSTEM_TEXT, cache_control: { type: 'ephemeral' } },
    ],
    tools: TOOLS,
    metadata: { user_id: `user_test_account__session_${s.id}` },
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: '<system-reminder>\nThe working directory is /tmp/project.\n</system-reminder>' },
          { type: 'text', text: s.ask, cache_control: { type: 'ephemeral' } },
        ],
      },
      ...history,
    ],
  };
}

const claudeHeaders = (session) => ({
  headers: {
    'X-Claude-Code-Session-Id': SESSIONS[session].id,
    'x-app': 'cli',
    'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14',
  },
});

const prompt = (u) => u.input_tokens + (u.cache_read_input_tokens ?? 0);
const share = (u) => (u.cache_read_input_tokens ?? 0) / prompt(u);

// --- tests ----------------------------------------------------------------------

const seen = {}; // results shared between tests

test('anthropic mode: a second session\'s first turn is served from llama-server\'s cache', async (t) => {
  const a = await counted(gwLlama, () => viaGateway.messages.create(claudeRequest('A'), claudeHeaders('A')).withResponse());
  const b = await counted(gwLlama, () => viaGateway.messages.create(claudeRequest('B'), claudeHeaders('B')).withResponse());
  const ua = a.result.data.usage;
  const ub = b.result.data.usage;
  t.diagnostic(`via gateway: A1 usage ${JSON.stringify(ua)} (counters: prefilled ${a.prefilled} cached ${a.cached}); ` +
    `B1 usage ${JSON.stringify(ub)} (counters: prefilled ${b.prefilled} cached ${b.cached}), B1 cached share ${(100 * share(ub)).toFixed(1)}%`);
  seen.gw = { a: a.result.data, b: b.result.data, ua, ub };
  for (const r of [a, b]) {
    assert.equal(r.result.response.status, 200);
    assert.equal(r.result.data.type, 'message');
  }
  assert.ok(prompt(ua) > 2500, `A1 is a big prompt: ${JSON.stringify(ua)}`);
  // the answer's usage is llama-server's own: it matches the server's counters
  assert.equal(ub.cache_read_input_tokens, b.cached, `B1 usage ${JSON.stringify(ub)} vs counters cached ${b.cached}`);
  assert.equal(ub.input_tokens, b.prefilled, `B1 usage ${JSON.stringify(ub)} vs counters prefilled ${b.prefilled}`);
  assert.ok(share(ub) > 0.8, `B1 (new session, new billing header) cached share ${(100 * share(ub)).toFixed(1)}%: usage ${JSON.stringify(ub)}\n${gw.log().slice(-3000)}`);
});

test('without the gateway the same second session misses: llama-server keeps the billing header', async (t) => {
  const a = await counted(directLlama, () => direct.messages.create(claudeRequest('A'), claudeHeaders('A')));
  const b = await counted(directLlama, () => direct.messages.create(claudeRequest('B'), claudeHeaders('B')));
  const ua = a.result.usage;
  const ub = b.result.usage;
  t.diagnostic(`direct: A1 usage ${JSON.stringify(ua)} (counters: prefilled ${a.prefilled} cached ${a.cached}); ` +
    `B1 usage ${JSON.stringify(ub)} (counters: prefilled ${b.prefilled} cached ${b.cached}), B1 cached share ${(100 * share(ub)).toFixed(1)}%`);
  assert.equal(ub.cache_read_input_tokens ?? 0, b.cached);
  assert.ok(share(ub) < 0.05, `direct B1 cached share ${(100 * share(ub)).toFixed(1)}%: usage ${JSON.stringify(ub)}`);
  // the cached part is only what precedes the billing header's value
  assert.ok((ub.cache_read_input_tokens ?? 0) < 64, `direct B1 usage ${JSON.stringify(ub)}`);
  if (seen.gw) {
    // the gateway sent a smaller prompt: the billing-header block was removed
    t.diagnostic(`A1 prompt: direct ${prompt(ua)} tokens, via gateway ${prompt(seen.gw.ua)} tokens`);
    assert.ok(prompt(seen.gw.ua) < prompt(ua), `via gateway ${prompt(seen.gw.ua)} tokens, direct ${prompt(ua)}`);
    assert.ok(prompt(ua) - prompt(seen.gw.ua) < 64, `via gateway ${prompt(seen.gw.ua)} tokens, direct ${prompt(ua)}`);
  }
});

test('anthropic mode: every answer names its backend (anyclaude-backend header)', async (t) => {
  assert.ok(seen.gw, 'needs the first test');
  const r = await viaGateway.messages.create(claudeRequest('A', { maxTokens: 8 }), claudeHeaders('A')).withResponse();
  const name = r.response.headers.get('anyclaude-backend');
  t.diagnostic(`anyclaude-backend: ${name}`);
  assert.ok(name && name.length > 0, `anyclaude-backend header: ${name}; headers ${JSON.stringify([...r.response.headers])}`);
});

test('anthropic mode: streaming passes through, the final message has usage, a follow-up hits the cache', async (t) => {
  assert.ok(seen.gw, 'needs the first test');
  const answerA = seen.gw.a.content.filter((b) => b.type === 'text' || b.type === 'tool_use');
  const history = [
    { role: 'assistant', content: answerA.length ? answerA : [{ type: 'text', text: 'OK.' }] },
    { role: 'user', content: [{ type: 'text', text: 'Now count its lines.' }] },
  ];
  // answers with tool_use need a tool_result: keep the follow-up valid
  if (answerA.some((b) => b.type === 'tool_use')) {
    history[1].content = [
      ...answerA.filter((b) => b.type === 'tool_use').map((b) => ({ type: 'tool_result', tool_use_id: b.id, content: 'done' })),
      { type: 'text', text: 'Now count its lines.' },
    ];
  }
  const { result: r } = await counted(gwLlama, async () => {
    const stream = viaGateway.messages.stream(claudeRequest('A', { history }), claudeHeaders('A'));
    const types = [];
    let start;
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'message_start') start = { ...ev.message.usage };
    }
    return { types, start, final: await stream.finalMessage() };
  });
  const u = r.final.usage;
  t.diagnostic(`events ${r.types.join(',')}; message_start usage ${JSON.stringify(r.start)}; final usage ${JSON.stringify(u)}`);
  assert.equal(r.types[0], 'message_start');
  assert.equal(r.types.at(-1), 'message_stop');
  assert.ok(r.types.includes('message_delta'), `events ${r.types.join(',')}`);
  assert.ok(u.input_tokens >= 1, `final usage ${JSON.stringify(u)}`);
  assert.ok(Number.isInteger(u.output_tokens) && u.output_tokens <= CLAMP, `final usage ${JSON.stringify(u)}`);
  assert.ok(share(u) > 0.9, `follow-up cached share ${(100 * share(u)).toFixed(1)}%: ${JSON.stringify(u)}`);
});

test(`anthropic mode: max_tokens above --max-tokens ${CLAMP} is clamped, below it is kept`, async (t) => {
  const ask = async (maxTokens) => {
    const before = await slots(gwLlama);
    const m = await viaGateway.messages.create(claudeRequest('B', { maxTokens }), claudeHeaders('B'));
    const afterS = await slots(gwLlama);
    const s = afterS.find((x) => x.id_task !== before.find((y) => y.id === x.id)?.id_task);
    assert.ok(s, `no slot took a new task: ${JSON.stringify(afterS.map((x) => [x.id, x.id_task]))}`);
    return { m, nPredict: s.params.n_predict };
  };
  const big = await ask(100000);
  t.diagnostic(`max_tokens 100000 -> llama-server n_predict ${big.nPredict}, stop_reason ${big.m.stop_reason}, usage ${JSON.stringify(big.m.usage)}`);
  assert.equal(big.nPredict, CLAMP);
  assert.ok(big.m.usage.output_tokens <= CLAMP, JSON.stringify(big.m.usage));
  assert.ok(['end_turn', 'max_tokens', 'tool_use'].includes(big.m.stop_reason), big.m.stop_reason);
  const small = await ask(3);
  t.diagnostic(`max_tokens 3 -> llama-server n_predict ${small.nPredict}, stop_reason ${small.m.stop_reason}`);
  assert.equal(small.nPredict, 3);
  assert.ok(small.m.usage.output_tokens <= 3, JSON.stringify(small.m.usage));
});
