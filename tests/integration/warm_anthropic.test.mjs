// Warm start for an `anthropic` backend (llama-server's or LM Studio's own
// /v1/messages): a conversation with tools through one gateway saves its
// system prompt and tools; the next gateway's start prefills them with a
// max_tokens 1 request rewritten exactly as that gateway rewrites real
// requests (billing block out, the environment message ahead of the first
// user turn), so the server's cache holds the bytes the next request starts
// with. claude mode (the Claude API) never gets one.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAnthropicBackend, sseBytes, jsonReply, textStreamEvents } from '../lib/anthropic_backend.mjs';
import { startGateway, rawPost, TOOLS } from '../lib/gateway.mjs';
import { sleep } from '../lib/net.mjs';

const answer = (rec) =>
  rec.json?.stream
    ? sseBytes(textStreamEvents(['ok'], { id: 'msg_1', model: 'm', usage: { input_tokens: 30, output_tokens: 0 }, outputTokens: 1 }))
    : jsonReply({ id: 'msg_w', type: 'message', role: 'assistant', model: 'm', content: [{ type: 'text', text: 'k' }], stop_reason: 'max_tokens', usage: { input_tokens: 812, cache_read_input_tokens: 0, output_tokens: 1 } });

// A Claude Code-shaped first turn: billing block, system prompt, tools, the
// environment as a role:"system" message after the user's words.
function claudeTurn(words) {
  return {
    model: 'claude-sonnet-4-6',
    max_tokens: 2048,
    stream: true,
    system: [
      { type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.328; cc_entrypoint=cli; cch=1a2b3;' },
      { type: 'text', text: 'You are Claude Code, a coding agent.', cache_control: { type: 'ephemeral' } },
    ],
    tools: TOOLS,
    messages: [
      { role: 'user', content: [{ type: 'text', text: '<system-reminder>CLAUDE.md says: be brief.</system-reminder>' }, { type: 'text', text: words }] },
      { role: 'system', content: '# Environment\nWorking directory: /home/u/p\nPlatform: linux' },
    ],
  };
}

async function waitFor(pred, ms = 5000) {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await sleep(20);
  return pred();
}

test('anthropic mode: the next start prefills the saved prefix, rewritten as real requests are', async () => {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-warm-anth-'));
  const be = await startAnthropicBackend((rec) => answer(rec));
  try {
    let gw = await startGateway({ backend: be.url, mode: 'anthropic', model: 'm', env: { XDG_STATE_HOME: state } });
    try {
      assert.equal((await rawPost(gw, '/v1/messages', JSON.stringify(claudeTurn('list the files')))).status, 200);
    } finally {
      await gw.stop();
    }
    const real = be.requests.find((r) => r.json?.max_tokens === 2048);
    assert.ok(real, 'the first request reached the backend');
    const files = fs.readdirSync(path.join(state, 'anyclaude')).filter((f) => f.startsWith('warm-'));
    assert.equal(files.length, 1, `one saved prefix: ${files}`);

    be.requests.length = 0;
    gw = await startGateway({ backend: be.url, mode: 'anthropic', model: 'm', args: ['--debug', '1'], env: { XDG_STATE_HOME: state } });
    try {
      assert.ok(await waitFor(() => be.requests.some((r) => r.json?.max_tokens === 1)), 'a warm-start request reached the backend');
      const w = be.requests.find((r) => r.json?.max_tokens === 1);
      assert.equal(w.path, '/v1/messages');
      assert.equal(w.json.model, 'm');
      // the prefix the server caches is the real request's: same system
      // (billing block gone), same tools, and the first user turn starts the
      // same way (the environment leading it, then the reminder)
      assert.deepEqual(w.json.system, real.json.system);
      assert.ok(!JSON.stringify(w.json.system).includes('billing'), 'billing block sent upstream');
      assert.deepEqual(w.json.tools, real.json.tools);
      const wu = w.json.messages[0].content, ru = real.json.messages[0].content;
      assert.ok(wu.length >= 2 && wu.length < ru.length, `warm user turn ${JSON.stringify(wu)}`);
      assert.deepEqual(wu, ru.slice(0, wu.length));
      assert.match(JSON.stringify(wu[0]), /# Environment/);
      // and in bytes, from the system prompt to the reminder (the fields
      // before it, max_tokens and stream, are not part of the prompt)
      const cut = (t) => t.slice(t.indexOf('"system":'), t.indexOf('<system-reminder>'));
      assert.equal(cut(w.text), cut(real.text));
      assert.ok(await waitFor(() => /warm start: prefilled a saved system prompt and tools on \S+ \(812 tokens, 0 already cached\)/.test(gw.stderr)), gw.stderr);
      // the next session's first turn goes through as usual
      assert.equal((await rawPost(gw, '/v1/messages', JSON.stringify(claudeTurn('what is in README?')))).status, 200);
    } finally {
      await gw.stop();
    }

    // claude mode against the same state never warms the Claude API
    be.requests.length = 0;
    gw = await startGateway({ backend: be.url, mode: 'claude', env: { XDG_STATE_HOME: state } });
    try {
      await sleep(500);
      assert.equal(be.requests.filter((r) => r.json?.max_tokens === 1).length, 0);
    } finally {
      await gw.stop();
    }
  } finally {
    await be.close();
    fs.rmSync(state, { recursive: true, force: true });
  }
});
