// The gateway in front of a real llama-server (small random-weight model, see
// tests/real/README.md), driven by the official Anthropic SDK.
//   node --test tests/real/          (from the repo root; needs build/anyclaude)
// ANYCLAUDE_BIN overrides the gateway binary. First run builds llama-server (~10 min).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { GATEWAY, startGateway, startLlama, stopLlama } from '../lib/llama.mjs';

const MODEL = 'claude-test-model';

let llamaPort = 0;
let gw = null; // startGateway()
let stateDir = null;
let client = null;

// Last-resort cleanup if the runner dies between before() and after().
process.on('exit', () => {
  if (gw && gw.child.exitCode === null) gw.child.kill('SIGKILL');
  if (llamaPort) stopLlama(llamaPort);
});

before(async () => {
  assert.ok(existsSync(GATEWAY), `${GATEWAY} missing: run make first`);
  const llama = await startLlama();
  llamaPort = llama.port;
  // a private state directory: warm-start files from other runs stay out
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'anyclaude-real-state-'));
  gw = await startGateway(['--mode', 'llamacpp', '--backend', `${llama.url}/v1`], { ...process.env, XDG_STATE_HOME: stateDir });
  client = new Anthropic({ baseURL: gw.base, apiKey: 'test', maxRetries: 0, timeout: 120000 });
}, { timeout: 30 * 60 * 1000 });

after(async () => {
  await gw?.stop();
  if (llamaPort) stopLlama(llamaPort);
  llamaPort = 0;
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});


const STOP_REASONS = ['end_turn', 'max_tokens', 'stop_sequence', 'tool_use', 'pause_turn', 'refusal'];

function checkMessage(m) {
  assert.equal(m.type, 'message');
  assert.equal(m.role, 'assistant');
  assert.equal(typeof m.id, 'string');
  assert.ok(Array.isArray(m.content), 'content is an array');
  for (const b of m.content) {
    assert.ok(['text', 'tool_use', 'thinking'].includes(b.type), `block type ${b.type}`);
    if (b.type === 'text') assert.equal(typeof b.text, 'string');
    if (b.type === 'tool_use') {
      assert.equal(typeof b.id, 'string');
      assert.equal(typeof b.name, 'string');
      assert.equal(typeof b.input, 'object');
    }
  }
  assert.ok(STOP_REASONS.includes(m.stop_reason), `stop_reason ${m.stop_reason}`);
  assert.equal(typeof m.usage, 'object');
  assert.ok(m.usage.input_tokens > 0, `usage.input_tokens ${m.usage.input_tokens}`);
  assert.ok(m.usage.output_tokens >= 0, `usage.output_tokens ${m.usage.output_tokens}`);
}

test('non-streamed messages.create returns a valid message', async () => {
  const m = await client.messages.create({
    model: MODEL, max_tokens: 64,
    messages: [{ role: 'user', content: 'Say hello.' }],
  });
  checkMessage(m);
});

test('messages.stream() yields a valid event sequence and final message', async () => {
  const stream = client.messages.stream({
    model: MODEL, max_tokens: 64,
    messages: [{ role: 'user', content: 'Count to three.' }],
  });
  const types = [];
  for await (const ev of stream) types.push(ev.type);
  const m = await stream.finalMessage();
  checkMessage(m);
  assert.equal(types[0], 'message_start');
  assert.equal(types.at(-1), 'message_stop');
  assert.ok(types.includes('message_delta'), `events: ${types.join(',')}`);
});

test('a repeated ~10 KB system prompt is served from the prefix cache', async (t) => {
  let system = '';
  for (let i = 0; system.length < 10240; i++) {
    system += `Rule ${i}: when editing file src/module_${i}.c keep functions short, ` +
      `check every return value, and never log secrets (${(i * 7919) % 1000}).\n`;
  }
  const req = {
    model: MODEL, max_tokens: 16,
    system: [{ type: 'text', text: system, cache_control: { type: 'ephemeral' } }],
    messages: [{ role: 'user', content: 'Which rule covers module 42?' }],
  };
  const first = await client.messages.create(req);
  checkMessage(first);
  const second = await client.messages.create(req);
  checkMessage(second);
  const u = second.usage;
  t.diagnostic(`first ${JSON.stringify(first.usage)} second ${JSON.stringify(u)}`);
  assert.ok(u.cache_read_input_tokens > 0,
    `second request: cache_read_input_tokens ${u.cache_read_input_tokens} (usage ${JSON.stringify(u)})`);
  // ~10 KB of English is > 1500 tokens; nearly all of it must be cached.
  assert.ok(u.cache_read_input_tokens > 1500, `usage ${JSON.stringify(u)}`);
});

