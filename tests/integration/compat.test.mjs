// What a newer Claude Code may send that this gateway does not know yet: new
// content block types, new fields on known blocks, new top-level fields, new
// tool types, new thinking options, new beta headers. The rule (README,
// "Compatibility"): OpenAI-family modes send an unknown block's "text" as text
// and drop the rest of it, ignore unknown fields; pass-through modes forward
// everything as it came. Never a 500, and never a refusal for the unknown.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBackend, turn } from '../lib/openai_backend.mjs';
import { startGateway, rawPost } from '../lib/gateway.mjs';
import { startAnthropicBackend, sseBytes, textStreamEvents } from '../lib/anthropic_backend.mjs';

// A request in the shape of a future Claude Code's.
function futureRequest(stream) {
  return {
    model: 'claude-opus-6-0',
    max_tokens: 4096,
    stream,
    system: [{ type: 'text', text: 'You are Claude Code.', cache_control: { type: 'ephemeral', ttl: '1h' }, future_flag: true }],
    thinking: { type: 'adaptive', display: 'summarized', block_binding: { prefix_mismatch_behavior: 'drop_block' }, future_knob: 3 },
    context_management: { edits: [{ type: 'clear_tool_uses_20250919' }, { type: 'future_edit_2027' }] },
    output_config: { effort: 'medium', future: 'x' },
    safeguards: { future: true },
    future_top_level: { anything: [1, 2, 3] },
    tools: [
      { name: 'Read', description: 'Read a file', input_schema: { type: 'object', properties: { file_path: { type: 'string' } } }, defer_loading: true, future_field: 1 },
      { type: 'future_server_tool_20270101', name: 'future_tool' },
      { type: 'web_fetch_20250910', name: 'web_fetch' },
    ],
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'first question', future_annotation: { a: 1 } },
          { type: 'future_attachment_2027', text: 'attached note', uri: 'x://y' },
          { type: 'future_marker_2027', id: 'mk1' },
        ],
      },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'hm', signature: 'EqSig', future: 1 },
          { type: 'text', text: 'an answer', citations: null, future_field: 'z' },
          { type: 'compaction_2027', content: 'opaque' },
          { type: 'tool_use', id: 'toolu_1', name: 'Read', input: { file_path: '/a' }, caller: { type: 'direct' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'file body' }, { type: 'future_result_part', text: 'extra part' }] },
          { type: 'text', text: 'go on' },
        ],
      },
    ],
  };
}

const HEADERS = { 'anthropic-beta': 'future-feature-2027-01-01,context-management-2025-06-27', 'x-future-header': '1' };

describe('OpenAI-family mode', () => {
  let be;
  let gw;
  before(async () => {
    be = await startBackend(turn({ text: ['fine'], finish: 'stop', usage: { prompt_tokens: 9, completion_tokens: 1 } }));
    gw = await startGateway({ backend: be.url, mode: 'openai', model: 'qwen' });
  });
  after(async () => {
    await gw?.stopClean();
    await be?.close();
  });

  for (const stream of [false, true]) {
    test(`unknown blocks and fields are served (stream=${stream}); texts kept, the rest a one-line note`, async () => {
      be.reset();
      const r = await rawPost(gw, '/v1/messages?beta=true', JSON.stringify(futureRequest(stream)), HEADERS);
      assert.equal(r.status, 200, r.text);
      assert.match(r.text, /fine/);
      const sent = be.chatRequests().at(-1).body;
      const all = JSON.stringify(sent.messages);
      for (const kept of ['first question', 'attached note', 'an answer', 'file body', 'extra part', 'go on']) assert.ok(all.includes(kept), `${kept} kept: ${all}`);
      for (const gone of ['mk1', 'opaque', 'future_field', 'EqSig']) assert.ok(!all.includes(gone), `${gone} dropped: ${all}`);
      // a block without text is named, not sent
      assert.ok(all.includes('[A \\"compaction_2027\\" block was left out here'), `note for the block: ${all}`);
      // only the client tool goes to the backend
      assert.deepEqual(sent.tools.map((t) => t.function.name), ['Read']);
    });
  }
});

