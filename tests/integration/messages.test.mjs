// The same scripted backend answer, asked for streamed (SDK messages.stream()
// .finalMessage()) and whole (messages.create), must give the same message;
// and both must carry what the backend said (stop reasons, usage, cache).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { turn } from '../lib/openai_backend.mjs';
import { useGateway, basicRequest, MODEL, TOOLS } from '../lib/gateway.mjs';

const ctx = useGateway({ mode: 'openai' });

// Plain JSON copy of a message's comparable parts.
function comparable(msg, { ignoreToolIds }) {
  const content = JSON.parse(JSON.stringify(msg.content)).map((b) => {
    if (b.type === 'tool_use' && ignoreToolIds) {
      assert.equal(typeof b.id, 'string', 'tool_use id must be a string');
      assert.ok(b.id.length > 0, 'tool_use id must not be empty');
      return { ...b, id: '<generated>' };
    }
    if (b.type === 'thinking') {
      assert.equal(typeof b.signature, 'string', `thinking block needs a signature: ${JSON.stringify(b)}`);
      assert.ok(b.signature.length > 0, `thinking block signature is empty: ${JSON.stringify(b)}`);
      return { ...b, signature: '<signature>' };
    }
    return b;
  });
  const u = msg.usage ?? {};
  return {
    type: msg.type,
    role: msg.role,
    model: msg.model,
    content,
    stop_reason: msg.stop_reason,
    stop_sequence: msg.stop_sequence,
    usage: {
      input_tokens: u.input_tokens,
      output_tokens: u.output_tokens,
      cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
      cache_creation_input_tokens: u.cache_creation_input_tokens ?? 0,
    },
  };
}

// Run desc both ways; check the upstream saw stream true/false; return both
// comparable messages after asserting they are equal.
async function bothWays(desc, req = basicRequest(), { ignoreToolIds = false } = {}) {
  const { be, client } = ctx;
  be.reset();
  be.script = turn(desc);
  const whole = await client.messages.create(req);
  const streamed = await client.messages.stream(req).finalMessage();
  const chats = be.chatRequests();
  assert.equal(chats.length, 2, 'one upstream request per client request');
  assert.ok(!chats[0].body.stream, `non-streaming client request went upstream with stream=${chats[0].body.stream}`);
  assert.equal(chats[1].body.stream, true, 'streaming client request must stream upstream');
  assert.ok(typeof whole.id === 'string' && whole.id.length > 0, 'message id');
  assert.ok(typeof streamed.id === 'string' && streamed.id.length > 0, 'message id');
  const a = comparable(whole, { ignoreToolIds });
  const b = comparable(streamed, { ignoreToolIds });
  assert.deepEqual(b, a, 'streamed final message must equal the non-streaming answer');
  return a;
}

const USAGE = { prompt_tokens: 120, completion_tokens: 9, cached_tokens: 100 };

test('text: stream equals create', async () => {
  const m = await bothWays({ text: ['Hello', ', ', 'world', '!'], finish: 'stop', usage: USAGE });
  assert.equal(m.type, 'message');
  assert.equal(m.role, 'assistant');
  assert.equal(m.model, MODEL, 'response echoes the client model');
  assert.deepEqual(m.content, [{ type: 'text', text: 'Hello, world!' }]);
  assert.equal(m.stop_reason, 'end_turn');
  assert.equal(m.stop_sequence, null);
  assert.deepEqual(m.usage, { input_tokens: 20, output_tokens: 9, cache_read_input_tokens: 100, cache_creation_input_tokens: 0 });
});

for (const field of ['reasoning_content', 'reasoning']) {
  test(`thinking via delta.${field}: stream equals create`, async () => {
    const m = await bothWays({
      reasoning: ['The user ', 'greets me.'],
      reasoningField: field,
      text: ['Hi', ' there'],
      finish: 'stop',
      usage: USAGE,
    });
    assert.deepEqual(m.content, [
      { type: 'thinking', thinking: 'The user greets me.', signature: '<signature>' },
      { type: 'text', text: 'Hi there' },
    ]);
    assert.equal(m.stop_reason, 'end_turn');
  });
}

