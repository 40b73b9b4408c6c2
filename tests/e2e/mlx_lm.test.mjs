// e2e: the real Claude Code through `anyclaude --mode mlx-lm` against an
// emulator of mlx_lm.server 0.32.0 (mlx_lm_server.mjs: HTTP/1.0 streams,
// keepalive comments, delta.reasoning, server-side Qwen3-Coder tool-call
// parsing, the LRU prompt cache looked up when a request is admitted,
// text-only content, any other model name taken for a repo to download).
//
//   1. One session over four `-p` turns (--continue): Write then Edit a file;
//      Read a PNG (Claude Code puts the image in the tool result: the
//      text-only server must get a placeholder, never a 404) and answer; a
//      plain follow-up question is still answered. Then a new session.
//      Checked: files written and edited, every request answered 200, no
//      "model" field sent, the reasoning never printed as text, follow-ups
//      >= 99% served from the prompt cache, and a new session's first turn
//      >= 97% (a TODO while the environment block is still rendered after
//      the user's words: the rendering-order work of the session-cache issue).
//   2. A wrong --model is refused at start with the loaded model's name; the
//      emulator gets no request for another model and keeps its model.
//      MLX_LM_MODEL=current-model means the loaded model (no "model" sent).
//   3. Warm start: the first turn's time to first token on a freshly started
//      server, with the warm file and without (same run, side by side).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { startMlxLmServer, toolCallText } from '../lib/mlx_lm_server.mjs';
import { BIN, CLAUDE, makeSandbox, missingPrereq, explainFailure, e2eScope } from '../lib/claude_code.mjs';

const { children, cleanups, sandbox } = e2eScope();

const MODEL = 'mlx-community/Qwen3-Coder-30B-A3B-Instruct-4bit';
const PONDER = 'PONDER-7c1f: let me think about which tool fits';
const TASK_A = 'TASK-A: create notes.txt containing "alpha", then change alpha to beta with Edit.';
const TASK_B = 'TASK-B: what does logo.png show?';
const TASK_C = 'TASK-C: and how big is that file?';
const TASK_D = 'TASK-D: say hi';
const DONE = { A: 'DONE-A notes.txt now says beta', B: 'DONE-B I could not see the image', C: 'DONE-C it is a small PNG', D: 'DONE-D hi' };

// --- reading what the emulator was sent ------------------------------------------------

const textOf = (c) => (typeof c === 'string' ? c : Array.isArray(c) ? c.map((p) => p?.text ?? '').join('') : '');

// The messages after the last user message carrying `marker`.
function since(body, marker) {
  const msgs = body.messages ?? [];
  let i = msgs.length - 1;
  while (i >= 0 && !(msgs[i].role === 'user' && textOf(msgs[i].content).includes(marker))) i--;
  return i < 0 ? null : msgs.slice(i + 1);
}
const toolsAfter = (after_) => after_.filter((m) => m.role === 'tool');

// The model: what it writes after its generation prompt ("<think>\n").
function script(work) {
  const say = (text) => `${PONDER}\n</think>\n\n${text}`;
  const call = (name, args) => `${PONDER}\n</think>\n\n${toolCallText(name, args)}`;
  return (body) => {
    const a = since(body, 'TASK-');
    if (!a) return say('OK.');
    const last = [...(body.messages ?? [])].reverse().find((m) => m.role === 'user' && textOf(m.content).includes('TASK-'));
    const lastText = textOf(last.content);
    const task = /TASK-([A-D])/.exec(lastText.slice(lastText.lastIndexOf('TASK-')))?.[1];
    const done = toolsAfter(a).length;
    const notes = path.join(work, 'notes.txt');
    if (task === 'A') {
      if (done === 0) return call('Write', { file_path: notes, content: 'alpha\n' });
      if (done === 1) return call('Edit', { file_path: notes, old_string: 'alpha', new_string: 'beta', replace_all: false });
      return say(DONE.A);
    }
    if (task === 'B') {
      if (done === 0) return call('Read', { file_path: path.join(work, 'logo.png') });
      return say(DONE.B);
    }
    if (task === 'C') return say(DONE.C);
    if (task === 'D') return say(DONE.D);
    return say('OK.');
  };
}

