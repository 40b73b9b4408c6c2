// e2e: Claude Code's WebSearch with a local model (docs/routing.md, "Server
// tools"). The local model (a scripted OpenAI backend) calls WebSearch; Claude
// Code then sends a side request whose only tool is the Anthropic server tool
// web_search_20250305, which only the Claude API runs.
//
//   1. With a `serverTools` route to a `claude` backend (here a scripted
//      Anthropic upstream that plays the API's search), that side request
//      reaches the upstream with the server tool intact, its results come back
//      to Claude Code, and the local model gets them as the tool's result.
//   2. Without such a route, anyclaude answers the side request itself with
//      the tool's error result and a message saying how to enable search; the
//      local model gets that message as the tool's result and the session
//      goes on to its final answer (no pretend "searched 0 times").

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { toolMessages, textOf, userTexts } from '../lib/scripted_backend.mjs';
import { BIN, CLAUDE, makeSandbox, missingPrereq, explainFailure, report, e2eScope } from '../lib/claude_code.mjs';
import { startAnthropicBackend, sseBytes, sseEvent } from '../lib/anthropic_backend.mjs';

const { children, cleanups, sandbox, backend } = e2eScope();

const PROMPT = 'Search the web for the anyclaude gateway and tell me what it is.';
const QUERY = 'anyclaude gateway';
const RESULT_URL = 'https://example.com/anyclaude';
const FOUND = 'anyclaude is a gateway between Claude Code and local models';

// The local model: call WebSearch first; once a tool result is there, answer
// with it quoted.
function localScenario(body) {
  if (!userTexts(body).some((t) => t.includes('Search the web for the anyclaude'))) return undefined;
  const results = toolMessages(body);
  if (!results.length) return { toolCalls: [{ name: 'WebSearch', arguments: { query: QUERY } }] };
  return { text: `FINAL: ${textOf(results.at(-1).content).replace(/\s+/g, ' ').slice(0, 1500)}` };
}

// The Claude API's side of a web search, as the API streams it.
function searchAnswer(rec) {
  const id = 'msg_01Search';
  const model = rec.json?.model ?? 'claude';
  const su = 'srvtoolu_01Search';
  const ev = (n, d) => sseEvent(n, d);
  return sseBytes([
    ev('message_start', { type: 'message_start', message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 50, output_tokens: 1 } } }),
    ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'server_tool_use', id: su, name: 'web_search', input: {} } }),
    ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: JSON.stringify({ query: QUERY }) } }),
    ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
    ev('content_block_start', {
      type: 'content_block_start',
      index: 1,
      content_block: { type: 'web_search_tool_result', tool_use_id: su, content: [{ type: 'web_search_result', title: 'anyclaude', url: RESULT_URL, encrypted_content: 'EqgfCioIARgB', page_age: null }] },
    }),
    ev('content_block_stop', { type: 'content_block_stop', index: 1 }),
    ev('content_block_start', { type: 'content_block_start', index: 2, content_block: { type: 'text', text: '' } }),
    ev('content_block_delta', { type: 'content_block_delta', index: 2, delta: { type: 'text_delta', text: FOUND } }),
    ev('content_block_stop', { type: 'content_block_stop', index: 2 }),
    ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 20 } }),
    ev('message_stop', { type: 'message_stop' }),
  ]);
}

async function run(name, config, env = {}) {
  const sb = makeSandbox(`servertools-${name}`);
  cleanups.push(() => sb.cleanup());
  Object.assign(sb.env, { CLAUDE_CODE_MAX_RETRIES: '0' }, env);
  const cfgPath = path.join(sb.root, 'anyclaude.json');
  fs.writeFileSync(cfgPath, JSON.stringify(config, null, 2));
  const argv = ['--config', cfgPath, '--claude', CLAUDE, '--debug', '2', '-p', PROMPT, '--allowedTools', 'WebSearch', '--output-format', 'json'];
  const r = await children.run(BIN, argv, { cwd: sb.work, env: sb.env, timeoutMs: 120_000 });
  return { sb, r };
}

function finalText(r) {
  assert.equal(r.timedOut, false, 'anyclaude did not finish in time');
  assert.equal(r.code, 0, `anyclaude exited ${r.code} (signal ${r.signal})`);
  const out = JSON.parse(r.stdout);
  assert.equal(out.is_error, false, `result is an error: ${r.stdout.slice(0, 500)}`);
  return out.result;
}

test('WebSearch through a serverTools route reaches the Claude upstream with the server tool intact', { timeout: 180_000 }, async (t) => {
  const missing = missingPrereq();
  if (missing) return t.skip(missing);
  const local = await backend({ scenario: localScenario });
  const api = await startAnthropicBackend((rec) => searchAnswer(rec));
  cleanups.push(() => api.close());
  const { sb, r } = await run('route', {
    backends: { local: { mode: 'openai', url: local.url, model: 'qwen-local' }, claude: { mode: 'claude', url: api.url } },
    routes: [
      { when: 'serverTools', to: 'claude' },
      { when: 'default', to: 'local' },
    ],
  }, { ANTHROPIC_API_KEY: 'sk-ant-api03-e2e-test' }); // a claude backend: Claude Code keeps its own credentials
  await explainFailure(
    async () => {
      const text = finalText(r);
      const searches = api.scripted();
      assert.equal(searches.length, 1, 'exactly the search request goes to the Claude upstream');
      const tools = searches[0].json.tools;
      assert.ok(
        tools.some((x) => x.type === 'web_search_20250305' && x.name === 'web_search'),
        `the server tool reached the upstream intact: ${JSON.stringify(tools)}`,
      );
      // the search's findings reached the local model as WebSearch's result, and the answer
      assert.ok(local.chat().some((q) => toolMessages(q.body).some((m) => textOf(m.content).includes(FOUND))), 'tool result with the findings');
      assert.match(text, /FINAL: .*anyclaude is a gateway/);
      t.diagnostic(`final answer: ${text.slice(0, 300)}`);
    },
    () => report(local, { stdout: r.stdout, stderr: r.stderr, upstream: api.requests.map((q) => `${q.method} ${q.url} ${q.text.slice(0, 300)}`).join('\n'), 'anyclaude.log': sb.log() }),
  );
});

test('WebSearch without a serverTools route: a clear message, and the session goes on', { timeout: 180_000 }, async (t) => {
  const missing = missingPrereq();
  if (missing) return t.skip(missing);
  const local = await backend({ scenario: localScenario });
  const { sb, r } = await run('noroute', {
    backends: { local: { mode: 'openai', url: local.url, model: 'qwen-local' } },
    routes: [{ when: 'default', to: 'local' }],
  });
  await explainFailure(
    async () => {
      const text = finalText(r);
      // the side request never reached the local model
      for (const q of local.chat()) assert.ok(!JSON.stringify(q.body.tools ?? []).includes('web_search_2'), 'server tool sent to the local backend');
      const result = local
        .chat()
        .flatMap((q) => toolMessages(q.body))
        .map((m) => textOf(m.content))
        .find((x) => /not available/.test(x));
      assert.ok(result, 'the local model got the message as WebSearch\'s result');
      assert.match(result, /serverTools/);
      assert.match(result, /"local"/);
      assert.match(text, /FINAL: .*not available.*serverTools/);
      assert.match(sb.log(), /server tool web_search .* cannot run on backend local/);
      t.diagnostic(`final answer: ${text.slice(0, 400)}`);
    },
    () => report(local, { stdout: r.stdout, stderr: r.stderr, 'anyclaude.log': sb.log() }),
  );
});