test('one tool call with backend id: stream equals create, input parses', async () => {
  const m = await bothWays(
    {
      text: ['Let me check.'],
      tools: [{ id: 'call_abc123', name: 'get_weather', args: ['{"ci', 'ty": "Par', 'is", "unit"', ': "c"}'] }],
      finish: 'tool_calls',
      usage: USAGE,
    },
    basicRequest({ tools: TOOLS }),
  );
  assert.equal(m.stop_reason, 'tool_use');
  assert.equal(m.content.length, 2, JSON.stringify(m.content));
  assert.deepEqual(m.content[0], { type: 'text', text: 'Let me check.' });
  const tu = m.content[1];
  assert.equal(tu.type, 'tool_use');
  assert.equal(tu.name, 'get_weather');
  assert.equal(typeof tu.id, 'string');
  assert.deepEqual(tu.input, { city: 'Paris', unit: 'c' });
});

test('two parallel tool calls without ids: stream equals create, inputs parse', async () => {
  const m = await bothWays(
    {
      tools: [
        { name: 'get_weather', args: ['{"city":', '"Oslo"}'] },
        { name: 'get_time', args: ['{"tz"', ':"Europe/Oslo"}'] },
      ],
      finish: 'tool_calls',
      usage: { prompt_tokens: 50, completion_tokens: 20 },
    },
    basicRequest({ tools: TOOLS }),
    { ignoreToolIds: true },
  );
  assert.equal(m.stop_reason, 'tool_use');
  assert.deepEqual(
    m.content.map((b) => [b.type, b.name, b.input]),
    [
      ['tool_use', 'get_weather', { city: 'Oslo' }],
      ['tool_use', 'get_time', { tz: 'Europe/Oslo' }],
    ],
  );
  assert.deepEqual(m.usage, { input_tokens: 50, output_tokens: 20, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });
});

test('generated tool ids are distinct', async () => {
  const { be, client } = ctx;
  be.script = turn({
    tools: [
      { name: 'get_weather', args: ['{"city":"A"}'] },
      { name: 'get_weather', args: ['{"city":"B"}'] },
    ],
    finish: 'tool_calls',
  });
  for (const msg of [
    await client.messages.create(basicRequest({ tools: TOOLS })),
    await client.messages.stream(basicRequest({ tools: TOOLS })).finalMessage(),
  ]) {
    const ids = msg.content.map((b) => b.id);
    assert.equal(ids.length, 2);
    assert.notEqual(ids[0], ids[1], `tool ids must differ: ${ids}`);
  }
});

for (const [finish, expected] of [
  ['stop', 'end_turn'],
  ['length', 'max_tokens'],
  ['tool_calls', 'tool_use'],
]) {
  test(`stop_reason: finish_reason ${finish} → ${expected}`, async () => {
    const desc = { text: ['partial answer'], finish, usage: { prompt_tokens: 30, completion_tokens: 3 } };
    if (finish === 'tool_calls') desc.tools = [{ id: 'call_x', name: 'get_time', args: ['{"tz":"UTC"}'] }];
    const m = await bothWays(desc, basicRequest({ tools: TOOLS }));
    assert.equal(m.stop_reason, expected);
    assert.equal(m.stop_sequence, null);
  });
}

test('usage: cache_read_input_tokens = cached_tokens, input_tokens = prompt - cached', async () => {
  const m = await bothWays({
    text: ['ok'],
    finish: 'stop',
    usage: { prompt_tokens: 12437, completion_tokens: 4, cached_tokens: 12400 },
  });
  assert.equal(m.usage.cache_read_input_tokens, 12400);
  assert.equal(m.usage.input_tokens, 37);
  assert.equal(m.usage.output_tokens, 4);
});
