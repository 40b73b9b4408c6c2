// One plan for every endpoint (src/plan.c): count_tokens asks the backend
// the message itself would go to. Before, count_tokens took the route's
// first member that was up (and ignored the subagent header) while
// /v1/messages ordered a pool by the conversation's rendezvous choice, so a
// count could be asked of another backend than its message.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { fleet, startRouted, oa, ask, deadUrl, metric, waitFor, SONNET } from './routes_lib.mjs';

const SYS = 'You are the plan test assistant. Answer briefly.';

// count_tokens, /v1/models and /health of a route whose primary is down ask
// its fallback, as a message would (before, they asked the down primary).

// POST /v1/messages/count_tokens; returns { backend, tokens }.
async function count(gw, body, headers = {}) {
  const r = await fetch(`${gw.url}/v1/messages/count_tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 200, 'count_tokens status');
  const j = await r.json();
  assert.ok(j.input_tokens > 0, 'a count');
  return { backend: r.headers.get('anyclaude-backend'), tokens: j.input_tokens };
}

describe('plan', () => {
  test('count_tokens goes to the pool member its message goes to', async () => {
    const fl = await fleet(['p1', 'p2', 'p3']);
    const gw = await startRouted({
      backends: { p1: oa(fl.p1.url, 'm-p1'), p2: oa(fl.p2.url, 'm-p2'), p3: oa(fl.p3.url, 'm-p3') },
      routes: [{ when: 'default', to: ['p1', 'p2', 'p3'] }],
      healthCheckMs: 600000,
    });
    try {
      const client = gw.client();
      const seen = new Set();
      for (let i = 0; i < 8; i++) {
        const messages = [{ role: 'user', content: `Conversation ${i}: a task of its own.` }];
        const c = await count(gw, { model: SONNET, system: SYS, messages });
        const m = await ask(client, { model: SONNET, max_tokens: 64, system: SYS, messages });
        assert.equal(c.backend, m.backend, `conversation ${i}: count_tokens asked ${c.backend}, the message went to ${m.backend}`);
        seen.add(m.backend);
      }
      assert.ok(seen.size > 1, `the conversations should spread over the pool (all went to ${[...seen]})`);
    } finally {
      await gw.stopAll();
      await fl.close();
    }
  });

  test('count_tokens of a subagent goes to the subagent route, as its message does', async () => {
    const fl = await fleet(['sub', 'def']);
    const gw = await startRouted({
      backends: { sub: oa(fl.sub.url, 'm-sub'), def: oa(fl.def.url, 'm-def') },
      routes: [
        { when: 'subagent', to: 'sub' },
        { when: 'default', to: 'def' },
      ],
    });
    try {
      const headers = { 'x-claude-code-agent-id': 'agent-1' };
      const messages = [{ role: 'user', content: 'Find the parser.' }];
      const m = await ask(gw.client(), { model: SONNET, max_tokens: 64, system: SYS, messages }, { headers });
      assert.equal(m.backend, 'sub', 'the subagent message');
      const c = await count(gw, { model: SONNET, system: SYS, messages }, headers);
      assert.equal(c.backend, 'sub', 'the subagent count');
      assert.equal((await count(gw, { model: SONNET, system: SYS, messages })).backend, 'def', 'a main-agent count');
    } finally {
      await gw.stopAll();
      await fl.close();
    }
  });

  test('with the primary down, count_tokens, /v1/models and /health ask the fallback a message goes to', async () => {
    const fl = await fleet(['fb']);
    const gw = await startRouted({
      backends: { dead: oa(await deadUrl(), 'm-dead'), fb: oa(fl.fb.url, 'm-fb') },
      routes: [{ when: 'default', to: 'dead', fallback: ['fb'] }],
      healthCheckMs: 100,
    });
    try {
      await waitFor(async () => (await metric(gw, 'anyclaude_backend_up', 'backend="dead"')) === 0, 'the dead primary to be marked down');
      const messages = [{ role: 'user', content: 'Hello.' }];
      const m = await ask(gw.client(), { model: SONNET, max_tokens: 64, system: SYS, messages });
      assert.equal(m.backend, 'fb', 'the message');
      assert.equal((await count(gw, { model: SONNET, system: SYS, messages })).backend, 'fb', 'count_tokens');
      const models = await fetch(`${gw.url}/v1/models`);
      assert.equal(models.status, 200, '/v1/models status');
      assert.equal(models.headers.get('anyclaude-backend'), 'fb', '/v1/models');
      assert.deepEqual((await models.json()).data.map((x) => x.id), ['fake-model'], 'the fallback\'s list');
      const health = await (await fetch(`${gw.url}/health`)).json();
      assert.equal(health.backend, fl.fb.url, '/health names the backend it asked');
      assert.equal(health.backend_status.ok, true, '/health: that backend answers');
    } finally {
      await gw.stopAll();
      await fl.close();
    }
  });
});
