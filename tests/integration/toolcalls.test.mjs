// Tool calls that local models write as text (Qwen3-Coder XML, Hermes JSON),
// and native tool_calls with sloppy arguments, through the gateway in
// --mode llamacpp (tool recovery on by default) and with --tool-recovery off.
// The official SDK's final message must hold tool_use blocks whose inputs
// are typed by the tools' input_schema, streamed and whole alike.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { turn } from '../lib/openai_backend.mjs';
import { useGateway, basicRequest } from '../lib/gateway.mjs';

const on = useGateway({ mode: 'llamacpp' });
const off = useGateway({ mode: 'llamacpp', args: ['--tool-recovery', 'off'] });
// openai mode (vLLM, SGLang, Ollama) with default flags: recovery is on too
const oai = useGateway({ mode: 'openai', model: 'qwen3-coder' });

// The parts of Claude Code's tools that matter here: typed parameters.
const TOOLS = [
  {
    name: 'Read',
    description: 'Read a file',
    input_schema: {
      type: 'object',
      properties: { file_path: { type: 'string' }, offset: { type: 'integer' }, limit: { type: 'integer' } },
      required: ['file_path'],
    },
  },
  {
    name: 'Edit',
    description: 'Replace text in a file',
    input_schema: {
      type: 'object',
      properties: {
        file_path: { type: 'string' },
        old_string: { type: 'string' },
        new_string: { type: 'string' },
        replace_all: { type: 'boolean' },
      },
      required: ['file_path', 'old_string', 'new_string'],
    },
  },
  {
    name: 'Bash',
    description: 'Run a shell command',
    input_schema: {
      type: 'object',
      properties: { command: { type: 'string' }, timeout: { type: 'number' } },
      required: ['command'],
    },
  },
];

const USAGE = { prompt_tokens: 200, completion_tokens: 40 };

const QWEN3_CODER =
  'Let me do that.\n' +
  '<tool_call>\n<function=Read>\n<parameter=file_path>\n/src/app.py\n</parameter>\n' +
  '<parameter=offset>\n10\n</parameter>\n</function>\n</tool_call>\n' +
  '<tool_call>\n<function=Edit>\n<parameter=file_path>\n/src/app.py\n</parameter>\n' +
  '<parameter=old_string>\nif x < 3:\n</parameter>\n<parameter=new_string>\nif x <= 3:\n</parameter>\n' +
  '<parameter=replace_all>\ntrue\n</parameter>\n</function>\n</tool_call>\n' +
  '<tool_call>\n<function=Bash>\n<parameter=command>\npytest -q\n</parameter>\n' +
  '<parameter=timeout>\n30000\n</parameter>\n</function>\n</tool_call>';

const HERMES =
  "I'll read the config first.\n\n<tool_call>\n" +
  '{"name": "Read", "arguments": {"file_path": "/etc/app.conf", "limit": "20"}}\n</tool_call>';

// Split text into pieces of n characters, as a backend streams tokens.
const pieces = (s, n) => Array.from({ length: Math.ceil(s.length / n) }, (_, i) => s.slice(i * n, (i + 1) * n));

// Ask the same question whole and streamed; return both final messages.
async function bothWays(ctx, desc) {
  const { be, client } = ctx;
  be.reset();
  be.script = turn(desc);
  const req = basicRequest({ tools: TOOLS });
  const whole = await client.messages.create(req);
  const streamed = await client.messages.stream(req).finalMessage();
  const chats = be.chatRequests();
  assert.equal(chats.length, 2);
  assert.ok(!chats[0].body.stream && chats[1].body.stream === true);
  return { whole, streamed };
}

// The content with tool ids checked and replaced by a placeholder.
function blocks(msg) {
  const ids = new Set();
  return msg.content.map((b) => {
    if (b.type !== 'tool_use') return b;
    assert.equal(typeof b.id, 'string');
    assert.ok(b.id.length > 0, 'tool_use id must not be empty');
    assert.ok(!ids.has(b.id), `tool_use ids must be unique: ${b.id}`);
    ids.add(b.id);
    return { ...b, id: '<id>' };
  });
}

