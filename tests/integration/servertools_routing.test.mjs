// Anthropic server tools (docs/routing.md, "Server tools"): a request whose
// only tool is web_search_20250305 (Claude Code's WebSearch side request)
// goes to the Claude API through a serverTools route; without one, the
// gateway answers it itself, streamed and whole, with the tool's error result
// and how to enable it, and the local backend never sees it. A local
// anthropic-mode server gets mixed requests without their server tools.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBackend, turn } from '../lib/openai_backend.mjs';
import { startGateway } from '../lib/gateway.mjs';
import { startRouted, oa, SONNET, twoWay } from './routes_lib.mjs';
import { startAnthropicBackend, sseBytes, textStreamEvents } from '../lib/anthropic_backend.mjs';

const SEARCH = {
  model: SONNET,
  max_tokens: 8192,
  system: 'You are an assistant for performing a web search tool use',
  tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 8 }],
  tool_choice: { type: 'tool', name: 'web_search' },
  thinking: { type: 'disabled' },
  messages: [{ role: 'user', content: 'Perform a web search for the query: anyclaude' }],
};

function checkAnswer(msg, backendName) {
  assert.deepEqual(
    msg.content.map((b) => b.type),
    ['server_tool_use', 'web_search_tool_result', 'text'],
  );
  const [use, result, text] = msg.content;
  assert.equal(use.name, 'web_search');
  assert.equal(result.tool_use_id, use.id);
  assert.deepEqual(result.content, { type: 'web_search_tool_result_error', error_code: 'unavailable' });
  assert.match(text.text, /Web search is not available/);
  assert.match(text.text, new RegExp(`"${backendName}"`));
  assert.match(text.text, /"when": "serverTools"/);
  assert.equal(msg.stop_reason, 'end_turn');
}

describe('without a serverTools route', () => {
  let be;
  let gw;
  before(async () => {
    be = await startBackend(turn({ text: ['I searched and found nothing.'], finish: 'stop' }));
    gw = await startGateway({ backend: be.url, mode: 'openai', model: 'qwen' });
  });
  after(async () => {
    await gw?.stopClean();
    await be?.close();
  });

  test('the gateway answers the search itself, whole and streamed; the local model never sees it', async () => {
    const client = gw.client();
    be.reset();
    const whole = await client.messages.create(SEARCH);
    checkAnswer(whole, 'openai');
    const streamed = await client.messages.stream(SEARCH).finalMessage();
    checkAnswer(streamed, 'openai');
    assert.equal(be.chatRequests().length, 0, 'no request reached the local backend');
    // a request with client tools too is the backend's as usual (the server tool left out)
    await client.messages.create({ ...SEARCH, tool_choice: undefined, tools: [...SEARCH.tools, { name: 'Read', input_schema: { type: 'object' } }] });
    assert.deepEqual(be.chatRequests().at(-1).body.tools.map((t) => t.function.name), ['Read']);
  });
});

describe('with routes', () => {
  let local;
  let api;
  let localAnthropic;
  before(async () => {
    local = await startBackend(turn({ text: ['from local'], finish: 'stop' }));
    const answer = () => sseBytes(textStreamEvents(['from the API'], { id: 'msg_01S', model: SONNET, usage: { input_tokens: 5, output_tokens: 1 }, outputTokens: 1 }));
    api = await startAnthropicBackend(answer);
    localAnthropic = await startAnthropicBackend(answer);
  });
  after(async () => {
    await local?.close();
    await api?.close();
    await localAnthropic?.close();
  });

  test('a serverTools route sends the search to the Claude API with the server tool intact', async () => {
    const gw = await startRouted(twoWay({ local: oa(local.url, 'qwen'), claude: { mode: 'claude', url: api.url } }, 'serverTools', 'claude', 'local'));
    try {
      api.reset();
      const s = gw.client().messages.stream(SEARCH);
      const { response } = await s.withResponse();
      const msg = await s.finalMessage();
      assert.equal(response.headers.get('anyclaude-backend'), 'claude');
      assert.match(msg.content[0].text, /from the API/);
      assert.deepEqual(api.last().json.tools, SEARCH.tools);
      assert.deepEqual(api.last().json.tool_choice, SEARCH.tool_choice);
      // everything else stays local
      const other = await gw.client().messages.create({ model: SONNET, max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
      assert.match(other.content[0].text, /from local/);
    } finally {
      await gw.stopAll();
    }
  });

  test('an anthropic-mode local server: the search is answered by the gateway; mixed tools lose the server ones', async () => {
    const gw = await startRouted({
      backends: { la: { mode: 'anthropic', url: localAnthropic.url } },
      routes: [{ when: 'default', to: 'la' }],
    });
    try {
      localAnthropic.reset();
      const msg = await gw.client().messages.stream(SEARCH).finalMessage();
      checkAnswer(msg, 'la');
      // (the gateway's own GET /props probe at start may land here late)
      assert.equal(localAnthropic.scripted().filter((r) => r.method === 'POST').length, 0);
      await gw
        .client()
        .messages.stream({ ...SEARCH, tools: [...SEARCH.tools, { name: 'Read', input_schema: { type: 'object' } }] })
        .finalMessage();
      const sent = localAnthropic.last().json;
      assert.deepEqual(sent.tools.map((t) => t.name), ['Read']);
      assert.equal(sent.tool_choice, undefined, 'a forced choice of the removed tool is dropped');
    } finally {
      await gw.stopAll();
    }
  });
});