describe('pass-through modes', () => {
  let api;
  before(async () => {
    api = await startAnthropicBackend(() => sseBytes(textStreamEvents(['ok'], { id: 'msg_01Compat', model: 'claude-opus-6-0', usage: { input_tokens: 5, output_tokens: 1 }, outputTokens: 1 })));
  });
  after(async () => {
    await api?.close();
  });

  for (const mode of ['claude', 'anthropic']) {
    test(`${mode} mode forwards the unknown as it came`, async () => {
      const gw = await startGateway({ backend: api.url, mode });
      try {
        api.reset();
        const body = JSON.stringify(futureRequest(true));
        const r = await rawPost(gw, '/v1/messages?beta=true', body, HEADERS);
        assert.equal(r.status, 200, r.text);
        const got = api.last();
        const j = got.json;
        assert.deepEqual(j.messages[0].content.slice(1), futureRequest(true).messages[0].content.slice(1), 'unknown user blocks forwarded');
        assert.deepEqual(j.messages[1].content[2], { type: 'compaction_2027', content: 'opaque' });
        assert.deepEqual(j.future_top_level, { anything: [1, 2, 3] });
        assert.deepEqual(j.thinking.future_knob, 3);
        if (mode === 'claude') {
          assert.equal(got.text, body, 'claude mode: byte for byte');
          assert.equal(got.headers['anthropic-beta'], HEADERS['anthropic-beta']);
        } else {
          // a local server gets no server tools and no signatures; Read,
          // deferred but already called, is declared last and plainly
          // (toolsearch.h)
          assert.deepEqual(j.tools.map((t) => t.name), ['future_tool', 'Read']);
          assert.equal(j.tools[1].defer_loading, undefined);
          assert.equal(j.messages[1].content[0].signature, '');
        }
      } finally {
        await gw.stopClean();
      }
    });
  }
});

// Claude Code's tool search (MCP tools sent deferred, loaded by ToolSearch
// with a tool_reference), as 2.1.332 sends it, to a local Anthropic-speaking
// server: what the Claude API would show the model, and nothing else.
test('anthropic mode: deferred tools declared once loaded, last; a tool_reference becomes the definition', async () => {
  const api = await startAnthropicBackend(() => sseBytes(textStreamEvents(['ok'], { id: 'msg_01Ts', model: 'm', usage: { input_tokens: 5, output_tokens: 1 }, outputTokens: 1 })));
  const gw = await startGateway({ backend: api.url, mode: 'anthropic' });
  try {
    const echo = { name: 'mcp__s__echo_text', description: 'Echo a text back', input_schema: { type: 'object', properties: { text: { type: 'string' } } }, defer_loading: true };
    const placeholder = { name: 'DeferredToolPlaceholder', description: 'Reserved placeholder; never call this tool.', input_schema: { type: 'object', properties: {} }, defer_loading: true };
    const read = { name: 'Read', description: 'Read a file', input_schema: { type: 'object', properties: { file_path: { type: 'string' } } } };
    const body = {
      model: 'm',
      max_tokens: 100,
      stream: true,
      tools: [read, placeholder, echo],
      messages: [
        { role: 'user', content: 'use echo' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'ToolSearch', input: { query: 'select:mcp__s__echo_text' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'tool_reference', tool_name: 'mcp__s__echo_text' }] }, { type: 'text', text: 'Tool loaded.' }] },
      ],
    };
    const r = await rawPost(gw, '/v1/messages', JSON.stringify(body), HEADERS);
    assert.equal(r.status, 200, r.text);
    const j = api.last().json;
    assert.deepEqual(j.tools, [read, { name: echo.name, description: echo.description, input_schema: echo.input_schema }]);
    assert.deepEqual(j.messages[2].content[0].content, [
      { type: 'text', text: `<functions><function>${JSON.stringify({ description: echo.description, name: echo.name, parameters: echo.input_schema })}</function></functions>` },
    ]);
    // before the tool is loaded: neither it nor the placeholder
    const first = { ...body, messages: body.messages.slice(0, 1) };
    assert.equal((await rawPost(gw, '/v1/messages', JSON.stringify(first), HEADERS)).status, 200);
    assert.deepEqual(api.last().json.tools, [read]);
  } finally {
    await gw.stopClean();
    await api.close();
  }
});
