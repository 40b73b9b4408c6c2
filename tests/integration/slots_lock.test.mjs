// The slot ledger's lock (issue 11): a gateway reads, decides and writes the
// ledger (slots-<hash>.txt) holding an flock on ledger-<hash>.lock,
// so two gateways sharing a server never both take the slot the ledger
// showed free. Here `flock` (util-linux) plays the other gateway: it holds
// the lock while it writes a line claiming the free slot for a live
// conversation; a request that arrives meanwhile must wait and then see
// that line. Without the lock the gateway reads the ledger at once and
// takes that slot too.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBackend, turn } from '../lib/openai_backend.mjs';
import { startGateway, rawPost, MODEL } from '../lib/gateway.mjs';

const dirs = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const answer = turn({ text: ['ok'], usage: { prompt_tokens: 10, completion_tokens: 1 } });
const body = (words, more = []) =>
  JSON.stringify({
    model: MODEL,
    max_tokens: 64,
    stream: false,
    system: [{ type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.328.abc; cc_entrypoint=cli;' }, { type: 'text', text: 'You are Claude Code.' }],
    messages: [{ role: 'user', content: words }, ...more],
  });
const slotOf = (be) => be.requests.filter((r) => r.path.endsWith('/chat/completions')).at(-1).body.id_slot;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('a placement waits for another gateway holding the ledger lock, then sees what it wrote', async (t) => {
  try {
    execFileSync('flock', ['--version'], { stdio: 'ignore' });
  } catch {
    return t.skip('flock (util-linux) is not installed');
  }
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-slotlock-'));
  dirs.push(state);
  const be = await startBackend(answer);
  const gw = await startGateway({ backend: be.url, mode: 'llamacpp', args: ['--slots', '2', '--warm-start', 'off'], env: { XDG_STATE_HOME: state } });
  let holder = null;
  try {
    assert.equal((await rawPost(gw, '/v1/messages', body('A1'), { 'x-claude-code-session-id': 'a' })).status, 200);
    const a = slotOf(be);
    // a follow-up: conversation a is a live interactive session, so a new
    // one goes to the other slot while that one is free
    const more = [{ role: 'assistant', content: 'ok' }, { role: 'user', content: 'A2' }];
    assert.equal((await rawPost(gw, '/v1/messages', body('A1', more), { 'x-claude-code-session-id': 'a' })).status, 200);
    assert.equal(slotOf(be), a);
    const dir = path.join(state, 'anyclaude');
    const ledger = path.join(dir, fs.readdirSync(dir).find((f) => /^slots-.*\.txt$/.test(f)));
    const line = fs.readFileSync(ledger, 'utf8').split('\n').find((l) => l.startsWith(`${a} `));
    const kind = line.split(' ')[2];
    // "another gateway" (this test process: alive) takes the other slot for a
    // conversation of the same kind, under the lock, a second after locking
    const other = 1 - a;
    const held = path.join(state, 'held');
    const script = `touch ${JSON.stringify(held)}; sleep 1; printf '%s\\n' ${JSON.stringify(`${other} ${process.pid} ${kind} c`)} >> ${JSON.stringify(ledger)}`;
    const lock = ledger.replace(/slots-([0-9a-f]+)\.txt$/, 'ledger-$1.lock');
    holder = spawn('flock', [lock, 'sh', '-c', script], { stdio: 'ignore' });
    const exited = new Promise((r) => holder.once('exit', r));
    const until = Date.now() + 10000;
    while (!fs.existsSync(held) && Date.now() < until) await sleep(10);
    assert.ok(fs.existsSync(held), 'flock took the lock');
    const r = await rawPost(gw, '/v1/messages', body('B1'), { 'x-claude-code-session-id': 'b' });
    assert.equal(r.status, 200);
    assert.equal(slotOf(be), a, `the new conversation must not take slot ${other}, claimed by a live gateway while the lock was held`);
    await exited;
    const after1 = fs.readFileSync(ledger, 'utf8');
    assert.match(after1, new RegExp(`^${other} ${process.pid} `, 'm'), 'the other gateway\'s line survived the placement');
  } finally {
    if (holder && holder.exitCode === null) holder.kill();
    await gw.stop();
    await be.close();
  }
});
