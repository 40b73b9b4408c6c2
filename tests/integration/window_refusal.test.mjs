// A backend's context window in the gateway: a prompt over it is refused
// with the Claude API's own error before it is sent, a route's next target
// takes it when there is one, and GET /anyclaude/status reports the last
// turn of a conversation for the status line.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { runCleanups } from '../lib/cleanup.mjs';
import { startBackend } from '../lib/openai_backend.mjs';
import { startGateway, expectAPIError, basicRequest, MODEL } from '../lib/gateway.mjs';
import { fleet, startRouted, ask, served, counts } from './routes_lib.mjs';

const cleanups = [];
after(async () => {
  await runCleanups(cleanups);
});

// ~6000 tokens by any estimate
const big = () => basicRequest({ messages: [{ role: 'user', content: 'word '.repeat(6000) }] });

test('a prompt over the window is refused before it is sent, in the Claude API\'s words', async () => {
  const be = await startBackend();
  cleanups.push(() => be.close());
  const gw = await startGateway({ backend: be.url, mode: 'openai', model: 'm', args: ['--context-window', '2048'] });
  cleanups.push(() => gw.stop());
  const client = gw.client();
  const err = await expectAPIError(client.messages.create(big()));
  assert.equal(err.status, 400);
  assert.equal(err.error?.error?.type, 'invalid_request_error');
  assert.match(err.error?.error?.message, /^prompt is too long: \d+ tokens > 2048 maximum$/);
  assert.equal(be.chatRequests().length, 0, 'the backend got the request');
  // a prompt that fits still goes
  const ok = await client.messages.create(basicRequest());
  assert.equal(ok.type, 'message');
  assert.equal(be.chatRequests().length, 1);
});

test('routes: a target too small for the prompt hands it to the next one', async () => {
  const fl = await fleet(['small', 'large']);
  cleanups.push(() => fl.close());
  const gw = await startRouted({
    backends: {
      small: { mode: 'openai', url: fl.small.url, model: 's', contextWindow: 2048 },
      large: { mode: 'openai', url: fl.large.url, model: 'l', contextWindow: 131072 },
    },
    routes: [{ when: 'default', to: 'small', fallback: ['large'] }],
  });
  cleanups.push(() => gw.stopAll());
  const client = gw.client();
  const before = counts(fl);
  const r = await ask(client, big());
  assert.equal(r.backend, 'large');
  assert.deepEqual(served(fl, before).by, { large: 1 }, 'the small backend must not get it');
  const r2 = await ask(client, basicRequest());
  assert.equal(r2.backend, 'small', 'a prompt that fits stays on the default target');
});

test('GET /anyclaude/status: the last turn of a conversation', async () => {
  const be = await startBackend();
  cleanups.push(() => be.close());
  const gw = await startGateway({
    backend: be.url,
    mode: 'openai',
    model: 'status-model',
    args: ['--context-window', '32768', '--auth-token', 'tok'],
  });
  cleanups.push(() => gw.stop());
  const sid = '11111111-2222-4333-8444-555555555555';
  const before = await fetch(`${gw.url}/anyclaude/status?session=${sid}`, { headers: { 'x-api-key': 'tok' } });
  assert.equal(before.status, 200);
  const b = await before.json();
  assert.equal(b.window, 32768);
  assert.equal(b.model, 'status-model');
  assert.equal(b.last_turn, undefined, 'no turn yet');
  const noAuth = await fetch(`${gw.url}/anyclaude/status`);
  assert.equal(noAuth.status, 401, 'the status needs the token like /v1/*');
  const res = await fetch(`${gw.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'tok', 'X-Claude-Code-Session-Id': sid },
    body: JSON.stringify({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(res.status, 200);
  const m = await res.json();
  const st = await (await fetch(`${gw.url}/anyclaude/status?session=${sid}`, { headers: { 'x-api-key': 'tok' } })).json();
  assert.equal(st.last_turn.session, sid);
  assert.equal(st.last_turn.prompt_tokens, m.usage.input_tokens + (m.usage.cache_read_input_tokens ?? 0));
  assert.equal(st.last_turn.output_tokens, m.usage.output_tokens);
  assert.equal(st.last_turn.context_tokens, st.last_turn.prompt_tokens + st.last_turn.output_tokens);
  // a subagent's request is not the conversation's turn
  await fetch(`${gw.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'tok', 'X-Claude-Code-Session-Id': sid, 'x-claude-code-agent-id': 'a1b2c3' },
    body: JSON.stringify({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'word '.repeat(500) }] }),
  });
  const st2 = await (await fetch(`${gw.url}/anyclaude/status?session=${sid}`, { headers: { 'x-api-key': 'tok' } })).json();
  assert.equal(st2.last_turn.prompt_tokens, st.last_turn.prompt_tokens);
});
