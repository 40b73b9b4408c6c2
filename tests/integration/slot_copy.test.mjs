// Slot copy (issue 11): when the backend goes idle and some slots are empty,
// a llamacpp gateway saves the slot of the conversation that just ran
// (POST /slots/N?action=save, llama-server --slot-save-path) and restores it
// into each free slot (action=restore), so a new conversation of another
// kind (a new project) is not pinned to an empty slot (llama-server never
// loads a saved prompt into a slot a request is pinned to). A server without
// --slot-save-path answers 501: the gateway says so once and primes a spare
// slot by prefilling, as before. Against a small llama-server stand-in.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startGateway, rawPost, MODEL, TOOLS } from '../lib/gateway.mjs';

const dirs = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// llama-server's answers: chat completions with usage, GET /slots, and
// POST /slots/N?action=save|restore (or 501 when canSave is false)
function startLlama({ nslots, canSave, port = 0 }) {
  const calls = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body = null;
      try {
        body = raw ? JSON.parse(raw) : null;
      } catch {
        /* not JSON */
      }
      calls.push({ method: req.method, url: req.url, body });
      const send = (status, j) => {
        const s = JSON.stringify(j);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
        res.end(s);
      };
      const m = /^\/slots\/(\d+)\?action=(save|restore)$/.exec(req.url);
      if (req.method === 'GET' && req.url === '/slots') return send(200, Array.from({ length: nslots }, (_, id) => ({ id, is_processing: false })));
      if (m && !canSave) return send(501, { error: { code: 501, message: 'This server does not support slots action. Start it with `--slot-save-path`', type: 'not_supported_error' } });
      if (m) return send(200, { id_slot: Number(m[1]), filename: body?.filename, [m[2] === 'save' ? 'n_saved' : 'n_restored']: 1234, timings: {} });
      if (req.method === 'POST' && req.url.endsWith('/chat/completions'))
        return send(200, { id: 'c', object: 'chat.completion', created: 1, model: MODEL, choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1234, completion_tokens: 1 } });
      send(404, { error: { message: 'no route' } });
    });
  });
  return new Promise((r) => server.listen(port, '127.0.0.1', () => r({ url: `http://127.0.0.1:${server.address().port}`, calls, close: () => new Promise((c) => {
    server.closeAllConnections?.();
    server.close(c);
  }) })));
}