test('Qwen3-Coder XML in text becomes typed tool_use blocks (stream and create)', async () => {
  const { whole, streamed } = await bothWays(on, { text: pieces(QWEN3_CODER, 6), finish: 'stop', usage: USAGE });
  const want = [
    { type: 'text', text: 'Let me do that.' },
    { type: 'tool_use', id: '<id>', name: 'Read', input: { file_path: '/src/app.py', offset: 10 } },
    {
      type: 'tool_use',
      id: '<id>',
      name: 'Edit',
      input: { file_path: '/src/app.py', old_string: 'if x < 3:', new_string: 'if x <= 3:', replace_all: true },
    },
    { type: 'tool_use', id: '<id>', name: 'Bash', input: { command: 'pytest -q', timeout: 30000 } },
  ];
  for (const [how, m] of [['create', whole], ['stream', streamed]]) {
    assert.deepEqual(blocks(m), want, `${how}: ${JSON.stringify(m.content)}`);
    assert.equal(m.stop_reason, 'tool_use', how);
    assert.equal(typeof m.content[1].input.offset, 'number');
    assert.equal(m.content[2].input.replace_all, true);
  }
});

test('Hermes JSON in text becomes a tool_use block, text before it streams first', async () => {
  const { be, client } = on;
  const { whole, streamed } = await bothWays(on, { text: pieces(HERMES, 5), finish: 'stop', usage: USAGE });
  const want = [
    { type: 'text', text: "I'll read the config first." },
    { type: 'tool_use', id: '<id>', name: 'Read', input: { file_path: '/etc/app.conf', limit: 20 } },
  ];
  for (const [how, m] of [['create', whole], ['stream', streamed]]) {
    assert.deepEqual(blocks(m), want, `${how}: ${JSON.stringify(m.content)}`);
    assert.equal(m.stop_reason, 'tool_use', how);
  }
  // Event order as the SDK sees it: the text block's deltas, then the call.
  be.reset();
  be.script = turn({ text: pieces(HERMES, 5), finish: 'stop', usage: USAGE });
  const order = [];
  const s = client.messages.stream(basicRequest({ tools: TOOLS }));
  s.on('streamEvent', (ev) => {
    if (ev.type === 'content_block_start') order.push(`start:${ev.content_block.type}`);
    else if (ev.type === 'content_block_delta') order.push(ev.delta.type);
  });
  await s.finalMessage();
  const textDeltas = order.filter((x) => x === 'text_delta').length;
  assert.ok(textDeltas > 1, `text should stream in pieces: ${order.join(' ')}`);
  assert.deepEqual(
    order.filter((x) => x !== 'text_delta'),
    ['start:text', 'start:tool_use', 'input_json_delta'],
    order.join(' '),
  );
});

test('native tool_calls: string numbers and broken JSON are repaired; unusable args stay text', async () => {
  const { whole, streamed } = await bothWays(on, {
    text: ['Checking.'],
    tools: [
      { id: 'call_1', name: 'Read', args: ['{"file_path": "/a.c", ', '"offset": "10",}'] },
      { id: 'call_2', name: 'Bash', args: ['{"command": "make", "timeout": "30000"'] },
      { id: 'call_3', name: 'Bash', args: ['<<<not ', 'json>>>'] },
    ],
    finish: 'tool_calls',
    usage: USAGE,
  });
  const want = [
    { type: 'text', text: 'Checking.' },
    { type: 'tool_use', id: 'call_1', name: 'Read', input: { file_path: '/a.c', offset: 10 } },
    { type: 'tool_use', id: 'call_2', name: 'Bash', input: { command: 'make', timeout: 30000 } },
    { type: 'text', text: '[tool call Bash with unparseable arguments: <<<not json>>>]' },
  ];
  for (const [how, m] of [['create', whole], ['stream', streamed]]) {
    assert.deepEqual(m.content, want, `${how}: ${JSON.stringify(m.content)}`);
    assert.equal(m.stop_reason, 'tool_use', how);
  }
});

test('--tool-recovery off: the same answers stay text', async () => {
  for (const text of [QWEN3_CODER, HERMES]) {
    const { whole, streamed } = await bothWays(off, { text: pieces(text, 6), finish: 'stop', usage: USAGE });
    for (const [how, m] of [['create', whole], ['stream', streamed]]) {
      assert.deepEqual(m.content, [{ type: 'text', text }], how);
      assert.equal(m.stop_reason, 'end_turn', how);
    }
  }
});