test('a request with tools gets a valid answer', async () => {
  const m = await client.messages.create({
    model: MODEL, max_tokens: 64,
    tools: [{
      name: 'get_weather',
      description: 'Current weather for a city.',
      input_schema: {
        type: 'object',
        properties: { city: { type: 'string' }, days: { type: 'integer' } },
        required: ['city'],
      },
    }],
    messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
  });
  checkMessage(m);
  if (m.stop_reason === 'tool_use') {
    const uses = m.content.filter((b) => b.type === 'tool_use');
    assert.ok(uses.length > 0, 'stop_reason tool_use without a tool_use block');
    for (const b of uses) assert.equal(b.name, 'get_weather');
  }
});

// llama-server without --mmproj refuses any image ("image input is not
// supported"); its /props says so (modalities.vision false), so anyclaude
// sends the placeholder line instead, in the user turn and in a tool result
// (Claude Code's Read of a PNG), and the conversation goes on.
test('images to a llama-server without vision become a placeholder, not an error', async () => {
  const png = {
    type: 'image',
    source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==' },
  };
  const tools = [{ name: 'Read', description: 'Read a file.', input_schema: { type: 'object', properties: { file_path: { type: 'string' } }, required: ['file_path'] } }];
  checkMessage(await client.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, png] }] }));
  checkMessage(
    await client.messages.create({
      model: MODEL,
      max_tokens: 8,
      tools,
      messages: [
        { role: 'user', content: 'Describe logo.png' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'Read', input: { file_path: 'logo.png' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [png] }] },
      ],
    }),
  );
});

function bigSystem(tag, kb) {
  let s = '';
  for (let i = 0; s.length < kb * 1024; i++) {
    s += `${tag} note ${i}: the parser in src/part_${i}.c must stay bounded; ` +
      `measure before optimising (${(i * 104729) % 997}).\n`;
  }
  return s;
}

test('count_tokens uses llama.cpp\'s own template and tokenizer: it equals the prompt the backend counts', async () => {
  const req = {
    model: MODEL,
    system: bigSystem('count', 4),
    messages: [{ role: 'user', content: 'Summarise the notes.' }],
  };
  const counted = await client.messages.countTokens(req);
  const m = await client.messages.create({ ...req, max_tokens: 8 });
  const prompt = m.usage.input_tokens + (m.usage.cache_read_input_tokens ?? 0);
  assert.equal(counted.input_tokens, prompt, `count_tokens ${counted.input_tokens}, backend prompt ${prompt}`);
});

test('message_start carries the backend tokenizer\'s count on a cold prefill', async () => {
  // a prompt nobody sent before: its prefill takes far longer than the
  // tokenizer's answer, which the gateway asks for alongside the request
  const stream = client.messages.stream({
    model: MODEL, max_tokens: 8,
    system: bigSystem(`cold-${process.pid}-${Date.now()}`, 24),
    messages: [{ role: 'user', content: 'Which part is first?' }],
  });
  let start;
  // copy: the SDK keeps accumulating into the message_start snapshot
  for await (const ev of stream) if (ev.type === 'message_start') start = { ...ev.message.usage };
  const m = await stream.finalMessage();
  const prompt = m.usage.input_tokens + (m.usage.cache_read_input_tokens ?? 0);
  assert.equal(start.input_tokens, prompt, `message_start ${start.input_tokens}, final prompt ${prompt}`);
});

test('the status line endpoint: the real window, and the context llama-server counted (within 2%)', async (t) => {
  let system = '';
  for (let i = 0; system.length < 8192; i++) system += `Status rule ${i}: keep the prompt stable (${(i * 31) % 97}).\n`;
  const req = { model: MODEL, max_tokens: 16, system, messages: [{ role: 'user', content: 'How many rules are there?' }] };
  const sid = '0f0e0d0c-0000-4000-8000-00000000beef';
  const res = await fetch(`${gw.base}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'test', 'X-Claude-Code-Session-Id': sid },
    body: JSON.stringify(req),
  });
  assert.equal(res.status, 200);
  const m = await res.json();
  const st = await (await fetch(`${gw.base}/anyclaude/status?session=${sid}`, { headers: { 'x-api-key': 'test' } })).json();
  t.diagnostic(`status ${JSON.stringify(st)}; usage ${JSON.stringify(m.usage)}`);
  assert.equal(st.window, 32768, 'llama.sh runs -c 65536 --parallel 2: 32768 per slot, from /props');
  assert.match(st.model, /^random-llama-/);
  // llama-server's own count of this prompt: its template and tokenizer
  const ct = await client.messages.countTokens({ model: MODEL, system, messages: req.messages });
  const own = ct.input_tokens + m.usage.output_tokens;
  const ctx = st.last_turn.context_tokens;
  assert.ok(Math.abs(ctx - own) <= 0.02 * own, `status context ${ctx} vs llama-server's ${own}`);
  assert.equal(st.last_turn.prompt_tokens, m.usage.input_tokens + (m.usage.cache_read_input_tokens ?? 0));
});