const body = (system, words) =>
  JSON.stringify({
    model: MODEL,
    max_tokens: 64,
    stream: false,
    system: [{ type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.328.abc; cc_entrypoint=sdk-cli;' }, { type: 'text', text: system }],
    tools: TOOLS,
    messages: [{ role: 'user', content: words }],
  });

async function waitFor(pred, ms = 10000) {
  const until = Date.now() + ms;
  while (!pred() && Date.now() < until) await sleep(20);
  return pred();
}

test('idle: the slot that ran is saved and restored into every free slot; a new project lands on a copy', async () => {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-slotcopy-'));
  dirs.push(state);
  const be = await startLlama({ nslots: 4, canSave: true });
  const gw = await startGateway({ backend: be.url, mode: 'llamacpp', args: ['--slots', '4', '--debug', '1'], env: { XDG_STATE_HOME: state } });
  try {
    const r1 = await rawPost(gw, "/v1/messages", body("You are a Claude agent. Memory: /p/X/memory.", "q1"), { "x-claude-code-session-id": "x" });
    assert.equal(r1.status, 200, r1.text);
    const chat = () => be.calls.filter((c) => c.url.endsWith('/chat/completions') && c.body?.max_tokens !== 1);
    const x = chat()[0].body.id_slot;
    const restores = () => be.calls.filter((c) => /action=restore/.test(c.url));
    assert.ok(await waitFor(() => restores().length === 3), `three free slots restored, saw ${be.calls.map((c) => c.url).join(', ')}`);
    const save = be.calls.find((c) => /action=save/.test(c.url));
    assert.equal(save.url, `/slots/${x}?action=save`);
    assert.match(save.body.filename, /^anyclaude-[0-9a-f]{16}-\d+\.bin$/);
    const targets = restores().map((c) => Number(/\/slots\/(\d+)/.exec(c.url)[1]));
    assert.deepEqual([...targets].sort(), [0, 1, 2, 3].filter((i) => i !== x));
    for (const r of restores()) assert.equal(r.body.filename, save.body.filename);
    assert.equal(be.calls.filter((c) => c.body?.max_tokens === 1).length, 0, 'nothing prefilled to prime: copied');
    assert.match(gw.stderr, /slot copy: slot \d of \S+ now holds slot \d's prefix/);
    // a session in another project: no empty slot is left, whichever it takes
    assert.equal((await rawPost(gw, '/v1/messages', body('You are a Claude agent. Memory: /p/Y/memory.', 'q1'), { 'x-claude-code-session-id': 'y' })).status, 200);
    assert.ok(chat()[1].body.id_slot >= 0);
  } finally {
    await gw.stop();
    await be.close();
  }
});

test('a server without --slot-save-path: said once, then a spare slot is primed by prefilling', async () => {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-slotcopy-'));
  dirs.push(state);
  const be = await startLlama({ nslots: 2, canSave: false });
  const gw = await startGateway({ backend: be.url, mode: 'llamacpp', args: ['--slots', '2', '--debug', '1'], env: { XDG_STATE_HOME: state } });
  try {
    assert.equal((await rawPost(gw, '/v1/messages', body('You are a Claude agent.', 'q1'), { 'x-claude-code-session-id': 'x' })).status, 200);
    assert.ok(await waitFor(() => be.calls.some((c) => c.body?.max_tokens === 1), 4000), `a spare slot primed by prefilling: ${gw.stderr}`);
    assert.match(gw.stderr, /slot copy off for \S+ \(HTTP 501\): start llama-server with --slot-save-path/);
    assert.equal((await rawPost(gw, '/v1/messages', body('You are a Claude agent.', 'q2'), { 'x-claude-code-session-id': 'x2' })).status, 200);
    await sleep(1500);
    assert.equal(be.calls.filter((c) => /action=save/.test(c.url)).length, 1, 'asked once');
  } finally {
    await gw.stop();
    await be.close();
  }
});

test('after a server restart, a dead gateway\'s ledger line does not stop the warm start', async () => {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-slotcopy-'));
  dirs.push(state);
  const old = await startLlama({ nslots: 2, canSave: false });
  let gw = await startGateway({ backend: old.url, mode: 'llamacpp', args: ['--slots', '2', '--debug', '1'], env: { XDG_STATE_HOME: state } });
  try {
    const r = await rawPost(gw, '/v1/messages', body('You are a Claude agent.', 'q1'), { 'x-claude-code-session-id': 'x' });
    assert.equal(r.status, 200, r.text);
  } finally {
    await gw.stop();
    await old.close();
  }
  const ledger = fs.readdirSync(path.join(state, 'anyclaude')).find((f) => /^slots-.*\.txt$/.test(f));
  assert.ok(ledger, 'the first gateway wrote the ledger');
  // the server restarted (all slots empty, GET /slots says so), on the same URL
  const port = Number(new URL(old.url).port);
  const fresh = await startLlama({ nslots: 2, canSave: false, port });
  gw = await startGateway({ backend: fresh.url, mode: 'llamacpp', args: ['--slots', '2', '--debug', '1'], env: { XDG_STATE_HOME: state } });
  try {
    assert.ok(await waitFor(() => fresh.calls.some((c) => c.body?.max_tokens === 1), 5000), `the warm start primed the saved prefix: ${gw.stderr}`);
    assert.doesNotMatch(gw.stderr, /already holds the prefix/);
  } finally {
    await gw.stop();
    await fresh.close();
  }
});