// A valid 8x8 PNG.
function png() {
  const crc = (buf) => {
    let c = ~0;
    for (const b of buf) {
      c ^= b;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    }
    return ~c >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(8, 0);
  ihdr.writeUInt32BE(8, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const rows = Buffer.alloc(8 * (1 + 8 * 3), 0x7f);
  for (let r = 0; r < 8; r++) rows[r * 25] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function claudeTurn(sb, mlx, prompt, { cont = false, extra = [], env = {} } = {}) {
  const args = ['--mode', 'mlx-lm', '--backend', mlx.url, '--claude', CLAUDE, '--debug', '1', ...extra];
  if (cont) args.push('--continue');
  args.push('-p', prompt, '--allowedTools', 'Write,Edit,Read', '--output-format', 'json');
  const before = mlx.requests.length;
  const r = await children.run(BIN, args, { cwd: sb.work, env: { ...sb.env, ...env }, timeoutMs: 150_000 });
  // the conversation's requests (a warm start's one-token prefill is not one)
  r.requests = mlx.requests.slice(before).filter((q) => q.body.max_tokens !== 1);
  r.warm = mlx.requests.slice(before).filter((q) => q.body.max_tokens === 1);
  let result = null;
  try {
    result = JSON.parse(r.stdout.trim().split('\n').at(-1));
  } catch {
    /* checked below */
  }
  r.result = result;
  return r;
}

const share = (q) => (q.prompt ? q.cached / q.prompt : 0);
const pct = (x) => `${(100 * x).toFixed(1)}%`;

test('mlx-lm: Write, Edit, a PNG Read and follow-ups through an mlx_lm.server emulator', { skip: missingPrereq() ?? false, timeout: 600_000 }, async (t) => {
  const sb = makeSandbox('mlx');
  cleanups.push(() => sb.cleanup());
  fs.writeFileSync(path.join(sb.work, 'logo.png'), png());
  const mlx = await startMlxLmServer({ model: MODEL, script: script(sb.work) });
  cleanups.push(() => mlx.close());
  const turns = [];
  const context = () =>
    [
      'emulator requests:',
      mlx.summary(),
      'emulator events:',
      mlx.events.slice(-40).join('\n'),
      ...turns.map((r, i) => `--- turn ${i + 1}: exit ${r.code} ---\nstdout: ${r.stdout.slice(-1500)}\nstderr: ${r.stderr.slice(-1500)}`),
      '--- anyclaude.log ---',
      sb.log().slice(-4000),
    ].join('\n');
  const newSession = await explainFailure(async () => {
    for (const [key, prompt, cont] of [
      ['A', TASK_A, false],
      ['B', TASK_B, true],
      ['C', TASK_C, true],
      ['D', TASK_D, false],
    ]) {
      const r = await claudeTurn(sb, mlx, prompt, { cont });
      turns.push(r);
      t.diagnostic(`turn ${key}: exit ${r.code} in ${r.ms} ms, ${r.requests.length} requests: ` + r.requests.map((q) => `${q.prompt} tokens ${pct(share(q))} cached`).join(', '));
      assert.equal(r.timedOut, false, `turn ${key} did not finish`);
      assert.equal(r.code, 0, `turn ${key}: anyclaude exited ${r.code}`);
      assert.ok(r.result && !r.result.is_error, `turn ${key}: claude reported an error: ${r.stdout.slice(-600)}`);
      assert.ok(String(r.result.result).includes(DONE[key]), `turn ${key}: answer ${JSON.stringify(r.result.result)} lacks ${DONE[key]}`);
      // thinking arrives as delta.reasoning and never shows as text
      assert.ok(!r.stdout.includes('PONDER-7c1f') && !r.stdout.includes('<think>'), `turn ${key}: the reasoning leaked into the answer`);
    }
    assert.equal(fs.readFileSync(path.join(sb.work, 'notes.txt'), 'utf8'), 'beta\n', 'Write then Edit did not leave "beta"');

    // Every request was answered; none carried a "model" (MLX-LM would try
    // to download it).
    for (const q of mlx.requests) {
      assert.equal(q.status, 200, `a request failed: ${q.error}`);
      assert.equal(q.model, 'default_model', `a request named model ${q.model}`);
    }
    // The PNG reached the text-only server as the placeholder, in the turn
    // that read it and in every later turn's history.
    const withPlaceholder = mlx.requests.filter((q) => JSON.stringify(q.body.messages).includes('An image was left out here'));
    const turnB = turns[1].requests;
    assert.ok(turnB.length >= 2, 'the Read turn took fewer than two requests');
    assert.ok(withPlaceholder.includes(turnB.at(-1)), 'the request after the Read lacks the placeholder');
    for (const q of turns[2].requests) assert.ok(withPlaceholder.includes(q), 'turn C lost the placeholder from its history');
    assert.ok(!mlx.requests.some((q) => JSON.stringify(q.body.messages).includes('image_url')), 'an image part reached the server');

    // Follow-ups: every request of a session after its first.
    const follow = [...turns[0].requests.slice(1), ...turns[1].requests, ...turns[2].requests];
    // What a follow-up cannot take from the cache is its new messages (the
    // model's last answer as the template renders it, and the tool result):
    // one to two hundred tokens here, about 1% of Claude Code's prompt.
    const worst = Math.min(...follow.map(share));
    const total = follow.reduce((a, q) => a + q.prompt, 0);
    const cached = follow.reduce((a, q) => a + q.cached, 0);
    t.diagnostic(`follow-ups: ${follow.length} requests, ${cached} of ${total} prompt tokens cached (${pct(cached / total)}), worst ${pct(worst)}`);
    assert.ok(cached / total >= 0.99, `follow-ups were only ${pct(cached / total)} cached`);
    assert.ok(worst >= 0.98, `a follow-up was only ${pct(worst)} cached`);

    // A new session's first turn.
    const first = turns[3].requests[0];
    const s = share(first);
    t.diagnostic(`new session's first turn: ${first.cached} of ${first.prompt} tokens cached (${pct(s)})`);
    // The environment block (Claude Code's role:"system" message) rendered
    // after the user's words puts per-session text before ~9k characters of
    // per-project text; the session-cache issue moves it first.
    const msgs = first.body.messages;
    const envIdx = msgs.findIndex((m) => textOf(m.content).includes('Working directory') || textOf(m.content).includes('working directory'));
    const userIdx = msgs.findIndex((m) => m.role === 'user' && textOf(m.content).includes(TASK_D));
    const envAfter = envIdx >= 0 && userIdx >= 0 && (envIdx > userIdx || textOf(msgs[envIdx].content).indexOf(TASK_D) >= 0 && textOf(msgs[envIdx].content).indexOf(TASK_D) < textOf(msgs[envIdx].content).search(/working directory/i));
    return { s, envAfter };
  }, context);
  const { s, envAfter } = newSession;
  if (s < 0.97 && envAfter) t.todo(`new session ${pct(s)} cached: the environment block is still rendered after the user's words`);
  assert.ok(s >= 0.97, `a new session's first turn was only ${pct(s)} cached`);
});

test('mlx-lm: a wrong --model is refused at start; current-model means the loaded one', { skip: missingPrereq() ?? false, timeout: 300_000 }, async (t) => {
  const sb = makeSandbox('mlxmodel');
  cleanups.push(() => sb.cleanup());
  const mlx = await startMlxLmServer({ model: MODEL, script: () => 'ok\n</think>\n\nDONE-M' });
  cleanups.push(() => mlx.close());
  let r;
  await explainFailure(async () => {
    for (const how of [['--model', 'claude-opus-5-5'], ['env', 'Qwen3-Coder']]) {
      const args = ['--mode', 'mlx-lm', '--backend', mlx.url, '--claude', CLAUDE];
      const env = { ...sb.env };
      if (how[0] === 'env') env.MLX_LM_MODEL = how[1];
      else args.push('--model', how[1]);
      args.push('-p', 'say hi', '--output-format', 'json');
      r = await children.run(BIN, args, { cwd: sb.work, env, timeoutMs: 60_000 });
      t.diagnostic(`${how.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
      assert.equal(r.code, 2, `anyclaude started with model ${how[1]}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `more than one line: ${r.stderr}`);
      assert.ok(lines[0].includes(`"${how[1]}"`) && lines[0].includes(MODEL), `the line names neither the model nor the loaded one: ${lines[0]}`);
    }
    assert.equal(mlx.requests.length, 0, 'the emulator got a chat request');
    assert.equal(mlx.loaded, MODEL, 'the emulator lost its model');
    // `serve` refuses the same way
    r = await children.run(BIN, ['serve', '--mode', 'mlx-lm', '--backend', mlx.url, '--model', 'nope', '--port', '0'], { env: sb.env, timeoutMs: 30_000 });
    assert.equal(r.code, 2, 'serve started with a wrong model');
    // the original tool's documented default
    r = await children.run(BIN, ['--mode', 'mlx-lm', '--backend', mlx.url, '--claude', CLAUDE, '-p', 'say hi', '--output-format', 'json'], {
      cwd: sb.work,
      env: { ...sb.env, MLX_LM_MODEL: 'current-model' },
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, `current-model: exit ${r.code}`);
    assert.ok(r.stdout.includes('DONE-M'), 'no answer');
    assert.ok(mlx.requests.length >= 1);
    for (const q of mlx.requests) assert.equal(q.model, 'default_model', `"model" ${q.model} was sent`);
    assert.equal(mlx.loaded, MODEL);
  }, () => `stderr: ${r?.stderr}\nemulator:\n${mlx.summary()}\n${mlx.events.join('\n')}`);
});

test('mlx-lm: first-turn time to first token with a warm file, side by side', { skip: missingPrereq() ?? false, timeout: 600_000 }, async (t) => {
  // A slower emulated prefill so the difference shows: 6000 tokens a second
  // (MLX_EMU_PREFILL_TPS=1500 for a laptop's speed, slower to run).
  const prefillTps = Number(process.env.MLX_EMU_PREFILL_TPS ?? 6000);
  const opts = { model: MODEL, prefillTps, decodeMs: 5, script: () => 'hmm\n</think>\n\nDONE-W' };
  const sb = makeSandbox('mlxwarm');
  cleanups.push(() => sb.cleanup());
  const ttft = {};
  const log = [];
  await explainFailure(async () => {
    // 1. a session that leaves the warm file behind
    let mlx = await startMlxLmServer(opts);
    let r = await claudeTurn(sb, mlx, 'say hi');
    await mlx.close();
    assert.equal(r.code, 0, 'the first session failed');
    const warmFiles = fs.readdirSync(path.join(sb.state, 'anyclaude')).filter((f) => f.startsWith('warm-'));
    assert.ok(warmFiles.length >= 1, 'no warm file was written');
    // 2. fresh servers on the same URL (the warm file is per backend URL):
    // warm start off, then on; a new session each time
    const port = mlx.port;
    for (const warm of ['off', 'on']) {
      mlx = await startMlxLmServer({ ...opts, port });
      r = await claudeTurn(sb, mlx, 'say hi again', { extra: ['--warm-start', warm] });
      await mlx.close();
      assert.equal(r.code, 0, `warm-start ${warm}: exit ${r.code}`);
      const main = mlx.requests.filter((q) => q.body.tools?.length);
      assert.ok(main.length >= 1, 'no main-loop request');
      // the first turn's request (the warm start's one-token prefill aside),
      // from its arrival at the server to its first token
      const turn = main.find((q) => q.body.max_tokens !== 1);
      const warmReq = main.find((q) => q.body.max_tokens === 1);
      ttft[warm] = turn.ttftMs;
      log.push(
        `warm-start ${warm}: ${warmReq ? `warm prefill arrived ${turn.t - warmReq.t} ms before the first turn; ` : ''}` +
          `first turn: ${turn.prompt} tokens, ${turn.cached} cached, ${turn.ttftMs} ms to first token`,
      );
    }
  }, () => log.join('\n') + '\n' + sb.log().slice(-3000));
  for (const l of log) t.diagnostic(l);
  // Never worse with the warm file (10% and 200 ms of timer noise allowed).
  // Today the first turn arrives while the warm prefill runs; mlx_lm.server
  // looks its cache up only when it admits a request, so both prefill from
  // zero: a TODO until warm start waits for (or cancels) that prefill.
  const worse = ttft.on > ttft.off * 1.1 + 200;
  if (worse) t.todo(`with the warm file the first turn took ${ttft.on} ms to its first token, without ${ttft.off} ms`);
  assert.ok(!worse, `warm file: ${ttft.on} ms vs ${ttft.off} ms without`);
});