test('recovery on, but the request has no tools: text stays text', async () => {
  const { be, client } = on;
  be.reset();
  be.script = turn({ text: pieces(HERMES, 6), finish: 'stop', usage: USAGE });
  const whole = await client.messages.create(basicRequest());
  const streamed = await client.messages.stream(basicRequest()).finalMessage();
  for (const m of [whole, streamed]) {
    assert.deepEqual(m.content, [{ type: 'text', text: HERMES }]);
    assert.equal(m.stop_reason, 'end_turn');
  }
});

// The SDK's view of a stream: block starts and deltas, in order.
async function streamEvents(ctx, desc, req = basicRequest({ tools: TOOLS })) {
  ctx.be.reset();
  ctx.be.script = turn(desc);
  const events = [];
  const s = ctx.client.messages.stream(req);
  s.on('streamEvent', (ev) => events.push(ev));
  const message = await s.finalMessage();
  return { events, message };
}

test('openai mode, default flags: text tool calls are recovered, only for declared tools', async () => {
  const { whole, streamed } = await bothWays(oai, { text: pieces(QWEN3_CODER, 7), finish: 'stop', usage: USAGE });
  for (const [how, m] of [['create', whole], ['stream', streamed]]) {
    assert.deepEqual(
      m.content.filter((b) => b.type === 'tool_use').map((b) => [b.name, b.input]),
      [
        ['Read', { file_path: '/src/app.py', offset: 10 }],
        ['Edit', { file_path: '/src/app.py', old_string: 'if x < 3:', new_string: 'if x <= 3:', replace_all: true }],
        ['Bash', { command: 'pytest -q', timeout: 30000 }],
      ],
      how,
    );
  }
  // a call to a tool the request does not declare stays text
  const undeclared = '<tool_call>\n{"name": "Deploy", "arguments": {"env": "prod"}}\n</tool_call>';
  const { message } = await streamEvents(oai, { text: pieces(undeclared, 5), finish: 'stop', usage: USAGE });
  assert.deepEqual(message.content, [{ type: 'text', text: undeclared }]);
});

test('native tool calls stream as input_json_delta fragments; only what needs repair waits', async (t) => {
  const WRITE = {
    name: 'Write',
    description: 'Write a file',
    input_schema: {
      type: 'object',
      properties: { file_path: { type: 'string' }, content: { type: 'string' } },
      required: ['file_path', 'content'],
    },
  };
  const content = 'line one of the file\n'.repeat(20);
  const args = JSON.stringify({ file_path: '/tmp/notes.txt', content });
  const frags = pieces(args, 8);
  const req = basicRequest({ tools: [...TOOLS, WRITE] });
  for (const ctx of [oai, on]) {
    const { events, message } = await streamEvents(ctx, { tools: [{ id: 'call_w', name: 'Write', args: frags }], finish: 'tool_calls', usage: USAGE }, req);
    const deltas = events.filter((e) => e.type === 'content_block_delta' && e.delta.type === 'input_json_delta');
    // one fragment out per fragment in (the key-only ones carry nothing yet)
    t.diagnostic(`${ctx === oai ? 'openai' : 'llamacpp'}: ${deltas.length} input_json_delta for ${frags.length} upstream fragments`);
    assert.ok(deltas.length >= frags.length - 3, `${deltas.length} input_json_delta for ${frags.length} fragments`);
    assert.equal(deltas.map((d) => d.delta.partial_json).join(''), args, 'clean arguments pass byte for byte');
    assert.deepEqual(message.content, [{ type: 'tool_use', id: 'call_w', name: 'Write', input: { file_path: '/tmp/notes.txt', content } }]);
  }
  // a string where the schema wants an integer: the strings stream, the number waits and is coerced
  const { events, message } = await streamEvents(oai, {
    tools: [{ id: 'call_r', name: 'Read', args: ['{"file_path": "/very/long/', 'path/to/a/file.py", ', '"limit": "2', '0"}'] }],
    finish: 'tool_calls',
    usage: USAGE,
  });
  const parts = events.filter((e) => e.type === 'content_block_delta').map((e) => e.delta.partial_json);
  assert.deepEqual(parts, ['{"file_path":"/very/long/', 'path/to/a/file.py"', ',"limit":20}']);
  assert.deepEqual(message.content[0].input, { file_path: '/very/long/path/to/a/file.py', limit: 20 });
});
